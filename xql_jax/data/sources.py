"""The one registry of datasets: a name (and perhaps a file) -> everything an offline run needs.

``resolve(name, dataset_path)`` returns a ``Source``: the data (``load()``), the environment its
policies are evaluated in (``make_env()``), the reference returns of the normalized score, and the
domain (which selects the paper's config and reward preprocessing). Every kind of name goes
through here, checked in one order:

1. ``--dataset_path`` given: that D4RL-layout HDF5 file; the name then says which environment
   (any name below, a gymnasium id, or a DM Control task) and, failing a JSON file beside the
   file, which reference returns;
2. ``minari:<dataset id>``: a local Minari dataset;
3. the embedded ``pointmaze-umaze-v0``: made here on first use and cached;
4. a D4RL name (``hopper-medium-v2``, ``antmaze-umaze-v0``, ``kitchen-partial-v0``,
   ``pen-human-v1``, ...): D4RL's file in ``$D4RL_DATASET_DIR`` or ``~/.d4rl/datasets``;
5. ``<robot>-<kind>-made``: a D4RL-style dataset made by ``experiments/make_dataset.py``;
6. an OGBench single-task name (``cube-single-play-singletask-task2-v0``): OGBench's ``.npz`` files
   (``--dataset_path``, else in ``--data_dir``, ``$OGBENCH_DATASET_DIR`` or ``~/.ogbench/data``),
   read and relabelled by the ``ogbench`` package, scored by the environment's success rate.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Dict, Optional

import gymnasium as gym

from xql_jax import envs
from xql_jax.data import d4rl, made, minari_data, ogbench_data, pointmaze
from xql_jax.data.dataset import Dataset, DatasetError, fingerprint, load_d4rl_hdf5, read_references

ACCEPTED_NAMES = (
    "the embedded pointmaze-umaze-v0; a D4RL name (e.g. hopper-medium-v2, antmaze-umaze-v0, "
    "kitchen-partial-v0, pen-human-v1; files in $D4RL_DATASET_DIR or ~/.d4rl/datasets); a dataset made "
    f"here, <robot>-<kind>-made (robots {sorted(made.ROBOTS)}, kinds {list(made.KINDS)}); "
    "minari:<dataset id>; an OGBench single-task name (e.g. cube-single-play-singletask-task2-v0; "
    "files in --data_dir, $OGBENCH_DATASET_DIR or ~/.ogbench/data); or, with --dataset_path=<file.hdf5>, "
    "also a gymnasium id or a DM Control "
    "domain-task for its environment"
)
# The reward preprocessing the paper's configs use per domain (configs/<domain>.py).
DOMAIN_REWARD_PREPROCESSING = {
    "locomotion": "locomotion",
    "antmaze": "antmaze",
    "kitchen": "none",
    "adroit": "none",
    "maze": "none",
    "ogbench": "none",  # OGBench's relabelled rewards (successes - subtasks) as FQL trains on them
}


@dataclasses.dataclass(frozen=True)
class Source:
    """What a dataset name resolves to.

    ``kind`` is embedded, d4rl, made, minari, ogbench or file; ``location`` the file (or Minari
    id) the data comes from; ``domain`` locomotion, antmaze, kitchen, adroit, maze, ogbench, or None
    where the name does not say; ``metric`` the score its evaluations report when it is not the
    normalized score or return ("success_rate" for OGBench).
    """

    name: str
    kind: str
    location: str
    references: Optional[Dict[str, float]]
    domain: Optional[str]
    loader: Callable[[], Dataset] = dataclasses.field(repr=False, compare=False)
    env_factory: Callable[[], gym.Env] = dataclasses.field(repr=False, compare=False)
    metric: Optional[str] = None

    def load(self) -> Dataset:
        """The dataset's transitions (rewards as stored; the loop applies the preprocessing)."""
        return self.loader()

    def make_env(self, seed: Optional[int] = None) -> gym.Env:
        """A new evaluation environment acting in [-1, 1] (``envs.unit_actions``, as online), reset
        with ``seed`` when one is given."""
        env = envs.unit_actions(self.env_factory(), self.name)
        if seed is not None:
            env.reset(seed=seed)
            env.action_space.seed(seed)
        return env

    def identity(self, dataset: Dataset) -> Dict:
        """What identifies the data a run trained on (saved in config.json and checked on resume):
        the name, where it was read, and a hash of its content (so moving the file is harmless)."""
        return {
            "dataset": self.name,
            "kind": self.kind,
            "location": self.location,
            "transitions": len(dataset),
            "fingerprint": fingerprint(dataset),
            "references": self.references,  # what the normalized score divides by
        }


