"""Make D4RL-style locomotion datasets (halfcheetah, hopper, walker2d) in gymnasium's -v5 environments.

From the shipped behavior policies (no training):
python experiments/make_dataset.py --dataset=halfcheetah-medium        # -> halfcheetah-medium-made
python experiments/make_dataset.py --dataset=hopper-medium-expert      # medium + expert, 2M rows

Train the behavior policies (TD3, this project's online loop), then export the medium and expert
actors and the medium-replay dataset (the run's replay buffer up to the medium policy):
python experiments/make_dataset.py --train_behavior=hopper --behavior_steps=300000
python experiments/make_dataset.py --dataset=hopper-medium-replay --behavior_run=runs/behavior/hopper

Then: python experiments/train_offline.py --env_name=hopper-medium-replay-made --config=configs/locomotion.py
"""

import json
import os
import time

from absl import app, flags
from common import exit_on_errors, parse_flags

from xql_jax import made_datasets
from xql_jax.data import made, sources, write_d4rl_hdf5
from xql_jax.data.dataset import data_file

FLAGS = flags.FLAGS
BEHAVIOR_START_STEPS = 5_000
BEHAVIOR_INIT_GAIN = 2.0**0.5
flags.DEFINE_string("dataset", None, "<robot>-<kind> to make, e.g. halfcheetah-medium, hopper-medium-replay.")
flags.DEFINE_string("train_behavior", None, "Robot whose behavior policies to train with TD3, then export.")
flags.DEFINE_string("export_behavior", None, "Export the policies of a finished --train_behavior workdir.")
flags.DEFINE_string("behavior_run", None, "Workdir of the behavior run (medium-replay needs its buffer).")
flags.DEFINE_string("robot", None, "Robot of the behavior run when it has no summary.json.")
flags.DEFINE_string("workdir", None, "Workdir of --train_behavior (default runs/behavior/<robot>).")
flags.DEFINE_integer("behavior_steps", 300_000, "Environment steps of --train_behavior.")
flags.DEFINE_integer("behavior_eval_interval", 10_000, "Steps between evaluations (and kept checkpoints).")
flags.DEFINE_integer("num_transitions", 1_000_000, "Rows of a random/medium/expert dataset (D4RL: 1M).")
flags.DEFINE_float("noise", 0.1, "Std of the Gaussian action noise of the behavior policy while collecting.")
flags.DEFINE_integer("reference_episodes", 20, "Episodes measuring the random and expert reference returns.")
flags.DEFINE_integer("num_envs", 8, "Environments stepped in lockstep while collecting.")
flags.DEFINE_integer("seed", 0, "Seed of the rollouts (and of --train_behavior).")
flags.DEFINE_string("data_dir", None, "Where made datasets go (default $XQL_DATA_DIR or ~/.cache/xql_jax).")
flags.DEFINE_string("policy_dir", None, "Behavior policies to read/write (default: the shipped ones).")
flags.DEFINE_bool("overwrite", False, "Make the dataset again even if its file exists.")
flags.DEFINE_bool("progress", True, "Show progress bars.")


def _robot_of(env_id: str) -> str:
    robots = {v: k for k, v in made.ROBOTS.items()}
    if env_id not in robots:
        raise ValueError(f"the behavior run is on {env_id!r}, not one of {sorted(robots)}")
    return robots[env_id]


def _env_id():
    if FLAGS.robot is None:
        return None
    if FLAGS.robot not in made.ROBOTS:
        raise ValueError(f"unknown --robot {FLAGS.robot!r}; choose one of {sorted(made.ROBOTS)}")
    return made.ROBOTS[FLAGS.robot]


def _mean_return(env_id: str, actor, episodes: int, seed: int):
    from xql_jax.envs import make_online_env
    from xql_jax.evaluation import evaluate

    envs = [[make_online_env(env_id) for _ in range(min(episodes, 10))]]
    if actor is None:
        import numpy as np

        rng = np.random.default_rng(seed)
        act = lambda obs: rng.uniform(-1.0, 1.0, obs.shape[:2] + envs[0][0].action_space.shape)  # noqa: E731
    else:
        act = lambda obs: actor(obs[0])[None]  # noqa: E731
    returns = evaluate(act, envs, episodes, seed)[0]
    for env in envs[0]:
        env.close()
    return float(returns.mean()), float(returns.std())


