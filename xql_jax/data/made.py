"""Datasets made here in D4RL's recipe: their names, files and reference returns, and the array
conversions of the recipe (replay-buffer rows to D4RL rows, medium + expert).

Made datasets are named ``<robot>-<kind>-made`` (e.g. ``hopper-medium-replay-made``) and live in
``$XQL_DATA_DIR`` (default ``~/.cache/xql_jax/datasets``) with a JSON file beside them holding
their reference returns: ``ref_min_score`` the uniform random policy's mean return and
``ref_max_score`` the expert behavior policy's, both measured in the same environment. How they
are made (behavior policies, rollouts) is ``xql_jax.made_datasets``, above the training loops.
"""

from __future__ import annotations

import os
import re
from typing import Dict, Optional, Tuple

import numpy as np

from xql_jax.data.dataset import DatasetError, data_file, read_references, references_path, returns_between

# The robots and the environments their datasets are collected and evaluated in.
ROBOTS = {"halfcheetah": "HalfCheetah-v5", "hopper": "Hopper-v5", "walker2d": "Walker2d-v5"}
KINDS = ("random", "medium", "expert", "medium-replay", "medium-expert")
_NAME = re.compile(r"^(?P<robot>[a-z0-9]+)-(?P<kind>[a-z-]+)-made$")


def parse_name(name: str) -> Optional[Tuple[str, str]]:
    """("hopper", "medium-replay") for "hopper-medium-replay-made"; None for names of other kinds."""
    match = _NAME.match(name)
    if match is None:
        return None
    robot, kind = match["robot"], match["kind"]
    if robot not in ROBOTS or kind not in KINDS:
        raise DatasetError(
            f"unknown made dataset {name!r}: robots are {sorted(ROBOTS)}, kinds {list(KINDS)} "
            "(e.g. halfcheetah-medium-made)"
        )
    return robot, kind


def locate(name: str, data_dir: Optional[str] = None) -> Tuple[str, Dict[str, float]]:
    """The file of a made dataset and its reference returns; how to make it when it is missing."""
    robot, kind = parse_name(name)
    path = data_file(name, data_dir)
    if not os.path.isfile(path):
        dataset = f"{robot}-{kind}"
        raise DatasetError(
            f"made dataset {name!r} not found at {path}. Make it with: "
            f"python experiments/make_dataset.py --dataset={dataset}"
            + (f" --data_dir={data_dir}" if data_dir else "")  # without it, the default folder
            + (f" --behavior_run=<workdir of --train_behavior={robot}>" if kind == "medium-replay" else "")
        )
    references = read_references(path)
    if references is None:
        raise DatasetError(f"{path}: its reference returns ({references_path(path)}) are missing")
    return path, references


def replay_rows_to_raw(data: Dict[str, np.ndarray], size: int) -> Dict[str, np.ndarray]:
    """D4RL-layout arrays from the first ``size`` rows of a single-seed online replay buffer.

    The buffer stores (s, a, r, mask, s'): a row ends an episode at a terminal (mask 0) or where the
    next row does not start from its s' (a time limit: marked as a timeout, as D4RL does).
    """
    rows = {k: np.asarray(v[:size]) for k, v in data.items()}
    terminals = rows["masks"] == 0.0
    breaks = np.any(rows["next_observations"][:-1] != rows["observations"][1:], axis=-1)
    timeouts = np.zeros(size, bool)
    timeouts[:-1] = breaks & ~terminals[:-1]
    timeouts[-1] = not terminals[-1]
    return dict(
        observations=rows["observations"].astype(np.float32),
        actions=rows["actions"].astype(np.float32),
        rewards=rows["rewards"].astype(np.float32),
        terminals=terminals,
        timeouts=timeouts,
        next_observations=rows["next_observations"].astype(np.float32),
    )


def concatenate(*raws: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """D4RL's medium-expert: the files one after the other."""
    return {k: np.concatenate([r[k] for r in raws]) for k in raws[0]}


def episode_returns_of(raw: Dict[str, np.ndarray]) -> np.ndarray:
    """Returns of the episodes in D4RL-layout arrays (a cut last episode included)."""
    return returns_between(raw["rewards"], raw["terminals"] | raw["timeouts"])
