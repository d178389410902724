"""The official reproduce scripts' settings, the evaluation protocols and the log-Gumbel value loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xql_jax import losses, protocols
from xql_jax.agents import xql
from xql_jax.checks import check_offline_config
from xql_jax.configs import finetune, official, tuned
from xql_jax.runs import RunSpec, Watch

# Written down from github Div99/XQL at dff09af, offline/reproduce/<script>: (beta = --temp,
# --max_clip, --batch_size, --num_v_updates, --sample_random_times, --noise), launcher defaults
# (train_offline.py: batch 1024, temp 1, clip 7, 1 V update, 0, no noise) where a flag is absent.
SCRIPT_VALUES = {
    "halfcheetah-medium-v2": (1.0, 7.0, 1024, 1, 0, True),  # halfcheetah_medium.sh:9
    "hopper-medium-v2": (5.0, 7.0, 1024, 1, 0, False),  # hopper_medium.sh:6
    "walker2d-medium-v2": (10.0, 7.0, 1024, 1, 0, False),  # walker_medium.sh:6
    "halfcheetah-medium-replay-v2": (1.0, 5.0, 256, 1, 0, False),  # halfcheetah_replay.sh:6
    "hopper-medium-replay-v2": (2.0, 7.0, 256, 1, 0, False),  # hopper_replay.sh:6
    "walker2d-medium-replay-v2": (5.0, 5.0, 1024, 1, 0, False),  # walker_replay.sh:6
    "halfcheetah-medium-expert-v2": (1.0, 5.0, 1024, 1, 0, False),  # halfcheetah_expert.sh:6
    "hopper-medium-expert-v2": (2.0, 7.0, 1024, 1, 1, False),  # hopper_expert.sh:6
    "walker2d-medium-expert-v2": (2.0, 5.0, 256, 1, 0, False),  # walker_expert.sh:6
    "antmaze-umaze-v0": (2.0, 7.0, 256, 1, 0, False),  # ant_umaze.sh:6
    "antmaze-umaze-diverse-v0": (5.0, 7.0, 256, 1, 1, False),  # ant_umaze_diverse.sh:6
    "antmaze-medium-play-v0": (0.8, 5.0, 256, 1, 0, False),  # ant_medium_play.sh:6
    "antmaze-medium-diverse-v0": (0.6, 7.0, 256, 4, 0, False),  # ant_medium_diverse.sh:7
    "antmaze-large-play-v0": (0.6, 5.0, 1024, 1, 0, False),  # ant_large_play.sh:6
    "antmaze-large-diverse-v0": (0.55, 5.0, 1024, 1, 0, False),  # ant_large_diverse.sh:6
    "kitchen-complete-v0": (2.0, 7.0, 1024, 1, 0, False),  # kitchen_complete.sh:6
    "kitchen-partial-v0": (5.0, 7.0, 1024, 1, 0, False),  # kitchen_partial.sh:6
    "kitchen-mixed-v0": (8.0, 7.0, 1024, 1, 0, False),  # kitchen_mixed.sh:6
}


def _values(config):
    agent = config.agent
    return (
        agent.beta,
        agent.max_clip,
        config.batch_size,
        agent.value_updates,
        agent.sample_random_times,
        agent.value_action_noise == 0.1,
    )


def test_official_config_has_every_scripts_values_and_its_evaluation():
    assert set(official.SCRIPTS) == set(SCRIPT_VALUES)
    differ = []
    for dataset, expected in SCRIPT_VALUES.items():
        config = official.get_config(dataset)
        check_offline_config(config)
        assert _values(config) == expected, dataset
        # ant_*.sh pass --eval_episodes=100 --eval_interval=30000; the others keep 5000 / 10.
        cadence = (30_000, 100) if dataset.startswith("antmaze") else (5_000, 10)
        assert (config.eval_interval, config.eval_episodes) == cadence, dataset
        table = tuned.get_config(dataset)
        if _values(table) != expected:
            differ.append(dataset)
        # Everything else is the domain config's, as tuned.py's.
        assert config.agent.awr_temperature == table.agent.awr_temperature
        assert config.reward_preprocessing == table.reward_preprocessing
    assert len(differ) == 10  # the README's count of datasets where the scripts and Table 4 disagree
    assert tuned.get_config("hopper-medium-v2").batch_size == 256  # Table 4 stays as it was
    kept = official.get_config("hopper-medium-v2:project_eval")
    assert (kept.eval_interval, kept.eval_episodes) == (50_000, 10) and kept.batch_size == 1024
    with pytest.raises(ValueError, match="no official reproduce script for 'pen-human-v0'"):
        official.get_config("pen-human-v0")
    with pytest.raises(ValueError, match="unknown evaluation variant 'best'"):
        official.get_config("hopper-medium-v2:best")


def test_evaluation_protocols_are_named_from_their_cadence():
    config = tuned.get_config("antmaze-umaze-v0:official_eval")
    assert (config.eval_interval, config.eval_episodes) == (30_000, 100)
    assert protocols.name(30_000, 100, "antmaze") == "official"
    assert protocols.name(100_000, 100, "antmaze") == "project"
    assert protocols.name(5_000, 10, "locomotion") == "official"
    assert protocols.name(50_000, 10, "kitchen") == "project"
    assert protocols.name(5_000, 50, None) == "custom"
    assert protocols.record(5_000, 10, "hopper-medium-v2") == {
        "protocol": "official",
        "kind": "offline",
        "interval": 5_000,
        "episodes": 10,
    }
    # xsac.yaml / xtd3.yaml eval_freq 10000, eval_ep 10: configs/online.py's too.
    assert protocols.name(10_000, 10, None, "online") == "official = project"
    # train_finetune.py: every 100k over 100 episodes; configs/finetune.py:locomotion has 10.
    assert protocols.name(100_000, 10, "locomotion", "finetune") == "project"


def test_finetune_variants_official_and_tuned():
    # train_finetune.py: --batch_size 256, --eval_episodes 100, --eval_interval 100000, --log_loss True.
    config = finetune.get_config("official:antmaze-large-play-v0")
    assert config.batch_size == 256 and config.agent.value_loss == "gumbel_log"
    assert (config.agent.beta, config.agent.max_clip) == (0.6, 5.0)  # ant_large_play.sh's flags
    assert (config.online.eval_interval, config.online.eval_episodes) == (100_000, 100)
    assert finetune.get_config("official:antmaze-medium-diverse-v0").agent.value_updates == 4
    assert config.agent.actor_cosine_decay is False
    table = finetune.get_config("tuned:antmaze-medium-play-v0")
    assert (table.agent.beta, table.agent.max_clip, table.batch_size, table.agent.value_updates) == (
        0.8,
        7.0,
        1024,
        2,
    )
    assert table.agent.value_loss == "gumbel"
    with pytest.raises(ValueError, match="fine-tunes AntMaze and locomotion only"):
        finetune.get_config("official:kitchen-mixed-v0")


def test_log_gumbel_loss_is_the_official_surrogate():
    # offline/critic.py gumbel_log_loss: stop_gradient(grad_gumbel(x)) * x, grad_gumbel with clip 7:
    # (e^(x'-a) - e^(-a)) / mean(e^(x'-a) - x' e^(-a)), a = max(max x', -1), x' = min(x, 7).
    diff = jnp.asarray([-3.0, 0.5, 2.0, 10.0, 20.0])
    beta = 2.0
    x = np.asarray(diff) / beta
    clipped = np.minimum(x, 7.0)
    a = max(clipped.max(), -1.0)
    weight = (np.exp(clipped - a) - np.exp(-a)) / np.mean(np.exp(clipped - a) - clipped * np.exp(-a))
    np.testing.assert_allclose(losses.gumbel_log_loss(diff, beta), weight * x, rtol=1e-5)
    # Its gradient is that of log(mean(e^x - x - 1) + 1) below the clip.
    small = diff[:4]
    grad = jax.grad(lambda d: losses.gumbel_log_loss(d, beta).mean())(small)
    log_loss = lambda d: jnp.log(jnp.mean(jnp.exp(d / beta) - d / beta - 1) + 1)  # noqa: E731
    np.testing.assert_allclose(grad, jax.grad(log_loss)(small), rtol=1e-5)
    # As the value loss, V moves towards the soft maximum as with the plain Gumbel loss.
    config = xql.XQLConfig(value_loss="gumbel_log", hidden_dims=(16, 16))
    q = jnp.asarray([0.0, 1.0, 4.0])
    for name in ("gumbel", "gumbel_log"):
        step = jax.grad(
            lambda v, n=name: xql.value_regression_loss(q - v, xql.XQLConfig(value_loss=n), {"beta": 1.0})
        )(jnp.zeros(3))
        assert np.all(np.asarray(step).sum() < 0), name  # loss falls as v rises towards the soft max
    assert config.value_loss == "gumbel_log"


def test_online_default_is_the_official_run_length():
    from xql_jax.configs import online

    # online/configs/xsac.yaml and xtd3.yaml: total_steps 2000000, capacity 1000000,
    # eval_freq 10000, eval_ep 10.
    for variant in online.VARIANTS:
        config = online.get_config(variant)
        assert (config.max_steps, config.replay_capacity) == (2_000_000, 1_000_000), variant
        assert protocols.name(config.eval_interval, config.eval_episodes, None, "online") != "custom"


def test_offline_run_draws_new_start_states_per_evaluation_and_records_its_protocol(
    tmp_path, small_maze_file, tiny_offline_config, quiet, monkeypatch
):
    from xql_jax import evaluation, loop, train

    seeds = []

    def recording_rollouts(act, envs, num_episodes, seed):
        seeds.append(seed)
        return evaluation.rollouts(act, envs, num_episodes, seed)

    monkeypatch.setattr(loop, "rollouts", recording_rollouts)
    config = tiny_offline_config
    config.eval_interval = 20  # two evaluations: steps 20 and 40
    summary = train.train_offline(
        config,
        RunSpec("pointmaze-umaze-v0", seed=3, dataset_path=small_maze_file),
        Watch(str(tmp_path / "run"), **quiet),
    )
    base = 1_000_000 * (3 + 1)
    assert seeds == [evaluation.evaluation_seed(base, 20), evaluation.evaluation_seed(base, 40)]
    assert seeds[0] != seeds[1] and evaluation.evaluation_seed(base, 20) == seeds[0]  # reproducible
    assert summary["evaluations"] == 2
    assert summary["evaluation"] == {"protocol": "custom", "kind": "offline", "interval": 20, "episodes": 1}


def test_evaluation_seeds_stay_valid_numpy_seeds_for_every_episode():
    """DM Control seeds numpy's RandomState with seed + episode index, which must stay below 2**32."""
    import numpy as np

    from xql_jax.evaluation import evaluation_seed

    seeds = [
        evaluation_seed(1_000_000 * (s + 1), step) for s in range(20) for step in range(0, 200_000, 1000)
    ]
    assert max(seeds) < 2**32 - 2**16
    raw = [
        int(np.random.SeedSequence([1_000_000, step]).generate_state(1)[0]) for step in range(0, 10_000, 100)
    ]
    assert [evaluation_seed(1_000_000, step) for step in range(0, 10_000, 100)] == [
        r % (2**32 - 2**16) for r in raw
    ]
