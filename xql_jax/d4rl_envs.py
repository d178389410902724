"""Evaluation environments with D4RL's observation layouts, built on gymnasium / gymnasium-robotics.

D4RL needs mujoco-py and old gym, which cannot be installed beside numpy 2; its datasets are still
the literature's benchmark. Policies trained on them must be evaluated where observations mean
what they meant in the files, so each family gets an adapter:

- locomotion (halfcheetah, hopper, walker2d): gymnasium's ``-v5`` environments already match.
- ant: ``Ant-v5`` drops the world body's contact forces (105 dims); D4RL's 111 have them (always
  zero) in place. D4RL's v2 files were recorded with MuJoCo 2.0, where every contact force
  (``cfrc_ext``) reads zero (D4RL issue #143: dims 27-110 of ant-medium-v2 are all zero), so by
  default the adapter zeroes them too.
- antmaze: gymnasium-robotics' AntMaze, changed to D4RL's: its maze rows flipped and positions
  shifted so the ant starts at (0, 0) with the goal where D4RL put it; D4RL's ant (0.02 s physics
  step, torques of 30 x action, its contact softness); observation (x, y, qpos[2:], qvel) = 29
  dims; reward 1 and the episode's end within 0.5 of the goal, so the return is the success.
- kitchen: gymnasium-robotics' FrankaKitchen, observation (robot qpos 9, object qpos 21, the 30-d
  goal vector with the dataset's four tasks) = 60 dims; reward per completed task (D4RL's).
- adroit: gymnasium-robotics' AdroitHand*-v1 match.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import gymnasium as gym
import numpy as np

ANT_BASE_DIMS = 27  # qpos[2:] and qvel; contact forces follow
ANT_BODY_FORCE_DIMS = 6  # cfrc_ext of one body

# D4RL's evaluation mazes (d4rl/locomotion/maze_env.py *_TEST): layout, goal cell, episode length.
# Rows are listed top to bottom as D4RL writes them; D4RL's y grows with the row index.
ANTMAZE_LAYOUTS: Dict[str, Tuple[str, Tuple[int, int], int]] = {
    "umaze": ("U_MAZE", (3, 1), 700),
    "medium": ("MEDIUM_MAZE", (6, 6), 1000),
    "large": ("LARGE_MAZE", (7, 9), 1000),
}
ANTMAZE_START_CELL = (1, 1)  # D4RL's "R" in every maze: its origin
ANTMAZE_SCALING = 4.0
ANTMAZE_SUCCESS_RADIUS = 0.5
# D4RL's ant (d4rl/locomotion/assets/ant.xml) against gymnasium's: physics step 0.02 s (0.01),
# motors with ctrlrange +-30 and gear 1 behind actions in [-1, 1] (ctrlrange +-1, gear 150),
# contacts solref (0.02, 1) and solimp (0.8, 0.8, 0.01).
D4RL_ANT_TIMESTEP = 0.02
D4RL_ANT_TORQUE = 30.0
D4RL_ANT_SOLIMP = (0.8, 0.8, 0.01)

KITCHEN_TASKS = {
    "complete": ("microwave", "kettle", "light switch", "slide cabinet"),
    "partial": ("microwave", "kettle", "light switch", "slide cabinet"),
    "mixed": ("microwave", "kettle", "bottom burner", "light switch"),
}


def _box(dim: int) -> gym.spaces.Box:
    return gym.spaces.Box(-np.inf, np.inf, (dim,), np.float64)


class D4RLAnt(gym.ObservationWrapper):
    """``Ant-v5`` with D4RL's 111-d observation: the world body's 6 contact-force zeros put back."""

    def __init__(self, zero_contact_forces: bool = True, **kwargs):
        super().__init__(gym.make("Ant-v5", **kwargs))
        self.zero_contact_forces = zero_contact_forces
        inner = self.env.observation_space.shape[0]
        self.observation_space = _box(inner + ANT_BODY_FORCE_DIMS)

    def observation(self, observation):
        base, forces = observation[:ANT_BASE_DIMS], observation[ANT_BASE_DIMS:]
        if self.zero_contact_forces:
            forces = np.zeros_like(forces)
        return np.concatenate([base, np.zeros(ANT_BODY_FORCE_DIMS), forces])


def antmaze_offset(layout: Sequence[Sequence[int]]) -> np.ndarray:
    """D4RL (x, y) minus gymnasium-robotics (x, y), for the row-flipped layout.

    gymnasium-robotics puts cell (row, col) of an H x W map at ((col + 0.5) s - W s / 2,
    H s / 2 - (row + 0.5) s); D4RL at ((col - 1) s, (row - 1) s) with rows counted the other way.
    With the rows flipped, one is the other shifted.
    """
    height, width = len(layout), len(layout[0])
    s = ANTMAZE_SCALING
    return np.array([width * s / 2 - s / 2 - s, height * s / 2 - s / 2 - s])


class D4RLAntMaze(gym.Env):
    """AntMaze with D4RL's observations, maze coordinates, ant model and success reward."""

    metadata = {"render_modes": []}

    def __init__(self, maze: str):
        import gymnasium_robotics
        from gymnasium_robotics.envs.maze import maps

        if maze not in ANTMAZE_LAYOUTS:
            raise ValueError(f"unknown antmaze {maze!r}; choose one of {sorted(ANTMAZE_LAYOUTS)}")
        gym.register_envs(gymnasium_robotics)
        layout_name, goal_cell, max_steps = ANTMAZE_LAYOUTS[maze]
        layout = getattr(maps, layout_name)
        height = len(layout)
        self._flipped = [list(row) for row in reversed(layout)]
        self._start = (height - 1 - ANTMAZE_START_CELL[0], ANTMAZE_START_CELL[1])
        self._goal_cell = (height - 1 - goal_cell[0], goal_cell[1])
        self._offset = antmaze_offset(layout)
        # D4RL's goal: the goal cell's centre in its coordinates.
        self.goal = np.array([(goal_cell[1] - 1) * ANTMAZE_SCALING, (goal_cell[0] - 1) * ANTMAZE_SCALING])
        # v4: the ant without contact forces in its observation, as D4RL's maze ant.
        self._env = gym.make(
            "AntMaze_UMaze-v4",
            maze_map=self._flipped,
            continuing_task=True,
            reset_target=False,
        ).unwrapped
        self._env.position_noise_range = 0.1 / ANTMAZE_SCALING  # D4RL starts within 0.1 of its origin
        model = self._env.ant_env.model
        model.opt.timestep = D4RL_ANT_TIMESTEP
        model.actuator_gear[:, 0] = D4RL_ANT_TORQUE
        model.geom_solref[:] = (0.02, 1.0)
        model.geom_solimp[:, :3] = D4RL_ANT_SOLIMP
        self.max_episode_steps = max_steps
        self.action_space = self._env.action_space
        self.observation_space = _box(29)
        self._steps = 0

    def _observation(self) -> np.ndarray:
        data = self._env.ant_env.data
        xy = data.qpos[:2] + self._offset
        return np.concatenate([xy, data.qpos[2:15], data.qvel[:14]])

    def reset(self, *, seed: Optional[int] = None, options=None):
        super().reset(seed=seed)
        self._env.reset(seed=seed, options={"reset_cell": self._start, "goal_cell": self._goal_cell})
        self._steps = 0
        return self._observation(), {}

    def step(self, action):
        self._env.step(action)
        self._steps += 1
        observation = self._observation()
        success = bool(np.linalg.norm(observation[:2] - self.goal) <= ANTMAZE_SUCCESS_RADIUS)
        truncated = self._steps >= self.max_episode_steps and not success
        return observation, float(success), success, truncated, {"success": success}

    def close(self):
        self._env.close()


