"""The paper's analyses (Section 3.1, Figure 1, App. D.2): Bellman errors of online learners and
maximum-likelihood fits of Gumbel and Gaussian distributions to them."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats


def bellman_errors(module, state, batch, config) -> jax.Array:
    """Q_1(s, a) - (r + discount * mask * Q_1(s', pi(s'))) for every transition of ``batch``.

    As in App. D.2: the first critic, the current parameters (no target network), the policy's
    deterministic action (the mean for SAC), and no entropy term. ``module`` is the learner's
    module (xql_jax.agents.sac, td3 or xql) and ``state`` its unbatched state.
    """
    next_actions = module.eval_actions(state, batch["next_observations"], config)
    params = {"params": state.critic.params}
    q = state.critic.apply_fn(params, batch["observations"], batch["actions"])[0]
    next_q = state.critic.apply_fn(params, batch["next_observations"], next_actions)[0]
    target = batch["rewards"] + state.hyperparams["discount"] * batch["masks"] * next_q
    return q - jax.lax.stop_gradient(target).astype(jnp.float32)


class Fit(NamedTuple):
    """A maximum-likelihood fit: location, scale and mean log-likelihood per sample."""

    loc: float
    scale: float
    log_likelihood: float


def fit_gumbel(samples: np.ndarray, side: str = "left") -> Fit:
    """ML fit of a Gumbel distribution.

    ``side="left"`` (default) is the min-type Gumbel, the law of Bellman errors written as
    Q(s, a) - target: the target carries the max-type Gumbel error of a maximum over noisy values
    (Section 3.1), so the error has a long left tail. ``side="right"`` is the max-type Gumbel.
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    distribution = stats.gumbel_l if side == "left" else stats.gumbel_r
    samples = np.asarray(samples, np.float64)
    loc, scale = distribution.fit(samples)
    return Fit(float(loc), float(scale), float(np.mean(distribution.logpdf(samples, loc, scale))))


def fit_gaussian(samples: np.ndarray) -> Fit:
    """ML fit of a Gaussian, the error model that MSE regression assumes."""
    samples = np.asarray(samples, np.float64)
    loc, scale = stats.norm.fit(samples)
    return Fit(float(loc), float(scale), float(np.mean(stats.norm.logpdf(samples, loc, scale))))


def clip_to_range(samples: np.ndarray, quantile: float = 0.005) -> np.ndarray:
    """Drop the ``quantile`` tails on both sides before fitting, as the paper clips outliers (App. D.2)."""
    samples = np.asarray(samples)
    low, high = np.quantile(samples, [quantile, 1.0 - quantile])
    return samples[(samples >= low) & (samples <= high)]


def gumbel_regression_fit(
    x: np.ndarray,
    y: np.ndarray,
    betas,
    grid: np.ndarray,
    hidden_dims=(32, 32),
    steps: int = 2000,
    learning_rate: float = 3e-3,
    seed: int = 0,
) -> np.ndarray:
    """Fit v(x) by Gumbel regression of y for each beta (paper Figure 2) and evaluate it on ``grid``.

    One MLP per beta, trained together (vmapped over beta) by full-batch Adam on the max-normalised
    Gumbel loss of y - v(x). Its minimiser is v(x) = beta * log E[exp(y / beta) | x], which moves
    from the conditional mean (large beta) to the conditional maximum (small beta).

    Returns the fitted values, shape [len(betas), len(grid)].
    """
    import optax

    from xql_jax import losses
    from xql_jax.networks import MLP

    model = MLP((*hidden_dims, 1))
    inputs = jnp.asarray(x, jnp.float32)[:, None]
    targets = jnp.asarray(y, jnp.float32)
    optimizer = optax.adam(learning_rate)

    def fit(beta, key):
        params = model.init(key, inputs)

        def loss_fn(params):
            prediction = model.apply(params, inputs)[:, 0]
            return losses.gumbel_loss(targets - prediction, beta, max_clip=None).mean()

        def step(carry, _):
            params, opt_state = carry
            grads = jax.grad(loss_fn)(params)
            updates, opt_state = optimizer.update(grads, opt_state)
            return (optax.apply_updates(params, updates), opt_state), None

        (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), None, length=steps)
        return model.apply(params, jnp.asarray(grid, jnp.float32)[:, None])[:, 0]

    betas = jnp.asarray(betas, jnp.float32)
    keys = jax.random.split(jax.random.PRNGKey(seed), len(betas))
    return np.asarray(jax.jit(jax.vmap(fit))(betas, keys))
