"""Shared fixtures: tiny learner configs and small files written by the tests."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")


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
