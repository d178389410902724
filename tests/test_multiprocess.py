"""Several processes (jax.distributed on localhost, one CPU device each) train the members of one run
together: process 0 evaluates and writes, and every member's results equal a one-process run's."""

import json
import os
import socket
import subprocess
import sys

import pytest

from tests.conftest import FAST_COMPILE_XLA_FLAGS, ROOT
from tests.multiprocess_worker import train_both


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def rows(path):
    drop = ("wall_time", "steps_per_second", "env_steps_per_second")
    return [{k: v for k, v in json.loads(line).items() if k not in drop} for line in open(path)]


def test_two_processes_train_four_members_as_one_process_does(tmp_path, small_maze_file, quiet):
    port = free_port()
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = FAST_COMPILE_XLA_FLAGS  # and no forced device count: one device per process
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.multiprocess_worker",
                str(i),
                str(port),
                str(tmp_path / "two"),
                small_maze_file,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=300)[0] for p in processes]
    finally:
        for process in processes:
            process.kill()
    for i, (process, output) in enumerate(zip(processes, outputs, strict=True)):
        # Process 1 fails if it makes any output or summary (the worker forbids it): only 0 writes.
        assert process.returncode == 0, output[-3000:]
        assert f"process {i} done" in output

    train_both(str(tmp_path / "one"), small_maze_file, log=quiet["log"])
    for phase, members in (("offline", 4), ("online", 4)):
        for m in range(members):
            one, two = tmp_path / "one" / phase / f"seed{m}", tmp_path / "two" / phase / f"seed{m}"
            for name in ("metrics.jsonl", "eval.jsonl"):
                a, b = rows(one / name), rows(two / name)
                assert [r["step"] for r in a] == [r["step"] for r in b] and len(a) >= 2
                for row_a, row_b in zip(a, b, strict=True):
                    for key, value in row_a.items():
                        if isinstance(value, float):  # the same programs, sharded: float noise at most
                            assert row_b[key] == pytest.approx(value, rel=1e-4, abs=1e-5), (phase, m, key)
                        else:
                            assert row_b[key] == value
        summary = json.load(open(tmp_path / "two" / phase / "summary.json"))
        assert summary["members"] == [f"seed{m}" for m in range(4)] and not summary["diverged"]
