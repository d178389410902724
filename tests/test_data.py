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
    from xql_jax.envs import make_env
    from xql_jax.train import check_shapes

    dataset = load_d4rl_hdf5(write(tmp_path / "d.hdf5", raw_episodes()))  # 2-d observations, 1-d actions
    with pytest.raises(DatasetError, match=r"dims 2/1 but the environment expects \(4,\)/\(2,\)"):
        check_shapes(dataset, make_env("pointmaze-umaze-v0"))
