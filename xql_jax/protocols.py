"""Evaluation protocols: the official offline launcher's cadence and this project's, named and recorded.

A "best" score is the maximum over a run's evaluations, so it grows with their number: the official
launcher (github Div99/XQL ``offline/train_offline.py``) evaluated every 5k steps over 10 episodes
(its flag defaults) and its AntMaze scripts every 30k over 100 (``offline/reproduce/antmaze/*.sh``),
keeping ``best_returns`` over those 200 (33) evaluations; this project's domain configs evaluate
every 50k (AntMaze 100k) and report the last score first. Which one a run used is recorded in its
summary.json (``evaluation``) and printed by the report beside every row.
"""

from __future__ import annotations

from typing import Dict, Optional

# domain -> (eval_interval, eval_episodes)
OFFICIAL = {"antmaze": (30_000, 100)}  # ant_*.sh: --eval_episodes=100 --eval_interval=30000
OFFICIAL_DEFAULT = (5_000, 10)  # train_offline.py: eval_interval 5000, eval_episodes 10
PROJECT = {"antmaze": (100_000, 100)}  # configs/antmaze.py
PROJECT_DEFAULT = (50_000, 10)  # configs/base.py
PROTOCOLS = ("official", "project")


def cadence(protocol: str, domain: Optional[str]) -> tuple:
    """(eval_interval, eval_episodes) of ``protocol`` ("official" or "project") for a domain."""
    if protocol == "official":
        return OFFICIAL.get(domain, OFFICIAL_DEFAULT)
    if protocol == "project":
        return PROJECT.get(domain, PROJECT_DEFAULT)
    raise ValueError(f"unknown evaluation protocol {protocol!r}; use one of {PROTOCOLS}")


def use(config, protocol: str, domain: Optional[str]):
    """``config`` with the evaluation cadence of ``protocol``; returns it."""
    config.eval_interval, config.eval_episodes = cadence(protocol, domain)
    return config


def domain_of(env_name: str) -> Optional[str]:
    """The D4RL domain a dataset name belongs to (for the official AntMaze cadence), else None."""
    first = env_name.split("-")[0]
    if first == "antmaze":
        return "antmaze"
    if first in ("halfcheetah", "hopper", "walker2d", "ant"):
        return "locomotion"
    if first == "kitchen":
        return "kitchen"
    if first in ("pen", "hammer", "door", "relocate"):
        return "adroit"
    return None


def name(interval: int, episodes: int, domain: Optional[str]) -> str:
    """ "official", "project", or "custom": which protocol an (interval, episodes) pair is."""
    for protocol in PROTOCOLS:
        if (interval, episodes) == cadence(protocol, domain):
            return protocol
    return "custom"


def record(interval: int, episodes: int, env_name: str) -> Dict:
    """summary.json's ``evaluation`` entry without the count (added when the run ends)."""
    return {
        "protocol": name(interval, episodes, domain_of(env_name)),
        "interval": int(interval),
        "episodes": int(episodes),
    }
