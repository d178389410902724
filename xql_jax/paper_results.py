"""The paper's published numbers (ICLR 2023 camera-ready), as data for reports to compare against;
and, as a second source, the OGBench single-task results of the Flow Q-Learning paper (at the end).

Every number below is copied from the paper's text (``paper/extreme-q-learning.txt``): Table 1
(Gym locomotion, AntMaze, Franka Kitchen), Table 2 (Adroit), Table 3 (offline-to-online
fine-tuning on AntMaze). D4RL normalized scores; ``None`` where the paper prints "-". Cells are as
printed, whatever their precision (Table 1 has "69.17" and "41" in one column). The paper takes its
baselines from IQL's paper (App. D.4).

What the paper does not give is recorded as such, not filled in:
- Tables 1-3 print no total or average row: ``PAPER_AVERAGE_ROWS`` is empty, and any domain mean
  shown beside ours is computed from the cells here (``paper_domain_mean``), labelled as computed.
- The online DM Control results (Section 4.2, App. D.6) are curves only (Figure 3), no numbers:
  ``ONLINE_DM_CONTROL`` holds the protocol and that fact.
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence, Tuple

Cell = Optional[float]

TABLE_1_METHODS = ("BC", "10%BC", "DT", "AWAC", "Onestep RL", "TD3+BC", "CQL", "IQL", "X-QL C", "X-QL T")
_TABLE_1_ROWS: Dict[str, Tuple[Cell, ...]] = {
    # Gym locomotion
    "halfcheetah-medium-v2": (42.6, 42.5, 42.6, 43.5, 48.4, 48.3, 44.0, 47.4, 47.7, 48.3),
    "hopper-medium-v2": (52.9, 56.9, 67.6, 57.0, 59.6, 59.3, 58.5, 66.3, 71.1, 74.2),
    "walker2d-medium-v2": (75.3, 75.0, 74.0, 72.4, 81.8, 83.7, 72.5, 78.3, 81.5, 84.2),
    "halfcheetah-medium-replay-v2": (36.6, 40.6, 36.6, 40.5, 38.1, 44.6, 45.5, 44.2, 44.8, 45.2),
    "hopper-medium-replay-v2": (18.1, 75.9, 82.7, 37.2, 97.5, 60.9, 95.0, 94.7, 97.3, 100.7),
    "walker2d-medium-replay-v2": (26.0, 62.5, 66.6, 27.0, 49.5, 81.8, 77.2, 73.9, 75.9, 82.2),
    "halfcheetah-medium-expert-v2": (55.2, 92.9, 86.8, 42.8, 93.4, 90.7, 91.6, 86.7, 89.8, 94.2),
    "hopper-medium-expert-v2": (52.5, 110.9, 107.6, 55.8, 103.3, 98.0, 105.4, 91.5, 107.1, 111.2),
    "walker2d-medium-expert-v2": (107.5, 109.0, 108.1, 74.5, 113.0, 110.1, 108.8, 109.6, 110.1, 112.7),
    # AntMaze
    "antmaze-umaze-v0": (54.6, 62.8, 59.2, 56.7, 64.3, 78.6, 74.0, 87.5, 87.2, 93.8),
    "antmaze-umaze-diverse-v0": (45.6, 50.2, 53.0, 49.3, 60.7, 71.4, 84.0, 62.2, 69.17, 82.0),
    "antmaze-medium-play-v0": (0.0, 5.4, 0.0, 0.0, 0.3, 10.6, 61.2, 71.2, 73.5, 76.0),
    "antmaze-medium-diverse-v0": (0.0, 9.8, 0.0, 0.7, 0.0, 3.0, 53.7, 70.0, 67.8, 73.6),
    "antmaze-large-play-v0": (0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 15.8, 39.6, 41.0, 46.5),
    "antmaze-large-diverse-v0": (0.0, 6.0, 0.0, 1.0, 0.0, 0.0, 14.9, 47.5, 47.3, 49.0),
    # Franka Kitchen
    "kitchen-complete-v0": (65.0, None, None, None, None, None, 43.8, 62.5, 72.5, 82.4),
    "kitchen-partial-v0": (38.0, None, None, None, None, None, 49.8, 46.3, 73.8, 73.7),
    "kitchen-mixed-v0": (51.5, None, None, None, None, None, 51.0, 51.0, 54.6, 62.5),
}
# Table 1's last row; the X-QL T entry carries the footnote "We see very fast convergence for our
# method on some tasks, and saturate performance at half the iterations as IQL".
_RUNTIMES = ("10m", "10m", "960m", "20m", "20m", "20m", "80m", "20m", "10-20m", "10-20m")
TABLE_1_RUNTIME = dict(zip(TABLE_1_METHODS, _RUNTIMES, strict=True))

TABLE_2_METHODS = ("BC", "BRAC-p", "BEAR", "Onestep RL", "CQL", "IQL", "X-QL C", "X-QL T")
_TABLE_2_ROWS: Dict[str, Tuple[Cell, ...]] = {
    "pen-human-v0": (63.9, 8.1, -1.0, None, 37.5, 71.5, 85.5, 85.5),
    "hammer-human-v0": (1.2, 0.3, 0.3, None, 4.4, 1.4, 2.2, 8.2),
    "door-human-v0": (2.0, -0.3, -0.3, None, 9.9, 4.3, 11.5, 11.5),
    "relocate-human-v0": (0.1, -0.3, -0.3, None, 0.2, 0.1, 0.17, 0.24),
    "pen-cloned-v0": (37.0, 1.6, 26.5, 60.0, 39.2, 37.3, 38.6, 53.9),
    "hammer-cloned-v0": (0.6, 0.3, 0.3, 2.1, 2.1, 2.1, 4.3, 4.3),
    "door-cloned-v0": (0.0, -0.1, -0.1, 0.4, 0.4, 1.6, 5.9, 5.9),
    "relocate-cloned-v0": (-0.3, -0.3, -0.3, -0.1, -0.1, -0.2, -0.2, -0.2),
}

# Table 3: (score after offline training, score after online fine-tuning); the paper names the rows
# without the "antmaze-" prefix. Its offline X-QL T cells repeat Table 1's except large-play (45.1
# here, 46.5 there), and its IQL cells are IQL's own fine-tuning runs, not Table 1's IQL column.
TABLE_3_METHODS = ("CQL", "IQL", "X-QL T")
_TABLE_3_ROWS: Dict[str, Tuple[Tuple[float, float], ...]] = {
    "antmaze-umaze-v0": ((70.1, 99.4), (86.7, 96.0), (93.8, 99.6)),
    "antmaze-umaze-diverse-v0": ((31.1, 99.4), (75.0, 84.0), (82.0, 99.0)),
    "antmaze-medium-play-v0": ((23.0, 0.0), (72.0, 95.0), (76.0, 97.0)),
    "antmaze-medium-diverse-v0": ((23.0, 32.3), (68.3, 92.0), (73.6, 97.1)),
    "antmaze-large-play-v0": ((1.0, 0.0), (25.5, 46.0), (45.1, 59.3)),
    "antmaze-large-diverse-v0": ((1.0, 0.0), (42.6, 60.7), (49.0, 82.1)),
}

TABLE_1: Dict[str, Dict[str, Cell]] = {
    name: dict(zip(TABLE_1_METHODS, row, strict=True)) for name, row in _TABLE_1_ROWS.items()
}
TABLE_2: Dict[str, Dict[str, Cell]] = {
    name: dict(zip(TABLE_2_METHODS, row, strict=True)) for name, row in _TABLE_2_ROWS.items()
}
TABLE_3: Dict[str, Dict[str, Tuple[float, float]]] = {
    name: dict(zip(TABLE_3_METHODS, row, strict=True)) for name, row in _TABLE_3_ROWS.items()
}

# Datasets of each domain in the paper's order (Table 1's row groups; Table 2 for Adroit).
DOMAINS: Dict[str, Tuple[str, ...]] = {
    "locomotion": tuple(name for name in TABLE_1 if not name.startswith(("antmaze", "kitchen"))),
    "antmaze": tuple(name for name in TABLE_1 if name.startswith("antmaze")),
    "kitchen": tuple(name for name in TABLE_1 if name.startswith("kitchen")),
    "adroit": tuple(TABLE_2),
}

# The paper's own total / average rows: it prints none (Tables 1, 2 and 3 end with their last
# dataset, Table 1 with a runtime row). Kept as an explicit empty record so no report invents one.
PAPER_AVERAGE_ROWS: Dict[str, Dict[str, float]] = {}

# Online RL (Section 4.2, App. D.6): Figure 3 shows learning curves on four DM Control tasks; the
# paper gives no table and no number for them, so none is stored.
ONLINE_DM_CONTROL = {
    "numbers": None,
    "figure": "Figure 3",
    "tasks": ("cheetah-run", "walker-run", "hopper-hop", "quadruped-run"),
    "methods": ("SAC", "X-SAC", "TD3", "X-TD3", "X-TD3 - DQ"),
    "seeds": {"SAC": 3, "TD3": 4},  # "For SAC we ran three seeds ... For TD3 we ran four."
    "note": "the paper reports the online DM Control results as curves only (Figure 3); no numbers",
}


def offline_scores(dataset: str) -> Optional[Tuple[str, Dict[str, Cell]]]:
    """("Table 1" or "Table 2", method -> score) for a dataset the paper reports offline, else None."""
    if dataset in TABLE_1:
        return "Table 1", TABLE_1[dataset]
    if dataset in TABLE_2:
        return "Table 2", TABLE_2[dataset]
    return None


def finetune_scores(dataset: str) -> Optional[Dict[str, Tuple[float, float]]]:
    """Table 3's (offline, fine-tuned) pair per method, or None when the paper has no such row."""
    return TABLE_3.get(dataset)


