"""Evaluation protocols: the official offline launcher's cadence and this project's, named and recorded.

A "best" score is the maximum over a run's evaluations, so it grows with their number: the official
launcher (github Div99/XQL ``offline/train_offline.py``) evaluated every 5k steps over 10 episodes
(its flag defaults) and its AntMaze scripts every 30k over 100 (``offline/reproduce/antmaze/*.sh``),
keeping ``best_returns`` over those 200 (33) evaluations; this project's domain configs evaluate
every 50k (AntMaze 100k) and report the last score first. Which one a run used is recorded in its
summary.json (``evaluation``) and printed by the report beside every row of its score table (the
OGBench success-rate table, whose published numbers all come from one protocol, leaves it out).
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

# kind -> domain -> (eval_interval, eval_episodes); None holds every other domain.
OFFICIAL = {
    # train_offline.py: --eval_interval 5000, --eval_episodes 10; ant_*.sh: 30000 and 100.
    "offline": {None: (5_000, 10), "antmaze": (30_000, 100)},
    # online/configs/xsac.yaml and xtd3.yaml: eval_freq 10000, eval_ep 10.
    "online": {None: (10_000, 10)},
    # train_finetune.py: --eval_interval 100000, --eval_episodes 100 (every domain).
    "finetune": {None: (100_000, 100)},
}
PROJECT = {
    "offline": {None: (50_000, 10), "antmaze": (100_000, 100)},  # configs/base.py, antmaze.py
    "online": {None: (10_000, 10)},  # configs/online.py
    "finetune": {None: (100_000, 10), "antmaze": (100_000, 100)},  # configs/finetune.py
}
PROTOCOLS = {"official": OFFICIAL, "project": PROJECT}
KINDS = ("offline", "online", "finetune")


def cadence(protocol: str, domain: Optional[str], kind: str = "offline") -> Tuple[int, int]:
    """(eval_interval, eval_episodes) of ``protocol`` ("official" or "project") for a domain."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown evaluation protocol {protocol!r}; use one of {sorted(PROTOCOLS)}")
    table = PROTOCOLS[protocol][kind]
    return table.get(domain, table[None])


def use(config, protocol: str, domain: Optional[str], kind: str = "offline"):
    """``config`` with the evaluation cadence of ``protocol``; returns it."""
    config.eval_interval, config.eval_episodes = cadence(protocol, domain, kind)
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


def name(interval: int, episodes: int, domain: Optional[str], kind: str = "offline") -> str:
    """Which protocol an (interval, episodes) pair is: "official", "project" (this project's
    configs), "official = project" where the two agree, or "custom"."""
    matches = [p for p in ("official", "project") if (interval, episodes) == cadence(p, domain, kind)]
    return " = ".join(matches) if matches else "custom"


def record(interval: int, episodes: int, env_name: str, kind: str = "offline") -> Dict:
    """summary.json's ``evaluation`` entry (its ``evaluations`` field counts them when the run ends)."""
    return {
        "protocol": name(interval, episodes, domain_of(env_name), kind),
        "kind": kind,
        "interval": int(interval),
        "episodes": int(episodes),
    }
