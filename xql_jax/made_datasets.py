"""The recipe of the D4RL-style datasets made here: behavior policies trained by the online loop,
their export (medium and expert actors, reference returns), and rollouts in D4RL's HDF5 layout.

D4RL made its gym locomotion datasets from SAC policies: ``random`` (a random policy), ``medium``
(a policy stopped at about a third of the expert's return; its files score ~40% of the expert),
``expert`` (the trained policy), ``medium-replay`` (the replay buffer of that training run up to
the medium policy) and ``medium-expert`` (medium and expert concatenated). The same recipe here,
in gymnasium's ``-v5`` environments (same observations and actions as D4RL's ``-v2``), with TD3
behavior policies trained by this project's online loop. ``run`` is the whole recipe
(``experiments/make_dataset.py`` only reads its flags into a ``Recipe`` and a ``BehaviorRun``).
Names, files and array conversions are ``xql_jax.data.made``; this module drives the loops and
networks, so it sits above them.

The medium and expert actors ship in ``xql_jax/data/behavior_policies`` (about 0.3 MB each), so
random, medium, expert and medium-expert can be made without training; medium-replay is the
training run's replay buffer and needs that run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from xql_jax import workdir as files
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
    """The complete rows of a run's eval.jsonl (a row cut off by a kill is skipped, as the report
    skips it)."""
    return files.read_rows(os.path.join(workdir, files.EVAL_JSONL))


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

    with open(os.path.join(workdir, files.CONFIG)) as f:
        config = ml_collections.ConfigDict(json.load(f))
    if env_id is None:
        summary = os.path.join(workdir, files.SUMMARY)
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


# ---------------------------------------------------------------------------------------------
# The recipe, end to end (what experiments/make_dataset.py runs)

# The recipe that made the shipped policies, kept so that datasets made again match the README:
# 5k warm-up steps and orthogonal init sqrt 2 (configs/online.py follows the official X-TD3
# settings, 25k and gain 1, for the paper's DM Control comparison).
BEHAVIOR_START_STEPS = 5_000
BEHAVIOR_INIT_GAIN = 2.0**0.5


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Where made datasets and behavior policies go, and how rollouts are made."""

    data_dir: Optional[str] = None  # default $XQL_DATA_DIR or ~/.cache/xql_jax/datasets
    policy_dir: Optional[str] = None  # default: the shipped behavior policies
    num_transitions: int = 1_000_000  # rows of a random / medium / expert dataset (D4RL: 1M)
    noise: float = 0.1  # std of the Gaussian action noise of a behavior policy while collecting
    reference_episodes: int = 20  # episodes measuring the random and expert reference returns
    num_envs: int = 8  # environments stepped in lockstep while collecting
    seed: int = 0  # of the rollouts and of a behavior run
    overwrite: bool = False  # make a dataset again even if its file exists
    progress: bool = True
    log: Callable[[str], None] = print


@dataclasses.dataclass(frozen=True)
class BehaviorRun:
    """The TD3 run behind a robot's behavior policies: one to train, or one that exists (for
    ``export_behavior`` and ``medium-replay``, which is that run's replay buffer)."""

    workdir: Optional[str] = None  # default for a new run: runs/behavior/<robot>
    steps: int = 300_000  # environment steps of a new run
    start_steps: int = BEHAVIOR_START_STEPS  # of them, uniform random warm-up actions
    eval_interval: int = 10_000  # between evaluations, each keeping its checkpoint
    robot: Optional[str] = None  # the robot of an existing run without summary.json


def run(
    recipe: Recipe,
    behavior: BehaviorRun = BehaviorRun(),
    *,
    dataset: Optional[str] = None,
    train_behavior: Optional[str] = None,
    export_behavior: bool = False,
) -> None:
    """Exactly one of: make ``dataset`` (``<robot>-<kind>``), train the behavior policies of the
    robot ``train_behavior`` and export them, or export those of ``behavior.workdir``."""
    if sum((dataset is not None, train_behavior is not None, export_behavior)) != 1:
        raise ValueError("pass exactly one of --dataset, --train_behavior, --export_behavior")
    if train_behavior is not None:
        workdir = train_behavior_run(train_behavior, recipe, behavior)
        export(dataclasses.replace(behavior, workdir=workdir), recipe)
    elif export_behavior:
        export(behavior, recipe)
    else:
        make(dataset, recipe, behavior)


