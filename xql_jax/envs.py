"""Environments the learners are evaluated in, by dataset name, with clear errors for unknown names."""

from __future__ import annotations

from typing import Dict, Optional

import gymnasium as gym
import numpy as np

# The embedded datasets: name -> how to build their evaluation environment.
EMBEDDED_MAZES: Dict[str, Dict] = {
    "pointmaze-umaze-v0": dict(
        gym_id="PointMaze_UMaze-v3",
        goal_cell=(3, 1),  # the far end of the U, so most starts must go round the wall
        max_episode_steps=300,  # as D4RL maze2d-umaze
        reward_type="dense",
    ),
}


class FixedGoalPointMaze(gym.Wrapper):
    """A gymnasium-robotics PointMaze with one fixed goal and flat observations (x, y, vx, vy).

    This is the D4RL maze2d layout: the goal is the same in every episode, so it is not part of the
    observation; the start cell is random. The goal sits exactly at its cell centre (no noise).
    """

    def __init__(self, gym_id: str, goal_cell, max_episode_steps: int, reward_type: str):
        import gymnasium_robotics

        gym.register_envs(gymnasium_robotics)
        env = gym.make(
            gym_id,
            reward_type=reward_type,
            continuing_task=True,
            reset_target=False,
            max_episode_steps=max_episode_steps,
        )
        super().__init__(env)
        self.goal_cell = np.asarray(goal_cell)
        self.goal_xy = self.maze.cell_rowcol_to_xy(self.goal_cell)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
        self.action_space = env.action_space

    @property
    def maze(self):
        return self.env.unwrapped.maze

    def reset(self, *, seed: Optional[int] = None, options=None):
        obs, info = self.env.reset(seed=seed, options={"goal_cell": self.goal_cell})
        inner = self.env.unwrapped
        inner.goal = self.goal_xy.copy()
        inner.update_target_site_pos()
        return obs["observation"].astype(np.float32), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs["observation"].astype(np.float32), float(reward), terminated, truncated, info


def make_env(env_name: str, seed: Optional[int] = None) -> gym.Env:
    """The evaluation environment for a dataset name (embedded) or a gymnasium id."""
    if env_name in EMBEDDED_MAZES:
        env = FixedGoalPointMaze(**EMBEDDED_MAZES[env_name])
    else:
        try:
            env = gym.make(env_name)
        except gym.error.Error as e:
            raise ValueError(
                f"unknown environment {env_name!r}: not an embedded dataset "
                f"({sorted(EMBEDDED_MAZES)}) and gymnasium says: {e}"
            ) from None
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env
