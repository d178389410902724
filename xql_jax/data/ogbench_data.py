"""OGBench single-task datasets: their names, files, loading (through the ``ogbench`` package's own
reader and single-task relabelling) and the making of the manipulation datasets with its oracles.

A single-task name is OGBench's: ``<dataset>-singletask[-task<N>]-v0`` (e.g.
``cube-single-play-singletask-task2-v0``; without ``-task<N>`` OGBench's default task). Its data is
the goal-conditioned dataset ``<dataset>-v0`` (``cube-single-play-v0``) in OGBench's layout,
``<dataset>-v0.npz`` and ``<dataset>-v0-val.npz``, read from ``$OGBENCH_DATASET_DIR``, else
``~/.ogbench/data`` (where ``ogbench`` itself downloads), or a folder or file given explicitly.
Rewards and masks are OGBench's ``relabel_dataset`` of that task; the evaluation environment is
OGBench's single-task environment, scored by its success rate.

The manipulation datasets (cube, scene, puzzle; ``play``) are made here as OGBench's
``data_gen_scripts/generate_manipspace.py`` made them (its ``commands.sh`` recipes): the plan oracles
of the ``ogbench`` package, action noise 0.1 smoothed by 0.5, episodes of 1001 steps, and a tenth as
many validation episodes after the training ones. Unlike that script, the runs here are seeded.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from xql_jax.data.dataset import Dataset, DatasetError, partial_path, remove_stale_partials

DEFAULT_DIR = "~/.ogbench/data"  # ogbench.utils.DEFAULT_DATASET_DIR
NOISE = 0.1  # generate_manipspace.py's --noise (the plan oracles' action noise)
NOISE_SMOOTHING = 0.5  # its --noise_smoothing
EPISODE_STEPS = 1001  # commands.sh: --max_episode_steps=1001 for every manipulation dataset
# commands.sh: the play datasets' --num_episodes (validation: a tenth as many more).
MANIPULATION_EPISODES = {
    "cube-single-play-v0": 1000,
    "cube-double-play-v0": 1000,
    "cube-triple-play-v0": 3000,
    "cube-quadruple-play-v0": 5000,
    "scene-play-v0": 1000,
    "puzzle-3x3-play-v0": 1000,
    "puzzle-4x4-play-v0": 1000,
    "puzzle-4x5-play-v0": 3000,
    "puzzle-4x6-play-v0": 5000,
}
# OGBench defines five evaluation tasks per environment (task1 .. task5).
_SINGLETASK = re.compile(r"^(?P<dataset>[a-z0-9-]+?)-singletask(?:-task(?P<task>[0-9]+))?-v0$")
_TASKS = ("1", "2", "3", "4", "5")
_DATASET_KINDS = ("play", "noisy", "navigate", "stitch", "explore")
_RECIPE_SUFFIX = ".recipe.json"


def parse_name(name: str) -> Optional[Tuple[str, str]]:
    """(OGBench dataset, single-task environment id) of a single-task name, e.g.
    ("cube-single-play-v0", "cube-single-singletask-task2-v0"); None for names of other kinds.

    The split is ``ogbench.make_env_and_datasets``': the word before ``singletask`` is the dataset
    kind, dropped from the environment id; ``singletask`` and ``task<N>`` are dropped from the dataset's.
    """
    match = _SINGLETASK.match(name)
    if match is None:
        return None
    stem, task = match["dataset"], match["task"]
    if task is not None and task not in _TASKS:
        raise DatasetError(
            f"{name!r}: OGBench environments have tasks task1 .. task5 (or none, for the default task)"
        )
    env_stem, _, kind = stem.rpartition("-")
    if kind not in _DATASET_KINDS or not env_stem:
        raise DatasetError(
            f"{name!r} is not an OGBench single-task name: the word before 'singletask' must be a dataset "
            f"kind {list(_DATASET_KINDS)} (e.g. cube-single-play-singletask-task2-v0)"
        )
    env_id = f"{env_stem}-singletask" + (f"-task{task}" if task else "") + "-v0"
    return f"{stem}-v0", env_id


def dataset_dir(data_dir: Optional[str] = None) -> str:
    """Where OGBench files are looked for: ``data_dir``, else $OGBENCH_DATASET_DIR, else ~/.ogbench/data."""
    return os.path.expanduser(data_dir or os.environ.get("OGBENCH_DATASET_DIR", DEFAULT_DIR))


def train_file(dataset: str, data_dir: Optional[str] = None) -> str:
    """The training file of an OGBench dataset (``<dataset>.npz``); its validation file is beside it."""
    return os.path.join(dataset_dir(data_dir), f"{dataset}.npz")


def val_file(train_path: str) -> str:
    """The validation file beside a training file, as ``ogbench.make_env_and_datasets`` finds it."""
    return train_path.replace(".npz", "-val.npz")


def make_command(dataset: str, data_dir: Optional[str] = None) -> str:
    """The command that makes ``dataset`` here (or where to get it when it cannot be made here)."""
    if dataset in MANIPULATION_EPISODES:
        folder = f" --data_dir={data_dir}" if data_dir else ""
        return f"python experiments/make_ogbench.py --dataset={dataset}{folder}"
    return f"ogbench.download_datasets(['{dataset}']) on a machine with internet"


def locate(name: str, data_dir: Optional[str] = None, path: Optional[str] = None) -> str:
    """The training file of a single-task name (``path`` if given); both files must exist."""
    dataset, _ = parse_name(name)
    folder = None if path else data_dir  # where the make command should write
    path = os.path.expanduser(path) if path else train_file(dataset, data_dir)
    if not path.endswith(".npz"):
        raise DatasetError(f"{path}: an OGBench dataset file ends in .npz (its validation file in -val.npz)")
    for needed in (path, val_file(path)):
        if not os.path.isfile(needed):
            raise DatasetError(
                f"OGBench file not found: {needed} (dataset {dataset} of {name}). Make it with: "
                f"{make_command(dataset, folder)} (or pass --data_dir / --dataset_path)"
            )
    return path


def _ogbench():
    # Nothing here renders; without a display the package's dm_control import (GLFW) warns.
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        import ogbench
    except ImportError:
        raise DatasetError("OGBench names need the ogbench package: pip install ogbench==1.2.2") from None
    return ogbench


def make_env(name: str):
    """OGBench's single-task evaluation environment of ``name`` (its time limit; success in ``info``)."""
    import gymnasium as gym

    _ogbench()  # registers the environments
    env_id = parse_name(name)[1]
    try:
        return gym.make(env_id)
    except gym.error.Error as e:
        raise DatasetError(f"{name}: OGBench has no environment {env_id} ({e})") from None


