"""A run's workdir: its layout, its lock, its identity (config.json) and every file written in it.

This module is the one owner of the run's files. A run's workdir holds, per member (the workdir
itself for one member, ``workdir/<member name>/`` for several):

- ``config.json``: the config and, under "run", what identifies the run's data (checked on resume);
- ``metrics.jsonl`` (training rows), ``eval.jsonl`` and ``eval.csv`` (evaluations), ``tb/`` (events),
  all appended by ``xql_jax.outputs.RunLogger``; rows are read back here (``read_rows``) with one rule:
  a row without its newline, or one that does not parse, was cut off by a kill and is skipped;
- ``summary.json`` (the member's last and best score; with several members also the workdir's
  aggregate over seeds), written by ``write_summaries``;
- ``checkpoints/`` (``xql_jax.checkpoints``) and the workdir's ``.lock``.

Every file replaced in place is written whole and renamed (``atomic_write``), so a kill leaves the
old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np

CONFIG = "config.json"
SUMMARY = "summary.json"
METRICS = "metrics.jsonl"
EVAL_JSONL = "eval.jsonl"
EVAL_CSV = "eval.csv"
TENSORBOARD = "tb"
LOCK_NAME = ".lock"
CHECKPOINTS = "checkpoints"


def member_dirs(workdir: str, members: Sequence) -> List[str]:
    """Where each member writes: ``workdir`` itself for one member, else ``workdir/<member name>``."""
    if len(members) == 1:
        return [workdir]
    return [os.path.join(workdir, m.name) for m in members]


# -- the folder and its lock ---------------------------------------------------------------------
def prepare_workdir(workdir: str) -> str:
    """``workdir`` with ``~`` expanded, created and writable; one line naming the problem otherwise."""
    workdir = os.path.expanduser(workdir)
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise ValueError(f"--workdir {workdir} is a file, not a folder: choose another --workdir")
    try:
        os.makedirs(workdir, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"cannot create --workdir {workdir} ({error.strerror}): choose a folder you can write to"
        ) from None
    if not os.access(workdir, os.W_OK | os.X_OK):
        raise ValueError(f"--workdir {workdir} is not writable: choose a folder you can write to")
    return workdir


_held_locks: Dict[str, Tuple[Any, int]] = {}  # real path -> (open lock file, holders in this process)


def lock_workdir(workdir: str) -> str:
    """Hold ``workdir``'s lock (an flock, released by the system when the process dies) or refuse in
    one line naming its holder. Re-entrant within a process: fine-tuning's two phases share it."""
    key = os.path.realpath(workdir)
    if key in _held_locks:
        lock_file, holders = _held_locks[key]
        _held_locks[key] = (lock_file, holders + 1)
        return key
    lock_file = open(os.path.join(workdir, LOCK_NAME), "a+")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.seek(0)
        holder = lock_file.read().strip() or "another process"
        lock_file.close()
        raise ValueError(
            f"{workdir} is in use by another run ({holder}): wait for it to end, or use another --workdir"
        ) from None
    lock_file.seek(0)
    lock_file.truncate()
    lock_file.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
    lock_file.flush()
    # Nested workdirs share files (a run in W writes W/seed0, which may be another run's workdir):
    # each run takes its own lock first and then looks for a held one above or below it, so of two
    # runs started together at least one sees the other.
    nested = _nested_run_in_progress(key)
    if nested is not None:
        fcntl.flock(lock_file, fcntl.LOCK_UN)
        lock_file.close()
        where, holder = nested
        relation = "inside" if key.startswith(where + os.sep) else "around"
        raise ValueError(
            f"{workdir} is {relation} {where}, the workdir of a run in progress ({holder}), and the two "
            "would write the same member folders: wait for it to end, or use a workdir outside it"
        )
    _held_locks[key] = (lock_file, 1)
    return key


def _held_by_another(lock_path: str) -> Optional[str]:
    """The holder named in ``lock_path`` while another process holds it, else None."""
    try:
        probe = open(lock_path)
    except OSError:
        return None
    with probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return probe.read().strip() or "another process"
        fcntl.flock(probe, fcntl.LOCK_UN)
    return None


# Folders of a run that hold no nested run's workdir (checkpoints can hold thousands of files).
_NOT_WORKDIRS = (TENSORBOARD, "bellman_errors")


def _nested_run_in_progress(key: str) -> Optional[Tuple[str, str]]:
    """(workdir, holder) of another process's run whose workdir holds ``key`` or lies inside it."""
    parent = os.path.dirname(key)
    while parent and parent != os.path.dirname(parent):
        holder = None if parent in _held_locks else _held_by_another(os.path.join(parent, LOCK_NAME))
        if holder:
            return parent, holder
        parent = os.path.dirname(parent)
    for root, dirs, files in os.walk(key):
        dirs[:] = [d for d in dirs if d not in _NOT_WORKDIRS and not d.startswith(CHECKPOINTS)]
        if root != key and LOCK_NAME in files and root not in _held_locks:
            holder = _held_by_another(os.path.join(root, LOCK_NAME))
            if holder:
                return root, holder
    return None


