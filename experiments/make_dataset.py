"""Make D4RL-style locomotion datasets (halfcheetah, hopper, walker2d) in gymnasium's -v5 environments.

From the shipped behavior policies (no training):
python experiments/make_dataset.py --dataset=halfcheetah-medium        # -> halfcheetah-medium-made
python experiments/make_dataset.py --dataset=hopper-medium-expert      # medium + expert, 2M rows

Train the behavior policies (TD3, this project's online loop), then export the medium and expert
actors and the medium-replay dataset (the run's replay buffer up to the medium policy):
python experiments/make_dataset.py --train_behavior=hopper --behavior_steps=300000
python experiments/make_dataset.py --dataset=hopper-medium-replay --behavior_run=runs/behavior/hopper

Then: python experiments/train_offline.py --env_name=hopper-medium-replay-made --config=configs/locomotion.py
"""

from absl import app, flags
from common import exit_on_errors, parse_flags

from xql_jax import made_datasets

FLAGS = flags.FLAGS
flags.DEFINE_string("dataset", None, "<robot>-<kind> to make, e.g. halfcheetah-medium, hopper-medium-replay.")
flags.DEFINE_string("train_behavior", None, "Robot whose behavior policies to train with TD3, then export.")
flags.DEFINE_string("export_behavior", None, "Export the policies of a finished --train_behavior workdir.")
flags.DEFINE_string("behavior_run", None, "Workdir of the behavior run (medium-replay needs its buffer).")
flags.DEFINE_string("robot", None, "Robot of the behavior run when it has no summary.json.")
flags.DEFINE_string("workdir", None, "Workdir of --train_behavior (default runs/behavior/<robot>).")
flags.DEFINE_integer("behavior_steps", 300_000, "Environment steps of --train_behavior.")
flags.DEFINE_integer(
    "behavior_start_steps", made_datasets.BEHAVIOR_START_STEPS, "Of them, uniform random warm-up steps."
)
flags.DEFINE_integer("behavior_eval_interval", 10_000, "Steps between evaluations (and kept checkpoints).")
flags.DEFINE_integer("num_transitions", 1_000_000, "Rows of a random/medium/expert dataset (D4RL: 1M).")
flags.DEFINE_float("noise", 0.1, "Std of the Gaussian action noise of the behavior policy while collecting.")
flags.DEFINE_integer("reference_episodes", 20, "Episodes measuring the random and expert reference returns.")
flags.DEFINE_integer("num_envs", 8, "Environments stepped in lockstep while collecting.")
flags.DEFINE_integer("seed", 0, "Seed of the rollouts (and of --train_behavior).")
flags.DEFINE_string("data_dir", None, "Where made datasets go (default $XQL_DATA_DIR or ~/.cache/xql_jax).")
flags.DEFINE_string("policy_dir", None, "Behavior policies to read/write (default: the shipped ones).")
flags.DEFINE_bool("overwrite", False, "Make the dataset again even if its file exists.")
flags.DEFINE_bool("progress", True, "Show progress bars.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    recipe = made_datasets.Recipe(
        data_dir=FLAGS.data_dir,
        policy_dir=FLAGS.policy_dir,
        num_transitions=FLAGS.num_transitions,
        noise=FLAGS.noise,
        reference_episodes=FLAGS.reference_episodes,
        num_envs=FLAGS.num_envs,
        seed=FLAGS.seed,
        overwrite=FLAGS.overwrite,
        progress=FLAGS.progress,
    )
    behavior = made_datasets.BehaviorRun(
        # The run to train (--train_behavior), or the one to read (--export_behavior, --behavior_run).
        workdir=FLAGS.workdir if FLAGS.train_behavior else FLAGS.export_behavior or FLAGS.behavior_run,
        steps=FLAGS.behavior_steps,
        start_steps=FLAGS.behavior_start_steps,
        eval_interval=FLAGS.behavior_eval_interval,
        robot=FLAGS.robot,
    )
    with exit_on_errors(resume_hint="run the same command again (nothing half-written is kept)"):
        made_datasets.run(
            recipe,
            behavior,
            dataset=FLAGS.dataset,
            train_behavior=FLAGS.train_behavior,
            export_behavior=bool(FLAGS.export_behavior),
        )


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