def _to_dataset(data: Dict[str, np.ndarray]) -> Dataset:
    """The project's transitions from an OGBench (regular, relabelled) dataset: rewards and masks are
    OGBench's; ``dones`` its ``terminals`` (the last transition of each trajectory); ``next_actions``
    the action of the next row within a trajectory (the row's own at a trajectory's end)."""
    dones = data["terminals"].astype(np.float32)
    actions = data["actions"].astype(np.float32)
    next_actions = np.concatenate([actions[1:], actions[-1:]])
    next_actions[dones == 1] = actions[dones == 1]
    return Dataset(
        observations=data["observations"].astype(np.float32),
        actions=actions,
        rewards=data["rewards"].astype(np.float32),
        masks=data["masks"].astype(np.float32),
        next_observations=data["next_observations"].astype(np.float32),
        dones=dones,
        next_actions=next_actions,
    )


def load_ogbench(name: str, path: str) -> Tuple[Dict[str, np.ndarray], Dict[str, np.ndarray]]:
    """OGBench's own (train, validation) datasets of a single-task name from ``path``: read and
    relabelled by ``ogbench.make_env_and_datasets``. A file it cannot read gets one line."""
    ogbench = _ogbench()
    try:
        env, train, val = ogbench.make_env_and_datasets(name, dataset_path=path)
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, ValueError, IndexError) as e:
        reason = f"{type(e).__name__}: {e}".splitlines()[0][:200]
        raise DatasetError(
            f"{path} (or its -val.npz) is not a readable OGBench dataset ({reason}); it is truncated or "
            f"not OGBench's layout: remove it and make it again with {make_command(parse_name(name)[0])}"
        ) from None
    env.close()
    for split, data in (("training", train), ("validation", val)):
        if len(data["observations"]) < 2:
            raise DatasetError(f"{path}: its {split} split has {len(data['observations'])} transition(s)")
    return train, val


