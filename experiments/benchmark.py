"""Throughput of the learners, measured side by side in one run, and a profile of the scanned update.

  python experiments/benchmark.py                     # on whatever device JAX sees
  python experiments/benchmark.py --num_seeds=32 --scan_steps=1000
  python experiments/benchmark.py --parts=offline --profile=/tmp/xql_profile   # + trace, top ops
  python experiments/benchmark.py --parts=delayed,online --members=1,4

Parts (``--parts``):
offline: the offline X-QL update in three shapes:

(1) reference shape: a batch sampled on the host with numpy, one jitted update per call;
(2) the dataset on the device, batches sampled inside jit, lax.scan over ``scan_steps`` updates;
(3) as (2) with ``num_seeds`` learners vmapped inside the scan.
Twin Q, V and actor, 256x256 MLPs, batch 256, halfcheetah-shaped data (17-d observations, 6-d
actions, 1M transitions). Compilation and a warm-up call are excluded; each figure is the median of
``repeats`` timed calls.
delayed: the online learners' update under the member vmap with the delayed updates every 2nd step
(``actor_update_every=2``, chosen while tracing) against every step (=1), and the previous code's
shape (a ``lax.cond`` on the step, a select under vmap that ran both branches).
online: environment steps per second of the online loop's work per step (host environment steps,
the insert call, the learn call) for X-SAC and X-TD3 (the paper's DM Control settings) with each
count of ``--members``, with the learn call of the previous code (on-device schedule) and of this
one, and where the step's time goes.
``--profile=<dir>`` traces a few calls of shapes (2) and (3) with the JAX profiler into <dir> and
prints the top operations and the step time split (``xql_jax.profiling``).
mainjob: the default run's parts (``train_offline.py``: the embedded dataset, one member): data
loading (generation on first use), transfer to the device, compilation, one 1,000-step chunk
(``--repeats`` times) as the loop runs it, timed in turn with the other way of running the members
(vmapped, or one after another: ``runs.members_in_sequence``), one evaluation of 50 episodes with
its policy calls and environment steps. ``--mainjob_members`` stacks more members in the chunks.
The last line is one JSON object with every figure.
"""

import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from xql_jax import profiling
from xql_jax.agents import sac, td3, xql
from xql_jax.agents.common import scheduled_updates
from xql_jax.configs import online as online_configs
from xql_jax.data import replay
from xql_jax.envs import make_online_env
from xql_jax.online import agent_config_from, make_step_functions
from xql_jax.runs import members_in_sequence, stacked_states
from xql_jax.train import Member, init_member_states, make_train_chunk

PARTS = ("offline", "delayed", "online", "mainjob")

flags.DEFINE_integer("num_transitions", 1_000_000, "Dataset size.")
flags.DEFINE_integer("observation_dim", 17, "halfcheetah: 17.")
flags.DEFINE_integer("action_dim", 6, "halfcheetah: 6.")
flags.DEFINE_integer("batch_size", 256, "Batch size.")
flags.DEFINE_integer("hidden", 256, "Width of the two hidden layers of every network.")
flags.DEFINE_integer("host_steps", 500, "Updates per timed call in shape (1).")
flags.DEFINE_integer("scan_steps", 1000, "Updates per lax.scan call in shapes (2) and (3).")
flags.DEFINE_integer("num_seeds", 8, "Vmapped learners in shape (3).")
flags.DEFINE_integer("repeats", 5, "Timed calls per shape; the median is reported.")
flags.DEFINE_list("parts", list(PARTS[:3]), f"Which parts to run, of {PARTS}.")
flags.DEFINE_string(
    "profile", None, "Write a JAX profiler trace of shapes (2) and (3) here and summarise it."
)
flags.DEFINE_integer("profile_calls", 3, "Traced calls per profiled shape.")
flags.DEFINE_list("members", ["1", "4"], "Member counts of the delayed and online parts.")
flags.DEFINE_string("online_env", "cheetah-run", "Environment of the online part.")
flags.DEFINE_list("online_variants", ["xsac", "xtd3"], "Online agents of the delayed and online parts.")
flags.DEFINE_integer("online_steps", 50, "Timed environment steps per online measurement (blocks of 5).")
flags.DEFINE_integer("mainjob_members", 1, "Members in the mainjob part's chunks (the default run: 1).")
flags.DEFINE_integer("delayed_updates", 4, "Updates per timed call in the delayed part (even).")
FLAGS = flags.FLAGS


