"""Flax networks shared by the learners: MLP torso, value net, ensembles of critics, Gaussian policy."""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


def _orthogonal_on_host(gaussian: np.ndarray) -> np.ndarray:
    """Q of the QR of a tall Gaussian matrix, signs fixed by R's diagonal: Haar-random orthonormal columns."""
    q, r = np.linalg.qr(gaussian)
    return (q * np.sign(np.diag(r))).astype(gaussian.dtype)


def orthogonal(scale: float = 1.0):
    """flax's orthogonal initializer (same draws, same convention) with the QR done in numpy on the host.

    jaxlib 0.10.2's CPU QR kernel waits on its thread pool for its batch items; two QRs running at
    once (independent layers, a critic ensemble, several seeds) can take every thread of a 2-core
    machine and deadlock at initialisation. A host callback runs one QR at a time.
    """

    def init(key, shape, dtype=jnp.float32):
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        tall_shape = (max(rows, cols), min(rows, cols))
        gaussian = jax.random.normal(key, tall_shape, dtype)
        q = jax.pure_callback(
            _orthogonal_on_host, jax.ShapeDtypeStruct(tall_shape, dtype), gaussian, vmap_method="sequential"
        )
        if rows < cols:
            q = q.T
        return scale * q.reshape(shape)

    return init


# Orthogonal init with gain sqrt(2) is what the IQL/jaxrl family (and the official offline X-QL)
# uses for every layer; the official online code (``ortho_init: true``) uses gain 1.0 everywhere.
# Biases start at zero in both (flax's default).
OFFLINE_GAIN = float(np.sqrt(2.0))
ONLINE_GAIN = 1.0
default_init = orthogonal(OFFLINE_GAIN)


class MLP(nn.Module):
    """Fully connected torso; optional LayerNorm and dropout after each hidden activation."""

    hidden_dims: Sequence[int]
    activation: Callable[[jax.Array], jax.Array] = nn.relu
    activate_final: bool = False
    layer_norm: bool = False
    dropout_rate: float = 0.0
    kernel_gain: float = OFFLINE_GAIN  # orthogonal init gain of every layer

    @nn.compact
    def __call__(self, x: jax.Array, training: bool = False) -> jax.Array:
        for i, size in enumerate(self.hidden_dims):
            x = nn.Dense(size, kernel_init=orthogonal(self.kernel_gain))(x)
            if i + 1 < len(self.hidden_dims) or self.activate_final:
                if self.layer_norm:
                    x = nn.LayerNorm()(x)
                x = self.activation(x)
                if self.dropout_rate > 0:
                    x = nn.Dropout(rate=self.dropout_rate)(x, deterministic=not training)
        return x


class ValueNet(nn.Module):
    """V(s). LayerNorm is on by default: the paper adds it to stop rare divergence on AntMaze."""

    hidden_dims: Sequence[int]
    layer_norm: bool = True
    kernel_gain: float = OFFLINE_GAIN

    @nn.compact
    def __call__(self, observations: jax.Array) -> jax.Array:
        v = MLP((*self.hidden_dims, 1), layer_norm=self.layer_norm, kernel_gain=self.kernel_gain)(
            observations
        )
        return jnp.squeeze(v, -1)


class Critic(nn.Module):
    """Q(s, a) from one MLP on the concatenated state and action."""

    hidden_dims: Sequence[int]
    layer_norm: bool = False
    kernel_gain: float = OFFLINE_GAIN

    @nn.compact
    def __call__(self, observations: jax.Array, actions: jax.Array) -> jax.Array:
        inputs = jnp.concatenate([observations, actions], -1)
        q = MLP((*self.hidden_dims, 1), layer_norm=self.layer_norm, kernel_gain=self.kernel_gain)(inputs)
        return jnp.squeeze(q, -1)


class CriticEnsemble(nn.Module):
    """``num_critics`` independent critics evaluated in one vectorised call; output [num_critics, ...]."""

    hidden_dims: Sequence[int]
    num_critics: int = 2
    layer_norm: bool = False
    kernel_gain: float = OFFLINE_GAIN

    @nn.compact
    def __call__(self, observations: jax.Array, actions: jax.Array) -> jax.Array:
        ensemble = nn.vmap(
            Critic,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=self.num_critics,
        )
        return ensemble(self.hidden_dims, self.layer_norm, self.kernel_gain)(observations, actions)


