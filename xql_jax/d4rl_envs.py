"""Evaluation environments with D4RL's observation layouts, built on gymnasium / gymnasium-robotics.

D4RL needs mujoco-py and old gym, which cannot be installed beside numpy 2; its datasets are still
the literature's benchmark. Policies trained on them must be evaluated where observations mean
what they meant in the files, so each family gets an adapter:

- locomotion (halfcheetah, hopper, walker2d): D4RL evaluated in gym's ``HopperEnv``-style classes
  (gym 0.23, which D4RL pins; the same models, rewards and ends as gym's ``-v3``). gymnasium's
  ``-v5`` have the same observations and reward terms, but walker2d-v5 loads a model
  with friction 1.9 on both feet, where gym's ``walker2d.xml`` (D4RL's) has 0.9 on the right foot,
  and v5 no longer pays the healthy reward on the step that ends an episode, which v3 did (its
  ``healthy_reward`` was paid while healthy *or* when terminating on unhealthiness). The adapter
  loads ``walker2d.xml`` (gymnasium still ships it) and pays the healthy reward on that step.
- ant: ``Ant-v5`` drops the world body's contact forces (105 dims); D4RL's 111 have them (always
  zero) in place. D4RL's v2 files were recorded with MuJoCo 2.0, where every contact force
  (``cfrc_ext``) reads zero (D4RL issue #143: dims 27-110 of ant-medium-v2 are all zero), so by
  default the adapter zeroes them too; so was gym v3's contact cost, computed from them, so the
  adapter's is zero (``contact_cost_weight=0``); and the healthy reward as for hopper.
- antmaze: gymnasium-robotics' AntMaze, changed to D4RL's: its maze rows flipped and positions
  shifted so the ant starts at (0, 0); D4RL's ant (0.02 s physics step, torques of 30 x action,
  its contact softness); observation (x, y, qpos[2:], qvel) = 29 dims; the goal D4RL's
  goal_sampler draws (the goal cell plus U(0, 1) + U(0, 0.5) per axis), once per environment for
  v0 and at every reset for v2, as ``target_goal``; reward 1 and the episode's end within 0.5 of
  it, so the return is the success; D4RL's reset noise (``ant.py`` reset_model: U(-0.1, 0.1) on
  every position coordinate, 0.1 x N(0, 1) on every velocity).
- kitchen: gymnasium-robotics' FrankaKitchen run without its own noise, with D4RL's observation
  noise (ratio 0.1 of franka_config.xml's amplitudes on robot and object positions) and D4RL's
  episode rules judged on those noisy positions (280 steps, +1 per task within 0.3 of its goal,
  tasks removed when done, the end when all are); observation (robot qpos 9, object qpos 21, the
  30-d goal vector with the dataset's four tasks) = 60 dims.
- adroit: gymnasium-robotics' AdroitHand*-v1 (D4RL's models and observations) with D4RL's rewards
  (``pen_v0.py``, ``hammer_v0.py``, ``door_v0.py``, ``relocate_v0.py``; gymnasium-robotics >= 1.2.1
  changed three of them), horizons (pen 100, the others 200) and pen's end when the pen drops.
"""

from __future__ import annotations

import os
from typing import Dict, Optional, Sequence, Tuple

import gymnasium as gym
import numpy as np

from xql_jax.envs import register_robotics_envs

LOCOMOTION_ENVS = {"halfcheetah": "HalfCheetah-v5", "hopper": "Hopper-v5", "walker2d": "Walker2d-v5"}
# gym v3's walker2d model (D4RL's): right foot ("foot_geom") friction 0.9, left 1.9. gymnasium
# ships it beside the v5 model (walker2d_v5.xml, 1.9 on both feet).
D4RL_WALKER2D_XML = "walker2d.xml"

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
# D4RL's evaluation goal (maze_env.goal_sampler): the goal cell's position plus, per axis,
# U(0, 0.25 s) (_rowcol_to_xy's noise) + U(0, 0.5) * 0.25 s, i.e. U(0, 1) + U(0, 0.5) with s = 4,
# clamped at 0. Drawn when the environment is made (v0) and again before every reset (v2).
ANTMAZE_CELL_NOISE = 0.25 * ANTMAZE_SCALING
ANTMAZE_EXTRA_NOISE = 0.5 * 0.25 * ANTMAZE_SCALING
# D4RL's ant (d4rl/locomotion/assets/ant.xml) against gymnasium's: physics step 0.02 s (0.01),
# motors with ctrlrange +-30 and gear 1 behind actions in [-1, 1] (ctrlrange +-1, gear 150),
# contacts solref (0.02, 1) and solimp (0.8, 0.8, 0.01).
D4RL_ANT_TIMESTEP = 0.02
D4RL_ANT_TORQUE = 30.0
D4RL_ANT_SOLIMP = (0.8, 0.8, 0.01)
# d4rl/locomotion/ant.py reset_model: qpos + U(-0.1, 0.1) (all 15 coordinates: x, y, z, the
# quaternion, the 8 joints), qvel + 0.1 x N(0, 1) (all 14): gymnasium's Ant reset_model with
# reset_noise_scale 0.1 draws exactly these; gymnasium-robotics' AntMaze builds it with 0.
D4RL_ANT_RESET_NOISE = 0.1

