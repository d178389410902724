"""Checks of a run's input before anything compiles: a dataset against its environment. Each failure
is one line (a DatasetError) naming the file and the fix."""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from xql_jax import envs
from xql_jax.data.dataset import Dataset, DatasetError

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")

# As IQL's and X-QL's D4RLDataset (ikostrikov/implicit_q_learning dataset_utils.py, clip_to_eps=True,
# eps=1e-5): dataset actions are clipped to [-1 + 1e-5, 1 - 1e-5].
ACTION_CLIP_EPS = 1e-5
# Actions further than this outside the environment's bounds (in [-1, 1] units) are not rounding:
# the data belongs to another environment, or its actions were never mapped to the environment's.
ACTION_TOLERANCE = 1e-3


# ---------------------------------------------------------------------------------------------
# A dataset against the environment its policies are evaluated in


def check_shapes(dataset: Dataset, env) -> None:
    obs_shape, act_shape = env.observation_space.shape, env.action_space.shape
    if (dataset.observation_dim,) != tuple(obs_shape) or (dataset.action_dim,) != tuple(act_shape):
        raise DatasetError(
            f"dataset observations/actions have dims {dataset.observation_dim}/{dataset.action_dim} "
            f"but the environment expects {obs_shape}/{act_shape}: the dataset does not belong to this "
            "environment; check --env_name and --dataset_path"
        )


def check_dataset(dataset: Dataset, env, location: str) -> Dataset:
    """``dataset`` with its actions in the learners' [-1, 1] (``envs.unit_actions``' rescaling of the
    environment's bounds), clipped to [-1 + 1e-5, 1 - 1e-5] as the official code does; actions
    clearly outside the environment's bounds are refused. ``env`` is the evaluation environment
    (``Source.make_env()``)."""
    check_shapes(dataset, env)
    space = envs.native_action_space(env)
    actions = envs.to_unit_actions(dataset.actions, space)
    below, above = -1.0 - actions.min(axis=0), actions.max(axis=0) - 1.0
    excess = np.maximum(below, above)
    if np.max(excess) > ACTION_TOLERANCE:
        dim = int(np.argmax(excess))
        raise DatasetError(
            f"{location}: actions (dimension {dim}) span [{dataset.actions[:, dim].min():.4g}, "
            f"{dataset.actions[:, dim].max():.4g}] but the environment's bounds there are "
            f"[{float(space.low[dim]):g}, {float(space.high[dim]):g}]: the data belongs to another "
            "environment (check --env_name) or its actions are not in the environment's units "
            "(store them in the environment's bounds)"
        )
    limit = 1.0 - ACTION_CLIP_EPS
    return dataclasses.replace(
        dataset,
        actions=np.clip(actions, -limit, limit).astype(np.float32),
        next_actions=np.clip(envs.to_unit_actions(dataset.next_actions, space), -limit, limit).astype(
            np.float32
        ),
    )
