"""Checks of a run's input before anything compiles: config values, seeds and sweeps. Each failure
is one line (a ValueError) naming the field and the fix. The command line's --config file and
overrides are checked in ``xql_jax.config_args``; a dataset against its environment in
``xql_jax.data.prepare``."""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

import ml_collections
import numpy as np

# ---------------------------------------------------------------------------------------------
# Config values


def _in(low: float, high: float, low_open: bool, high_open: bool) -> Tuple[Callable[[Any], bool], str]:
    def test(v):
        return (low < v if low_open else low <= v) and (v < high if high_open else v <= high)

    return test, f"lie in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


_POSITIVE = (lambda v: v > 0, "be > 0")
_NON_NEGATIVE = (lambda v: v >= 0, "be >= 0")
_AT_LEAST_ONE = (lambda v: v >= 1, "be >= 1")

# Learner fields with an obvious range (any learner: xql, sac, td3). None is left to the learner
# (unset, off, or the task's value).
AGENT_FIELD_RANGES: Dict[str, Tuple[Callable[[Any], bool], str]] = {
    "discount": _in(0.0, 1.0, low_open=True, high_open=False),
    "expectile": _in(0.0, 1.0, low_open=True, high_open=True),
    "tau": _in(0.0, 1.0, low_open=True, high_open=False),
    "actor_dropout_rate": _in(0.0, 1.0, low_open=False, high_open=True),
    "beta": _POSITIVE,
    "max_clip": (lambda v: v > 0, "be > 0 (inf: no clipping)"),
    "awr_temperature": _NON_NEGATIVE,
    "actor_lr": _POSITIVE,
    "critic_lr": _POSITIVE,
    "value_lr": _POSITIVE,
    "temperature_lr": _POSITIVE,
    "init_temperature": _POSITIVE,
    "huber_delta": _POSITIVE,
    "grad_clip_norm": _POSITIVE,
    "init_gain": _POSITIVE,
    "policy_mean_gain": _POSITIVE,
    "policy_noise": _NON_NEGATIVE,
    "noise_clip": _NON_NEGATIVE,
    "exploration_noise": _NON_NEGATIVE,
    "value_action_noise": _NON_NEGATIVE,
    "sample_random_times": _NON_NEGATIVE,
    "value_updates": _AT_LEAST_ONE,
    "actor_update_every": _AT_LEAST_ONE,
    "target_update_every": _AT_LEAST_ONE,
}


# Fields whose infinite value is a setting of its own (the command line's "no clipping").
INFINITY_MEANS_OFF = ("max_clip",)


def agent_field_problem(name: str, value: Any) -> Optional[str]:
    """What is wrong with ``value`` for learner field ``name`` ("must lie in (0, 1], got 1.5"), or None."""
    if name == "hidden_dims":
        widths = value if isinstance(value, (tuple, list)) else (value,)
        if not widths or not all(
            isinstance(w, (int, np.integer)) and not isinstance(w, bool) and w > 0 for w in widths
        ):
            return f"must be layer widths, positive integers such as (256, 256), got {value!r}"
        return None
    if name not in AGENT_FIELD_RANGES or value is None or isinstance(value, bool):
        return None
    test, what = AGENT_FIELD_RANGES[name]
    if not isinstance(value, (int, float, np.number)) or math.isnan(value) or not test(value):
        return f"must {what}, got {value!r}"
    if math.isinf(value) and name not in INFINITY_MEANS_OFF:
        # beta = inf made every z 0, so V never trained; awr_temperature = inf made every weight the clip
        return f"must be finite, got {value!r}"
    return None


def check_agent_fields(agent: Mapping[str, Any]) -> None:
    """Refuse learner fields outside their range (discount in (0, 1], beta > 0, learning rates > 0, ...)."""
    for name, value in agent.items():
        problem = agent_field_problem(name, value)
        if problem:
            raise ValueError(f"config.agent.{name} {problem}")


def _check_positive(config, names: Sequence[str]) -> None:
    for name in names:
        if int(config[name]) <= 0:
            raise ValueError(f"config.{name} must be positive, got {config[name]}")


# Fields only one loop's configs have, and the configs that loop takes.
_LOOP_CONFIGS = {
    "offline": (("reward_preprocessing",), "configs/maze.py, locomotion.py, antmaze.py, tuned.py, ..."),
    "online": (("start_steps", "replay_capacity", "learner"), "configs/online.py:<variant>"),
}


def check_config_kind(config: ml_collections.ConfigDict, loop: str) -> None:
    """A config of the other loop (``train_offline.py --config=configs/online.py``) in one line, not
    an AttributeError from deep in the loop."""
    fields, examples = _LOOP_CONFIGS[loop]
    missing = [name for name in fields if name not in config]
    if missing:
        raise ValueError(
            f"the --config is not an {loop} config (it has no {', '.join(missing)}): {loop} runs take "
            f"{examples}"
        )