def unlock_workdir(key: str) -> None:
    lock_file, holders = _held_locks[key]
    if holders > 1:
        _held_locks[key] = (lock_file, holders - 1)
        return
    del _held_locks[key]
    fcntl.flock(lock_file, fcntl.LOCK_UN)
    lock_file.close()


# -- the run's identity ----------------------------------------------------------------------------
RUN_IDENTITY = "run"  # config.json's section naming the data a run trained on


def config_with_identity(config, identity: Mapping) -> str:
    """config.json's text: the config's fields and, under "run", what identifies the run's data."""
    fields = json.loads(config.to_json_best_effort())
    return json.dumps({**fields, RUN_IDENTITY: dict(identity)}, indent=2)


def _describe(identity: Mapping) -> str:
    return f"{identity.get('dataset')} ({identity.get('location')}, content {identity.get('fingerprint')})"


# What may differ between two starts of one run: where the same data lies now.
_MOVABLE = ("location",)


def _flatten(tree: Mapping, prefix: str = "") -> Dict[str, object]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def config_differences(saved: Mapping, ours: Mapping, limit: int = 4) -> str:
    """'field: saved -> ours' for the first ``limit`` fields that differ (flattened names)."""
    saved_flat, our_flat = _flatten(saved), _flatten(ours)
    names = sorted(
        name
        for name in set(saved_flat) | set(our_flat)
        if saved_flat.get(name, "<absent>") != our_flat.get(name, "<absent>")
        and name.split(".")[-1] not in _MOVABLE
    )
    shown = [f"{n}: {saved_flat.get(n, '<absent>')} -> {our_flat.get(n, '<absent>')}" for n in names[:limit]]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return "; ".join(shown) + more


def check_same_config(directory: str, config_json: str) -> None:
    """Refuse to start in a directory whose config.json (config and run identity) differs from ours.

    Called on every start, whether or not a checkpoint exists: a restart before the first
    checkpoint must not append a second run's rows to the first one's files.
    """
    path = os.path.join(directory, CONFIG)
    if not os.path.exists(path):
        return
    try:
        saved = json.loads(open(path).read())
    except ValueError:
        raise ValueError(
            f"{path} is not valid JSON (a damaged workdir): move it away to start over, or use a "
            "new --workdir"
        ) from None
    ours = json.loads(config_json)
    saved_run, our_run = saved.get(RUN_IDENTITY), ours.get(RUN_IDENTITY)
    if our_run and not saved_run:
        raise ValueError(
            f"{directory} holds a run whose config.json does not record its data (made before runs "
            f"recorded it), so resuming it on {our_run.get('dataset') or our_run.get('env_name')} cannot "
            "be checked. Use a new --workdir."
        )
    if (
        our_run
        and "fingerprint" in our_run
        and any(saved_run.get(key) != our_run.get(key) for key in ("dataset", "fingerprint", "references"))
    ):
        raise ValueError(
            f"{directory} holds a run on {_describe(saved_run)} (references {saved_run.get('references')}), "
            f"this run is on {_describe(our_run)} (references {our_run.get('references')}): resuming "
            "would mix two datasets (or two score scales) in one run. Use a new --workdir."
        )
    differences = config_differences(saved, ours)
    if differences:
        raise ValueError(
            f"{directory} holds another run ({differences}): continuing it would mix two runs in one "
            "workdir. Use a new --workdir, or the same settings to resume."
        )


def check_same_run(workdir: str, members: Sequence, config_json: str) -> None:
    """``check_same_config`` for every member directory of a run about to resume in ``workdir``;
    the loops call it before restoring a checkpoint, so a mismatch never reaches Orbax."""
    for directory in dict.fromkeys([workdir, *member_dirs(workdir, members)]):
        check_same_config(directory, config_json)


# -- writing ---------------------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_write(path: str, mode: str = "w", **kwargs) -> Iterator[Any]:
    """Open ``path + ".tmp"`` for writing and rename it to ``path`` once written: a kill leaves the
    old file or the new one, never half of one."""
    with open(path + ".tmp", mode, **kwargs) as f:
        yield f
    os.replace(path + ".tmp", path)


def write_json(path: str, value) -> None:
    """Write JSON to ``path`` atomically."""
    with atomic_write(path) as f:
        json.dump(value, f, indent=2)


