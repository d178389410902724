"""The offline training loop: data on the device, scanned update chunks, evaluation, logging.

The learner (``xql_jax.agents.xql``) is pure; this module owns everything around it: loading and
checking data, the cadence of evaluation and logging, the divergence check and the run's outputs.
"""

from __future__ import annotations

import json
import os
import time
from typing import Callable, Dict, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tqdm

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


class TrainingDiverged(RuntimeError):
    """A loss or statistic became non-finite or exploded; the message names the step and the quantity."""


# A finite loss above this is treated as divergence too: with the paper's reward scales healthy
# losses stay many orders of magnitude below it.
EXPLODING_LOSS = 1e8


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


def check_finite(metrics: Dict[str, float], step: int) -> None:
    for name, value in metrics.items():
        if not np.all(np.isfinite(value)):
            raise TrainingDiverged(f"training diverged at step {step}: {name} = {value} (not finite)")
        if name.endswith("loss") and np.max(np.abs(value)) > EXPLODING_LOSS:
            raise TrainingDiverged(
                f"training diverged at step {step}: {name} = {value:.3g} exceeds {EXPLODING_LOSS:.0e}"
            )


def make_train_chunk(config: xql.LearnerConfig, batch_size: int, num_steps: int):
    """A jitted function running ``num_steps`` learner steps with batches sampled on the device.

    Returns (new_state, metrics averaged over the chunk). The state buffer is donated, so the
    parameters are updated in place rather than copied every chunk.
    """

    def train_chunk(state: xql.OfflineState, data):
        def step(state, _):
            rng, key = jax.random.split(state.rng)
            batch = sample_batch(key, data, batch_size)
            return xql.update(state._replace(rng=rng), batch, config)

        state, metrics = jax.lax.scan(step, state, None, length=num_steps)
        return state, jax.tree_util.tree_map(jnp.mean, metrics)

    return jax.jit(train_chunk, donate_argnums=0)


def learner_config_from(config: ml_collections.ConfigDict) -> xql.LearnerConfig:
    return xql.LearnerConfig.from_dict({**config.agent.to_dict(), "decay_steps": config.max_steps})


def validate_config(config: ml_collections.ConfigDict) -> None:
    for name in ("batch_size", "max_steps", "log_interval", "eval_interval", "eval_episodes"):
        if int(config[name]) <= 0:
            raise ValueError(f"config.{name} must be positive, got {config[name]}")
    if config.eval_interval % config.log_interval:
        raise ValueError(
            f"config.eval_interval ({config.eval_interval}) must be a multiple of config.log_interval "
            f"({config.log_interval}), the length of one scanned chunk"
        )
    learner_config_from(config)  # raises on unknown or invalid learner fields


def train_offline(
    config: ml_collections.ConfigDict,
    workdir: str,
    env_name: str,
    seed: int = 0,
    dataset_path: Optional[str] = None,
    data_dir: Optional[str] = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Dict:
    """Train one offline learner and evaluate it; returns the summary also saved as summary.json."""
    validate_config(config)
    learner_config = learner_config_from(config)
    path, references = resolve_dataset(env_name, dataset_path, data_dir, log=log)
    dataset = preprocess_rewards(load_d4rl_hdf5(path), config.reward_preprocessing)
    envs = [make_env(env_name) for _ in range(min(config.eval_episodes, config.eval_envs))]
    check_shapes(dataset, envs[0])

    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "config.json"), "w") as f:
        f.write(config.to_json_best_effort(indent=2))
    logger = RunLogger(workdir)
    log(f"{env_name}: {len(dataset)} transitions from {path}; workdir {workdir}")

    state = xql.create_state(
        jax.random.PRNGKey(seed), dataset.observation_dim, dataset.action_dim, learner_config
    )
    data = to_device(dataset)
    train_chunk = make_train_chunk(learner_config, config.batch_size, config.log_interval)
    actor_def = xql.networks(learner_config, dataset.action_dim)[0]
    act = jax.jit(lambda params, obs: xql.policy_actions(actor_def, params, obs))
    eval_seed = 1_000_000 * (seed + 1)

    evaluations = []
    start = time.time()
    bar = tqdm.tqdm(total=config.max_steps, disable=not progress, desc=env_name, unit="step")
    step = 0
    while step < config.max_steps:
        state, metrics = train_chunk(state, data)
        step += config.log_interval
        metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
        check_finite(metrics, step)
        metrics["steps_per_second"] = step / (time.time() - start)
        logger.log_train(step, metrics)
        bar.update(config.log_interval)
        if step % config.eval_interval == 0 or step >= config.max_steps:
            actor_params = state.actor.params
            returns = evaluate(
                lambda obs, params=actor_params: act(params, obs), envs, config.eval_episodes, eval_seed
            )
            scores = normalized_score(returns, references)
            result = {
                "return_mean": float(returns.mean()),
                "return_std": float(returns.std()),
                "normalized_score": None if scores is None else float(scores.mean()),
                "normalized_score_std": None if scores is None else float(scores.std()),
                "wall_time": time.time() - start,
            }
            logger.log_eval(step, result)
            evaluations.append({"step": step, **result})
            bar.set_postfix(
                score=f"{result['normalized_score']:.1f}" if scores is not None else None,
                ret=f"{result['return_mean']:.1f}",
            )
    bar.close()
    logger.close()
    for env in envs:
        env.close()

    key = "normalized_score" if references is not None else "return_mean"
    best = max(evaluations, key=lambda e: e[key])
    summary = {
        "env_name": env_name,
        "seed": seed,
        "value_loss": learner_config.value_loss,
        "steps": step,
        "wall_time": time.time() - start,
        "metric": key,
        "last": evaluations[-1][key],
        "best": best[key],
        "best_step": best["step"],
        "references": references,
    }
    with open(os.path.join(workdir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return summary
