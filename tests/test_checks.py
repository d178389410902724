"""Bad input is refused in one line naming the field or file and the fix, before anything compiles."""

import json
import os

import h5py
import numpy as np
import pytest

from xql_jax import checks
from xql_jax.data import DatasetError, sources
from xql_jax.data.dataset import (
    load_d4rl_hdf5,
    references_path,
)
from xql_jax.envs import make_env, make_online_env, unit_actions

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAZE = os.path.join(ROOT, "configs", "maze.py")


def _write(path, obs_dim, act_dim, actions=None, terminals=None, references=None, steps=40):
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        f["observations"] = rng.normal(size=(steps, obs_dim)).astype(np.float32)
        f["actions"] = rng.uniform(-1, 1, (steps, act_dim)).astype(np.float32) if actions is None else actions
        f["rewards"] = rng.normal(size=steps).astype(np.float32)
        f["terminals"] = np.zeros(steps, bool) if terminals is None else terminals
        timeouts = np.zeros(steps, bool)
        timeouts[-1] = True
        f["timeouts"] = timeouts
    if references is not None:
        json.dump(references, open(references_path(str(path)), "w"))
    return str(path)


def test_discrete_action_environments_are_refused(tmp_path):
    with pytest.raises(
        ValueError, match=r"CartPole-v1 has a Discrete\(2\) action space; the learners need continuous"
    ):
        make_online_env("CartPole-v1")
    source = sources.resolve("CartPole-v1", dataset_path=_write(tmp_path / "c.hdf5", 4, 1))
    with pytest.raises(ValueError, match=r"CartPole-v1 has a Discrete\(2\) action space"):
        source.make_env()


def test_fractional_terminals_are_refused(tmp_path):
    terminals = np.zeros(40, np.float32)
    terminals[[5, 9]] = 0.5
    with pytest.raises(
        DatasetError, match=r"f.hdf5: 'terminals' holds 2 value\(s\) other than 0 and 1 \(e.g. 0.5\)"
    ):
        load_d4rl_hdf5(_write(tmp_path / "f.hdf5", 3, 1, terminals=terminals))
    terminals[[5, 9]] = 1.0  # float flags of 0 and 1 are fine
    assert load_d4rl_hdf5(_write(tmp_path / "g.hdf5", 3, 1, terminals=terminals)).masks.min() == 0.0


def test_actions_clipped_as_the_official_code_and_refused_when_clearly_outside(tmp_path):
    # IQL / X-QL D4RLDataset (clip_to_eps, eps 1e-5): actions clipped to [-1 + 1e-5, 1 - 1e-5].
    actions = np.random.default_rng(0).uniform(-1, 1, (40, 2)).astype(np.float32)
    actions[3, 0], actions[4, 1] = 1.0005, -1.0
    path = _write(tmp_path / "a.hdf5", 4, 2, actions=actions)
    env = sources.resolve("pointmaze-umaze-v0", path).make_env()  # actions in [-1, 1]
    dataset = checks.check_dataset(load_d4rl_hdf5(path), env, path)
    assert dataset.actions.max() == np.float32(1 - 1e-5) and dataset.actions.min() == np.float32(-1 + 1e-5)
    np.testing.assert_array_equal(dataset.actions[5:10], actions[5:10])  # inside: unchanged
    actions[7, 1] = 1.8  # unnormalised, or another environment's
    path = _write(tmp_path / "b.hdf5", 4, 2, actions=actions)
    with pytest.raises(DatasetError) as error:
        checks.check_dataset(load_d4rl_hdf5(path), env, path)
    assert str(error.value).startswith(
        f"{path}: actions (dimension 1) span [-1, 1.8] but the environment's bounds"
    )
    assert "there are [-1, 1]" in str(error.value) and "check --env_name" in str(error.value)


def test_evaluation_and_collection_act_alike_on_a_box_other_than_unit(tmp_path):
    # Pendulum-v1 takes torques in [-2, 2]; every policy outputs [-1, 1].
    path = _write(tmp_path / "p.hdf5", 3, 1, actions=np.linspace(-2, 2, 40, dtype=np.float32)[:, None])
    source = sources.resolve("Pendulum-v1", dataset_path=path)
    evaluation, collection, raw = (
        source.make_env(seed=3),
        make_online_env("Pendulum-v1", seed=3),
        make_env("Pendulum-v1"),
    )
    raw.reset(seed=3)
    steps = [env.step(np.array([0.5], np.float32))[0] for env in (evaluation, collection, raw)]
    np.testing.assert_array_equal(steps[0], steps[1])  # both sent torque 1.0
    assert not np.allclose(steps[0], steps[2])  # the raw environment got torque 0.5
    # The data's torques are mapped into the same [-1, 1] units the evaluation acts in.
    dataset = checks.check_dataset(source.load(), evaluation, path)
    np.testing.assert_allclose(
        dataset.actions[:, 0], np.clip(np.linspace(-1, 1, 40)[:-1], -1 + 1e-5, 1 - 1e-5), atol=1e-6
    )
    assert unit_actions(evaluation) is evaluation  # wrapping twice (fine-tuning) changes nothing
