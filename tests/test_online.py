"""Online agents (X-SAC, SAC, X-TD3, TD3), the device replay buffer, DM Control envs, the online loop."""

import functools
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.conftest import ROOT, run_script
from xql_jax import analysis, losses
from xql_jax.agents import sac, td3
from xql_jax.data import replay
from xql_jax.envs import make_env, make_online_env
from xql_jax.networks import gaussian_log_prob, sample_tanh_gaussian
from xql_jax.runs import RunSpec, Watch

OBS_DIM, ACT_DIM, BATCH = 5, 2, 16

AGENTS = {
    "xsac": (sac, sac.SACConfig(value_loss="gumbel", beta=2.0, hidden_dims=(16, 16))),
    "sac": (sac, sac.SACConfig(value_loss="soft", hidden_dims=(16, 16))),
    "xtd3": (td3, td3.TD3Config(critic_loss="gumbel", beta=5.0, hidden_dims=(16, 16))),
    "xtd3_dq": (td3, td3.TD3Config(critic_loss="gumbel", beta=4.0, double_q=False, hidden_dims=(16, 16))),
    "td3": (td3, td3.TD3Config(critic_loss="mse", hidden_dims=(16, 16))),
}


def fake_batch(seed=0, size=BATCH):
    rng = np.random.default_rng(seed)
    return {
        "observations": jnp.asarray(rng.normal(size=(size, OBS_DIM)), jnp.float32),
        "actions": jnp.asarray(rng.uniform(-1, 1, size=(size, ACT_DIM)), jnp.float32),
        "rewards": jnp.asarray(rng.normal(size=size), jnp.float32),
        "masks": jnp.asarray(rng.uniform(size=size) > 0.1, jnp.float32),
        "next_observations": jnp.asarray(rng.normal(size=(size, OBS_DIM)), jnp.float32),
    }


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_one_update_is_finite_and_changes_every_network(name):
    module, config = AGENTS[name]
    state = module.create_state(jax.random.PRNGKey(0), OBS_DIM, ACT_DIM, config)
    # Two updates, so TD3's delayed actor (updated at even steps) has moved too.
    new_state, metrics = jax.jit(lambda s, b: module.update(s, b, config))(state, fake_batch())
    new_state, metrics = jax.jit(lambda s, b: module.update(s, b, config))(new_state, fake_batch(1))
    assert all(np.isfinite(float(v)) for v in metrics.values()), metrics
    assert int(new_state.step) == 2
    trained = ["actor", "critic"] + (["value", "log_temperature"] if module is sac else [])
    for field in trained:
        before, after = getattr(state, field).params, getattr(new_state, field).params
        moved = jax.tree_util.tree_map(lambda a, b: bool(jnp.any(a != b)), before, after)
        assert all(jax.tree_util.tree_leaves(moved)), f"{name}: {field} did not change"
        assert all(np.isfinite(x).all() for x in jax.tree_util.tree_leaves(after))
    target = "target_value_params" if module is sac else "target_critic_params"  # X-SAC has no target critic
    moved_target = jax.tree_util.tree_map(
        lambda a, b: bool(jnp.any(a != b)), getattr(state, target), getattr(new_state, target)
    )
    assert all(jax.tree_util.tree_leaves(moved_target))
    assert (
        new_state.critic.params["VmapCritic_0"]["MLP_0"]["Dense_0"]["kernel"].shape[0] == config.num_critics
    )
    actions = module.explore_actions(new_state, fake_batch()["observations"], jax.random.PRNGKey(1), config)
    assert actions.shape == (BATCH, ACT_DIM) and float(jnp.abs(actions).max()) <= 1.0
    assert module.eval_actions(new_state, fake_batch()["observations"], config).shape == (BATCH, ACT_DIM)


