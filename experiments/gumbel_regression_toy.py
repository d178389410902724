"""Gumbel regression on toy data (paper Figure 2): fits for several betas against the closed form.

Data: y = sin(3x) + noise, noise ~ N(0, sigma^2), x uniform in [-1, 1]. For Gaussian noise the
Gumbel regression target beta * log E[exp(y / beta) | x] has the closed form
sin(3x) + sigma^2 / (2 beta): the fit moves from the mean (large beta) toward the maximum (small
beta). The left panel shows the loss exp(u / beta) - u / beta - 1 of a residual u = y - v.

  python experiments/gumbel_regression_toy.py --out=docs/gumbel_regression_toy.png
"""

import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from absl import app, flags

from xql_jax import analysis

flags.DEFINE_list("betas", ["0.25", "0.5", "1", "2", "5"], "Gumbel temperatures to fit.")
flags.DEFINE_integer("num_points", 5000, "Dataset size.")
flags.DEFINE_float("noise", 0.5, "Standard deviation of the Gaussian noise on y.")
flags.DEFINE_integer("steps", 2000, "Full-batch Adam steps per fit (MLP 32x32, Adam 3e-3).")
flags.DEFINE_integer("seed", 0, "Seed of the data and the networks.")
flags.DEFINE_string("out", "gumbel_regression_toy.png", "Output PNG.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    betas = [float(b) for b in FLAGS.betas]
    if min(betas) <= 0:
        raise app.UsageError(f"--betas must be positive, got {betas}")
    rng = np.random.default_rng(FLAGS.seed)
    x = rng.uniform(-1.0, 1.0, FLAGS.num_points)
    y = np.sin(3.0 * x) + FLAGS.noise * rng.normal(size=x.shape)
    grid = np.linspace(-1.0, 1.0, 201)
    fits = analysis.gumbel_regression_fit(x, y, betas, grid, steps=FLAGS.steps, seed=FLAGS.seed)

    inner = np.abs(grid) <= 0.9  # the edges of the data are thin: judge the fit inside them
    errors, mean_errors = {}, {}
    fig, (loss_ax, fit_ax) = plt.subplots(1, 2, figsize=(11, 4))
    residual = np.linspace(-3.0, 3.0, 300)
    fit_ax.scatter(x, y, s=2, color="0.7", label="data")
    for beta, fit in zip(betas, fits, strict=True):
        closed_form = np.sin(3.0 * grid) + FLAGS.noise**2 / (2.0 * beta)
        errors[beta] = float(np.max(np.abs(fit - closed_form)[inner]))
        mean_errors[beta] = float(np.mean(np.abs(fit - closed_form)[inner]))
        (line,) = fit_ax.plot(grid, fit, label=f"beta {beta:g} (max error {errors[beta]:.3f})")
        fit_ax.plot(grid, closed_form, "--", color=line.get_color(), linewidth=1)
        u = residual / beta
        loss_ax.plot(residual, np.exp(u) - u - 1.0, label=f"beta {beta:g}")
    fit_ax.plot(grid, np.sin(3.0 * grid), ":", color="k", label="conditional mean")
    fit_ax.set_title("fits (solid) vs closed form beta log E[exp(y/beta)|x] (dashed)")
    fit_ax.set_xlabel("x")
    fit_ax.legend(fontsize=7)
    loss_ax.set_ylim(0, 5)
    loss_ax.set_title("Gumbel loss of a residual u = y - v")
    loss_ax.set_xlabel("u")
    loss_ax.legend(fontsize=8)
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
    fig.tight_layout()
    fig.savefig(FLAGS.out, dpi=120)
    print(f"wrote {FLAGS.out}")
    print(
        json.dumps(
            {
                "max_abs_error_vs_closed_form": {f"{b:g}": round(e, 4) for b, e in errors.items()},
                "mean_abs_error_vs_closed_form": {f"{b:g}": round(e, 4) for b, e in mean_errors.items()},
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
