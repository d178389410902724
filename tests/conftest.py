"""Shared fixtures: tiny learner configs and small files written by the tests."""

import os
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# One persistent compilation cache for the whole run (the xdist workers and every launcher started
# as a subprocess inherit it): many tests compile the same tiny programs, and a launcher that finds
# them compiled starts in ~60% of the time.
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR",
    os.path.join(
        tempfile.gettempdir(),
        f"xql_jax_tests_jit_cache_{os.environ.get('PYTEST_XDIST_TESTRUNUID', os.getpid())}",
    ),
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")
# The tests' programs are tiny: LLVM's optimisation passes cost far more than they save (a launcher
# run takes ~30% less CPU without them). Every comparison in the suite is between programs compiled
# alike, or against hand computations with tolerances. XLA's CPU fusion emitters are off: at LLVM
# level 0 they computed NaN parameters from a finite X-SAC state and batch (an unvmapped learn call,
# jaxlib 0.10.2; levels 1-3, no jit and the older emitters all computed it finite), and without them
# the suite takes ~30% less time.
FAST_COMPILE_XLA_FLAGS = (
    "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true "
    "--xla_cpu_use_fusion_emitters=false"
)
os.environ.setdefault("XLA_FLAGS", FAST_COMPILE_XLA_FLAGS)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


import json  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402


def run_script(script, args=(), cwd=ROOT, timeout=300, env=None, wrapper=()):
    """Run ``experiments/<script>`` as a user would (a new Python process on the CPU), capturing its
    output; ``wrapper`` goes between the interpreter and the script (e.g. ``["-c", code]``)."""
    return subprocess.run(
        [sys.executable, *wrapper, os.path.join(ROOT, "experiments", script), *args],
        cwd=cwd,
        env=dict(os.environ, JAX_PLATFORMS="cpu", **(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def small_maze_file(tmp_path_factory):
    """A small embedded PointMaze dataset (3000 steps), passed to launchers as --dataset_path."""
    from xql_jax.data import pointmaze

    path = pointmaze.ensure_dataset(
        data_dir=str(tmp_path_factory.mktemp("data")),
        num_steps=3000,
        num_reference_episodes=2,
        log=lambda *_: None,
    )
    return path


@pytest.fixture
def tiny_offline_config():
    """The maze config shrunk to run in a second: 8x8 networks, 40 steps in chunks of 20, 1 episode."""
    from xql_jax.configs import maze

    config = maze.get_config()
    config.agent.hidden_dims = (8, 8)
    config.update(batch_size=16, max_steps=40, log_interval=20, eval_interval=40, checkpoint_interval=20)
    config.update(eval_episodes=1, eval_envs=1)
    return config


@pytest.fixture
def quiet():
    """Keyword arguments that keep an in-process run silent."""
    return dict(progress=False, log=lambda *_: None)


# The longest tests (launchers in subprocesses, several processes) start first, so the pytest-xdist
# workers do not end on one of them while the other waits.
HEAVY_FIRST = (
    "test_multiprocess.py",
    "test_checkpoints.py::test_sigkill",
    "test_made_datasets.py::test_make_dataset",
    "test_online.py::test_online_run_killed",
    "test_launcher.py::test_sweep_launcher",
    "test_members.py::test_four_seeds_sharded",
)


def pytest_collection_modifyitems(config, items):
    def rank(item):
        return next((i for i, name in enumerate(HEAVY_FIRST) if name in item.nodeid), len(HEAVY_FIRST))

    items.sort(key=rank)  # stable: the rest keep their order


# -- helpers shared by several test modules ---------------------------------------------------------
# Runs a launcher as `python launcher.py ...` would and reports on stderr whether wandb was imported.
REPORT_WANDB = (
    "import os, runpy, sys\n"
    "sys.argv = sys.argv[1:]\n"
    "sys.path.insert(0, os.path.dirname(sys.argv[0]))\n"
    "try:\n"
    "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
    "finally:\n"
    "    print('wandb imported:', 'wandb' in sys.modules, file=sys.stderr)\n"
)


def run_offline_launcher(args, cwd=ROOT, report_wandb=False):
    """train_offline.py run as a user would; ``report_wandb`` reports on stderr whether wandb was imported."""
    return run_script("train_offline.py", args, cwd=cwd, wrapper=["-c", REPORT_WANDB] if report_wandb else [])


def kill_after_checkpoint(script, args, workdir, step):
    """Start a launcher and SIGKILL it once its checkpoint at ``step`` exists and rows past it are logged,
    so the resumed run must drop those rows and redo them. ``step=None``: once rows are logged, before
    any checkpoint, so the restarted run must drop every row and start over."""
    process = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "experiments", script), *args],
        cwd=ROOT,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240
    metrics = workdir / "metrics.jsonl"
    while time.time() < deadline and process.poll() is None:
        logged = (
            [json.loads(line)["step"] for line in open(metrics) if line.endswith("\n")]
            if metrics.exists()
            else []
        )
        if step is None and logged and not list((workdir / "checkpoints").glob("[0-9]*")):
            break
        if (
            step is not None
            and (workdir / "checkpoints" / str(step)).exists()
            and logged
            and max(logged) > step
        ):
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run ended before it could be killed mid-way"


OBS_DIM, ACT_DIM, N = 3, 2, 64


def tiny(**overrides):
    """A tiny X-QL learner config (16x16 networks) with ``overrides``."""
    import dataclasses

    from xql_jax.agents import xql

    return dataclasses.replace(xql.XQLConfig(hidden_dims=(16, 16), decay_steps=100), **overrides)


def fake_data(seed=0):
    """N random transitions of OBS_DIM observations and ACT_DIM actions, as device arrays."""
    import jax.numpy as jnp
    import numpy as np

    rng = np.random.default_rng(seed)
    return {
        "observations": jnp.asarray(rng.normal(size=(N, OBS_DIM)), jnp.float32),
        "actions": jnp.asarray(rng.uniform(-1, 1, size=(N, ACT_DIM)), jnp.float32),
        "rewards": jnp.asarray(rng.normal(size=N), jnp.float32),
        "masks": jnp.asarray(rng.integers(0, 2, size=N), jnp.float32),
        "next_observations": jnp.asarray(rng.normal(size=(N, OBS_DIM)), jnp.float32),
        "next_actions": jnp.asarray(rng.uniform(-1, 1, size=(N, ACT_DIM)), jnp.float32),
    }
