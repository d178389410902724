"""Pieces every learner shares: optimizers, config parsing, the arrays of sweepable hyperparameters."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import optax


def adam(learning_rate, grad_clip_norm: Optional[float] = None) -> optax.GradientTransformation:
    """Adam, optionally behind a global-norm gradient clip."""
    if grad_clip_norm is None:
        return optax.adam(learning_rate)
    return optax.chain(optax.clip_by_global_norm(grad_clip_norm), optax.adam(learning_rate))


def config_from_dict(cls, values: Dict[str, Any]):
    """Build a frozen learner config from a dict, naming unknown fields instead of a TypeError."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {unknown}; known fields: {sorted(known)}")
    values = dict(values)
    if "hidden_dims" in values:
        values["hidden_dims"] = tuple(int(h) for h in values["hidden_dims"])
    return cls(**values)


def hyperparam_arrays(config, overrides: Optional[Dict[str, float]], sweepable: Sequence[str]):
    """float32 scalars of the sweepable hyperparameters: the config's values, some overridden."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(sweepable))
    if unknown:
        raise ValueError(f"{unknown} cannot be swept in one program; sweepable: {list(sweepable)}")
    return {name: jnp.asarray(overrides.get(name, getattr(config, name)), jnp.float32) for name in sweepable}


def every(step: jax.Array, period: int, update: Callable[[Any], Tuple[Any, Dict]], state):
    """``update(state)`` on steps divisible by ``period`` (a delayed update), else ``state`` unchanged
    and zero metrics; the metrics gain "actor_updates", 1 or 0, so the loop averages the delayed
    update's metrics over the steps that made them (the learner's ``DELAYED_METRICS``)."""
    if period == 1:
        state, metrics = update(state)
        return state, {**metrics, "actor_updates": jnp.ones((), jnp.float32)}
    zeros = jax.tree_util.tree_map(jnp.zeros_like, jax.eval_shape(update, state)[1])
    due = step % period == 0
    state, metrics = jax.lax.cond(due, update, lambda s: (s, zeros), state)
    return state, {**metrics, "actor_updates": due.astype(jnp.float32)}
