"""The launchers over several processes (jax.distributed on localhost, one CPU device each).

Process 0 evaluates and writes; every logged row equals that of one process on as many devices
(the same device layout compiles the same programs; across device counts the last bits differ,
see the README's "Several devices and hosts"). A process started with other flags is refused; a
process that dies ends the others in seconds with one line naming it.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

from tests.conftest import FAST_COMPILE_XLA_FLAGS, ROOT

# One evaluation per phase, a checkpoint at each phase's end: the fewest compiled programs and calls.
TINY_FINETUNE = [
    "--config.agent.hidden_dims=(8,8)",
    "--config.batch_size=16",
    "--config.max_steps=40",
    "--config.log_interval=20",
    "--config.eval_interval=40",
    "--config.checkpoint_interval=40",
    "--config.eval_episodes=1",
    "--config.eval_envs=1",
    "--config.online.max_steps=40",
    "--config.online.log_interval=20",
    "--config.online.eval_interval=40",
    "--config.online.checkpoint_interval=40",
    "--config.online.eval_episodes=1",
]
TINY_ONLINE = [
    "--config=configs/online.py:xtd3",
    "--env_name=Pendulum-v1",
    "--config.agent.beta=2",
    "--config.agent.hidden_dims=(8,8)",
    "--config.batch_size=16",
    "--config.replay_capacity=100",
    "--config.max_steps=60",
    "--config.start_steps=20",
    "--config.log_interval=20",
    "--config.eval_interval=60",
    "--config.checkpoint_interval=60",
    "--config.eval_episodes=1",
    "--config.eval_envs=1",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def start_processes(script, args, envs):
    """One launcher process per command line in ``args``, each with its ``envs`` entry (extra
    environment variables); output captured."""
    return [
        subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "experiments", script), *process_args],
            cwd=ROOT,
            # One CPU device per process (no forced device count).
            env=dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=FAST_COMPILE_XLA_FLAGS, **extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for process_args, extra in zip(args, envs, strict=True)
    ]


def outputs_of(processes, timeout=300):
    try:
        return [p.communicate(timeout=timeout)[0] for p in processes]
    finally:
        for process in processes:
            process.kill()


def two_processes(script, args):
    """``script`` as two processes joined with the README's flags; returns their outputs."""
    port = free_port()
    joined = [[*args, f"--coordinator_address=localhost:{port}", "--num_processes=2"] for _ in range(2)]
    flags = [[*joined[i], f"--process_id={i}"] for i in range(2)]
    return outputs_of(start_processes(script, flags, [{}, {}]))


def rows(path):
    drop = ("wall_time", "steps_per_second", "env_steps_per_second")
    return [{k: v for k, v in json.loads(line).items() if k not in drop} for line in open(path)]


def without_wall_time(summary):
    if isinstance(summary, dict):
        return {k: without_wall_time(v) for k, v in summary.items() if k != "wall_time"}
    return summary


def assert_same_rows(one, two, members):
    for m in members:
        for name in ("metrics.jsonl", "eval.jsonl"):
            a, b = rows(one / m / name), rows(two / m / name)
            assert a and a == b, (m, name)  # exactly: the same programs on the same layout
        assert len(rows(one / m / "metrics.jsonl")) >= 3


def test_launchers_on_two_processes_log_the_rows_of_one_process_on_two_devices(tmp_path, small_maze_file):
    """Fine-tuning (an offline phase, then online with the dataset in the buffer) and an online run
    from scratch (each process steps its own member's environment), two members each."""
    launches = [
        ("train_finetune.py", [f"--dataset_path={small_maze_file}", "--num_seeds=2", *TINY_FINETUNE]),
        ("train_online.py", ["--num_seeds=2", *TINY_ONLINE]),
    ]
    for script, args in launches:
        one, two = tmp_path / f"one_{script}", tmp_path / f"two_{script}"
        common = [*args, "--progress=false"]
        two_device_flags = FAST_COMPILE_XLA_FLAGS + " --xla_force_host_platform_device_count=2"
        reference = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "experiments", script), *common, f"--workdir={one}"],
            cwd=ROOT,
            env=dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=two_device_flags),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        outputs = two_processes(script, [*common, f"--workdir={two}"])
        (reference_output,) = outputs_of([reference])
        assert reference.returncode == 0, reference_output[-3000:]
        assert "FINAL" in outputs[0] and "FINAL" not in outputs[1], outputs[1][-3000:]
        assert_same_rows(one, two, ["seed0", "seed1"])
        summary = json.load(open(two / "summary.json"))
        assert summary["members"] == ["seed0", "seed1"] and not summary["diverged"]
        assert without_wall_time(summary) == without_wall_time(json.load(open(one / "summary.json")))
        # Only process 0 writes: the files are those of one run.
        assert sorted(os.listdir(two / "seed0")) == sorted(os.listdir(one / "seed0"))


