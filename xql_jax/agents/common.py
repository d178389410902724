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


def every(
    step: jax.Array,
    period: int,
    update: Callable[[Any], Tuple[Any, Dict]],
    state,
    phase: Optional[int] = None,
):
    """``update(state)`` on steps divisible by ``period`` (a delayed update), else ``state`` unchanged
    and zero metrics; the metrics gain "actor_updates", 1 or 0, so the loop averages the delayed
    update's metrics over the steps that made them (the learner's ``DELAYED_METRICS``).

    With ``phase`` (a Python int: ``step`` modulo a multiple of ``period``, see ``scheduled_updates``)
    the choice is made while tracing, so a skipped update is not computed at all. Without it the
    choice is a ``lax.cond`` on ``step``, which under a member ``vmap`` becomes a select that runs
    both branches on every step.
    """
    if period == 1 or (phase is not None and phase % period == 0):
        state, metrics = update(state)
        return state, {**metrics, "actor_updates": jnp.ones((), jnp.float32)}
    zeros = jax.tree_util.tree_map(jnp.zeros_like, jax.eval_shape(update, state)[1])
    if phase is not None:
        return state, {**zeros, "actor_updates": jnp.zeros((), jnp.float32)}
    due = step % period == 0
    state, metrics = jax.lax.cond(due, update, lambda s: (s, zeros), state)
    return state, {**metrics, "actor_updates": due.astype(jnp.float32)}


def scheduled_updates(update: Callable, state, batches, period: int, phase: int):
    """``len(batches)`` learner updates whose delayed updates are chosen while tracing.

    ``update(state, batch, phase)`` is one learner step at learner step ``phase`` modulo ``period``
    (the learner's ``schedule_period``); ``phase`` is the state's step modulo ``period`` (the loop
    knows it: every member takes the same number of updates). When the number of updates is a
    multiple of ``period``, a ``lax.scan`` runs groups of ``period`` updates, each of them with its
    own static schedule; otherwise the updates are unrolled. Returns the new state and the
    metrics averaged over the updates.
    """
    count = jax.tree_util.tree_leaves(batches)[0].shape[0]
    if period == 1:
        state, metrics = jax.lax.scan(lambda s, b: update(s, b, 0), state, batches)
        return state, jax.tree_util.tree_map(lambda x: x.mean(0), metrics)

    def group(state, group_batches):
        metrics = []
        for i in range(period):
            batch = jax.tree_util.tree_map(lambda x, i=i: x[i], group_batches)
            state, m = update(state, batch, (phase + i) % period)
            metrics.append(m)
        return state, jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *metrics)

    if count % period == 0:
        grouped = jax.tree_util.tree_map(lambda x: x.reshape(count // period, period, *x.shape[1:]), batches)
        state, metrics = jax.lax.scan(group, state, grouped)
        return state, jax.tree_util.tree_map(lambda x: x.mean((0, 1)), metrics)
    metrics = []
    for i in range(count):
        batch = jax.tree_util.tree_map(lambda x, i=i: x[i], batches)
        state, m = update(state, batch, (phase + i) % period)
        metrics.append(m)
    return state, jax.tree_util.tree_map(lambda *xs: jnp.stack(xs).mean(0), *metrics)
