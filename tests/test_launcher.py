"""Smoke tests of experiments/train_offline.py as a user runs it, with tiny networks."""

import json
import os
import subprocess
import sys

import pytest

from xql_jax.data import pointmaze

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = [
    "--config.agent.hidden_dims=(16,16)",
    "--config.max_steps=300",
    "--config.log_interval=100",
    "--config.eval_interval=100",
    "--config.eval_episodes=2",
    "--config.batch_size=32",
    "--progress=false",
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("data")
    pointmaze.ensure_dataset(
        data_dir=str(path), num_steps=3000, num_reference_episodes=2, log=lambda *_: None
    )
    return str(path)


def run(args, cwd=ROOT):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "experiments", "train_offline.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("variant", ["xql", "iql"])
def test_launcher_trains_and_writes_outputs(tmp_path, data_dir, variant):
    workdir = tmp_path / "run"
    result = run(
        [
            f"--config={ROOT}/configs/maze.py:{variant}",
            f"--workdir={workdir}",
            f"--data_dir={data_dir}",
            *TINY,
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"FINAL pointmaze-umaze-v0 {variant} seed=0: normalized_score last=" in result.stdout
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


def test_unknown_config_field_is_a_clear_error(tmp_path, data_dir):
    result = run([f"--data_dir={data_dir}", f"--workdir={tmp_path}/w", "--config.agent.betta=3", *TINY])
    assert result.returncode != 0
    assert "betta" in result.stderr


def test_unknown_env_without_dataset_is_a_clear_error(tmp_path):
    result = run(["--env_name=hopper-medium-v2", f"--workdir={tmp_path}/w", *TINY])
    assert result.returncode != 0
    assert "no dataset for env_name='hopper-medium-v2'" in result.stderr
    assert "Traceback" not in result.stderr
