"""Pure array losses used by the learners: Gumbel regression (X-QL) and expectile regression (IQL)."""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp


def gumbel_loss(
    diff: jax.Array,
    beta: float,
    max_clip: Optional[float] = None,
    max_normalize: bool = True,
    clip_below: bool = False,
) -> jax.Array:
    """Elementwise Gumbel regression loss for ``diff = q - v`` (paper Eq. 11).

    With z = diff / beta the loss is exp(z) - z - 1, whose minimizer over v is the soft maximum
    beta * log E[exp(q / beta)]. ``max_clip`` clips z from above so a few outlier targets cannot
    overflow the exponential. With ``max_normalize`` the loss is multiplied by exp(-m), where
    m = stop_gradient(max(max_batch z, -1)): the minimizer is unchanged but the gradient scale is
    normalised per batch, as the log-sum-exp trick does for a softmax (paper App. D.3).

    Args:
      diff: q - v, any shape; the batch maximum is taken over all of its elements.
      beta: the Gumbel temperature (not the AWR temperature).
      max_clip: upper clip of z; None or inf for no clip (min(z, inf) = z, gradient 1).
      max_normalize: apply the max-normalised form.
      clip_below: clip z to [-max_clip, max_clip] instead, as the official online code does
        (``torch.clamp`` before the batch max): z below -max_clip then gets no gradient. The
        official offline loss clips from above only.

    Returns:
      The loss, same shape as ``diff``.
    """
    z = diff / beta
    if max_clip is not None:
        z = jnp.clip(z, -max_clip, max_clip) if clip_below else jnp.minimum(z, max_clip)
    if not max_normalize:
        return jnp.exp(z) - z - 1.0
    # Floor at -1 so that a batch where v overestimates every q does not blow up exp(-m).
    max_z = jax.lax.stop_gradient(jnp.maximum(jnp.max(z), -1.0))
    exp_neg_max = jnp.exp(-max_z)
    return jnp.exp(z - max_z) - z * exp_neg_max - exp_neg_max


# offline/critic.py grad_gumbel(x, alpha, clip_max=7): its clip is this constant, not --max_clip.
LOG_LOSS_CLIP = 7.0


def gumbel_log_loss(diff: jax.Array, beta: float, clip: float = LOG_LOSS_CLIP) -> jax.Array:
    """Elementwise surrogate of the log-Gumbel loss log(mean(exp(z) - z - 1) + 1), z = diff / beta.

    As the official ``gumbel_log_loss`` (github Div99/XQL ``offline/critic.py``, used by
    ``train_finetune.py``'s default ``--log_loss=True``): the loss is stop_gradient(g) * z with the
    analytic gradient g = (exp(z') - 1) / mean(exp(z') - z'), z' = min(z, clip), computed with
    the offset m = max(max_batch z', -1) as (exp(z' - m) - exp(-m)) / mean(exp(z' - m) - z' exp(-m)).
    Its mean's gradient is that of log(mean(exp(z') - z' - 1) + 1): the Gumbel loss's, divided by
    the batch's mean loss + 1, so large errors do not make large steps. The value it returns is
    the surrogate's, not the log loss itself; the minimiser is the Gumbel loss's.
    """
    z = diff / beta
    clipped = jnp.minimum(z, clip)
    offset = jnp.maximum(jnp.max(clipped), -1.0)
    numerator = jnp.exp(clipped - offset) - jnp.exp(-offset)
    denominator = jnp.mean(jnp.exp(clipped - offset) - clipped * jnp.exp(-offset))
    return jax.lax.stop_gradient(numerator / denominator) * z


def expectile_loss(diff: jax.Array, expectile: float) -> jax.Array:
    """Elementwise asymmetric squared loss |expectile - 1(diff < 0)| * diff**2 (IQL's value loss)."""
    weight = jnp.where(diff > 0, expectile, 1.0 - expectile)
    return weight * jnp.square(diff)


def soft_maximum(values: jax.Array, beta: float, axis=None) -> jax.Array:
    """beta * log mean exp(values / beta): the minimizer of the Gumbel loss, computed stably."""
    n = values.size if axis is None else values.shape[axis]
    return beta * (jax.nn.logsumexp(values / beta, axis=axis) - jnp.log(n))