def load(name: str, path: str) -> Dataset:
    """The training transitions of a single-task name (the validation split is never trained on)."""
    return _to_dataset(load_ogbench(name, path)[0])


def load_validation(name: str, path: str) -> Dataset:
    """The validation transitions (``<dataset>-val.npz``), for held-out losses."""
    return _to_dataset(load_ogbench(name, path)[1])


def read_recipe(path: str) -> Optional[Dict]:
    """The recipe recorded beside a dataset made here (None for OGBench's downloaded files)."""
    recipe = path[: -len(".npz")] + _RECIPE_SUFFIX
    if not os.path.isfile(recipe):
        return None
    with open(recipe) as f:
        return json.load(f)


# -- making the manipulation datasets -------------------------------------------------------------


def _oracles(env, env_id: str) -> Dict:
    """The plan oracles of generate_manipspace.py's 'play' datasets, by target task."""
    from ogbench.manipspace.oracles.plan.button_plan import ButtonPlanOracle
    from ogbench.manipspace.oracles.plan.cube_plan import CubePlanOracle
    from ogbench.manipspace.oracles.plan.drawer_plan import DrawerPlanOracle
    from ogbench.manipspace.oracles.plan.window_plan import WindowPlanOracle

    noise = dict(noise=NOISE, noise_smoothing=NOISE_SMOOTHING)
    if env_id.startswith("cube"):
        return {"cube": CubePlanOracle(env=env, **noise)}
    if env_id.startswith("scene"):
        return {
            "cube": CubePlanOracle(env=env, **noise),
            "button": ButtonPlanOracle(env=env, **noise),
            "drawer": DrawerPlanOracle(env=env, **noise),
            "window": WindowPlanOracle(env=env, **noise),
        }
    return {"button": ButtonPlanOracle(env=env, gripper_always_closed=True, **noise)}


def _stack_probability(env_id: str) -> float:
    """generate_manipspace.py's per-episode probability of a stacking target (drawn from np.random)."""
    ranges = {"single": None, "double": (0.0, 0.25), "triple": (0.05, 0.35), "quadruple": (0.1, 0.5)}
    for word, bounds in ranges.items():
        if f"-{word}-" in env_id:
            return 0.0 if bounds is None else float(np.random.uniform(*bounds))
    return 0.5


def _healthy_scene(qpos: np.ndarray) -> bool:
    """generate_manipspace.py's check of a scene episode: the cube stays visible (not too far right,
    and not too far left unless in the drawer)."""
    cube = qpos[:, 14:17]
    if (cube[:, 1] >= 0.29).any():
        return False
    return not ((cube[:, 1] <= -0.3) & ((cube[:, 2] < 0.06) | (cube[:, 2] > 0.08))).any()


def _episode(env, oracles: Dict, env_id: str, has_buttons: bool) -> Dict[str, list]:
    """One episode (to the environment's time limit): a new target whenever the oracle finishes one."""
    p_stack = _stack_probability(env_id)
    ob, info = env.reset()
    agent = oracles[info["privileged/target_task"]]
    agent.reset(ob, info)
    rows = {k: [] for k in ("observations", "actions", "terminals", "qpos", "qvel")}
    if has_buttons:
        rows["button_states"] = []
    done = False
    while not done:
        action = np.clip(np.array(agent.select_action(ob, info)), -1, 1)
        next_ob, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        if agent.done:
            agent_ob, agent_info = env.unwrapped.set_new_target(p_stack=p_stack)
            agent = oracles[agent_info["privileged/target_task"]]
            agent.reset(agent_ob, agent_info)
        rows["observations"].append(ob)
        rows["actions"].append(action)
        rows["terminals"].append(done)
        rows["qpos"].append(info["prev_qpos"])
        rows["qvel"].append(info["prev_qvel"])
        if has_buttons:
            rows["button_states"].append(info["prev_button_states"])
        ob = next_ob
    return rows


def _arrays(episodes) -> Dict[str, np.ndarray]:
    """generate_manipspace.py's dtypes: terminals bool, button states int64, the rest float32."""
    dtypes = {"terminals": bool, "button_states": np.int64}
    return {
        k: np.array([row for ep in episodes for row in ep[k]], dtype=dtypes.get(k, np.float32))
        for k in episodes[0]
    }


