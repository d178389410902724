"""The offline training loop: data on the device, scanned update chunks, evaluation, logging.

The learner (``xql_jax.agents.xql``) is pure; this module owns everything around it: loading and
checking data, the cadence of evaluation and logging, the divergence check and the run's outputs.
Members (seeds x swept hyperparameters) train together in one program (``xql_jax.runs``: vmapped,
or one after another on a CPU).
"""

from __future__ import annotations

import time
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import ml_collections
from jax.sharding import NamedSharding, PartitionSpec

from xql_jax import agents, checks
from xql_jax.agents import xql
from xql_jax.data import Dataset, prepare, sample_batch, sources, to_device
from xql_jax.loop import RunSession, run_config_json, run_info, run_members, summary_metric, sweepable_values
from xql_jax.runs import (  # noqa: F401  (re-exported: the launchers and tests import them from here)
    MEMBER_AXIS,
    Member,
    RunSpec,
    TrainingDiverged,
    Watch,
    count_nonfinite,
    make_members,
    member_mesh,
    members_in_sequence,
    over_members,
    parse_sweep,
    stacked_states,
    to_host,
)
from xql_jax.workdir import CHECKPOINTS


def train_chunk_fn(config: xql.XQLConfig, batch_size: int, num_steps: int):
    """``num_steps`` learner steps of one state with batches sampled on the device (not jitted)."""

    def train_chunk(state: xql.XQLState, data):
        def step(state, _):
            rng, key = jax.random.split(state.rng)
            batch = sample_batch(key, data, batch_size)
            return xql.update(state._replace(rng=rng), batch, config)

        state, metrics = jax.lax.scan(step, state, None, length=num_steps)
        metrics = jax.tree_util.tree_map(jnp.mean, metrics)
        metrics["nonfinite_params"] = count_nonfinite(
            state.actor.params, state.critic.params, None if state.value is None else state.value.params
        )
        return state, metrics

    return train_chunk


def make_train_chunk(
    config: xql.XQLConfig, batch_size: int, num_steps: int, members: bool = False, sequential: bool = False
):
    """Jitted chunk of ``num_steps`` steps: (state, data) -> (new_state, metrics averaged over the chunk).

    With ``members=True`` the state has a leading member axis and every member runs the same steps,
    each with its own PRNG key (so its own batches) and hyperparameters: under vmap, or one member
    after another with ``sequential`` (``runs.members_in_sequence``: the faster choice on a CPU). The
    state is donated, so parameters are updated in place rather than copied every chunk.
    """
    chunk = train_chunk_fn(config, batch_size, num_steps)
    if members:
        chunk = over_members(chunk, sequential, in_axes=(0, None))
    return jax.jit(chunk, donate_argnums=0)


def make_member_actions(config: xql.XQLConfig, sequential: bool = False):
    """Jitted (states, observations[members, envs, obs_dim]) -> every member's deterministic
    evaluation actions (the learner's ``eval_actions``), the members run as the chunk runs them."""
    act = lambda state, observations: xql.eval_actions(state, observations, config)  # noqa: E731
    return jax.jit(over_members(act, sequential, in_axes=(0, 0)))


def init_member_states(
    members: Sequence[Member], observation_dim: int, action_dim: int, config: xql.XQLConfig
) -> xql.XQLState:
    """Offline learner states stacked along a leading member axis."""
    return stacked_states(xql, members, observation_dim, action_dim, config)


def learner_config_from(config: ml_collections.ConfigDict) -> xql.XQLConfig:
    """The learner's config; the actor's cosine schedule spans the whole run, fine-tuning included."""
    return xql.XQLConfig.from_dict({**config.agent.to_dict(), "decay_steps": learner_steps(config)})


def learner_steps(config: ml_collections.ConfigDict) -> int:
    """Learner updates of the whole run: the offline steps and, when fine-tuning, one per environment
    step times ``updates_per_step``. A cosine schedule spans them."""
    online = config.online.max_steps * config.online.updates_per_step if "online" in config else 0
    return config.max_steps + online