# d4rl/kitchen/adept_envs/franka/kitchen_multitask_v0.py: robot_noise_ratio = 0.1, passed by _get_obs
# to franka_robot.get_obs, which scales both the robot's and the objects' noise by it.
D4RL_KITCHEN_NOISE_RATIO = 0.1
# pos_noise_amp of qpos0..qpos29 in D4RL's franka/robot/franka_config.xml (gymnasium-robotics ships
# the same file): 9 robot joints, then the 21 object coordinates (get_obs takes amp[-21:]).
D4RL_KITCHEN_POS_NOISE_AMP = np.array(
    [0.1] * 9 + [0.005] * 2 + [0.0005] * 6 + [0.005] * 3 + [0.1] * 3 + [0.005] * 3 + [0.1] * 3 + [0.005]
)
KITCHEN_ROBOT_DOF, KITCHEN_OBJECT_DOF = 9, 21
KITCHEN_BONUS_THRESH = 0.3  # d4rl/kitchen/kitchen_envs.py BONUS_THRESH
KITCHEN_TASKS = {
    "complete": ("microwave", "kettle", "light switch", "slide cabinet"),
    "partial": ("microwave", "kettle", "light switch", "slide cabinet"),
    "mixed": ("microwave", "kettle", "bottom burner", "light switch"),
}


def _box(dim: int) -> gym.spaces.Box:
    return gym.spaces.Box(-np.inf, np.inf, (dim,), np.float64)


class HealthyRewardOnTermination(gym.Wrapper):
    """gym v3's healthy reward: paid on every step, the one that ends the episode by unhealthiness
    included (v3: ``float(is_healthy or terminate_when_unhealthy) * healthy_reward``); v5 pays it
    only while healthy, so each terminated episode returns ``healthy_reward`` less."""

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        inner = self.env.unwrapped
        if not inner.is_healthy and inner._terminate_when_unhealthy:
            reward += inner._healthy_reward
        return observation, reward, terminated, truncated, info


def locomotion(robot: str) -> gym.Env:
    """D4RL's gym-v3 halfcheetah, hopper, walker2d or ant, from gymnasium's v5 classes (1000 steps)."""
    if robot == "ant":
        return D4RLAnt()
    if robot not in LOCOMOTION_ENVS:
        raise ValueError(
            f"unknown locomotion robot {robot!r}; choose one of {sorted(LOCOMOTION_ENVS)} or ant"
        )
    kwargs = {}
    if robot == "walker2d":
        import gymnasium.envs.mujoco

        assets = os.path.join(os.path.dirname(gymnasium.envs.mujoco.__file__), "assets")
        kwargs["xml_file"] = os.path.join(assets, D4RL_WALKER2D_XML)
    env = gym.make(LOCOMOTION_ENVS[robot], **kwargs)
    return env if robot == "halfcheetah" else HealthyRewardOnTermination(env)


