"""Learners: each module holds a state pytree and pure, jittable update functions.

Every learner module implements the same interface, which the training loops use and nothing else:

- ``SWEEPABLE``: scalar hyperparameters read from the state (``state.hyperparams``), so a vmap over
  member states sweeps them alongside seeds;
- ``create_state(rng, observation_dim, action_dim, config, hyperparams=None) -> state``;
- ``update(state, batch, config, phase=None) -> (state, metrics)``: one learner step on one batch;
  ``phase`` (the state's step modulo ``schedule_period(config)``, a Python int) fixes which delayed
  updates run while tracing (``agents.common.scheduled_updates``);
- ``schedule_period(config) -> int``: steps after which the delayed updates repeat (1: none);
- ``explore_actions(state, observations, key, config) -> actions`` (stochastic, in [-1, 1]);
- ``eval_actions(state, observations, config) -> actions`` (deterministic, in [-1, 1]);
- optionally ``DELAYED_METRICS``: metrics made only on the steps counted by ``actor_updates``.

``LEARNERS`` registers them by name with their (frozen, hashable) config classes.
"""

from __future__ import annotations

from types import ModuleType
from typing import NamedTuple, Type

from xql_jax.agents import sac, td3, xql

INTERFACE = ("SWEEPABLE", "create_state", "update", "schedule_period", "explore_actions", "eval_actions")


class Learner(NamedTuple):
    module: ModuleType  # implements INTERFACE
    config_class: Type  # the module's static config (XQLConfig, SACConfig, TD3Config)

    def config_from(self, values: dict):
        """The config from a dict (``config.agent``), refusing unknown fields in one line."""
        return self.config_class.from_dict(values)


LEARNERS = {
    "xql": Learner(xql, xql.XQLConfig),  # offline X-QL / IQL, also fine-tuned online
    "sac": Learner(sac, sac.SACConfig),  # online X-SAC / SAC
    "td3": Learner(td3, td3.TD3Config),  # online X-TD3 / TD3
}


def get(name: str) -> Learner:
    if name not in LEARNERS:
        raise ValueError(f"unknown learner {name!r}; choose one of {sorted(LEARNERS)} (config.learner)")
    return LEARNERS[name]


def algorithm_name(learner: str, agent_config) -> str:
    """The label a run is reported under: xsac, sac, xtd3, xtd3_dq, td3, td3_dq, xql or iql."""
    if learner == "sac":
        return "xsac" if agent_config.value_loss == "gumbel" else "sac"
    if learner == "td3":
        name = "xtd3" if agent_config.critic_loss == "gumbel" else "td3"
        return name if agent_config.double_q else f"{name}_dq"
    return "iql" if agent_config.value_loss == "expectile" else "xql"
