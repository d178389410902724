"""Results report: ours beside the paper's numbers, rliable aggregates, and learning curves.

  python experiments/report.py --runs="X-QL=runs/maze/xql_3seeds,IQL=runs/maze/iql_3seeds" --out=docs/report
  python experiments/report.py --runs="X-QL=runs/d4rl/hopper-medium-v2+runs/d4rl/walker2d-medium-v2" \
      --paper_column="X-QL=X-QL T" --out=report

Each LABEL=workdir[+workdir...] names a method: single-seed runs, several joined by '+', or a
multi-seed run (a sweep's settings become methods of their own). Per dataset it prints ours (last
and best, mean ± std over seeds, n), the paper's X-QL C / X-QL T / IQL cells (Tables 1-3) and our
difference to the method's own column, the domain averages, and IQM / mean / median / optimality
gap with stratified-bootstrap 95% intervals (rliable). Writes <out>.md, <out>.csv (per dataset),
<out>_aggregates.csv, <out>.png (interval estimates), <out>_profile.png (performance profile) and
<out>_curves.png (mean over seeds with a ± std band, one panel per dataset).
"""

import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from absl import app, flags, logging
from common import labelled_workdirs, parse_flags

from xql_jax import report

flags.DEFINE_list("runs", None, "LABEL=workdir[+workdir...] pairs.", required=True)
flags.DEFINE_string("out", "report", "Output prefix (see the module docstring for the files).")
flags.DEFINE_string("xlabel", "steps", "x-axis label of the curves.")
flags.DEFINE_list(
    "paper_column",
    [],
    "LABEL=COLUMN: the paper's column each method is compared with (e.g. 'X-QL=X-QL T'); by default "
    "X-QL C for X-QL runs (X-QL T when fine-tuning) and IQL for IQL runs.",
)
flags.DEFINE_integer("reps", 2000, "Bootstrap resamples of the rliable intervals and profiles.")
flags.DEFINE_integer("seed", 0, "Seed of the bootstrap.")
FLAGS = flags.FLAGS


def _write_csv(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot_aggregates(matrices, points, intervals, out):
    from rliable import plot_utils

    methods = list(matrices)
    fig, _ = plot_utils.plot_interval_estimates(
        {m: points[m] for m in methods},
        {m: intervals[m] for m in methods},
        metric_names=list(report.STATISTICS),
        algorithms=methods,
        xlabel="normalized score",
        max_ticks=3,
        subfigure_width=3.4,
        row_height=max(0.6, 0.45 * len(methods)),
        xlabel_y_coordinate=-0.35 if len(methods) < 3 else -0.15,
    )
    fig.savefig(out + ".png", dpi=120, bbox_inches="tight")
    plt.close(fig)

    taus = report.profile_taus(matrices)
    profiles, bands = report.performance_profiles(matrices, taus, reps=FLAGS.reps, seed=FLAGS.seed)
    fig, ax = plt.subplots(figsize=(6, 4))
    plot_utils.plot_performance_profiles(
        profiles,
        taus,
        performance_profile_cis=bands,
        ax=ax,
        xlabel=r"normalized score $\tau$",
        ylabel=r"fraction of runs with score $> \tau$",
        labelsize="medium",
        ticklabelsize="medium",
    )
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(out + "_profile.png", dpi=120)
    plt.close(fig)


def plot_curves(results, out):
    envs = list(dict.fromkeys(r.env_name for r in results))
    fig, axes = plt.subplots(1, len(envs), figsize=(6 * len(envs), 4), squeeze=False)
    for ax, env in zip(axes[0], envs, strict=True):
        for method in dict.fromkeys(r.method for r in results if r.env_name == env):
            group = [r for r in results if (r.env_name, r.method) == (env, method)]
            steps, values, dropped = report.aligned_curves([r.curve for r in group])
            note = f"; left out {dropped} step(s) only some seeds evaluated" if dropped else ""
            mean, std = values.mean(0), values.std(0)
            ax.plot(steps, mean, label=f"{method} (n={len(group)}{note})")
            ax.fill_between(steps, mean - std, mean + std, alpha=0.2)
        ax.set_title(env)
        ax.set_xlabel(FLAGS.xlabel)
        metrics = dict.fromkeys(r.metric for r in results if r.env_name == env)
        ax.set_ylabel(" / ".join(m.replace("_", " ") for m in metrics))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out + "_curves.png", dpi=120)
    plt.close(fig)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # rliable logs a line per method and bootstrap
    if FLAGS.reps < 1:
        sys.exit(f"error: --reps must be at least 1 (bootstrap resamples; 2000 is usual), got {FLAGS.reps}")
    runs = labelled_workdirs(FLAGS.runs)
    columns = {}
    for spec in FLAGS.paper_column:
        label, sep, column = spec.partition("=")
        if not sep:
            raise app.UsageError(f"--paper_column entry {spec!r}: expected LABEL=COLUMN")
        if label not in dict(runs):
            sys.exit(
                f"error: --paper_column={spec} names {label!r}, which is none of --runs' labels "
                f"{list(dict(runs))}"
            )
        columns[label] = column
    out = FLAGS.out
    folder = os.path.dirname(os.path.abspath(out))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        sys.exit(f"error: cannot create the --out folder {folder} ({e.strerror}): choose another --out")
    if not os.access(folder, os.W_OK):
        sys.exit(f"error: the --out folder {folder} is not writable: choose another --out")
    try:
        results = []
        for method, workdirs in runs:
            results += report.collect(method, workdirs)
        rows = report.table(results, columns)
        matrices, notes = report.score_matrices(results)
        notes = report.best_comparability_notes(results) + notes
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f"error: {e}")
    averages = report.domain_averages(rows)
    aggregate_rows, points, intervals = report.aggregates(matrices, reps=FLAGS.reps, seed=FLAGS.seed)

    text = report.markdown(rows, averages, aggregate_rows, notes, reps=FLAGS.reps)
    try:
        written = write_outputs(text, rows, aggregate_rows, matrices, points, intervals, results, out)
    except OSError as e:  # a read-only or full file system
        sys.exit(f"error: cannot write {e.filename or out} ({e.strerror}): choose another --out")
    print(text)
    print("wrote " + ", ".join(written))


def write_outputs(text, rows, aggregate_rows, matrices, points, intervals, results, out):
    with open(out + ".md", "w") as f:
        f.write(text)
    _write_csv(out + ".csv", rows)
    written = [out + ".md", out + ".csv"]
    if aggregate_rows:
        _write_csv(out + "_aggregates.csv", [a._asdict() for a in aggregate_rows])
        plot_aggregates(matrices, points, intervals, out)
        written += [out + "_aggregates.csv", out + ".png", out + "_profile.png"]
    plot_curves(results, out)
    written.append(out + "_curves.png")
    return written


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
