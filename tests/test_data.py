import os
import subprocess
import sys

import h5py
import jax
import numpy as np
import pytest

from xql_jax.data import (
    DatasetError,
    episode_returns,
    load_d4rl_hdf5,
    preprocess_rewards,
    sample_batch,
    to_device,
)
from xql_jax.data import dataset as data_module
from xql_jax.runs import RunSpec, Watch


def raw_episodes():
    """Episode A: 3 steps ending in a terminal. Episode B: 4 steps ending in a timeout.

    Observation i is [i, 10 * i] so pairings are easy to read.
    """
    n = 7
    obs = np.stack([np.arange(n), 10 * np.arange(n)], -1).astype(np.float32)
    return {
        "observations": obs,
        "actions": np.arange(n, dtype=np.float32)[:, None] / 10,
        "rewards": np.arange(n, dtype=np.float32),
        "terminals": np.array([0, 0, 1, 0, 0, 0, 0], bool),
        "timeouts": np.array([0, 0, 0, 0, 0, 0, 1], bool),
    }


def write(path, raw):
    with h5py.File(path, "w") as f:
        for key, value in raw.items():
            f.create_dataset(key, data=value)
    return str(path)


def test_qlearning_pairs_consecutive_steps_and_drops_timeouts(tmp_path):
    data = load_d4rl_hdf5(write(tmp_path / "d.hdf5", raw_episodes()))
    # Step 6 is a timeout: dropped (its next state is unknown); steps 0..5 remain.
    assert len(data) == 6
    np.testing.assert_array_equal(data.observations[:, 0], [0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(data.next_observations[:, 0], [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(data.masks, [1, 1, 0, 1, 1, 1])
    # Episode ends: the terminal at 2 and the last kept step of episode B.
    np.testing.assert_array_equal(data.dones, [0, 0, 1, 0, 0, 1])
    np.testing.assert_allclose(data.next_actions[:, 0], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    np.testing.assert_allclose(episode_returns(data), [0 + 1 + 2, 3 + 4 + 5])
    assert data.observations.dtype == np.float32


def test_next_observations_in_file_are_used_and_mark_episode_ends(tmp_path):
    raw = raw_episodes()
    raw["next_observations"] = raw["observations"] + 0.5  # deliberately not obs[i + 1]
    data = load_d4rl_hdf5(write(tmp_path / "d.hdf5", raw))
    np.testing.assert_allclose(data.next_observations[:, 0], np.arange(6) + 0.5)
    # next_obs[i] != obs[i + 1] everywhere, so every transition is its own episode end.
    np.testing.assert_array_equal(data.dones, np.ones(6))


def test_timeouts_in_the_middle_split_episodes(tmp_path):
    raw = raw_episodes()
    raw["terminals"][:] = False
    raw["timeouts"] = np.array([0, 1, 0, 0, 0, 0, 0], bool)
    data = load_d4rl_hdf5(write(tmp_path / "d.hdf5", raw))
    np.testing.assert_array_equal(data.observations[:, 0], [0, 2, 3, 4, 5])
    np.testing.assert_array_equal(data.dones, [1, 0, 0, 0, 1])
    np.testing.assert_array_equal(data.masks, np.ones(5))


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DatasetError, match="dataset file not found: .*nope.hdf5"):
        load_d4rl_hdf5(str(tmp_path / "nope.hdf5"))


def test_missing_keys_are_listed(tmp_path):
    raw = raw_episodes()
    del raw["timeouts"], raw["rewards"]
    with pytest.raises(DatasetError, match=r"missing key\(s\) \['rewards', 'timeouts'\]"):
        load_d4rl_hdf5(write(tmp_path / "d.hdf5", raw))


def test_mismatched_lengths_are_reported(tmp_path):
    raw = raw_episodes()
    raw["actions"] = raw["actions"][:-2]
    with pytest.raises(DatasetError, match="different lengths.*'actions': 5"):
        load_d4rl_hdf5(write(tmp_path / "d.hdf5", raw))


def test_nan_in_data_is_reported(tmp_path):
    raw = raw_episodes()
    raw["rewards"][3] = np.nan
    with pytest.raises(DatasetError, match="'rewards' holds 1 NaN"):
        load_d4rl_hdf5(write(tmp_path / "d.hdf5", raw))


def test_not_hdf5_is_reported(tmp_path):
    path = tmp_path / "d.hdf5"
    path.write_text("not hdf5")
    with pytest.raises(DatasetError, match="not a readable HDF5"):
        load_d4rl_hdf5(str(path))


def test_reward_preprocessing(tmp_path):
    data = load_d4rl_hdf5(write(tmp_path / "d.hdf5", raw_episodes()))
    # Episode returns are 3 and 12: scale 1000 / 9.
    scaled = preprocess_rewards(data, "locomotion")
    np.testing.assert_allclose(scaled.rewards, data.rewards * 1000 / 9, rtol=1e-6)
    np.testing.assert_allclose(preprocess_rewards(data, "antmaze").rewards, data.rewards - 1)
    assert preprocess_rewards(data, "none") is data
    with pytest.raises(ValueError, match="unknown reward_preprocessing"):
        preprocess_rewards(data, "bogus")


def test_sample_batch_draws_whole_transitions(tmp_path):
    data = load_d4rl_hdf5(write(tmp_path / "d.hdf5", raw_episodes()))
    batch = jax.jit(sample_batch, static_argnums=2)(jax.random.PRNGKey(0), to_device(data), 64)
    assert batch["observations"].shape == (64, 2)
    # Every sampled row is one transition: next_obs = obs + 1 in this file.
    np.testing.assert_allclose(batch["next_observations"][:, 0], batch["observations"][:, 0] + 1)
    np.testing.assert_allclose(batch["rewards"], batch["observations"][:, 0])


def test_non_numeric_dtype_is_reported(tmp_path):
    raw = raw_episodes()
    raw["rewards"] = np.array([b"x"] * 7)
    with pytest.raises(DatasetError, match="'rewards' has non-numeric dtype"):
        load_d4rl_hdf5(write(tmp_path / "d.hdf5", raw))


def test_dataset_that_does_not_fit_the_environment_is_reported(tmp_path):
    from xql_jax.data import pointmaze
    from xql_jax.data.prepare import check_shapes

    dataset = load_d4rl_hdf5(write(tmp_path / "d.hdf5", raw_episodes()))  # 2-d observations, 1-d actions
    with pytest.raises(DatasetError, match=r"dims 2/1 but the environment expects \(4,\)/\(2,\)"):
        check_shapes(dataset, pointmaze.make_env("pointmaze-umaze-v0"))


def test_d4rl_names_resolve_to_their_files_references_and_environments(tmp_path, monkeypatch):
    from xql_jax.data import d4rl, sources
    from xql_jax.data.prepare import check_shapes

    monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path))
    with pytest.raises(
        DatasetError, match=r"D4RL dataset 'hopper-medium-v2' not found: looked for .*hopper_medium-v2\.hdf5"
    ):
        sources.resolve("hopper-medium-v2")
    # A file in the D4RL folder under D4RL's own file name is found, with D4RL's reference returns.
    raw = raw_episodes()
    n = len(raw["rewards"])
    raw["observations"] = np.random.default_rng(0).normal(size=(n, 11)).astype(np.float32)
    raw["actions"] = np.zeros((n, 3), np.float32)
    write(tmp_path / "hopper_medium-v2.hdf5", raw)
    source = sources.resolve("hopper-medium-v2")
    path = source.location
    assert (source.kind, source.domain) == ("d4rl", "locomotion")
    assert path == str(tmp_path / "hopper_medium-v2.hdf5")
    assert source.references == {"ref_min_score": -20.272305, "ref_max_score": 3234.3}
    check_shapes(source.load(), source.make_env())  # Hopper-v5 has D4RL's layout
    with pytest.raises(DatasetError, match="does not belong to this environment"):
        check_shapes(load_d4rl_hdf5(path), d4rl.make_env("halfcheetah-medium-v2"))
    # --dataset_path with a D4RL name takes D4RL's references; the file names follow d4rl/infos.py.
    assert sources.resolve("hopper-medium-v2", path).references["ref_max_score"] == 3234.3
    assert d4rl.D4RL_DATASETS["antmaze-medium-play-v0"]["url"].endswith(
        "Ant_maze_big-maze_noisy_multistart_True_multigoal_False_sparse.hdf5"
    )
    assert d4rl.references("kitchen-partial-v0") == {"ref_min_score": 0.0, "ref_max_score": 4.0}
    assert d4rl.references("pen-human-v1")["ref_min_score"] == 96.262799
    assert d4rl.make_env("pen-human-v1").observation_space.shape == (45,)
    # Every family has an evaluation environment with D4RL's observation size.
    for name, dim in [("ant-medium-v2", 111), ("antmaze-umaze-v0", 29), ("kitchen-mixed-v0", 60)]:
        assert d4rl.make_env(name).observation_space.shape == (dim,), name


def test_minari_dataset_made_with_datacollector_loads_and_trains(tmp_path, monkeypatch):
    import gymnasium as gym
    import minari

    from xql_jax.data import minari_data, sources
    from xql_jax.data.prepare import check_shapes

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    env = minari.DataCollector(gym.make("Pendulum-v1", max_episode_steps=20))
    for episode in range(3):
        env.reset(seed=episode)
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            done = terminated or truncated
    env.create_dataset(
        "pendulum/random-v0", algorithm_name="random", ref_min_score=-1500.0, ref_max_score=-100.0
    )

    dataset, references = minari_data.load_minari("minari:pendulum/random-v0")
    episodes = list(minari.load_dataset("pendulum/random-v0").iterate_episodes())
    assert len(dataset) == 60 and dataset.observation_dim == 3 and dataset.action_dim == 1
    np.testing.assert_array_equal(dataset.observations[:20], episodes[0].observations[:-1])
    np.testing.assert_array_equal(dataset.next_observations[:20], episodes[0].observations[1:])
    np.testing.assert_allclose(dataset.rewards[20:40], episodes[1].rewards, rtol=1e-6)  # stored float64
    assert dataset.dones.sum() == 3 and dataset.dones[19] == 1 and dataset.masks.min() == 1.0  # time limits
    assert references == {"ref_min_score": -1500.0, "ref_max_score": -100.0}
    source = sources.resolve("minari:pendulum/random-v0")
    assert (source.kind, source.references) == ("minari", references) and len(source.load()) == 60
    check_shapes(dataset, minari_data.make_minari_env("minari:pendulum/random-v0"))
    # A few steps of X-QL on it, evaluated in the environment Minari recovers.
    from xql_jax.configs import base
    from xql_jax.train import train_offline

    config = base.get_config()
    config.agent.hidden_dims = (8, 8)
    config.reward_preprocessing = "none"
    config.update(batch_size=16, max_steps=20, log_interval=10, eval_interval=20, checkpoint_interval=0)
    config.update(eval_episodes=2, eval_envs=2)
    summary = train_offline(
        config, RunSpec("minari:pendulum/random-v0"), Watch(str(tmp_path / "run"), progress=False)
    )
    assert summary["metric"] == "normalized_score" and np.isfinite(summary["last"])
    with pytest.raises(
        DatasetError, match=r"Minari dataset 'nope/none-v0' not found in .*MINARI_DATASETS_PATH"
    ):
        minari_data.load_minari("minari:nope/none-v0")


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    path = str(tmp_path / "d.hdf5")
    ours = data_module.partial_path(path)
    host = ours[len(path) + 1 :].rsplit(".", 2)[0]
    stale = [
        f"{path}.{host}.{dead_pid}.partial",
        f"{data_module.references_path(path)}.{host}.{dead_pid}.partial",
    ]
    stale.append(f"{path}.{dead_pid}.partial")  # the names written before host names were added
    kept = [f"{path}.{host}.{os.getppid()}.partial", f"{path}.otherhost.{dead_pid}.partial"]  # live; not ours
    for name in stale + kept:
        open(name, "w").close()
    raw = {
        "observations": np.zeros((4, 2), np.float32),
        "actions": np.zeros((4, 1), np.float32),
        "rewards": np.zeros(4, np.float32),
        "terminals": np.zeros(4, bool),
        "timeouts": np.array([0, 0, 0, 1], bool),
    }
    data_module.write_d4rl_hdf5(path, raw, {"ref_min_score": 0.0, "ref_max_score": 1.0}, {})
    assert [os.path.exists(name) for name in stale] == [False, False, False]
    assert all(os.path.exists(name) for name in kept)
    assert sorted(os.listdir(tmp_path)) == sorted(["d.hdf5", "d.json", *(os.path.basename(k) for k in kept)])
