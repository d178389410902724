"""Results tables, the paper's numbers beside ours, rliable aggregates and curves from run workdirs.

Read-only: no training code involved. A *method* is a label given to one or more workdirs: a
single-seed run, several single-seed runs, or a multi-member run (its members; a sweep's settings
become separate methods). Every member contributes its summary.json (last and best score) and its
evaluation curve (eval.jsonl, or eval.csv when that is all there is).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from xql_jax import paper_results
from xql_jax import workdir as files

NORMALIZED = "normalized_score"
SUCCESS = "success_rate"  # OGBench single-task runs (xql_jax.data.ogbench_data)
OPTIMALITY_GAP_THRESHOLD = 100.0  # a D4RL normalized score of 100 is the expert's
STATISTICS = ("IQM", "Mean", "Median", "Optimality Gap")


class MemberResult(NamedTuple):
    method: str
    env_name: str
    metric: str
    last: Optional[float]  # None when the member diverged
    best: Optional[float]
    curve: Tuple[np.ndarray, np.ndarray]  # (steps, metric values)
    workdir: str
    algo: Optional[str] = None  # agents.algorithm_name (older offline runs: their value loss)
    offline_steps: Optional[int] = None  # fine-tuning runs: the step the offline phase ended at
    offline: Optional[float] = None  # and the score evaluated there
    evaluation: Optional[Dict] = None  # summary.json's protocol, cadence and episodes (None: older run)
    evaluations: Optional[int] = None  # how many evaluations "best" is the maximum of


def _read_json(path: str) -> Dict:
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"no {os.path.basename(path)} in {os.path.dirname(path)}: is it a finished run?"
        )
    try:
        with open(path) as f:
            value = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path} is not readable JSON ({e}): is it a training run's summary?") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path} holds a {type(value).__name__}, not a training run's summary")
    return value


def _need(summary: Dict, keys: Sequence[str], path: str) -> None:
    missing = [key for key in keys if key not in summary]
    if missing:
        raise ValueError(
            f"{path} has no {', '.join(repr(k) for k in missing)}: not a summary this code wrote "
            "(train_offline.py, train_online.py or train_finetune.py)"
        )


def _last_logged_step(workdir: str) -> Optional[int]:
    """The highest step of the complete rows of ``metrics.jsonl`` (None without the file)."""
    path = os.path.join(workdir, files.METRICS)
    if not os.path.isfile(path):
        return None
    steps = [files.row_step(row) for row in files.read_rows(path)]
    return max((step for step in steps if step is not None), default=None)


def read_curve(workdir: str, metric: str) -> Tuple[np.ndarray, np.ndarray]:
    """(steps, values) of ``metric`` from ``eval.jsonl`` (else ``eval.csv``), skipping cut-off rows.

    Rows without the metric (a run without reference scores has no normalized score) are skipped;
    empty arrays when the workdir has neither file.
    """
    steps, values = [], []
    jsonl, csv_path = os.path.join(workdir, files.EVAL_JSONL), os.path.join(workdir, files.EVAL_CSV)
    if os.path.isfile(jsonl):
        for row in files.read_rows(jsonl):
            if row.get(metric) is not None:
                steps.append(int(row["step"]))
                values.append(float(row[metric]))
    elif os.path.isfile(csv_path):
        lines = files.complete_lines(csv_path)
        for row in csv.DictReader(lines):
            if None in row or row.get(metric) in (None, ""):  # a short or overlong row
                continue
            try:
                steps.append(int(row["step"]))
                values.append(float(row[metric]))
            except ValueError:
                continue
    return np.asarray(steps, int), np.asarray(values, float)


def _member(method: str, workdir: str, summary: Dict) -> MemberResult:
    path = os.path.join(workdir, files.SUMMARY)
    _need(summary, ("metric", "env_name", "last", "best", "steps"), path)
    metric = summary["metric"]
    curve = read_curve(workdir, metric)
    logged = max([_last_logged_step(workdir) or 0, *curve[0].tolist()])
    if logged > int(summary["steps"]):
        # A fine-tuning run's offline phase writes a summary too; so did an earlier, shorter attempt.
        raise ValueError(
            f"{path} is from step {summary['steps']} but {workdir}'s rows reach step {logged}: the run is "
            "unfinished or still running; report it once it has finished (started again, it resumes)"
        )
    offline = None
    if summary.get("offline_steps") is not None:
        at = np.flatnonzero(curve[0] == int(summary["offline_steps"]))
        offline = float(curve[1][at[0]]) if len(at) else None
    return MemberResult(
        method,
        summary["env_name"],
        metric,
        summary["last"],
        summary["best"],
        curve,
        workdir,
        summary.get("algo") or summary.get("value_loss"),
        summary.get("offline_steps"),
        offline,
        summary.get("evaluation"),
        # Runs written before the count was recorded: the evaluations their curve holds.
        summary.get("evaluations", len(curve[0])),
    )


def collect(method: str, workdirs: Sequence[str]) -> List[MemberResult]:
    """Every member under ``workdirs``; settings of a sweep are named ``method [setting]``."""
    results = []
    for workdir in workdirs:
        summary = _read_json(os.path.join(workdir, files.SUMMARY))
        if "groups" not in summary:
            results.append(_member(method, workdir, summary))
            continue
        for label, group in summary["groups"].items():
            name = method if label == "all" else f"{method} [{label}]"
            _need(group, ("members",), os.path.join(workdir, f"summary.json (group {label!r})"))
            for member in group["members"]:
                member_dir = os.path.join(workdir, member)
                results.append(_member(name, member_dir, _read_json(os.path.join(member_dir, files.SUMMARY))))
    return results


def check_metrics(results: Sequence[MemberResult]) -> None:
    """Refuse (ValueError, one line naming the workdirs) a method whose runs report different metrics.

    A run without reference scores reports raw returns; averaged with normalized scores it would
    give a number that is neither.
    """
    for method in dict.fromkeys(r.method for r in results):
        by_metric: Dict[str, List[str]] = {}
        for r in results:
            if r.method == method:
                by_metric.setdefault(r.metric, []).append(r.workdir)
        if len(by_metric) > 1:
            parts = "; ".join(f"{metric} in {', '.join(dirs)}" for metric, dirs in by_metric.items())
            raise ValueError(f"method {method!r} mixes metrics ({parts}); give each metric its own label")


def protocol_label(result: MemberResult) -> str:
    """How a run was evaluated, e.g. "official: every 5000 steps x 10 episodes, best of 200"."""
    count = f"best of {result.evaluations}"
    if not result.evaluation:
        return f"unrecorded, {count}"
    e = result.evaluation
    return f"{e['protocol']}: every {e['interval']} steps x {e['episodes']} episodes, {count}"


def best_comparability_notes(results: Sequence[MemberResult]) -> List[str]:
    """One note per dataset whose runs' "best" scores are maxima over different numbers of
    evaluations: a maximum over 200 evaluations is not comparable with one over 20."""
    notes = []
    for env_name in dict.fromkeys(r.env_name for r in results):
        counts: Dict[int, List[str]] = {}
        for r in results:
            if r.env_name == env_name and r.evaluations is not None:
                counts.setdefault(r.evaluations, [])
                if r.method not in counts[r.evaluations]:
                    counts[r.evaluations].append(r.method)
        if len(counts) > 1:
            parts = "; ".join(f"{', '.join(methods)}: {n}" for n, methods in sorted(counts.items()))
            notes.append(
                f"{env_name}: 'best' is a maximum over different numbers of evaluations ({parts}); "
                "it does not compare across them: compare 'last'"
            )
    return notes


def _stats(values: Sequence[Optional[float]]) -> Tuple[Optional[float], Optional[float], int]:
    kept = [v for v in values if v is not None]
    if not kept:
        return None, None, 0
    return float(np.mean(kept)), float(np.std(kept)), len(kept)


def _base_label(method: str) -> str:
    return method.split(" [", 1)[0]


def _paper_column(method: str, group: Sequence[MemberResult], columns: Mapping[str, str], finetune: bool):
    if method in columns:
        return columns[method]
    if _base_label(method) in columns:
        return columns[_base_label(method)]
    algos = {r.algo for r in group}
    return paper_results.column_for(algos.pop(), finetune) if len(algos) == 1 else None


def table(results: Sequence[MemberResult], paper_columns: Optional[Mapping[str, str]] = None) -> List[Dict]:
    """One row per (dataset, method): ours (last and best, mean and std over seeds; n) and the paper's.

    Offline rows carry the paper's X-QL C, X-QL T and IQL cells (Table 1 or 2) and the difference of
    our last score to the method's own column (``paper_columns``: label -> column; by default from
    the value loss: X-QL C, or IQL). Fine-tuning runs (a summary with ``offline_steps``) carry ours
    at the end of the offline phase and Table 3's (offline, fine-tuned) pairs. Paper cells are None
    for datasets the paper does not report and for metrics other than the normalized score.
    """
    check_metrics(results)
    columns = dict(paper_columns or {})
    paper_results.check_columns(columns)
    keys = list(dict.fromkeys((r.env_name, r.method) for r in results))
    rows = []
    for env_name, method in keys:
        group = [r for r in results if (r.env_name, r.method) == (env_name, method)]
        finetune = any(r.offline_steps is not None for r in group)
        last_mean, last_std, n = _stats([r.last for r in group])
        best_mean, best_std, _ = _stats([r.best for r in group])
        offline_mean, offline_std, _ = _stats([r.offline for r in group]) if finetune else (None, None, 0)
        row = {
            "env_name": env_name,
            "method": method,
            "metric": group[0].metric,
            "kind": "finetune" if finetune else "offline",
            "seeds": n,
            "diverged": sum(r.last is None for r in group),
            "last_mean": last_mean,
            "last_std": last_std,
            "best_mean": best_mean,
            "best_std": best_std,
            "offline_mean": offline_mean,
            "offline_std": offline_std,
            "paper_table": None,
            "paper_xql_c": None,
            "paper_xql_t": None,
            "paper_iql": None,
            "paper_xql_t_offline": None,
            "paper_iql_offline": None,
            "paper_column": None,
            "paper_value": None,
            "diff": None,
            "evaluation": " / ".join(dict.fromkeys(protocol_label(r) for r in group)),
        }
        column = _paper_column(method, group, columns, finetune)
        if row["metric"] == NORMALIZED and finetune and paper_results.finetune_scores(env_name):
            cells = paper_results.finetune_scores(env_name)
            row.update(
                paper_table="Table 3",
                paper_xql_t=cells["X-QL T"][1],
                paper_iql=cells["IQL"][1],
                paper_xql_t_offline=cells["X-QL T"][0],
                paper_iql_offline=cells["IQL"][0],
            )
            if column in cells:
                row.update(paper_column=column, paper_value=cells[column][1])
        elif row["metric"] == NORMALIZED and not finetune and paper_results.offline_scores(env_name):
            table_name, cells = paper_results.offline_scores(env_name)
            row.update(
                paper_table=table_name,
                paper_xql_c=cells["X-QL C"],
                paper_xql_t=cells["X-QL T"],
                paper_iql=cells["IQL"],
            )
            if cells.get(column) is not None:
                row.update(paper_column=column, paper_value=cells[column])
        if row["metric"] == SUCCESS and not finetune:
            # OGBench: the FQL paper's IQL / ReBRAC / FQL cells, a second source (paper_results).
            cells = paper_results.fql_scores(env_name) or {}
            row.update({f"fql_{m.lower()}": cells.get(m) for m in paper_results.FQL_METHODS})
            if cells.get(column) is not None:  # IQL runs against the paper's IQL
                row.update(paper_table=paper_results.FQL_PAPER["table"], paper_column=f"{column} (FQL paper)")
                row["paper_value"] = cells[column]
        if row["paper_value"] is not None and last_mean is not None:
            row["diff"] = last_mean - row["paper_value"]
        rows.append(row)
    return rows


def domain_averages(rows: Sequence[Dict]) -> List[Dict]:
    """Per (paper domain, method): our mean over the domain's datasets, beside the paper's.

    Ours only when the method has every dataset of the domain (else None, with the count); the
    paper's are means of its cells over the same datasets, computed here since it prints no total.
    """
    averages = []
    for kind in ("offline", "finetune"):
        kind_rows = [r for r in rows if r["kind"] == kind and r["paper_table"] is not None]
        for method in dict.fromkeys(r["method"] for r in kind_rows):
            mine = {r["env_name"]: r for r in kind_rows if r["method"] == method}
            domains = ["antmaze"] if kind == "finetune" else list(paper_results.DOMAINS)
            for domain in domains:
                names = tuple(paper_results.TABLE_3) if kind == "finetune" else paper_results.DOMAINS[domain]
                present = [name for name in names if name in mine]
                if not present:
                    continue
                complete = len(present) == len(names) and all(
                    mine[name]["last_mean"] is not None for name in names
                )
                entry = {
                    "kind": kind,
                    "domain": domain,
                    "method": method,
                    "datasets": len(present),
                    "domain_datasets": len(names),
                    "last_mean": float(np.mean([mine[n]["last_mean"] for n in names])) if complete else None,
                }
                if kind == "finetune":
                    entry["paper_xql_t"] = paper_results.paper_finetune_mean("X-QL T")[1]
                    entry["paper_iql"] = paper_results.paper_finetune_mean("IQL")[1]
                    entry["paper_xql_c"] = None
                else:
                    for key, column in (
                        ("paper_xql_c", "X-QL C"),
                        ("paper_xql_t", "X-QL T"),
                        ("paper_iql", "IQL"),
                    ):
                        entry[key] = paper_results.paper_domain_mean(domain, column)
                averages.append(entry)
    return averages


class Aggregate(NamedTuple):
    method: str
    statistic: str  # one of STATISTICS
    estimate: float
    ci_low: float
    ci_high: float
    runs: int  # runs per dataset in the bootstrap
    datasets: int


def score_matrices(results: Sequence[MemberResult]) -> Tuple[Dict[str, np.ndarray], List[str]]:
    """Per method, its last normalized scores as a (runs x datasets) matrix, rliable's layout.

    Diverged members (no last score) are left out; a method with fewer finished runs on some dataset
    keeps the first that many runs of every dataset. Methods without normalized scores are left out.
    Returns the matrices and notes saying what was left out.
    """
    check_metrics(results)
    matrices, notes = {}, []
    for method in dict.fromkeys(r.method for r in results):
        group = [r for r in results if r.method == method]
        if group[0].metric != NORMALIZED:
            notes.append(f"{method}: no aggregate statistics ({group[0].metric}, not normalized scores)")
            continue
        per_dataset = {}
        for r in group:
            per_dataset.setdefault(r.env_name, [])
            if r.last is not None:
                per_dataset[r.env_name].append(r.last)
        diverged = sum(r.last is None for r in group)
        if diverged:
            notes.append(f"{method}: {diverged} diverged run(s) left out")
        runs = min(len(v) for v in per_dataset.values())
        if runs == 0:
            notes.append(f"{method}: no aggregate statistics (a dataset without a finished run)")
            continue
        if any(len(v) > runs for v in per_dataset.values()):
            notes.append(f"{method}: datasets have different numbers of runs; the first {runs} of each used")
        matrices[method] = np.array([v[:runs] for v in per_dataset.values()]).T
    datasets = {m: frozenset(r.env_name for r in results if r.method == m) for m in matrices}
    if len(set(datasets.values())) > 1:
        notes.append("the methods cover different datasets: their aggregates do not compare directly")
    return matrices, notes


def _statistics(scores: np.ndarray) -> np.ndarray:
    from rliable import metrics

    return np.array(
        [
            metrics.aggregate_iqm(scores),
            metrics.aggregate_mean(scores),
            metrics.aggregate_median(scores),
            metrics.aggregate_optimality_gap(scores, OPTIMALITY_GAP_THRESHOLD),
        ]
    )


@contextlib.contextmanager
def _seeded_global_random(seed: int):
    # rliable's stratified bootstrap draws its indices from numpy's global generator (np.random.choice):
    # seed that, then give the caller its state back.
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def aggregates(
    matrices: Mapping[str, np.ndarray], reps: int = 2000, seed: int = 0
) -> Tuple[List[Aggregate], Dict[str, np.ndarray], Dict[str, np.ndarray]]:
    """IQM, mean, median and optimality gap (threshold 100) with stratified-bootstrap 95% CIs.

    rliable's ``get_interval_estimates`` over runs within each dataset (percentile intervals, ``reps``
    resamples, seeded). Returns the rows and rliable's point and interval estimates for plotting.
    """
    from rliable import library as rly

    if not matrices:
        return [], {}, {}
    with _seeded_global_random(seed):
        points, intervals = rly.get_interval_estimates(dict(matrices), _statistics, reps=reps)
    rows = []
    for method, scores in matrices.items():
        for i, statistic in enumerate(STATISTICS):
            rows.append(
                Aggregate(
                    method,
                    statistic,
                    float(points[method][i]),
                    float(intervals[method][0, i]),
                    float(intervals[method][1, i]),
                    scores.shape[0],
                    scores.shape[1],
                )
            )
    return rows, points, intervals


def performance_profiles(
    matrices: Mapping[str, np.ndarray], taus: np.ndarray, reps: int = 2000, seed: int = 0
) -> Tuple[Dict[str, np.ndarray], Dict[str, np.ndarray]]:
    """rliable's score distributions (fraction of runs above each tau) with bootstrap 95% bands."""
    from rliable import library as rly

    with _seeded_global_random(seed):
        return rly.create_performance_profile(dict(matrices), taus, reps=reps)


