"""The dataset on the accelerator, and batches drawn from it inside jit."""

from __future__ import annotations

from typing import Dict

import jax
import jax.numpy as jnp

from xql_jax.data.dataset import Dataset

# The fields a learner step reads; ``dones`` is only needed on the host.
BATCH_FIELDS = ("observations", "actions", "rewards", "masks", "next_observations", "next_actions")


def to_device(dataset: Dataset) -> Dict[str, jax.Array]:
    """Copy the learner's fields to the default device once, so sampling never leaves it."""
    return {name: jnp.asarray(getattr(dataset, name)) for name in BATCH_FIELDS}


def sample_batch(key: jax.Array, data: Dict[str, jax.Array], batch_size: int) -> Dict[str, jax.Array]:
    """Uniformly sample ``batch_size`` transitions with replacement (jittable)."""
    size = data["rewards"].shape[0]
    indices = jax.random.randint(key, (batch_size,), 0, size)
    return jax.tree_util.tree_map(lambda x: jnp.take(x, indices, axis=0), data)