def _write_npz(partial: str, arrays: Dict[str, np.ndarray]) -> None:
    """``np.savez_compressed`` under the temporary name ``partial`` (renamed by the caller)."""
    with open(partial, "wb") as f:
        np.savez_compressed(f, **arrays)


def make_manipulation_dataset(
    dataset: str,
    path: str,
    num_episodes: Optional[int] = None,
    seed: int = 0,
    progress: bool = True,
    episode_steps: int = EPISODE_STEPS,
    log: Callable[[str], None] = print,
) -> Dict:
    """Make ``dataset`` (e.g. "cube-single-play-v0") at ``path`` (``<dataset>.npz``) and its validation
    file beside it, as OGBench's generator did; returns the recipe, also written beside them.

    ``num_episodes`` defaults to the recipe's (``MANIPULATION_EPISODES``); the validation split has a
    tenth as many (at least one). ``episode_steps`` other than the recipe's 1001 is for tests. Both
    files are written under temporary names and renamed, the recipe last.
    """
    import gymnasium as gym
    from tqdm import tqdm

    if dataset not in MANIPULATION_EPISODES:
        raise DatasetError(
            f"cannot make {dataset!r} here; the manipulation datasets are {list(MANIPULATION_EPISODES)}"
        )
    if not path.endswith(".npz"):
        raise DatasetError(f"{path}: an OGBench dataset file must end in .npz")
    num_episodes = MANIPULATION_EPISODES[dataset] if num_episodes is None else int(num_episodes)
    if num_episodes < 1:
        raise DatasetError(f"num_episodes must be at least 1, got {num_episodes}")
    num_val = max(1, num_episodes // 10)
    _ogbench()
    env_id = dataset.replace("-play-", "-")  # cube-single-play-v0 -> cube-single-v0
    env = gym.make(env_id, terminate_at_goal=False, mode="data_collection", max_episode_steps=episode_steps)
    oracles = _oracles(env, env_id)
    has_buttons = hasattr(env.unwrapped, "_cur_button_states")
    np.random.seed(seed)  # the oracles' and the stacking probability's randomness (np.random)
    env.reset(seed=seed)  # the environment's own (np_random), continued by every later reset
    episodes, retries = [], 0
    bar = tqdm(total=num_episodes + num_val, desc=dataset, disable=not progress, unit="episode")
    while len(episodes) < num_episodes + num_val:
        rows = _episode(env, oracles, env_id, has_buttons)
        if env_id.startswith("scene") and not _healthy_scene(np.asarray(rows["qpos"])):
            retries += 1  # as the generator does: drop the episode and collect another
            continue
        episodes.append(rows)
        bar.update(1)
    bar.close()
    env.close()

    recipe = {
        "dataset": dataset,
        "made_with": "xql_jax.data.ogbench_data (the recipe of OGBench's generate_manipspace.py)",
        "ogbench_version": _version(),
        "env_id": env_id,
        "dataset_type": "play",
        "oracle": "plan",
        "noise": NOISE,
        "noise_smoothing": NOISE_SMOOTHING,
        "max_episode_steps": episode_steps,
        "num_episodes": num_episodes,
        "num_val_episodes": num_val,
        "recipe_num_episodes": MANIPULATION_EPISODES[dataset],
        "seed": seed,
        "unhealthy_episodes_retried": retries,
    }
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    recipe_path = path[: -len(".npz")] + _RECIPE_SUFFIX
    for final in (path, val_file(path), recipe_path):
        remove_stale_partials(final)  # a killed earlier attempt's temporaries
    partials = []
    try:
        for final, part in ((path, episodes[:num_episodes]), (val_file(path), episodes[num_episodes:])):
            # Registered before it is written: a write that fails (a full disk) leaves nothing behind.
            partials.append((partial_path(final), final))
            _write_npz(partials[-1][0], _arrays(part))
        partials.append((partial_path(recipe_path), recipe_path))
        with open(partials[-1][0], "w") as f:
            json.dump(recipe, f, indent=2)
        for partial, final in partials:  # the recipe last: its presence marks a finished dataset
            os.replace(partial, final)
    finally:
        for partial, _ in partials:
            if os.path.exists(partial):
                os.remove(partial)
    log(f"{dataset}: {num_episodes} + {num_val} episodes -> {path}")
    return recipe


def _version() -> str:
    from importlib.metadata import version

    return version("ogbench")