def train_behavior_run(robot: str, recipe: Recipe, behavior: BehaviorRun) -> str:
    """Train TD3 on the robot with this project's online loop, keeping a checkpoint at every
    evaluation (each a candidate for the medium policy); returns the workdir."""
    from xql_jax.configs import online as online_configs
    from xql_jax.data import made
    from xql_jax.online import train_online
    from xql_jax.runs import RunSpec, Watch

    if robot not in made.ROBOTS:
        raise ValueError(f"unknown robot {robot!r}; choose one of {sorted(made.ROBOTS)}")
    config = online_configs.for_task(online_configs.get_config("td3"), made.ROBOTS[robot])
    config.start_steps = behavior.start_steps
    config.agent.init_gain = BEHAVIOR_INIT_GAIN
    config.max_steps = behavior.steps
    config.replay_capacity = behavior.steps  # medium-replay is the buffer's first rows
    config.eval_interval = config.checkpoint_interval = behavior.eval_interval
    config.checkpoints_to_keep = behavior.steps // behavior.eval_interval + 1
    config.eval_episodes = config.eval_envs = 5
    workdir = behavior.workdir or os.path.join("runs", "behavior", robot)
    train_online(
        config,
        RunSpec(made.ROBOTS[robot], seed=recipe.seed),
        Watch(workdir, progress=recipe.progress, log=recipe.log),
    )
    return workdir


def _robot_of(env_id: str) -> str:
    from xql_jax.data import made

    robots = {v: k for k, v in made.ROBOTS.items()}
    if env_id not in robots:
        raise ValueError(f"the behavior run is on {env_id!r}, not one of {sorted(robots)}")
    return robots[env_id]


def _env_id_of(robot: Optional[str]) -> Optional[str]:
    from xql_jax.data import made

    if robot is None:
        return None
    if robot not in made.ROBOTS:
        raise ValueError(f"unknown --robot {robot!r}; choose one of {sorted(made.ROBOTS)}")
    return made.ROBOTS[robot]


def mean_return(env_id: str, actor, episodes: int, seed: int) -> Tuple[float, float]:
    """Mean and std of ``episodes`` returns of ``actor`` (None: uniform random actions)."""
    from xql_jax.envs import make_online_env
    from xql_jax.evaluation import evaluate

    envs = [[make_online_env(env_id) for _ in range(min(episodes, 10))]]
    if actor is None:
        rng = np.random.default_rng(seed)
        act = lambda obs: rng.uniform(-1.0, 1.0, obs.shape[:2] + envs[0][0].action_space.shape)  # noqa: E731
    else:
        act = lambda obs: actor(obs[0])[None]  # noqa: E731
    returns = evaluate(act, envs, episodes, seed)[0]
    for env in envs[0]:
        env.close()
    return float(returns.mean()), float(returns.std())


def export(behavior: BehaviorRun, recipe: Recipe) -> Dict:
    """Pick the medium and expert checkpoints of ``behavior.workdir``, save their actors, measure
    the reference returns, and write the medium-replay dataset from the run's replay buffer."""
    import jax

    workdir = behavior.workdir
    evaluations = read_evaluations(workdir)
    steps = choose_levels(evaluations)
    levels = {}
    for level, step in steps.items():
        config, env_id, state, buffer = restore_run(workdir, step, _env_id_of(behavior.robot))
        robot = _robot_of(env_id)
        params = jax.tree_util.tree_map(lambda x: x[0], jax.device_get(state.actor.params))
        save_policy(policy_path(robot, level, recipe.policy_dir), params)
        hidden_dims = list(config.agent.hidden_dims)
        actor = deterministic_actor(params, hidden_dims, buffer.data["actions"].shape[-1])
        mean, std = mean_return(env_id, actor, recipe.reference_episodes, seed=10_000)
        levels[level] = {"step": step, "return_mean": mean, "return_std": std}
        recipe.log(f"{robot} {level}: step {step}, return {mean:.1f} +- {std:.1f}")
        if level == "medium":
            medium = (config, buffer)
    random_mean, random_std = mean_return(env_id, None, recipe.reference_episodes, seed=10_000)
    info = {
        "robot": robot,
        "env_id": env_id,
        "algo": "td3",
        "hidden_dims": hidden_dims,
        "action_dim": int(buffer.data["actions"].shape[-1]),
        "behavior_run": workdir,
        "training_steps": int(evaluations[-1]["step"]),
        "medium_fraction": MEDIUM_FRACTION,
        "levels": levels,
        "random": {"return_mean": random_mean, "return_std": random_std},
        "references": {"ref_min_score": random_mean, "ref_max_score": levels["expert"]["return_mean"]},
    }
    path = info_path(robot, recipe.policy_dir)
    with open(path, "w") as f:
        json.dump(info, f, indent=2)
    recipe.log(
        f"wrote {path}: random {random_mean:.1f}, medium {levels['medium']['return_mean']:.1f}, "
        f"expert {levels['expert']['return_mean']:.1f}"
    )
    _write_replay(*medium, steps["medium"], info, recipe, time.time())
    return info


