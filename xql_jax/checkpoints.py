"""Orbax checkpoints of a run's whole state, so a run started again in the same workdir resumes.

A checkpoint holds the member-stacked learner states (parameters, optimizer states, target
networks, PRNG keys, step counters), the replay buffers of online runs, and a JSON record of the
loop (step, evaluations so far, diverged members). Saves are synchronous and orbax finalises a
step's directory only once it is complete, so a run killed mid-save resumes from the previous one.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import os
import re
import sys
import time
import warnings
from typing import Any, Callable, Dict, Optional, Tuple

import jax
import numpy as np
import orbax.checkpoint as ocp
from absl import logging as absl_logging
from jax.experimental import multihost_utils

from xql_jax.workdir import CHECKPOINTS


def _everywhere(ok: bool) -> bool:
    """True when ``ok`` holds on every process (a collective with several processes)."""
    if jax.process_count() == 1:
        return ok
    flags = multihost_utils.process_allgather(np.asarray([ok], np.int32))
    return bool(np.min(flags))


_CLOSED_LOOP = ("RuntimeError: Event loop is closed", "in call_soon_threadsafe", "in _check_closed")


class _StrayReadFailures(logging.Filter):
    """Drops asyncio's "... exception was never retrieved" reports of Orbax's abandoned reads."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("exception was never retrieved" in message and any(m in message for m in _READ_MARKS))


_READ_MARKS = ("async_deserialize", "OCDBT", "tensorstore")
_STRAY_READ_FAILURES = _StrayReadFailures()


def _hide_stray_read_failures() -> None:
    """After a failed restore, keep its abandoned reads quiet for the rest of the process.

    The reads Orbax started for the checkpoint's other arrays fail too, but nobody awaits them:
    asyncio logs each task or future when it is garbage-collected, and Python warns of coroutines
    never awaited, possibly long after the restore (at the next collection, or at exit), outside any
    capture and after the one line that reports the checkpoint. Only those reports are dropped."""
    logging.getLogger("asyncio").addFilter(_STRAY_READ_FAILURES)  # added once however often called
    warnings.filterwarnings(
        "ignore", r"coroutine '\w+\._get_array_metadatas' was never awaited", RuntimeWarning
    )


@contextlib.contextmanager
def _orbax_failure_noise_held_back(drop_all_on_failure: bool = False):
    """What Orbax prints to stderr while it works, passed through except the noise of a failure.

    When one file of a damaged checkpoint is missing, Orbax gives up and closes its event loop while
    TensorStore's other reads are in flight; each of them then prints "RuntimeError: Event loop is
    closed" (122 tracebacks for a tiny run's two checkpoints), burying the one line that matters. A
    failed save (a full disk) adds its own logged tracebacks: with ``drop_all_on_failure`` everything
    it printed is dropped, as the caller reports the failure in one line."""
    captured = io.StringIO()
    held_records: list = []
    handler = absl_logging.get_absl_handler()  # Orbax logs its failures through absl, to stderr

    def hold(record) -> bool:
        held_records.append(record)
        return False

    failed = False
    handler.addFilter(hold)
    try:
        with contextlib.redirect_stderr(captured):
            try:
                yield
            except BaseException:
                failed = True
                # The stray reads report within moments of the failure: wait (at most ~5 s) until
                # stderr has been quiet for half a second, so none of them lands after the message.
                quiet, size = 0, -1
                for _ in range(20):
                    quiet = quiet + 1 if len(captured.getvalue()) == size else 0
                    if quiet == 2:
                        break
                    size = len(captured.getvalue())
                    time.sleep(0.25)
                raise
    finally:
        handler.removeFilter(hold)
        if not (failed and drop_all_on_failure):
            for record in held_records:
                if _STRAY_READ_FAILURES.filter(record):  # replayed past the loggers' own filters
                    handler.handle(record)
            blocks = re.split(r"(?m)^(?=Traceback \(most recent call last\):$)", captured.getvalue())
            # Threads print at once: a block can hold the start of one traceback and the end of another.
            sys.stderr.write("".join(b for b in blocks if not any(mark in b for mark in _CLOSED_LOOP)))


