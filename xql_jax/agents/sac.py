"""X-SAC and SAC (with a value function), pure and jittable.

Both learn V, twin critics Q and a tanh-Gaussian policy with an auto-tuned entropy temperature.
They differ only in how V is fit, which is the paper's online contribution (Section 4, "Online RL"):

- ``value_loss="gumbel"`` (X-SAC): Gumbel regression of V(s) onto min_i Q_i(s, a), a ~ pi(s).
  Its minimiser is the soft value beta * log E_pi[exp(Q / beta)]: no log-probabilities needed.
- ``value_loss="soft"`` (SAC): MSE of V(s) onto min_i Q_i(s, a) - alpha * log pi(a|s), the soft
  value of Haarnoja et al. (2018), as the paper's SAC baseline does.

One update, in the order of the official code (github Div99/XQL ``online/research/algs/
gumbel_sac.py``, ``configs/xsac.yaml``): Q by MSE to r + discount * mask * V_target(s') (summed over
the critics); then one action a ~ pi(s) (reparameterised) and V onto the min over the *online*
critics just updated, at that action; every ``actor_update_every`` (2) updates the policy
(alpha * log pi(a|s) - min_i Q_i(s, a), the same sample) and alpha toward a target entropy of
-|A|; every ``target_update_every`` (2) updates the Polyak target of V. There is no target critic.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, NamedTuple, Optional, Tuple

import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState

from xql_jax import losses
from xql_jax.agents.common import adam, config_from_dict, every, hyperparam_arrays
from xql_jax.networks import (
    ONLINE_GAIN,
    CriticEnsemble,
    TanhGaussianPolicy,
    ValueNet,
    maybe_min,
    sample_tanh_gaussian,
)

Batch = Dict[str, jax.Array]
Metrics = Dict[str, jax.Array]

SWEEPABLE = ("beta", "discount")


@dataclasses.dataclass(frozen=True)
class SACConfig:
    """Static hyperparameters; the defaults are the paper's DM Control settings (App. D.6)."""

    value_loss: str = "gumbel"  # "gumbel" (X-SAC) or "soft" (SAC)
    beta: float = 2.0  # Gumbel temperature (X-SAC only)
    max_clip: Optional[float] = 10.0  # clip of (Q - V) / beta: xsac.yaml's exp_clip (paper text: 8)
    max_normalize: bool = True
    clip_below: bool = True  # official online loss: z clamped to [-max_clip, max_clip]
    discount: float = 0.99
    tau: float = 0.005  # Polyak rate of the target value
    actor_update_every: int = 2  # policy and temperature every 2nd update (official; paper table: 1)
    target_update_every: int = 2  # target V every 2nd update (official target_freq)
    double_q: bool = True
    hidden_dims: Tuple[int, ...] = (1024, 1024)
    value_layer_norm: bool = False
    actor_lr: float = 1e-4
    critic_lr: float = 1e-4
    value_lr: float = 1e-4
    temperature_lr: float = 1e-4
    init_temperature: float = 0.1
    target_entropy: Optional[float] = None  # None: -action_dim
    grad_clip_norm: Optional[float] = None
    init_gain: float = ONLINE_GAIN  # orthogonal init of every layer (official ortho_init: 1.0)

    def __post_init__(self):
        if self.value_loss not in ("gumbel", "soft"):
            raise ValueError(f"value_loss must be 'gumbel' (X-SAC) or 'soft' (SAC), got {self.value_loss!r}")
        if self.beta <= 0:
            raise ValueError(f"beta (Gumbel temperature) must be positive, got {self.beta}")
        if self.init_temperature <= 0:
            raise ValueError(f"init_temperature must be positive, got {self.init_temperature}")
        if self.actor_update_every < 1 or self.target_update_every < 1:
            raise ValueError(
                f"actor_update_every and target_update_every must be >= 1, got "
                f"{self.actor_update_every} and {self.target_update_every}"
            )

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "SACConfig":
        return config_from_dict(cls, values)

    @property
    def num_critics(self) -> int:
        return 2 if self.double_q else 1


class SACState(NamedTuple):
    actor: TrainState
    critic: TrainState
    value: TrainState
    target_value_params: Any
    log_temperature: TrainState  # params: {"log_alpha": scalar}
    rng: jax.Array
    step: jax.Array
    hyperparams: Dict[str, jax.Array]


