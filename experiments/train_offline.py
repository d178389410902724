"""Offline X-QL / IQL launcher.

  python experiments/train_offline.py                       # embedded PointMaze, X-QL, one seed
  python experiments/train_offline.py --config=configs/maze.py:iql --workdir=runs/iql
  python experiments/train_offline.py --num_seeds=8         # 8 seeds in one vmapped program
  python experiments/train_offline.py --num_seeds=4 --sweep=beta=1,2,5   # 12 members: beta x seeds
  python experiments/train_offline.py --config=configs/locomotion.py --env_name=HalfCheetah-v5 \
      --dataset_path=~/.d4rl/datasets/halfcheetah_medium-v2.hdf5 --config.agent.beta=1
"""

import os
import sys

# Config files import each other as the top-level package `configs`, found at the repo root.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402
from common import define_config_flag, parse_flags  # noqa: E402

from xql_jax.data import DatasetError  # noqa: E402
from xql_jax.train import TrainingDiverged, parse_sweep, train_offline  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("env_name", "pointmaze-umaze-v0", "Dataset / environment name.")
flags.DEFINE_string("dataset_path", None, "D4RL-layout HDF5 file; default: the embedded dataset.")
flags.DEFINE_string("workdir", None, "Output folder; default runs/<env_name>/<algo>_seed<seed>.")
flags.DEFINE_integer("seed", 0, "Random seed of the (first) learner; seeds seed..seed+num_seeds-1 run.")
flags.DEFINE_integer("num_seeds", 1, "Seeds trained together in one vmapped program.")
flags.DEFINE_multi_string(
    "sweep",
    [],
    "NAME=v1,v2,... : vmap these values of a scalar hyperparameter (beta, awr_temperature, "
    "expectile, discount) alongside the seeds; repeat the flag for a grid.",
)
flags.DEFINE_enum("shard", "auto", ["auto", "true", "false"], "Lay the members over all devices.")
flags.DEFINE_string("data_dir", None, "Where embedded datasets are cached (default ~/.cache/xql_jax).")
flags.DEFINE_bool("progress", True, "Show a tqdm progress bar.")
flags.DEFINE_string("coordinator_address", None, "Multi-host: host:port of process 0 (jax.distributed).")
flags.DEFINE_integer("num_processes", None, "Multi-host: number of processes.")
flags.DEFINE_integer("process_id", None, "Multi-host: index of this process.")
define_config_flag()


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if FLAGS.coordinator_address:
        import jax

        jax.distributed.initialize(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)
    try:
        sweep = parse_sweep(FLAGS.sweep)
    except ValueError as e:
        raise app.UsageError(str(e)) from None
    config = FLAGS.config
    algo = "xql" if config.agent.value_loss == "gumbel" else "iql"
    default_name = f"{algo}_seed{FLAGS.seed}" if FLAGS.num_seeds == 1 else f"{algo}_{FLAGS.num_seeds}seeds"
    workdir = FLAGS.workdir or os.path.join("runs", FLAGS.env_name, default_name)
    try:
        summary = train_offline(
            config,
            workdir,
            FLAGS.env_name,
            seed=FLAGS.seed,
            dataset_path=FLAGS.dataset_path,
            data_dir=FLAGS.data_dir,
            progress=FLAGS.progress,
            num_seeds=FLAGS.num_seeds,
            sweep=sweep,
            shard={"auto": None, "true": True, "false": False}[FLAGS.shard],
        )
    except (DatasetError, ValueError, TrainingDiverged) as e:
        sys.exit(f"error: {e}")
    if not summary:  # not the writing process of a multi-host run
        return
    if "groups" not in summary:
        print(
            f"FINAL {FLAGS.env_name} {algo} seed={FLAGS.seed}: {summary['metric']} "
            f"last={summary['last']:.1f} best={summary['best']:.1f} (best over evaluations, "
            f"step {summary['best_step']}) after {summary['steps']} steps, {summary['wall_time']:.0f}s"
        )
        return
    for label, group in summary["groups"].items():
        last, best = group["last"], group["best"]
        if last["n"] == 0:
            print(f"FINAL {FLAGS.env_name} {algo} {label}: every member diverged")
            continue
        print(
            f"FINAL {FLAGS.env_name} {algo} {label}: {summary['metric']} last={last['mean']:.1f} "
            f"+- {last['std']:.1f} best={best['mean']:.1f} +- {best['std']:.1f} (mean +- std over "
            f"{last['n']} seeds) after {summary['steps']} steps, {summary['wall_time']:.0f}s"
        )
    if summary["diverged"]:
        print(f"diverged: {summary['diverged']}")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
