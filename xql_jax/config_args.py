"""The launchers' --config file and --config.<field> overrides, checked before absl and
ml_collections read them: a missing or broken file, an unknown variant or field, a repeated
override. Each failure is one line (a ValueError) naming the argument and the fix."""

from __future__ import annotations

import difflib
import importlib.util
import os
import re
from typing import Optional, Sequence, Tuple

import ml_collections

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")


def split_config_arg(value: str) -> Tuple[str, Optional[str]]:
    """("configs/maze.py", "iql") for "configs/maze.py:iql"; the variant is None when absent."""
    path, sep, variant = value.partition(":")
    return os.path.expanduser(path), (variant if sep else None)


def _shipped_configs() -> str:
    names = sorted(f for f in os.listdir(CONFIG_DIR) if f.endswith(".py") and not f.startswith("_"))
    return f"{CONFIG_DIR}/{{{','.join(names)}}}"


def load_config_file(value: str) -> ml_collections.ConfigDict:
    """The config of ``--config=<file>[:<variant>]``; errors name the file and its variants."""
    path, variant = split_config_arg(value)
    if not os.path.isfile(path):
        where = "" if os.path.isabs(path) else f" (relative to {os.getcwd()})"
        raise ValueError(
            f"--config file {path} not found{where}; the shipped configs are {_shipped_configs()}"
        )
    try:
        spec = importlib.util.spec_from_file_location("_checked_config", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception as e:  # a broken file: any error, in one line
        raise ValueError(f"--config file {path} does not load: {type(e).__name__}: {e}") from None
    if not callable(getattr(module, "get_config", None)):
        raise ValueError(f"--config file {path} has no get_config() function")
    try:
        return module.get_config() if variant is None else module.get_config(variant)
    except Exception as e:  # the config files name their variants in their errors
        detail = " ".join(str(e).split())
        raise ValueError(f"--config={value}: {detail}") from None


_OVERRIDE = re.compile(r"^--?(?:no)?config\.([^=]+)")


def _config_arg(argv: Sequence[str]) -> Optional[str]:
    for i, arg in enumerate(argv):
        if re.match(r"^--?config=", arg):
            return arg.split("=", 1)[1]
        if arg in ("--config", "-config") and i + 1 < len(argv):
            return argv[i + 1]
    return None


def check_config_args(argv: Sequence[str], default_config: str) -> None:
    """The --config file (or ``default_config``) loads, and every --config.<field> override names a
    field it has; an unknown field names the closest ones and the fields beside it."""
    value = _config_arg(argv)
    config = load_config_file(value if value is not None else default_config)
    for arg in argv:
        match = _OVERRIDE.match(arg)
        if match:
            _check_field_path(config, match[1], arg)


def last_config_overrides(argv: Sequence[str]) -> list:
    """``argv`` with only the last ``--config.<field>=value`` of each field, as absl keeps the last
    value of any repeated flag: ml_collections instead appended a repeated tuple override to the
    first (hidden_dims (32, 32), then (64, 64), then (16,) trained [32, 32, 64, 64, 16])."""
    last = {}
    for i, arg in enumerate(argv):
        match = _OVERRIDE.match(arg)
        if match and "=" in arg:
            last[match[1]] = i
    return [
        arg
        for i, arg in enumerate(argv)
        if not (_OVERRIDE.match(arg) and "=" in arg and last[_OVERRIDE.match(arg)[1]] != i)
    ]


def _check_field_path(config, field: str, arg: str) -> None:
    node, parts = config, field.split(".")
    for depth, part in enumerate(parts):
        parent = ".".join(["config", *parts[:depth]])
        if not isinstance(node, (ml_collections.ConfigDict, dict)):
            raise ValueError(f"{arg}: {parent} is a {type(node).__name__}, it has no field {part!r}")
        keys = sorted(node.keys())
        if part not in keys:
            close = difflib.get_close_matches(part, keys, n=3)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            raise ValueError(
                f"{arg}: unknown config field {'.'.join(parts[: depth + 1])}; {hint}{parent} has {keys}"
            )
        node = node[part]
    value = arg.split("=", 1)[1] if "=" in arg else None
    if value is not None and value.strip().lower() == "none" and isinstance(node, float):
        fix = "leave it out to keep the config's value"
        if parts[-1] == "max_clip":
            fix = "pass inf for no clipping"
        raise ValueError(f"{arg}: a float field cannot be set to None from the command line; {fix}")
