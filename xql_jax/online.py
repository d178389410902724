"""The online training loop: environments on the host, learner and replay buffer on the device.

Each environment step makes two jitted calls: one writes the transition (one packed row) into the
device replay buffer, the other runs ``updates_per_step`` learner steps on batches sampled there
and returns the next exploration actions, so only the transition and the actions cross between
host and device.
Members (seeds x swept hyperparameters) run in lockstep, one environment each, vmapped.

The same loop fine-tunes an offline X-QL learner (``learner="xql"``) with its dataset preloaded in
the replay buffer (paper Table 3).
"""

from __future__ import annotations

import functools
import time
from typing import Any, Callable, Dict, NamedTuple, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from xql_jax import agents, analysis, checks
from xql_jax.agents import algorithm_name
from xql_jax.agents.common import scheduled_updates
from xql_jax.data import replay
from xql_jax.envs import make_online_env
from xql_jax.loop import RunSession, run_config_json, run_info, run_members, summary_metric, sweepable_values
from xql_jax.runs import (
    Member,
    MemberLayout,
    RunSpec,
    Watch,
    count_nonfinite,
    make_members,
    stacked_states,
    to_host,
)
from xql_jax.workdir import CHECKPOINTS


def agent_config_from(config: ml_collections.ConfigDict):
    learner = agents.get(config.learner)
    agent = config.agent.to_dict()
    if agent.get("beta", 1.0) is None:
        raise ValueError(
            "config.agent.beta is unset and the paper gives no beta for this task: pass --config.agent.beta"
        )
    if agent.get("exploration_noise", 0.0) is None:  # not filled by configs.online.for_task
        del agent["exploration_noise"]  # the learner's default (0.1)
    return learner.config_from(agent)


def averaged_metrics(sums: Dict, learn_calls: int, delayed: Sequence[str] = ()) -> Dict:
    """Metrics summed over ``learn_calls`` calls -> their means; a delayed update's metrics are
    averaged over the updates that made them (``sums["actor_updates"]``), not over every call."""
    sums = dict(sums)
    actor_updates = sums.pop("actor_updates", None)
    means = {}
    for name, total in sums.items():
        if name in delayed and actor_updates is not None:
            made = np.asarray(actor_updates)
            if np.all(made == 0):
                continue  # no policy update in this window: nothing to report
            means[name] = np.asarray(total) / np.maximum(made, 1e-12)
        else:
            means[name] = np.asarray(total) / learn_calls
    return means


class StepFunctions(NamedTuple):
    """The online loop's jitted, member-vmapped functions (``make_step_functions`` says what each does)."""

    insert: Callable
    learn: Callable
    period: int
    explore: Callable
    act: Callable
    bellman_errors: Callable
    metric_zeros: Callable
    sample: Callable
    count_nonfinite: Callable


