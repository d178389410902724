"""The embedded dataset: D4RL maze2d-style PointMaze data made here by a noisy waypoint controller.

As in D4RL's maze2d, the behaviour policy drives to randomly chosen cells (a new one each time it
arrives), while rewards are those of the fixed evaluation goal. The data therefore covers the
whole maze but rarely goes to the goal on purpose: the learner must stitch the way there.
The file is written in the D4RL HDF5 layout and cached; a JSON beside it stores the random-policy
and expert returns that define the normalized score.
"""

from __future__ import annotations

import collections
import json
import os
import time
from typing import Dict, Optional, Tuple

import numpy as np

from xql_jax.data.dataset import data_file, references_path, write_d4rl_hdf5
from xql_jax.envs import FixedGoalPointMaze

# The embedded datasets: name -> their evaluation environment (a FixedGoalPointMaze).
EMBEDDED_MAZES: Dict[str, Dict] = {
    "pointmaze-umaze-v0": dict(
        gym_id="PointMaze_UMaze-v3",
        goal_cell=(3, 1),  # the far end of the U, so most starts must go round the wall
        max_episode_steps=300,  # as D4RL maze2d-umaze
        reward_type="dense",
    ),
}

DEFAULT_NUM_STEPS = 500_000
# Raise when generate() changes (controller, noise, episode length, goal): cached files made by an
# older recipe are then made again.
RECIPE_VERSION = 1
DATA_EPISODE_STEPS = 1000  # length of a behaviour episode before a timeout and a reset (as D4RL)
ACTION_NOISE = 0.5  # std of the Gaussian noise on the controller's actions
ARRIVAL_RADIUS = 0.35  # distance to a waypoint at which the controller moves on
POSITION_GAIN = 10.0
VELOCITY_GAIN = 1.0
NUM_REFERENCE_EPISODES = 100


class WaypointController:
    """Breadth-first path over free maze cells, then PD control toward the next cell centre."""

    def __init__(self, maze):
        self.maze = maze
        grid = np.asarray([[1 if c == 1 else 0 for c in row] for row in maze.maze_map], dtype=np.int64)
        self.free_cells = [tuple(rc) for rc in np.argwhere(grid == 0)]
        self.grid = grid
        # next_cell[(from, to)] = neighbour of `from` on a shortest path to `to`.
        self.next_cell: Dict[Tuple, Tuple] = {}
        for target in self.free_cells:
            parent = {target: target}
            queue = collections.deque([target])
            while queue:
                cell = queue.popleft()
                for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                    nb = (cell[0] + dr, cell[1] + dc)
                    if nb not in parent and self.grid[nb] == 0:
                        parent[nb] = cell
                        queue.append(nb)
            for cell, toward in parent.items():
                self.next_cell[(cell, target)] = toward

    def cell_of(self, xy: np.ndarray) -> Tuple[int, int]:
        return tuple(int(v) for v in self.maze.cell_xy_to_rowcol(xy))

    def action(self, obs: np.ndarray, target_cell: Tuple[int, int], target_xy: np.ndarray) -> np.ndarray:
        xy, velocity = obs[:2], obs[2:4]
        cell = self.cell_of(xy)
        if cell == target_cell or (cell, target_cell) not in self.next_cell:
            waypoint = target_xy
        else:
            waypoint = self.maze.cell_rowcol_to_xy(np.asarray(self.next_cell[(cell, target_cell)]))
        return np.clip(POSITION_GAIN * (waypoint - xy) - VELOCITY_GAIN * velocity, -1.0, 1.0)


