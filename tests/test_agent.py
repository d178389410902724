import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.conftest import ACT_DIM, OBS_DIM, fake_data, tiny
from xql_jax.agents import xql
from xql_jax.data import sample_batch
from xql_jax.train import make_train_chunk


def leaves_differ(a, b):
    pairs = zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
    return any(not np.allclose(x, y) for x, y in pairs)


def all_finite(tree):
    return all(np.all(np.isfinite(x)) for x in jax.tree_util.tree_leaves(tree))


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"value_loss": "expectile"},
        {"double_q": False},
        {"q_only": True},
        {"actor_dropout_rate": 0.1, "value_updates": 2, "grad_clip_norm": 1.0},
    ],
    ids=["xql", "iql", "single_q", "q_only", "dropout_vupdates_clip"],
)
def test_one_update_changes_every_network_and_stays_finite(overrides):
    config = tiny(**overrides)
    state = xql.create_state(jax.random.PRNGKey(0), OBS_DIM, ACT_DIM, config)
    new_state, metrics = jax.jit(xql.update, static_argnums=2)(state, fake_data(), config)
    assert leaves_differ(state.actor.params, new_state.actor.params)
    assert leaves_differ(state.critic.params, new_state.critic.params)
    assert leaves_differ(state.target_critic_params, new_state.target_critic_params)
    if config.q_only:
        assert new_state.value is None
    else:
        assert leaves_differ(state.value.params, new_state.value.params)
    assert all_finite(new_state) and all_finite(metrics)
    assert int(new_state.step) == 1
    assert jax.tree_util.tree_leaves(state.critic.params)[0].shape[0] == config.num_critics


def test_target_critic_is_polyak_average():
    config = tiny(tau=0.1)
    state = xql.create_state(jax.random.PRNGKey(1), OBS_DIM, ACT_DIM, config)
    new_state, _ = xql.update(state, fake_data(), config)
    jax.tree_util.tree_map(
        lambda new_target, online, old_target: np.testing.assert_allclose(
            new_target, 0.1 * online + 0.9 * old_target, rtol=1e-5, atol=1e-7
        ),
        new_state.target_critic_params,
        new_state.critic.params,
        state.target_critic_params,
    )


def test_critic_target_uses_the_new_value():
    """update_q regresses onto r + discount * mask * V_new(s'): check the logged target by hand."""
    config = tiny()
    data = fake_data()
    state = xql.create_state(jax.random.PRNGKey(2), OBS_DIM, ACT_DIM, config)
    state_after_v, _ = xql.update_v(state, data, config)
    _, metrics = xql.update_q(state_after_v, data, config)
    v_next = state.value.apply_fn({"params": state_after_v.value.params}, data["next_observations"])
    expected = data["rewards"] + config.discount * data["masks"] * v_next
    np.testing.assert_allclose(metrics["q_target"], expected.mean(), rtol=1e-5)


def test_value_converges_to_soft_maximum_of_fixed_critic():
    """With the critic frozen, V(s) fitted by the Gumbel loss reaches beta * log mean exp(Q / beta)."""
    config = tiny(beta=1.0, value_lr=1e-2, max_clip=None)
    state = xql.create_state(jax.random.PRNGKey(3), OBS_DIM, ACT_DIM, config)
    data = fake_data()
    data["observations"] = jnp.zeros_like(data["observations"])  # one state, many actions
    update_v = jax.jit(xql.update_v, static_argnums=2)
    for _ in range(1500):
        state, _ = update_v(state, data, config)
    q = jnp.min(
        state.critic.apply_fn({"params": state.target_critic_params}, data["observations"], data["actions"]),
        0,
    )
    v = state.value.apply_fn({"params": state.value.params}, data["observations"][:1])[0]
    soft_max = config.beta * np.log(np.mean(np.exp(np.asarray(q) / config.beta)))
    assert abs(float(v) - soft_max) < 0.02 * max(1.0, abs(soft_max))
    assert float(v) > float(q.mean())  # above the mean: it is a soft maximum


@pytest.mark.parametrize("q_only", [False, True])
def test_scan_of_k_steps_equals_k_single_steps(q_only):
    config, k, batch_size = tiny(q_only=q_only), 5, 16
    data = fake_data()
    init = lambda: xql.create_state(jax.random.PRNGKey(4), OBS_DIM, ACT_DIM, config)  # noqa: E731

    scanned, scan_metrics = make_train_chunk(config, batch_size, k)(init(), data)

    state = init()
    single = jax.jit(xql.update, static_argnums=2)
    losses = []
    for _ in range(k):
        rng, key = jax.random.split(state.rng)
        state, metrics = single(state._replace(rng=rng), sample_batch(key, data, batch_size), config)
        losses.append(metrics["critic_loss"])
    for a, b in zip(jax.tree_util.tree_leaves(scanned), jax.tree_util.tree_leaves(state), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(scan_metrics["critic_loss"], np.mean(losses), rtol=1e-5)


def test_config_rejects_unknown_and_invalid_fields():
    with pytest.raises(ValueError, match=r"unknown XQLConfig field\(s\) \['betta'\]"):
        xql.XQLConfig.from_dict({"betta": 1.0})
    with pytest.raises(ValueError, match="value_loss must be"):
        xql.XQLConfig(value_loss="huber")
    with pytest.raises(ValueError, match="beta .* must be positive"):
        xql.XQLConfig(beta=0.0)
    with pytest.raises(ValueError, match="q_only"):
        xql.XQLConfig(q_only=True, value_loss="expectile")


def test_policy_actions_are_deterministic_and_bounded():
    config = tiny(actor_dropout_rate=0.5)
    state = xql.create_state(jax.random.PRNGKey(5), OBS_DIM, ACT_DIM, config)
    obs = jnp.ones((4, OBS_DIM)) * 100.0
    a1 = xql.eval_actions(state, obs, config)
    a2 = xql.eval_actions(state, obs, config)
    np.testing.assert_array_equal(a1, a2)  # dropout is off at evaluation
    assert a1.shape == (4, ACT_DIM) and np.all(np.abs(a1) <= 1.0)


def test_every_registered_learner_provides_the_interface_with_its_signatures():
    """The loops use a learner only through ``agents.INTERFACE``: each registered module must have
    every name, callable with the documented parameters, and a frozen config class."""
    import inspect

    from xql_jax import agents

    parameters = {
        "create_state": ["rng", "observation_dim", "action_dim", "config", "hyperparams"],
        "update": ["state", "batch", "config"],
        "explore_actions": ["state", "observations", "key", "config"],
        "eval_actions": ["state", "observations", "config"],
    }
    for name, learner in agents.LEARNERS.items():
        missing = [attr for attr in agents.INTERFACE if not hasattr(learner.module, attr)]
        assert not missing, f"learner {name} lacks {missing}"
        assert set(learner.module.SWEEPABLE) <= {f.name for f in dataclasses.fields(learner.config_class)}
        for function, expected in parameters.items():
            signature = list(inspect.signature(getattr(learner.module, function)).parameters)
            assert signature[: len(expected)] == expected, (name, function, signature)
        assert learner.config_class.__dataclass_params__.frozen, name  # hashable: a static jit argument
        assert agents.get(name) is learner
