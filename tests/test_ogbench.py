"""OGBench single-task datasets: made here with the package's oracles, loaded by name through the
registry exactly as ``ogbench.make_env_and_datasets`` loads them, scored by the environment's success."""

import json
import os

import gymnasium as gym
import mujoco
import numpy as np
import pytest

from xql_jax.data import DatasetError, ogbench_data, sources
from xql_jax.evaluation import rollouts

ogbench = pytest.importorskip("ogbench")

NAME = "cube-single-play-singletask-task2-v0"
STEPS = 150  # per episode (the recipe's 1001 would take ~3 s an episode here)
# cube_env.py's task_infos: task1 puts the cube at (0.425, -0.1, 0.02), task2 at (0.50, 0.0, 0.02).
TASK2_GOAL = np.array([0.50, 0.0, 0.02])
CUBE_QPOS = slice(14, 17)  # relabel_utils: the cube's xyz in qpos


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """cube-single-play-v0 made here: 2 training episodes and 1 validation episode of 150 steps."""
    folder = str(tmp_path_factory.mktemp("ogbench"))
    path = ogbench_data.train_file("cube-single-play-v0", folder)
    recipe = ogbench_data.make_manipulation_dataset(
        "cube-single-play-v0",
        path,
        num_episodes=2,
        seed=3,
        progress=False,
        episode_steps=STEPS,
        log=lambda *_: None,
    )
    return folder, path, recipe


def test_names_split_as_ogbench_splits_them():
    assert ogbench_data.parse_name(NAME) == ("cube-single-play-v0", "cube-single-singletask-task2-v0")
    assert ogbench_data.parse_name("puzzle-3x3-play-singletask-v0") == (
        "puzzle-3x3-play-v0",
        "puzzle-3x3-singletask-v0",
    )
    assert ogbench_data.parse_name("antmaze-large-navigate-singletask-task1-v0") == (
        "antmaze-large-navigate-v0",
        "antmaze-large-singletask-task1-v0",
    )
    assert ogbench_data.parse_name("hopper-medium-v2") is None
    # OGBench has tasks 1-5: a task6 name went on to a gymnasium NameNotFound traceback.
    with pytest.raises(DatasetError, match="OGBench environments have tasks task1 .. task5"):
        sources.resolve("cube-single-play-singletask-task6-v0")
    with pytest.raises(DatasetError, match="dataset kind"):
        ogbench_data.parse_name("cube-single-singletask-task2-v0")  # no dataset kind before 'singletask'
    # The default task of the cube environments is task 2 (cube_env.py), as the FQL paper uses it.
    assert ogbench_data.make_env("cube-single-play-singletask-v0").unwrapped._reward_task_id == 2


def test_made_files_are_ogbenchs_layout_with_the_recipe(made):
    folder, path, recipe = made
    assert sorted(os.listdir(folder)) == [
        "cube-single-play-v0-val.npz",
        "cube-single-play-v0.npz",
        "cube-single-play-v0.recipe.json",
    ]  # nothing left under a temporary name
    with np.load(path) as train, np.load(ogbench_data.val_file(path)) as val:
        assert sorted(train.files) == ["actions", "observations", "qpos", "qvel", "terminals"]
        assert train["observations"].shape == (2 * STEPS, 28) and train["actions"].shape == (2 * STEPS, 5)
        assert train["terminals"].dtype == bool and np.flatnonzero(train["terminals"]).tolist() == [
            STEPS - 1,
            2 * STEPS - 1,
        ]
        assert val["observations"].shape == (STEPS, 28) and np.abs(train["actions"]).max() <= 1.0
    with open(path.replace(".npz", ".recipe.json")) as f:
        assert json.load(f) == recipe
    assert recipe["noise"] == 0.1 and recipe["noise_smoothing"] == 0.5 and recipe["oracle"] == "plan"
    assert (recipe["num_episodes"], recipe["num_val_episodes"], recipe["recipe_num_episodes"]) == (2, 1, 1000)
    assert recipe["ogbench_version"] == "1.2.2"


def test_registry_loads_every_array_as_ogbench_does(made):
    folder, path, _ = made
    source = sources.resolve(NAME, data_dir=folder)
    assert (source.kind, source.location, source.metric, source.domain) == (
        "ogbench",
        path,
        "success_rate",
        "ogbench",
    )
    ours = source.load()
    _, train, val = ogbench.make_env_and_datasets(NAME, dataset_path=path)
    # Each trajectory's last state has no successor, so no transition.
    assert len(ours) == len(train["observations"]) == 2 * STEPS - 2
    for key in ("observations", "actions", "rewards", "masks", "next_observations"):
        np.testing.assert_array_equal(getattr(ours, key), train[key], err_msg=key)
    np.testing.assert_array_equal(ours.dones, train["terminals"])
    held_out = ogbench_data.load_validation(NAME, path)
    np.testing.assert_array_equal(held_out.observations, val["observations"])
    np.testing.assert_array_equal(held_out.rewards, val["rewards"])
    # --dataset_path names the same file wherever it lies.
    assert sources.resolve(NAME, dataset_path=path).location == path