def train_behavior(robot: str) -> str:
    from xql_jax.configs import online as online_configs
    from xql_jax.online import train_online

    if robot not in made.ROBOTS:
        raise ValueError(f"unknown robot {robot!r}; choose one of {sorted(made.ROBOTS)}")
    config = online_configs.for_task(online_configs.get_config("td3"), made.ROBOTS[robot])
    # The recipe that made the shipped policies, kept so that datasets made again match the README:
    # 5k warm-up steps and orthogonal init sqrt 2 (configs/online.py now follows the official X-TD3
    # settings, 25k and gain 1, for the paper's DM Control comparison).
    config.start_steps = BEHAVIOR_START_STEPS
    config.agent.init_gain = BEHAVIOR_INIT_GAIN
    config.max_steps = FLAGS.behavior_steps
    config.replay_capacity = FLAGS.behavior_steps  # medium-replay is the buffer's first rows
    config.eval_interval = config.checkpoint_interval = FLAGS.behavior_eval_interval
    # Every evaluation keeps its checkpoint: each is a candidate for the medium policy.
    config.checkpoints_to_keep = FLAGS.behavior_steps // FLAGS.behavior_eval_interval + 1
    config.eval_episodes = config.eval_envs = 5
    workdir = FLAGS.workdir or os.path.join("runs", "behavior", robot)
    train_online(config, workdir, made.ROBOTS[robot], seed=FLAGS.seed, progress=FLAGS.progress)
    return workdir


def export_behavior(workdir: str) -> None:
    """Pick the medium and expert checkpoints, save their actors, measure the reference returns,
    and write the medium-replay dataset from the run's replay buffer."""
    import jax

    evaluations = made_datasets.read_evaluations(workdir)
    steps = made_datasets.choose_levels(evaluations)
    levels = {}
    for level, step in steps.items():
        config, env_id, state, buffer = made_datasets.restore_run(workdir, step, _env_id())
        robot = _robot_of(env_id)
        params = jax.tree_util.tree_map(lambda x: x[0], jax.device_get(state.actor.params))
        made_datasets.save_policy(made_datasets.policy_path(robot, level, FLAGS.policy_dir), params)
        hidden_dims = list(config.agent.hidden_dims)
        actor = made_datasets.deterministic_actor(params, hidden_dims, buffer.data["actions"].shape[-1])
        mean, std = _mean_return(env_id, actor, FLAGS.reference_episodes, seed=10_000)
        levels[level] = {"step": step, "return_mean": mean, "return_std": std}
        print(f"{robot} {level}: step {step}, return {mean:.1f} +- {std:.1f}")
        if level == "medium":
            medium_buffer = buffer
    random_mean, random_std = _mean_return(env_id, None, FLAGS.reference_episodes, seed=10_000)
    info = {
        "robot": robot,
        "env_id": env_id,
        "algo": "td3",
        "hidden_dims": hidden_dims,
        "action_dim": int(buffer.data["actions"].shape[-1]),
        "behavior_run": workdir,
        "training_steps": int(evaluations[-1]["step"]),
        "medium_fraction": made_datasets.MEDIUM_FRACTION,
        "levels": levels,
        "random": {"return_mean": random_mean, "return_std": random_std},
        "references": {"ref_min_score": random_mean, "ref_max_score": levels["expert"]["return_mean"]},
    }
    path = made_datasets.info_path(robot, FLAGS.policy_dir)
    with open(path, "w") as f:
        json.dump(info, f, indent=2)
    print(
        f"wrote {path}: random {random_mean:.1f}, medium {levels['medium']['return_mean']:.1f}, "
        f"expert {levels['expert']['return_mean']:.1f}"
    )
    _write_replay(medium_buffer, steps["medium"], info, time.time())


def write_medium_replay(workdir: str, info) -> str:
    """The run's replay buffer up to its medium checkpoint (warm-up rows included, as in D4RL)."""
    started = time.time()
    step = made_datasets.choose_levels(made_datasets.read_evaluations(workdir))["medium"]
    _, env_id, _, buffer = made_datasets.restore_run(workdir, step, _env_id())
    if env_id != info["env_id"]:
        raise ValueError(f"{workdir} trained on {env_id}, the behavior policies are for {info['env_id']}")
    if info["levels"]["medium"]["step"] != step:
        print(f"note: the medium policy in use is not this run's (step {step}); references still apply")
    return _write_replay(buffer, step, info, started)


