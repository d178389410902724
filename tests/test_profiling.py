"""The profile of the scanned update (xql_jax.profiling, benchmark.py --profile) read back on the CPU."""

import time

import jax
import numpy as np
import pytest

from tests.conftest import run_script
from xql_jax import profiling
from xql_jax.agents import xql
from xql_jax.train import make_train_chunk

TINY = xql.XQLConfig(hidden_dims=(8, 8), decay_steps=100)


def test_trace_summary_splits_step_time_and_ranks_operations(tmp_path):
    rng = np.random.default_rng(0)
    data = {
        "observations": rng.standard_normal((64, 3), np.float32),
        "actions": rng.uniform(-1, 1, (64, 2)).astype(np.float32),
        "rewards": rng.standard_normal(64).astype(np.float32),
        "masks": np.ones(64, np.float32),
        "next_observations": rng.standard_normal((64, 3), np.float32),
        "next_actions": rng.uniform(-1, 1, (64, 2)).astype(np.float32),
    }
    chunk = make_train_chunk(TINY, 16, 5)
    state = xql.create_state(jax.random.PRNGKey(0), 3, 2, TINY)
    state, _ = jax.block_until_ready(chunk(state, data))
    with jax.profiler.trace(str(tmp_path)):
        start = time.perf_counter()
        for _ in range(2):
            state, metrics = jax.block_until_ready(chunk(state, data))
        wall = time.perf_counter() - start
    summary = profiling.summarize_trace(profiling.latest_trace(str(tmp_path)), wall, steps=10, top=5)
    assert summary["device"] == "cpu" and summary["steps"] == 10
    assert summary["compute_ms"] > 0 and summary["launch_ms"] >= 0
    np.testing.assert_allclose(summary["compute_ms"] + summary["host_ms"], summary["step_ms"], rtol=1e-6)
    # Operations ran within the traced calls; the twin critics and three networks make dots.
    assert summary["compute_ms"] <= summary["step_ms"] and summary["op_time_ms"] >= summary["compute_ms"]
    names = [op["name"] for op in summary["top_ops"]]
    assert len(names) == 5 and not any(name.startswith("while") for name in names)
    shares = [op["share"] for op in summary["top_ops"]]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1
    assert "compute" in profiling.format_summary(summary)
    with pytest.raises(FileNotFoundError, match="no \\*.xplane.pb under"):
        profiling.latest_trace(str(tmp_path / "empty"))


def test_benchmark_profile_flag_writes_a_trace_and_prints_the_split(tmp_path):
    tiny = ["--num_transitions=500", "--hidden=8", "--scan_steps=4", "--host_steps=2", "--repeats=1"]
    result = run_script(
        "benchmark.py",
        [*tiny, "--num_seeds=2", "--parts=offline", f"--profile={tmp_path}", "--profile_calls=1"],
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("profile on cpu:") == 2 and "top operations" in result.stdout
    assert profiling.latest_trace(str(tmp_path / "vmap")).endswith(".xplane.pb")
