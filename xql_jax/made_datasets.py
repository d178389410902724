"""The recipe of the D4RL-style datasets made here: behavior policies trained by the online loop,
their export (medium and expert actors, reference returns), and rollouts in D4RL's HDF5 layout.

D4RL made its gym locomotion datasets from SAC policies: ``random`` (a random policy), ``medium``
(a policy stopped at about a third of the expert's return; its files score ~40% of the expert),
``expert`` (the trained policy), ``medium-replay`` (the replay buffer of that training run up to
the medium policy) and ``medium-expert`` (medium and expert concatenated). The same recipe here,
in gymnasium's ``-v5`` environments (same observations and actions as D4RL's ``-v2``), with TD3
behavior policies trained by this project's online loop (``experiments/make_dataset.py``). Names,
files and array conversions are ``xql_jax.data.made``; this module drives the loops and
networks, so it sits above them.

The medium and expert actors ship in ``xql_jax/data/behavior_policies`` (about 0.3 MB each), so
random, medium, expert and medium-expert can be made without training; medium-replay is the
training run's replay buffer and needs that run.
"""

from __future__ import annotations

import json
import os
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from xql_jax.data.dataset import DatasetError

POLICY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "behavior_policies")
MEDIUM_FRACTION = 0.4  # medium = the checkpoint whose return is nearest this share of the expert's


def policy_path(robot: str, level: str, policy_dir: Optional[str] = None) -> str:
    return os.path.join(policy_dir or POLICY_DIR, f"{robot}-{level}.npz")


def info_path(robot: str, policy_dir: Optional[str] = None) -> str:
    return os.path.join(policy_dir or POLICY_DIR, f"{robot}.json")


def save_policy(path: str, params) -> None:
    from flax import traverse_util

    flat = traverse_util.flatten_dict(params, sep="/")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez(path, **{k: np.asarray(v, np.float32) for k, v in flat.items()})


def load_policy(path: str):
    from flax import traverse_util

    if not os.path.isfile(path):
        raise DatasetError(
            f"behavior policy {path} not found; train one with "
            "python experiments/make_dataset.py --train_behavior=<robot>"
        )
    with np.load(path) as f:
        return traverse_util.unflatten_dict({k: f[k] for k in f.files}, sep="/")


def load_info(robot: str, policy_dir: Optional[str] = None) -> Dict:
    path = info_path(robot, policy_dir)
    if not os.path.isfile(path):
        raise DatasetError(
            f"no behavior policies for {robot} in {os.path.dirname(path)} ({os.path.basename(path)} is "
            f"missing); train them with python experiments/make_dataset.py --train_behavior={robot}"
        )
    with open(path) as f:
        return json.load(f)


def deterministic_actor(params, hidden_dims, action_dim: int) -> Callable[[np.ndarray], np.ndarray]:
    """A jitted TD3 actor: observations [n, obs_dim] -> actions [n, action_dim] in [-1, 1]."""
    import jax

    from xql_jax.networks import DeterministicPolicy

    module = DeterministicPolicy(tuple(hidden_dims), action_dim)
    apply = jax.jit(lambda obs: module.apply({"params": params}, obs))
    return lambda observations: np.asarray(apply(np.asarray(observations, np.float32)))


