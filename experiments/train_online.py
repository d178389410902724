"""Online X-SAC / SAC / X-TD3 / TD3 launcher (DeepMind Control tasks by domain-task, or gymnasium ids).

python experiments/train_online.py --env_name=cheetah-run                          # X-SAC, task's beta
python experiments/train_online.py --env_name=cheetah-run --config=configs/online.py:sac
python experiments/train_online.py --env_name=walker-run --config=configs/online.py:xtd3 --num_seeds=4
python experiments/train_online.py --env_name=HalfCheetah-v5 --config.agent.beta=2
"""

import os

from absl import app, flags
from common import (
    define_online_flags,
    exit_on_errors,
    join_processes,
    parse_flags,
    print_final,
    spec_from_flags,
    sweep_from_flags,
    watch_from_flags,
)

from xql_jax.configs.online import for_task

FLAGS = flags.FLAGS
define_online_flags(default_config="online.py")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    join_processes()
    from xql_jax import checks
    from xql_jax.envs import make_online_env
    from xql_jax.online import train_online

    # An offline config, an unknown or discrete-action environment: before the task's beta.
    with exit_on_errors():
        checks.check_config_kind(FLAGS.config, "online")
        make_online_env(FLAGS.env_name).close()
    config = for_task(FLAGS.config, FLAGS.env_name)  # the task's beta and exploration noise
    name = config.variant if FLAGS.num_seeds == 1 else f"{config.variant}_{FLAGS.num_seeds}seeds"
    workdir = FLAGS.workdir or os.path.join("runs", FLAGS.env_name, f"{name}_seed{FLAGS.seed}")
    sweep = sweep_from_flags()
    with exit_on_errors(workdir=workdir):
        summary = train_online(config, spec_from_flags(sweep), watch_from_flags(workdir))
    print_final(summary, FLAGS.env_name, config.variant, FLAGS.seed)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