def save_array(path: str, values: np.ndarray) -> None:
    """Save ``values`` as ``path`` (.npy) atomically, creating its folder."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_write(path, "wb") as f:
        np.save(f, np.asarray(values))


def write_configs(workdir: str, members: Sequence, config_json: str) -> None:
    """config.json in ``workdir`` and in every member's directory. The workdir's own too (a
    multi-member run's), so a start with other members is compared with it."""
    for directory in dict.fromkeys([workdir, *member_dirs(workdir, members)]):
        os.makedirs(directory, exist_ok=True)
        with atomic_write(os.path.join(directory, CONFIG)) as f:
            f.write(config_json)


# -- reading ---------------------------------------------------------------------------------------
def complete_lines(path: str) -> List[str]:
    """The lines of ``path`` that end with a newline: every writer here ends its rows with one, so a
    line without one was cut off by a kill."""
    with open(path) as f:
        return [line for line in f if line.endswith("\n")]


def _parse_row(line: str) -> Optional[Dict]:
    try:
        row = json.loads(line)
    except ValueError:
        return None
    return row if isinstance(row, dict) else None


def read_lines_and_rows(path: str) -> List[Tuple[str, Dict]]:
    """(line, row) of every complete row of a JSONL file; a row cut off by a kill (no newline, or not
    parsable as a JSON object) is skipped. [] without the file."""
    if not os.path.isfile(path):
        return []
    pairs = [(line, _parse_row(line)) for line in complete_lines(path)]
    return [(line, row) for line, row in pairs if row is not None]


def read_rows(path: str) -> List[Dict]:
    """The complete rows of a JSONL file (``read_lines_and_rows``' rule); [] without the file."""
    return [row for _, row in read_lines_and_rows(path)]


def row_step(row: Mapping) -> Optional[int]:
    """A row's step, or None when it has none that reads as an integer."""
    try:
        return int(row["step"])
    except (ValueError, KeyError, TypeError):
        return None


def _summarise(values: List[float]) -> Dict[str, Optional[float]]:
    if not values:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "n": len(values)}


# -- summaries -------------------------------------------------------------------------------------
def write_summaries(
    records, steps: int, metric: str, info: Mapping, hyperparams: Mapping[str, float]
) -> Dict:
    """summary.json per member of ``records`` (``xql_jax.runs.MemberRecords``), and the aggregate
    with several; returns the run's summary.

    ``info`` is copied into every summary (env name, algorithm, references); ``hyperparams``
    holds the config's values of the sweepable hyperparameters, which members may override.
    """
    member_summaries = []
    for i, (member, member_dir) in enumerate(zip(records.members, records.dirs, strict=True)):
        evaluations = records.evaluations[i]
        # A diverged member keeps its best score from before it diverged but has no last score.
        best = max(evaluations, key=lambda e: e[metric]) if evaluations else None
        summary = {
            **info,
            "member": member.name,
            "seed": member.seed,
            "hyperparams": dict(hyperparams) | member.hyperparams,
            "steps": steps,
            "wall_time": time.time() - records.start,
            "metric": metric,
            "diverged": records.diverged.get(i),
            "last": None if i in records.diverged or not evaluations else evaluations[-1][metric],
            "best": None if best is None else best[metric],
            "best_step": None if best is None else best["step"],
            "evaluations": len(evaluations),  # how many evaluations "best" is the maximum of
        }
        member_summaries.append(summary)
        write_json(os.path.join(member_dir, SUMMARY), summary)
    if len(records.members) == 1:
        return member_summaries[0]
    aggregate = _aggregate(records, member_summaries, steps, metric, info)
    write_json(os.path.join(records.workdir, SUMMARY), aggregate)
    return aggregate


def _aggregate(records, member_summaries: List[Dict], steps: int, metric: str, info: Mapping) -> Dict:
    """The workdir's summary of several members: mean/std of last and best per sweep setting."""
    groups: Dict[str, List[Dict]] = {}
    for member, summary in zip(records.members, member_summaries, strict=True):
        label = "".join(f"{k}={v:g} " for k, v in sorted(member.hyperparams.items())).strip() or "all"
        groups.setdefault(label, []).append(summary)
    return {
        **info,
        "metric": metric,
        "steps": steps,
        "wall_time": time.time() - records.start,
        "members": [s["member"] for s in member_summaries],
        "evaluations": max((s["evaluations"] for s in member_summaries), default=0),
        "diverged": {s["member"]: s["diverged"] for s in member_summaries if s["diverged"]},
        "groups": {
            label: {
                "last": _summarise([s["last"] for s in group if s["last"] is not None]),
                "best": _summarise([s["best"] for s in group if s["best"] is not None]),
                "members": [s["member"] for s in group],
            }
            for label, group in groups.items()
        },
    }
