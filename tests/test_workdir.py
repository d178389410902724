"""A workdir holds one run: locked while it runs, its identity checked on every start, its damaged
checkpoints and diverged members recorded rather than crashing or vanishing."""

import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import run_script
from xql_jax.runs import RunSpec, Watch
from xql_jax.train import train_offline

MAZE = "pointmaze-umaze-v0"


def _hold_lock(folder):
    """Another process holding ``folder``'s workdir lock, as a run in progress there does."""
    folder.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, time\n"
            f"f = open({str(folder / '.lock')!r}, 'a+'); fcntl.flock(f, fcntl.LOCK_EX)\n"
            "f.write('pid 4242 on elsewhere'); f.flush(); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_run_in_a_locked_workdir_is_refused_and_the_lock_is_freed_after(
    tmp_path, small_maze_file, tiny_offline_config, quiet
):
    workdir = tmp_path / "run"
    holder = _hold_lock(workdir)
    try:
        with pytest.raises(ValueError, match=r"is in use by another run \(pid 4242 on elsewhere\)"):
            train_offline(
                tiny_offline_config, RunSpec(MAZE, dataset_path=small_maze_file), Watch(str(workdir), **quiet)
            )
        assert not (workdir / "metrics.jsonl").exists() and not (workdir / "config.json").exists()
    finally:
        holder.kill()
        holder.wait()
    # The holder is gone (a killed run frees its lock too): the workdir can be used.
    summary = train_offline(
        tiny_offline_config, RunSpec(MAZE, dataset_path=small_maze_file), Watch(str(workdir), **quiet)
    )
    assert summary["steps"] == 40
    assert open(workdir / ".lock").read().startswith(f"pid {os.getpid()} on ")


def test_a_run_inside_or_around_a_running_workdir_is_refused(
    tmp_path, small_maze_file, tiny_offline_config, quiet
):
    """--workdir=W with two seeds and --workdir=W/seed0 started together both wrote W/seed0's rows."""
    outer, inner = tmp_path / "run", tmp_path / "run" / "seed0"
    for held, started, relation in ((outer, inner, "inside"), (inner, outer, "around")):
        holder = _hold_lock(held)
        try:
            with pytest.raises(ValueError, match=f"is {relation} {held}, the workdir of a run in progress"):
                train_offline(
                    tiny_offline_config,
                    RunSpec(MAZE, dataset_path=small_maze_file, num_seeds=2),
                    Watch(str(started), **quiet),
                )
            assert not (started / "config.json").exists()
        finally:
            holder.kill()
            holder.wait()
    # A nested workdir whose run has ended (its lock free) is no obstacle.
    summary = train_offline(
        tiny_offline_config, RunSpec(MAZE, dataset_path=small_maze_file), Watch(str(outer), **quiet)
    )
    assert summary["steps"] == 40


def test_another_config_or_member_set_is_refused_before_orbax_with_or_without_a_checkpoint(
    tmp_path, small_maze_file, tiny_offline_config, quiet
):
    workdir = str(tmp_path / "run")
    train_offline(tiny_offline_config, RunSpec(MAZE, dataset_path=small_maze_file), Watch(workdir, **quiet))
    wider = tiny_offline_config.copy_and_resolve_references()
    wider.agent.hidden_dims = (16, 16)  # another parameter shape: Orbax would fail on the template
    with pytest.raises(ValueError, match=r"holds another run \(agent\.hidden_dims: \[8, 8\] -> \[16, 16\]\)"):
        train_offline(wider, RunSpec(MAZE, dataset_path=small_maze_file), Watch(workdir, **quiet))
    with pytest.raises(
        ValueError, match=r"holds another run \(run\.members: \['seed0'\] -> \['seed0', 'seed1'\]"
    ):
        train_offline(
            tiny_offline_config,
            RunSpec(MAZE, dataset_path=small_maze_file, num_seeds=2),
            Watch(workdir, **quiet),
        )
    # No checkpoint at all (a run that died before its first one): still this run's workdir only.
    os.system(f"rm -r {workdir}/checkpoints")
    with pytest.raises(ValueError, match=r"agent\.hidden_dims"):
        train_offline(wider, RunSpec(MAZE, dataset_path=small_maze_file), Watch(workdir, **quiet))
    steps = [json.loads(line)["step"] for line in open(os.path.join(workdir, "metrics.jsonl"))]
    assert steps == [20, 40]  # the refused starts wrote nothing


def test_a_damaged_newest_checkpoint_falls_back_to_the_older_one(
    tmp_path, small_maze_file, tiny_offline_config, quiet
):
    workdir = tmp_path / "run"
    tiny_offline_config.max_steps = 60
    tiny_offline_config.eval_interval = 20
    train_offline(
        tiny_offline_config, RunSpec(MAZE, dataset_path=small_maze_file), Watch(str(workdir), **quiet)
    )
    assert sorted(os.listdir(workdir / "checkpoints")) == ["40", "60"]
    # Damage every file of the newest checkpoint's state (a disk error, a half-deleted folder).
    for root, _, files in os.walk(workdir / "checkpoints" / "60" / "state"):
        for name in files:
            with open(os.path.join(root, name), "wb") as f:
                f.write(b"garbage")
    lines = []
    summary = train_offline(
        tiny_offline_config,
        RunSpec(MAZE, dataset_path=small_maze_file),
        Watch(str(workdir), progress=False, log=lines.append),
    )
    assert any("checkpoint at step 60" in line and "cannot be read" in line for line in lines), lines
    assert any("resuming from the checkpoint at step 40" in line for line in lines), lines
    assert summary["steps"] == 60
    steps = [json.loads(line)["step"] for line in open(workdir / "metrics.jsonl")]
    assert steps == [20, 40, 60]  # step 60 redone once, not appended twice

    for name in os.listdir(workdir / "checkpoints" / "40" / "state"):
        path = workdir / "checkpoints" / "40" / "state" / name
        if path.is_file():
            path.write_bytes(b"garbage")
    for root, _, files in os.walk(workdir / "checkpoints" / "60" / "state"):
        for name in files:
            with open(os.path.join(root, name), "wb") as f:
                f.write(b"garbage")
    with pytest.raises(ValueError, match=r"no checkpoint in .* can be read \(steps \[60, 40\]\)"):
        train_offline(
            tiny_offline_config, RunSpec(MAZE, dataset_path=small_maze_file), Watch(str(workdir), **quiet)
        )