def _mean(values: Sequence[Cell]) -> Optional[float]:
    if not values or any(v is None for v in values):
        return None
    return sum(values) / len(values)


def paper_domain_mean(domain: str, method: str) -> Optional[float]:
    """Mean of the paper's offline cells of ``method`` over all datasets of ``domain``.

    Computed here (the paper prints no average); None when the method has a "-" in the domain.
    """
    return _mean([offline_scores(name)[1].get(method) for name in DOMAINS[domain]])


def paper_finetune_mean(method: str) -> Optional[Tuple[float, float]]:
    """Mean (offline, fine-tuned) of Table 3's ``method`` cells over its six AntMaze datasets."""
    pairs = [TABLE_3[name][method] for name in TABLE_3]
    return _mean([p[0] for p in pairs]), _mean([p[1] for p in pairs])


def column_for(value_loss: Optional[str], finetune: bool = False) -> Optional[str]:
    """The paper column a run of this value loss is compared with by default.

    X-QL (``gumbel``; the fine-tuning launcher's ``xql``) against X-QL C offline, X-QL T when
    fine-tuning (Table 3 has no X-QL C); IQL (``expectile`` / ``iql``) against IQL.
    """
    if value_loss in ("gumbel", "gumbel_log", "xql"):
        return "X-QL T" if finetune else "X-QL C"
    if value_loss in ("expectile", "iql"):
        return "IQL"
    return None


