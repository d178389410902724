"""A dataset made ready for the learners: its rewards preprocessed, its actions in the learners'
[-1, 1], and checked against the environment its policies are evaluated in, before anything compiles.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, NamedTuple, Optional, Tuple

import numpy as np

from xql_jax import d4rl_envs, envs
from xql_jax.data import sources
from xql_jax.data.dataset import Dataset, DatasetError, preprocess_rewards, reward_transform

# As IQL's and X-QL's D4RLDataset (ikostrikov/implicit_q_learning dataset_utils.py, clip_to_eps=True,
# eps=1e-5): dataset actions are clipped to [-1 + 1e-5, 1 - 1e-5].
ACTION_CLIP_EPS = 1e-5
# Actions further than this outside the environment's bounds (in [-1, 1] units) are not rounding:
# the data belongs to another environment, or its actions were never mapped to the environment's.
ACTION_TOLERANCE = 1e-3


class OfflineData(NamedTuple):
    source: sources.Source
    dataset: Dataset  # rewards preprocessed
    transform: Tuple[float, float]  # (scale, shift) that preprocessed the rewards
    identity: Dict  # what identifies the data (config.json's "run" section)


def offline_data(
    reward_preprocessing: str, env_name: str, dataset_path: Optional[str], data_dir: Optional[str], log=print
) -> OfflineData:
    """The dataset a name resolves to (``xql_jax.data.sources``), with its rewards preprocessed and
    its shapes checked against its evaluation environment, before anything compiles."""
    source = sources.resolve(env_name, dataset_path, data_dir, log=log)
    expected = sources.DOMAIN_REWARD_PREPROCESSING.get(source.domain)
    if expected is not None and reward_preprocessing != expected:
        log(
            f"warning: {env_name} is a {source.domain} dataset, whose paper config preprocesses rewards "
            f"with {expected!r}; this config uses {reward_preprocessing!r} "
            f"(the domain's config: --config=configs/{source.domain}.py)"
        )
    raw = source.load()
    transform = reward_transform(raw, reward_preprocessing)
    dataset = preprocess_rewards(raw, reward_preprocessing)
    probe_env = source.make_env()
    dataset = to_learner_actions(dataset, probe_env, source.location, log=log)  # actions in [-1, 1]
    if getattr(probe_env, "zero_contact_forces", False) and np.any(
        dataset.observations[:, d4rl_envs.ANT_BASE_DIMS :]
    ):
        log(
            f"warning: {source.location} has non-zero ant contact forces (observation dims 27-110), but "
            "the evaluation zeroes them as D4RL's v2 files (MuJoCo 2.0) have them; scores will be off"
        )
    probe_env.close()
    log(f"{env_name}: {len(dataset)} transitions from {source.location}")
    return OfflineData(source, dataset, transform, source.identity(raw))


def check_shapes(dataset: Dataset, env) -> None:
    """Refuse a dataset whose observation or action sizes are not its evaluation environment's."""
    obs_shape, act_shape = env.observation_space.shape, env.action_space.shape
    if (dataset.observation_dim,) != tuple(obs_shape) or (dataset.action_dim,) != tuple(act_shape):
        raise DatasetError(
            f"dataset observations/actions have dims {dataset.observation_dim}/{dataset.action_dim} "
            f"but the environment expects {obs_shape}/{act_shape}: the dataset does not belong to this "
            "environment; check --env_name and --dataset_path"
        )


def to_learner_actions(dataset: Dataset, env, location: str, log=print) -> Dataset:
    """``dataset`` with its actions in the learners' [-1, 1] (``envs.unit_actions``' rescaling of the
    environment's bounds), clipped to [-1 + 1e-5, 1 - 1e-5] as the official code does whatever their
    range. Actions clearly outside the environment's bounds are clipped too, as the official code
    would have, but with a warning naming the file, the dimension and both ranges: they usually mean
    another environment's data or unnormalised actions. ``env`` is the evaluation environment
    (``Source.make_env()``)."""
    check_shapes(dataset, env)
    space = envs.native_action_space(env)
    actions = envs.to_unit_actions(dataset.actions, space)
    below, above = -1.0 - actions.min(axis=0), actions.max(axis=0) - 1.0
    excess = np.maximum(below, above)
    if np.max(excess) > ACTION_TOLERANCE:
        dim = int(np.argmax(excess))
        outside = float(np.mean(np.any(np.abs(actions) > 1.0 + ACTION_TOLERANCE, axis=1)))
        log(
            f"warning: {location}: actions (dimension {dim}) span [{dataset.actions[:, dim].min():.4g}, "
            f"{dataset.actions[:, dim].max():.4g}] but the environment's bounds there are "
            f"[{float(space.low[dim]):g}, {float(space.high[dim]):g}] ({outside:.2%} of the rows outside): "
            "they are clipped to the bounds as the official code did; if the data belongs to another "
            "environment (check --env_name) or its actions are not in the environment's units, fix the data"
        )
    limit = 1.0 - ACTION_CLIP_EPS
    return dataclasses.replace(
        dataset,
        actions=np.clip(actions, -limit, limit).astype(np.float32),
        next_actions=np.clip(envs.to_unit_actions(dataset.next_actions, space), -limit, limit).astype(
            np.float32
        ),
    )
