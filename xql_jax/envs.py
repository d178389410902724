"""Environments by id: DeepMind Control tasks and gymnasium ids, with clear errors, and the
action contract of the online agents ([-1, 1]). Dataset names are resolved in
``xql_jax.data.sources``; this module knows none."""

from __future__ import annotations

import contextlib
import io
import os
from typing import Optional, Tuple

import gymnasium as gym
import numpy as np


def register_robotics_envs() -> None:
    """Make gymnasium-robotics' environments (PointMaze, AntMaze, Adroit, Kitchen) known to gym.make."""
    # Its import prints a notice that the Adroit rewards changed in 1.2.1; the D4RL adapters
    # (xql_jax.d4rl_envs) compute D4RL's rewards themselves, so on every run it only misleads.
    with contextlib.redirect_stderr(io.StringIO()):
        import gymnasium_robotics

    gym.register_envs(gymnasium_robotics)


class FixedGoalPointMaze(gym.Wrapper):
    """A gymnasium-robotics PointMaze with one fixed goal and flat observations (x, y, vx, vy).

    This is the D4RL maze2d layout: the goal is the same in every episode, so it is not part of the
    observation; the start cell is random. The goal sits exactly at its cell centre (no noise).
    """

    def __init__(self, gym_id: str, goal_cell, max_episode_steps: int, reward_type: str):
        register_robotics_envs()
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


class DMCEnv(gym.Env):
    """A DeepMind Control suite task as a gymnasium environment with flat float32 state observations.

    Episodes end by time limit only (1000 steps for every suite task), reported as ``truncated``, so
    the learners bootstrap through them. A ``seed`` passed to ``reset`` reseeds the task's own
    random state, which draws the initial configuration.
    """

    metadata = {"render_modes": []}

    def __init__(self, domain: str, task: str, seed: Optional[int] = None):
        # Nothing here renders; without a display dm_control's default (GLFW) warns at import.
        os.environ.setdefault("MUJOCO_GL", "egl")
        from dm_control import suite

        self._env = suite.load(domain, task, task_kwargs={"random": seed})
        spec = self._env.action_spec()
        self.action_space = gym.spaces.Box(
            spec.minimum.astype(np.float32), spec.maximum.astype(np.float32), dtype=np.float32
        )
        dim = sum(int(np.prod(s.shape)) for s in self._env.observation_spec().values())
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (dim,), np.float32)

    @staticmethod
    def _flat(observation) -> np.ndarray:
        return np.concatenate([np.asarray(v, np.float32).ravel() for v in observation.values()])

    def reset(self, *, seed: Optional[int] = None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self._env.task.random.seed(seed)
        return self._flat(self._env.reset().observation), {}

    def step(self, action):
        time_step = self._env.step(action)
        terminated = time_step.last() and time_step.discount == 0.0
        truncated = time_step.last() and not terminated
        return self._flat(time_step.observation), float(time_step.reward or 0.0), terminated, truncated, {}


def dmc_task(env_name: str) -> Optional[Tuple[str, str]]:
    """("cheetah", "run") for "cheetah-run" when that is a DeepMind Control suite task, else None."""
    domain, sep, task = env_name.partition("-")
    if not sep or domain[:1].isupper():  # gymnasium ids are capitalised: "HalfCheetah-v5"
        return None
    os.environ.setdefault("MUJOCO_GL", "egl")
    from dm_control import suite

    if (domain, task) in suite.ALL_TASKS:
        return domain, task
    tasks = sorted(t for d, t in suite.ALL_TASKS if d == domain)
    if tasks:
        raise ValueError(f"unknown DeepMind Control task {env_name!r}; {domain} has tasks {tasks}")
    return None


def make_env(env_id: str, seed: Optional[int] = None) -> gym.Env:
    """The environment of a DM Control ``domain-task`` or a gymnasium id, reset with ``seed`` if given."""
    if dmc_task(env_id) is not None:
        env = DMCEnv(*dmc_task(env_id), seed=seed)
    else:
        if env_id not in gym.registry:  # PointMaze, AntMaze, Adroit, Kitchen ids
            register_robotics_envs()
        try:
            env = gym.make(env_id)
        except gym.error.Error as e:
            raise ValueError(
                f"unknown environment {env_id!r}: not a DeepMind Control task (domain-task, e.g. "
                f"cheetah-run) and gymnasium says: {e}"
            ) from None
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env


class UnitActions(gym.wrappers.RescaleAction):
    """``RescaleAction`` to [-1, 1] that keeps the environment's own action space (for data checks)."""

    def __init__(self, env: gym.Env):
        ones = np.ones(env.action_space.shape, np.float32)
        super().__init__(env, -ones, ones)
        self.native_action_space = env.action_space


def _is_unit_box(space: gym.spaces.Box) -> bool:
    return bool(np.allclose(space.low, -1.0) and np.allclose(space.high, 1.0))


def unit_actions(env: gym.Env, name: str = "environment") -> gym.Env:
    """``env`` taking actions in [-1, 1], the range every policy outputs: offline evaluation,
    online collection and fine-tuning all act through this one rescaling."""
    space = env.action_space
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise ValueError(
            f"{name} has a {space} action space; the learners need continuous actions (a 1-D Box "
            "action space, e.g. Pendulum-v1 or a DM Control task)"
        )
    low, high = space.low, space.high
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise ValueError(f"{name}: the learners need a bounded action space, got [{low}, {high}]")
    if isinstance(env, UnitActions) or _is_unit_box(space):
        return env
    return UnitActions(env)


def native_action_space(env: gym.Env) -> gym.spaces.Space:
    """The action space of the environment under ``unit_actions``' rescaling (its own bounds)."""
    return env.native_action_space if isinstance(env, UnitActions) else env.action_space


def to_unit_actions(actions: np.ndarray, space: gym.spaces.Box) -> np.ndarray:
    """Actions in the bounds of ``space`` mapped to [-1, 1] as ``unit_actions`` maps them back."""
    if _is_unit_box(space):
        return np.asarray(actions, np.float32)
    low, high = space.low.astype(np.float64), space.high.astype(np.float64)
    return (2.0 * (np.asarray(actions, np.float64) - low) / (high - low) - 1.0).astype(np.float32)


def make_online_env(env_id: str, seed: Optional[int] = None) -> gym.Env:
    """``make_env`` with actions rescaled to [-1, 1] (``unit_actions``); observations must be flat."""
    env = make_env(env_id, seed)
    space = env.observation_space
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        env.close()
        kind = type(space).__name__
        raise ValueError(
            f"{env_id} has {kind} observations ({', '.join(space.spaces) if kind == 'Dict' else space}); "
            "the learners need a flat Box of observations: register a flattened version "
            "(gymnasium.wrappers.FlattenObservation) or choose another environment"
        )
    return unit_actions(env, env_id)