class D4RLKitchen(gym.Env):
    """FrankaKitchen with D4RL's 60-d observation and its four tasks per dataset."""

    metadata = {"render_modes": []}

    def __init__(self, dataset: str):
        import gymnasium_robotics
        from gymnasium_robotics.envs.franka_kitchen import kitchen_env

        if dataset not in KITCHEN_TASKS:
            raise ValueError(f"unknown kitchen dataset {dataset!r}; choose one of {sorted(KITCHEN_TASKS)}")
        gym.register_envs(gymnasium_robotics)
        tasks = list(KITCHEN_TASKS[dataset])
        self._env = gym.make("FrankaKitchen-v1", tasks_to_complete=tasks)
        self._goal = np.zeros(30)
        for task in tasks:
            self._goal[kitchen_env.OBS_ELEMENT_INDICES[task]] = kitchen_env.OBS_ELEMENT_GOALS[task]
        self.action_space = self._env.action_space
        self.observation_space = _box(60)

    def _observation(self, observation) -> np.ndarray:
        flat = observation["observation"]  # robot qpos 9, robot qvel 9, object qpos 21, object qvel 20
        return np.concatenate([flat[:9], flat[18:39], self._goal])

    def reset(self, *, seed: Optional[int] = None, options=None):
        super().reset(seed=seed)
        observation, info = self._env.reset(seed=seed)
        return self._observation(observation), info

    def step(self, action):
        observation, reward, terminated, truncated, info = self._env.step(action)
        return self._observation(observation), float(reward), terminated, truncated, info

    def close(self):
        self._env.close()


def make(name: str) -> gym.Env:
    """The evaluation environment of a D4RL dataset name (see xql_jax.data.d4rl)."""
    family = name.split("-")[0]
    if family == "ant":
        return D4RLAnt()  # Ant-v5 keeps its 1000-step limit inside
    if family == "antmaze":
        return D4RLAntMaze(name.split("-")[1])
    if family == "kitchen":
        return D4RLKitchen(name.split("-")[1])
    from xql_jax.data import d4rl

    gym_id = d4rl.evaluation_env(name)
    if gym_id.startswith("Adroit"):
        import gymnasium_robotics

        gym.register_envs(gymnasium_robotics)
    return gym.make(gym_id)
