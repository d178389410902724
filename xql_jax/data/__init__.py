"""Datasets: D4RL HDF5 files, the embedded PointMaze dataset, and on-device sampling."""

from xql_jax.data import behavior, d4rl, minari_data
from xql_jax.data.dataset import (
    Dataset,
    DatasetError,
    episode_returns,
    load_d4rl_hdf5,
    preprocess_rewards,
    qlearning_transitions,
    reward_transform,
)
from xql_jax.data.sampling import sample_batch, to_device

__all__ = [
    "Dataset",
    "behavior",
    "d4rl",
    "minari_data",
    "DatasetError",
    "episode_returns",
    "load_d4rl_hdf5",
    "preprocess_rewards",
    "qlearning_transitions",
    "reward_transform",
    "sample_batch",
    "to_device",
]
