"""Run outputs in a workdir: TensorBoard events plus append-only JSONL/CSV files flushed per write.

Every row is appended and flushed on its own, so a run killed at any moment leaves every file
valid up to its last complete row. A resumed run first cuts the files back to the step of its
checkpoint (``truncate_after``), dropping rows logged after it and any row cut off by the kill, so
its rows continue the files without duplicates.
"""

from __future__ import annotations

import csv
import json
import os
import time
from typing import Dict, Mapping, Optional

import numpy as np


def _plain(value):
    if isinstance(value, (np.generic, np.ndarray)):
        return value.item() if np.ndim(value) == 0 else np.asarray(value).tolist()
    return value


class RunLogger:
    """Writes ``metrics.jsonl`` (training), ``eval.jsonl`` and ``eval.csv`` (evaluations) and TB events."""

    def __init__(self, workdir: str, tensorboard: bool = True, resume_step: Optional[int] = None):
        os.makedirs(workdir, exist_ok=True)
        self.workdir = workdir
        self._writer = None
        if resume_step is not None:
            self.truncate_after(resume_step)
        if tensorboard:
            # A purge step makes TensorBoard drop the earlier run's events past the checkpoint.
            purge = None if resume_step is None else resume_step + 1
            self._writer = TensorBoardEvents(os.path.join(workdir, "tb"), purge_step=purge)
        self._csv_fields: Optional[list] = None

    def _append_jsonl(self, name: str, row: Mapping) -> None:
        with open(os.path.join(self.workdir, name), "a") as f:
            f.write(json.dumps({k: _plain(v) for k, v in row.items()}) + "\n")

    def _tensorboard(self, step: int, scalars: Mapping[str, float], prefix: str) -> None:
        if self._writer is None:
            return
        self._writer.write_scalars(
            step,
            {
                f"{prefix}/{name}": float(v)
                for name, v in scalars.items()
                if v is not None and np.ndim(v) == 0
            },
        )

    def log_train(self, step: int, metrics: Mapping[str, float]) -> None:
        self._append_jsonl("metrics.jsonl", {"step": step, **metrics})
        self._tensorboard(step, metrics, "train")

    def log_eval(self, step: int, results: Dict[str, float]) -> None:
        row = {"step": step, **results}
        self._append_jsonl("eval.jsonl", row)
        path = os.path.join(self.workdir, "eval.csv")
        write_header = not os.path.exists(path)
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if write_header:
                writer.writeheader()
            writer.writerow({k: _plain(v) for k, v in row.items()})
        self._tensorboard(step, {k: v for k, v in results.items() if v is not None}, "eval")

    def truncate_after(self, step: int) -> None:
        """Keep only complete rows with ``step`` <= the given step (rewritten, then renamed into place)."""
        for name in ("metrics.jsonl", "eval.jsonl"):
            path = os.path.join(self.workdir, name)
            if os.path.exists(path):
                _rewrite(
                    path,
                    [
                        line
                        for line in open(path)
                        if _jsonl_step(line) is not None and _jsonl_step(line) <= step
                    ],
                )
        path = os.path.join(self.workdir, "eval.csv")
        if os.path.exists(path):
            lines = open(path).readlines()
            kept = lines[:1] + [
                line for line in lines[1:] if _csv_step(line) is not None and _csv_step(line) <= step
            ]
            if len(kept) > 1:
                _rewrite(path, kept)
            else:  # no evaluation left: the next one writes the file again, header first
                os.remove(path)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


class TensorBoardEvents:
    """A TensorBoard event file written synchronously: each row is on disk when ``write_scalars``
    returns. tensorboardX's ``SummaryWriter`` queues events for a thread, and its ``flush`` does not
    drain that queue, so a run killed soon after a checkpoint lost rows the resume would not redo."""

    def __init__(self, logdir: str, purge_step: Optional[int] = None):
        from tensorboardX.event_file_writer import EventsWriter
        from tensorboardX.proto.event_pb2 import Event, SessionLog

        os.makedirs(logdir, exist_ok=True)
        # Files are named by the second they were opened in and read in name order; a restart within
        # the same second would reopen (and empty) the previous file, so each one carries its index.
        index = sum(".tfevents." in name for name in os.listdir(logdir))
        self._events = EventsWriter(os.path.join(logdir, "events"), filename_suffix=f".{index:04d}")
        if purge_step is not None:
            # TensorBoard hides the events of earlier files at or after a START at this step.
            self._events.write_event(
                Event(wall_time=time.time(), step=purge_step, session_log=SessionLog(status=SessionLog.START))
            )
        self._events.flush()

    def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
        from tensorboardX.proto.event_pb2 import Event
        from tensorboardX.summary import scalar

        now = time.time()
        for tag, value in scalars.items():
            self._events.write_event(Event(wall_time=now, step=int(step), summary=scalar(tag, value)))
        self._events.flush()

    def close(self) -> None:
        self._events.close()


def read_tensorboard_scalars(logdir: str) -> Dict[str, Dict[int, float]]:
    """{tag: {step: value}} of every event file in ``logdir`` (later files replace earlier steps, and
    a purge START hides earlier files' steps from there on, as TensorBoard shows them)."""
    import struct

    from tensorboardX.proto.event_pb2 import Event, SessionLog

    scalars: Dict[str, Dict[int, float]] = {}
    for name in sorted(f for f in os.listdir(logdir) if ".tfevents." in f):
        data = open(os.path.join(logdir, name), "rb").read()
        offset = 0
        while offset + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[offset : offset + 8])
            record = data[offset + 12 : offset + 12 + length]
            if len(record) < length:
                break  # a record cut off by a kill
            offset += 12 + length + 4
            event = Event.FromString(record)
            if event.HasField("session_log") and event.session_log.status == SessionLog.START:
                for steps in scalars.values():
                    for step in [s for s in steps if s >= event.step]:
                        del steps[step]
            for value in event.summary.value:
                scalars.setdefault(value.tag, {})[int(event.step)] = float(value.simple_value)
    return scalars


def _jsonl_step(line: str) -> Optional[int]:
    if not line.endswith("\n"):
        return None  # a row cut off by a kill
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None  # a row cut off by a kill


def _csv_step(line: str) -> Optional[int]:
    if not line.endswith("\n"):
        return None  # a row cut off by a kill
    try:
        return int(line.split(",", 1)[0])
    except ValueError:
        return None


def _rewrite(path: str, lines) -> None:
    with open(path + ".tmp", "w") as f:
        f.writelines(lines)
    os.replace(path + ".tmp", path)


def write_json(path: str, value) -> None:
    """Write JSON to ``path`` atomically: a kill leaves the old file or the new one, never half of one."""
    with open(path + ".tmp", "w") as f:
        json.dump(value, f, indent=2)
    os.replace(path + ".tmp", path)
