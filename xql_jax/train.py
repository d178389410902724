"""The offline training loop: data on the device, scanned update chunks, evaluation, logging.

The learner (``xql_jax.agents.xql``) is pure; this module owns everything around it: loading and
checking data, the cadence of evaluation and logging, the divergence check and the run's outputs.

A run trains one or more *members* in one program: every member is a (seed, hyperparameter
override) pair, the learner states are stacked along a leading member axis and ``jax.vmap`` runs
them together. With several devices the member axis is laid over all of them (``jax.sharding``).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import time
from typing import Callable, Dict, List, Optional, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tqdm
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from xql_jax.agents import xql
from xql_jax.data import (
    Dataset,
    DatasetError,
    load_d4rl_hdf5,
    pointmaze,
    preprocess_rewards,
    sample_batch,
    to_device,
)
from xql_jax.envs import EMBEDDED_MAZES, make_env
from xql_jax.evaluation import evaluate, normalized_score
from xql_jax.logger import RunLogger

MEMBER_AXIS = "members"


class TrainingDiverged(RuntimeError):
    """A loss or statistic became non-finite or exploded; the message names the step and the quantity."""


# A finite loss above this is treated as divergence too: with the paper's reward scales healthy
# losses stay many orders of magnitude below it.
EXPLODING_LOSS = 1e8


@dataclasses.dataclass(frozen=True)
class Member:
    """One learner of a multi-member run: its seed and its overrides of SWEEPABLE hyperparameters."""

    seed: int
    hyperparams: Dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def name(self) -> str:
        overrides = "".join(f"_{k}{v:g}" for k, v in sorted(self.hyperparams.items()))
        return f"seed{self.seed}{overrides}"


def make_members(seeds: Sequence[int], sweep: Optional[Dict[str, Sequence[float]]] = None) -> List[Member]:
    """Every seed for every combination of the swept values (a grid)."""
    sweep = dict(sweep or {})
    unknown = sorted(set(sweep) - set(xql.SWEEPABLE))
    if unknown:
        raise ValueError(
            f"cannot sweep {unknown} in one program; sweepable: {list(xql.SWEEPABLE)} "
            "(sweep other fields, e.g. batch_size, with separate runs: experiments/sweep.py)"
        )
    for name, values in sweep.items():
        if not values:
            raise ValueError(f"sweep over {name} has no values")
        if name == "beta" and min(values) <= 0:
            raise ValueError(f"beta values must be positive, got {list(values)}")
    names = sorted(sweep)
    return [
        Member(seed, dict(zip(names, combo, strict=True)))
        for combo in itertools.product(*(sweep[n] for n in names))
        for seed in seeds
    ]


def parse_sweep(specs: Sequence[str]) -> Dict[str, List[float]]:
    """Parse ["beta=1,2,5", ...] (the launchers' --sweep flags) into {"beta": [1.0, 2.0, 5.0]}."""
    sweep = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        try:
            sweep[name.strip()] = [float(v) for v in values.split(",")]
        except ValueError:
            raise ValueError(f"--sweep={spec}: expected NAME=v1,v2,... with numbers") from None
        if not sep:
            raise ValueError(f"--sweep={spec}: expected NAME=v1,v2,...")
    return sweep


def resolve_dataset(env_name: str, dataset_path: Optional[str], data_dir: Optional[str] = None, log=print):
    """The HDF5 path for a run and the reference returns for its normalized score (or None)."""
    if dataset_path:
        return dataset_path, pointmaze.load_reference_scores(dataset_path)
    if env_name in EMBEDDED_MAZES:
        path = pointmaze.ensure_dataset(env_name, data_dir=data_dir, log=log)
        return path, pointmaze.load_reference_scores(path)
    raise DatasetError(
        f"no dataset for env_name={env_name!r}: it is not an embedded dataset "
        f"({sorted(EMBEDDED_MAZES)}). Pass --dataset_path=/path/to/file.hdf5 (D4RL layout)."
    )


def check_shapes(dataset: Dataset, env) -> None:
    obs_shape, act_shape = env.observation_space.shape, env.action_space.shape
    if (dataset.observation_dim,) != tuple(obs_shape) or (dataset.action_dim,) != tuple(act_shape):
        raise DatasetError(
            f"dataset observations/actions have dims {dataset.observation_dim}/{dataset.action_dim} "
            f"but the environment expects {obs_shape}/{act_shape}: the dataset does not belong to this "
            "environment; check --env_name and --dataset_path"
        )


def divergence(metrics: Dict[str, float], step: int) -> Optional[str]:
    """A message naming the step and the quantity when a metric is non-finite or a loss exploded."""
    for name, value in metrics.items():
        if not np.isfinite(value):
            return f"training diverged at step {step}: {name} = {value} (not finite)"
        if name.endswith("loss") and abs(value) > EXPLODING_LOSS:
            return f"training diverged at step {step}: {name} = {value:.3g} exceeds {EXPLODING_LOSS:.0e}"
    return None


def train_chunk_fn(config: xql.LearnerConfig, batch_size: int, num_steps: int):
    """``num_steps`` learner steps of one state with batches sampled on the device (not jitted)."""

    def train_chunk(state: xql.OfflineState, data):
        def step(state, _):
            rng, key = jax.random.split(state.rng)
            batch = sample_batch(key, data, batch_size)
            return xql.update(state._replace(rng=rng), batch, config)

        state, metrics = jax.lax.scan(step, state, None, length=num_steps)
        return state, jax.tree_util.tree_map(jnp.mean, metrics)

    return train_chunk


def make_train_chunk(config: xql.LearnerConfig, batch_size: int, num_steps: int, members: bool = False):
    """Jitted chunk of ``num_steps`` steps: (state, data) -> (new_state, metrics averaged over the chunk).

    With ``members=True`` the state has a leading member axis and every member runs the same steps
    under vmap, each with its own PRNG key (so its own batches) and hyperparameters. The state is
    donated, so parameters are updated in place rather than copied every chunk.
    """
    chunk = train_chunk_fn(config, batch_size, num_steps)
    if members:
        chunk = jax.vmap(chunk, in_axes=(0, None))
    return jax.jit(chunk, donate_argnums=0)


def init_member_states(
    members: Sequence[Member], observation_dim: int, action_dim: int, config: xql.LearnerConfig
) -> xql.OfflineState:
    """Learner states stacked along a leading member axis."""
    keys = jnp.stack([jax.random.PRNGKey(m.seed) for m in members])
    hyperparams = {
        name: jnp.asarray([m.hyperparams.get(name, getattr(config, name)) for m in members], jnp.float32)
        for name in xql.SWEEPABLE
    }
    create = lambda key, h: xql.create_state(key, observation_dim, action_dim, config, h)  # noqa: E731
    return jax.jit(jax.vmap(create))(keys, hyperparams)


def member_mesh(num_members: int, shard: Optional[bool] = None, log=print) -> Optional[Mesh]:
    """A 1-D mesh over all devices for the member axis, or None to stay on one device.

    ``shard=None`` shards when there are several devices and they divide the members evenly.
    """
    devices = jax.devices()
    if shard is False or (shard is None and len(devices) == 1):
        return None
    if num_members % len(devices):
        if shard:
            raise ValueError(
                f"{num_members} members cannot be split evenly over {len(devices)} devices; "
                "choose num_seeds x sweep size as a multiple of the device count, or --shard=false"
            )
        log(f"{num_members} members do not divide over {len(devices)} devices: running on one device")
        return None
    return Mesh(np.asarray(devices), (MEMBER_AXIS,))


def _to_host(tree):
    """Fetch arrays to numpy; across processes the member axis is gathered first."""
    if jax.process_count() > 1:
        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


def learner_config_from(config: ml_collections.ConfigDict) -> xql.LearnerConfig:
    return xql.LearnerConfig.from_dict({**config.agent.to_dict(), "decay_steps": config.max_steps})


def validate_config(config: ml_collections.ConfigDict) -> None:
    for name in ("batch_size", "max_steps", "log_interval", "eval_interval", "eval_episodes", "eval_envs"):
        if int(config[name]) <= 0:
            raise ValueError(f"config.{name} must be positive, got {config[name]}")
    if config.max_steps % config.log_interval:
        raise ValueError(
            f"config.max_steps ({config.max_steps}) must be a multiple of config.log_interval "
            f"({config.log_interval}), the length of one scanned chunk"
        )
    if config.eval_interval % config.log_interval:
        raise ValueError(
            f"config.eval_interval ({config.eval_interval}) must be a multiple of config.log_interval "
            f"({config.log_interval}), the length of one scanned chunk"
        )
    learner_config_from(config)  # raises on unknown or invalid learner fields


def _summarise(values: List[float]) -> Dict[str, Optional[float]]:
    if not values:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "n": len(values)}