class GaussianPolicy(nn.Module):
    """Diagonal Gaussian over actions with a state-conditioned mean and a state-independent log-std.

    The mean goes through tanh so deterministic actions lie in [-1, 1], but the distribution is not
    tanh-squashed: this is the IQL policy used for D4RL, whose AWR log-likelihood of dataset actions
    near the action bounds stays finite.
    """

    hidden_dims: Sequence[int]
    action_dim: int
    dropout_rate: float = 0.0
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    tanh_mean: bool = True
    # The official offline policy's mean head is orthogonal(sqrt 2), as its torso.
    mean_gain: float = OFFLINE_GAIN

    @nn.compact
    def __call__(self, observations: jax.Array, training: bool = False):
        features = MLP(self.hidden_dims, activate_final=True, dropout_rate=self.dropout_rate)(
            observations, training=training
        )
        means = nn.Dense(self.action_dim, kernel_init=orthogonal(self.mean_gain))(features)
        if self.tanh_mean:
            means = jnp.tanh(means)
        log_stds = self.param("log_stds", nn.initializers.zeros, (self.action_dim,))
        log_stds = jnp.clip(log_stds, self.log_std_min, self.log_std_max)
        return means, jnp.broadcast_to(log_stds, means.shape)


def gaussian_log_prob(means: jax.Array, log_stds: jax.Array, actions: jax.Array) -> jax.Array:
    """Log density of ``actions`` under a diagonal Gaussian, summed over the action dimension."""
    z = (actions - means) * jnp.exp(-log_stds)
    per_dim = -0.5 * jnp.square(z) - log_stds - 0.5 * jnp.log(2.0 * jnp.pi)
    return jnp.sum(per_dim, -1)


def maybe_min(q_values: jax.Array, use_min: bool) -> jax.Array:
    """Min over the critic axis (double-Q) or the first critic alone."""
    return jnp.min(q_values, axis=0) if use_min else q_values[0]


class TanhGaussianPolicy(nn.Module):
    """SAC's policy: a diagonal Gaussian with state-dependent log-std, squashed by tanh.

    Returns the pre-tanh means and log-stds; ``sample_tanh_gaussian`` draws squashed actions and
    their log-densities. The log-std is bounded smoothly to [log_std_min, log_std_max] as in
    pytorch_sac, which the paper's SAC builds on.
    """

    hidden_dims: Sequence[int]
    action_dim: int
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    kernel_gain: float = ONLINE_GAIN  # every layer, heads included

    @nn.compact
    def __call__(self, observations: jax.Array):
        features = MLP(self.hidden_dims, activate_final=True, kernel_gain=self.kernel_gain)(observations)
        # One head for both, as the official DiagonalGaussianMLPActor (one orthogonal matrix).
        outputs = nn.Dense(2 * self.action_dim, kernel_init=orthogonal(self.kernel_gain))(features)
        means, raw_log_stds = jnp.split(outputs, 2, axis=-1)
        unit = 0.5 * (jnp.tanh(raw_log_stds) + 1.0)
        log_stds = self.log_std_min + (self.log_std_max - self.log_std_min) * unit
        return means, log_stds


def sample_tanh_gaussian(key: jax.Array, means: jax.Array, log_stds: jax.Array):
    """A reparameterised tanh-Gaussian sample and its log-density (change of variables included)."""
    pre_tanh = means + jnp.exp(log_stds) * jax.random.normal(key, means.shape)
    # log(1 - tanh(u)^2) = 2 * (log 2 - u - softplus(-2u)), exact and stable for large |u|.
    log_det = 2.0 * (jnp.log(2.0) - pre_tanh - jax.nn.softplus(-2.0 * pre_tanh))
    log_probs = gaussian_log_prob(means, log_stds, pre_tanh) - jnp.sum(log_det, -1)
    return jnp.tanh(pre_tanh), log_probs


class DeterministicPolicy(nn.Module):
    """TD3's actor: tanh(MLP(s)), actions in [-1, 1]."""

    hidden_dims: Sequence[int]
    action_dim: int
    kernel_gain: float = ONLINE_GAIN  # every layer, the output layer included

    @nn.compact
    def __call__(self, observations: jax.Array) -> jax.Array:
        return jnp.tanh(MLP((*self.hidden_dims, self.action_dim), kernel_gain=self.kernel_gain)(observations))
