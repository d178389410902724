"""Checkpoints that resume: a run killed with SIGKILL and started again ends as if never interrupted."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from tests.conftest import ROOT, kill_after_checkpoint
from tests.conftest import run_offline_launcher as run
from xql_jax.agents import xql
from xql_jax.checkpoints import Checkpointer
from xql_jax.outputs import RunLogger
from xql_jax.runs import Member, RunSpec, Watch
from xql_jax.train import init_member_states

ARGS = [
    "--config.agent.hidden_dims=(16,16)",
    "--config.batch_size=32",
    "--config.max_steps=2000",
    "--config.log_interval=100",
    "--config.eval_interval=500",
    "--config.checkpoint_interval=500",
    "--config.eval_episodes=2",
    "--progress=false",
]


def final_state(workdir):
    template = init_member_states([Member(0)], 4, 2, xql.XQLConfig(hidden_dims=(16, 16)))
    checkpointer = Checkpointer(str(workdir))
    state, record = checkpointer.restore_latest(template, log=lambda *_: None)
    checkpointer.close()
    return state, record


def rows(path, drop=("steps_per_second", "wall_time")):
    return [{k: v for k, v in json.loads(line).items() if k not in drop} for line in open(path)]


def test_sigkill_mid_run_then_resume_equals_uninterrupted_run(tmp_path, small_maze_file):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    result = run([f"--workdir={straight}", f"--dataset_path={small_maze_file}", *ARGS])
    assert result.returncode == 0, result.stderr[-3000:]

    kill_after_checkpoint(
        "train_offline.py", [f"--workdir={killed}", f"--dataset_path={small_maze_file}", *ARGS], killed, 1000
    )
    assert max(json.loads(line)["step"] for line in open(killed / "metrics.jsonl")) < 2000

    result = run([f"--workdir={killed}", f"--dataset_path={small_maze_file}", *ARGS])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming from the checkpoint at step" in result.stdout

    resumed_state, resumed_record = final_state(killed)
    straight_state, straight_record = final_state(straight)
    assert resumed_record["step"] == straight_record["step"] == 2000
    for a, b in zip(
        jax.tree_util.tree_leaves(resumed_state), jax.tree_util.tree_leaves(straight_state), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    # The logs continue without duplicates or gaps and equal the uninterrupted run's.
    assert rows(killed / "metrics.jsonl") == rows(straight / "metrics.jsonl")
    assert [r["step"] for r in rows(killed / "metrics.jsonl")] == list(range(100, 2001, 100))
    assert rows(killed / "eval.jsonl") == rows(straight / "eval.jsonl")
    csv_lines = open(killed / "eval.csv").read().splitlines()
    assert csv_lines[0].startswith("step,") and [line.split(",")[0] for line in csv_lines[1:]] == [
        "500",
        "1000",
        "1500",
        "2000",
    ]

    # Killed before its first checkpoint (only the last one is kept), then started again: the
    # restart begins afresh and its files hold one copy of each row, as the uninterrupted run's.
    early = tmp_path / "early"
    only_at_end = [a.replace("checkpoint_interval=500", "checkpoint_interval=0") for a in ARGS]
    early_args = [f"--workdir={early}", f"--dataset_path={small_maze_file}", *only_at_end]
    kill_after_checkpoint("train_offline.py", early_args, early, None)
    assert not list((early / "checkpoints").glob("[0-9]*")) and (early / "metrics.jsonl").exists()
    result = run(early_args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert rows(early / "metrics.jsonl") == rows(straight / "metrics.jsonl")
    assert rows(early / "eval.jsonl") == rows(straight / "eval.jsonl")
    assert open(early / "eval.csv").read().count("\n") == 5  # header + 4 evaluations
    summary = json.load(open(killed / "summary.json"))
    assert summary["last"] == json.load(open(straight / "summary.json"))["last"]


def test_a_finished_run_started_again_is_not_retrained_and_a_changed_config_is_refused(
    tmp_path, small_maze_file, tiny_offline_config
):
    from xql_jax.train import train_offline

    lines = []
    spec = RunSpec("pointmaze-umaze-v0", dataset_path=small_maze_file)
    watch = Watch(str(tmp_path), progress=False, log=lines.append)
    train_offline(tiny_offline_config, spec, watch)
    before = open(tmp_path / "metrics.jsonl").read()
    lines.clear()
    summary = train_offline(tiny_offline_config, spec, watch)
    assert any("resuming from the checkpoint at step 40" in line for line in lines) and summary["steps"] == 40
    assert open(tmp_path / "metrics.jsonl").read() == before  # nothing retrained, nothing duplicated
    tiny_offline_config.agent.beta = 5.0
    with pytest.raises(ValueError, match=r"holds another run \(agent\.beta: 2\.0 -> 5\.0\)"):
        train_offline(tiny_offline_config, spec, watch)


def test_logger_cuts_rows_after_the_checkpoint_and_rows_cut_off_by_a_kill(tmp_path):
    logger = RunLogger(str(tmp_path), tensorboard=False)
    for step in (100, 200, 300):
        logger.log_train(step, {"loss": float(step)})
        logger.log_eval(step, {"return_mean": 1.0})
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write('{"step": 400, "lo')  # a row the kill cut off
    RunLogger(str(tmp_path), tensorboard=False, resume_step=200)
    assert [json.loads(line)["step"] for line in open(tmp_path / "metrics.jsonl")] == [100, 200]
    assert [json.loads(line)["step"] for line in open(tmp_path / "eval.jsonl")] == [100, 200]
    assert open(tmp_path / "eval.csv").read().splitlines() == ["step,return_mean", "100,1.0", "200,1.0"]


def test_tensorboard_rows_are_on_disk_when_logged_even_if_the_process_is_killed_next(tmp_path):
    """tensorboardX queued events for a thread that a kill soon after a checkpoint never drained; the
    resume then purged everything after the checkpoint, so those rows were lost for good."""
    from xql_jax.outputs import read_tensorboard_scalars

    code = (
        "import os, sys; from xql_jax.outputs import RunLogger\n"
        "logger = RunLogger(sys.argv[1])\n"
        "for step in range(1, 51): logger.log_train(step, {'loss': float(step)})\n"
        "os._exit(0)  # killed: nothing is closed\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, cwd=ROOT, timeout=60)
    assert read_tensorboard_scalars(str(tmp_path / "tb"))["train/loss"] == {s: float(s) for s in range(1, 51)}
    # A restart from the checkpoint at step 30 hides the earlier file's later steps, as TensorBoard does.
    RunLogger(str(tmp_path), resume_step=30).log_train(31, {"loss": -1.0})
    restarted = read_tensorboard_scalars(str(tmp_path / "tb"))["train/loss"]
    assert restarted == {**{s: float(s) for s in range(1, 31)}, 31: -1.0}


def test_a_cut_that_leaves_no_evaluation_keeps_eval_csv_readable(tmp_path):
    import csv

    logger = RunLogger(str(tmp_path), tensorboard=False)
    logger.log_eval(500, {"return_mean": 1.0})
    logger.close()
    logger = RunLogger(str(tmp_path), tensorboard=False, resume_step=0)  # a restart with no checkpoint
    logger.log_eval(500, {"return_mean": 2.0})
    assert list(csv.DictReader(open(tmp_path / "eval.csv"))) == [{"step": "500", "return_mean": "2.0"}]


def test_a_diverged_member_is_dropped_and_marked_while_the_others_go_on(tmp_path):
    import pytest

    from xql_jax.runs import MemberRecords, TrainingDiverged
    from xql_jax.workdir import member_dirs, write_summaries

    members = [Member(0), Member(1)]
    outputs = [[RunLogger(d, tensorboard=False)] for d in member_dirs(str(tmp_path), members)]
    records = MemberRecords(str(tmp_path), members, outputs)
    records.log_train(
        100, {"critic_loss": np.array([1.0, 2.0]), "nonfinite_params": np.array([0.0, 0.0])}, log=print
    )
    records.log_train(
        200, {"critic_loss": np.array([1.0, 3.0]), "nonfinite_params": np.array([0.0, 5.0])}, log=print
    )
    assert records.diverged == {1: "training diverged at step 200: 5 parameter values are not finite"}
    records.log_eval(200, np.array([[1.0, 3.0], [np.nan, np.nan]]), None)
    summary = write_summaries(records, 200, "return_mean", {"env_name": "x"}, {"beta": 2.0})
    assert summary["diverged"] == {"seed1": records.diverged[1]}
    assert summary["groups"]["all"]["last"] == {"mean": 2.0, "std": 0.0, "n": 1}
    assert "nonfinite_params" not in json.loads(open(tmp_path / "seed0" / "metrics.jsonl").readline())
    with pytest.raises(TrainingDiverged, match=r"every member diverged.*critic_loss = inf"):
        records.log_train(
            300, {"critic_loss": np.array([np.inf, 0.0]), "nonfinite_params": np.zeros(2)}, log=print
        )


def test_resuming_a_workdir_with_another_dataset_is_refused(tmp_path, small_maze_file):
    """A workdir holds one run: the same config on other data must not continue (or be reported as) it."""
    import shutil

    import pytest

    from xql_jax.configs import maze
    from xql_jax.train import train_offline

    config = maze.get_config()
    config.agent.hidden_dims = (8, 8)
    config.update(batch_size=16, max_steps=40, log_interval=20, eval_interval=40, checkpoint_interval=20)
    config.update(eval_episodes=1, eval_envs=1)
    quiet = dict(progress=False, log=lambda *_: None)
    first = train_offline(
        config,
        RunSpec("pointmaze-umaze-v0", dataset_path=small_maze_file),
        Watch(str(tmp_path / "run"), **quiet),
    )
    saved = json.load(open(tmp_path / "run" / "config.json"))["run"]
    assert saved["dataset"] == "pointmaze-umaze-v0" and saved["transitions"] == 3000 - 2 - 1
    # The same data moved elsewhere is the same run: resumed (finished, so not retrained).
    moved = tmp_path / "moved" / "data.hdf5"
    moved.parent.mkdir()
    shutil.copy(small_maze_file, moved)
    shutil.copy(os.path.splitext(small_maze_file)[0] + ".json", moved.parent / "data.json")
    again = train_offline(
        config, RunSpec("pointmaze-umaze-v0", dataset_path=str(moved)), Watch(str(tmp_path / "run"), **quiet)
    )
    assert again["last"] == first["last"]
    # Other content under the same name is refused before anything is restored.
    from xql_jax.data import pointmaze

    other = pointmaze.ensure_dataset(
        data_dir=str(tmp_path / "other"), num_steps=2000, num_reference_episodes=2, log=lambda *_: None
    )
    with pytest.raises(
        ValueError,
        match=r"on pointmaze-umaze-v0 \(.*content [0-9a-f]{16}\) \(references .*\), this run is on",
    ):
        train_offline(
            config, RunSpec("pointmaze-umaze-v0", dataset_path=other), Watch(str(tmp_path / "run"), **quiet)
        )


def test_a_full_disk_is_one_line_and_leaves_nothing_that_looks_whole(tmp_path, monkeypatch, capfd):
    import builtins

    from absl import logging as absl_logging

    from xql_jax.data import DatasetError
    from xql_jax.data import dataset as dataset_module

    # A dataset write: HDF5 writing to a full disk printed ~100 lines, then the interpreter segfaulted.
    def full_disk_open(path, mode="r", *args, **kwargs):
        if str(path).endswith(".partial") and "w" in mode:
            raise OSError(28, "No space left on device")
        return builtins.open(path, mode, *args, **kwargs)

    monkeypatch.setattr(dataset_module, "open", full_disk_open, raising=False)
    raw = {"observations": np.zeros((10, 2), np.float32), "actions": np.zeros((10, 1), np.float32)}
    target = tmp_path / "d.hdf5"
    with pytest.raises(
        DatasetError, match=r"cannot write .*d.hdf5 \(No space left on device; .* MB\): free some"
    ):
        dataset_module.write_d4rl_hdf5(str(target), raw, {"ref_min_score": 0.0, "ref_max_score": 1.0}, {})
    assert os.listdir(tmp_path) == []

    # A checkpoint: Orbax logged tracebacks through absl and stderr before its error.
    checkpointer = Checkpointer(str(tmp_path / "run"))

    def failing_save(*args, **kwargs):
        absl_logging.error("_SignalingThread.run() raised an exception: RESOURCE_EXHAUSTED ...")
        print("Traceback (most recent call last):\nRuntimeError: Event loop is closed", file=sys.stderr)
        raise ValueError("RESOURCE_EXHAUSTED: Failed to write: No space left on device [os_error_code='28']")

    monkeypatch.setattr(checkpointer._manager, "save", failing_save)
    capfd.readouterr()
    with pytest.raises(
        ValueError, match=r"cannot save the checkpoint at step 10 in .*: no space left on the device"
    ):
        checkpointer.save(10, {"w": np.zeros(2)}, {"step": 10})
    assert capfd.readouterr().err == ""
    checkpointer.close()


def test_only_orbax_abandoned_reads_are_kept_quiet_after_a_failed_restore():
    """asyncio's reports of Orbax's unawaited reads are dropped (they come after the one-line error);
    an unretrieved exception of anything else, or any other Orbax error, still shows."""
    import logging

    from xql_jax.checkpoints import _STRAY_READ_FAILURES

    def shown(message):
        return _STRAY_READ_FAILURES.filter(
            logging.LogRecord("asyncio", logging.ERROR, "", 1, message, None, None)
        )

    assert not shown(
        "Task exception was never retrieved\nfuture: <Task finished coro=<async_deserialize() done>"
    )
    assert not shown(
        "Future exception was never retrieved\nfuture: <Future finished exception=ValueError('NOT_FOUND: "
        'Error reading "a/.zarray" in OCDBT database at local file "/run/checkpoints/40/state/"\')>'
    )
    assert shown("Task exception was never retrieved\nfuture: <Task finished coro=<upload_results() done>")
    assert shown("NOT_FOUND: Error reading in OCDBT database")
