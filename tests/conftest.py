"""Shared fixtures: tiny learner configs and small files written by the tests."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


import pytest  # noqa: E402


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