class D4RLAnt(gym.ObservationWrapper):
    """``Ant-v5`` as D4RL's gym-v3 ant: the 111-d observation (the world body's 6 contact-force
    zeros put back), no contact cost, the healthy reward on the terminating step."""

    def __init__(self, zero_contact_forces: bool = True, **kwargs):
        # MuJoCo 2.0 read every contact force as zero, so D4RL's contact cost was zero too.
        kwargs.setdefault("contact_cost_weight", 0.0 if zero_contact_forces else 5e-4)
        super().__init__(HealthyRewardOnTermination(gym.make("Ant-v5", **kwargs)))
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
    """AntMaze with D4RL's observations, maze coordinates, ant model, noisy goal and success reward.

    The goal is ``target_goal``: the goal cell plus D4RL's noise. ``v2_resets=False`` (D4RL's
    v0/v1) keeps one goal per environment, drawn at its first reset; ``True`` (v2) draws a new
    one at every reset. D4RL drew it from numpy's unseeded global generator; here it comes from
    the environment's generator, so an evaluation with the same seeds repeats exactly.
    """

    metadata = {"render_modes": []}

    def __init__(self, maze: str, v2_resets: bool = True):
        from gymnasium_robotics.envs.maze import maps

        if maze not in ANTMAZE_LAYOUTS:
            raise ValueError(f"unknown antmaze {maze!r}; choose one of {sorted(ANTMAZE_LAYOUTS)}")
        register_robotics_envs()
        layout_name, goal_cell, max_steps = ANTMAZE_LAYOUTS[maze]
        layout = getattr(maps, layout_name)
        height = len(layout)
        self._flipped = [list(row) for row in reversed(layout)]
        self._start = (height - 1 - ANTMAZE_START_CELL[0], ANTMAZE_START_CELL[1])
        self._goal_cell = (height - 1 - goal_cell[0], goal_cell[1])
        self._offset = antmaze_offset(layout)
        # The goal cell's position in D4RL's coordinates; target_goal adds the noise.
        self.goal_cell_xy = np.array(
            [(goal_cell[1] - 1) * ANTMAZE_SCALING, (goal_cell[0] - 1) * ANTMAZE_SCALING]
        )
        self.v2_resets = v2_resets
        self.target_goal: Optional[np.ndarray] = None
        # v4: the ant without contact forces in its observation, as D4RL's maze ant.
        self._env = gym.make(
            "AntMaze_UMaze-v4",
            maze_map=self._flipped,
            continuing_task=True,
            reset_target=False,
        ).unwrapped
        # D4RL's start: the origin plus its ant's reset noise, which moves x and y by U(-0.1, 0.1);
        # the maze's own start noise would add a second draw.
        self._env.position_noise_range = 0.0
        self._env.ant_env._reset_noise_scale = D4RL_ANT_RESET_NOISE
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

    def sample_goal(self, rng: np.random.Generator) -> np.ndarray:
        """A goal as D4RL's goal_sampler draws it around the goal cell."""
        noise = rng.uniform(0.0, ANTMAZE_CELL_NOISE, 2) + rng.uniform(0.0, ANTMAZE_EXTRA_NOISE, 2)
        return np.maximum(self.goal_cell_xy + noise, 0.0)

    def reset(self, *, seed: Optional[int] = None, options=None):
        super().reset(seed=seed)
        if seed is not None or not hasattr(self, "_goal_rng"):
            # A stream of its own: the inner maze's start noise draws from `seed` too, and D4RL's
            # goal and start noise were independent.
            self._goal_rng = np.random.default_rng([self.np_random.integers(2**32), 7])
        if self.target_goal is None or self.v2_resets:
            self.target_goal = self.sample_goal(self._goal_rng)
        self._env.reset(seed=seed, options={"reset_cell": self._start, "goal_cell": self._goal_cell})
        self._steps = 0
        return self._observation(), {"target_goal": self.target_goal.copy()}

    def step(self, action):
        self._env.step(action)
        self._steps += 1
        observation = self._observation()
        success = bool(np.linalg.norm(observation[:2] - self.target_goal) <= ANTMAZE_SUCCESS_RADIUS)
        truncated = self._steps >= self.max_episode_steps and not success
        return observation, float(success), success, truncated, {"success": success}

    def close(self):
        self._env.close()


ADROIT_ENVS = {
    "pen": "AdroitHandPen-v1",
    "hammer": "AdroitHandHammer-v1",
    "door": "AdroitHandDoor-v1",
    "relocate": "AdroitHandRelocate-v1",
}
# d4rl/hand_manipulation_suite/__init__.py MAX_STEPS (gymnasium-robotics registers 200 for all).
ADROIT_HORIZONS = {"pen": 100, "hammer": 200, "door": 200, "relocate": 200}
PEN_DROP_HEIGHT = 0.075  # pen_v0.py: below this the pen has dropped: reward -5 and the episode ends


