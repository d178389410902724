import os

import numpy as np
import pytest

from xql_jax.data import load_d4rl_hdf5, pointmaze
from xql_jax.data.dataset import read_references, references_path
from xql_jax.envs import make_env


def test_fixed_goal_env_has_flat_observations_and_a_fixed_goal():
    env = pointmaze.make_env("pointmaze-umaze-v0")
    goals = []
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        assert obs.shape == (4,) and obs.dtype == np.float32
        goals.append(env.unwrapped.goal.copy())
    np.testing.assert_array_equal(goals[0], goals[1])
    np.testing.assert_array_equal(goals[0], env.goal_xy)
    obs, reward, terminated, truncated, _ = env.step(np.zeros(2, np.float32))
    distance = np.linalg.norm(obs[:2] - env.goal_xy)
    assert reward == pytest.approx(np.exp(-distance), rel=1e-5)  # dense reward of the fixed goal
    assert not terminated and not truncated


def test_unknown_environment_is_named():
    with pytest.raises(ValueError, match="unknown environment 'NoSuchEnv-v9'"):
        make_env("NoSuchEnv-v9")


def test_controller_beats_random_by_a_wide_margin():
    references = pointmaze.reference_returns("pointmaze-umaze-v0", seed=0, num_episodes=5)
    assert references["ref_max_score"] > 2 * references["ref_min_score"] + 50


def test_generated_dataset_is_a_valid_d4rl_file(tmp_path):
    path = pointmaze.ensure_dataset(
        data_dir=str(tmp_path), num_steps=2500, num_reference_episodes=2, log=lambda *_: None
    )
    references = read_references(path)
    assert set(references) == {"ref_min_score", "ref_max_score"}
    data = load_d4rl_hdf5(path)
    # Timeouts every 1000 steps drop 2 steps, and the final row has no successor.
    assert len(data) == 2500 - 2 - 1
    assert data.observation_dim == 4 and data.action_dim == 2
    assert np.all((data.rewards > 0) & (data.rewards <= 1))
    assert np.all(np.abs(data.actions) <= 1)
    assert np.all(data.masks == 1)  # the maze never terminates
    assert int(data.dones.sum()) == 3  # two timeouts and the end of the file
    # The behaviour visits most of the maze, not one corridor.
    cells = {tuple(np.floor(o[:2]).astype(int)) for o in data.observations}
    assert len(cells) >= 5
    # Cached: the same recipe returns the same file without regenerating it ...
    made_at = os.path.getmtime(path)
    same = dict(data_dir=str(tmp_path), num_steps=2500, num_reference_episodes=2, log=lambda *_: None)
    assert pointmaze.ensure_dataset(**same) == path and os.path.getmtime(path) == made_at
    # ... while another recipe (steps or seed) makes it again, recording the new recipe.
    messages = []
    pointmaze.ensure_dataset(**{**same, "num_steps": 1200, "log": messages.append})
    assert len(load_d4rl_hdf5(path)) == 1200 - 1 - 1
    assert (
        "made with {'recipe_version': 1, 'num_steps': 2500, 'seed': 0, 'num_reference_episodes': 2}"
        in messages[0]
    )
    pointmaze.ensure_dataset(**{**same, "num_steps": 1200, "seed": 1, "log": messages.append})
    assert len(messages) == 4  # regenerated for the new seed ("Generating" and "done" per generation)
    assert '"seed": 1' in open(references_path(path)).read()
