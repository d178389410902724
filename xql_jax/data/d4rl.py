"""D4RL dataset names: where their files live, their reference scores, their domain and their
evaluation environments.

D4RL itself cannot be installed beside numpy 2 and current MuJoCo, so this holds what a run needs
from it: the file name each dataset downloads to (in ``$D4RL_DATASET_DIR`` or ``~/.d4rl/datasets``,
as D4RL stores them), the reference returns of D4RL's normalized score (d4rl/infos.py), and which
of ``xql_jax.d4rl_envs``' adapters reproduces the environment it is evaluated in.
"""

from __future__ import annotations

import os
from typing import Dict, Optional

from xql_jax.data.dataset import DatasetError

_BASE_URL = "http://rail.eecs.berkeley.edu/datasets/offline_rl"
# Replaces _BASE_URL in every download URL: a mirror with D4RL's folder layout, or a test's server.
BASE_URL_VARIABLE = "XQL_D4RL_BASE_URL"

# D4RL's reference returns (REF_MIN_SCORE, REF_MAX_SCORE): a random and an expert policy.
_LOCOMOTION_REFERENCES = {
    "halfcheetah": (-280.178953, 12135.0),
    "hopper": (-20.272305, 3234.3),
    "walker2d": (1.629008, 4592.3),
    "ant": (-325.6, 3879.7),
}
_ADROIT_REFERENCES = {
    "pen": (96.262799, 3076.8331017826877),
    "hammer": (-274.856578, 12794.134825156867),
    "relocate": (-6.425911, 4233.877797728884),
    "door": (-56.512833, 2880.5693087298737),
}
_ANTMAZE_FILES = {
    "umaze": "u-maze_noisy_multistart_False_multigoal_False",
    "umaze-diverse": "u-maze_noisy_multistart_True_multigoal_True",
    "medium-play": "big-maze_noisy_multistart_True_multigoal_False",
    "medium-diverse": "big-maze_noisy_multistart_True_multigoal_True",
    "large-play": "hardest-maze_noisy_multistart_True_multigoal_False",
    "large-diverse": "hardest-maze_noisy_multistart_True_multigoal_True",
}
_KITCHEN_FILES = {
    "complete": "mini_kitchen_microwave_kettle_light_slider-v0.hdf5",
    "partial": "kitchen_microwave_kettle_light_slider-v0.hdf5",
    "mixed": "kitchen_microwave_kettle_bottomburner_light-v0.hdf5",
}


def _catalogue() -> Dict[str, Dict]:
    """name -> {url, refs: (ref_min_score, ref_max_score), domain, env: the domain adapter's argument}."""
    entries = {}
    for robot, (low, high) in _LOCOMOTION_REFERENCES.items():
        for data in ("random", "medium", "expert", "medium-replay", "full-replay", "medium-expert"):
            stem = f"{robot}_{data.replace('-', '_')}-v2"
            entries[f"{robot}-{data}-v2"] = dict(
                url=f"{_BASE_URL}/gym_mujoco_v2/{stem}.hdf5",
                refs=(low, high),
                domain="locomotion",
                env=robot,
            )
    for maze, stem in _ANTMAZE_FILES.items():
        entries[f"antmaze-{maze}-v0"] = dict(
            url=f"{_BASE_URL}/ant_maze_new/Ant_maze_{stem}_sparse.hdf5",
            refs=(0.0, 1.0),
            domain="antmaze",
            env=(maze.split("-")[0], False),  # v0: one goal per environment
        )
        entries[f"antmaze-{maze}-v2"] = dict(
            url=f"{_BASE_URL}/ant_maze_v2/Ant_maze_{stem}_sparse_fixed.hdf5",
            refs=(0.0, 1.0),
            domain="antmaze",
            env=(maze.split("-")[0], True),  # v2: a new goal at every reset
        )
    for task, file_name in _KITCHEN_FILES.items():
        entries[f"kitchen-{task}-v0"] = dict(
            url=f"{_BASE_URL}/kitchen/{file_name}", refs=(0.0, 4.0), domain="kitchen", env=task
        )
    v0_files = {
        "human": "{}-v0_demos_clipped",
        "cloned": "{}-demos-v0-bc-combined",
        "expert": "{}-v0_expert_clipped",
    }
    for hand, (low, high) in _ADROIT_REFERENCES.items():
        for data, pattern in v0_files.items():
            entries[f"{hand}-{data}-v0"] = dict(
                url=f"{_BASE_URL}/hand_dapg/{pattern.format(hand)}.hdf5",
                refs=(low, high),
                domain="adroit",
                env=hand,
            )
            entries[f"{hand}-{data}-v1"] = dict(
                url=f"{_BASE_URL}/hand_dapg_v1/{hand}-{data}-v1.hdf5",
                refs=(low, high),
                domain="adroit",
                env=hand,
            )
    return entries


D4RL_DATASETS = _catalogue()


def dataset_dir() -> str:
    """Where D4RL keeps downloaded files: $D4RL_DATASET_DIR, else ~/.d4rl/datasets."""
    return os.path.expanduser(os.environ.get("D4RL_DATASET_DIR", "~/.d4rl/datasets"))


def references(name: str) -> Optional[Dict[str, float]]:
    """D4RL's reference returns for a dataset name, or None for names D4RL does not define."""
    entry = D4RL_DATASETS.get(name)
    if entry is None:
        return None
    return {"ref_min_score": entry["refs"][0], "ref_max_score": entry["refs"][1]}


def url(name: str) -> str:
    """Where a D4RL dataset is downloaded from: D4RL's URL (d4rl/infos.py), with its base replaced
    by ``$XQL_D4RL_BASE_URL`` when that is set."""
    official = D4RL_DATASETS[name]["url"]
    base = os.environ.get(BASE_URL_VARIABLE)
    return base.rstrip("/") + official[len(_BASE_URL) :] if base else official


def file_path(name: str) -> str:
    """Where a D4RL dataset's file lives: D4RL's own file name in ``dataset_dir()``."""
    return os.path.join(dataset_dir(), D4RL_DATASETS[name]["url"].rsplit("/", 1)[-1])


def locate(name: str) -> str:
    """The local file of a D4RL dataset; an error saying where it looked and how to get it."""
    path = file_path(name)
    if not os.path.isfile(path):
        raise DatasetError(
            f"D4RL dataset {name!r} not found: looked for {path} ($D4RL_DATASET_DIR, default "
            f"~/.d4rl/datasets). Fetch it with --download or `python -m xql_jax.data fetch {name}` "
            f"(from {url(name)}), or pass --dataset_path=/path/to/file.hdf5"
        )
    return path


def domain(name: str) -> str:
    """locomotion, antmaze, kitchen or adroit: what selects the paper's config and reward preprocessing."""
    return D4RL_DATASETS[name]["domain"]


def make_env(name: str):
    """The environment a D4RL dataset's policies are evaluated in, as D4RL defined it."""
    from xql_jax import d4rl_envs

    entry = D4RL_DATASETS[name]
    argument = entry["env"]
    if entry["domain"] == "locomotion":
        return d4rl_envs.locomotion(argument)
    if entry["domain"] == "antmaze":
        maze, v2_resets = argument
        return d4rl_envs.D4RLAntMaze(maze, v2_resets=v2_resets)
    if entry["domain"] == "kitchen":
        return d4rl_envs.D4RLKitchen(argument)
    return d4rl_envs.D4RLAdroit(argument)
