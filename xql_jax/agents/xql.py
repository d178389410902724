"""Offline X-QL (and the IQL baseline in the same code): pure update functions over one state pytree.

One learner step runs, in order: ``update_v`` (Gumbel or expectile regression of V onto the target
critics), ``update_actor`` (advantage-weighted regression with the new V), ``update_q`` (MSE of the
critics to r + discount * mask * V(s')), and Polyak averaging of the target critic. With
``q_only=True`` it is the deterministic-dynamics variant of paper Eq. 9: no V, and the critics are
fit by Gumbel regression directly to r + discount * mask * Q_target(s', a') with the dataset's next
action a'.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, NamedTuple, Optional, Tuple

import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState

from xql_jax import losses
from xql_jax.agents.common import adam, config_from_dict, hyperparam_arrays
from xql_jax.networks import (
    OFFLINE_GAIN,
    CriticEnsemble,
    GaussianPolicy,
    ValueNet,
    gaussian_log_prob,
    maybe_min,
)

Batch = Dict[str, jax.Array]
Metrics = Dict[str, jax.Array]

# Scalar hyperparameters the learner reads from ``XQLState.hyperparams`` rather than from the static
# config: they are arrays, so a vmap over states sweeps them alongside seeds in one program.
SWEEPABLE = ("beta", "awr_temperature", "expectile", "discount")

# AWR weights exp(advantage * temperature) are clipped here, as in IQL, so one lucky transition
# cannot dominate the policy gradient.
AWR_MAX_WEIGHT = 100.0
VALUE_NOISE_CLIP = 0.5  # offline/critic.py: value-action noise clipped to +-0.5
VALUE_LOSSES = ("gumbel", "gumbel_log", "expectile")


@dataclasses.dataclass(frozen=True)
class XQLConfig:
    """Static hyperparameters of the offline learner; hashable so jit can treat it as static."""

    value_loss: str = "gumbel"  # "gumbel" (X-QL), "gumbel_log" (its log form) or "expectile" (IQL)
    beta: float = 2.0  # Gumbel temperature; NOT the AWR temperature
    max_clip: Optional[float] = 7.0  # upper clip of (q - v) / beta in the Gumbel loss; None/inf: none
    max_normalize: bool = True  # max-normalised Gumbel loss (App. D.3)
    expectile: float = 0.7  # IQL only
    awr_temperature: float = 3.0  # inverse temperature of the AWR weights exp(adv * temp)
    discount: float = 0.99
    tau: float = 0.005  # Polyak rate of the target critic
    value_updates: int = 1  # V steps per learner step, on the same batch
    double_q: bool = True  # min over two critics; False uses one critic
    q_only: bool = False  # paper Eq. 9: no V, critics fit by Gumbel regression
    hidden_dims: Tuple[int, ...] = (256, 256)
    value_layer_norm: bool = True
    critic_layer_norm: bool = False  # LayerNorm in the critics too (FQL's OGBench protocol)
    actor_dropout_rate: float = 0.0
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    value_lr: float = 3e-4
    actor_cosine_decay: bool = True
    decay_steps: int = 1_000_000  # horizon of the actor's cosine schedule (the run length)
    grad_clip_norm: Optional[float] = None  # global-norm clip for every optimizer, None for off
    # Options of the official offline code (offline/critic.py), off by default as there; its
    # reproduce scripts turn them on for a few datasets (README):
    sample_random_times: int = 0  # append this many x batch uniform random actions to the V batch
    value_action_noise: float = 0.0  # V at a + clip(N(0, std), +-0.5) instead of a (official: 0.1)
    critic_loss: str = "huber"  # "huber": official 0.5 * Huber(delta), per critic, summed; "mse"
    huber_delta: float = 20.0  # offline/critic.py's hard-coded delta
    policy_mean_gain: float = OFFLINE_GAIN  # init of the policy's mean head (official: sqrt 2)

    def __post_init__(self):
        if self.value_loss not in VALUE_LOSSES:
            raise ValueError(f"value_loss must be one of {VALUE_LOSSES}, got {self.value_loss!r}")
        if self.q_only and self.value_loss != "gumbel":
            raise ValueError("q_only (paper Eq. 9) fits Q with the Gumbel loss; set value_loss='gumbel'")
        if self.beta <= 0:
            raise ValueError(f"beta (Gumbel temperature) must be positive, got {self.beta}")
        if not 0 < self.expectile < 1:
            raise ValueError(f"expectile must lie in (0, 1), got {self.expectile}")
        if self.value_updates < 1:
            raise ValueError(f"value_updates must be >= 1, got {self.value_updates}")
        if self.critic_loss not in ("huber", "mse"):
            raise ValueError(f"critic_loss must be 'huber' or 'mse', got {self.critic_loss!r}")
        if self.sample_random_times < 0 or self.value_action_noise < 0:
            raise ValueError(
                f"sample_random_times ({self.sample_random_times}) and value_action_noise "
                f"({self.value_action_noise}) must be >= 0"
            )

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "XQLConfig":
        return config_from_dict(cls, values)

    @property
    def num_critics(self) -> int:
        return 2 if self.double_q else 1


class XQLState(NamedTuple):
    """Everything the learner updates; ``value`` is None in the Q-only variant.

    ``hyperparams`` maps each name in SWEEPABLE to a float32 scalar (one per member when vmapped).
    """

    actor: TrainState
    critic: TrainState
    target_critic_params: Any
    value: Optional[TrainState]
    rng: jax.Array
    step: jax.Array
    hyperparams: Dict[str, jax.Array]


def networks(config: XQLConfig, action_dim: int):
    """The three flax modules of the learner (actor, critic ensemble, value)."""
    actor = GaussianPolicy(
        config.hidden_dims,
        action_dim,
        dropout_rate=config.actor_dropout_rate,
        mean_gain=config.policy_mean_gain,
    )
    critic = CriticEnsemble(
        config.hidden_dims, num_critics=config.num_critics, layer_norm=config.critic_layer_norm
    )
    value = ValueNet(config.hidden_dims, layer_norm=config.value_layer_norm)
    return actor, critic, value


def create_state(
    rng: jax.Array,
    observation_dim: int,
    action_dim: int,
    config: XQLConfig,
    hyperparams: Optional[Dict[str, float]] = None,
) -> XQLState:
    """Initialise parameters and optimizers from one PRNG key.

    ``hyperparams`` overrides some of the SWEEPABLE values of ``config`` for this state.
    """
    hyperparams = hyperparam_arrays(config, hyperparams, SWEEPABLE)
    actor_def, critic_def, value_def = networks(config, action_dim)
    rng, actor_key, critic_key, value_key = jax.random.split(rng, 4)
    observations = jnp.zeros((1, observation_dim), jnp.float32)
    actions = jnp.zeros((1, action_dim), jnp.float32)

    if config.actor_cosine_decay:
        actor_lr = optax.cosine_decay_schedule(config.actor_lr, config.decay_steps)
    else:
        actor_lr = config.actor_lr
    actor = TrainState.create(
        apply_fn=actor_def.apply,
        params=actor_def.init(actor_key, observations)["params"],
        tx=adam(actor_lr, config.grad_clip_norm),
    )
    critic_params = critic_def.init(critic_key, observations, actions)["params"]
    critic = TrainState.create(
        apply_fn=critic_def.apply,
        params=critic_params,
        tx=adam(config.critic_lr, config.grad_clip_norm),
    )
    value = None
    if not config.q_only:
        value = TrainState.create(
            apply_fn=value_def.apply,
            params=value_def.init(value_key, observations)["params"],
            tx=adam(config.value_lr, config.grad_clip_norm),
        )
    return XQLState(
        actor=actor,
        critic=critic,
        # A copy, not an alias: the training loop donates the state's buffers to jit.
        target_critic_params=jax.tree_util.tree_map(jnp.copy, critic_params),
        value=value,
        rng=rng,
        step=jnp.zeros((), jnp.int32),
        hyperparams=hyperparams,
    )


def value_regression_loss(diff: jax.Array, config: XQLConfig, hyperparams) -> jax.Array:
    """Mean Gumbel (X-QL), log-Gumbel or expectile (IQL) loss of diff = target - prediction."""
    if config.value_loss == "gumbel":
        return losses.gumbel_loss(
            diff, hyperparams["beta"], max_clip=config.max_clip, max_normalize=config.max_normalize
        ).mean()
    if config.value_loss == "gumbel_log":
        return losses.gumbel_log_loss(diff, hyperparams["beta"]).mean()
    return losses.expectile_loss(diff, hyperparams["expectile"]).mean()


def target_critic_q(state: XQLState, observations, actions, config: XQLConfig) -> jax.Array:
    """Q of the target critics: the min over the two with double Q, else the single critic."""
    q = state.critic.apply_fn({"params": state.target_critic_params}, observations, actions)
    return maybe_min(q, config.double_q)


def value_batch(batch: Batch, key: jax.Array, config: XQLConfig) -> Tuple[jax.Array, jax.Array]:
    """(observations, actions) V is fit at: the dataset's, with the official options applied.

    ``value_action_noise``: actions a + clip(N(0, std), -0.5, 0.5), clipped to [-1, 1].
    ``sample_random_times`` = n: n x batch uniform random actions appended, each observation
    repeated n times (with n = 1 the V target averages the data's and the uniform policy's actions).
    Both at once is this project's extension: the official update_v crashes on it (noise of the
    enlarged batch's shape added to the dataset's actions), and no reproduce script asks for it.
    """
    observations, actions = batch["observations"], batch["actions"]
    noise_key, random_key = jax.random.split(key)
    if config.value_action_noise > 0:
        noise = config.value_action_noise * jax.random.normal(noise_key, actions.shape)
        actions = jnp.clip(actions + jnp.clip(noise, -VALUE_NOISE_CLIP, VALUE_NOISE_CLIP), -1.0, 1.0)
    if config.sample_random_times > 0:
        times = config.sample_random_times
        random_actions = jax.random.uniform(
            random_key, (times * actions.shape[0], actions.shape[-1]), minval=-1.0, maxval=1.0
        )
        observations = jnp.concatenate([observations, jnp.repeat(observations, times, axis=0)])
        actions = jnp.concatenate([actions, random_actions])
    return observations, actions


def update_v(state: XQLState, batch: Batch, config: XQLConfig) -> Tuple[XQLState, Metrics]:
    """Regress V(s) onto the (min of the) target critics at dataset actions (see ``value_batch``)."""
    observations, actions = batch["observations"], batch["actions"]
    rng = state.rng
    if config.sample_random_times or config.value_action_noise:
        rng, key = jax.random.split(rng)
        observations, actions = value_batch(batch, key, config)
    target_q = target_critic_q(state, observations, actions, config)

    def loss_fn(value_params):
        v = state.value.apply_fn({"params": value_params}, observations)
        diff = target_q - v
        return value_regression_loss(diff, config, state.hyperparams), (v, diff)

    (loss, (v, diff)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.value.params)
    metrics = {"value_loss": loss, "v": v.mean(), "q_minus_v": diff.mean(), "q_minus_v_max": diff.max()}
    return state._replace(value=state.value.apply_gradients(grads=grads), rng=rng), metrics


def _advantages(state: XQLState, batch: Batch, config: XQLConfig) -> jax.Array:
    target_q = target_critic_q(state, batch["observations"], batch["actions"], config)
    if config.q_only:
        # Without V, the baseline is Q at the policy's own mean action.
        means, _ = state.actor.apply_fn({"params": state.actor.params}, batch["observations"])
        baseline = target_critic_q(state, batch["observations"], means, config)
    else:
        baseline = state.value.apply_fn({"params": state.value.params}, batch["observations"])
    return target_q - baseline


def update_actor(state: XQLState, batch: Batch, config: XQLConfig) -> Tuple[XQLState, Metrics]:
    """Advantage-weighted regression: maximise exp(adv * awr_temperature) * log pi(a|s)."""
    rng, dropout_key = jax.random.split(state.rng)
    advantages = _advantages(state, batch, config)
    weights = jnp.minimum(jnp.exp(advantages * state.hyperparams["awr_temperature"]), AWR_MAX_WEIGHT)

    def loss_fn(actor_params):
        means, log_stds = state.actor.apply_fn(
            {"params": actor_params},
            batch["observations"],
            training=True,
            rngs={"dropout": dropout_key},
        )
        log_probs = gaussian_log_prob(means, log_stds, batch["actions"])
        return -(weights * log_probs).mean(), log_probs

    grads, log_probs = jax.grad(loss_fn, has_aux=True)(state.actor.params)
    metrics = {
        "actor_loss": -(weights * log_probs).mean(),
        "advantage": advantages.mean(),
        "awr_weight": weights.mean(),
        "log_prob": log_probs.mean(),
    }
    return state._replace(actor=state.actor.apply_gradients(grads=grads), rng=rng), metrics


def critic_regression_loss(diff: jax.Array, config: XQLConfig) -> jax.Array:
    """Sum over critics of the mean loss of diff = target - Q_i ([critics, batch]): 0.5 * Huber(delta)
    as offline/critic.py (0.5 x^2 up to |x| = delta, so gradients are capped at delta), or MSE."""
    if config.critic_loss == "huber":
        per_sample = optax.losses.huber_loss(diff, delta=config.huber_delta)
    else:
        per_sample = jnp.square(diff)
    return per_sample.mean(axis=1).sum()


def update_q(state: XQLState, batch: Batch, config: XQLConfig) -> Tuple[XQLState, Metrics]:
    """Fit the critics to r + discount * mask * V(s') (``critic_regression_loss``), or by Gumbel
    regression in the Q-only variant."""
    if config.q_only:
        next_q = target_critic_q(state, batch["next_observations"], batch["next_actions"], config)
    else:
        next_q = state.value.apply_fn({"params": state.value.params}, batch["next_observations"])
    target = batch["rewards"] + state.hyperparams["discount"] * batch["masks"] * next_q

    def loss_fn(critic_params):
        q = state.critic.apply_fn({"params": critic_params}, batch["observations"], batch["actions"])
        diff = target[None] - q
        if config.q_only:
            # Each critic is its own Gumbel regression, so normalise per critic, not jointly.
            loss = sum(
                value_regression_loss(diff[i], config, state.hyperparams) for i in range(config.num_critics)
            )
        else:
            loss = critic_regression_loss(diff, config)
        return loss, q

    (loss, q), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.critic.params)
    metrics = {"critic_loss": loss, "q": q.mean(), "q_target": target.mean()}
    return state._replace(critic=state.critic.apply_gradients(grads=grads)), metrics


def update_target(state: XQLState, config: XQLConfig) -> XQLState:
    """Polyak-average the target critic toward the online critic."""
    target = optax.incremental_update(state.critic.params, state.target_critic_params, config.tau)
    return state._replace(target_critic_params=target)


def schedule_period(config: XQLConfig) -> int:
    """No delayed updates: every learner step is the same."""
    return 1


def update(
    state: XQLState, batch: Batch, config: XQLConfig, phase: Optional[int] = None
) -> Tuple[XQLState, Metrics]:
    """One learner step in the order of IQL / X-QL: V, actor, Q, target critic (``phase`` is unused:
    the learner has no delayed updates)."""
    metrics: Metrics = {}
    if not config.q_only:
        for _ in range(config.value_updates):
            state, value_metrics = update_v(state, batch, config)
        metrics.update(value_metrics)
    state, actor_metrics = update_actor(state, batch, config)
    state, critic_metrics = update_q(state, batch, config)
    state = update_target(state, config)
    metrics.update(actor_metrics)
    metrics.update(critic_metrics)
    return state._replace(step=state.step + 1), metrics


def eval_actions(state: XQLState, observations: jax.Array, config: XQLConfig) -> jax.Array:
    """Deterministic evaluation actions: the Gaussian mean (dropout off), clipped to [-1, 1]."""
    means, _ = state.actor.apply_fn({"params": state.actor.params}, observations)
    return jnp.clip(means, -1.0, 1.0)


def explore_actions(state: XQLState, observations: jax.Array, key: jax.Array, config: XQLConfig):
    """Actions sampled from the Gaussian policy, clipped to [-1, 1]: how fine-tuning collects data."""
    means, log_stds = state.actor.apply_fn({"params": state.actor.params}, observations)
    return jnp.clip(means + jnp.exp(log_stds) * jax.random.normal(key, means.shape), -1.0, 1.0)