def check_columns(columns: Mapping[str, str]) -> None:
    """Refuse a label -> paper column mapping naming a column no table has."""
    known = set(TABLE_1_METHODS) | set(TABLE_2_METHODS) | set(TABLE_3_METHODS)
    for label, column in columns.items():
        if column not in known:
            raise ValueError(f"paper column {column!r} (for {label!r}) is none of {sorted(known)}")


# ---- A second source: the OGBench single-task results of Flow Q-Learning ----------------------
# Park, Li and Levine, "Flow Q-Learning" (ICML 2025, arXiv 2502.02538) report IQL, ReBRAC and FQL
# (with other baselines) on OGBench's single-task datasets, success rates in percent over 8 seeds,
# 5 tasks per environment, with its code (github seohongpark/fql) pinning ogbench==1.1.0. OGBench
# 1.2.0 changed the single-task environments to compute reward, termination and info["success"] from
# the state before the action (s) instead of after it (s'); the datasets and their relabelling did
# not change, and OGBench expects the evaluation difference to be negligible
# (``success_timing='post'`` restores 1.1's). Runs here use 1.2.2 (setup.py), so a comparison with
# these cells is across that change as well as across seeds.
#
# Only numbers read in the paper's own text go in FQL_TABLE. Its tables could not be read from this
# machine (the stored copies of the paper give its opening only), so none is stored: the report
# shows the columns with "–" until someone with the paper fills them in, citing the table.
FQL_PAPER = {
    "paper": "Park, Li, Levine. Flow Q-Learning. ICML 2025 (arXiv 2502.02538)",
    "table": None,  # the table the cells come from, e.g. "Table 2"; None while FQL_TABLE is empty
    "code": "github seohongpark/fql",
    "ogbench_version": "1.1.0",
    "metric": "success_rate",
    "seeds": 8,
}
FQL_METHODS = ("IQL", "ReBRAC", "FQL")
# dataset name (e.g. "cube-single-play-singletask-task2-v0") -> method -> success rate (percent).
FQL_TABLE: Dict[str, Dict[str, Cell]] = {}


def fql_scores(dataset: str) -> Optional[Dict[str, Cell]]:
    """The FQL paper's IQL, ReBRAC and FQL cells of an OGBench single-task dataset (by its
    ``-task<N>`` name, as the paper's tables name tasks), or None."""
    return FQL_TABLE.get(dataset)
