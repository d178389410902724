"""Optional Weights & Biases logging: one wandb run per member, with ``RunLogger``'s methods.

wandb is imported only when a ``WandbLogger`` is constructed, so importing this module (or running
without wandb installed) never imports it. A loop that logs a member's rows to its ``RunLogger``
logs them here too (``xql_jax.outputs.wandb_outputs`` gives a member both).

The run id is kept in the member directory (``wandb_run_id``): a run resumed from its checkpoint
(``resume=True``) finds it there and continues the same wandb run (``resume="allow"``), wherever the
workdir was moved; a fresh run in the directory gets a new id. Rows carry the learner ``step`` as
their x-axis (``define_metric``), so rows logged again after a resume, from the checkpoint's step
on, stay ordered by step. ``WANDB_MODE=offline`` works without a network; ``wandb sync`` uploads.
"""

from __future__ import annotations

import os
import uuid
from typing import Any, Mapping, Optional

import numpy as np

from xql_jax.workdir import atomic_write

RUN_ID_FILE = "wandb_run_id"


def _scalars(prefix: str, values: Mapping[str, Any]) -> dict:
    # RunLogger's TensorBoard rule: scalars only; None (no normalized score without references) skipped.
    return {
        f"{prefix}/{name}": float(value)
        for name, value in values.items()
        if value is not None and np.ndim(value) == 0 and not isinstance(value, str)
    }


def run_id_for(directory: str, resume: bool) -> str:
    """The wandb run id of the member in ``directory``: the stored one when resuming, else a new one
    (written to ``directory/wandb_run_id``)."""
    path = os.path.join(directory, RUN_ID_FILE)
    if resume and os.path.isfile(path):
        with open(path) as f:
            stored = f.read().strip()
        if stored:
            return stored
    run_id = uuid.uuid4().hex[:16]
    os.makedirs(directory, exist_ok=True)
    with atomic_write(path) as f:
        f.write(run_id + "\n")
    return run_id


class WandbLogger:
    """One member's wandb run; ``log_train`` / ``log_eval`` / ``close`` as ``xql_jax.outputs.RunLogger``.

    ``directory`` is the member directory (wandb writes under ``directory/wandb``); ``group`` ties
    the members of one workdir or sweep together; ``config`` (a plain dict, e.g. the run's
    config.json) is logged as the run's config; ``resume`` continues the member's earlier wandb run.
    ``mode`` is wandb's ("online", "offline", "disabled"); None leaves it to ``WANDB_MODE``. Build
    one per member in the writing process only (process 0 of a multi-host run), as its RunLogger.
    """

    def __init__(
        self,
        project: str,
        entity: Optional[str] = None,
        group: Optional[str] = None,
        name: Optional[str] = None,
        config: Optional[Mapping[str, Any]] = None,
        directory: str = ".",
        resume: bool = False,
        mode: Optional[str] = None,
    ):
        try:
            import wandb
        except ImportError as e:
            raise ImportError("wandb logging needs wandb: pip install -e '.[wandb]'") from e

        self.run_id = run_id_for(directory, resume)
        self._run = wandb.init(
            project=project,
            entity=entity,
            group=group,
            name=name,
            config=dict(config or {}),
            dir=directory,
            id=self.run_id,
            resume="allow",
            mode=mode,
            reinit="create_new",  # the members of one program are runs side by side in one process
            allow_val_change=True,
            settings=wandb.Settings(console="off"),  # the launcher's output is the same for every member
        )
        self._run.define_metric("step")
        self._run.define_metric("train/*", step_metric="step")
        self._run.define_metric("eval/*", step_metric="step")
        self._closed = False

    @property
    def run(self):
        """The wandb Run (its ``dir``, ``id``, ``resumed``)."""
        return self._run

    def log_train(self, step: int, metrics: Mapping[str, float]) -> None:
        self._run.log({"step": int(step), **_scalars("train", metrics)})

    def log_eval(self, step: int, results: Mapping[str, float]) -> None:
        self._run.log({"step": int(step), **_scalars("eval", results)})

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._run.finish()


def from_config(
    settings: Optional[Mapping[str, Any]],
    workdir: str,
    member_dir: str,
    member: str,
    config: Optional[Mapping[str, Any]] = None,
    resume: bool = False,
) -> Optional[WandbLogger]:
    """A member's ``WandbLogger`` from a run's wandb settings, or None when they turn it off.

    ``settings`` holds ``project`` (None or "" turns wandb off), and optionally ``entity``,
    ``group`` (default: the workdir as given, so a run's members, or a sweep's runs given the sweep
    root, share one group) and ``mode``. The run is named ``<workdir name>/<member>``.
    """
    if not settings or not settings.get("project"):
        return None
    return WandbLogger(
        project=settings["project"],
        entity=settings.get("entity"),
        group=settings.get("group") or os.path.normpath(workdir),
        name=f"{os.path.basename(os.path.normpath(workdir))}/{member}",
        config=config,
        directory=member_dir,
        resume=resume,
        mode=settings.get("mode"),
    )