def make_step_functions(
    learner: str,
    agent_config,
    batch_size: int,
    updates_per_step: int,
    online_fraction: float = 0.0,
    offline_rows: int = 0,
    static_schedule: bool = True,
) -> StepFunctions:
    """Jitted, member-vmapped (insert, learn, explore, act) for the loop.

    - insert(buffer, row) -> buffer                          (row: ``replay.pack`` of the transitions)
    - learn(state, buffer, next_obs, sums, phase) -> (state, actions, sums): updates, then the next
      actions; ``phase`` is the learner step (every member's) modulo ``period``, so the delayed
      updates are chosen while tracing (``agents.common.scheduled_updates``): one compiled variant
      per phase, and a skipped update costs nothing under the member vmap
    - explore(state, obs) -> (state, actions)               (first actions of a pretrained policy)
    - act(state, obs[members, envs]) -> deterministic actions for evaluation
    - sample(state, buffer) -> (state, batches [members, updates_per_step, batch, ...])
    - period: ``schedule_period`` of the learner
    ``static_schedule=False`` is the previous code's learn (delayed updates chosen on the device
    from the step; ``phase`` ignored), kept for the benchmark's before/after comparison.
    ``sums`` accumulates the learner's metrics on the device between log points.
    """
    module = agents.get(learner).module
    period = module.schedule_period(agent_config)

    def sample_batches(state, buffer):
        rng, key = jax.random.split(state.rng)
        batches = jax.vmap(lambda k: replay.sample(buffer, k, batch_size, online_fraction, offline_rows))(
            jax.random.split(key, updates_per_step)
        )
        return state._replace(rng=rng), batches

    def train_steps(state, batches, phase):
        if not static_schedule:
            state, metrics = jax.lax.scan(lambda s, b: module.update(s, b, agent_config), state, batches)
            return state, jax.tree_util.tree_map(lambda x: x.mean(0), metrics)
        update = lambda s, b, p: module.update(s, b, agent_config, p)  # noqa: E731
        return scheduled_updates(update, state, batches, period, phase)

    def explore_one(state, observation):
        rng, key = jax.random.split(state.rng)
        actions = module.explore_actions(state, observation[None], key, agent_config)[0]
        return state._replace(rng=rng), actions

    def learn_one(state, buffer, next_observation, sums, phase):
        state, metrics = train_steps(*sample_batches(state, buffer), phase)
        state, actions = explore_one(state, next_observation)
        sums = jax.tree_util.tree_map(jnp.add, sums, metrics)
        return state, actions, sums

    def metric_zeros(state, buffer):
        one = lambda s, b: train_steps(*sample_batches(s, b), 0)[1]  # noqa: E731
        shapes = jax.eval_shape(jax.vmap(one), state, buffer)
        return jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

    return StepFunctions(
        # The transition is written by its own call, with the buffer donated, and learning only reads
        # the buffer. Written and read in one call, XLA copied whole buffer fields to write one row
        # in place (68 MB per step at 1M capacity on cheetah-run: 30 ms on a CPU).
        insert=jax.jit(jax.vmap(replay.add_packed), donate_argnums=0),
        learn=jax.jit(
            lambda state, buffer, next_observations, sums, phase: jax.vmap(
                functools.partial(learn_one, phase=phase)
            )(state, buffer, next_observations, sums),
            static_argnums=4,
            donate_argnums=(0, 3),
        ),
        period=period,
        explore=jax.jit(jax.vmap(explore_one)),
        act=jax.jit(jax.vmap(lambda s, obs: module.eval_actions(s, obs, agent_config))),
        bellman_errors=jax.jit(
            jax.vmap(
                lambda s, b, key, n: analysis.bellman_errors(
                    module, s, replay.sample(b, key, n), agent_config
                ),
                in_axes=(0, 0, None, None),
            ),
            static_argnums=3,
        ),
        metric_zeros=metric_zeros,
        sample=jax.jit(jax.vmap(sample_batches)),  # (state, buffer) -> (state, batches): what learn trains on
        count_nonfinite=jax.jit(jax.vmap(lambda s: count_nonfinite(s.actor.params, s.critic.params))),
    )


class OnlineStart(NamedTuple):
    """Where the online loop starts: member-stacked learner states and replay buffers, and what
    fine-tuning carries over from its offline phase (from scratch, the defaults)."""

    state: Any
    buffer: replay.ReplayBuffer  # fine-tuning's holds the dataset, sampled apart by online_fraction
    reward_transform: Tuple[float, float] = (1.0, 0.0)  # (scale, shift) applied to collected rewards
    references: Optional[Dict[str, float]] = None  # reference returns for normalized scores
    step_offset: int = 0  # added to the logged steps: fine-tuning's online phase continues its curve
    info: Optional[Dict] = None  # copied into summary.json (fine-tuning: the offline phase's summary)
    config_json: Optional[str] = None  # what config.json records (default: config and environment)
    make_env: Optional[Callable[..., Any]] = None  # make_env(seed=None) (default: make_online_env)
    checkpoint_name: str = CHECKPOINTS


