"""What the launchers share: the --config flag, whose bad overrides become one-line errors."""

import os
import sys

from absl import app
from ml_collections import config_flags

DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "configs", "maze.py")
# ml_collections raises these for an unknown or mistyped --config.* field.
_OVERRIDE_ERRORS = (AttributeError, KeyError, TypeError, ValueError)


def _exit_with(error: BaseException):
    detail = str(error.args[0] if error.args else error)
    if len(detail) > 1 and detail[0] == detail[-1] == "'":  # ml_collections nests a repr in the message
        detail = detail[1:-1].replace("\\'", "'").replace("\\n", " ")
    sys.exit(f"error: bad --config override: {' '.join(detail.split())}")


def define_config_flag(default: str = DEFAULT_CONFIG) -> None:
    """DEFINE_config_file("config"); with a default file it already applies the command line's overrides."""
    try:
        config_flags.DEFINE_config_file("config", default, "ml_collections config file[:variant].")
    except _OVERRIDE_ERRORS as e:
        _exit_with(e)


def parse_flags(argv):
    """absl's parser (for app.run), turning errors in --config overrides into a message."""
    try:
        return app.parse_flags_with_usage(argv)
    except _OVERRIDE_ERRORS as e:
        _exit_with(e)
