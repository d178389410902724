"""Orbax checkpoints of a run's whole state, so a run started again in the same workdir resumes.

A checkpoint holds the member-stacked learner states (parameters, optimizer states, target
networks, PRNG keys, step counters), the replay buffers of online runs, and a JSON record of the
loop (step, evaluations so far, diverged members). Saves are synchronous and orbax finalises a
step's directory only once it is complete, so a run killed mid-save resumes from the previous one.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple

import orbax.checkpoint as ocp


class Checkpointer:
    """Saves to and restores from ``<workdir>/<name>``, keeping the latest ``max_to_keep``."""

    def __init__(self, workdir: str, max_to_keep: int = 2, name: str = "checkpoints"):
        if max_to_keep < 1:
            raise ValueError(f"checkpoints to keep must be >= 1, got {max_to_keep}")
        self.directory = os.path.abspath(os.path.join(workdir, name))
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=max_to_keep, enable_async_checkpointing=False, create=True
            ),
        )

    def latest_step(self) -> Optional[int]:
        return self._manager.latest_step()

    def save(self, step: int, state: Any, record: Dict) -> None:
        self._manager.save(
            step,
            args=ocp.args.Composite(state=ocp.args.StandardSave(state), record=ocp.args.JsonSave(record)),
            force=True,
        )
        self._manager.wait_until_finished()

    def restore(self, step: int, template: Any) -> Tuple[Any, Dict]:
        """The state saved at ``step``, laid out (shapes, dtypes, shardings) like ``template``."""
        restored = self._manager.restore(
            step,
            args=ocp.args.Composite(state=ocp.args.StandardRestore(template), record=ocp.args.JsonRestore()),
        )
        return restored["state"], dict(restored["record"])

    def close(self) -> None:
        self._manager.close()