class OfflineRun(NamedTuple):
    summary: Dict  # as saved in summary.json ({} on processes that do not write)
    state: xql.XQLState  # final learner states, stacked over members
    members: List[Member]
    dataset: Dataset  # rewards preprocessed
    references: Optional[Dict[str, float]]
    reward_transform: Tuple[float, float]  # (scale, shift) that preprocessed the rewards
    config_json: str  # what config.json records: the config and the run's identity
    source: sources.Source  # where the data came from; its evaluation environment


def train_offline(config: ml_collections.ConfigDict, spec: RunSpec, watch: Watch) -> Dict:
    """Train offline learners on ``spec``'s dataset and evaluate them; returns the summary also saved
    as summary.json.

    Every member of ``spec`` (seeds x sweep values) is trained in one program. With one
    member, outputs go to ``watch.workdir``; with several, to ``<workdir>/<member name>/`` and the
    mean/std to the workdir.
    """
    return run_offline(config, spec, watch).summary


def run_offline(
    config: ml_collections.ConfigDict, spec: RunSpec, watch: Watch, checkpoint_name: str = CHECKPOINTS
) -> "OfflineRun":
    """``train_offline`` that also returns what fine-tuning continues from: states, data, members.

    A checkpoint in ``<workdir>/<checkpoint_name>`` is resumed from; a finished run is not retrained.
    """
    env_name, log = spec.name, watch.log
    checks.check_offline_config(config)
    learner_config = learner_config_from(config)
    members, mesh = run_members(spec, watch, xql.SWEEPABLE)
    offline_data = prepare.offline_data(
        config.reward_preprocessing, env_name, spec.dataset_path, spec.data_dir, log=log
    )
    checks.check_batch_fits(config.batch_size, len(offline_data.dataset), offline_data.source.location)
    dataset, references, transform = (
        offline_data.dataset,
        offline_data.source.references,
        offline_data.transform,
    )
    config_json = run_config_json(config, env_name, members, offline_data.identity)

    metric = summary_metric(references, offline_data.source.metric)
    devices = "1 device" if mesh is None else f"{mesh.devices.size} devices"
    log(f"{len(members)} member(s) on {devices}; workdir {watch.workdir}")

    session = RunSession.for_config(
        watch, members, config_json, config, checkpoint_name=checkpoint_name, description=env_name
    )
    with session:
        state = init_member_states(members, dataset.observation_dim, dataset.action_dim, learner_config)
        data = to_device(dataset)
        if mesh is not None:
            state = jax.device_put(state, NamedSharding(mesh, PartitionSpec(MEMBER_AXIS)))
            data = jax.device_put(data, NamedSharding(mesh, PartitionSpec()))
        state, _ = session.start(state)
        algo = agents.algorithm_name("xql", learner_config)
        info = run_info(
            env_name, algo, references, config, "offline", {"value_loss": learner_config.value_loss}
        )
        session.summary_on_exit(metric, info, sweepable_values(xql, learner_config))
        # Process 0 evaluates (with every member's parameters) and writes; the others only train.
        sequential = members_in_sequence(mesh)
        act = make_member_actions(learner_config, sequential)
        evaluate = session.evaluation(offline_data.source.make_env, act, config, references, metric)
        train_chunk = make_train_chunk(
            learner_config,
            config.batch_size,
            config.log_interval,
            members=True,
            sequential=sequential,
        )

        step, first_step, started = session.step, session.step, time.time()
        while step < config.max_steps:
            state, metrics = train_chunk(state, data)
            step += config.log_interval
            metrics = to_host(metrics)
            speed = {"steps_per_second": (step - first_step) / (time.time() - started)}
            session.log_train(step, metrics, speed, advance=config.log_interval)
            if session.eval_due(step):
                evaluate(step, state)  # a collective: every process takes part
            if session.checkpoint_due(step):
                session.checkpoint(step, state)
        summary = session.finish()
    return OfflineRun(
        summary, state, members, dataset, references, transform, config_json, offline_data.source
    )
