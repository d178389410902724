"""Offline transitions: the D4RL HDF5 layout (read and write), q-learning pairing, reference returns,
reward preprocessing."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import socket
from typing import Dict, List, Optional

import numpy as np

REQUIRED_KEYS = ("observations", "actions", "rewards", "terminals", "timeouts")
REFERENCE_KEYS = ("ref_min_score", "ref_max_score")


class DatasetError(ValueError):
    """A dataset that cannot be used as it is; the message names the problem and the fix."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Transitions as float32 numpy arrays, one row per transition.

    ``masks`` is 1 - terminal (0 where the episode really ended, so no bootstrap); ``dones`` marks
    the last transition of every episode, terminal or not, which is what splitting into episodes
    needs. ``next_actions`` is the dataset's action at the next state (used by the Q-only variant;
    meaningless where ``masks`` is 0).
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    masks: np.ndarray
    next_observations: np.ndarray
    dones: np.ndarray
    next_actions: np.ndarray

    def __len__(self) -> int:
        return len(self.rewards)

    @property
    def observation_dim(self) -> int:
        return self.observations.shape[-1]

    @property
    def action_dim(self) -> int:
        return self.actions.shape[-1]


def _check_raw(raw: Dict[str, np.ndarray], source: str) -> None:
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise DatasetError(
            f"{source}: missing key(s) {missing}; a D4RL-layout file needs {list(REQUIRED_KEYS)} "
            f"(found {sorted(raw)})"
        )
    n = len(raw["observations"])
    lengths = {k: len(v) for k, v in raw.items() if k in REQUIRED_KEYS or k == "next_observations"}
    if any(length != n for length in lengths.values()):
        raise DatasetError(
            f"{source}: arrays have different lengths {lengths}; every key needs one row per step"
        )
    if n < 2:
        raise DatasetError(f"{source}: needs at least 2 steps, has {n}")
    for key in ("observations", "actions"):
        if raw[key].ndim != 2:
            raise DatasetError(f"{source}: '{key}' must be 2-D [steps, dim], has shape {raw[key].shape}")
    if "next_observations" in raw and raw["next_observations"].shape != raw["observations"].shape:
        raise DatasetError(
            f"{source}: 'next_observations' has shape {raw['next_observations'].shape}, "
            f"'observations' has {raw['observations'].shape}; they must match"
        )
    for key in ("rewards", "terminals", "timeouts"):
        if raw[key].ndim != 1 and not (raw[key].ndim == 2 and raw[key].shape[1] == 1):
            raise DatasetError(f"{source}: '{key}' must be 1-D [steps], has shape {raw[key].shape}")
    for key, array in raw.items():
        if not np.issubdtype(array.dtype, np.number) and array.dtype != np.bool_:
            raise DatasetError(f"{source}: '{key}' has non-numeric dtype {array.dtype}")
        if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
            bad = int(np.sum(~np.isfinite(array)))
            raise DatasetError(f"{source}: '{key}' holds {bad} NaN/inf value(s); clean the file first")
    for key in ("terminals", "timeouts"):  # read as booleans: 0.5 would silently count as 1
        flags = np.asarray(raw[key])
        odd = ~np.isin(flags, (0, 1))
        if np.any(odd):
            raise DatasetError(
                f"{source}: '{key}' holds {int(odd.sum())} value(s) other than 0 and 1 (e.g. "
                f"{flags[odd].flat[0].item()!r}); each step's flag must be 0 or 1: round them in the file"
            )


def qlearning_transitions(raw: Dict[str, np.ndarray], source: str = "dataset") -> Dataset:
    """Pair step i with step i+1 as D4RL's ``qlearning_dataset`` does.

    Steps whose ``timeouts`` flag is set are dropped (the next row starts a new episode, so their
    next state is not in the file), as is the final row. Where the file has ``next_observations``,
    those are used as the next states.
    """
    _check_raw(raw, source)
    raw = {k: np.asarray(v) for k, v in raw.items()}
    rewards = raw["rewards"].reshape(-1).astype(np.float32)
    terminals = raw["terminals"].reshape(-1).astype(bool)
    timeouts = raw["timeouts"].reshape(-1).astype(bool)
    n = len(rewards)

    keep = np.flatnonzero(~timeouts[: n - 1])
    if len(keep) == 0:
        raise DatasetError(f"{source}: every step is a timeout; no transition can be formed")
    if "next_observations" in raw:
        next_observations = raw["next_observations"][keep]
    else:
        next_observations = raw["observations"][keep + 1]
    observations = raw["observations"][keep].astype(np.float32)
    next_observations = next_observations.astype(np.float32)

    # An episode ends at a terminal, or where the next kept row does not continue from this one.
    dones = terminals[keep].copy()
    continues = np.all(np.abs(observations[1:] - next_observations[:-1]) <= 1e-6, axis=-1)
    dones[:-1] |= ~continues
    dones[-1] = True
    return Dataset(
        observations=observations,
        actions=raw["actions"][keep].astype(np.float32),
        rewards=rewards[keep],
        masks=1.0 - terminals[keep].astype(np.float32),
        next_observations=next_observations,
        dones=dones.astype(np.float32),
        next_actions=raw["actions"][keep + 1].astype(np.float32),
    )