def profile_taus(matrices: Mapping[str, np.ndarray]) -> np.ndarray:
    top = max([OPTIMALITY_GAP_THRESHOLD] + [float(m.max()) for m in matrices.values()])
    return np.linspace(0.0, top, 101)


def _cell(mean: Optional[float], std: Optional[float]) -> str:
    return "diverged" if mean is None else f"{mean:.1f} ± {std:.1f}"


def _num(value: Optional[float], signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def _pair(offline: Optional[float], online: Optional[float]) -> str:
    return "–" if online is None else f"{_num(offline)} → {_num(online)}"


def _seeds(row: Dict) -> str:
    return f"{row['seeds']}" + (f" ({row['diverged']} diverged)" if row["diverged"] else "")


def _markdown_table(header: Sequence[str], body: Sequence[Sequence[str]], caption: str) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return lines + ["", caption, ""]


def _diff(row: Dict) -> str:
    return "–" if row["diff"] is None else f"{_num(row['diff'], True)} (vs {row['paper_column']})"


def markdown(
    rows: Sequence[Dict],
    averages: Sequence[Dict] = (),
    aggregate_rows: Sequence[Aggregate] = (),
    notes: Sequence[str] = (),
    reps: Optional[int] = None,
) -> str:
    """The report: per-dataset comparison, the paper's Table 3 for fine-tuning runs, domain averages,
    and the rliable aggregates."""
    lines = []
    paper = ["paper X-QL C", "paper X-QL T", "paper IQL", "ours − paper"]
    ogbench = [r for r in rows if r["kind"] == "offline" and r["metric"] == SUCCESS]
    offline = [r for r in rows if r["kind"] == "offline" and r["metric"] != SUCCESS]
    if ogbench:
        fql = paper_results.FQL_PAPER
        body = [
            [r["env_name"], r["method"], _cell(r["last_mean"], r["last_std"])]
            + [_cell(r["best_mean"], r["best_std"]), _seeds(r)]
            + [_num(r.get(f"fql_{m.lower()}")) for m in paper_results.FQL_METHODS]
            + [_diff(r)]
            for r in ogbench
        ]
        where = f"{fql['table']} of " if fql["table"] else ""
        lines += _markdown_table(
            ["dataset", "method", "success rate (last)", "best", "n"]
            + [f"FQL paper {m}" for m in paper_results.FQL_METHODS]
            + ["ours − paper"],
            body,
            f"OGBench single-task runs: success rate (%) of the final policy (last) and the best "
            f"evaluation, mean ± std over n seeds. Beside them {where}{fql['paper']}, "
            f"{fql['seeds']} seeds, made with ogbench {fql['ogbench_version']} (runs here use the "
            "1.2 environments, which score success on s rather than s'); – where no cell was read "
            "from the paper itself.",
        )
    if offline:
        body = [
            [r["env_name"], r["method"], r["metric"], _cell(r["last_mean"], r["last_std"])]
            + [_cell(r["best_mean"], r["best_std"]), _seeds(r), _num(r["paper_xql_c"])]
            + [_num(r["paper_xql_t"]), _num(r["paper_iql"]), _diff(r), r["evaluation"]]
            for r in offline
        ]
        lines += _markdown_table(
            ["dataset", "method", "metric", "last", "best", "n"] + paper + ["evaluation"],
            body,
            "Ours: the final policy's score (last) and the best evaluation during training (optimistic, "
            "as the reference code reported it), mean ± std over n seeds. Paper: Table 1 (locomotion, "
            "AntMaze, Kitchen) or Table 2 (Adroit); – where the paper has no such dataset or the metric "
            "is not the normalized score. The difference is our last mean minus the paper's cell of the "
            "named column. Evaluation: the protocol (official launcher's cadence or this project's), "
            "and how many evaluations 'best' is the maximum of.",
        )
    finetune = [r for r in rows if r["kind"] == "finetune"]
    if finetune:
        body = [
            [
                r["env_name"],
                r["method"],
                f"{_num(r['offline_mean'])} → {_cell(r['last_mean'], r['last_std'])}",
            ]
            + [_cell(r["best_mean"], r["best_std"]), _seeds(r)]
            + [
                _pair(r["paper_xql_t_offline"], r["paper_xql_t"]),
                _pair(r["paper_iql_offline"], r["paper_iql"]),
            ]
            + [_diff(r), r["evaluation"]]
            for r in finetune
        ]
        lines += _markdown_table(
            ["dataset", "method", "ours: offline → fine-tuned (last)", "best", "n"]
            + paper[1:]
            + ["evaluation"],
            body,
            "Fine-tuning runs: the score when the offline phase ended → the final policy after online "
            "fine-tuning (mean over seeds). Paper: Table 3 (AntMaze, offline → fine-tuned); the "
            "difference is to its fine-tuned cell.",
        )
    if averages:
        body = []
        for a in averages:
            missing = f"– ({a['datasets']} of {a['domain_datasets']} datasets)"
            body.append(
                [a["domain"] + (" fine-tuning" if a["kind"] == "finetune" else ""), a["method"]]
                + [missing if a["last_mean"] is None else _num(a["last_mean"])]
                + [_num(a["paper_xql_c"]), _num(a["paper_xql_t"]), _num(a["paper_iql"])]
            )
        lines += _markdown_table(
            ["domain", "method", "ours (last, mean over datasets)"] + paper[:3],
            body,
            "The paper prints no total or average rows: its columns here are the means of its cells "
            "over the domain's datasets, computed by this report. Ours only when every dataset of the "
            "domain is present.",
        )
    if aggregate_rows:
        by_key = {(a.method, a.statistic): a for a in aggregate_rows}
        body = []
        for method in dict.fromkeys(a.method for a in aggregate_rows):
            first = by_key[(method, STATISTICS[0])]
            cells = [by_key[(method, statistic)] for statistic in STATISTICS]
            body.append(
                [method, f"{first.runs} × {first.datasets}"]
                + [f"{a.estimate:.1f} [{a.ci_low:.1f}, {a.ci_high:.1f}]" for a in cells]
            )
        resamples = f", {reps} resamples" if reps else ""
        lines += _markdown_table(
            ["method", "runs × datasets", *STATISTICS],
            body,
            "Aggregates of the last normalized scores (rliable): interquartile mean over all runs × "
            "datasets, mean and median of the per-dataset means, and optimality gap (the mean shortfall "
            f"below {OPTIMALITY_GAP_THRESHOLD:g}; lower is better), each with its 95% "
            f"stratified-bootstrap confidence interval in brackets (percentile method{resamples}).",
        )
    lines += [f"Note: {note}" for note in notes]
    return "\n".join(lines).rstrip("\n") + "\n"


def aligned_curves(curves: Sequence[Tuple[np.ndarray, np.ndarray]]) -> Tuple[np.ndarray, np.ndarray, int]:
    """Align (steps, values) curves by step, not by row.

    Returns the steps every curve has, the values there ([curves, steps]), and how many steps were
    left out because only some curves reached them (a run cut short, other evaluation intervals).
    """
    step_sets = [set(steps.tolist()) for steps, _ in curves]
    common = sorted(set.intersection(*step_sets))
    values = np.array(
        [[dict(zip(steps.tolist(), vals, strict=True))[s] for s in common] for steps, vals in curves]
    ).reshape(len(curves), len(common))
    return np.asarray(common, int), values, len(set.union(*step_sets)) - len(common)


# ---------------------------------------------------------------------------------------------
# A sweep's results table (experiments/sweep.py)

SWEEP_FIELDS = ("batch_size", "setting", "metric", "last_mean", "last_std", "best_mean", "best_std", "seeds")


def sweep_rows(batch_size: int, summary: Mapping) -> List[Dict]:
    """One results.csv row per setting of one batch size's run (its summary.json)."""
    groups = summary.get("groups")
    if not groups:  # one member: its own last and best
        n = 0 if summary.get("last") is None else 1
        # As a group's statistics: no std over one seed, and none when the member diverged.
        groups = {
            "all": {
                key: {"mean": summary.get(key), "std": 0.0 if n else None, "n": n} for key in ("last", "best")
            }
        }
    return [
        {
            "batch_size": int(batch_size),
            "setting": label,
            "metric": summary["metric"],
            "last_mean": group["last"]["mean"],
            "last_std": group["last"]["std"],
            "best_mean": group["best"]["mean"],
            "best_std": group["best"]["std"],
            "seeds": group["last"]["n"],
        }
        for label, group in groups.items()
    ]


def merge_sweep_results(path: str, rows: Sequence[Mapping]) -> int:
    """Write ``rows`` into the results table at ``path``, keeping the rows of earlier sweeps into the
    same root (other batch sizes or settings; one run again is replaced), ordered by batch size.
    Written atomically; returns how many earlier rows were kept."""
    new_keys = {(int(r["batch_size"]), r["setting"]) for r in rows}
    earlier = []
    if os.path.isfile(path):
        with open(path, newline="") as f:
            earlier = [r for r in csv.DictReader(f) if (int(r["batch_size"]), r["setting"]) not in new_keys]
    merged = sorted([*earlier, *rows], key=lambda r: int(r["batch_size"]))  # stable: settings keep order
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with files.atomic_write(path, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(SWEEP_FIELDS))
        writer.writeheader()
        writer.writerows(merged)
    return len(earlier)
