import pytest

from xql_jax.checks import check_offline_config
from xql_jax.configs import adroit, antmaze, base, kitchen, locomotion, maze, online, tuned
from xql_jax.train import learner_config_from


@pytest.mark.parametrize("module", [base, locomotion, antmaze, kitchen, adroit, maze])
@pytest.mark.parametrize("variant", ["xql", "iql"])
def test_every_domain_config_builds_a_valid_learner(module, variant):
    config = module.get_config(variant)
    check_offline_config(config)
    learner = learner_config_from(config)
    assert learner.value_loss == ("gumbel" if variant == "xql" else "expectile")
    assert learner.decay_steps == config.max_steps


def test_domain_values_follow_the_paper():
    # (beta, awr temperature, expectile, reward preprocessing) per domain, REFERENCE table.
    expected = {
        locomotion: (2.0, 3.0, 0.7, "locomotion"),
        antmaze: (0.6, 10.0, 0.9, "antmaze"),
        kitchen: (5.0, 0.5, 0.7, "none"),
        adroit: (5.0, 0.5, 0.7, "none"),
    }
    for module, (beta, awr, expectile, rewards) in expected.items():
        config = module.get_config()
        assert (config.agent.beta, config.agent.awr_temperature) == (beta, awr)
        assert config.agent.expectile == expectile and config.reward_preprocessing == rewards
    assert antmaze.get_config().agent.actor_cosine_decay is False
    assert kitchen.get_config().agent.actor_dropout_rate == 0.1


def test_tuned_table_selects_by_dataset_name():
    config = tuned.get_config("hammer-human-v0")
    assert (config.agent.beta, config.agent.max_clip, config.batch_size, config.agent.value_updates) == (
        0.5,
        3.0,
        1024,
        4,
    )
    assert config.agent.actor_dropout_rate == 0.1  # adroit domain settings underneath
    assert tuned.get_config("antmaze-medium-diverse-v0").agent.value_updates == 4
    assert len(tuned.TABLE_4) == 26
    with pytest.raises(ValueError, match="no tuned settings for 'hopper-random-v2'"):
        tuned.get_config("hopper-random-v2")


def test_unknown_variant_is_rejected():
    with pytest.raises(ValueError, match="unknown config variant 'sac'"):
        locomotion.get_config("sac")


def test_loop_fields_are_checked_before_training():
    config = maze.get_config()
    config.max_steps = 1500  # not a whole number of 1000-step chunks
    with pytest.raises(ValueError, match=r"max_steps \(1500\) must be a multiple of config.log_interval"):
        check_offline_config(config)
    config = maze.get_config()
    config.eval_interval = 2500
    with pytest.raises(ValueError, match=r"eval_interval \(2500\) must be a multiple"):
        check_offline_config(config)
    config = maze.get_config()
    config.batch_size = 0
    with pytest.raises(ValueError, match="batch_size must be positive"):
        check_offline_config(config)


@pytest.mark.parametrize(
    "learner,config,filled_per_task",
    [
        ("xql", lambda: base.get_config(), ()),
        ("sac", lambda: online.get_config("xsac"), ("beta",)),
        ("td3", lambda: online.get_config("xtd3"), ("beta", "exploration_noise")),
    ],
)
def test_config_files_list_every_learner_field_with_the_dataclass_default(learner, config, filled_per_task):
    """Learner defaults are written twice, in the dataclass and in the commented config file: they
    must agree, and every field must be in the file (``decay_steps`` is the loop's: the run length)."""
    import dataclasses

    from xql_jax import agents

    defaults = {f.name: f.default for f in dataclasses.fields(agents.get(learner).config_class)}
    written = config().agent.to_dict()
    assert set(written) == set(defaults) - {"decay_steps"}
    differ = {
        name: (defaults[name], value)
        for name, value in written.items()
        if (tuple(value) if isinstance(value, list) else value) != defaults[name]
    }
    assert differ == {name: (defaults[name], None) for name in filled_per_task}  # None: TASKS' value
