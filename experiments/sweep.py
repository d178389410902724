"""Hyperparameter sweeps: scalar hyperparameters in one program with the seeds, batch sizes as separate
programs.

  # the paper's beta ablation (App. D.5): 4 betas x 3 seeds = 12 learners in one program
  python experiments/sweep.py --sweep=beta=0.5,1,2,5 --num_seeds=3 --workdir=runs/beta_ablation
  # batch-size comparison: one program per batch size, each with all its seeds
  python experiments/sweep.py --batch_sizes=256,1024 --num_seeds=3 --workdir=runs/batch_ablation
  # the same as ready-made configs (configs/ablations.py)
  python experiments/sweep.py --config=configs/ablations.py:beta --num_seeds=3 --workdir=runs/ablation_beta

Writes ``<workdir>/batch<B>/`` per batch size (each a multi-member run) and ``<workdir>/results.csv``
with the mean and std over seeds of the last and best scores for every setting.
"""

import os
import sys

from absl import app, flags
from common import define_run_flags, join_processes, parse_flags, train_from_flags

from xql_jax import report

define_run_flags()
flags.DEFINE_string("workdir", "runs/sweep", "Root folder of the sweep.")
flags.DEFINE_list("batch_sizes", [], "Batch sizes, one program each; default: the config's.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    join_processes()
    config = FLAGS.config
    # Ready-made ablations (configs/ablations.py) carry their sweep; flags given here take precedence.
    if not FLAGS.sweep and config.get("ablation_sweep"):
        FLAGS.sweep = [config.ablation_sweep]
    try:
        batch_sizes = [int(b) for b in FLAGS.batch_sizes]
        if any(b < 1 for b in batch_sizes):
            raise ValueError
    except ValueError:
        sys.exit(
            f"error: --batch_sizes={','.join(FLAGS.batch_sizes)}: expected positive integers, e.g. 256,1024"
        )
    batch_sizes = batch_sizes or list(config.get("ablation_batch_sizes") or ())
    batch_sizes = batch_sizes or [config.batch_size]
    rows = []
    path = os.path.join(FLAGS.workdir, "results.csv")
    for batch_size in batch_sizes:
        config = FLAGS.config.copy_and_resolve_references()
        config.batch_size = batch_size
        summary = train_from_flags(
            config,
            os.path.join(FLAGS.workdir, f"batch{batch_size}"),
            context=f" (batch size {batch_size})",
            keep_going=True,  # a setting that diverged is a result of the sweep, not its end
        )
        if not summary:  # not the writing process of a multi-process run
            continue
        batch_rows = report.sweep_rows(batch_size, summary)
        # Written as each batch size ends, so a later one refused or killed loses none of them; another
        # sweep into the same root (other batch sizes) keeps its rows; a setting run again is replaced.
        report.merge_sweep_results(path, batch_rows)
        rows += batch_rows
    if not rows:
        return
    for row in rows:
        print(format_row(row))
    print(f"wrote {path}")


def format_row(row) -> str:
    """One line of the sweep's table; a setting whose every seed diverged says so."""
    head = f"batch {row['batch_size']:>5} {row['setting']:<12}"
    if row["last_mean"] is None:
        best = "" if row["best_mean"] is None else f" (best before diverging {row['best_mean']:.1f})"
        return f"{head} every seed diverged{best}"
    return (
        f"{head} last {row['last_mean']:.1f} +- {row['last_std']:.1f}  best {row['best_mean']:.1f} +- "
        f"{row['best_std']:.1f}  (n={row['seeds']})"
    )


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