def train_offline(
    config: ml_collections.ConfigDict,
    workdir: str,
    env_name: str,
    seed: int = 0,
    dataset_path: Optional[str] = None,
    data_dir: Optional[str] = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    num_seeds: int = 1,
    sweep: Optional[Dict[str, Sequence[float]]] = None,
    shard: Optional[bool] = None,
) -> Dict:
    """Train offline learners and evaluate them; returns the summary also saved as summary.json.

    Seeds ``seed .. seed + num_seeds - 1`` are trained for every combination of ``sweep`` values
    (e.g. ``{"beta": [1, 2, 5]}``) in one vmapped program. With one member, outputs go to
    ``workdir``; with several, to ``workdir/<member name>/`` and the mean/std to ``workdir``.
    """
    validate_config(config)
    learner_config = learner_config_from(config)
    members = make_members(range(seed, seed + num_seeds), sweep)
    mesh = member_mesh(len(members), shard, log=log)
    path, references = resolve_dataset(env_name, dataset_path, data_dir, log=log)
    dataset = preprocess_rewards(load_d4rl_hdf5(path), config.reward_preprocessing)
    probe_env = make_env(env_name)
    check_shapes(dataset, probe_env)
    probe_env.close()

    # Process 0 evaluates and writes; other processes of a multi-host run only train.
    is_writer = jax.process_index() == 0
    envs_per_member = min(config.eval_episodes, config.eval_envs)
    envs = [[make_env(env_name) for _ in range(envs_per_member)] for _ in members] if is_writer else []
    metric = "normalized_score" if references is not None else "return_mean"
    single = len(members) == 1
    member_dirs = [workdir if single else os.path.join(workdir, m.name) for m in members]
    loggers = []
    if is_writer:
        for member_dir in member_dirs:
            os.makedirs(member_dir, exist_ok=True)
            with open(os.path.join(member_dir, "config.json"), "w") as f:
                f.write(config.to_json_best_effort(indent=2))
            loggers.append(RunLogger(member_dir))
    devices = "1 device" if mesh is None else f"{mesh.devices.size} devices"
    log(
        f"{env_name}: {len(dataset)} transitions from {path}; {len(members)} member(s) on {devices}; "
        f"workdir {workdir}"
    )

    state = init_member_states(members, dataset.observation_dim, dataset.action_dim, learner_config)
    data = to_device(dataset)
    if mesh is not None:
        state = jax.device_put(state, NamedSharding(mesh, PartitionSpec(MEMBER_AXIS)))
        data = jax.device_put(data, NamedSharding(mesh, PartitionSpec()))
    train_chunk = make_train_chunk(learner_config, config.batch_size, config.log_interval, members=True)
    actor_def = xql.networks(learner_config, dataset.action_dim)[0]
    act = jax.jit(jax.vmap(lambda params, obs: xql.policy_actions(actor_def, params, obs)))
    eval_seed = 1_000_000 * (seed + 1)  # the same start states for every member: paired comparisons

    evaluations: List[List[Dict]] = [[] for _ in members]
    diverged: Dict[int, str] = {}
    start = time.time()
    bar = tqdm.tqdm(total=config.max_steps, disable=not (progress and is_writer), desc=env_name, unit="step")
    step = 0
    while step < config.max_steps:
        state, metrics = train_chunk(state, data)
        step += config.log_interval
        metrics = _to_host(metrics)
        steps_per_second = step / (time.time() - start)
        for i in range(len(members)):
            if i in diverged:
                continue
            member_metrics = {k: float(v[i]) for k, v in metrics.items()}
            message = divergence(member_metrics, step)
            if message:
                diverged[i] = message
                log(f"{members[i].name}: {message}")
            elif is_writer:
                loggers[i].log_train(step, {**member_metrics, "steps_per_second": steps_per_second})
        if len(diverged) == len(members):
            raise TrainingDiverged(diverged[0] if single else f"every member diverged: {diverged}")
        bar.update(config.log_interval)
        if step % config.eval_interval == 0 or step >= config.max_steps:
            actor_params = _to_host(state.actor.params)  # a collective: every process takes part
            if not is_writer:
                continue
            returns = evaluate(
                lambda obs, params=actor_params: np.nan_to_num(np.asarray(act(params, obs))),
                envs,
                config.eval_episodes,
                eval_seed,
            )
            for i in range(len(members)):
                if i in diverged:
                    continue
                scores = normalized_score(returns[i], references)
                result = {
                    "return_mean": float(returns[i].mean()),
                    "return_std": float(returns[i].std()),
                    "normalized_score": None if scores is None else float(scores.mean()),
                    "normalized_score_std": None if scores is None else float(scores.std()),
                    "wall_time": time.time() - start,
                }
                loggers[i].log_eval(step, result)
                evaluations[i].append({"step": step, **result})
            live = [evaluations[i][-1] for i in range(len(members)) if i not in diverged]
            bar.set_postfix({metric.split("_")[0]: f"{np.mean([e[metric] for e in live]):.1f}"})
    bar.close()
    for logger in loggers:
        logger.close()
    for member_envs in envs:
        for env in member_envs:
            env.close()
    if not is_writer:
        return {}
    return _write_summaries(
        members,
        member_dirs,
        evaluations,
        diverged,
        references,
        metric,
        env_name,
        learner_config,
        step,
        start,
        workdir,
    )