def networks(config: SACConfig, action_dim: int):
    gain = config.init_gain
    actor = TanhGaussianPolicy(config.hidden_dims, action_dim, kernel_gain=gain)
    critic = CriticEnsemble(config.hidden_dims, num_critics=config.num_critics, kernel_gain=gain)
    value = ValueNet(config.hidden_dims, layer_norm=config.value_layer_norm, kernel_gain=gain)
    return actor, critic, value


def create_state(rng, observation_dim: int, action_dim: int, config: SACConfig, hyperparams=None) -> SACState:
    hyperparams = hyperparam_arrays(config, hyperparams, SWEEPABLE)
    actor_def, critic_def, value_def = networks(config, action_dim)
    rng, actor_key, critic_key, value_key = jax.random.split(rng, 4)
    observations = jnp.zeros((1, observation_dim), jnp.float32)
    actions = jnp.zeros((1, action_dim), jnp.float32)
    critic_params = critic_def.init(critic_key, observations, actions)["params"]
    value_params = value_def.init(value_key, observations)["params"]
    copy = lambda tree: jax.tree_util.tree_map(jnp.copy, tree)  # noqa: E731  (the loop donates buffers)
    return SACState(
        actor=TrainState.create(
            apply_fn=actor_def.apply,
            params=actor_def.init(actor_key, observations)["params"],
            tx=adam(config.actor_lr, config.grad_clip_norm),
        ),
        critic=TrainState.create(
            apply_fn=critic_def.apply, params=critic_params, tx=adam(config.critic_lr, config.grad_clip_norm)
        ),
        value=TrainState.create(
            apply_fn=value_def.apply, params=value_params, tx=adam(config.value_lr, config.grad_clip_norm)
        ),
        target_value_params=copy(value_params),
        log_temperature=TrainState.create(
            apply_fn=None,
            params={"log_alpha": jnp.log(jnp.asarray(config.init_temperature, jnp.float32))},
            tx=optax.adam(config.temperature_lr),
        ),
        rng=rng,
        step=jnp.zeros((), jnp.int32),
        hyperparams=hyperparams,
    )


def _target_entropy(config: SACConfig, action_dim: int) -> float:
    return -float(action_dim) if config.target_entropy is None else config.target_entropy


def temperature(state: SACState) -> jax.Array:
    """The entropy temperature alpha."""
    return jnp.exp(state.log_temperature.params["log_alpha"])


def _sample(state: SACState, actor_params, observations, key):
    means, log_stds = state.actor.apply_fn({"params": actor_params}, observations)
    return sample_tanh_gaussian(key, means, log_stds)


def update_critic(state: SACState, batch: Batch, config: SACConfig) -> Tuple[SACState, Metrics]:
    """MSE of every critic to r + discount * mask * V_target(s')."""
    next_v = state.value.apply_fn({"params": state.target_value_params}, batch["next_observations"])
    target = batch["rewards"] + state.hyperparams["discount"] * batch["masks"] * next_v

    def loss_fn(critic_params):
        q = state.critic.apply_fn({"params": critic_params}, batch["observations"], batch["actions"])
        return jnp.square(target[None] - q).mean(axis=1).sum(), q

    (loss, q), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.critic.params)
    metrics = {"critic_loss": loss, "q": q.mean(), "q_target": target.mean()}
    return state._replace(critic=state.critic.apply_gradients(grads=grads)), metrics


def update_value(state: SACState, batch: Batch, key, config: SACConfig) -> Tuple[SACState, Metrics]:
    """V onto min_i Q_i(s, a), a ~ pi(s), with the online critics (just updated): Gumbel regression
    (X-SAC) or the soft MSE with - alpha * log pi (SAC)."""
    actions, log_probs = _sample(state, state.actor.params, batch["observations"], key)
    q = maybe_min(
        state.critic.apply_fn({"params": state.critic.params}, batch["observations"], actions),
        config.double_q,
    )
    if config.value_loss == "soft":
        q = q - temperature(state) * log_probs
    q = jax.lax.stop_gradient(q)

    def loss_fn(value_params):
        v = state.value.apply_fn({"params": value_params}, batch["observations"])
        diff = q - v
        if config.value_loss == "gumbel":
            beta = state.hyperparams["beta"]
            loss = losses.gumbel_loss(
                diff, beta, config.max_clip, config.max_normalize, config.clip_below
            ).mean()
        else:
            loss = jnp.square(diff).mean()
        return loss, (v, diff)

    (loss, (v, diff)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.value.params)
    metrics = {"value_loss": loss, "v": v.mean(), "q_minus_v": diff.mean(), "q_minus_v_max": diff.max()}
    return state._replace(value=state.value.apply_gradients(grads=grads)), metrics