def _pen_reward(env) -> Tuple[float, bool]:
    """pen_v0.py: -|pen - target| + orientation similarity, +10 / +50 bonuses, -5 and done on a drop."""
    data = env.data
    pen = data.xpos[env.obj_body_id]
    distance = np.linalg.norm(pen - data.site_xpos[env.eps_ball_site_id])
    pen_axis = (data.site_xpos[env.obj_t_site_id] - data.site_xpos[env.obj_b_site_id]) / env.pen_length
    target_axis = (data.site_xpos[env.tar_t_site_id] - data.site_xpos[env.tar_b_site_id]) / env.tar_length
    similarity = float(np.dot(pen_axis, target_axis))
    reward = -distance + similarity
    if distance < 0.075 and similarity > 0.9:
        reward += 10.0
    if distance < 0.075 and similarity > 0.95:
        reward += 50.0
    dropped = bool(pen[2] < PEN_DROP_HEIGHT)
    if dropped:
        reward -= 5.0
    return float(reward), dropped


def _hammer_reward(env) -> Tuple[float, bool]:
    """hammer_v0.py: palm to hammer, head to nail, nail into the board, velocity; lift and nail bonuses."""
    data = env.data
    hammer, palm = data.xpos[env.obj_body_id], data.site_xpos[env.S_grasp_site_id]
    head, nail = data.site_xpos[env.tool_site_id], data.site_xpos[env.target_obj_site_id]
    nail_to_goal = np.linalg.norm(nail - data.site_xpos[env.goal_site_id])
    reward = -0.1 * np.linalg.norm(palm - hammer)  # gymnasium-robotics 1.2.1+ flips this sign
    reward -= np.linalg.norm(head - nail)
    reward -= 10.0 * nail_to_goal
    reward -= 1e-2 * np.linalg.norm(data.qvel)
    if hammer[2] > 0.04 and head[2] > 0.04:
        reward += 2.0
    if nail_to_goal < 0.020:
        reward += 25.0
    if nail_to_goal < 0.010:
        reward += 75.0
    return float(reward), False


def _door_reward(env) -> Tuple[float, bool]:
    """door_v0.py: palm to handle, door angle towards 1.57, velocity; bonuses past 0.2, 1.0, 1.35."""
    data = env.data
    angle = float(data.qpos[env.door_hinge_addrs])
    palm, handle = data.site_xpos[env.grasp_site_id], data.site_xpos[env.handle_site_id]
    reward = -0.1 * np.linalg.norm(palm - handle)  # gymnasium-robotics 1.2.1+ flips this sign
    reward += -0.1 * (angle - 1.57) ** 2
    reward += -1e-5 * np.sum(data.qvel**2)
    reward += 2.0 * (angle > 0.2) + 8.0 * (angle > 1.0) + 10.0 * (angle > 1.35)
    return float(reward), False


def _relocate_reward(env) -> Tuple[float, bool]:
    """relocate_v0.py: palm to ball; once lifted, +1 and hand and ball to the target; closeness bonuses."""
    data = env.data
    ball, palm = data.xpos[env.obj_body_id], data.site_xpos[env.S_grasp_site_id]
    target = data.site_xpos[env.target_obj_site_id]
    reward = -0.1 * np.linalg.norm(palm - ball)  # gymnasium-robotics 1.2.1+ flips this sign
    if ball[2] > 0.04:
        reward += 1.0
        reward += -0.5 * np.linalg.norm(palm - target)
        reward += -0.5 * np.linalg.norm(ball - target)
    to_target = np.linalg.norm(ball - target)
    if to_target < 0.1:
        reward += 10.0
    if to_target < 0.05:
        reward += 20.0
    return float(reward), False


ADROIT_REWARDS = {
    "pen": _pen_reward,
    "hammer": _hammer_reward,
    "door": _door_reward,
    "relocate": _relocate_reward,
}


class D4RLAdroit(gym.Wrapper):
    """gymnasium-robotics' AdroitHand*-v1 (D4RL's observations and dynamics) with D4RL's rewards,
    computed from the simulator state after each step, its horizons (pen 100, others 200) and
    pen's end when the pen drops."""

    def __init__(self, hand: str):
        if hand not in ADROIT_ENVS:
            raise ValueError(f"unknown Adroit task {hand!r}; choose one of {sorted(ADROIT_ENVS)}")
        register_robotics_envs()
        super().__init__(gym.make(ADROIT_ENVS[hand], max_episode_steps=ADROIT_HORIZONS[hand]))
        self.hand = hand
        self.max_episode_steps = ADROIT_HORIZONS[hand]

    def d4rl_reward(self) -> Tuple[float, bool]:
        """(reward, terminated) of D4RL's ``<hand>_v0.py`` at the simulator's current state."""
        return ADROIT_REWARDS[self.hand](self.env.unwrapped)

    def step(self, action):
        observation, _, terminated, truncated, info = self.env.step(action)
        reward, ended = self.d4rl_reward()
        terminated = terminated or ended
        return observation, reward, terminated, truncated and not terminated, info