def load_d4rl_hdf5(path: str) -> Dataset:
    """Read a D4RL-layout HDF5 file (observations, actions, rewards, terminals, timeouts)."""
    import h5py

    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise DatasetError(
            f"dataset file not found: {path}. Pass the path of a D4RL-layout HDF5 file "
            "(keys observations, actions, rewards, terminals, timeouts)."
        )
    try:
        with h5py.File(path, "r") as f:
            raw = {
                key: f[key][()]
                for key in (*REQUIRED_KEYS, "next_observations")
                if key in f and isinstance(f[key], h5py.Dataset)
            }
            present = sorted(f.keys())
    except OSError as e:
        raise DatasetError(f"{path}: not a readable HDF5 file ({e})") from e
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise DatasetError(
            f"{path}: missing key(s) {missing}; a D4RL-layout file needs {list(REQUIRED_KEYS)} "
            f"(found {present})"
        )
    return qlearning_transitions(raw, source=path)


def returns_between(rewards: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Undiscounted return of every episode of consecutive ``rewards``; ``ends`` marks each
    episode's last step (the last step must be one)."""
    stops = np.flatnonzero(ends) + 1
    starts = np.concatenate([[0], stops[:-1]])
    cumulative = np.concatenate([[0.0], np.cumsum(rewards, dtype=np.float64)])
    return cumulative[stops] - cumulative[starts]


def episode_returns(dataset: Dataset) -> np.ndarray:
    """Undiscounted return of every episode, splitting at ``dones``."""
    return returns_between(dataset.rewards, dataset.dones)


def reward_transform(dataset: Dataset, mode: str):
    """(scale, shift) of the reward preprocessing of IQL / X-QL by domain: r -> scale * r + shift.

    - "locomotion": scale 1000 / (max episode return - min episode return)
    - "antmaze":    shift -1
    - "none":       unchanged

    Fine-tuning applies the same transform, fixed by the offline data, to the rewards it collects.
    """
    if mode == "none":
        return 1.0, 0.0
    if mode == "antmaze":
        return 1.0, -1.0
    if mode == "locomotion":
        returns = episode_returns(dataset)
        spread = float(returns.max() - returns.min())
        if spread <= 0:
            raise DatasetError(
                "locomotion reward scaling needs episodes with different returns; all "
                f"{len(returns)} episode(s) return {returns.max():.3f}. Use reward_preprocessing='none'."
            )
        return 1000.0 / spread, 0.0
    raise ValueError(f"unknown reward_preprocessing {mode!r}; use 'locomotion', 'antmaze' or 'none'")


def preprocess_rewards(dataset: Dataset, mode: str) -> Dataset:
    """The dataset with its rewards transformed by ``reward_transform(dataset, mode)``."""
    scale, shift = reward_transform(dataset, mode)
    if (scale, shift) == (1.0, 0.0):
        return dataset
    return dataclasses.replace(dataset, rewards=(dataset.rewards * scale + shift).astype(np.float32))


def fingerprint(dataset: Dataset) -> str:
    """A short content hash of the transitions: the same data gives the same string wherever its file lies."""
    digest = hashlib.blake2b(digest_size=8)
    for array in (dataset.observations, dataset.actions, dataset.rewards, dataset.masks, dataset.dones):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def default_data_dir(data_dir: Optional[str] = None) -> str:
    """Where datasets made by this project live: ``data_dir``, else $XQL_DATA_DIR, else
    ~/.cache/xql_jax/datasets (``~`` expanded in each); a file there is refused in one line."""
    folder = os.path.expanduser(data_dir or os.environ.get("XQL_DATA_DIR", "~/.cache/xql_jax/datasets"))
    if os.path.exists(folder) and not os.path.isdir(folder):
        given = (
            "--data_dir"
            if data_dir
            else ("$XQL_DATA_DIR" if os.environ.get("XQL_DATA_DIR") else "the data folder")
        )
        raise DatasetError(f"{given} {folder} is a file, not a folder: choose a folder for the datasets")
    return folder


def data_file(name: str, data_dir: Optional[str] = None) -> str:
    """The HDF5 file of a dataset made by this project (embedded or ``*-made``) in ``default_data_dir``."""
    return os.path.join(default_data_dir(data_dir), f"{name}.hdf5")


def references_path(hdf5_path: str) -> str:
    """The JSON file beside a dataset that holds its reference returns (and how it was made)."""
    return os.path.splitext(os.path.expanduser(hdf5_path))[0] + ".json"


def read_references(hdf5_path: str) -> Optional[Dict[str, float]]:
    """The reference returns stored beside a dataset file, or None when there is no JSON file.

    A JSON file without both numbers is an error here, before anything trains, not at the first
    evaluation.
    """
    path = references_path(hdf5_path)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            stored = json.load(f)
    except (OSError, ValueError) as e:
        raise DatasetError(f"{path}: not a readable JSON file of reference returns ({e})") from None
    if not isinstance(stored, dict) or not all(
        isinstance(stored.get(key), (int, float))
        and not isinstance(stored.get(key), bool)
        and math.isfinite(stored[key])  # json reads NaN and Infinity: every score would be nan or 0
        for key in REFERENCE_KEYS
    ):
        raise DatasetError(
            f"{path}: needs numbers under {list(REFERENCE_KEYS)}, finite ones (the random and expert "
            "returns of the normalized score); fix the file or remove it to report raw returns"
        )
    if stored["ref_max_score"] == stored["ref_min_score"]:
        raise DatasetError(f"{path}: ref_max_score equals ref_min_score; the normalized score is undefined")
    return {key: float(stored[key]) for key in REFERENCE_KEYS}


def _host() -> str:
    return socket.gethostname().replace(".", "_") or "host"


def partial_path(path: str) -> str:
    """Where ``path`` is written before it is renamed into place: named by host and process, so a
    later write can tell a killed writer's leftover from a write in progress."""
    return f"{path}.{_host()}.{os.getpid()}.partial"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_partials(path: str) -> List[str]:
    """Delete the temporaries of ``path`` (and of its JSON) left by writers on this host that died
    (a killed generation or make_dataset.py); those of live processes are left alone."""
    removed = []
    for target in (path, references_path(path)):
        prefix = f"{os.path.basename(target)}."
        folder = os.path.dirname(os.path.abspath(target))
        for name in os.listdir(folder) if os.path.isdir(folder) else ():
            if not (name.startswith(prefix) and name.endswith(".partial")):
                continue
            host, _, pid = name[len(prefix) : -len(".partial")].rpartition(".")
            if not pid.isdigit() or (host and host != _host()) or _pid_alive(int(pid)):
                continue  # not ours to judge, or its writer is still running
            try:
                os.remove(os.path.join(folder, name))
                removed.append(os.path.join(folder, name))
            except FileNotFoundError:  # another process cleaned it up first
                pass
    return removed


def write_d4rl_hdf5(path: str, raw: Dict[str, np.ndarray], references: Dict[str, float], metadata: Dict):
    """The D4RL layout (observations, actions, rewards, terminals, timeouts[, next_observations]), with
    the reference returns and ``metadata`` (JSON-serialisable) as attributes, and both also in the
    JSON file beside it (where the loader looks for them). Written under temporary names and
    renamed, so an interrupted write never leaves a file that looks finished."""
    import h5py

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    remove_stale_partials(path)
    partial = partial_path(path)
    json_partial = partial_path(references_path(path))
    # Made in memory and written as bytes: HDF5 writing straight to a disk that fills up printed ~100
    # lines of errors and then crashed the interpreter (a segfault) when it closed the file.
    image = io.BytesIO()
    with h5py.File(image, "w") as f:
        for key, value in raw.items():
            f.create_dataset(key, data=value, compression="gzip", compression_opts=4)
        for key, value in {**references, **metadata}.items():
            f.attrs[key] = value if isinstance(value, (int, float, str)) else json.dumps(value)
    try:
        with open(partial, "wb") as f:
            f.write(image.getbuffer())
        with open(json_partial, "w") as f:
            json.dump({**references, **metadata}, f, indent=2)
        os.replace(partial, path)
        # The JSON last: its presence (and the recipe it records) marks the file as complete.
        os.replace(json_partial, references_path(path))
    except OSError as e:
        raise DatasetError(
            f"cannot write {path} ({e.strerror}; {image.getbuffer().nbytes / 1e6:.1f} MB): free some space "
            "or choose another --data_dir, then run the same command again"
        ) from None
    finally:
        for leftover in (partial, json_partial):
            if os.path.exists(leftover):
                os.remove(leftover)
