"""X-TD3 and TD3, pure and jittable.

TD3 (Fujimoto et al., 2018): a deterministic actor, twin critics fit by MSE to
r + discount * mask * min_i Q_target_i(s', a'), with a' = pi_target(s') + clipped Gaussian noise
(target policy smoothing), and delayed actor and target updates.

X-TD3 (paper Eq. 9, deterministic dynamics): the same target, but each critic is fit by Gumbel
regression instead of MSE, so Q estimates the soft maximum beta * log E[exp(target / beta)] over
the noise of the target actions. With ``double_q=False`` ("X-TD3-DQ") there is one critic and no
min in the target.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, NamedTuple, Optional, Tuple

import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState

from xql_jax import losses
from xql_jax.agents.common import adam, config_from_dict, every, hyperparam_arrays
from xql_jax.networks import ONLINE_GAIN, CriticEnsemble, DeterministicPolicy, maybe_min

Batch = Dict[str, jax.Array]
Metrics = Dict[str, jax.Array]

SWEEPABLE = ("beta", "discount")
DELAYED_METRICS = ("actor_loss",)  # made on "actor_updates" steps only (see the online loop)


@dataclasses.dataclass(frozen=True)
class TD3Config:
    """Static hyperparameters; the defaults are the paper's DM Control settings (App. D.6)."""

    critic_loss: str = "gumbel"  # "gumbel" (X-TD3) or "mse" (TD3)
    beta: float = 5.0  # Gumbel temperature (X-TD3 only)
    max_clip: Optional[float] = 8.0  # clip of (target - Q) / beta in the Gumbel loss (exp clip)
    max_normalize: bool = True
    clip_below: bool = True  # official online loss: z clamped to [-max_clip, max_clip]
    discount: float = 0.99
    tau: float = 0.005
    double_q: bool = True  # False: one critic, no min in the target ("X-TD3-DQ")
    hidden_dims: Tuple[int, ...] = (256, 256)
    actor_lr: float = 1e-3
    critic_lr: float = 1e-3
    policy_noise: float = 0.2  # std of the target policy smoothing noise
    noise_clip: float = 0.5
    exploration_noise: float = 0.1  # std of the Gaussian noise on actions while collecting
    actor_update_every: int = 2  # delayed policy and target updates
    grad_clip_norm: Optional[float] = None
    init_gain: float = ONLINE_GAIN  # orthogonal init of every layer (official ortho_init: 1.0)

    def __post_init__(self):
        if self.critic_loss not in ("gumbel", "mse"):
            raise ValueError(f"critic_loss must be 'gumbel' (X-TD3) or 'mse' (TD3), got {self.critic_loss!r}")
        if self.beta <= 0:
            raise ValueError(f"beta (Gumbel temperature) must be positive, got {self.beta}")
        if self.actor_update_every < 1:
            raise ValueError(f"actor_update_every must be >= 1, got {self.actor_update_every}")

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "TD3Config":
        return config_from_dict(cls, values)

    @property
    def num_critics(self) -> int:
        return 2 if self.double_q else 1


class TD3State(NamedTuple):
    actor: TrainState
    target_actor_params: Any
    critic: TrainState
    target_critic_params: Any
    rng: jax.Array
    step: jax.Array
    hyperparams: Dict[str, jax.Array]


def networks(config: TD3Config, action_dim: int):
    return DeterministicPolicy(config.hidden_dims, action_dim, kernel_gain=config.init_gain), CriticEnsemble(
        config.hidden_dims, num_critics=config.num_critics, kernel_gain=config.init_gain
    )


def create_state(rng, observation_dim: int, action_dim: int, config: TD3Config, hyperparams=None) -> TD3State:
    hyperparams = hyperparam_arrays(config, hyperparams, SWEEPABLE)
    actor_def, critic_def = networks(config, action_dim)
    rng, actor_key, critic_key = jax.random.split(rng, 3)
    observations = jnp.zeros((1, observation_dim), jnp.float32)
    actions = jnp.zeros((1, action_dim), jnp.float32)
    actor_params = actor_def.init(actor_key, observations)["params"]
    critic_params = critic_def.init(critic_key, observations, actions)["params"]
    copy = lambda tree: jax.tree_util.tree_map(jnp.copy, tree)  # noqa: E731  (the loop donates buffers)
    return TD3State(
        actor=TrainState.create(
            apply_fn=actor_def.apply, params=actor_params, tx=adam(config.actor_lr, config.grad_clip_norm)
        ),
        target_actor_params=copy(actor_params),
        critic=TrainState.create(
            apply_fn=critic_def.apply, params=critic_params, tx=adam(config.critic_lr, config.grad_clip_norm)
        ),
        target_critic_params=copy(critic_params),
        rng=rng,
        step=jnp.zeros((), jnp.int32),
        hyperparams=hyperparams,
    )


