"""Smoke tests of experiments/train_offline.py as a user runs it, with tiny networks."""

import csv
import json
import os
import re

import pytest

from tests.conftest import ROOT, run_script
from tests.conftest import run_offline_launcher as run

TINY = [
    "--config.agent.hidden_dims=(16,16)",
    "--config.max_steps=300",
    "--config.log_interval=100",
    "--config.eval_interval=100",
    "--config.eval_episodes=2",
    "--config.batch_size=32",
    "--progress=false",
]


@pytest.mark.parametrize("variant", ["xql", "iql"])
def test_launcher_trains_and_writes_outputs(tmp_path, small_maze_file, variant):
    workdir = tmp_path / "run"
    result = run(
        [
            f"--config={ROOT}/configs/maze.py:{variant}",
            f"--workdir={workdir}",
            f"--dataset_path={small_maze_file}",
            *TINY,
        ],
        report_wandb=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"FINAL pointmaze-umaze-v0 {variant} seed=0: normalized_score last=" in result.stdout
    assert "wandb imported: False" in result.stderr  # without --wandb_project wandb is never imported
    # The console holds the run's own lines: no Orbax INFO log of every save, no import notices.
    assert "checkpoint_manager" not in result.stderr and "reward functions were updated" not in result.stderr
    assert {"config.json", "metrics.jsonl", "eval.jsonl", "eval.csv", "summary.json", "tb"} <= set(
        os.listdir(workdir)
    )
    assert os.listdir(workdir / "tb")  # TensorBoard events were written
    metrics = [json.loads(line) for line in open(workdir / "metrics.jsonl")]
    assert [m["step"] for m in metrics] == [100, 200, 300]
    evaluations = [json.loads(line) for line in open(workdir / "eval.jsonl")]
    assert [e["step"] for e in evaluations] == [100, 200, 300]
    assert all(e["normalized_score"] is not None for e in evaluations)
    config = json.load(open(workdir / "config.json"))
    assert config["agent"]["value_loss"] == ("gumbel" if variant == "xql" else "expectile")
    assert config["agent"]["hidden_dims"] == [16, 16]
    summary = json.load(open(workdir / "summary.json"))
    assert summary["last"] == evaluations[-1]["normalized_score"]
    assert summary["best"] == max(e["normalized_score"] for e in evaluations)


def test_missing_dataset_file_is_a_clear_error(tmp_path):
    result = run([f"--dataset_path={tmp_path}/absent.hdf5", f"--workdir={tmp_path}/w", *TINY])
    assert result.returncode != 0
    assert "dataset file not found" in result.stderr and "absent.hdf5" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_config_field_is_a_clear_error(tmp_path, small_maze_file):
    result = run(
        [f"--dataset_path={small_maze_file}", f"--workdir={tmp_path}/w", "--config.agent.betta=3", *TINY]
    )
    assert result.returncode != 0
    assert "error: --config.agent.betta=3: unknown config field agent.betta; did you mean beta?" in (
        result.stderr
    )
    assert "config.agent has ['actor_cosine_decay'" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unknown_env_without_dataset_is_a_clear_error(tmp_path, monkeypatch):
    result = run(["--env_name=hopper-nonsense-v9", f"--workdir={tmp_path}/w", *TINY])
    assert result.returncode != 0
    assert (
        "unknown dataset name 'hopper-nonsense-v9'. Accepted: the embedded pointmaze-umaze-v0"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
    monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path / "d4rl"))  # a D4RL name whose file is absent
    result = run(["--env_name=hopper-medium-v2", f"--workdir={tmp_path}/w2", *TINY])
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert (
        f"D4RL dataset 'hopper-medium-v2' not found: looked for {tmp_path}/d4rl/hopper_medium-v2.hdf5"
        in result.stderr
    )


def test_seeds_and_beta_sweep_in_one_program(tmp_path, small_maze_file):
    workdir = tmp_path / "sweep"
    result = run(
        [
            f"--workdir={workdir}",
            f"--dataset_path={small_maze_file}",
            "--num_seeds=2",
            "--sweep=beta=1,5",
            *TINY,
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    members = ["seed0_beta1", "seed1_beta1", "seed0_beta5", "seed1_beta5"]
    for member in members:
        summary = json.load(open(workdir / member / "summary.json"))
        assert summary["hyperparams"]["beta"] == float(member[-1])
        assert len(open(workdir / member / "eval.jsonl").readlines()) == 3
    aggregate = json.load(open(workdir / "summary.json"))
    assert sorted(aggregate["members"]) == sorted(members)
    assert set(aggregate["groups"]) == {"beta=1", "beta=5"}
    assert aggregate["groups"]["beta=1"]["last"]["n"] == 2
    assert "FINAL pointmaze-umaze-v0 xql beta=1: normalized_score last=" in result.stdout
    assert "mean +- std over 2 seeds" in result.stdout


def test_sweep_launcher_runs_one_program_per_batch_size(tmp_path, small_maze_file):
    workdir = tmp_path / "batches"
    result = run_script(
        "sweep.py",
        [
            f"--workdir={workdir}",
            f"--dataset_path={small_maze_file}",
            "--batch_sizes=16,64",
            "--num_seeds=2",
            "--sweep=beta=2,1e-30",  # beta=1e-30 diverges at once (the Gumbel loss explodes)
            *[flag for flag in TINY if not flag.startswith("--config.batch_size")],
        ],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.DictReader(open(workdir / "results.csv")))
    assert [(int(r["batch_size"]), r["setting"]) for r in rows] == [
        (16, "beta=2"),
        (16, "beta=1e-30"),
        (64, "beta=2"),
        (64, "beta=1e-30"),
    ]
    assert [int(r["seeds"]) for r in rows] == [2, 0, 2, 0]
    assert len(re.findall(r"batch +(16|64) beta=1e-30 +every seed diverged", result.stdout)) == 2
    for batch_size in (16, 64):
        config = json.load(open(workdir / f"batch{batch_size}" / "seed0_beta2" / "config.json"))
        assert config["batch_size"] == batch_size


def test_divergence_stops_the_run_naming_step_and_loss(tmp_path, small_maze_file):
    # Adam moves every weight by about the learning rate per step: 1e6 blows the critic up at once.
    result = run(
        [
            f"--workdir={tmp_path}/w",
            f"--dataset_path={small_maze_file}",
            "--config.agent.critic_lr=1e6",
            *TINY,
        ]
    )
    assert result.returncode != 0
    assert "training diverged at step 100:" in result.stderr
    assert "Traceback" not in result.stderr