def update_actor_and_temperature(state: SACState, batch: Batch, key, config: SACConfig):
    """SAC's policy step, then the temperature step toward the target entropy."""
    alpha = temperature(state)

    def actor_loss_fn(actor_params):
        actions, log_probs = _sample(state, actor_params, batch["observations"], key)
        q = state.critic.apply_fn({"params": state.critic.params}, batch["observations"], actions)
        return (alpha * log_probs - maybe_min(q, config.double_q)).mean(), log_probs

    (actor_loss, log_probs), grads = jax.value_and_grad(actor_loss_fn, has_aux=True)(state.actor.params)
    actor = state.actor.apply_gradients(grads=grads)

    action_dim = batch["actions"].shape[-1]
    entropy = -jax.lax.stop_gradient(log_probs).mean()

    def temperature_loss_fn(params):
        return jnp.exp(params["log_alpha"]) * (entropy - _target_entropy(config, action_dim))

    temperature_loss, temperature_grad = jax.value_and_grad(temperature_loss_fn)(state.log_temperature.params)
    metrics = {
        "actor_loss": actor_loss,
        "entropy": entropy,
        "temperature": alpha,
        "temperature_loss": temperature_loss,
    }
    log_temperature = state.log_temperature.apply_gradients(grads=temperature_grad)
    return state._replace(actor=actor, log_temperature=log_temperature), metrics


# Metrics of the delayed policy step (zero on the updates that skip it; see agents.common.every).
DELAYED_METRICS = ("actor_loss", "entropy", "temperature", "temperature_loss")


def schedule_period(config: SACConfig) -> int:
    """Learner steps after which the delayed updates repeat (``agents.common.scheduled_updates``)."""
    return math.lcm(config.actor_update_every, config.target_update_every)


def update(
    state: SACState, batch: Batch, config: SACConfig, phase: Optional[int] = None
) -> Tuple[SACState, Metrics]:
    """One learner step in the official order: critics, value, then (every ``actor_update_every``)
    policy and temperature, then (every ``target_update_every``) the Polyak target of V.

    ``phase``: the state's step modulo ``schedule_period(config)`` when the caller knows it, so the
    delayed updates are chosen while tracing and skipped ones cost nothing (also under vmap);
    None chooses them from ``state.step`` on the device.
    """
    rng, policy_key = jax.random.split(state.rng)
    state, critic_metrics = update_critic(state, batch, config)
    # One policy sample serves the value target and the policy step, as the official code's rsample.
    state, value_metrics = update_value(state, batch, policy_key, config)
    state, actor_metrics = every(
        state.step,
        config.actor_update_every,
        lambda s: update_actor_and_temperature(s, batch, policy_key, config),
        state,
        phase,
    )
    if phase is None:
        moved = optax.incremental_update(state.value.params, state.target_value_params, config.tau)
        on_target_step = state.step % config.target_update_every == 0
        target_value_params = jax.tree_util.tree_map(
            lambda new, old: jnp.where(on_target_step, new, old), moved, state.target_value_params
        )
    elif phase % config.target_update_every == 0:
        target_value_params = optax.incremental_update(
            state.value.params, state.target_value_params, config.tau
        )
    else:
        target_value_params = state.target_value_params
    state = state._replace(target_value_params=target_value_params, rng=rng, step=state.step + 1)
    return state, {**critic_metrics, **value_metrics, **actor_metrics}


def eval_actions(state: SACState, observations: jax.Array, config: SACConfig) -> jax.Array:
    """Deterministic actions: tanh of the Gaussian mean."""
    means, _ = state.actor.apply_fn({"params": state.actor.params}, observations)
    return jnp.tanh(means)


def explore_actions(state: SACState, observations: jax.Array, key: jax.Array, config: SACConfig) -> jax.Array:
    """Actions sampled from the tanh-Gaussian policy."""
    return _sample(state, state.actor.params, observations, key)[0]
