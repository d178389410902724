"""Offline-to-online fine-tuning launcher: X-QL (or IQL) pretrained offline, then trained online.

python experiments/train_finetune.py                                 # embedded PointMaze, X-QL
python experiments/train_finetune.py --config=configs/finetune.py:iql --num_seeds=2
python experiments/train_finetune.py --config.max_steps=20000 --config.online.max_steps=20000
"""

import os
import sys

from absl import app, flags
from common import (
    CONFIG_DIR,
    define_run_flags,
    exit_on_errors,
    fetch_from_flags,
    join_processes,
    parse_flags,
    print_final,
    spec_from_flags,
    watch_from_flags,
)

from xql_jax.agents import algorithm_name

FLAGS = flags.FLAGS
define_run_flags(default_config=os.path.join(CONFIG_DIR, "finetune.py"))
flags.DEFINE_string("workdir", None, "Output folder; default runs/<env_name>/finetune_<algo>_seed<seed>.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if FLAGS.sweep:
        sys.exit("error: --sweep is not supported by fine-tuning; run one launch per value")
    join_processes()
    from xql_jax.finetune import train_finetune

    config = FLAGS.config
    algo = algorithm_name("xql", config.agent)
    name = (
        f"finetune_{algo}_seed{FLAGS.seed}"
        if FLAGS.num_seeds == 1
        else f"finetune_{algo}_{FLAGS.num_seeds}seeds"
    )
    workdir = FLAGS.workdir or os.path.join("runs", FLAGS.env_name, name)
    with exit_on_errors(workdir=workdir):
        fetch_from_flags()
        summary = train_finetune(config, spec_from_flags(), watch_from_flags(workdir))
    if summary:
        print("offline phase:")
        print_final(summary["offline"], FLAGS.env_name, algo, FLAGS.seed)
        print("after online fine-tuning:")
    print_final(summary, FLAGS.env_name, algo, FLAGS.seed)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
