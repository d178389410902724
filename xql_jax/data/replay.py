"""A replay buffer that lives on the accelerator: inserts and samples happen inside jit.

The online loop adds one transition and samples a batch in the same jitted call as the learner
step, so the only host-device traffic per environment step is the transition in and the action out.
"""

from __future__ import annotations

from typing import Dict, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from xql_jax.data.dataset import Dataset

FIELDS = ("observations", "actions", "rewards", "masks", "next_observations")


class ReplayBuffer(NamedTuple):
    """Fixed-capacity ring buffer: ``data[name]`` has a leading capacity axis; the oldest rows go first."""

    data: Dict[str, jax.Array]
    size: jax.Array  # rows filled so far (<= capacity)
    index: jax.Array  # row the next transition is written to

    @property
    def capacity(self) -> int:
        return self.data["rewards"].shape[0]


def create(capacity: int, observation_dim: int, action_dim: int) -> ReplayBuffer:
    if capacity <= 0:
        raise ValueError(f"replay capacity must be positive, got {capacity}")
    shapes = {
        "observations": (capacity, observation_dim),
        "actions": (capacity, action_dim),
        "rewards": (capacity,),
        "masks": (capacity,),
        "next_observations": (capacity, observation_dim),
    }
    return ReplayBuffer(
        data={name: jnp.zeros(shape, jnp.float32) for name, shape in shapes.items()},
        size=jnp.zeros((), jnp.int32),
        index=jnp.zeros((), jnp.int32),
    )


def from_dataset(dataset: Dataset, capacity: int) -> ReplayBuffer:
    """A buffer holding every transition of ``dataset`` first, with room up to ``capacity`` rows."""
    if capacity < len(dataset):
        raise ValueError(
            f"replay capacity {capacity} is smaller than the dataset ({len(dataset)} transitions)"
        )
    buffer = create(capacity, dataset.observation_dim, dataset.action_dim)
    data = {
        name: buffer.data[name].at[: len(dataset)].set(jnp.asarray(getattr(dataset, name), jnp.float32))
        for name in FIELDS
    }
    filled = jnp.asarray(len(dataset), jnp.int32)
    return ReplayBuffer(data=data, size=filled, index=filled % capacity)


def add(buffer: ReplayBuffer, transition: Dict[str, jax.Array]) -> ReplayBuffer:
    """Write one transition (unbatched arrays keyed like FIELDS) over the oldest row (jittable)."""
    data = {name: buffer.data[name].at[buffer.index].set(transition[name]) for name in FIELDS}
    return ReplayBuffer(
        data=data,
        size=jnp.minimum(buffer.size + 1, buffer.capacity),
        index=(buffer.index + 1) % buffer.capacity,
    )


def pack(observations, actions, rewards, masks, next_observations) -> np.ndarray:
    """One float32 row per transition (on the host), so a step sends one array to the device, not five."""
    columns = [
        observations,
        actions,
        np.asarray(rewards)[..., None],
        np.asarray(masks)[..., None],
        next_observations,
    ]
    return np.concatenate([np.asarray(c, np.float32) for c in columns], axis=-1)


def add_packed(buffer: ReplayBuffer, row: jax.Array) -> ReplayBuffer:
    """``add`` for a row made by ``pack`` (jittable)."""
    observation_dim = buffer.data["observations"].shape[-1]
    action_dim = buffer.data["actions"].shape[-1]
    bounds = np.cumsum([observation_dim, action_dim, 1, 1])
    observations, actions, rewards, masks, next_observations = jnp.split(row, bounds, axis=-1)
    transition = {
        "observations": observations,
        "actions": actions,
        "rewards": rewards[..., 0],
        "masks": masks[..., 0],
        "next_observations": next_observations,
    }
    return add(buffer, transition)


def sample(
    buffer: ReplayBuffer, key: jax.Array, batch_size: int, online_fraction: float = 0.0, offline_rows: int = 0
) -> Dict[str, jax.Array]:
    """``batch_size`` transitions drawn with replacement from the filled rows (jittable).

    Uniformly by default. With ``online_fraction`` > 0 and a buffer whose first ``offline_rows`` rows
    hold a dataset (fine-tuning), that fraction of the batch comes from the rows collected since, and
    the rest from the dataset; until something has been collected, all of it from the dataset.
    """
    indices = jax.random.randint(key, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    online = int(round(online_fraction * batch_size))
    if online and offline_rows:
        offline_key, online_key = jax.random.split(key)
        from_dataset = jax.random.randint(offline_key, (batch_size - online,), 0, offline_rows)
        collected = jax.random.randint(
            online_key, (online,), offline_rows, jnp.maximum(buffer.size, offline_rows + 1)
        )
        collected = jnp.where(buffer.size > offline_rows, collected, collected % offline_rows)
        indices = jnp.concatenate([from_dataset, collected])
    return jax.tree_util.tree_map(lambda x: jnp.take(x, indices, axis=0), buffer.data)