def test_processes_started_with_other_settings_are_refused_before_training(tmp_path, small_maze_file):
    """Two processes of a SLURM job (as JAX detects it: --multihost=auto and SLURM's variables) whose
    command lines differ in the batch size both stop with one line; nothing trains. So do both when
    one cannot start (its data missing) or process 0 cannot take the workdir."""
    port = free_port()
    slurm = dict(
        SLURM_JOB_ID="7", SLURM_STEP_NODELIST="localhost", SLURM_NTASKS="2", JAX_COORDINATOR_PORT=str(port)
    )
    args = [
        [
            f"--dataset_path={small_maze_file}",
            "--multihost=auto",
            "--num_seeds=2",
            f"--config.batch_size={32 * (i + 1)}",
            f"--workdir={tmp_path}",
            "--progress=false",
        ]
        for i in range(2)
    ]
    envs = [dict(slurm, SLURM_PROCID=str(i), SLURM_LOCALID="0") for i in range(2)]
    processes = start_processes("sweep.py", args, envs)
    outputs = outputs_of(processes, timeout=120)
    for i, (process, output) in enumerate(zip(processes, outputs, strict=True)):
        assert process.returncode == 1, output[-3000:]
        assert output.strip().splitlines()[-1] == (
            f"error (batch size {32 * (i + 1)}): process 1 of this run was started with other settings "
            "than process 0 (process 0 -> 1: batch_size: 32 -> 64): start every process with the same flags"
        )
        assert "Traceback" not in output
    assert not os.path.exists(tmp_path / "batch32" / "seed0" / "metrics.jsonl")

    # A process that cannot start (its data is missing) stops the other, which waits for it, too.
    args[1] = [a.replace(small_maze_file, str(tmp_path / "missing.hdf5")) for a in args[0]]
    slurm["JAX_COORDINATOR_PORT"] = str(free_port())
    envs = [dict(slurm, SLURM_PROCID=str(i), SLURM_LOCALID="0") for i in range(2)]
    processes = start_processes("sweep.py", args, envs)
    outputs = outputs_of(processes, timeout=120)
    assert [p.returncode for p in processes] == [1, 1], outputs
    missing = outputs[1].strip().splitlines()[-1]
    assert missing.startswith("error (batch size 32): ") and "missing.hdf5" in missing
    assert outputs[0].strip().splitlines()[-1] == (
        f"error (batch size 32): process 1 of this run stopped: {missing.partition(': ')[2]}"
    )

    # Process 0 cannot take the workdir (another run holds it): every process stops, not only 0.
    from xql_jax.workdir import lock_workdir, prepare_workdir, unlock_workdir

    lock = lock_workdir(prepare_workdir(str(tmp_path / "batch32")))
    try:
        args[1] = args[0]
        slurm["JAX_COORDINATOR_PORT"] = str(free_port())
        envs = [dict(slurm, SLURM_PROCID=str(i), SLURM_LOCALID="0") for i in range(2)]
        processes = start_processes("sweep.py", args, envs)
        outputs = outputs_of(processes, timeout=120)
    finally:
        unlock_workdir(lock)
    assert [p.returncode for p in processes] == [1, 1], outputs
    for output in outputs:
        last = output.strip().splitlines()[-1]
        assert last.startswith("error (batch size 32): ") and "is in use by another run (pid" in last


def test_a_killed_process_ends_the_others_in_seconds_naming_it(tmp_path, small_maze_file):
    """Process 1 of an offline run is killed mid-way: process 0 stops within seconds (JAX alone
    would wait for its heartbeat timeout, then for its shutdown barrier, then abort with a dump)."""
    port = free_port()
    args = [
        [
            f"--dataset_path={small_maze_file}",
            "--num_seeds=2",
            "--config.agent.hidden_dims=(8,8)",
            "--config.batch_size=16",
            "--config.max_steps=1000000",
            "--config.log_interval=20",
            # No checkpoint while it runs: a process lost during a save also makes Orbax log a
            # traceback of its own before the line.
            "--config.checkpoint_interval=1000000",
            f"--workdir={tmp_path}",
            "--progress=false",
            f"--coordinator_address=localhost:{port}",
            "--num_processes=2",
            f"--process_id={i}",
            "--heartbeat_timeout=60",  # longer than the bound below: the run's own handling ends it
        ]
        for i in range(2)
    ]
    processes = start_processes("train_offline.py", args, [{}, {}])
    try:
        deadline = time.time() + 180
        metrics = tmp_path / "seed0" / "metrics.jsonl"
        while time.time() < deadline and processes[0].poll() is None:
            if metrics.exists() and open(metrics).read().endswith("\n"):  # a row logged: training
                break
            time.sleep(0.1)
        processes[1].send_signal(signal.SIGKILL)
        killed = time.time()
        output = processes[0].communicate(timeout=60)[0]
        took = time.time() - killed
    finally:
        for process in processes:
            process.kill()
    assert processes[0].returncode == 1, output[-3000:]
    assert took < 20, took
    last = output.strip().splitlines()[-1]
    assert (
        last.startswith("error: process 1 (pid ")
        and (
            "of this 2-process run stopped answering (this is process 0); start all 2 processes again with "
            f"the same flags to resume from the last checkpoint in {tmp_path}"
        )
        in last
    ), output[-3000:]
    assert "Traceback" not in output and "Fatal Python error" not in output
    assert (tmp_path / "checkpoints").exists()


def test_process_flags_are_checked_before_joining():
    from xql_jax import multihost

    for kwargs, message in [
        (
            dict(coordinator_address="host0:1234"),
            "--process_id go together",
        ),
        (dict(coordinator_address="host0", num_processes=2, process_id=0), "expected host:port of process 0"),
        (dict(coordinator_address="h:1", num_processes=2, process_id=2), "--process_id=2: expected 0 .. 1"),
        (
            dict(coordinator_address="h:1", num_processes=0, process_id=0),
            "--num_processes=0: expected",
        ),
    ]:
        try:
            multihost.initialize(**kwargs)
        except ValueError as e:
            assert message in str(e), str(e)
        else:
            raise AssertionError(f"{kwargs} accepted")
    multihost.initialize()  # no flags: one process, nothing joined
    # No cluster here, even when the tests themselves run inside a SLURM or MPI job.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "OMPI_", "PMI_"))}
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "experiments", "train_online.py"), "--multihost=auto"],
        cwd=ROOT,
        env=dict(env, JAX_PLATFORMS="cpu"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: --multihost=auto: JAX detected no cluster (SLURM, Open MPI, Cloud TPU) here; start each "
        "process with --coordinator_address, --num_processes and --process_id"
    )