def collect(
    env_id: str,
    actor: Optional[Callable[[np.ndarray], np.ndarray]],
    num_transitions: int,
    seed: int = 0,
    noise_std: float = 0.0,
    num_envs: int = 8,
    progress: bool = False,
) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
    """Roll out a policy for ``num_transitions`` steps; (D4RL-layout arrays, returns of whole episodes).

    ``actor`` None takes uniform random actions; otherwise its actions get Gaussian noise of
    ``noise_std`` and are clipped to [-1, 1]. ``num_envs`` environments step in lockstep so the
    actor runs on batches; episodes are written whole, one after another, as D4RL files are. The
    last episode is cut at ``num_transitions`` with a timeout on its last row.
    """
    import tqdm

    from xql_jax.envs import make_online_env

    if num_transitions < 2:
        raise ValueError(f"num_transitions must be at least 2, got {num_transitions}")
    rng = np.random.default_rng([seed, 7])
    envs = [make_online_env(env_id) for _ in range(num_envs)]
    action_dim = envs[0].action_space.shape[0]
    observations = np.stack([env.reset(seed=1000 * seed + i)[0] for i, env in enumerate(envs)])
    running = [{k: [] for k in ("obs", "act", "rew", "term", "next")} for _ in envs]
    episodes: List[Dict[str, np.ndarray]] = []
    returns = []
    done_steps = 0
    bar = tqdm.tqdm(total=num_transitions, disable=not progress, desc=env_id, unit="step")
    while done_steps < num_transitions:
        if actor is None:
            actions = rng.uniform(-1.0, 1.0, (num_envs, action_dim))
        else:
            actions = actor(observations) + noise_std * rng.standard_normal((num_envs, action_dim))
        actions = np.clip(actions, -1.0, 1.0).astype(np.float32)
        for i, env in enumerate(envs):
            obs, reward, terminated, truncated, _ = env.step(actions[i])
            episode = running[i]
            episode["obs"].append(observations[i].copy())
            episode["act"].append(actions[i])
            episode["rew"].append(reward)
            episode["term"].append(terminated)
            episode["next"].append(obs)
            observations[i] = obs
            if terminated or truncated:
                episodes.append({k: np.asarray(v) for k, v in episode.items()})
                returns.append(float(np.sum(episode["rew"])))
                done_steps += len(episode["rew"])
                bar.update(len(episode["rew"]))
                running[i] = {k: [] for k in episode}
                observations[i] = env.reset()[0]
    bar.close()
    for env in envs:
        env.close()
    joined = {k: np.concatenate([e[k] for e in episodes])[:num_transitions] for k in episodes[0]}
    lengths = np.cumsum([len(e["rew"]) for e in episodes])
    timeouts = np.zeros(num_transitions, bool)
    ends = lengths[lengths <= num_transitions] - 1
    timeouts[ends] = ~joined["term"][ends]  # an episode that ended without a terminal hit the time limit
    timeouts[-1] = not joined["term"][-1]  # the cut (or last) episode
    raw = dict(
        observations=joined["obs"].astype(np.float32),
        actions=joined["act"].astype(np.float32),
        rewards=joined["rew"].astype(np.float32),
        terminals=joined["term"].astype(bool),
        timeouts=timeouts,
        next_observations=joined["next"].astype(np.float32),
    )
    whole = lengths <= num_transitions
    return raw, np.asarray(returns)[whole]


def read_evaluations(workdir: str) -> List[Dict]:
    """The rows of a run's eval.jsonl."""
    with open(os.path.join(workdir, "eval.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def choose_levels(evaluations: List[Dict], medium_fraction: float = MEDIUM_FRACTION) -> Dict[str, int]:
    """{"medium": step, "expert": step} from a training run's evaluations (rows of eval.jsonl).

    Expert: the best evaluation. Medium: before it, the evaluation nearest ``medium_fraction`` of
    the expert's return measured from the first evaluation's (so a third of the way from an
    untrained policy's return to the expert's, not a third of a return that may be negative).
    """
    if not evaluations:
        raise DatasetError("the behavior run has no evaluations; it needs eval_interval <= max_steps")
    best = max(evaluations, key=lambda row: row["return_mean"])
    low = evaluations[0]["return_mean"]
    target = low + medium_fraction * (best["return_mean"] - low)
    earlier = [row for row in evaluations if row["step"] <= best["step"]]
    medium = min(earlier, key=lambda row: abs(row["return_mean"] - target))
    return {"medium": int(medium["step"]), "expert": int(best["step"])}


def restore_run(workdir: str, step: int, env_id: Optional[str] = None):
    """(config, env id, member-stacked TD3 state, replay buffer) of an online run's checkpoint at
    ``step``; ``env_id`` is read from summary.json unless given (a run stopped early has none)."""
    import jax
    import jax.numpy as jnp
    import ml_collections

    from xql_jax import agents, online
    from xql_jax.checkpoints import Checkpointer
    from xql_jax.data import replay
    from xql_jax.runs import make_members, stacked_states

    with open(os.path.join(workdir, "config.json")) as f:
        config = ml_collections.ConfigDict(json.load(f))
    if env_id is None:
        summary = os.path.join(workdir, "summary.json")
        if not os.path.isfile(summary):
            raise DatasetError(f"{workdir} has no summary.json (stopped early?): pass the robot (--robot)")
        with open(summary) as f:
            env_id = json.load(f)["env_name"]
    agent_config = online.agent_config_from(config)
    module = agents.get(config.learner).module
    probe = online.make_online_env(env_id)
    obs_dim, action_dim = probe.observation_space.shape[0], probe.action_space.shape[0]
    probe.close()
    members = make_members([0], None, module.SWEEPABLE)
    template = (
        stacked_states(module, members, obs_dim, action_dim, agent_config),
        jax.vmap(lambda _: replay.create(config.replay_capacity, obs_dim, action_dim))(jnp.arange(1)),
    )
    checkpointer = Checkpointer(workdir, max_to_keep=10_000)
    if not os.path.isdir(os.path.join(checkpointer.directory, str(step))):
        raise DatasetError(
            f"{workdir} has no checkpoint at step {step}; the behavior run must keep a checkpoint at "
            "every evaluation (checkpoint_interval = eval_interval, checkpoints_to_keep large enough)"
        )
    (state, buffer), _ = checkpointer.restore(step, template)
    checkpointer.close()
    return config, env_id, state, buffer
