"""Run outputs in a workdir: TensorBoard events plus append-only JSONL/CSV files flushed per write."""

from __future__ import annotations

import csv
import json
import os
from typing import Dict, Mapping, Optional

import numpy as np


def _plain(value):
    if isinstance(value, (np.generic, np.ndarray)):
        return value.item() if np.ndim(value) == 0 else np.asarray(value).tolist()
    return value


class RunLogger:
    """Writes ``metrics.jsonl`` (training), ``eval.jsonl`` and ``eval.csv`` (evaluations) and TB events."""

    def __init__(self, workdir: str, tensorboard: bool = True):
        os.makedirs(workdir, exist_ok=True)
        self.workdir = workdir
        self._writer = None
        if tensorboard:
            from tensorboardX import SummaryWriter

            self._writer = SummaryWriter(os.path.join(workdir, "tb"))
        self._csv_fields: Optional[list] = None

    def _append_jsonl(self, name: str, row: Mapping) -> None:
        with open(os.path.join(self.workdir, name), "a") as f:
            f.write(json.dumps({k: _plain(v) for k, v in row.items()}) + "\n")

    def _tensorboard(self, step: int, scalars: Mapping[str, float], prefix: str) -> None:
        if self._writer is None:
            return
        for name, value in scalars.items():
            if np.ndim(value) == 0 and value is not None:
                self._writer.add_scalar(f"{prefix}/{name}", float(value), step)
        self._writer.flush()

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

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