def _write_summaries(
    members,
    member_dirs,
    evaluations,
    diverged,
    references,
    key,
    env_name,
    learner_config,
    step,
    start,
    workdir,
) -> Dict:
    member_summaries = []
    for i, (member, member_dir) in enumerate(zip(members, member_dirs, strict=True)):
        summary = {
            "env_name": env_name,
            "member": member.name,
            "seed": member.seed,
            "hyperparams": {name: float(getattr(learner_config, name)) for name in xql.SWEEPABLE}
            | member.hyperparams,
            "value_loss": learner_config.value_loss,
            "steps": step,
            "wall_time": time.time() - start,
            "metric": key,
            "diverged": diverged.get(i),
            "references": references,
        }
        # A diverged member keeps its best score from before it diverged but has no last score.
        best = max(evaluations[i], key=lambda e: e[key]) if evaluations[i] else None
        summary.update(
            last=None if i in diverged or not evaluations[i] else evaluations[i][-1][key],
            best=None if best is None else best[key],
            best_step=None if best is None else best["step"],
        )
        member_summaries.append(summary)
        with open(os.path.join(member_dir, "summary.json"), "w") as f:
            json.dump(summary, f, indent=2)
    if len(members) == 1:
        return member_summaries[0]

    groups: Dict[str, List[Dict]] = {}
    for member, summary in zip(members, member_summaries, strict=True):
        label = "".join(f"{k}={v:g} " for k, v in sorted(member.hyperparams.items())).strip() or "all"
        groups.setdefault(label, []).append(summary)
    aggregate = {
        "env_name": env_name,
        "metric": key,
        "steps": step,
        "wall_time": time.time() - start,
        "members": [s["member"] for s in member_summaries],
        "diverged": {s["member"]: s["diverged"] for s in member_summaries if s["diverged"]},
        "groups": {
            label: {
                "last": _summarise([s["last"] for s in group if s["last"] is not None]),
                "best": _summarise([s["best"] for s in group if s["best"] is not None]),
                "members": [s["member"] for s in group],
            }
            for label, group in groups.items()
        },
    }
    with open(os.path.join(workdir, "summary.json"), "w") as f:
        json.dump(aggregate, f, indent=2)
    return aggregate
