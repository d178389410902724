"""Minari datasets (``--env_name=minari:<dataset id>``): episodes to transitions, and their environment.

Minari keeps local datasets in ``$MINARI_DATASETS_PATH`` (default ``~/.minari/datasets``). Each
episode stores T + 1 observations and T actions, rewards, terminations and truncations; step t
becomes the transition (o_t, a_t, r_t, o_{t+1}) with mask 1 - termination_t, so time-limit ends are
bootstrapped through as in D4RL. Box observation and action spaces are supported.
"""

from __future__ import annotations

import os
from typing import Dict, Optional, Tuple

import numpy as np

from xql_jax.data.dataset import Dataset, DatasetError

PREFIX = "minari:"


def is_minari(name: str) -> bool:
    return name.startswith(PREFIX)


def _open(name: str):
    import minari

    dataset_id = name[len(PREFIX) :]
    try:
        return minari.load_dataset(dataset_id)
    except (FileNotFoundError, ValueError) as e:
        where = os.path.expanduser(os.environ.get("MINARI_DATASETS_PATH", "~/.minari/datasets"))
        raise DatasetError(
            f"Minari dataset {dataset_id!r} not found in {where} ($MINARI_DATASETS_PATH): "
            f"{str(e).rstrip('.')}. "
            f"Get it with `minari download {dataset_id}` on a machine with internet access, or make one "
            "with minari.DataCollector"
        ) from None


def _check_box(dataset, dataset_id: str) -> None:
    import gymnasium as gym

    for role, space in (("observation", dataset.observation_space), ("action", dataset.action_space)):
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            raise DatasetError(
                f"Minari dataset {dataset_id!r} has a {type(space).__name__} {role} space {space}; only flat "
                "Box spaces are supported"
            )


def load_minari(name: str) -> Tuple[Dataset, Optional[Dict[str, float]]]:
    """Transitions of every episode of a local Minari dataset, and its reference scores if it has them."""
    dataset = _open(name)
    _check_box(dataset, name[len(PREFIX) :])
    columns = {
        k: []
        for k in ("observations", "actions", "rewards", "masks", "next_observations", "dones", "next_actions")
    }
    for episode in dataset.iterate_episodes():
        observations = np.asarray(episode.observations, np.float32)
        actions = np.asarray(episode.actions, np.float32).reshape(len(episode.rewards), -1)
        steps = len(actions)
        if steps == 0:
            continue
        dones = np.zeros(steps, np.float32)
        dones[-1] = 1.0
        columns["observations"].append(observations[:-1])
        columns["next_observations"].append(observations[1:])
        columns["actions"].append(actions)
        # The last step has no next action in the episode; its own action stands in (Q-only variant).
        columns["next_actions"].append(np.concatenate([actions[1:], actions[-1:]]))
        columns["rewards"].append(np.asarray(episode.rewards, np.float32))
        columns["masks"].append(1.0 - np.asarray(episode.terminations, np.float32))
        columns["dones"].append(dones)
    if not columns["rewards"]:
        raise DatasetError(f"Minari dataset {name!r} holds no steps")
    arrays = {k: np.concatenate(v) for k, v in columns.items()}
    for key, array in arrays.items():
        if not np.all(np.isfinite(array)):
            raise DatasetError(f"Minari dataset {name!r}: '{key}' holds NaN/inf values; clean it first")
    return Dataset(**arrays), _references(dataset)


def _references(dataset) -> Optional[Dict[str, float]]:
    metadata = dataset.storage.metadata
    if metadata.get("ref_min_score") is None or metadata.get("ref_max_score") is None:
        return None
    return {
        "ref_min_score": float(metadata["ref_min_score"]),
        "ref_max_score": float(metadata["ref_max_score"]),
    }


def references(name: str) -> Optional[Dict[str, float]]:
    """The reference returns a local Minari dataset declares (ref_min_score / ref_max_score), if any."""
    return _references(_open(name))


def make_minari_env(name: str):
    """The evaluation environment Minari recovers for the dataset."""
    dataset = _open(name)
    _check_box(dataset, name[len(PREFIX) :])
    return dataset.recover_environment(eval_env=True)
