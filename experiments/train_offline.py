"""Offline X-QL / IQL launcher.

  python experiments/train_offline.py                       # embedded PointMaze, X-QL
  python experiments/train_offline.py --config=configs/maze.py:iql --workdir=runs/iql
  python experiments/train_offline.py --config=configs/locomotion.py --env_name=HalfCheetah-v5 \
      --dataset_path=~/.d4rl/datasets/halfcheetah_medium-v2.hdf5 --config.agent.beta=1
"""

import os
import sys

# Config files import each other as the top-level package `configs`, found at the repo root.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from xql_jax.data import DatasetError  # noqa: E402
from xql_jax.train import TrainingDiverged, train_offline  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("env_name", "pointmaze-umaze-v0", "Dataset / environment name.")
flags.DEFINE_string("dataset_path", None, "D4RL-layout HDF5 file; default: the embedded dataset.")
flags.DEFINE_string("workdir", None, "Output folder; default runs/<env_name>/<algo>_seed<seed>.")
flags.DEFINE_integer("seed", 0, "Random seed of the learner (and of evaluation resets).")
flags.DEFINE_string("data_dir", None, "Where embedded datasets are cached (default ~/.cache/xql_jax).")
flags.DEFINE_bool("progress", True, "Show a tqdm progress bar.")
config_flags.DEFINE_config_file(
    "config", os.path.join(os.path.dirname(__file__), "..", "configs", "maze.py"), "Config file."
)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    config = FLAGS.config
    algo = "xql" if config.agent.value_loss == "gumbel" else "iql"
    workdir = FLAGS.workdir or os.path.join("runs", FLAGS.env_name, f"{algo}_seed{FLAGS.seed}")
    try:
        summary = train_offline(
            config,
            workdir,
            FLAGS.env_name,
            seed=FLAGS.seed,
            dataset_path=FLAGS.dataset_path,
            data_dir=FLAGS.data_dir,
            progress=FLAGS.progress,
        )
    except (DatasetError, ValueError, TrainingDiverged) as e:
        sys.exit(f"error: {e}")
    print(
        f"FINAL {FLAGS.env_name} {algo} seed={FLAGS.seed}: {summary['metric']} "
        f"last={summary['last']:.1f} best={summary['best']:.1f} (best over evaluations, "
        f"step {summary['best_step']}) after {summary['steps']} steps, {summary['wall_time']:.0f}s"
    )


if __name__ == "__main__":
    app.run(main)
