"""Bellman-error distributions with Gumbel and Gaussian fits (paper Section 3.1, Figure 1, App. D.2).

Reads the errors an online run saved (``--config.bellman_error_interval=5000``), fits both
distributions by maximum likelihood at every saved step, writes the fits as CSV and plots the
histograms of the chosen steps with both fits and their mean log-likelihoods.

  python experiments/train_online.py --config=configs/online.py:sac --config.bellman_error_interval=5000 \
      --workdir=runs/sac --config.max_steps=100000
  python experiments/bellman_errors.py --runs=SAC=runs/sac,TD3=runs/td3 --out=docs/bellman_errors.png
"""

import csv
import glob
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from absl import app, flags
from common import labelled_workdirs, parse_flags
from scipy import stats

from xql_jax import analysis

flags.DEFINE_list(
    "runs", None, "LABEL=workdir pairs; each workdir holds bellman_errors/step_*.npy.", required=True
)
flags.DEFINE_list("steps", [], "Steps to plot (default: the last saved step of each run).")
flags.DEFINE_float("clip_quantile", 0.005, "Tails dropped on each side before fitting (the paper clips).")
flags.DEFINE_string("out", "bellman_errors.png", "Output PNG; the fits of every step go beside it as .csv.")
FLAGS = flags.FLAGS


def saved_errors(workdir):
    files = sorted(glob.glob(os.path.join(workdir, "bellman_errors", "step_*.npy")))
    if not files:
        raise app.UsageError(
            f"no bellman_errors/step_*.npy in {workdir}: train with --config.bellman_error_interval=5000"
        )
    return {int(os.path.basename(f)[5:-4]): np.load(f) for f in files}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    runs = [
        (label, saved_errors(workdir)) for label, (workdir,) in labelled_workdirs(FLAGS.runs, several=False)
    ]

    rows = []
    for label, errors in runs:
        for step, values in errors.items():
            kept = analysis.clip_to_range(values, FLAGS.clip_quantile)
            gumbel, gaussian = analysis.fit_gumbel(kept), analysis.fit_gaussian(kept)
            rows.append(
                {
                    "run": label,
                    "step": step,
                    "samples": len(kept),
                    "skewness": float(stats.skew(kept)),
                    "gumbel_loc": gumbel.loc,
                    "gumbel_scale": gumbel.scale,
                    "gumbel_loglik": gumbel.log_likelihood,
                    "gaussian_mean": gaussian.loc,
                    "gaussian_std": gaussian.scale,
                    "gaussian_loglik": gaussian.log_likelihood,
                    "gumbel_better": gumbel.log_likelihood > gaussian.log_likelihood,
                }
            )
    csv_path = os.path.splitext(FLAGS.out)[0] + ".csv"
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    panels = []
    for label, errors in runs:
        steps = [int(s) for s in FLAGS.steps] or [max(errors)]
        for step in steps:
            if step not in errors:
                raise app.UsageError(f"{label} saved no errors at step {step}; saved: {sorted(errors)}")
            panels.append((label, step, analysis.clip_to_range(errors[step], FLAGS.clip_quantile)))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False)
    for ax, (label, step, values) in zip(axes[0], panels, strict=True):
        gumbel, gaussian = analysis.fit_gumbel(values), analysis.fit_gaussian(values)
        grid = np.linspace(values.min(), values.max(), 400)
        ax.hist(values, bins=80, density=True, color="0.75", label="Bellman errors")
        ax.plot(
            grid,
            stats.gumbel_l.pdf(grid, gumbel.loc, gumbel.scale),
            label=f"Gumbel (LL {gumbel.log_likelihood:.3f})",
        )
        ax.plot(
            grid,
            stats.norm.pdf(grid, gaussian.loc, gaussian.scale),
            label=f"Gaussian (LL {gaussian.log_likelihood:.3f})",
        )
        ax.set_title(f"{label}, step {step}")
        ax.set_xlabel("Q(s,a) - (r + discount * Q(s', pi(s')))")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(FLAGS.out, dpi=120)
    better = sum(r["gumbel_better"] for r in rows)
    print(
        f"wrote {FLAGS.out} and {csv_path}: the Gumbel fits better (mean log-likelihood) at {better} "
        f"of {len(rows)} saved steps"
    )


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
