"""Runs over several processes: joining ``jax.distributed``, agreeing on the run, naming a lost process.

Every process of a multi-process run starts the same launcher; ``initialize`` joins them (from
explicit flags, or from what JAX detects on SLURM, Open MPI and Cloud TPU). Before anything trains,
``agree_on_run`` compares every process's config.json with process 0's, so processes started with
other flags, data or members are refused instead of training a mixture. When a process dies, the
others see their next collective fail: ``lost_process_message`` names the process that stopped
answering, and the launchers end with that one line (``exit_now``) instead of waiting for JAX's
shutdown barrier, which holds a survivor until the heartbeat timeout and then aborts it.

The coordination service's key-value store (``jax._src.distributed.global_state.client``, what
Orbax uses too; jax is pinned in setup.py) carries the run's config and the processes' notes.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from typing import List, Optional

import jax

# JAX's default is 100 s: a process whose host vanished (no connection reset reaches the others)
# is declared dead after this long, and JAX then ends every other process.
DEFAULT_HEARTBEAT_TIMEOUT = 30
# With more than two processes, how long a process that lost a connection waits for the others to
# say they lost it too: those that do not are the ones named lost. Short: at the heartbeat timeout
# (counted from the loss) JAX itself aborts every process, with its own report.
ANSWER_WINDOW = 2.0
# What a collective's error says when the process at the other end is gone (gloo on CPU, gRPC).
_LOST_CONNECTION = (
    "Gloo",
    "Connection reset by peer",
    "Connection closed by peer",
    "Socket closed",
    "heartbeat timeout",
)
_PREFIX = "xql_jax"
_sessions_agreed = 0  # runs agreed on so far in this process (fine-tuning agrees twice)


def _state():
    from jax._src import distributed

    return distributed.global_state


def _client():
    return _state().client


# This process's id and the process count as joined, read without starting JAX's backend (which,
# over several processes, waits for every process to start theirs): error paths run before it.
def _me() -> int:
    return _state().process_id


def _count() -> int:
    return _state().num_processes if _client() is not None else 1


def initialize(
    coordinator_address: Optional[str] = None,
    num_processes: Optional[int] = None,
    process_id: Optional[int] = None,
    auto: bool = False,
    heartbeat_timeout: int = DEFAULT_HEARTBEAT_TIMEOUT,
) -> None:
    """Join a multi-process run: with ``auto``, the arguments left None are detected by JAX (SLURM,
    Open MPI, Cloud TPU; ``jax.distributed.initialize()`` without arguments); otherwise all three
    are needed. Bad or missing values raise ValueError with one line naming the fix."""
    explicit = (coordinator_address, num_processes, process_id)
    if not auto:
        if all(value is None for value in explicit):
            return
        if any(value is None for value in explicit):
            raise ValueError(
                "--coordinator_address, --num_processes and --process_id go together (the same address "
                "and count on every process, the ids 0 .. N-1); on a cluster JAX detects (SLURM, Open "
                "MPI, Cloud TPU) use --multihost=auto instead"
            )
    if coordinator_address is not None:
        host, sep, port = coordinator_address.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(
                f"--coordinator_address={coordinator_address}: expected host:port of process 0, e.g. "
                "host0:1234"
            )
    if num_processes is not None and num_processes < 1:
        raise ValueError(f"--num_processes={num_processes}: expected a positive count")
    if process_id is not None and not 0 <= process_id < (num_processes or process_id + 1):
        expected = f"0 .. {num_processes - 1}" if num_processes else "0 or more"
        raise ValueError(f"--process_id={process_id}: expected {expected} (one id per process)")
    if heartbeat_timeout < 1:
        raise ValueError(f"--heartbeat_timeout={heartbeat_timeout}: expected a positive number of seconds")
    try:
        jax.distributed.initialize(
            coordinator_address,
            num_processes,
            process_id,
            heartbeat_timeout_seconds=heartbeat_timeout,
        )
    except (ValueError, RuntimeError) as error:
        detail = " ".join(str(error).split())[:300]
        if auto and ("should be defined" in detail or "must be defined" in detail):
            raise ValueError(
                "--multihost=auto: JAX detected no cluster (SLURM, Open MPI, Cloud TPU) here; start "
                "each process with --coordinator_address, --num_processes and --process_id"
            ) from None
        raise ValueError(f"could not join the multi-process run ({detail})") from None
    # What the others will name this process by if it is lost.
    _client().key_value_set(f"{_PREFIX}/process/{_me()}", f"pid {os.getpid()} on {socket.gethostname()}")


def agree_on_run(config_json: str, problem: Optional[str] = None, timeout: float = 600.0) -> None:
    """Refuse (ValueError, on every process) a run whose processes were started with other settings.

    ``config_json`` is the run's config.json (config, data fingerprint, members); it is compared
    field by field with process 0's (where the data lies may differ). ``problem`` is process 0's
    reason not to start (its workdir is locked, say), which then ends every process alike.
    """
    global _sessions_agreed
    if _count() == 1:
        if problem:
            raise ValueError(problem)
        return
    from xql_jax.workdir import config_differences

    _sessions_agreed += 1
    directory = f"{_PREFIX}/run{_sessions_agreed}"
    client, deadline = _client(), time.time() + timeout
    client.key_value_set(f"{directory}/{_me()}", config_json)
    if _me() == 0:
        # Process 0 decides for every process, so all of them stop (or go on) together.
        verdict = problem or ""
        ours = json.loads(config_json)
        for other in range(1, _count()):
            theirs = json.loads(_wait_for(f"{directory}/{other}", deadline))
            differences = config_differences(ours, theirs)
            if differences and not verdict:
                verdict = (
                    f"process {other} of this run was started with other settings than process 0 "
                    f"(process 0 -> {other}: {differences}): start every process with the same flags"
                )
        client.key_value_set(f"{directory}/verdict", verdict)
    verdict = _wait_for(f"{directory}/verdict", deadline)
    if verdict:
        raise ValueError(verdict)


def _wait_for(key: str, deadline: float) -> str:
    """The value another process sets for ``key``; ValueError when a process stopped instead (its
    note from ``stop_all``) or nothing came by ``deadline``."""
    client = _client()
    folder = key.rsplit("/", 1)[0] + "/"
    while True:
        value = dict(client.key_value_dir_get(folder)).get(key)
        if value is not None:
            return value
        for failed, message in client.key_value_dir_get(f"{_PREFIX}/failed/"):
            if message.startswith("error"):  # its own line: "error[ (context)]: what"
                message = message.partition(": ")[2]
            raise ValueError(f"process {failed.rsplit('/', 1)[-1]} of this run stopped: {message}")
        if time.time() > deadline:
            raise ValueError(
                f"the other processes of this run did not reach the start of training in time ({key}): "
                "start every process with the same flags"
            )
        time.sleep(0.1)


def joined() -> bool:
    """Whether this process is one of several of a ``jax.distributed`` run."""
    return _count() > 1


def stop_all(message: str, linger: float = 30.0) -> None:
    """End this process with ``message`` (one line), telling the other processes first.

    Alone, this is ``sys.exit(message)``. With several processes, the others are told (those
    waiting to agree on the run stop with the message too) and this process ends at once: JAX's
    exit handler would wait at a shutdown barrier for processes that may be waiting for it. Process
    0, which runs the coordination service the others read, waits up to ``linger`` seconds for them
    to stop first: one still telling the service when it closes is aborted by JAX with a C++ dump
    (seen in CI with a 5 s linger, a starved process 1 reporting the same refusal later). It leaves
    as soon as every process has told, so only a process that never does costs the wait (30 s, the
    default ``--heartbeat_timeout`` after which JAX gives up on a silent process anyway).
    """
    if not joined():
        sys.exit(message)
    client, me = _client(), _me()
    try:
        client.key_value_set(f"{_PREFIX}/failed/{me}", message)
        deadline = time.time() + linger
        while me == 0 and time.time() < deadline:
            if len(client.key_value_dir_get(f"{_PREFIX}/failed/")) == _count():
                break
            time.sleep(0.1)
    except Exception:  # noqa: BLE001  (the service is gone with process 0: nobody left to tell)
        pass
    exit_now(message)


def is_lost_connection(error: BaseException) -> bool:
    """Whether ``error`` is a collective failing because another process is gone."""
    if not joined():
        return False
    text = str(error)
    return any(marker in text for marker in _LOST_CONNECTION)


def unanswering_processes(window: float = ANSWER_WINDOW) -> List[int]:
    """The processes that have not said, within ``window`` seconds, that they lost a connection too.

    Every survivor of a lost process reaches this after its collective fails; the lost one never
    does. An unreachable coordination service means process 0 (which runs it) is the one lost.
    """
    me, count = _me(), _count()
    if count == 2:
        return [1 - me]  # no need to ask: the other one
    try:
        client = _client()
        try:
            client.key_value_set(f"{_PREFIX}/lost/{me}", "1")
        except Exception:  # noqa: BLE001  (already said, by an earlier failure of this process)
            pass
        deadline = time.time() + window
        while True:
            said = {int(key.rsplit("/", 1)[-1]) for key, _ in client.key_value_dir_get(f"{_PREFIX}/lost/")}
            missing = [i for i in range(count) if i not in said]
            if not missing or time.time() > deadline:
                return missing
            time.sleep(0.2)
    except Exception:  # noqa: BLE001  (the service itself is gone with process 0)
        return [0]


def _describe(process: int) -> str:
    if process == 0:  # its coordination service is gone with it: no time to ask (JAX ends us soon)
        return f"process 0 (the coordinator, {_state().coordinator_address})"
    try:
        where = _client().key_value_try_get(f"{_PREFIX}/process/{process}")
    except Exception:  # noqa: BLE001
        where = None
    return f"process {process} ({where})" if where else f"process {process}"


def lost_process_message(error: BaseException, workdir: Optional[str] = None) -> Optional[str]:
    """One line naming the lost process(es) and how to resume, when ``error`` is a collective that
    failed because another process is gone; None otherwise."""
    if not is_lost_connection(error):
        return None
    lost = unanswering_processes()
    count = _count()
    if lost:
        who = ", ".join(_describe(i) for i in lost)
        what = f"{who} of this {count}-process run stopped answering"
    else:
        what = f"the {count} processes of this run lost their connections to each other"
    where = f" in {workdir}" if workdir else ""
    return (
        f"{what} (this is process {_me()}); start all {count} processes again with the "
        f"same flags to resume from the last checkpoint{where}"
    )


def exit_now(message: str, code: int = 1) -> None:
    """Print ``message`` and end this process at once: JAX's exit handler would wait at a shutdown
    barrier for the lost process until the heartbeat timeout, then abort with a C++ dump."""
    sys.stdout.flush()
    print(message, file=sys.stderr, flush=True)
    os._exit(code)
