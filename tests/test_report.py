"""The report: the paper's stored numbers, ours beside them, rliable aggregates, curves aligned by step."""

import csv
import json
import os

import numpy as np
import pytest

from tests.conftest import run_script
from xql_jax import paper_results, report

REFERENCES = {"ref_min_score": 0.0, "ref_max_score": 100.0}  # return = normalized score


def test_stored_paper_numbers_match_the_paper():
    # Read from the paper's text (ICLR 2023 camera-ready), Table 1: locomotion, AntMaze, Kitchen.
    hopper_mr = paper_results.TABLE_1["hopper-medium-replay-v2"]
    assert (hopper_mr["IQL"], hopper_mr["X-QL C"], hopper_mr["X-QL T"]) == (94.7, 97.3, 100.7)
    assert paper_results.TABLE_1["halfcheetah-medium-v2"]["BC"] == 42.6
    assert paper_results.TABLE_1["walker2d-medium-expert-v2"]["Onestep RL"] == 113.0
    assert paper_results.TABLE_1["antmaze-umaze-diverse-v0"]["X-QL C"] == 69.17
    assert paper_results.TABLE_1["antmaze-large-play-v0"]["X-QL C"] == 41.0
    assert paper_results.TABLE_1["antmaze-medium-play-v0"]["CQL"] == 61.2
    kitchen = paper_results.TABLE_1["kitchen-partial-v0"]
    assert (kitchen["X-QL C"], kitchen["X-QL T"], kitchen["DT"]) == (73.8, 73.7, None)
    assert paper_results.TABLE_1_RUNTIME["DT"] == "960m"
    # Table 2: Adroit.
    assert paper_results.TABLE_2["pen-human-v0"]["X-QL C"] == 85.5
    assert paper_results.TABLE_2["pen-human-v0"]["BEAR"] == -1.0
    assert paper_results.TABLE_2["relocate-human-v0"]["X-QL T"] == 0.24
    assert paper_results.TABLE_2["pen-cloned-v0"]["Onestep RL"] == 60.0
    assert paper_results.TABLE_2["hammer-human-v0"]["Onestep RL"] is None
    # Table 3: fine-tuning, (offline, online).
    assert paper_results.TABLE_3["antmaze-large-diverse-v0"]["X-QL T"] == (49.0, 82.1)
    assert paper_results.TABLE_3["antmaze-medium-play-v0"]["IQL"] == (72.0, 95.0)
    assert paper_results.TABLE_3["antmaze-large-play-v0"]["CQL"] == (1.0, 0.0)
    assert {d: len(n) for d, n in paper_results.DOMAINS.items()} == {
        "locomotion": 9,
        "antmaze": 6,
        "kitchen": 3,
        "adroit": 8,
    }
    # What the paper does not give stays absent: no total rows, no DM Control numbers.
    assert paper_results.PAPER_AVERAGE_ROWS == {}
    assert paper_results.ONLINE_DM_CONTROL["numbers"] is None
    assert paper_results.paper_domain_mean("kitchen", "X-QL C") == pytest.approx((72.5 + 73.8 + 54.6) / 3)
    assert paper_results.paper_domain_mean("kitchen", "10%BC") is None
    assert paper_results.column_for("gumbel") == "X-QL C" and paper_results.column_for("iql", True) == "IQL"