def generate(
    env_name: str = "pointmaze-umaze-v0",
    num_steps: int = DEFAULT_NUM_STEPS,
    seed: int = 0,
    num_reference_episodes: int = NUM_REFERENCE_EPISODES,
) -> Tuple[Dict[str, np.ndarray], Dict[str, float]]:
    """Roll out the behaviour policy; return the raw D4RL-layout arrays and the reference returns."""
    env = make_env(env_name)
    controller = WaypointController(env.maze)
    rng = np.random.default_rng(seed)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    data = {
        "observations": np.zeros((num_steps, obs_dim), np.float32),
        "actions": np.zeros((num_steps, act_dim), np.float32),
        "rewards": np.zeros(num_steps, np.float32),
        "terminals": np.zeros(num_steps, bool),
        "timeouts": np.zeros(num_steps, bool),
    }
    # The gymnasium TimeLimit would end a data episode at the evaluation horizon; step the
    # unwrapped maze instead and cut data episodes ourselves.
    inner = env.env.unwrapped
    obs, _ = env.reset(seed=seed)
    episode_step = 0
    target_cell = controller.free_cells[rng.integers(len(controller.free_cells))]
    target_xy = env.maze.cell_rowcol_to_xy(np.asarray(target_cell))
    for t in range(num_steps):
        action = controller.action(obs, target_cell, target_xy)
        action = np.clip(action + ACTION_NOISE * rng.standard_normal(act_dim), -1.0, 1.0)
        next_obs, reward, _, _, _ = inner.step(action)
        episode_step += 1
        data["observations"][t] = obs
        data["actions"][t] = action
        data["rewards"][t] = reward
        obs = next_obs["observation"].astype(np.float32)
        if np.linalg.norm(obs[:2] - target_xy) < ARRIVAL_RADIUS:
            target_cell = controller.free_cells[rng.integers(len(controller.free_cells))]
            target_xy = env.maze.cell_rowcol_to_xy(np.asarray(target_cell))
        if episode_step == DATA_EPISODE_STEPS:
            data["timeouts"][t] = True
            obs, _ = env.reset()
            episode_step = 0
    references = reference_returns(env_name, seed=seed + 1, num_episodes=num_reference_episodes)
    env.close()
    return data, references


def reference_returns(
    env_name: str, seed: int, num_episodes: int = NUM_REFERENCE_EPISODES
) -> Dict[str, float]:
    """Mean evaluation return of a uniform random policy and of the noiseless controller."""
    env = make_env(env_name)
    controller = WaypointController(env.maze)
    goal_cell = tuple(int(v) for v in env.goal_cell)
    rng = np.random.default_rng(seed)

    def run(policy) -> float:
        returns = []
        for episode in range(num_episodes):
            obs, _ = env.reset(seed=seed * 100_000 + episode)
            total, done = 0.0, False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(policy(obs))
                total += reward
                done = terminated or truncated
            returns.append(total)
        return float(np.mean(returns))

    random_return = run(lambda obs: rng.uniform(-1.0, 1.0, env.action_space.shape))
    expert_return = run(lambda obs: controller.action(obs, goal_cell, env.goal_xy))
    env.close()
    return {"ref_min_score": random_return, "ref_max_score": expert_return}


def make_env(env_name: str) -> FixedGoalPointMaze:
    """The evaluation environment of an embedded dataset."""
    return FixedGoalPointMaze(**EMBEDDED_MAZES[env_name])


def _recorded_recipe(path: str) -> Optional[Dict]:
    """How a cached file was made (steps, seed, reference episodes), from the JSON beside it."""
    if not (os.path.isfile(path) and os.path.isfile(references_path(path))):
        return None
    try:
        with open(references_path(path)) as f:
            stored = json.load(f)
    except (OSError, ValueError):
        return None
    return {key: stored.get(key) for key in ("recipe_version", "num_steps", "seed", "num_reference_episodes")}


def ensure_dataset(
    env_name: str = "pointmaze-umaze-v0",
    data_dir: Optional[str] = None,
    num_steps: int = DEFAULT_NUM_STEPS,
    seed: int = 0,
    num_reference_episodes: int = NUM_REFERENCE_EPISODES,
    log=print,
) -> str:
    """Path of the embedded dataset made by this recipe (steps, seed, reference episodes).

    A cached file made by the same recipe is reused; one made by another (its JSON records the
    recipe) or without a JSON is made again, so a name always means the data its recipe makes.
    """
    if env_name not in EMBEDDED_MAZES:
        raise ValueError(f"{env_name!r} is not an embedded dataset; choose from {sorted(EMBEDDED_MAZES)}")
    path = data_file(env_name, data_dir)
    recipe = dict(
        recipe_version=RECIPE_VERSION,
        num_steps=num_steps,
        seed=seed,
        num_reference_episodes=num_reference_episodes,
    )
    recorded = _recorded_recipe(path)
    if recorded == recipe:
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    why = "" if recorded is None else f" (the cached file was made with {recorded})"
    log(f"Generating the embedded dataset {env_name} ({num_steps} steps) at {path}{why} ...")
    start = time.time()
    data, references = generate(env_name, num_steps, seed, num_reference_episodes)
    recipe_record = dict(env_name=env_name, **recipe)
    write_d4rl_hdf5(path, data, references, recipe_record)
    log(
        f"  done in {time.time() - start:.0f}s: random return {references['ref_min_score']:.1f}, "
        f"expert return {references['ref_max_score']:.1f}"
    )
    return path