def make_dataset(rng):
    n, obs, act = FLAGS.num_transitions, FLAGS.observation_dim, FLAGS.action_dim
    return {
        "observations": rng.standard_normal((n, obs), np.float32),
        "actions": rng.uniform(-1, 1, (n, act)).astype(np.float32),
        "rewards": rng.standard_normal(n, np.float32),
        "masks": np.ones(n, np.float32),
        "next_observations": rng.standard_normal((n, obs), np.float32),
        "next_actions": rng.uniform(-1, 1, (n, act)).astype(np.float32),
    }


def median_rate(run, steps_per_call):
    run()  # warm-up: compilation and first execution are not timed
    times = []
    for _ in range(FLAGS.repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return steps_per_call / float(np.median(times))


def interleaved_medians(runs, calls, keep=False):
    """Median wall seconds of one call of each of ``runs`` (name -> callable), after one untimed
    warm-up call each, timed in turn (a, b, c, a, b, c, ...) so a busy machine slows all alike.
    With ``keep`` also every call's seconds (name -> list)."""
    for run in runs.values():
        run()
    times = {name: [] for name in runs}
    for _ in range(calls):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    medians = {name: float(np.median(t)) for name, t in times.items()}
    return (medians, times) if keep else medians


def profile_shape(name, run, steps_per_call, results):
    """Trace ``profile_calls`` calls of ``run`` into --profile/<name> and print the summary."""
    trace_dir = os.path.join(FLAGS.profile, name)
    run()  # compiled and warm before the trace starts
    with jax.profiler.trace(trace_dir):
        start = time.perf_counter()
        for _ in range(FLAGS.profile_calls):
            run()
        wall = time.perf_counter() - start
    summary = profiling.summarize_trace(
        profiling.latest_trace(trace_dir), wall, FLAGS.profile_calls * steps_per_call
    )
    print(f"[profile {name}, trace in {trace_dir}]\n{profiling.format_summary(summary)}", flush=True)
    results[f"profile_{name}"] = {k: v for k, v in summary.items() if k != "top_ops"}
    results[f"profile_{name}"]["top_ops"] = [op["name"] for op in summary["top_ops"][:5]]


def offline_part(results):
    config = xql.XQLConfig(hidden_dims=(FLAGS.hidden, FLAGS.hidden), decay_steps=1_000_000)
    rng = np.random.default_rng(0)
    host_data = make_dataset(rng)
    device_data = jax.device_put(host_data)
    obs_dim, act_dim, batch_size = FLAGS.observation_dim, FLAGS.action_dim, FLAGS.batch_size

    # (1) The reference code's shape: numpy sampling on the host, one jit call per update.
    update = jax.jit(xql.update, static_argnums=2, donate_argnums=0)
    state = [xql.create_state(jax.random.PRNGKey(0), obs_dim, act_dim, config)]

    def host_loop():
        s = state[0]
        for _ in range(FLAGS.host_steps):
            idx = rng.integers(0, FLAGS.num_transitions, batch_size)
            s, metrics = update(s, {k: v[idx] for k, v in host_data.items()}, config)
        jax.block_until_ready(s)
        state[0] = s

    host_rate = median_rate(host_loop, FLAGS.host_steps)
    print(f"(1) host sampling, jit per step: {host_rate:,.0f} steps/s", flush=True)

    # (2) Data on the device, sampling inside jit, lax.scan.
    chunk = make_train_chunk(config, batch_size, FLAGS.scan_steps)
    scan_state = [xql.create_state(jax.random.PRNGKey(0), obs_dim, act_dim, config)]

    def scan_loop():
        scan_state[0], metrics = chunk(scan_state[0], device_data)
        jax.block_until_ready((scan_state[0], metrics))

    scan_rate = median_rate(scan_loop, FLAGS.scan_steps)
    print(f"(2) device data, lax.scan of {FLAGS.scan_steps}: {scan_rate:,.0f} steps/s", flush=True)

    # (3) As (2), vmapped over seeds.
    members = [Member(seed) for seed in range(FLAGS.num_seeds)]
    vmapped_chunk = make_train_chunk(config, batch_size, FLAGS.scan_steps, members=True)
    member_state = [init_member_states(members, obs_dim, act_dim, config)]

    def vmapped_loop():
        member_state[0], metrics = vmapped_chunk(member_state[0], device_data)
        jax.block_until_ready((member_state[0], metrics))

    seed_rate = median_rate(vmapped_loop, FLAGS.scan_steps * FLAGS.num_seeds)
    print(f"(3) vmap over {FLAGS.num_seeds} seeds in the scan: {seed_rate:,.0f} seed-steps/s", flush=True)
    results.update(
        shape1_host_steps_per_s=round(host_rate, 1),
        shape2_scan_steps_per_s=round(scan_rate, 1),
        shape3_vmap_seed_steps_per_s=round(seed_rate, 1),
        num_seeds=FLAGS.num_seeds,
        ratio_2_over_1=round(scan_rate / host_rate, 3),
        ratio_3_over_1=round(seed_rate / host_rate, 3),
        batch_size=batch_size,
        hidden=FLAGS.hidden,
        num_transitions=FLAGS.num_transitions,
    )
    if FLAGS.profile:
        profile_shape("scan", scan_loop, FLAGS.scan_steps, results)
        profile_shape("vmap", vmapped_loop, FLAGS.scan_steps * FLAGS.num_seeds, results)


def online_agent_config(variant, **overrides):
    """The paper's DM Control agent config of ``variant`` (xsac, xtd3) for --online_env."""
    config = online_configs.for_task(online_configs.get_config(variant), FLAGS.online_env)
    if config.agent.beta is None:
        config.agent.beta = 2.0  # a task without a paper beta: any value times the same
    config.agent.update(overrides)
    return config, agent_config_from(config)


def fake_batches(num_members, updates, batch_size, obs_dim, act_dim):
    rng = np.random.default_rng(0)
    shape = (num_members, updates, batch_size)
    return {
        "observations": jnp.asarray(rng.standard_normal((*shape, obs_dim)), jnp.float32),
        "actions": jnp.asarray(rng.uniform(-1, 1, (*shape, act_dim)), jnp.float32),
        "rewards": jnp.asarray(rng.standard_normal(shape), jnp.float32),
        "masks": jnp.ones(shape, jnp.float32),
        "next_observations": jnp.asarray(rng.standard_normal((*shape, obs_dim)), jnp.float32),
    }


def delayed_part(results):
    """ms per vmapped update: delayed updates every 2nd step (static), every step, and the old cond."""
    env = make_online_env(FLAGS.online_env)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    env.close()
    updates = FLAGS.delayed_updates
    for variant in FLAGS.online_variants:
        module = sac if variant in ("xsac", "sac") else td3
        for num_members in [int(m) for m in FLAGS.members]:
            config, every_2nd = online_agent_config(variant)
            every_step = online_agent_config(variant, actor_update_every=1)[1]
            members = [Member(seed) for seed in range(num_members)]
            batches = fake_batches(num_members, updates, config.batch_size, obs_dim, act_dim)
            runs = {}
            for label, agent, static in (
                ("period2_static", every_2nd, True),
                ("period1", every_step, True),
                ("period2_cond", every_2nd, False),
            ):
                period = module.schedule_period(agent)

                def run_updates(state, batch, agent=agent, period=period, static=static, module=module):
                    if static:
                        update = lambda s, b, p: module.update(s, b, agent, p)  # noqa: E731
                        return scheduled_updates(update, state, batch, period, 0)
                    return jax.lax.scan(lambda s, b: module.update(s, b, agent), state, batch)

                step = jax.jit(jax.vmap(run_updates), donate_argnums=0)
                state = [stacked_states(module, members, obs_dim, act_dim, agent)]

                def run(step=step, state=state, batches=batches):
                    state[0], metrics = step(state[0], batches)
                    jax.block_until_ready(metrics)

                runs[label] = run
            costs = {k: 1000 * v / updates for k, v in interleaved_medians(runs, FLAGS.repeats).items()}
            saving = costs["period2_static"] / costs["period1"]
            print(
                f"delayed {variant} x{num_members} members: ms per vmapped update: every 2nd step "
                f"{costs['period2_static']:.2f}, every step {costs['period1']:.2f} "
                f"(ratio {saving:.3f}); previous code's cond every 2nd {costs['period2_cond']:.2f} "
                f"(ratio to static {costs['period2_cond'] / costs['period2_static']:.3f})",
                flush=True,
            )
            results[f"delayed_{variant}_{num_members}"] = {k: round(v, 3) for k, v in costs.items()}


class OnlineStepper:
    """The online loop's work per environment step (host environment steps, the insert call, the
    learn call) for ``num_members`` members, timed per part."""

    def __init__(self, variant, num_members, static_schedule):
        config, agent = online_agent_config(variant)
        module = sac if config.learner == "sac" else td3
        self.envs = [make_online_env(FLAGS.online_env, seed=seed) for seed in range(num_members)]
        obs_dim, act_dim = self.envs[0].observation_space.shape[0], self.envs[0].action_space.shape[0]
        members = [Member(seed) for seed in range(num_members)]
        self.state = stacked_states(module, members, obs_dim, act_dim, agent)
        capacity = config.replay_capacity
        buffer = jax.vmap(lambda _: replay.create(capacity, obs_dim, act_dim))(jnp.arange(num_members))
        # Sampling reads only the filled rows: pretend a batch's worth is there.
        self.buffer = buffer._replace(size=jnp.full((num_members,), config.batch_size, jnp.int32))
        self.fns = make_step_functions(
            config.learner, agent, config.batch_size, config.updates_per_step, static_schedule=static_schedule
        )
        self.updates_per_step = config.updates_per_step
        self.sums = self.fns.metric_zeros(self.state, self.buffer)
        self.observations = np.stack([env.reset(seed=i)[0] for i, env in enumerate(self.envs)])
        self.actions = np.zeros((num_members, act_dim), np.float32)
        self.learner_steps = 0
        self.seconds = {"env": 0.0, "insert": 0.0, "learn": 0.0}
        self.steps = 0

    def step(self):
        start = time.perf_counter()
        num_members = len(self.envs)
        next_observations = np.empty_like(self.observations)
        rewards, masks = np.empty(num_members, np.float32), np.ones(num_members, np.float32)
        after = np.empty_like(self.observations)
        for i, env in enumerate(self.envs):
            obs, rewards[i], terminated, truncated, _ = env.step(self.actions[i])
            next_observations[i] = after[i] = obs
            if terminated or truncated:
                after[i] = env.reset()[0]
        row = replay.pack(self.observations, self.actions, rewards, masks, next_observations)
        after_env = time.perf_counter()
        # Waited for here only to time it apart; the loop lets the learn call wait for it.
        self.buffer = jax.block_until_ready(self.fns.insert(self.buffer, row))
        after_insert = time.perf_counter()
        phase = self.learner_steps % self.fns.period
        self.state, actions, self.sums = self.fns.learn(self.state, self.buffer, after, self.sums, phase)
        self.actions = np.clip(np.nan_to_num(np.asarray(actions)), -1.0, 1.0)
        self.learner_steps += self.updates_per_step
        self.observations = after
        end = time.perf_counter()
        self.seconds["env"] += after_env - start
        self.seconds["insert"] += after_insert - after_env
        self.seconds["learn"] += end - after_insert
        self.steps += 1

    def reset_timers(self):
        self.seconds = dict.fromkeys(self.seconds, 0.0)
        self.steps = 0

    def rate(self):
        return self.steps / sum(self.seconds.values()), {
            k: 1000 * v / self.steps for k, v in self.seconds.items()
        }

    def close(self):
        for env in self.envs:
            env.close()


def online_part(results):
    """Previous code's learn (on-device schedule) and this one's, in alternating blocks of steps."""
    block = 5
    for variant in FLAGS.online_variants:
        for num_members in [int(m) for m in FLAGS.members]:
            steppers = {
                "previous": OnlineStepper(variant, num_members, static_schedule=False),
                "static": OnlineStepper(variant, num_members, static_schedule=True),
            }
            for stepper in steppers.values():
                for _ in range(4):  # compiles both phases
                    stepper.step()
                stepper.reset_timers()
            for _ in range(max(FLAGS.online_steps // block, 1)):
                for stepper in steppers.values():
                    for _ in range(block):
                        stepper.step()
            (before, _), (after, split) = steppers["previous"].rate(), steppers["static"].rate()
            for stepper in steppers.values():
                stepper.close()
            parts = ", ".join(f"{k} {v:.2f}" for k, v in split.items())
            print(
                f"online {variant} x{num_members} members on {FLAGS.online_env}: {after:.2f} env-steps/s "
                f"(previous code's schedule {before:.2f}; ratio {after / before:.3f}); ms per step: {parts}",
                flush=True,
            )
            results[f"online_{variant}_{num_members}"] = {
                "env_steps_per_s": round(after, 3),
                "previous_env_steps_per_s": round(before, 3),
                "ms_per_step": {k: round(v, 3) for k, v in split.items()},
            }


def mainjob_part(results):
    """Seconds of each part of the default offline run, with the loop's own functions."""
    from xql_jax import train
    from xql_jax.configs import maze
    from xql_jax.data import prepare
    from xql_jax.evaluation import evaluate
    from xql_jax.runs import make_members, to_host

    config = maze.get_config()
    start = time.perf_counter()
    data = prepare.offline_data(
        config.reward_preprocessing, "pointmaze-umaze-v0", None, None, log=lambda _: None
    )
    load = time.perf_counter() - start
    learner_config = train.learner_config_from(config)
    dataset = data.dataset
    members = make_members(range(FLAGS.mainjob_members), None, xql.SWEEPABLE)
    state = train.init_member_states(members, dataset.observation_dim, dataset.action_dim, learner_config)
    start = time.perf_counter()
    device_data = jax.block_until_ready(train.to_device(dataset))
    transfer = time.perf_counter() - start
    sequential = members_in_sequence(None)
    chunk = train.make_train_chunk(
        learner_config, config.batch_size, config.log_interval, members=True, sequential=sequential
    )
    start = time.perf_counter()
    compiled = chunk.lower(state, device_data).compile()
    compile_seconds = time.perf_counter() - start
    # The loop's chunk against the other way of running the members, timed in turn.
    other = train.make_train_chunk(
        learner_config, config.batch_size, config.log_interval, members=True, sequential=not sequential
    )
    states = {"loop": state, "other": jax.tree_util.tree_map(jnp.copy, state)}
    chunks = {"loop": compiled, "other": other.lower(state, device_data).compile()}

    def timed_chunk(name):
        def run():
            states[name], metrics = chunks[name](states[name], device_data)
            to_host(metrics)

        return run

    medians, chunk_seconds = interleaved_medians(
        {name: timed_chunk(name) for name in chunks}, FLAGS.repeats, keep=True
    )
    state = jax.tree_util.tree_map(lambda x: x[:1], states["loop"])  # the first member evaluates
    act = train.make_member_actions(learner_config, sequential)  # as the loop acts
    envs = [[data.source.make_env() for _ in range(min(config.eval_episodes, config.eval_envs))]]
    policy = {"calls": 0, "seconds": 0.0}

    def timed_act(obs):
        begin = time.perf_counter()
        actions = np.nan_to_num(np.asarray(act(state, obs)))
        policy["seconds"] += time.perf_counter() - begin
        policy["calls"] += 1
        return actions

    evaluate(timed_act, envs, config.eval_episodes, 0)  # compiles the policy
    policy.update(calls=0, seconds=0.0)
    start = time.perf_counter()
    evaluate(timed_act, envs, config.eval_episodes, 1_000_000)
    evaluation = time.perf_counter() - start
    for env in envs[0]:
        env.close()
    chunk, other_chunk = medians["loop"], medians["other"]
    loop, other = ("in sequence", "vmapped") if sequential else ("vmapped", "in sequence")
    evaluations = config.max_steps // config.eval_interval
    num_chunks = config.max_steps // config.log_interval
    print(
        f"main job parts ({FLAGS.mainjob_members} member(s)): data {load:.1f} s, to device {transfer:.2f} s, "
        f"compile {compile_seconds:.1f} s, "
        f"chunk of {config.log_interval} updates {chunk:.2f} s with the members {loop} as the loop runs them "
        f"(all {[round(c, 2) for c in chunk_seconds['loop']]}; {other} {other_chunk:.2f} s, "
        f"ratio {other_chunk / chunk:.3f}), evaluation {evaluation:.2f} s ({policy['calls']} policy calls, "
        f"{policy['seconds']:.2f} s); so {num_chunks} chunks {num_chunks * chunk:.0f} s + {evaluations} "
        f"evaluations {evaluations * evaluation:.0f} s",
        flush=True,
    )
    results["mainjob"] = {
        "data_s": round(load, 2),
        "to_device_s": round(transfer, 3),
        "compile_s": round(compile_seconds, 2),
        "members": FLAGS.mainjob_members,
        "members_run": loop,
        "chunk_s": round(chunk, 3),
        f"chunk_s_{other.replace(' ', '_')}": round(other_chunk, 3),
        "evaluation_s": round(evaluation, 3),
        "policy_calls": policy["calls"],
        "policy_s": round(policy["seconds"], 3),
    }


def main(_):
    unknown = sorted(set(FLAGS.parts) - set(PARTS))
    if unknown:
        raise app.UsageError(f"unknown --parts {unknown}; choose from {list(PARTS)}")
    if FLAGS.profile and "offline" not in FLAGS.parts:
        raise app.UsageError("--profile traces the offline shapes (2) and (3): add offline to --parts")
    device = jax.devices()[0]
    results = {"device": f"{device.platform}:{device.device_kind}", "device_count": jax.device_count()}
    if "offline" in FLAGS.parts:
        offline_part(results)
    if "delayed" in FLAGS.parts:
        delayed_part(results)
    if "online" in FLAGS.parts:
        online_part(results)
    if "mainjob" in FLAGS.parts:
        mainjob_part(results)
    print(json.dumps(results))


if __name__ == "__main__":
    app.run(main)