class Checkpointer:
    """Saves to and restores from ``<workdir>/<name>``, keeping the latest ``max_to_keep``."""

    def __init__(self, workdir: str, max_to_keep: int = 2, name: str = CHECKPOINTS):
        if max_to_keep < 1:
            raise ValueError(f"checkpoints to keep must be >= 1, got {max_to_keep}")
        self.directory = os.path.abspath(os.path.join(workdir, name))
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep, enable_async_checkpointing=False, create=True
            ),
        )

    def save(self, step: int, state: Any, record: Dict) -> None:
        try:
            with _orbax_failure_noise_held_back(drop_all_on_failure=True):
                self._manager.save(
                    step,
                    args=ocp.args.Composite(
                        state=ocp.args.StandardSave(state), record=ocp.args.JsonSave(record)
                    ),
                    force=True,
                )
                self._manager.wait_until_finished()
        except Exception as e:  # noqa: BLE001 (Orbax raises ValueError, OSError, ... for a full disk)
            if "No space left" not in str(e) and getattr(e, "errno", None) != errno.ENOSPC:
                raise
            raise ValueError(
                f"cannot save the checkpoint at step {step} in {self.directory}: no space left on the "
                "device; free some, then start the same command again (it resumes from the last checkpoint)"
            ) from None

    def restore(self, step: int, template: Any) -> Tuple[Any, Dict]:
        """The state saved at ``step``, laid out (shapes, dtypes, shardings) like ``template``."""
        restored = self._manager.restore(
            step,
            args=ocp.args.Composite(state=ocp.args.StandardRestore(template), record=ocp.args.JsonRestore()),
        )
        return restored["state"], dict(restored["record"])

    def restore_latest(self, template: Any, log: Callable[[str], None] = print) -> Tuple[Any, Optional[Dict]]:
        """The newest checkpoint that can be read, falling back to older kept ones; ``(template, None)``
        when there is none. A damaged newest one (a disk error, a partly deleted folder) costs the steps
        since the one before it, not the run."""
        steps = sorted(self._manager.all_steps(), reverse=True)
        for step in steps:
            restored, error = None, None
            try:
                with _orbax_failure_noise_held_back():
                    restored = self.restore(step, template)
            except Exception as e:  # noqa: BLE001 (any unreadable checkpoint: try the older one)
                error = e
                _hide_stray_read_failures()
            # Each process reads its own shards: every one must have read the step, or all move on.
            if _everywhere(error is None):
                self._set_aside([s for s in steps if s > step])
                return restored
            if error is None:
                reason = "another process could not read its part"
            else:
                reason = f"{type(error).__name__}: {' '.join(str(error).split())[:160]}"
            log(
                f"warning: the checkpoint at step {step} in {self.directory} cannot be read ({reason}); "
                "trying an older one"
            )
        if steps:
            raise ValueError(
                f"no checkpoint in {self.directory} can be read (steps {steps}): move that folder away to "
                "start the run over, or use a new --workdir"
            )
        return template, None

    def _set_aside(self, damaged) -> None:
        """Rename unreadable checkpoints to ``<step>.damaged`` (kept for a look, ignored from now on),
        so the resumed run can save those steps again."""
        if not damaged:
            return  # every process agreed on the step, so every one returns here alike
        if jax.process_index() == 0:
            for step in damaged:
                target = os.path.join(self.directory, f"{step}.damaged")
                suffix = 1
                while os.path.exists(target):  # the same step damaged before
                    target = os.path.join(self.directory, f"{step}.damaged{suffix}")
                    suffix += 1
                os.replace(os.path.join(self.directory, str(step)), target)
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices("checkpoints set aside")
        self._manager.reload()

    def close(self) -> None:
        self._manager.close()