class D4RLKitchen(gym.Env):
    """FrankaKitchen with D4RL's 60-d observation, its observation noise and its four tasks per dataset.

    As D4RL's ``KitchenBase``: every observation (the first too) adds U(-1, 1) x 0.1 x amplitude to
    the robot's and the objects' positions, and a task is complete when its noisy object
    coordinates are within 0.3 of the goal; each task pays +1 once, and the episode ends when all
    four are done (or after 280 steps). The simulator is gymnasium-robotics' with its own noise and
    task rules turned off; the noise comes from the environment's generator, seeded by ``reset``.
    """

    metadata = {"render_modes": []}

    def __init__(self, dataset: str):
        from gymnasium_robotics.envs.franka_kitchen import kitchen_env

        if dataset not in KITCHEN_TASKS:
            raise ValueError(f"unknown kitchen dataset {dataset!r}; choose one of {sorted(KITCHEN_TASKS)}")
        register_robotics_envs()
        self.tasks = tuple(KITCHEN_TASKS[dataset])
        self._env = gym.make(
            "FrankaKitchen-v1",
            tasks_to_complete=list(self.tasks),
            terminate_on_tasks_completed=False,
            robot_noise_ratio=0.0,
            object_noise_ratio=0.0,
        )
        self._indices = {task: kitchen_env.OBS_ELEMENT_INDICES[task] for task in self.tasks}
        self._goal = np.zeros(30)
        for task in self.tasks:
            self._goal[self._indices[task]] = kitchen_env.OBS_ELEMENT_GOALS[task]
        self.tasks_to_complete = set(self.tasks)
        self.action_space = self._env.action_space
        self.observation_space = _box(60)

    def _noisy_positions(self) -> np.ndarray:
        """Robot and object positions (30) with D4RL's noise, drawn in get_obs's order (robot qpos,
        robot qvel, object qpos, object qvel; the velocities are not observed)."""
        qpos = self._env.unwrapped.data.qpos[: KITCHEN_ROBOT_DOF + KITCHEN_OBJECT_DOF].copy()
        scale = D4RL_KITCHEN_NOISE_RATIO * D4RL_KITCHEN_POS_NOISE_AMP
        uniform = self.np_random.uniform
        robot = uniform(-1.0, 1.0, KITCHEN_ROBOT_DOF)
        uniform(-1.0, 1.0, KITCHEN_ROBOT_DOF)
        objects = uniform(-1.0, 1.0, KITCHEN_OBJECT_DOF)
        uniform(-1.0, 1.0, KITCHEN_OBJECT_DOF)
        return qpos + scale * np.concatenate([robot, objects])

    def _completed(self, positions: np.ndarray) -> list:
        """kitchen_envs.py _get_reward_n_score: the remaining tasks whose noisy object coordinates are
        within BONUS_THRESH of the goal."""
        return [
            task
            for task in self.tasks_to_complete
            if np.linalg.norm(positions[self._indices[task]] - self._goal[self._indices[task]])
            < KITCHEN_BONUS_THRESH
        ]

    def reset(self, *, seed: Optional[int] = None, options=None):
        super().reset(seed=seed)
        _, info = self._env.reset(seed=seed)
        self.tasks_to_complete = set(self.tasks)
        return np.concatenate([self._noisy_positions(), self._goal]), info

    def step(self, action):
        _, _, _, truncated, info = self._env.step(action)
        positions = self._noisy_positions()
        completed = self._completed(positions)
        self.tasks_to_complete.difference_update(completed)
        terminated = not self.tasks_to_complete
        remaining = sorted(self.tasks_to_complete)
        info = {**info, "step_task_completions": completed, "tasks_to_complete": remaining}
        observation = np.concatenate([positions, self._goal])
        return observation, float(len(completed)), terminated, truncated and not terminated, info

    def close(self):
        self._env.close()