def test_xtd3_critic_fits_the_gumbel_regression_target():
    """The minimiser of the X-TD3 critic loss over a constant Q is beta * log mean exp(target / beta)."""
    config = td3.TD3Config(critic_loss="gumbel", double_q=False, max_clip=None)
    targets = jnp.asarray([1.0, 2.0, 4.0, -1.0, 0.5])
    beta = 2.0
    grad = jax.grad(lambda q: td3.critic_loss(jnp.full((1, 5), q), targets, config, beta))
    low, high = -10.0, 10.0
    for _ in range(60):  # bisection on the sign of the derivative (the loss is convex in q)
        mid = 0.5 * (low + high)
        low, high = (mid, high) if grad(mid) < 0 else (low, mid)
    expected = beta * np.log(np.mean(np.exp(np.asarray(targets) / beta)))  # 2.3386...
    np.testing.assert_allclose(0.5 * (low + high), expected, atol=1e-4)
    np.testing.assert_allclose(expected, losses.soft_maximum(targets, beta), rtol=1e-6)
    # TD3 (MSE) fits the mean instead.
    mse = td3.TD3Config(critic_loss="mse", double_q=False)
    q_star = jnp.mean(targets)
    assert (
        abs(float(jax.grad(lambda q: td3.critic_loss(jnp.full((1, 5), q), targets, mse, beta))(q_star)))
        < 1e-5
    )


def test_td3_target_is_reward_plus_discounted_min_of_target_critics():
    config = td3.TD3Config(critic_loss="gumbel", hidden_dims=(16, 16), policy_noise=0.0)
    state = td3.create_state(jax.random.PRNGKey(3), OBS_DIM, ACT_DIM, config)
    batch = fake_batch(2)
    target = td3.critic_target(state, batch, jax.random.PRNGKey(0), config)
    next_actions = state.actor.apply_fn({"params": state.target_actor_params}, batch["next_observations"])
    q = state.critic.apply_fn(
        {"params": state.target_critic_params}, batch["next_observations"], next_actions
    )
    expected = batch["rewards"] + 0.99 * batch["masks"] * np.minimum(q[0], q[1])
    np.testing.assert_allclose(target, expected, rtol=1e-5)


def test_xsac_value_fits_soft_value_without_log_probs():
    """X-SAC's V loss is the Gumbel loss of Q(s, a~pi) - V(s); SAC's subtracts alpha * log pi."""
    batch = fake_batch(4)
    for value_loss in ("gumbel", "soft"):
        config = sac.SACConfig(value_loss=value_loss, beta=2.0, hidden_dims=(16, 16), max_clip=None)
        state = sac.create_state(jax.random.PRNGKey(0), OBS_DIM, ACT_DIM, config)
        _, metrics = sac.update_value(state, batch, jax.random.PRNGKey(9), config)
        actions, log_probs = sac._sample(
            state, state.actor.params, batch["observations"], jax.random.PRNGKey(9)
        )
        q = state.critic.apply_fn({"params": state.critic.params}, batch["observations"], actions).min(0)
        v = state.value.apply_fn({"params": state.value.params}, batch["observations"])
        if value_loss == "gumbel":
            expected = losses.gumbel_loss(q - v, 2.0, clip_below=True).mean()
        else:
            expected = jnp.square(q - 0.1 * log_probs - v).mean()
        np.testing.assert_allclose(metrics["value_loss"], expected, rtol=1e-5)


def test_bellman_errors_use_first_online_critic_and_deterministic_next_action():
    module, config = AGENTS["xsac"]
    state = module.create_state(jax.random.PRNGKey(1), OBS_DIM, ACT_DIM, config)
    batch = fake_batch(5)
    errors = analysis.bellman_errors(module, state, batch, config)
    critic = lambda o, a: state.critic.apply_fn({"params": state.critic.params}, o, a)[0]  # noqa: E731
    next_actions = jnp.tanh(
        state.actor.apply_fn({"params": state.actor.params}, batch["next_observations"])[0]
    )
    expected = critic(batch["observations"], batch["actions"]) - (
        batch["rewards"] + 0.99 * batch["masks"] * critic(batch["next_observations"], next_actions)
    )
    np.testing.assert_allclose(errors, expected, rtol=1e-5, atol=1e-6)


def test_tanh_gaussian_log_prob_matches_change_of_variables():
    means = jnp.asarray([[0.3, -1.2], [2.0, 0.0]])
    log_stds = jnp.asarray([[-0.5, 0.1], [-1.0, 0.3]])
    key = jax.random.PRNGKey(0)
    actions, log_probs = sample_tanh_gaussian(key, means, log_stds)
    pre_tanh = jnp.arctanh(actions)
    naive = gaussian_log_prob(means, log_stds, pre_tanh) - jnp.sum(jnp.log(1 - actions**2), -1)
    np.testing.assert_allclose(log_probs, naive, rtol=1e-4)