def write_member(directory, env_name, last, scores, value_loss="gumbel", metric="normalized_score", **extra):
    """A member directory as MemberRecords writes it: config.json, eval.jsonl/eval.csv, summary.json."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump({"agent": {"value_loss": value_loss, "beta": 2.0}, "batch_size": 256}, f, indent=2)
    rows = [
        {
            "step": step,
            "return_mean": score,
            "return_std": 1.0,
            "normalized_score": None if metric != "normalized_score" else score,
            "normalized_score_std": None if metric != "normalized_score" else 1.0,
            "wall_time": 0.5 * step,
        }
        | ({"success_rate": score} if metric == "success_rate" else {})
        for step, score in scores
    ]
    with open(os.path.join(directory, "eval.jsonl"), "w") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
    with open(os.path.join(directory, "eval.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    best = max(rows, key=lambda r: r[metric])
    summary = {
        "env_name": env_name,
        "value_loss": value_loss,
        "references": REFERENCES if metric == "normalized_score" else None,
        "member": os.path.basename(directory),
        "seed": 0,
        "hyperparams": {"beta": 2.0},
        "steps": scores[-1][0],
        "wall_time": 1.0,
        "metric": metric,
        "diverged": None if last is not None else "critic_loss = inf",
        "last": last,
        "best": best[metric],
        "best_step": best["step"],
        **extra,
    }
    with open(os.path.join(directory, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)


def write_run(workdir, env_name, lasts, value_loss="gumbel", metric="normalized_score", **extra):
    """A multi-seed workdir: seed<i>/ members and the aggregate summary.json with its groups."""
    members = [f"seed{i}" for i in range(len(lasts))]
    for member, last in zip(members, lasts, strict=True):
        curve = [(1000, 10.0), (2000, last if last is not None else 5.0)]
        write_member(os.path.join(workdir, member), env_name, last, curve, value_loss, metric, **extra)
    with open(os.path.join(workdir, "summary.json"), "w") as f:
        json.dump({"env_name": env_name, "metric": metric, "groups": {"all": {"members": members}}}, f)
    return str(workdir)


@pytest.fixture
def d4rl_runs(tmp_path):
    xql = [
        write_run(tmp_path / "xql" / "kitchen-complete-v0", "kitchen-complete-v0", [70.0, 75.0, 80.0]),
        write_run(tmp_path / "xql" / "kitchen-partial-v0", "kitchen-partial-v0", [60.0, 62.0, 64.0]),
        write_run(tmp_path / "xql" / "kitchen-mixed-v0", "kitchen-mixed-v0", [50.0, 55.0, 60.0]),
        write_run(tmp_path / "xql" / "hopper-medium-v2", "hopper-medium-v2", [70.0, None, 72.0]),
    ]
    iql = [write_run(tmp_path / "iql", "kitchen-complete-v0", [60.0, 64.0], value_loss="expectile")]
    # A fine-tuning run: offline phase to step 1000 (score 10), online to 2000.
    finetune = [
        write_run(
            tmp_path / "ft", "antmaze-umaze-v0", [95.0, 97.0], value_loss=None, algo="xql", offline_steps=1000
        )
    ]
    return {"X-QL": xql, "IQL": iql, "X-QL FT": finetune}


def test_report_puts_the_paper_beside_ours(d4rl_runs):
    results = [r for label, dirs in d4rl_runs.items() for r in report.collect(label, dirs)]
    rows = report.table(results)
    by_key = {(r["env_name"], r["method"]): r for r in rows}
    complete = by_key[("kitchen-complete-v0", "X-QL")]
    assert complete["last_mean"] == pytest.approx(75.0) and complete["seeds"] == 3
    assert (complete["paper_xql_c"], complete["paper_xql_t"], complete["paper_iql"]) == (72.5, 82.4, 62.5)
    assert complete["paper_column"] == "X-QL C" and complete["diff"] == pytest.approx(2.5)
    assert by_key[("kitchen-complete-v0", "IQL")]["diff"] == pytest.approx(62.0 - 62.5)
    hopper = by_key[("hopper-medium-v2", "X-QL")]
    assert hopper["seeds"] == 2 and hopper["diverged"] == 1 and hopper["diff"] == pytest.approx(71.0 - 71.1)
    ft = by_key[("antmaze-umaze-v0", "X-QL FT")]
    assert ft["kind"] == "finetune" and ft["offline_mean"] == pytest.approx(10.0)
    assert (ft["paper_xql_t_offline"], ft["paper_xql_t"], ft["paper_column"]) == (93.8, 99.6, "X-QL T")
    assert ft["diff"] == pytest.approx(96.0 - 99.6)

    averages = {(a["domain"], a["method"]): a for a in report.domain_averages(rows)}
    kitchen = averages[("kitchen", "X-QL")]
    assert kitchen["last_mean"] == pytest.approx((75.0 + 62.0 + 55.0) / 3)
    assert kitchen["paper_xql_t"] == pytest.approx((82.4 + 73.7 + 62.5) / 3)
    locomotion = averages[("locomotion", "X-QL")]
    assert locomotion["last_mean"] is None and locomotion["datasets"] == 1
    assert averages[("kitchen", "IQL")]["last_mean"] is None  # 1 of 3 datasets

    text = report.markdown(rows, report.domain_averages(rows))
    assert (
        "| kitchen-complete-v0 | X-QL | normalized_score | 75.0 ± 4.1 | 75.0 ± 4.1 | 3 | 72.5 | 82.4 | 62.5 "
        "| +2.5 (vs X-QL C) |" in text
    )
    # The diverged member has a best score from before it diverged (10), no last score.
    assert (
        "| hopper-medium-v2 | X-QL | normalized_score | 71.0 ± 1.0 | 50.7 ± 28.8 | 2 (1 diverged) |" in text
    )
    assert (
        "| antmaze-umaze-v0 | X-QL FT | 10.0 → 96.0 ± 1.0 | 96.0 ± 1.0 | 2 | 93.8 → 99.6 | 86.7 → 96.0 |"
        in text
    )
    assert "| kitchen | X-QL | 64.0 | 67.0 | 72.9 | 53.3 |" in text
    assert "| locomotion | X-QL | – (1 of 9 datasets) |" in text


def test_ogbench_runs_get_their_own_table_beside_the_fql_papers(tmp_path, monkeypatch):
    name = "cube-single-play-singletask-task2-v0"
    results = report.collect("X-QL", [write_run(tmp_path / "x", name, [40.0, 50.0], metric="success_rate")])
    results += report.collect(
        "IQL", [write_run(tmp_path / "i", name, [30.0, 34.0], value_loss="expectile", metric="success_rate")]
    )
    # What is stored: the paper's version and protocol, and no cell (none could be read here).
    assert paper_results.FQL_TABLE == {} and paper_results.FQL_PAPER["ogbench_version"] == "1.1.0"
    rows = {r["method"]: r for r in report.table(results)}
    assert rows["IQL"]["fql_iql"] is None and rows["IQL"]["diff"] is None
    text = report.markdown(list(rows.values()))
    assert f"| {name} | IQL | 32.0 ± 2.0 | 32.0 ± 2.0 | 2 | – | – | – | – |" in text
    assert "ogbench 1.1.0" in text and "paper X-QL C" not in text  # not beside the D4RL columns

    # A cell read from the paper (a stand-in value here) appears beside ours; IQL is compared to it.
    monkeypatch.setitem(paper_results.FQL_TABLE, name, {"IQL": 30.0, "ReBRAC": 40.0, "FQL": 50.0})
    monkeypatch.setitem(paper_results.FQL_PAPER, "table", "Table X")
    rows = {r["method"]: r for r in report.table(results)}
    assert (rows["IQL"]["fql_rebrac"], rows["IQL"]["diff"]) == (40.0, pytest.approx(2.0))
    assert rows["X-QL"]["diff"] is None  # the paper has no X-QL
    text = report.markdown(list(rows.values()))
    assert "| IQL | 32.0 ± 2.0 | 32.0 ± 2.0 | 2 | 30.0 | 40.0 | 50.0 | +2.0 (vs IQL (FQL paper)) |" in text
    assert "Table X of Park, Li, Levine" in text


def test_rliable_intervals_contain_the_estimate_and_shrink_with_seeds(tmp_path):
    results = report.collect(
        "X-QL", [write_run(tmp_path / "a", "hopper-medium-v2", [40.0, 50.0, 90.0, 120.0])]
    )
    matrices, notes = report.score_matrices(results)
    assert matrices["X-QL"].shape == (4, 1) and notes == []
    rows, _, _ = report.aggregates(matrices, reps=300, seed=0)
    stats = {a.statistic: a for a in rows}
    assert stats["IQM"].estimate == pytest.approx(70.0)  # the middle two of 40, 50, 90, 120
    assert stats["Mean"].estimate == pytest.approx(75.0)
    assert stats["Optimality Gap"].estimate == pytest.approx(100 - (40 + 50 + 90 + 100) / 4)
    for a in rows:
        assert a.ci_low <= a.estimate <= a.ci_high and a.ci_low < a.ci_high
    assert 40.0 <= stats["IQM"].ci_low and stats["IQM"].ci_high <= 120.0
    # Same seeded bootstrap, same numbers; the caller's global numpy state is left as it was.
    np.random.seed(7)
    expected = np.random.rand()
    np.random.seed(7)
    assert report.aggregates(matrices, reps=300, seed=0)[0] == rows
    assert np.random.rand() == expected

    # The same spread of scores from 8 times as many seeds, on two datasets: narrower intervals
    # (IQM 15.0 -> 8.8 wide, mean 13.3 -> 4.8 with this seed).
    widths = []
    for copies in (1, 8):
        dirs = [
            write_run(tmp_path / f"x{copies}" / name, name, [40.0, 50.0, 60.0] * copies)
            for name in ("hopper-medium-v2", "walker2d-medium-v2")
        ]
        matrices, _ = report.score_matrices(report.collect("X-QL", dirs))
        assert matrices["X-QL"].shape == (3 * copies, 2)
        stats = {a.statistic: a for a in report.aggregates(matrices, reps=300)[0]}
        assert stats["IQM"].estimate == pytest.approx(50.0)
        assert stats["IQM"].ci_low <= 50.0 <= stats["IQM"].ci_high
        widths.append([stats[s].ci_high - stats[s].ci_low for s in ("IQM", "Mean")])
    assert widths[1][0] < 0.75 * widths[0][0] and widths[1][1] < 0.5 * widths[0][1]


def test_report_script_prints_the_comparison_and_the_intervals(d4rl_runs, tmp_path):
    out = tmp_path / "out" / "report"
    runs = ",".join(f"{label}={'+'.join(dirs)}" for label, dirs in d4rl_runs.items())
    result = run_script(
        "report.py", [f"--runs={runs}", f"--out={out}", "--reps=200", "--paper_column=IQL=IQL"], timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| paper X-QL C | paper X-QL T | paper IQL | ours − paper |" in result.stdout
    assert "| +2.5 (vs X-QL C) |" in result.stdout
    assert "| method | runs × datasets | IQM | Mean | Median | Optimality Gap |" in result.stdout
    assert "| X-QL | 2 × 4 |" in result.stdout  # hopper keeps 2 finished runs: 2 of each dataset
    assert "1 diverged run(s) left out" in result.stdout
    with open(f"{out}_aggregates.csv") as f:
        aggregates = list(csv.DictReader(f))
    iqm = next(a for a in aggregates if (a["method"], a["statistic"]) == ("IQL", "IQM"))
    assert float(iqm["estimate"]) == pytest.approx(62.0)
    assert float(iqm["ci_low"]) <= 62.0 <= float(iqm["ci_high"])
    with open(f"{out}.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["method"] for r in rows} == {"X-QL", "IQL", "X-QL FT"} and "paper_xql_c" in rows[0]
    for suffix in (".png", "_profile.png", "_curves.png"):
        assert os.path.getsize(f"{out}{suffix}") > 10_000

    missing = run_script("report.py", [f"--runs=X={tmp_path}/none"], timeout=120)
    assert missing.returncode != 0 and "no summary.json" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_unfinished_or_foreign_workdirs_are_refused_in_one_line(tmp_path, d4rl_runs):
    # A fine-tuning run killed in its online phase: the summary is the offline phase's (step 1000),
    # its rows reach 2000. It was reported as the run's result.
    unfinished = tmp_path / "unfinished"
    write_member(unfinished, "antmaze-umaze-v0", 10.0, [(500, 5.0), (1000, 10.0)], offline_steps=1000)
    with open(unfinished / "eval.jsonl", "a") as f:
        f.write(json.dumps({"step": 2000, "normalized_score": 50.0}) + "\n")
    with pytest.raises(
        ValueError, match=r"summary.json is from step 1000 but .*unfinished's rows reach step 2000"
    ):
        report.collect("X-QL", [str(unfinished)])
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "summary.json").write_text('{"metric": ')
    with pytest.raises(ValueError, match=r"bad/summary.json is not readable JSON"):
        report.collect("X-QL", [str(bad)])
    (bad / "summary.json").write_text('{"env_name": "x", "last": 1, "best": 1, "steps": 1}')
    with pytest.raises(ValueError, match=r"bad/summary.json has no 'metric': not a summary this code wrote"):
        report.collect("X-QL", [str(bad)])
    (bad / "summary.json").write_text('{"groups": {"all": {}}}')
    with pytest.raises(ValueError, match=r"summary.json \(group 'all'\) has no 'members'"):
        report.collect("X-QL", [str(bad)])

    run = d4rl_runs["IQL"][0]
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    for args, message in (
        (["--reps=0"], "--reps must be at least 1"),
        (["--paper_column=IQM=IQL"], "--paper_column=IQM=IQL names 'IQM', which is none of --runs' labels"),
        ([f"--out={a_file}/report"], "cannot create the --out folder"),
    ):
        result = run_script("report.py", [f"--runs=IQL={run}", *args], timeout=120, cwd=tmp_path)
        lines = result.stderr.strip().splitlines()
        assert result.returncode != 0 and len(lines) == 1 and message in lines[0], result.stderr[-2000:]


def test_a_method_mixing_normalized_scores_and_returns_is_refused(tmp_path):
    normalized = write_run(tmp_path / "with_refs", "hopper-medium-v2", [60.0, 70.0])
    raw = write_run(tmp_path / "raw", "hopper-medium-v2", [2000.0], metric="return_mean")
    results = report.collect("X-QL", [normalized, raw])
    with pytest.raises(ValueError, match="mixes metrics") as error:
        report.table(results)
    assert os.path.join(raw, "seed0") in str(error.value) and "return_mean" in str(error.value)
    with pytest.raises(ValueError, match="mixes metrics"):
        report.score_matrices(results)
    # Kept apart under two labels they are fine: no normalized score averaged with a return.
    rows = report.table(report.collect("X-QL", [normalized]) + report.collect("X-QL raw", [raw]))
    assert [(r["metric"], r["last_mean"]) for r in rows] == [
        ("normalized_score", 65.0),
        ("return_mean", 2000.0),
    ]
    assert rows[1]["paper_xql_c"] is None and rows[1]["diff"] is None
    result = run_script("report.py", [f"--runs=X-QL={normalized}+{raw}"], timeout=120, cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1 and "mixes metrics" in lines[0]
    assert os.path.join(raw, "seed0") in lines[0] and "Traceback" not in result.stderr


def test_curves_are_aligned_by_step_and_cut_off_rows_skipped(tmp_path):
    # seed0 evaluated at 10, 20, 30 and was killed while writing a row; seed1 has only eval.csv,
    # evaluated at 10 and 30 (another interval), with a cut-off last row.
    write_member(tmp_path / "seed0", "hopper-medium-v2", 3.0, [(10, 1.0), (20, 2.0), (30, 3.0)])
    with open(tmp_path / "seed0" / "eval.jsonl", "a") as f:
        f.write('{"step": 40, "normalized_score": 4')
    write_member(tmp_path / "seed1", "hopper-medium-v2", 7.0, [(10, 5.0), (30, 7.0)])
    os.remove(tmp_path / "seed1" / "eval.jsonl")
    with open(tmp_path / "seed1" / "eval.csv", "a") as f:
        f.write("40,100.0,1.0,9")
    curves = [report.read_curve(str(tmp_path / s), "normalized_score") for s in ("seed0", "seed1")]
    np.testing.assert_array_equal(curves[0][0], [10, 20, 30])
    np.testing.assert_array_equal(curves[1][0], [10, 30])
    steps, values, dropped = report.aligned_curves(curves)
    np.testing.assert_array_equal(steps, [10, 30])
    np.testing.assert_allclose(values.mean(0), [3.0, 5.0])  # by row it would pair 20 with 30
    assert dropped == 1

    out = tmp_path / "curve.png"
    result = run_script(
        "plot_curves.py",
        [f"--runs=X-QL={tmp_path / 'seed0'}+{tmp_path / 'seed1'}", f"--out={out}"],
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        "X-QL: mean over 2 seeds at the 2 steps all evaluated; left out 1 step(s) only some seeds evaluated"
        in (result.stdout)
    )
    assert os.path.getsize(out) > 10_000


def test_sweeps_into_one_root_keep_each_others_rows_and_a_diverged_seed_has_no_std(tmp_path):
    path = str(tmp_path / "results.csv")
    group = {"last": {"mean": 5.0, "std": 1.0, "n": 2}, "best": {"mean": 6.0, "std": 0.5, "n": 2}}
    summary = {"metric": "normalized_score", "groups": {"beta=1": group, "beta=2": group}}
    assert report.merge_sweep_results(path, report.sweep_rows(64, summary)) == 0
    # A second sweep into the same root (another batch size) replaced the whole file before.
    assert report.merge_sweep_results(path, report.sweep_rows(16, summary)) == 2
    rows = list(csv.DictReader(open(path)))
    assert [(r["batch_size"], r["setting"]) for r in rows] == [
        ("16", "beta=1"),
        ("16", "beta=2"),
        ("64", "beta=1"),
        ("64", "beta=2"),
    ]
    # A single seed that diverged: no std, as a group whose every seed diverged (it wrote 0.0).
    diverged = {"metric": "normalized_score", "last": None, "best": 3.0}
    (row,) = report.sweep_rows(64, diverged)
    assert (row["last_mean"], row["last_std"], row["seeds"]) == (None, None, 0)
    assert report.merge_sweep_results(path, [row]) == 4
    rows = list(csv.DictReader(open(path)))
    assert [(r["batch_size"], r["setting"], r["last_std"]) for r in rows][-2:] == [
        ("64", "beta=2", "1.0"),
        ("64", "all", ""),
    ]
    assert report.merge_sweep_results(path, report.sweep_rows(16, summary)) == 3  # run again: replaced
    assert len(list(csv.DictReader(open(path)))) == 5


def test_plot_curves_says_a_run_diverged_before_its_first_evaluation(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"diverged": "training diverged at step 100: x"}))
    result = run_script("plot_curves.py", [f"--runs=X-QL={tmp_path}", f"--out={tmp_path}/c.png"], timeout=120)
    assert result.returncode != 0
    assert "has no evaluation: it diverged before its first (training diverged at step 100" in result.stderr


def test_report_names_each_runs_evaluation_protocol_and_flags_best_over_different_counts(tmp_path):
    official = {"protocol": "official", "kind": "offline", "interval": 5000, "episodes": 10}
    project = {"protocol": "project", "kind": "offline", "interval": 50000, "episodes": 10}
    write_member(tmp_path / "a", "hopper-medium-v2", 60.0, [(5000, 50.0), (10000, 60.0)],
                 evaluation=official, evaluations=200)  # fmt: skip
    write_member(tmp_path / "b", "hopper-medium-v2", 58.0, [(50000, 40.0), (100000, 58.0)],
                 evaluation=project, evaluations=20)  # fmt: skip
    write_member(tmp_path / "c", "hopper-medium-v2", 57.0, [(50000, 57.0)])  # an older run: no record
    results = (
        report.collect("X-QL official", [str(tmp_path / "a")])
        + report.collect("X-QL", [str(tmp_path / "b")])
        + report.collect("X-QL old", [str(tmp_path / "c")])
    )
    rows = {r["method"]: r for r in report.table(results)}
    assert rows["X-QL official"]["evaluation"] == "official: every 5000 steps x 10 episodes, best of 200"
    assert rows["X-QL"]["evaluation"] == "project: every 50000 steps x 10 episodes, best of 20"
    assert rows["X-QL old"]["evaluation"] == "unrecorded, best of 1"  # counted from its curve
    (note,) = report.best_comparability_notes(results)
    assert note.startswith("hopper-medium-v2: 'best' is a maximum over different numbers of evaluations")
    assert "X-QL old: 1; X-QL: 20; X-QL official: 200" in note
    assert report.best_comparability_notes(results[:1]) == []
    text = report.markdown(list(rows.values()), notes=[note])
    assert "| official: every 5000 steps x 10 episodes, best of 200 |" in text and "Note: hopper" in text