def _write_medium_replay(behavior: BehaviorRun, info: Dict, recipe: Recipe) -> str:
    """The run's replay buffer up to its medium checkpoint (warm-up rows included, as in D4RL)."""
    started = time.time()
    step = choose_levels(read_evaluations(behavior.workdir))["medium"]
    config, env_id, _, buffer = restore_run(behavior.workdir, step, _env_id_of(behavior.robot))
    if env_id != info["env_id"]:
        raise ValueError(
            f"{behavior.workdir} trained on {env_id}, the behavior policies are for {info['env_id']}"
        )
    if info["levels"]["medium"]["step"] != step:
        recipe.log(f"note: the medium policy in use is not this run's (step {step}); references still apply")
    return _write_replay(config, buffer, step, info, recipe, started)


def _write_replay(config, buffer, step: int, info: Dict, recipe: Recipe, started: float) -> str:
    import jax

    from xql_jax.data import made

    size = int(jax.device_get(buffer.size)[0])
    rows = jax.tree_util.tree_map(lambda x: x[0], jax.device_get(buffer.data))  # the one member
    raw = made.replay_rows_to_raw(rows, size)
    # Its rows carry the training run's exploration noise, not the recipe's collection noise.
    extra = {"behavior_step": step, "exploration_noise": float(config.agent.exploration_noise)}
    return _write(info["robot"], "medium-replay", raw, info, extra, recipe, started)


def _write(robot: str, kind: str, raw, info: Dict, extra: Dict, recipe: Recipe, started=None) -> str:
    from xql_jax.data import made, sources, write_d4rl_hdf5
    from xql_jax.data.dataset import data_file

    name = f"{robot}-{kind}-made"
    path = data_file(name, recipe.data_dir)
    returns = made.episode_returns_of(raw)
    metadata = {
        "name": name,
        "env_id": info["env_id"],
        "behavior": "td3",
        "seed": recipe.seed,
        "episodes": len(returns),
        **extra,
    }
    write_d4rl_hdf5(path, raw, info["references"], metadata)
    elapsed = f" in {time.time() - started:.0f} s" if started else ""
    recipe.log(
        f"wrote {path}: {len(raw['rewards'])} transitions, {len(returns)} episodes, episode return "
        f"mean {returns.mean():.1f} (min {returns.min():.1f}, max {returns.max():.1f}){elapsed}"
    )
    # Read back through the registry, as a training run will find it.
    source = sources.resolve(name, data_dir=recipe.data_dir)
    recipe.log(
        f"train on it with --env_name={source.name} ({len(source.load())} transitions, {source.domain})"
    )
    return path


def make(spec: str, recipe: Recipe, behavior: BehaviorRun = BehaviorRun()) -> Optional[str]:
    """Make ``<robot>-<kind>-made`` from the behavior policies (``medium-replay`` from the behavior
    run's buffer); its path, or None when it exists and ``recipe.overwrite`` is off."""
    from xql_jax.data import made
    from xql_jax.data.dataset import data_file, references_path

    robot, _, kind = spec.partition("-")
    made.parse_name(f"{spec}-made")  # names the valid robots and kinds on a typo
    info = load_info(robot, recipe.policy_dir)
    path = data_file(f"{spec}-made", recipe.data_dir)
    if os.path.isfile(path) and not recipe.overwrite:
        recipe.log(f"{path} exists; --overwrite makes it again")
        return None
    started = time.time()
    if kind == "medium-replay":
        if not behavior.workdir:
            raise ValueError(
                "medium-replay is the replay buffer of the behavior policy's training run: pass "
                f"--behavior_run=<workdir of --train_behavior={robot}>"
            )
        return _write_medium_replay(behavior, info, recipe)
    if kind == "medium-expert":
        parts, noises = [], []
        for level in ("medium", "expert"):
            make(f"{robot}-{level}", recipe, behavior)
            part = data_file(f"{robot}-{level}-made", recipe.data_dir)
            parts.append(_read(part))
            # A half made earlier keeps the noise it was collected with, which may not be this recipe's.
            with open(references_path(part)) as f:
                noises.append(json.load(f).get("noise"))
        noise = noises[0] if noises[0] == noises[1] else noises
        return _write(robot, kind, made.concatenate(*parts), info, {"noise": noise}, recipe, started)
    actor = None
    if kind != "random":
        params = load_policy(policy_path(robot, kind, recipe.policy_dir))
        actor = deterministic_actor(params, info["hidden_dims"], info["action_dim"])
    raw, _ = collect(
        info["env_id"],
        actor,
        recipe.num_transitions,
        seed=recipe.seed,
        noise_std=0.0 if actor is None else recipe.noise,
        num_envs=recipe.num_envs,
        progress=recipe.progress,
    )
    step = info["levels"][kind]["step"] if kind in info["levels"] else 0
    # Uniform random actions carry no behavior noise: only a policy's rows record it.
    extra = {"behavior_step": step, **({} if actor is None else {"noise": recipe.noise})}
    return _write(robot, kind, raw, info, extra, recipe, started)


def _read(path: str) -> Dict[str, np.ndarray]:
    import h5py

    with h5py.File(path, "r") as f:
        return {key: f[key][()] for key in f.keys()}