def train_online(config: ml_collections.ConfigDict, spec: RunSpec, watch: Watch) -> Dict:
    """Train online agents from scratch in environment ``spec.name``; returns the summary also saved
    as summary.json."""
    checks.check_online_config(config)
    checks.check_members(spec.num_seeds, spec.sweep, spec.seed)
    agent_config = agent_config_from(config)
    module = agents.get(config.learner).module
    members = make_members(spec.seeds, spec.sweep, module.SWEEPABLE)
    probe = make_online_env(spec.name)
    observation_dim, action_dim = probe.observation_space.shape[0], probe.action_space.shape[0]
    probe.close()
    state = stacked_states(module, members, observation_dim, action_dim, agent_config)
    buffer = jax.vmap(lambda _: replay.create(config.replay_capacity, observation_dim, action_dim))(
        jnp.arange(len(members))
    )
    return run_online(config, spec, watch, OnlineStart(state, buffer))


def run_online(config: ml_collections.ConfigDict, spec: RunSpec, watch: Watch, start: OnlineStart) -> Dict:
    """The loop itself, from ``start``'s learner states and replay buffers (one per member of
    ``spec``). A checkpoint in ``<workdir>/<start.checkpoint_name>`` (learner states and replay
    buffers) is resumed from; the environments then start new episodes.
    """
    env_name, log = spec.name, watch.log
    checks.check_online_config(config)
    agent_config = agent_config_from(config)
    module = agents.get(config.learner).module
    algo = algorithm_name(config.learner, agent_config)
    members, mesh = run_members(spec, watch, module.SWEEPABLE)
    layout = MemberLayout(len(members), mesh)
    state, buffer, references, config_json = start.state, start.buffer, start.references, start.config_json
    if mesh is not None:
        state, buffer = layout.put((state, buffer))
    # Rows in the buffer given here (before any checkpoint is restored) are a fine-tuning run's
    # dataset, which online_fraction samples apart from the rows collected later.
    offline_rows = int(np.asarray(layout.to_local(buffer.size)).reshape(-1)[0])
    if config.online_fraction and not offline_rows:
        raise ValueError(
            "config.online_fraction applies to fine-tuning (a buffer that starts with a dataset)"
        )
    make_env = start.make_env or functools.partial(make_online_env, env_name)
    # The buffer holds the environment's sizes; no environment is built to read them again.
    observation_dim, action_dim = buffer.data["observations"].shape[-1], buffer.data["actions"].shape[-1]
    if config_json is None:
        sizes = {"observation_dim": int(observation_dim), "action_dim": int(action_dim)}
        config_json = run_config_json(config, env_name, members, sizes)
    metric = summary_metric(references)
    session = RunSession.for_config(
        watch,
        members,
        config_json,
        config,
        first_step=start.step_offset,
        checkpoint_name=start.checkpoint_name,
        description=f"{env_name} {algo}",
    )
    with session:
        (state, buffer), _ = session.start((state, buffer))
        kind = "finetune" if "offline_steps" in (start.info or {}) else "online"
        info = run_info(env_name, algo, references, config, kind, start.info or {})
        session.summary_on_exit(metric, info, sweepable_values(module, agent_config))
        log(
            f"{env_name}: online {algo}, {len(members)} member(s), {config.max_steps} environment steps; "
            f"workdir {watch.workdir}"
        )
        if not session.done:
            fns = make_step_functions(
                config.learner,
                agent_config,
                config.batch_size,
                config.updates_per_step,
                config.online_fraction,
                offline_rows,
            )
            begin = start._replace(state=state, buffer=buffer, make_env=make_env)
            state, buffer = _interact(config, session, fns, module, layout, begin, action_dim, metric)
        return session.finish()


def _warmup_actions(members: Sequence[Member], t: int, action_dim: int) -> np.ndarray:
    """Uniform actions of the warm-up, drawn from a stream of (member seed, step): reproducible
    without state, so a resumed run (or another process of a multi-process run) draws the same."""
    return np.stack(
        [np.random.default_rng([m.seed, 1, t]).uniform(-1.0, 1.0, action_dim) for m in members]
    ).astype(np.float32)


