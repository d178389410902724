"""Offline X-QL / IQL launcher.

  python experiments/train_offline.py                       # embedded PointMaze, X-QL, one seed
  python experiments/train_offline.py --config=configs/maze.py:iql --workdir=runs/iql
  python experiments/train_offline.py --num_seeds=8         # 8 seeds in one program
  python experiments/train_offline.py --num_seeds=4 --sweep=beta=1,2,5   # 12 members: beta x seeds
  python experiments/train_offline.py --config=configs/locomotion.py --env_name=halfcheetah-medium-v2
  python experiments/train_offline.py --config=configs/locomotion.py --env_name=halfcheetah-medium-v2 \
      --dataset_path=/data/halfcheetah_medium-v2.hdf5 --config.agent.beta=1   # a file elsewhere
"""

import os

from absl import app, flags
from common import define_run_flags, join_processes, parse_flags, print_final, train_from_flags

from xql_jax.agents import algorithm_name

FLAGS = flags.FLAGS
define_run_flags()
flags.DEFINE_string("workdir", None, "Output folder; default runs/<env_name>/<algo>_seed<seed>.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    join_processes()
    config = FLAGS.config
    algo = algorithm_name("xql", config.agent)
    default_name = f"{algo}_seed{FLAGS.seed}" if FLAGS.num_seeds == 1 else f"{algo}_{FLAGS.num_seeds}seeds"
    workdir = FLAGS.workdir or os.path.join("runs", FLAGS.env_name, default_name)
    summary = train_from_flags(config, workdir)
    print_final(summary, FLAGS.env_name, algo, FLAGS.seed)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