def test_replay_buffer_is_a_ring_and_samples_only_filled_rows():
    buffer = replay.create(4, OBS_DIM, ACT_DIM)
    add = jax.jit(replay.add)
    for i in range(6):
        row = {name: jnp.full(v.shape[1:], float(i)) for name, v in buffer.data.items()}
        buffer = add(buffer, row)
    assert int(buffer.size) == 4 and int(buffer.index) == 2
    np.testing.assert_array_equal(buffer.data["rewards"], [4.0, 5.0, 2.0, 3.0])  # 0 and 1 overwritten
    packed = jax.jit(replay.add_packed)(
        buffer, replay.pack(np.full(OBS_DIM, 7.0), np.full(ACT_DIM, 8.0), 9.0, 0.0, np.full(OBS_DIM, 10.0))
    )
    assert [float(packed.data[n][2].ravel()[0]) for n in replay.FIELDS] == [7.0, 8.0, 9.0, 0.0, 10.0]
    partial = add(
        replay.create(100, OBS_DIM, ACT_DIM), {n: jnp.ones(v.shape[1:]) for n, v in buffer.data.items()}
    )
    batch = replay.sample(partial, jax.random.PRNGKey(0), 64)
    np.testing.assert_array_equal(batch["rewards"], np.ones(64))  # never the 99 empty rows


def test_fine_tuning_batches_take_their_online_fraction_from_collected_rows():
    buffer = replay.create(10, OBS_DIM, ACT_DIM)
    for i in range(6):  # rows 0-3: the dataset; rows 4-5: collected online
        buffer = replay.add(buffer, {n: jnp.full(v.shape[1:], float(i)) for n, v in buffer.data.items()})
    rewards = np.asarray(
        replay.sample(buffer, jax.random.PRNGKey(0), 1000, online_fraction=0.25, offline_rows=4)["rewards"]
    )
    assert np.sum(rewards >= 4) == 250 and set(np.unique(rewards)) == {0, 1, 2, 3, 4, 5}
    dataset_only = buffer._replace(size=jnp.asarray(4))  # nothing collected yet: all from the dataset
    assert np.asarray(replay.sample(dataset_only, jax.random.PRNGKey(1), 100, 0.5, 4)["rewards"]).max() <= 3
    # The loop's own sampler passes the fraction on.
    from xql_jax.online import make_step_functions

    module, config = AGENTS["td3"]
    states = jax.tree_util.tree_map(
        lambda x: jnp.asarray(x)[None], module.create_state(jax.random.PRNGKey(0), OBS_DIM, ACT_DIM, config)
    )
    fns = make_step_functions("td3", config, 200, 2, online_fraction=0.5, offline_rows=4)
    _, batches = fns.sample(states, jax.tree_util.tree_map(lambda x: x[None], buffer))
    assert batches["rewards"].shape == (1, 2, 200) and int(np.sum(np.asarray(batches["rewards"]) >= 4)) == 200


def test_dmc_env_flat_observations_time_limit_and_seeded_resets():
    env = make_online_env("cheetah-run", seed=0)
    assert env.observation_space.shape == (17,) and env.action_space.shape == (6,)
    first, _ = env.reset(seed=5)
    again, _ = env.reset(seed=5)
    np.testing.assert_array_equal(first, again)
    for t in range(1000):
        obs, reward, terminated, truncated, _ = env.step(np.zeros(6, np.float32))
        assert obs.dtype == np.float32 and 0.0 <= reward <= 1.0
        assert truncated == (t == 999) and not terminated  # time limit only: bootstrapped through
    with pytest.raises(
        ValueError, match=r"unknown DeepMind Control task 'cheetah-fly'; cheetah has tasks \['run'\]"
    ):
        make_env("cheetah-fly")


def test_gymnasium_env_actions_are_rescaled_to_unit_box():
    env = make_online_env("Pendulum-v1")  # native action range [-2, 2]
    assert float(env.action_space.low[0]) == -1.0 and float(env.action_space.high[0]) == 1.0