def _interact(
    config,
    session: RunSession,
    fns: StepFunctions,
    module,
    layout: MemberLayout,
    start: OnlineStart,
    action_dim: int,
    metric: str,
):
    """The environment loop of ``run_online``: this process steps the environments of its own
    members; learning runs on every member (across processes) in lockstep."""
    state, buffer, make_env, step_offset = start.state, start.buffer, start.make_env, start.step_offset
    members = session.members
    local_members = [members[i] for i in layout.local_indices]
    envs = [make_env(seed=m.seed) for m in local_members]
    evaluate = session.evaluation(make_env, fns.act, config, start.references, metric)
    sums = fns.metric_zeros(state, buffer)
    first_t = session.step - step_offset
    # A resumed run starts new episodes, seeded by the step, so it is reproducible but not identical
    # to an uninterrupted run (simulator states are not checkpointed).
    observations = np.stack(
        [env.reset(seed=10_000 * m.seed + 1 + first_t)[0] for env, m in zip(envs, local_members, strict=True)]
    ).astype(np.float32)
    # The action taken at step t is a warm-up action while t <= start_steps.
    if first_t < config.start_steps:
        actions = _warmup_actions(local_members, first_t + 1, action_dim)
    else:
        state, actions = fns.explore(state, layout.to_global(observations))
        actions = layout.to_local(actions)
    scale, shift = start.reward_transform
    episode_returns = np.zeros(len(local_members))
    finished = [[] for _ in local_members]
    learn_calls = learn_calls_total = 0
    # Learner steps taken so far (the same for every member): the phase of the delayed updates.
    learner_steps = int(np.asarray(layout.to_local(state.step)).reshape(-1)[0])
    started = time.time()
    try:
        for t in range(first_t + 1, config.max_steps + 1):
            step = step_offset + t
            # A diverged member must not crash its simulator.
            actions = np.clip(np.nan_to_num(actions), -1.0, 1.0)
            next_observations = np.empty_like(observations)
            rewards = np.empty(len(local_members), np.float32)
            masks = np.empty(len(local_members), np.float32)
            after = np.empty_like(observations)  # where each member continues: next obs, or a reset's
            for i, env in enumerate(envs):
                obs, reward, terminated, truncated, _ = env.step(actions[i])
                next_observations[i], rewards[i], masks[i] = obs, reward, 0.0 if terminated else 1.0
                episode_returns[i] += reward
                after[i] = obs
                if terminated or truncated:
                    finished[i].append(episode_returns[i])
                    episode_returns[i] = 0.0
                    after[i] = env.reset()[0]
            row = replay.pack(observations, actions, rewards * scale + shift, masks, next_observations)
            buffer = fns.insert(buffer, layout.to_global(row))
            if t < config.start_steps:
                actions = _warmup_actions(local_members, t + 1, action_dim)
            else:
                phase = learner_steps % fns.period
                state, actions, sums = fns.learn(state, buffer, layout.to_global(after), sums, phase)
                learner_steps += config.updates_per_step
                actions = layout.to_local(actions)
                learn_calls += 1
                learn_calls_total += 1
            observations = after

            if t % config.log_interval == 0 or t == config.max_steps:  # the last steps too
                metrics = {}
                if learn_calls:
                    delayed = getattr(module, "DELAYED_METRICS", ())
                    metrics = averaged_metrics(to_host(sums), learn_calls, delayed)
                    metrics["nonfinite_params"] = to_host(fns.count_nonfinite(state))
                    sums, learn_calls = jax.tree_util.tree_map(jnp.zeros_like, sums), 0
                local_returns = np.array([np.mean(f) if f else np.nan for f in finished], np.float64)
                extra = {
                    "episode_return": [
                        None if np.isnan(r) else float(r) for r in layout.gather(local_returns)
                    ],
                    "env_steps_per_second": (t - first_t) / (time.time() - started),
                }
                finished = [[] for _ in local_members]
                session.log_train(step, metrics, extra)
            session.advance(1, step)
            if session.eval_due(step):
                # Process 0 evaluates every member with the gathered parameters; the others go on.
                evaluate(step, state)
            if config.bellman_error_interval and t % config.bellman_error_interval == 0 and learn_calls_total:
                errors = to_host(
                    fns.bellman_errors(state, buffer, jax.random.PRNGKey(t), config.bellman_error_samples)
                )
                session.save_member_arrays(f"bellman_errors/step_{step:09d}.npy", errors)
            if session.checkpoint_due(step):
                session.checkpoint(step, (state, buffer))
    finally:
        for env in envs:
            env.close()
    return state, buffer
