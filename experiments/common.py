"""What the launchers share: the run flags, the --config flag, and one guarded call to train_offline."""

import os
import sys

from absl import app, flags
from ml_collections import config_flags

from xql_jax.data import DatasetError
from xql_jax.train import TrainingDiverged, parse_sweep, train_offline

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "configs", "maze.py")
# ml_collections raises these for an unknown or mistyped --config.* field.
_OVERRIDE_ERRORS = (AttributeError, KeyError, TypeError, ValueError)
FLAGS = flags.FLAGS


def _exit_with(error: BaseException):
    detail = str(error.args[0] if error.args else error)
    if len(detail) > 1 and detail[0] == detail[-1] == "'":  # ml_collections nests a repr in the message
        detail = detail[1:-1].replace("\\'", "'").replace("\\n", " ")
    sys.exit(f"error: bad --config override: {' '.join(detail.split())}")


def define_run_flags(default_config: str = DEFAULT_CONFIG) -> None:
    """Flags of every offline launcher: data, seeds, sweeps, devices, and the config file."""
    flags.DEFINE_string("env_name", "pointmaze-umaze-v0", "Dataset / environment name.")
    flags.DEFINE_string("dataset_path", None, "D4RL-layout HDF5 file; default: the embedded dataset.")
    flags.DEFINE_integer("seed", 0, "First seed; seeds seed .. seed + num_seeds - 1 run.")
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
    try:
        # With a default file, DEFINE_config_file already applies the command line's overrides.
        config_flags.DEFINE_config_file("config", default_config, "ml_collections config file[:variant].")
    except _OVERRIDE_ERRORS as e:
        _exit_with(e)


def parse_flags(argv):
    """absl's parser (for app.run), turning errors in --config overrides into a message."""
    try:
        return app.parse_flags_with_usage(argv)
    except _OVERRIDE_ERRORS as e:
        _exit_with(e)


def train_from_flags(config, workdir: str, context: str = "") -> dict:
    """train_offline with the run flags; bad input or divergence exits with one line, no traceback."""
    try:
        sweep = parse_sweep(FLAGS.sweep)
    except ValueError as e:
        raise app.UsageError(str(e)) from None
    try:
        return train_offline(
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
        sys.exit(f"error{context}: {e}")