def check_offline_config(config: ml_collections.ConfigDict) -> None:
    """The offline loop's config (and its learner's fields), before any data is read."""
    check_config_kind(config, "offline")
    _check_positive(
        config, ("batch_size", "max_steps", "log_interval", "eval_interval", "eval_episodes", "eval_envs")
    )
    if config.checkpoint_interval < 0 or config.checkpoint_interval % config.log_interval:
        raise ValueError(
            f"config.checkpoint_interval ({config.checkpoint_interval}) must be 0 (only at the end) or a "
            f"multiple of config.log_interval ({config.log_interval})"
        )
    if config.checkpoints_to_keep < 1:
        raise ValueError(f"config.checkpoints_to_keep must be >= 1, got {config.checkpoints_to_keep}")
    if config.max_steps % config.log_interval:
        raise ValueError(
            f"config.max_steps ({config.max_steps}) must be a multiple of config.log_interval "
            f"({config.log_interval}), the length of one scanned chunk"
        )
    if config.eval_interval % config.log_interval:
        raise ValueError(
            f"config.eval_interval ({config.eval_interval}) must be a multiple of config.log_interval "
            f"({config.log_interval}), the length of one scanned chunk"
        )
    if config.reward_preprocessing not in ("locomotion", "antmaze", "none"):
        raise ValueError(
            f"config.reward_preprocessing must be 'locomotion', 'antmaze' or 'none', "
            f"got {config.reward_preprocessing!r}"
        )
    check_agent_fields(config.agent)


def check_online_config(config: ml_collections.ConfigDict) -> None:
    """The online loop's config (and its learner's fields), before any environment is made."""
    check_config_kind(config, "online")
    _check_positive(
        config, ("batch_size", "max_steps", "log_interval", "eval_interval", "eval_episodes", "eval_envs")
    )
    for name in ("start_steps", "bellman_error_interval", "checkpoint_interval"):
        if int(config[name]) < 0:
            raise ValueError(f"config.{name} must be >= 0, got {config[name]}")
    if config.checkpoints_to_keep < 1:
        raise ValueError(f"config.checkpoints_to_keep must be >= 1, got {config.checkpoints_to_keep}")
    if not 0.0 <= config.online_fraction < 1.0:
        raise ValueError(f"config.online_fraction must lie in [0, 1), got {config.online_fraction}")
    if config.replay_capacity < config.batch_size:
        raise ValueError(f"config.replay_capacity ({config.replay_capacity}) is below the batch size")
    if config.updates_per_step < 1:
        raise ValueError(
            f"config.updates_per_step must be >= 1 (learner steps per environment step), got "
            f"{config.updates_per_step}"
        )
    if config.start_steps >= config.max_steps:
        raise ValueError(
            f"config.start_steps ({config.start_steps}) is not below config.max_steps ({config.max_steps}): "
            "the run would only take warm-up actions and never learn; lower start_steps or raise max_steps"
        )
    check_agent_fields(config.agent)


def check_batch_fits(batch_size: int, transitions: int, location: str) -> None:
    """A batch no larger than the dataset: a larger one resampled every row many times per step
    (100000 on 2970 rows trained 10x slower) and is almost always a wrong value or the wrong file."""
    if batch_size > transitions:
        raise ValueError(
            f"config.batch_size ({batch_size}) exceeds the {transitions} transitions of {location}: "
            f"lower --config.batch_size or check the dataset"
        )


# ---------------------------------------------------------------------------------------------
# Seeds and sweeps


def check_sweep_flags(specs: Sequence[str]) -> None:
    """One --sweep per name: a repeated name would silently keep only the last one's values."""
    seen = {}
    for spec in specs:
        name = spec.partition("=")[0].strip()
        if name in seen:
            raise ValueError(
                f"--sweep={seen[name]} and --sweep={spec} both sweep {name}: give its values once, "
                f"--sweep={name}=v1,v2,... (repeat --sweep only for other names, to make a grid)"
            )
        seen[name] = spec


def check_members(
    num_seeds: int, sweep: Optional[Mapping[str, Sequence[float]]] = None, seed: int = 0
) -> None:
    """At least one seed, seeds >= 0, and swept values inside their field's range."""
    if num_seeds < 1:
        raise ValueError(f"num_seeds (--num_seeds) must be at least 1, got {num_seeds}")
    if seed < 0:
        # Environments take seeds >= 0 only: a negative one trained, then failed at the first evaluation.
        raise ValueError(f"seed (--seed) must be >= 0, got {seed}")
    for name, values in (sweep or {}).items():
        for value in values:
            problem = agent_field_problem(name, value)
            if problem:
                raise ValueError(f"--sweep={name}=...: config.agent.{name} {problem}")
