"""Results tables and learning curves from run workdirs (read-only; no training code involved).

A *method* is a label given to one or more workdirs: a single-seed run, several single-seed runs,
or a multi-member run (its members; a sweep's settings become separate methods). Every member
contributes its summary.json (last and best score) and eval.jsonl (the curve).
"""

from __future__ import annotations

import json
import os
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np


class MemberResult(NamedTuple):
    method: str
    env_name: str
    metric: str
    last: Optional[float]  # None when the member diverged
    best: Optional[float]
    curve: Tuple[np.ndarray, np.ndarray]  # (steps, metric values)
    workdir: str


def _read_json(path: str) -> Dict:
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"no {os.path.basename(path)} in {os.path.dirname(path)}: is it a finished run?"
        )
    with open(path) as f:
        return json.load(f)


def _curve(workdir: str, metric: str) -> Tuple[np.ndarray, np.ndarray]:
    steps, values = [], []
    path = os.path.join(workdir, "eval.jsonl")
    if os.path.isfile(path):
        for line in open(path):
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a row cut off by a kill
            if row.get(metric) is not None:
                steps.append(row["step"])
                values.append(row[metric])
    return np.asarray(steps), np.asarray(values, float)


def _member(method: str, workdir: str, summary: Dict) -> MemberResult:
    metric = summary["metric"]
    return MemberResult(
        method,
        summary["env_name"],
        metric,
        summary["last"],
        summary["best"],
        _curve(workdir, metric),
        workdir,
    )


def collect(method: str, workdirs: Sequence[str]) -> List[MemberResult]:
    """Every member under ``workdirs``; settings of a sweep are named ``method [setting]``."""
    results = []
    for workdir in workdirs:
        summary = _read_json(os.path.join(workdir, "summary.json"))
        if "groups" not in summary:
            results.append(_member(method, workdir, summary))
            continue
        for label, group in summary["groups"].items():
            name = method if label == "all" else f"{method} [{label}]"
            for member in group["members"]:
                member_dir = os.path.join(workdir, member)
                results.append(
                    _member(name, member_dir, _read_json(os.path.join(member_dir, "summary.json")))
                )
    return results


def _stats(values: Sequence[Optional[float]]) -> Tuple[Optional[float], Optional[float], int]:
    kept = [v for v in values if v is not None]
    if not kept:
        return None, None, 0
    return float(np.mean(kept)), float(np.std(kept)), len(kept)


def table(results: Sequence[MemberResult]) -> List[Dict]:
    """One row per (environment, method): mean and std over seeds of the last and best scores."""
    keys = list(dict.fromkeys((r.env_name, r.method) for r in results))
    rows = []
    for env_name, method in keys:
        group = [r for r in results if (r.env_name, r.method) == (env_name, method)]
        last_mean, last_std, n = _stats([r.last for r in group])
        best_mean, best_std, _ = _stats([r.best for r in group])
        rows.append(
            {
                "env_name": env_name,
                "method": method,
                "metric": group[0].metric,
                "last_mean": last_mean,
                "last_std": last_std,
                "best_mean": best_mean,
                "best_std": best_std,
                "seeds": n,
                "diverged": sum(r.last is None for r in group),
            }
        )
    return rows


def _cell(mean: Optional[float], std: Optional[float]) -> str:
    return "diverged" if mean is None else f"{mean:.1f} ± {std:.1f}"


def markdown(rows: Sequence[Dict]) -> str:
    """D4RL-style table: one line per environment, one column per method, "last (best)" cells."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    envs = list(dict.fromkeys(r["env_name"] for r in rows))
    by_key = {(r["env_name"], r["method"]): r for r in rows}
    lines = [
        "| environment | " + " | ".join(methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    for env in envs:
        cells = []
        for method in methods:
            row = by_key.get((env, method))
            if row is None:
                cells.append("")
                continue
            cell = f"{_cell(row['last_mean'], row['last_std'])} ({_cell(row['best_mean'], row['best_std'])})"
            cells.append(
                f"{cell} n={row['seeds']}" + (f", {row['diverged']} diverged" if row["diverged"] else "")
            )
        lines.append(f"| {env} | " + " | ".join(cells) + " |")
    metric = rows[0]["metric"].replace("_", " ") if rows else ""
    lines.append("")
    lines.append(
        f"Cells: {metric} of the final policy, mean ± std over seeds (in brackets: the best evaluation "
        "during training, optimistic, shown as the reference code reported it)."
    )
    return "\n".join(lines) + "\n"


def mean_curve(results: Sequence[MemberResult]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps, mean and std over members, on the steps every member evaluated."""
    common = sorted(set.intersection(*(set(r.curve[0].tolist()) for r in results)))
    values = np.stack(
        [[dict(zip(r.curve[0].tolist(), r.curve[1], strict=True))[s] for s in common] for r in results]
    )
    return np.asarray(common), values.mean(0), values.std(0)