def critic_target(state: TD3State, batch: Batch, key, config: TD3Config) -> jax.Array:
    """r + discount * mask * min_i Q_target_i(s', pi_target(s') + clipped noise)."""
    next_actions = state.actor.apply_fn({"params": state.target_actor_params}, batch["next_observations"])
    noise = jnp.clip(
        config.policy_noise * jax.random.normal(key, next_actions.shape),
        -config.noise_clip,
        config.noise_clip,
    )
    next_actions = jnp.clip(next_actions + noise, -1.0, 1.0)
    next_q = state.critic.apply_fn(
        {"params": state.target_critic_params}, batch["next_observations"], next_actions
    )
    return batch["rewards"] + state.hyperparams["discount"] * batch["masks"] * maybe_min(
        next_q, config.double_q
    )


def critic_loss(q: jax.Array, target: jax.Array, config: TD3Config, beta) -> jax.Array:
    """Sum over critics of the mean loss of diff = target - Q_i (each critic its own regression)."""
    diff = target[None] - q
    if config.critic_loss == "mse":
        return jnp.square(diff).mean(axis=1).sum()
    per_critic = [
        losses.gumbel_loss(diff[i], beta, config.max_clip, config.max_normalize, config.clip_below).mean()
        for i in range(config.num_critics)
    ]
    return sum(per_critic)


def update_critic(state: TD3State, batch: Batch, key, config: TD3Config) -> Tuple[TD3State, Metrics]:
    target = critic_target(state, batch, key, config)

    def loss_fn(critic_params):
        q = state.critic.apply_fn({"params": critic_params}, batch["observations"], batch["actions"])
        return critic_loss(q, target, config, state.hyperparams["beta"]), q

    (loss, q), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.critic.params)
    metrics = {
        "critic_loss": loss,
        "q": q.mean(),
        "q_target": target.mean(),
        "td_error_max": (target - q).max(),
    }
    return state._replace(critic=state.critic.apply_gradients(grads=grads)), metrics


def update_actor_and_targets(state: TD3State, batch: Batch, config: TD3Config) -> Tuple[TD3State, Metrics]:
    """Maximise Q_1(s, pi(s)); then Polyak-average both targets."""

    def loss_fn(actor_params):
        actions = state.actor.apply_fn({"params": actor_params}, batch["observations"])
        q = state.critic.apply_fn({"params": state.critic.params}, batch["observations"], actions)
        return -q[0].mean()

    loss, grads = jax.value_and_grad(loss_fn)(state.actor.params)
    actor = state.actor.apply_gradients(grads=grads)
    state = state._replace(
        actor=actor,
        target_actor_params=optax.incremental_update(actor.params, state.target_actor_params, config.tau),
        target_critic_params=optax.incremental_update(
            state.critic.params, state.target_critic_params, config.tau
        ),
    )
    return state, {"actor_loss": loss}


def schedule_period(config: TD3Config) -> int:
    """Learner steps after which the delayed updates repeat (``agents.common.scheduled_updates``)."""
    return config.actor_update_every


def update(
    state: TD3State, batch: Batch, config: TD3Config, phase: Optional[int] = None
) -> Tuple[TD3State, Metrics]:
    """One learner step: the critics every step, the actor and targets every ``actor_update_every``.

    ``phase``: the state's step modulo ``schedule_period(config)`` when the caller knows it (the
    delayed update is then chosen while tracing, so skipping it saves its cost under vmap too);
    None chooses it from ``state.step`` on the device.
    """
    rng, key = jax.random.split(state.rng)
    state, metrics = update_critic(state, batch, key, config)
    state, actor_metrics = every(
        state.step,
        config.actor_update_every,
        lambda s: update_actor_and_targets(s, batch, config),
        state,
        phase,
    )
    return state._replace(rng=rng, step=state.step + 1), {**metrics, **actor_metrics}


def eval_actions(state: TD3State, observations: jax.Array, config: TD3Config) -> jax.Array:
    return state.actor.apply_fn({"params": state.actor.params}, observations)


def explore_actions(state: TD3State, observations: jax.Array, key: jax.Array, config: TD3Config) -> jax.Array:
    actions = state.actor.apply_fn({"params": state.actor.params}, observations)
    noise = config.exploration_noise * jax.random.normal(key, actions.shape)
    return jnp.clip(actions + noise, -1.0, 1.0)