TINY_ONLINE = [
    "--config.agent.hidden_dims=(16,16)",
    "--config.batch_size=32",
    "--config.replay_capacity=2000",
    "--config.max_steps=600",
    "--config.start_steps=250",
    "--config.log_interval=200",
    "--config.eval_interval=300",
    "--config.eval_episodes=2",
    "--config.eval_envs=2",
    "--progress=false",
]


@pytest.mark.parametrize("variant,env_name", [("xsac", "cheetah-run"), ("xtd3", "Pendulum-v1")])
def test_online_launcher_trains_and_writes_outputs(tmp_path, variant, env_name):
    beta = [] if env_name == "cheetah-run" else ["--config.agent.beta=5"]  # paper beta only for DMC
    result = run_script(
        "train_online.py",
        [f"--config={ROOT}/configs/online.py:{variant}", f"--env_name={env_name}", f"--workdir={tmp_path}"]
        + TINY_ONLINE
        + beta
        + ["--config.bellman_error_interval=300", "--config.bellman_error_samples=50"],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"FINAL {env_name} {variant} seed=0: return_mean last=" in result.stdout
    assert {"config.json", "metrics.jsonl", "eval.jsonl", "eval.csv", "summary.json", "tb"} <= set(
        os.listdir(tmp_path)
    )
    rows = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    assert [r["step"] for r in rows] == [200, 400, 600]
    assert "critic_loss" not in rows[0] and np.isfinite(rows[-1]["critic_loss"])  # learning starts at 250
    summary = json.load(open(tmp_path / "summary.json"))
    assert summary["algo"] == variant and summary["steps"] == 600 and summary["hyperparams"]["beta"] > 0
    assert [json.loads(line)["step"] for line in open(tmp_path / "eval.jsonl")] == [300, 600]
    errors = [np.load(tmp_path / "bellman_errors" / f"step_{t:09d}.npy") for t in (300, 600)]
    assert all(e.shape == (50,) and np.isfinite(e).all() for e in errors)


def test_online_seeds_in_one_program_and_unknown_task_beta(tmp_path):
    result = run_script(
        "train_online.py",
        ["--config=configs/online.py:td3", "--num_seeds=2", f"--workdir={tmp_path}"]
        + TINY_ONLINE
        + ["--config.max_steps=650"],  # not a multiple of log_interval: the last 50 steps were never logged
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert [json.loads(line)["step"] for line in open(tmp_path / "seed1" / "metrics.jsonl")] == [
        200,
        400,
        600,
        650,
    ]
    summary = json.load(open(tmp_path / "summary.json"))
    assert summary["members"] == ["seed0", "seed1"] and summary["groups"]["all"]["last"]["n"] == 2
    first = json.load(open(tmp_path / "seed0" / "summary.json"))
    second = json.load(open(tmp_path / "seed1" / "summary.json"))
    assert first["last"] != second["last"]  # different seeds, different runs
    result = run_script(
        "train_online.py", ["--env_name=reacher-easy", f"--workdir={tmp_path}/b"] + TINY_ONLINE
    )
    assert result.returncode != 0
    assert "config.agent.beta is unset and the paper gives no beta for this task" in result.stderr
    assert "Traceback" not in result.stderr


def test_online_run_killed_mid_way_resumes_without_duplicate_rows(tmp_path):
    from tests.conftest import kill_after_checkpoint

    args = [f"--workdir={tmp_path}", "--config=configs/online.py:td3", "--config.checkpoint_interval=300"]
    args += TINY_ONLINE + ["--config.max_steps=900", "--config.log_interval=100"]
    kill_after_checkpoint("train_online.py", args, tmp_path, 300)
    result = run_script("train_online.py", args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming from the checkpoint at step" in result.stdout
    assert [json.loads(line)["step"] for line in open(tmp_path / "metrics.jsonl")] == list(
        range(100, 901, 100)
    )
    assert [json.loads(line)["step"] for line in open(tmp_path / "eval.jsonl")] == [300, 600, 900]
    assert json.load(open(tmp_path / "summary.json"))["steps"] == 900


def test_online_divergence_stops_the_run_naming_step_and_loss(tmp_path):
    from xql_jax.configs import online
    from xql_jax.online import train_online
    from xql_jax.runs import TrainingDiverged

    config = online.for_task(online.get_config("xtd3"), "cheetah-run")
    config.agent.hidden_dims = (16, 16)
    config.agent.critic_lr = 1e6  # Adam moves every weight by about 1e6 per step
    config.update(batch_size=32, replay_capacity=300, max_steps=300, start_steps=50, log_interval=100)
    config.update(eval_interval=300, eval_episodes=1, eval_envs=1)
    with pytest.raises(
        TrainingDiverged, match=r"training diverged at step 100: \w+_loss = [0-9.e+]+ exceeds 1e\+08"
    ):
        train_online(
            config, RunSpec("cheetah-run"), Watch(str(tmp_path), progress=False, log=lambda *_: None)
        )
    summary = json.load(open(tmp_path / "summary.json"))
    assert summary["diverged"].startswith("training diverged at step 100") and summary["last"] is None


def test_finetune_launcher_continues_offline_curve_online(tmp_path, small_maze_file):
    result = run_script(
        "train_finetune.py",
        [
            f"--workdir={tmp_path}",
            f"--dataset_path={small_maze_file}",
            "--config.agent.hidden_dims=(16,16)",
            "--config.batch_size=32",
            "--config.max_steps=200",
            "--config.log_interval=100",
            "--config.eval_interval=100",
            "--config.eval_episodes=2",
            "--config.online.max_steps=300",
            "--config.online.log_interval=100",
            "--config.online.eval_interval=150",
            "--config.online.eval_episodes=2",
            "--progress=false",
        ],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "after online fine-tuning:" in result.stdout
    evals = [json.loads(line)["step"] for line in open(tmp_path / "eval.jsonl")]
    assert evals == [100, 200, 350, 500]  # the online phase continues the offline steps
    summary = json.load(open(tmp_path / "summary.json"))
    assert summary["offline"]["steps"] == 200 and summary["steps"] == 500 and summary["algo"] == "xql"


@pytest.mark.parametrize(
    "name, overrides",
    [("xtd3", {}), ("xsac", {"target_update_every": 1})],
)
def test_static_delayed_schedule_gives_the_parameters_of_the_on_device_schedule(name, overrides):
    """The online loop picks the delayed updates while tracing (agents.common.scheduled_updates),
    one call per update or several updates per call; with one vmapped member the parameters after 6
    updates are those of the previous code, which picked them with a lax.cond on the step (equal up
    to float rounding: XLA fuses the two programs differently)."""
    from xql_jax.agents.common import scheduled_updates

    module, config = AGENTS[name]
    config = type(config)(**{**config.__dict__, **overrides})
    period = module.schedule_period(config)
    states = jax.tree_util.tree_map(
        lambda x: jnp.asarray(x)[None], module.create_state(jax.random.PRNGKey(3), OBS_DIM, ACT_DIM, config)
    )
    batches = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs)[None], *[fake_batch(i) for i in range(6)])

    on_device = jax.jit(jax.vmap(lambda s, b: jax.lax.scan(lambda s, x: module.update(s, x, config), s, b)))
    expected, expected_metrics = on_device(states, batches)

    update = lambda s, b, p: module.update(s, b, config, p)  # noqa: E731
    static = jax.jit(
        lambda s, b, phase: jax.vmap(lambda s, b: scheduled_updates(update, s, b, period, phase))(s, b),
        static_argnums=2,
    )
    one_per_call, actor_updates = states, []
    for i in range(6):
        one = jax.tree_util.tree_map(lambda x, i=i: x[:, i : i + 1], batches)
        one_per_call, metrics = static(one_per_call, one, i % period)
        actor_updates.append(float(metrics["actor_updates"][0]))
    all_at_once, metrics = static(states, batches, 0)
    np.testing.assert_array_equal(actor_updates, np.asarray(expected_metrics["actor_updates"])[0])
    assert float(metrics["actor_updates"][0]) == np.mean(actor_updates)
    close = functools.partial(np.testing.assert_allclose, rtol=1e-5, atol=1e-9)
    for got in (one_per_call, all_at_once):
        jax.tree_util.tree_map(close, got, expected)
        np.testing.assert_array_equal(got.step, [6])
