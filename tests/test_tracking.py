"""Optional wandb logging: one offline run per member, its rows read back, resumed runs, lazy import."""

import glob
import json
import os
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

from xql_jax import tracking
from xql_jax.runs import RunSpec, Watch


@pytest.fixture
def offline_wandb(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    return tmp_path


def read_records(run_dir):
    """The records of an offline run's ``run-<id>.wandb`` file, parsed with wandb's own protobufs.

    The file is a LevelDB-style log: a 7-byte header (":W&B", magic, version), then 32 KiB blocks of
    chunks, each with a 7-byte header (CRC, length, type: 1 full, 2 first, 3 middle, 4 last).
    """
    from wandb.proto import wandb_internal_pb2

    paths = glob.glob(os.path.join(run_dir, "run-*.wandb"))
    if not paths:
        return []
    (path,) = paths
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b":W&B" or len(data) < 7
    records, pending, pos = [], b"", 7
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        if left < 7:  # a block's tail too short for a header is padding
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if pos + 7 + length > len(data):  # a chunk still being written
            break
        if kind == 0:
            pos += left
            continue
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def finished_records(run_dir, timeout=60.0):
    """The run's records once its "exit" record is on disk: wandb's service writes the file on its
    own, and under load ``finish()`` can return before it has (the process's exit would flush it)."""
    deadline = time.monotonic() + timeout
    while True:
        records = read_records(run_dir)
        if any(r.WhichOneof("record_type") == "exit" for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


def history(records):
    rows = []
    for record in records:
        if record.WhichOneof("record_type") == "history":
            # Keys with a "/" are stored split, as nested_key.
            items = {item.key or "/".join(item.nested_key): item.value_json for item in record.history.item}
            rows.append({key: json.loads(value) for key, value in items.items() if not key.startswith("_")})
    return rows


def test_offline_run_holds_the_logged_rows_and_resumes_the_same_run(offline_wandb):
    member_dir = str(offline_wandb / "runs" / "xql" / "seed0")
    config = {"agent": {"beta": 2.0, "value_loss": "gumbel"}, "batch_size": 256}
    logger = tracking.from_config(
        {"project": "xql-test"}, str(offline_wandb / "runs" / "xql"), member_dir, "seed0", config
    )
    first_id = logger.run_id
    first_dir = os.path.dirname(logger.run.dir)  # .../wandb/offline-run-<time>-<id>/files
    assert logger.run.id == first_id and first_dir.startswith(os.path.join(member_dir, "wandb"))
    assert logger.run.group == os.path.normpath(str(offline_wandb / "runs" / "xql"))
    logger.log_train(1000, {"critic_loss": np.float32(0.5), "v": 1.25, "hidden": [1, 2]})
    logger.log_eval(1000, {"normalized_score": 42.0, "return_mean": 101.5, "normalized_score_std": None})
    logger.log_train(2000, {"critic_loss": 0.25, "v": 1.5})
    logger.close()
    logger.close()  # closing twice is harmless, as RunLogger's

    records = finished_records(first_dir)
    rows = history(records)
    assert rows == [
        {"step": 1000, "train/critic_loss": 0.5, "train/v": 1.25},
        {"step": 1000, "eval/normalized_score": 42.0, "eval/return_mean": 101.5},
        {"step": 2000, "train/critic_loss": 0.25, "train/v": 1.5},
    ]
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert run.run_id == first_id and run.project == "xql-test" and run.display_name == "xql/seed0"
    logged_config = {item.key: json.loads(item.value_json) for item in run.config.update}
    assert (
        logged_config["agent"] == {"beta": 2.0, "value_loss": "gumbel"} and logged_config["batch_size"] == 256
    )

    # The run resumed from its checkpoint continues the same wandb run; a fresh one gets a new id.
    resumed = tracking.WandbLogger("xql-test", directory=member_dir, config=config, resume=True)
    assert resumed.run.id == first_id
    resumed.log_eval(3000, {"normalized_score": 50.0})
    resumed.close()
    second_dir = os.path.dirname(resumed.run.dir)
    assert second_dir != first_dir and history(finished_records(second_dir)) == [
        {"step": 3000, "eval/normalized_score": 50.0}
    ]
    fresh = tracking.WandbLogger("xql-test", directory=member_dir, resume=False)
    fresh.close()
    assert fresh.run.id != first_id
    with open(os.path.join(member_dir, tracking.RUN_ID_FILE)) as f:
        assert f.read().strip() == fresh.run.id

    assert tracking.from_config(None, "w", member_dir, "seed0") is None
    assert tracking.from_config({"project": ""}, "w", member_dir, "seed0") is None


def test_loggers_fan_out_to_every_logger():
    class Recorder:
        def __init__(self):
            self.calls = []

        def log_train(self, step, metrics):
            self.calls.append(("train", step, dict(metrics)))

        def log_eval(self, step, results):
            self.calls.append(("eval", step, dict(results)))

        def close(self):
            self.calls.append(("close",))

    from xql_jax.outputs import close_all
    from xql_jax.runs import Member, MemberRecords

    a, b = Recorder(), Recorder()
    both = MemberRecords("w", [Member(0)], outputs=[[a, b]])  # a member's outputs, as the loops inject them
    both.log_train(5, {"q": np.array([1.0])})
    both.log_eval(5, np.array([[3.0]]), {"ref_min_score": 0.0, "ref_max_score": 100.0})
    close_all(both.outputs[0])
    assert a.calls == b.calls
    assert a.calls[0] == ("train", 5, {"q": 1.0}) and a.calls[2] == ("close",)
    assert a.calls[1][:2] == ("eval", 5) and a.calls[1][2]["normalized_score"] == 3.0


def test_importing_the_package_and_tracking_leaves_wandb_unimported():
    code = (
        "import sys, xql_jax, xql_jax.tracking, xql_jax.report; assert 'wandb' not in sys.modules, 'imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_run_with_wandb_logs_every_members_rows(offline_wandb, small_maze_file, tiny_offline_config, quiet):
    from xql_jax.outputs import wandb_outputs
    from xql_jax.train import train_offline

    workdir = str(offline_wandb / "run")
    outputs = wandb_outputs({"project": "xql-test"}, workdir)
    train_offline(
        tiny_offline_config,
        RunSpec("pointmaze-umaze-v0", dataset_path=small_maze_file, num_seeds=2),
        Watch(workdir, outputs=outputs, **quiet),
    )
    for member in ("seed0", "seed1"):
        (run_dir,) = glob.glob(os.path.join(workdir, member, "wandb", "offline-run-*"))
        rows = history(finished_records(run_dir))
        files = [json.loads(line) for line in open(os.path.join(workdir, member, "metrics.jsonl"))]
        logged = [r for r in rows if "train/critic_loss" in r]
        assert [r["step"] for r in logged] == [f["step"] for f in files] == [20, 40]
        assert [r["train/critic_loss"] for r in logged] == pytest.approx([f["critic_loss"] for f in files])
        assert [r["step"] for r in rows if "eval/normalized_score" in r] == [40]
    # A launcher run without --wandb_project never imports wandb: tests/test_launcher.py.
