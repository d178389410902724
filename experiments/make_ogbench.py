"""Make OGBench's manipulation datasets here with the ogbench package's own oracles (no download).

python experiments/make_ogbench.py --dataset=cube-single-play-v0  # ~/.ogbench/data/cube-single-play-v0*.npz
python experiments/make_ogbench.py --dataset=scene-play-v0 --data_dir=/data/ogbench

The recipe is OGBench's data_gen_scripts/commands.sh (plan oracles, noise 0.1, smoothing 0.5, 1000
episodes of 1001 steps for these four, validation a tenth as many); --num_episodes makes a smaller
one with the same recipe (the count is recorded in <dataset>.recipe.json beside the files). Then:
python experiments/train_offline.py --config=configs/ogbench.py \
    --env_name=cube-single-play-singletask-task2-v0
"""

import os

from absl import app, flags
from common import exit_on_errors, parse_flags

from xql_jax.data import ogbench_data

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "dataset", None, f"OGBench dataset to make, one of {list(ogbench_data.MANIPULATION_EPISODES)}."
)
flags.DEFINE_integer(
    "num_episodes", None, "Training episodes (default: OGBench's recipe; validation a tenth)."
)
flags.DEFINE_integer("seed", 0, "Seed of the oracles and the environment.")
flags.DEFINE_string("data_dir", None, "Where the files go (default $OGBENCH_DATASET_DIR or ~/.ogbench/data).")
flags.DEFINE_bool("overwrite", False, "Make the dataset again even if its files exist.")
flags.DEFINE_bool("progress", True, "Show a progress bar.")
flags.mark_flag_as_required("dataset")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    path = ogbench_data.train_file(FLAGS.dataset, FLAGS.data_dir)
    if not FLAGS.overwrite and os.path.isfile(path) and os.path.isfile(ogbench_data.val_file(path)):
        print(f"{path} exists (recipe: {ogbench_data.read_recipe(path)}); --overwrite makes it again")
        return
    # Dataset generation keeps no checkpoint: a second start makes it from the beginning.
    with exit_on_errors(resume_hint="run the same command again (nothing half-written is kept)"):
        ogbench_data.make_manipulation_dataset(
            FLAGS.dataset, path, num_episodes=FLAGS.num_episodes, seed=FLAGS.seed, progress=FLAGS.progress
        )


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