def test_rewards_and_masks_are_the_tasks(made, tmp_path):
    """A cube put on task 2's goal is rewarded 0 with mask 0 under task 2, -1 with mask 1 under task 1
    (OGBench's relabelling: successes - subtasks; mask 1 - success)."""
    _, path, _ = made
    with np.load(path) as f:
        arrays = {k: f[k].copy() for k in f.files}
    at_goal = np.arange(10, 20)
    arrays["qpos"][at_goal, CUBE_QPOS] = TASK2_GOAL
    moved = str(tmp_path / "cube-single-play-v0.npz")
    np.savez_compressed(moved, **arrays)
    os.link(ogbench_data.val_file(path), ogbench_data.val_file(moved))
    task2 = sources.resolve(NAME, dataset_path=moved).load()
    task1 = sources.resolve(NAME.replace("task2", "task1"), dataset_path=moved).load()
    assert np.all(task2.rewards[at_goal] == 0) and np.all(task2.masks[at_goal] == 0)
    assert np.all(task1.rewards[at_goal] == -1) and np.all(task1.masks[at_goal] == 1)
    np.testing.assert_array_equal(np.unique(task2.rewards), [-1.0, 0.0])


class _CubeAtGoal(gym.Wrapper):
    """Puts the cube on task 2's goal after every reset (so the next state is a success)."""

    def reset(self, **kwargs):
        observation, info = self.env.reset(**kwargs)
        env = self.env.unwrapped
        env._data.qpos[CUBE_QPOS] = TASK2_GOAL
        mujoco.mj_forward(env._model, env._data)
        return observation, info


def test_success_is_the_environments_and_ends_the_episode():
    def still(observations):
        return np.zeros(observations.shape[:-1] + (5,))

    solved = [[_CubeAtGoal(ogbench_data.make_env(NAME)) for _ in range(2)]]
    returns, successes = rollouts(still, solved, num_episodes=2, seed=0)
    np.testing.assert_array_equal(successes, [[1.0, 1.0]])
    assert np.all(returns > -5)  # it ends within a few steps of reaching the goal
    unsolved = [[ogbench_data.make_env(NAME)]]
    returns, successes = rollouts(still, unsolved, num_episodes=1, seed=0)
    np.testing.assert_array_equal(successes, [[0.0]])
    np.testing.assert_array_equal(returns, [[-200.0]])  # cube-single's time limit: 200 steps of -1


def test_a_missing_or_truncated_file_gets_one_line(made, tmp_path):
    _, path, _ = made
    with pytest.raises(DatasetError, match="make_ogbench.py --dataset=cube-single-play-v0") as missing:
        sources.resolve(NAME, data_dir=str(tmp_path))
    assert "\n" not in str(missing.value)
    cut = str(tmp_path / "cube-single-play-v0.npz")
    with open(path, "rb") as f:
        data = f.read()
    with open(cut, "wb") as f:
        f.write(data[: len(data) // 2])
    os.link(ogbench_data.val_file(path), ogbench_data.val_file(cut))
    with pytest.raises(DatasetError, match="not a readable OGBench dataset") as truncated:
        sources.resolve(NAME, data_dir=str(tmp_path)).load()
    assert "\n" not in str(truncated.value) and cut in str(truncated.value)
    with pytest.raises(DatasetError, match="cannot make"):
        ogbench_data.make_manipulation_dataset("antmaze-large-navigate-v0", cut)


def test_a_write_that_fails_leaves_no_partial_file(tmp_path, monkeypatch):
    """A full disk while saving: the temporary file was recorded only once written, so it stayed."""

    def full_disk(file, **arrays):
        file.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ogbench_data.np, "savez_compressed", full_disk)
    path = ogbench_data.train_file("cube-single-play-v0", str(tmp_path))
    with pytest.raises(OSError, match="No space left"):
        ogbench_data.make_manipulation_dataset(
            "cube-single-play-v0", path, num_episodes=1, progress=False, episode_steps=20, log=lambda *_: None
        )
    assert os.listdir(tmp_path) == []


def test_fine_tuning_on_ogbench_is_refused_in_one_line(tmp_path):
    """Its online phase reported returns where the offline phase reported the success rate."""
    from xql_jax.configs import finetune
    from xql_jax.finetune import train_finetune
    from xql_jax.runs import RunSpec, Watch

    with pytest.raises(ValueError, match="fine-tuning reports returns online, not OGBench's success rate"):
        train_finetune(finetune.get_config(), RunSpec(NAME), Watch(str(tmp_path / "run"), progress=False))
    assert not (tmp_path / "run").exists()
