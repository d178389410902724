"""D4RL-style datasets made here: buffer export, rollouts, level choice, and make_dataset.py end to end."""

import dataclasses
import json

import h5py
import numpy as np
import pytest

from tests.conftest import run_offline_launcher, run_script
from xql_jax import made_datasets
from xql_jax.data import made, qlearning_transitions
from xql_jax.data.dataset import DatasetError


def test_replay_rows_become_d4rl_rows_with_terminals_and_time_limits():
    obs = np.arange(7, dtype=np.float32)[:, None]
    # Episode A: rows 0-2, cut by a time limit (row 3 does not start at row 2's next state);
    # episode B: rows 3-4, terminal at 4; episode C: row 5, still running when the buffer was saved.
    data = {
        "observations": obs[[0, 1, 2, 4, 5, 6]],
        "actions": np.zeros((6, 1), np.float32),
        "rewards": np.arange(6, dtype=np.float32),
        "masks": np.array([1, 1, 1, 1, 0, 1], np.float32),
        "next_observations": obs[[1, 2, 3, 5, 6, 0]],
    }
    data["next_observations"][4] = 99.0  # terminal: its next state is not the next row's
    raw = made.replay_rows_to_raw(data, 6)
    np.testing.assert_array_equal(raw["terminals"], [0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(raw["timeouts"], [0, 0, 1, 0, 0, 1])
    np.testing.assert_allclose(made.episode_returns_of(raw), [0 + 1 + 2, 3 + 4, 5])
    dataset = qlearning_transitions(raw)
    # Rows ending in a timeout are dropped as D4RL's qlearning_dataset does; the terminal stays.
    np.testing.assert_allclose(dataset.rewards, [0, 1, 3, 4])
    np.testing.assert_allclose(dataset.masks, [1, 1, 1, 0])
    np.testing.assert_allclose(dataset.next_observations[:, 0], [1, 2, 5, 99])


def test_collect_writes_whole_episodes_one_after_another():
    raw, returns = made_datasets.collect("Hopper-v5", None, 400, seed=3, num_envs=3)
    assert all(len(v) == 400 for v in raw.values())
    assert raw["observations"].shape == (400, 11) and raw["actions"].shape == (400, 3)
    ends = raw["terminals"] | raw["timeouts"]
    assert ends[-1] and not np.any(raw["terminals"] & raw["timeouts"])
    # Inside an episode each row starts where the previous one ended; across ends it does not.
    continues = np.all(raw["next_observations"][:-1] == raw["observations"][1:], axis=-1)
    np.testing.assert_array_equal(continues, ~ends[:-1])
    # A random hopper falls within 1000 steps: every whole episode ends in a terminal.
    assert raw["terminals"].sum() == len(returns) >= 10
    np.testing.assert_allclose(made.episode_returns_of(raw)[: len(returns)], returns, rtol=1e-5)
    # A deterministic actor without noise is what gets recorded.
    constant = lambda o: np.full((len(o), 3), 0.25)  # noqa: E731
    raw, _ = made_datasets.collect("Hopper-v5", constant, 50, noise_std=0.0, num_envs=2)
    np.testing.assert_array_equal(raw["actions"], 0.25)


def test_levels_are_the_best_evaluation_and_the_one_nearest_forty_percent_before_it():
    rows = [
        {"step": 10, "return_mean": -100.0},
        {"step": 20, "return_mean": 200.0},
        {"step": 30, "return_mean": 500.0},
        {"step": 40, "return_mean": 1100.0},
        {"step": 50, "return_mean": 1000.0},
    ]
    # target = -100 + 0.4 * (1100 + 100) = 380: 500 is nearer than 200
    assert made_datasets.choose_levels(rows) == {"medium": 30, "expert": 40}
    with pytest.raises(DatasetError, match="no evaluations"):
        made_datasets.choose_levels([])


def test_made_names_and_their_errors(tmp_path):
    assert made.parse_name("hopper-medium-replay-made") == ("hopper", "medium-replay")
    assert made.parse_name("hopper-medium-v2") is None
    with pytest.raises(DatasetError, match="unknown made dataset 'ant-medium-made'"):
        made.parse_name("ant-medium-made")
    with pytest.raises(DatasetError, match=r"--dataset=hopper-medium-replay --data_dir=\S+ --behavior_run="):
        made.locate("hopper-medium-replay-made", str(tmp_path))
    # The command it prints makes the dataset where the run looks for it (it left out --data_dir).
    with pytest.raises(DatasetError, match=f"--dataset=hopper-medium --data_dir={tmp_path}$"):
        made.locate("hopper-medium-made", str(tmp_path))


def make(*args):
    return run_script("make_dataset.py", [*args, "--progress=false"])


def test_make_dataset_trains_exports_makes_and_trains_offline(tmp_path):
    """The whole recipe, tiny and in-process: a behavior run, its export, every kind of dataset,
    then X-QL on one through the launcher."""
    recipe = made_datasets.Recipe(
        data_dir=str(tmp_path / "data"),
        policy_dir=str(tmp_path / "policies"),
        reference_episodes=2,
        progress=False,
        log=lambda *_: None,
    )
    run = tmp_path / "behavior"
    behavior = made_datasets.BehaviorRun(workdir=str(run), steps=1200, start_steps=600, eval_interval=400)
    made_datasets.run(recipe, behavior, train_behavior="hopper")
    info = json.loads((tmp_path / "policies" / "hopper.json").read_text())
    assert info["env_id"] == "Hopper-v5" and set(info["levels"]) == {"medium", "expert"}
    assert info["references"]["ref_max_score"] == info["levels"]["expert"]["return_mean"]
    assert (tmp_path / "policies" / "hopper-medium.npz").is_file()

    # medium-replay: the buffer's rows up to the medium checkpoint, written by the export.
    medium_step = info["levels"]["medium"]["step"]
    with h5py.File(tmp_path / "data" / "hopper-medium-replay-made.hdf5", "r") as f:
        assert len(f["rewards"]) == medium_step and f.attrs["behavior_step"] == medium_step
        assert set(f.keys()) >= {"observations", "actions", "rewards", "terminals", "timeouts"}
        # Its rows carry the run's exploration noise, not the recipe's collection noise.
        assert f.attrs["exploration_noise"] == 0.1 and "noise" not in f.attrs

    small = dataclasses.replace(recipe, num_transitions=300)
    for kind in ("medium", "random", "medium-expert"):
        made_datasets.run(small, dataset=f"hopper-{kind}")
    with h5py.File(tmp_path / "data" / "hopper-medium-expert-made.hdf5", "r") as f:
        assert len(f["rewards"]) == 600 and f.attrs["noise"] == 0.1
    stored = json.loads((tmp_path / "data" / "hopper-medium-made.json").read_text())
    assert {k: stored[k] for k in ("ref_min_score", "ref_max_score")} == info["references"]
    assert (stored["name"], stored["env_id"], stored["seed"]) == ("hopper-medium-made", "Hopper-v5", 0)
    assert "noise" not in json.loads((tmp_path / "data" / "hopper-random-made.json").read_text())

    with pytest.raises(DatasetError, match="train them with"):
        made_datasets.run(small, dataset="walker2d-medium")
    with pytest.raises(ValueError, match="--behavior_run"):
        made_datasets.run(dataclasses.replace(small, overwrite=True), dataset="hopper-medium-replay")
    with pytest.raises(ValueError, match="exactly one of --dataset, --train_behavior, --export_behavior"):
        made_datasets.run(small, dataset="hopper-medium", train_behavior="hopper")
    result = make("--dataset=walker2d-medium", f"--policy_dir={tmp_path / 'policies'}")  # the launcher
    assert result.returncode != 0 and "train them with" in result.stderr.strip().splitlines()[-1]

    # The made dataset trains like a D4RL one, by name, with its own reference returns.
    result = run_offline_launcher(
        [
            "--env_name=hopper-medium-expert-made",
            f"--data_dir={tmp_path / 'data'}",
            "--config=configs/locomotion.py",
            f"--workdir={tmp_path / 'offline'}",
            "--config.agent.hidden_dims=(16,16)",
            "--config.max_steps=100",
            "--config.log_interval=50",
            "--config.eval_interval=100",
            "--config.eval_episodes=2",
            "--config.batch_size=32",
            "--progress=false",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "offline" / "summary.json").read_text())
    assert summary["metric"] == "normalized_score" and np.isfinite(summary["last"])


@pytest.mark.parametrize("robot", ["halfcheetah", "hopper"])
def test_shipped_behavior_policies_load_and_are_ordered_random_medium_expert(robot):
    info = made_datasets.load_info(robot)
    assert info["env_id"] == made.ROBOTS[robot]
    random, medium, expert = (
        info["random"]["return_mean"],
        info["levels"]["medium"]["return_mean"],
        info["levels"]["expert"]["return_mean"],
    )
    assert random < medium < expert and info["levels"]["medium"]["step"] < info["levels"]["expert"]["step"]
    assert info["references"] == {"ref_min_score": random, "ref_max_score": expert}
    params = made_datasets.load_policy(made_datasets.policy_path(robot, "medium"))
    actor = made_datasets.deterministic_actor(params, info["hidden_dims"], info["action_dim"])
    # Over 300 steps the medium policy earns far more per step than uniform random actions
    # (measured: halfcheetah 2.6 vs -0.27, hopper 3.0 vs 0.6).
    medium_rewards = made_datasets.collect(info["env_id"], actor, 300, seed=1, num_envs=1)[0]["rewards"]
    random_rewards = made_datasets.collect(info["env_id"], None, 300, seed=1, num_envs=1)[0]["rewards"]
    assert medium_rewards.mean() > random_rewards.mean() + 1.5
