"""The online agents and offline options as the official code (github Div99/XQL) ran them.

Each test holds one setting of the code that produced the paper's figures, written here with the
file it comes from: online/research/algs/gumbel_sac.py, gumbel_td3.py, online/configs/xsac.yaml,
xtd3.yaml, *_experiments.json, online/research/networks/mlp.py; offline/critic.py, policy.py.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xql_jax import losses, networks
from xql_jax.agents import sac, td3, xql
from xql_jax.configs import online as online_configs

OBS_DIM, ACT_DIM, BATCH = 5, 2, 64


def _batch(seed=0, size=BATCH):
    rng = np.random.default_rng(seed)
    return {
        "observations": jnp.asarray(rng.normal(size=(size, OBS_DIM)), jnp.float32),
        "actions": jnp.asarray(rng.uniform(-1, 1, (size, ACT_DIM)), jnp.float32),
        "rewards": jnp.asarray(rng.normal(size=size), jnp.float32),
        "masks": jnp.ones(size, jnp.float32),
        "next_observations": jnp.asarray(rng.normal(size=(size, OBS_DIM)), jnp.float32),
        "next_actions": jnp.asarray(rng.uniform(-1, 1, (size, ACT_DIM)), jnp.float32),
    }


def _changed(a, b):
    return any(
        bool(jnp.any(x != y))
        for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=False)
    )


def test_xsac_value_target_is_the_min_of_the_updated_online_critics():
    # gumbel_sac.py: Q is updated first; then a ~ pi(s) (rsample) and V onto min_i Q_i(s, a) of the
    # online critics, detached; no target critic exists.
    config = sac.SACConfig(beta=2.0, hidden_dims=(16, 16))
    state = sac.create_state(jax.random.PRNGKey(0), OBS_DIM, ACT_DIM, config)
    assert not hasattr(state, "target_critic_params")
    batch = _batch()
    rng, policy_key = jax.random.split(state.rng)
    updated, _ = sac.update_critic(state, batch, config)
    actions, _ = sac._sample(updated, updated.actor.params, batch["observations"], policy_key)
    q = updated.critic.apply_fn({"params": updated.critic.params}, batch["observations"], actions).min(0)
    v = state.value.apply_fn({"params": state.value.params}, batch["observations"])
    expected = losses.gumbel_loss(q - v, 2.0, 10.0, True, clip_below=True).mean()
    _, metrics = jax.jit(lambda s, b: sac.update(s, b, config))(state, batch)
    np.testing.assert_allclose(metrics["value_loss"], expected, rtol=1e-5)
    # The critics before the update give another number: the target must use the updated ones.
    stale = state.critic.apply_fn({"params": state.critic.params}, batch["observations"], actions).min(0)
    assert abs(float(losses.gumbel_loss(stale - v, 2.0, 10.0, True, True).mean() - expected)) > 1e-6


def test_online_gumbel_loss_has_no_gradient_below_minus_clip():
    # gumbel_rescale_loss: z = clamp((label - pred) / beta, -clip, clip) before the batch max.
    diff = jnp.asarray([-30.0, -1.0, 0.5, 2.0])
    grad_online = jax.grad(lambda d: losses.gumbel_loss(d, 2.0, 8.0, True, clip_below=True).sum())(diff)
    grad_offline = jax.grad(lambda d: losses.gumbel_loss(d, 2.0, 8.0, True).sum())(diff)
    assert float(grad_online[0]) == 0.0 and float(grad_offline[0]) != 0.0  # z = -15 < -8
    np.testing.assert_allclose(grad_online[1:], grad_offline[1:], rtol=1e-6)
    for module, config in ((sac, sac.SACConfig()), (td3, td3.TD3Config())):
        assert config.clip_below, module.__name__


def test_targets_move_on_even_updates_only_and_the_actor_every_second():
    # xsac.yaml target_freq 2 and actor_freq 2 (steps % freq == 0); xtd3.yaml actor_freq = target_freq = 2.
    config = sac.SACConfig(beta=2.0, hidden_dims=(16, 16))
    state0 = sac.create_state(jax.random.PRNGKey(0), OBS_DIM, ACT_DIM, config)
    step = jax.jit(lambda s, b: sac.update(s, b, config))
    state1, _ = step(state0, _batch(0))  # step 0: even
    state2, _ = step(state1, _batch(1))  # step 1: odd
    assert _changed(state0.target_value_params, state1.target_value_params)
    assert not _changed(state1.target_value_params, state2.target_value_params)
    assert _changed(state0.actor.params, state1.actor.params) and not _changed(
        state1.actor.params, state2.actor.params
    )
    assert not _changed(state1.log_temperature.params, state2.log_temperature.params)
    assert _changed(state1.value.params, state2.value.params) and _changed(
        state1.critic.params, state2.critic.params
    )
    state3, _ = step(state2, _batch(2))  # step 2: even again
    assert _changed(state2.target_value_params, state3.target_value_params)
    tconfig = td3.TD3Config(hidden_dims=(16, 16))
    t0 = td3.create_state(jax.random.PRNGKey(0), OBS_DIM, ACT_DIM, tconfig)
    tstep = jax.jit(lambda s, b: td3.update(s, b, tconfig))
    t1, _ = tstep(t0, _batch(0))
    t2, _ = tstep(t1, _batch(1))
    assert _changed(t0.target_critic_params, t1.target_critic_params)
    assert not _changed(t1.target_critic_params, t2.target_critic_params)
    assert not _changed(t1.target_actor_params, t2.target_actor_params)


def test_configs_hold_the_official_yaml_and_sweep_values():
    xsac = online_configs.get_config("xsac")
    assert (xsac.start_steps, xsac.agent.max_clip, xsac.agent.actor_update_every) == (5000, 10.0, 2)
    assert xsac.agent.target_update_every == 2 and xsac.batch_size == 1024
    for variant in ("xtd3", "td3", "xtd3_dq"):
        config = online_configs.get_config(variant)
        assert (config.start_steps, config.agent.max_clip, config.batch_size) == (25_000, 8.0, 256)
    # *_experiments.json: hopper-hop explores with noise 0.05, the others 0.1; X-SAC betas 2/2/1/5.
    noise = {
        task: online_configs.for_task(online_configs.get_config("xtd3"), task).agent.exploration_noise
        for task in ("cheetah-run", "walker-run", "hopper-hop", "quadruped-run", "Hopper-v5")
    }
    assert noise == {
        "cheetah-run": 0.1,
        "walker-run": 0.1,
        "hopper-hop": 0.05,
        "quadruped-run": 0.1,
        "Hopper-v5": 0.1,
    }
    betas = {
        t: online_configs.for_task(online_configs.get_config("xsac"), t).agent.beta
        for t in online_configs.TASKS
    }
    assert betas == {"cheetah-run": 2.0, "walker-run": 2.0, "hopper-hop": 1.0, "quadruped-run": 5.0}
    assert online_configs.PAPER_TEXT_XSAC_BETAS["walker-run"] == 1.0  # the paper's App. D.6 text
    dq = {
        t: online_configs.for_task(online_configs.get_config("xtd3_dq"), t).agent.beta
        for t in online_configs.TASKS
    }
    assert dq == {"cheetah-run": 4.0, "walker-run": 4.0, "hopper-hop": 3.0, "quadruped-run": 20.0}
    set_by_hand = online_configs.get_config("xtd3")
    set_by_hand.agent.exploration_noise = 0.3
    assert online_configs.for_task(set_by_hand, "hopper-hop").agent.exploration_noise == 0.3


def _singular_values(kernel):
    return np.linalg.svd(np.asarray(kernel), compute_uv=False)


def test_init_gains_measured_on_fresh_parameters():
    # mlp.py weight_init: orthogonal(gain=1.0) and zero bias on every nn.Linear (ortho_init: true);
    # offline (policy.py, IQL's default_init): orthogonal(sqrt 2) on every layer, the mean head too.
    config = sac.SACConfig(hidden_dims=(32, 32))
    state = sac.create_state(jax.random.PRNGKey(0), OBS_DIM, ACT_DIM, config)
    kernels = jax.tree_util.tree_leaves_with_path(state.actor.params) + jax.tree_util.tree_leaves_with_path(
        state.value.params
    )
    for path, leaf in kernels:
        name = jax.tree_util.keystr(path)
        if "kernel" in name:
            np.testing.assert_allclose(_singular_values(leaf), 1.0, rtol=1e-4, err_msg=name)
        else:
            np.testing.assert_array_equal(leaf, 0.0, err_msg=name)
    head = state.actor.params["Dense_0"]["kernel"]
    assert head.shape == (32, 2 * ACT_DIM)  # one head for mean and log-std, as DiagonalGaussianMLPActor
    critic_kernel = state.critic.params["VmapCritic_0"]["MLP_0"]["Dense_1"]["kernel"][0]
    np.testing.assert_allclose(_singular_values(critic_kernel), 1.0, rtol=1e-4)
    tstate = td3.create_state(jax.random.PRNGKey(0), OBS_DIM, ACT_DIM, td3.TD3Config(hidden_dims=(32, 32)))
    np.testing.assert_allclose(
        _singular_values(tstate.actor.params["MLP_0"]["Dense_2"]["kernel"]), 1.0, rtol=1e-4
    )
    offline = xql.create_state(jax.random.PRNGKey(0), OBS_DIM, ACT_DIM, xql.XQLConfig(hidden_dims=(32, 32)))
    mean_head = offline.actor.params["Dense_0"]["kernel"]
    np.testing.assert_allclose(_singular_values(mean_head), np.sqrt(2.0), rtol=1e-4)
    torso = offline.actor.params["MLP_0"]["Dense_0"]["kernel"]
    np.testing.assert_allclose(_singular_values(torso), np.sqrt(2.0), rtol=1e-4)
    assert networks.ONLINE_GAIN == 1.0


def test_value_batch_with_random_actions_has_twice_the_rows_and_noise_is_clipped():
    # offline/critic.py update_v: sample_random_times appends times x B uniform actions with the
    # observations repeated; --noise replaces a by clip(a + clip(N(0, 0.1), -0.5, 0.5), -1, 1).
    batch = _batch()
    config = xql.XQLConfig(sample_random_times=1)
    observations, actions = xql.value_batch(batch, jax.random.PRNGKey(0), config)
    assert observations.shape == (2 * BATCH, OBS_DIM) and actions.shape == (2 * BATCH, ACT_DIM)
    np.testing.assert_array_equal(actions[:BATCH], batch["actions"])
    np.testing.assert_array_equal(observations[BATCH:], batch["observations"])
    # times = 2: every observation twice in a row (jnp.repeat, as there), 3 x B rows in all.
    twice, _ = xql.value_batch(batch, jax.random.PRNGKey(0), xql.XQLConfig(sample_random_times=2))
    assert twice.shape == (3 * BATCH, OBS_DIM)
    np.testing.assert_array_equal(twice[BATCH : BATCH + 2], batch["observations"][:1].repeat(2, axis=0))
    random = np.asarray(actions[BATCH:])
    assert random.min() >= -1 and random.max() <= 1 and abs(random.mean()) < 0.15
    noisy = xql.XQLConfig(value_action_noise=10.0)  # large, so the +-0.5 clip is what shows
    _, actions = xql.value_batch(batch, jax.random.PRNGKey(1), noisy)
    moved = np.abs(np.asarray(actions - batch["actions"]))
    assert moved.max() <= 0.5 + 1e-6 and np.all(np.abs(np.asarray(actions)) <= 1.0)


def test_value_noise_with_random_actions_is_this_projects_extension():
    # Not the official code: its update_v with --noise and --sample_random_times > 0 adds noise of
    # 2B rows to batch.actions (B rows) and crashes on the shapes; no reproduce script combines
    # them. Here the noise goes on the dataset's actions, then the random ones are appended, and
    # one update runs, is finite and fits V on 2B rows.
    batch = _batch()
    both = xql.XQLConfig(sample_random_times=1, value_action_noise=0.1, hidden_dims=(16, 16))
    observations, actions = xql.value_batch(batch, jax.random.PRNGKey(0), both)
    assert observations.shape == (2 * BATCH, OBS_DIM)
    moved = np.abs(np.asarray(actions[:BATCH] - batch["actions"]))
    assert 0 < moved.max() <= 0.5 + 1e-6
    state = xql.create_state(jax.random.PRNGKey(0), OBS_DIM, ACT_DIM, both)
    new_state, metrics = jax.jit(lambda s, b: xql.update(s, b, both))(state, batch)
    assert all(np.isfinite(float(v)) for v in metrics.values())
    assert _changed(state.value.params, new_state.value.params)


def test_huber_critic_loss_gradient_is_capped_at_delta():
    # offline/critic.py: huber_loss(x, delta=20) = 0.5 x^2 for |x| <= 20, then linear,
    # so d/dx = clip(x, -20, 20).
    config = xql.XQLConfig()
    assert (config.critic_loss, config.huber_delta) == ("huber", 20.0)
    diff = jnp.asarray([[-100.0, -5.0, 0.5, 30.0]])
    grad = jax.grad(lambda d: xql.critic_regression_loss(d, config))(diff) * diff.shape[1]  # undo the mean
    np.testing.assert_allclose(grad, [[-20.0, -5.0, 0.5, 20.0]])
    np.testing.assert_allclose(
        xql.critic_regression_loss(jnp.asarray([[2.0], [4.0]]), config), 0.5 * 4 + 0.5 * 16
    )
    mse = xql.XQLConfig(critic_loss="mse")
    np.testing.assert_allclose(xql.critic_regression_loss(jnp.asarray([[2.0], [4.0]]), mse), 4 + 16)


def test_finetuning_keeps_the_actor_lr_constant_and_has_the_iql_protocol_per_domain():
    from xql_jax.configs import finetune as finetune_configs
    from xql_jax.finetune import online_config_from
    from xql_jax.train import learner_config_from

    # antmaze_finetune_config.py / mujoco_config_finetune: opt_decay_schedule None (constant actor lr).
    for variant in ("antmaze", "antmaze_iql", "locomotion", "official:antmaze-umaze-v0"):
        config = finetune_configs.get_config(variant)
        assert config.agent.actor_cosine_decay is False, variant
    # This project's choice, not the official code's: it has no Adroit (or PointMaze) fine-tuning
    # config, and its offline kitchen_config, the closest, decays the actor lr (Learner's default
    # "cosine"); fine-tuning here keeps it constant in every domain, as its two fine-tuning configs.
    for variant in ("xql", "iql", "adroit", "adroit_iql"):
        config = finetune_configs.get_config(variant)
        assert config.agent.actor_cosine_decay is False, variant
    antmaze = finetune_configs.get_config("antmaze")
    assert (antmaze.max_steps, antmaze.online.max_steps, antmaze.online.updates_per_step) == (10**6, 10**6, 1)
    assert antmaze.online.online_fraction == 0.0 and antmaze.online.eval_episodes == 100
    assert antmaze.reward_preprocessing == "antmaze" and antmaze.agent.awr_temperature == 10.0
    assert finetune_configs.get_config("antmaze_iql").agent.value_loss == "expectile"
    with pytest.raises(ValueError, match="unknown fine-tuning variant 'kitchen'"):
        finetune_configs.get_config("kitchen")
    # A cosine schedule, if asked for, spans every learner update: offline + online x updates_per_step.
    config = finetune_configs.get_config("xql")
    config.agent.actor_cosine_decay = True
    config.online.updates_per_step = 2
    expected = config.max_steps + 2 * config.online.max_steps
    assert learner_config_from(config).decay_steps == expected
    assert online_config_from(config, 1000).agent.decay_steps == expected


def test_xsac_policy_step_uses_the_value_steps_sample_and_runs_vmapped_and_scanned():
    # gumbel_sac.py: one rsample serves the V target and the actor loss alpha * log pi - min Q (online).
    config = sac.SACConfig(beta=2.0, hidden_dims=(16, 16))
    state = sac.create_state(jax.random.PRNGKey(0), OBS_DIM, ACT_DIM, config)
    batch = _batch()
    _, policy_key = jax.random.split(state.rng)
    updated, _ = sac.update_critic(state, batch, config)
    actions, log_probs = sac._sample(updated, updated.actor.params, batch["observations"], policy_key)
    q = updated.critic.apply_fn({"params": updated.critic.params}, batch["observations"], actions).min(0)
    _, metrics = jax.jit(lambda s, b: sac.update(s, b, config))(state, batch)
    np.testing.assert_allclose(metrics["actor_loss"], (0.1 * log_probs - q).mean(), rtol=1e-5)
    assert float(metrics["actor_updates"]) == 1.0
    # Members vmapped, steps scanned (the online loop's shape): the delayed step still alternates.
    states = jax.vmap(lambda k: sac.create_state(k, OBS_DIM, ACT_DIM, config))(
        jax.random.split(jax.random.PRNGKey(1), 2)
    )
    batches = jax.tree_util.tree_map(lambda x: jnp.stack([jnp.stack([x] * 3)] * 2), batch)
    run = jax.jit(jax.vmap(lambda s, b: jax.lax.scan(lambda s, x: sac.update(s, x, config), s, b)))
    states, metrics = run(states, batches)
    np.testing.assert_array_equal(metrics["actor_updates"], [[1, 0, 1], [1, 0, 1]])
    np.testing.assert_array_equal(states.step, [3, 3])


def test_delayed_metrics_are_averaged_over_the_updates_that_made_them():
    from xql_jax.online import averaged_metrics

    # 4 calls, the policy updated on 2 of them with losses -3 and -5 (0 recorded on the others).
    sums = {
        "critic_loss": np.asarray([4.0]),
        "actor_loss": np.asarray([-8.0]),
        "actor_updates": np.asarray([2.0]),
    }
    means = averaged_metrics(sums, 4, sac.DELAYED_METRICS)
    assert means == {"critic_loss": 1.0, "actor_loss": -4.0} and "actor_updates" not in means
    none = averaged_metrics(
        {"actor_loss": np.asarray([0.0]), "actor_updates": np.asarray([0.0])}, 1, ("actor_loss",)
    )
    assert none == {}  # no policy update in the window: nothing reported (not 0, not NaN)