def _hdf5_loader(path: str) -> Callable[[], Dataset]:
    return lambda: load_d4rl_hdf5(path)


def _embedded(name: str, data_dir: Optional[str], log) -> Source:
    path = pointmaze.ensure_dataset(name, data_dir=data_dir, log=log)
    return Source(
        name, "embedded", path, read_references(path), "maze", _hdf5_loader(path),
        lambda: pointmaze.make_env(name),
    )  # fmt: skip


def _d4rl(name: str, path: Optional[str] = None) -> Source:
    path = path or d4rl.locate(name)
    return Source(
        name, "d4rl", path, d4rl.references(name), d4rl.domain(name), _hdf5_loader(path),
        lambda: d4rl.make_env(name),
    )  # fmt: skip


def _made(name: str, data_dir: Optional[str], path: Optional[str] = None) -> Source:
    robot, _ = made.parse_name(name)
    references = None
    if path is None:
        path, references = made.locate(name, data_dir)
    return Source(
        name, "made", path, references, "locomotion", _hdf5_loader(path),
        lambda: envs.make_env(made.ROBOTS[robot]),
    )  # fmt: skip


def _ogbench(name: str, data_dir: Optional[str], path: Optional[str] = None) -> Source:
    path = ogbench_data.locate(name, data_dir, path)
    return Source(
        name, "ogbench", path, None, "ogbench", lambda: ogbench_data.load(name, path),
        lambda: ogbench_data.make_env(name), metric="success_rate",
    )  # fmt: skip


def _minari(name: str) -> Source:
    def load() -> Dataset:
        return minari_data.load_minari(name)[0]

    return Source(
        name, "minari", name, minari_data.references(name), None, load,
        lambda: minari_data.make_minari_env(name),
    )  # fmt: skip


def _explicit_file(name: str, path: str, data_dir: Optional[str]) -> Source:
    """A file given by path; the name chooses the environment (and references without a JSON file)."""
    if not os.path.isfile(path):
        raise DatasetError(
            f"dataset file not found: {path}. Pass the path of a D4RL-layout HDF5 file "
            "(keys observations, actions, rewards, terminals, timeouts)."
        )
    if minari_data.is_minari(name):
        base = _minari(name)
    elif name in pointmaze.EMBEDDED_MAZES:
        base = Source(name, "embedded", path, None, "maze", None, lambda: pointmaze.make_env(name))
    elif name in d4rl.D4RL_DATASETS:
        base = _d4rl(name, path)
    elif made.parse_name(name):
        base = _made(name, data_dir, path)
    else:
        envs.make_env(name).close()  # an unknown name fails here, with the accepted forms below
        base = Source(name, "file", path, None, None, None, lambda: envs.make_env(name))
    return dataclasses.replace(
        base,
        kind="file",
        location=path,
        references=read_references(path) or base.references,
        loader=_hdf5_loader(path),
    )


def resolve(
    name: str, dataset_path: Optional[str] = None, data_dir: Optional[str] = None, log=print
) -> Source:
    """The ``Source`` of a dataset name (and an explicit file, if given); errors name the fix.

    ``data_dir`` is where the embedded and made datasets live (default $XQL_DATA_DIR or
    ~/.cache/xql_jax/datasets), and OGBench's files (default $OGBENCH_DATASET_DIR or ~/.ogbench/data).
    The embedded dataset is generated here when it is not cached.
    """
    if ogbench_data.parse_name(name):
        return _ogbench(name, data_dir, dataset_path)
    if dataset_path:
        try:
            return _explicit_file(name, os.path.expanduser(dataset_path), data_dir)
        except ValueError as e:
            if isinstance(e, DatasetError):
                raise
            raise DatasetError(f"{e}. Accepted names: {ACCEPTED_NAMES}") from None
    if minari_data.is_minari(name):
        return _minari(name)
    if name in pointmaze.EMBEDDED_MAZES:
        return _embedded(name, data_dir, log)
    if name in d4rl.D4RL_DATASETS:
        return _d4rl(name)
    if made.parse_name(name):
        return _made(name, data_dir)
    raise DatasetError(f"unknown dataset name {name!r}. Accepted: {ACCEPTED_NAMES}")
