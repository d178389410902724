"""Datasets: the registry of names (``sources``), D4RL HDF5 files, the embedded PointMaze dataset,
Minari, datasets made here, and on-device sampling."""

from xql_jax.data import d4rl, made, minari_data, sources
from xql_jax.data.dataset import (
    Dataset,
    DatasetError,
    episode_returns,
    load_d4rl_hdf5,
    preprocess_rewards,
    qlearning_transitions,
    reward_transform,
    write_d4rl_hdf5,
)
from xql_jax.data.sampling import sample_batch, to_device

__all__ = [
    "Dataset",
    "d4rl",
    "made",
    "sources",
    "minari_data",
    "DatasetError",
    "episode_returns",
    "load_d4rl_hdf5",
    "preprocess_rewards",
    "qlearning_transitions",
    "reward_transform",
    "write_d4rl_hdf5",
    "sample_batch",
    "to_device",
]