def _write_replay(buffer, step: int, info, started: float) -> str:
    import jax

    size = int(jax.device_get(buffer.size)[0])
    rows = jax.tree_util.tree_map(lambda x: x[0], jax.device_get(buffer.data))  # the one member
    raw = made.replay_rows_to_raw(rows, size)
    return _write(info["robot"], "medium-replay", raw, info, {"behavior_step": step}, started)


def _write(robot: str, kind: str, raw, info, extra, started=None) -> str:
    name = f"{robot}-{kind}-made"
    path = data_file(name, FLAGS.data_dir)
    returns = made.episode_returns_of(raw)
    metadata = {
        "name": name,
        "env_id": info["env_id"],
        "behavior": "td3",
        "noise": FLAGS.noise,
        "seed": FLAGS.seed,
        "episodes": len(returns),
        **extra,
    }
    write_d4rl_hdf5(path, raw, info["references"], metadata)
    elapsed = f" in {time.time() - started:.0f} s" if started else ""
    print(
        f"wrote {path}: {len(raw['rewards'])} transitions, {len(returns)} episodes, episode return "
        f"mean {returns.mean():.1f} (min {returns.min():.1f}, max {returns.max():.1f}){elapsed}"
    )
    # Read back through the registry, as a training run will find it.
    source = sources.resolve(name, data_dir=FLAGS.data_dir)
    print(f"train on it with --env_name={source.name} ({len(source.load())} transitions, {source.domain})")
    return path


def make_dataset(spec: str) -> None:
    robot, _, kind = spec.partition("-")
    made.parse_name(f"{spec}-made")  # names the valid robots and kinds on a typo
    info = made_datasets.load_info(robot, FLAGS.policy_dir)
    path = data_file(f"{spec}-made", FLAGS.data_dir)
    if os.path.isfile(path) and not FLAGS.overwrite:
        print(f"{path} exists; --overwrite makes it again")
        return
    started = time.time()
    if kind == "medium-replay":
        if not FLAGS.behavior_run:
            raise ValueError(
                "medium-replay is the replay buffer of the behavior policy's training run: pass "
                f"--behavior_run=<workdir of --train_behavior={robot}>"
            )
        write_medium_replay(FLAGS.behavior_run, info)
        return
    if kind == "medium-expert":
        parts = []
        for level in ("medium", "expert"):
            make_dataset(f"{robot}-{level}")
            parts.append(_read(data_file(f"{robot}-{level}-made", FLAGS.data_dir)))
        _write(robot, kind, made.concatenate(*parts), info, {}, started)
        return
    actor = None
    if kind != "random":
        params = made_datasets.load_policy(made_datasets.policy_path(robot, kind, FLAGS.policy_dir))
        actor = made_datasets.deterministic_actor(params, info["hidden_dims"], info["action_dim"])
    raw, _ = made_datasets.collect(
        info["env_id"],
        actor,
        FLAGS.num_transitions,
        seed=FLAGS.seed,
        noise_std=0.0 if actor is None else FLAGS.noise,
        num_envs=FLAGS.num_envs,
        progress=FLAGS.progress,
    )
    step = info["levels"][kind]["step"] if kind in info["levels"] else 0
    _write(robot, kind, raw, info, {"behavior_step": step}, started)


def _read(path: str):
    import h5py

    with h5py.File(path, "r") as f:
        return {key: f[key][()] for key in f.keys()}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    chosen = [n for n in ("dataset", "train_behavior", "export_behavior") if FLAGS[n].value]
    if len(chosen) != 1:
        raise app.UsageError("pass exactly one of --dataset, --train_behavior, --export_behavior")
    with exit_on_errors(resume_hint="run the same command again (nothing half-written is kept)"):
        if FLAGS.train_behavior:
            export_behavior(train_behavior(FLAGS.train_behavior))
        elif FLAGS.export_behavior:
            export_behavior(FLAGS.export_behavior)
        else:
            make_dataset(FLAGS.dataset)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
