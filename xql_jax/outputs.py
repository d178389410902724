"""A run's outputs: TensorBoard events plus append-only JSONL/CSV files flushed per write, and the
factory that gives each member its outputs (files, optionally Weights & Biases).

Every row is appended and flushed on its own, so a run killed at any moment leaves every file
valid up to its last complete row. A resumed run first cuts the files back to the step of its
checkpoint (``truncate_after``), dropping rows logged after it and any row cut off by the kill, so
its rows continue the files without duplicates. The file names and the rule for reading rows back
belong to ``xql_jax.workdir``.
"""

from __future__ import annotations

import csv
import json
import os
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np

from xql_jax import workdir as files
from xql_jax.runs import Member


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
            self._writer = TensorBoardEvents(os.path.join(workdir, files.TENSORBOARD), purge_step=purge)
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
        self._append_jsonl(files.METRICS, {"step": step, **metrics})
        self._tensorboard(step, metrics, "train")

    def log_eval(self, step: int, results: Dict[str, float]) -> None:
        row = {"step": step, **results}
        self._append_jsonl(files.EVAL_JSONL, row)
        path = os.path.join(self.workdir, files.EVAL_CSV)
        write_header = not os.path.exists(path)
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if write_header:
                writer.writeheader()
            writer.writerow({k: _plain(v) for k, v in row.items()})
        self._tensorboard(step, {k: v for k, v in results.items() if v is not None}, "eval")

    def truncate_after(self, step: int) -> None:
        """Keep only complete rows with ``step`` <= the given step (rewritten, then renamed into place)."""
        for name in (files.METRICS, files.EVAL_JSONL):
            path = os.path.join(self.workdir, name)
            if os.path.exists(path):
                kept = [
                    line
                    for line, row in files.read_lines_and_rows(path)
                    if files.row_step(row) is not None and files.row_step(row) <= step
                ]
                with files.atomic_write(path) as f:
                    f.writelines(kept)
        path = os.path.join(self.workdir, files.EVAL_CSV)
        if os.path.exists(path):
            lines = files.complete_lines(path)
            kept = lines[:1] + [
                line for line in lines[1:] if _csv_step(line) is not None and _csv_step(line) <= step
            ]
            if len(kept) > 1:
                with files.atomic_write(path) as f:
                    f.writelines(kept)
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


def _csv_step(line: str) -> Optional[int]:
    try:
        return int(line.split(",", 1)[0])
    except ValueError:
        return None


# Output factory: (member directory, step its files are cut back to (None: keep them), member,
# the run's config.json as a dict) -> that member's outputs, each with log_train / log_eval / close.
OutputFactory = Callable[[str, Optional[int], Member, Mapping], Sequence[Any]]


def default_outputs(directory: str, cut_to: Optional[int], member: Member, config: Mapping) -> List[Any]:
    """JSONL/CSV files and TensorBoard events in the member's directory."""
    return [RunLogger(directory, resume_step=cut_to)]


def wandb_outputs(settings: Mapping, workdir: str) -> OutputFactory:
    """``default_outputs`` plus one Weights & Biases run per member (``xql_jax.tracking``), grouped
    by ``workdir``, with the run's config.json as its config. A run started again in the workdir
    continues the member's wandb run. ``settings``: project, and optionally entity, group, mode."""

    def outputs(directory: str, cut_to: Optional[int], member: Member, config: Mapping) -> List[Any]:
        from xql_jax import tracking  # wandb is optional: imported only when asked for

        # A start without a checkpoint begins its files afresh (cut_to 0), and so a new wandb run;
        # otherwise the member's wandb run goes on (its rows after cut_to appear twice there).
        wandb_run = tracking.from_config(
            settings, workdir, directory, member.name, config, resume=cut_to is None or cut_to > 0
        )
        return default_outputs(directory, cut_to, member, config) + [wandb_run]

    return outputs


def close_all(outputs: Sequence[Any]) -> None:
    """Close every output even if one fails (the first failure is raised after the others closed)."""
    error = None
    for output in outputs:
        try:
            output.close()
        except Exception as e:  # noqa: BLE001
            error = error or e
    if error is not None:
        raise error