def test_checkpoints_with_missing_files_fail_in_one_line_without_orbax_noise(
    tmp_path, small_maze_file, tiny_offline_config, quiet
):
    """With data files missing (a partly deleted folder), Orbax's in-flight reads printed 122
    "Event loop is closed" tracebacks for a tiny run, burying the one line that matters."""
    import shutil

    workdir = tmp_path / "run"
    tiny_offline_config.max_steps = 60
    train_offline(
        tiny_offline_config, RunSpec(MAZE, dataset_path=small_maze_file), Watch(str(workdir), **quiet)
    )
    for step in ("40", "60"):
        for root, dirs, _ in os.walk(workdir / "checkpoints" / step / "state"):
            for name in [d for d in dirs if d == "d"]:
                shutil.rmtree(os.path.join(root, name))
    # A new process, as a restart is (one that has saved keeps Orbax's event loop alive).
    args = [f"--workdir={workdir}", f"--dataset_path={small_maze_file}", "--progress=false"]
    args += ["--config.agent.hidden_dims=(8,8)", "--config.batch_size=16", "--config.max_steps=60"]
    args += ["--config.log_interval=20", "--config.eval_interval=40", "--config.checkpoint_interval=20"]
    result = run_script("train_offline.py", args + ["--config.eval_episodes=1", "--config.eval_envs=1"])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and re.match(
        r"error: no checkpoint in .* can be read \(steps \[60, 40\]\)", lines[0]
    ), result.stderr[-3000:]


def test_a_diverged_run_leaves_its_summary_and_a_wholly_diverged_setting_is_reported(
    tmp_path, small_maze_file, tiny_offline_config, quiet
):
    from xql_jax.runs import TrainingDiverged

    workdir = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match="training diverged at step"):
        train_offline(
            tiny_offline_config,
            RunSpec(MAZE, dataset_path=small_maze_file, sweep={"beta": [1e-30]}),
            Watch(str(workdir), **quiet),
        )
    summary = json.load(open(workdir / "summary.json"))
    assert summary["diverged"] and summary["last"] is None and summary["steps"] == 20
    # In a sweep, a setting whose every seed diverged is reported; the others go on.
    sweep_dir = tmp_path / "sweep"
    summary = train_offline(
        tiny_offline_config,
        RunSpec(MAZE, dataset_path=small_maze_file, num_seeds=2, sweep={"beta": [2.0, 1e-30]}),
        Watch(str(sweep_dir), **quiet),
    )
    assert summary["groups"]["beta=1e-30"]["last"]["n"] == 0
    assert summary["groups"]["beta=2"]["last"]["n"] == 2
    assert sorted(summary["diverged"]) == ["seed0_beta1e-30", "seed1_beta1e-30"]


def test_a_workdir_that_is_a_file_is_refused_in_one_line(
    tmp_path, small_maze_file, tiny_offline_config, quiet
):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(ValueError, match=r"--workdir .*file is a file, not a folder"):
        train_offline(
            tiny_offline_config, RunSpec(MAZE, dataset_path=small_maze_file), Watch(str(path), **quiet)
        )


def test_two_members_with_one_name_are_refused():
    from xql_jax.runs import make_members

    with pytest.raises(ValueError, match=r"two members would both be named seed0_beta1"):
        make_members([0], {"beta": [1.0, 1.0000001]}, ("beta",))


def test_fine_tuning_never_drops_its_online_rows_to_redo_the_offline_phase(tmp_path, small_maze_file, quiet):
    from xql_jax.configs import finetune
    from xql_jax.finetune import train_finetune

    config = finetune.get_config()
    config.agent.hidden_dims = (8, 8)
    config.update(batch_size=16, max_steps=40, log_interval=20, eval_interval=40, checkpoint_interval=20)
    config.update(eval_episodes=1, eval_envs=1)
    config.online.update(max_steps=40, log_interval=20, eval_interval=40, eval_episodes=1, eval_envs=1)
    workdir = tmp_path / "run"
    train_finetune(config, RunSpec(MAZE, dataset_path=small_maze_file), Watch(str(workdir), **quiet))
    steps = [json.loads(line)["step"] for line in open(workdir / "metrics.jsonl")]
    assert steps == [20, 40, 60, 80]
    for root, _, files in os.walk(workdir / "checkpoints" / "offline" / "40" / "state"):
        for name in files:
            with open(os.path.join(root, name), "wb") as f:
                f.write(b"garbage")
    with pytest.raises(ValueError, match=r"a later phase has logged past it"):
        train_finetune(config, RunSpec(MAZE, dataset_path=small_maze_file), Watch(str(workdir), **quiet))
    assert [json.loads(line)["step"] for line in open(workdir / "metrics.jsonl")] == steps
