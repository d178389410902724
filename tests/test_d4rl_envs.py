"""The D4RL evaluation adapters: observation layouts, maze coordinates, rewards and ends."""

import numpy as np
import pytest

from xql_jax import d4rl_envs
from xql_jax.data.d4rl import make_env


def test_ant_observation_is_d4rl_111_with_zero_world_contact_forces():
    env = make_env("ant-medium-v2")
    observation, _ = env.reset(seed=0)
    inner = env.unwrapped
    assert observation.shape == (111,)
    np.testing.assert_allclose(observation[:13], inner.data.qpos[2:])  # qpos without x, y
    np.testing.assert_allclose(observation[13:27], inner.data.qvel)
    np.testing.assert_array_equal(observation[27:], 0.0)  # D4RL v2 (MuJoCo 2.0): all zero
    observation, *_ = env.step(env.action_space.sample())
    assert observation.shape == (111,)
    # Without zeroing, the 6 world-body dims sit in front of Ant-v5's 78 forces, which are clipped.
    raw = d4rl_envs.D4RLAnt(zero_contact_forces=False)
    raw.reset(seed=0)
    for _ in range(20):
        observation, *_ = raw.step(np.ones(8))
    np.testing.assert_array_equal(observation[27:33], 0.0)
    assert np.any(observation[33:] != 0.0) and np.all(np.abs(observation[33:]) <= 1.0)


@pytest.mark.parametrize(
    "name, goal, wall, free, steps",
    [
        # D4RL coordinates: cell (row, col) at ((col - 1) * 4, (row - 1) * 4), start "R" at (0, 0).
        ("antmaze-umaze-v0", (0.0, 8.0), (0.0, 4.0), (8.0, 4.0), 700),
        ("antmaze-medium-play-v2", (20.0, 20.0), (8.0, 0.0), (4.0, 4.0), 1000),
        ("antmaze-large-diverse-v0", (32.0, 24.0), (4.0, 4.0), (0.0, 4.0), 1000),
    ],
)
def test_antmaze_uses_d4rl_coordinates_goal_and_success(name, goal, wall, free, steps):
    import mujoco

    env = make_env(name)
    observation, _ = env.reset(seed=0)
    assert observation.shape == (29,) and np.all(np.abs(observation[:2]) <= 0.1)  # starts at D4RL's origin
    np.testing.assert_allclose(env.goal_cell_xy, goal)
    assert env.max_episode_steps == steps
    model = env._env.ant_env.model
    blocks = {
        tuple(np.round(model.geom_pos[i][:2] + env._offset, 3))
        for i in range(model.ngeom)
        if (mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, i) or "").startswith("block")
    }
    assert wall in blocks and free not in blocks and (0.0, 0.0) not in blocks
    # D4RL's ant: 0.02 s physics steps, torque 30 x action.
    assert model.opt.timestep == 0.02 and np.all(model.actuator_gear[:, 0] == 30.0)
    observation, reward, terminated, truncated, _ = env.step(np.zeros(8))
    assert (reward, terminated, truncated) == (0.0, False, False)
    env._env.ant_env.data.qpos[:2] = env.target_goal + (0.3, 0.0) - env._offset  # within 0.5
    observation, reward, terminated, _, _ = env.step(np.zeros(8))
    np.testing.assert_allclose(observation[:2], env.target_goal + (0.3, 0.0), atol=0.1)  # one step moved
    assert reward == 1.0 and terminated


def test_antmaze_reset_noise_is_d4rls_ant():
    # d4rl/locomotion/ant.py reset_model: qpos = init_qpos + U(-0.1, 0.1) over all 15 coordinates
    # (x, y from the origin, z, quaternion, joints), qvel = init_qvel + 0.1 * N(0, 1) over all 14;
    # antmaze registers non_zero_reset=False, so the start is the origin plus that noise.
    assert d4rl_envs.D4RL_ANT_RESET_NOISE == 0.1
    env = make_env("antmaze-umaze-v0")
    init = env._env.ant_env.init_qpos[2:15].copy()
    observations = np.array([env.reset(seed=s)[0] for s in range(300)])
    positions = np.concatenate([observations[:, :2], observations[:, 2:15] - init], axis=1)
    assert np.all(np.abs(positions) <= 0.1 + 1e-12)
    np.testing.assert_allclose(np.abs(positions).max(0), 0.1, rtol=0.05)  # the whole range, once
    np.testing.assert_allclose(positions.std(0), 0.2 / np.sqrt(12), rtol=0.2)  # uniform, not doubled
    np.testing.assert_allclose(observations[:, 15:].std(0), 0.1, rtol=0.25)  # 0.1 x N(0, 1)
    np.testing.assert_allclose(np.abs(observations[:, 15:].mean(0)), 0.0, atol=0.03)
    np.testing.assert_array_equal(env.reset(seed=7)[0], observations[7])  # seeded


def test_kitchen_observation_has_robot_objects_and_the_datasets_goal():
    from gymnasium_robotics.envs.franka_kitchen import kitchen_env

    env = make_env("kitchen-partial-v0")
    observation, _ = env.reset(seed=0)
    assert observation.shape == (60,)
    qpos = env._env.unwrapped.data.qpos
    np.testing.assert_allclose(observation[:9], qpos[:9], atol=0.01 + 1e-9)  # D4RL's noise: 0.1 x 0.1
    np.testing.assert_allclose(observation[9:30], qpos[9:], atol=0.01 + 1e-9)  # objects
    goal = observation[30:]
    np.testing.assert_allclose(goal[22], kitchen_env.OBS_ELEMENT_GOALS["microwave"][0])
    np.testing.assert_allclose(goal[17:19], kitchen_env.OBS_ELEMENT_GOALS["light switch"])
    assert goal[11] == goal[12] == 0.0  # the bottom burner is "mixed"'s task, not "partial"'s
    mixed_goal = make_env("kitchen-mixed-v0").reset(seed=0)[0][30:]
    assert mixed_goal[11] == kitchen_env.OBS_ELEMENT_GOALS["bottom burner"][0]
    _, reward, terminated, truncated, info = env.step(np.zeros(9))
    assert reward == 0.0 and not terminated and len(info["tasks_to_complete"]) == 4


def test_kitchen_observation_noise_is_d4rls_and_judges_completion():
    # d4rl/kitchen/adept_envs/franka/kitchen_multitask_v0.py: robot_noise_ratio = 0.1, used by
    # franka_robot.get_obs for robot *and* object positions: qp += 0.1 * pos_noise_amp[:9] * U(-1, 1),
    # obj_qp += 0.1 * pos_noise_amp[-21:] * U(-1, 1), amplitudes from franka/robot/franka_config.xml
    # (qpos0-8: 0.1; 9-10: 0.005; 11-16: 0.0005; 17-19: 0.005; 20-22: 0.1; 23-25: 0.005;
    # 26-28: 0.1; 29: 0.005). kitchen_envs.py judges completion on those noisy obj_qp.
    # (gymnasium-robotics' defaults: ratios 0.01 robot, 0.0005 objects, judged on clean qpos.)
    import os
    import xml.etree.ElementTree as ET

    import gymnasium_robotics

    assert d4rl_envs.D4RL_KITCHEN_NOISE_RATIO == 0.1
    amp = d4rl_envs.D4RL_KITCHEN_POS_NOISE_AMP
    assert amp.shape == (30,) and amp[22] == 0.1 and amp[17] == 0.005 and amp[11] == 0.0005
    config = os.path.join(
        os.path.dirname(gymnasium_robotics.__file__),
        "envs/assets/kitchen_franka/franka_assets/franka_config.xml",
    )
    root = ET.parse(config).getroot()
    shipped = [float(root.find(f"qpos{i}").get("pos_noise_amp")) for i in range(30)]
    np.testing.assert_array_equal(amp, shipped)  # the same file as D4RL's
    env = make_env("kitchen-complete-v0")
    observation, _ = env.reset(seed=3)
    clean = env._env.unwrapped.data.qpos[:30].copy()
    noise = np.array([env.reset(seed=s)[0][:30] - clean for s in range(200)])
    bound = 0.1 * amp
    assert np.all(np.abs(noise) <= bound + 1e-12)
    np.testing.assert_allclose(np.abs(noise).max(0), bound, rtol=0.05)  # uses the whole range
    # Completion on the noisy value: the microwave (index 22, noise +-0.01) 0.305 from its goal is
    # complete when its noise is below -0.005, a quarter of the time; never on the clean value.
    goal = d4rl_envs.KITCHEN_BONUS_THRESH + 0.005
    env._env.unwrapped.data.qpos[22] = env._goal[22] + goal
    env.np_random = np.random.default_rng(0)
    done = [bool(env._completed(env._noisy_positions())) for _ in range(2000)]
    assert 0.2 < np.mean(done) < 0.3


# ---------------------------------------------------------------- D4RL's definitions, number by number


def _geom_friction(model, name):
    import mujoco

    return float(model.geom_friction[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name)][0])


def test_walker2d_is_d4rls_model_with_a_slippery_right_foot():
    # gym's assets/walker2d.xml, which D4RL's walker2d-*-v2 used: foot_geom 0.9, foot_left_geom 1.9
    # (gymnasium's Walker2d-v5 default model, walker2d_v5.xml, has 1.9 on both).
    model = make_env("walker2d-medium-v2").unwrapped.model
    assert _geom_friction(model, "foot_geom") == pytest.approx(0.9)
    assert _geom_friction(model, "foot_left_geom") == pytest.approx(1.9)
    assert (
        model.opt.timestep == pytest.approx(0.002)
        and make_env("walker2d-medium-v2").unwrapped.frame_skip == 4
    )


@pytest.mark.parametrize(
    "name, height_joint, height",  # heights outside the healthy ranges (hopper z > 0.7, walker
    # 0.8 < z < 2, ant 0.2 <= z <= 1): the ant is lifted, so contacts cannot push it back in time
    [("hopper-medium-v2", 1, 0.1), ("walker2d-expert-v2", 1, 0.1), ("ant-medium-v2", 2, 1.5)],
)
def test_the_terminating_step_pays_the_healthy_reward_as_gym_v3_did(name, height_joint, height):
    # gym v2/v3: healthy_reward = float(is_healthy or terminate_when_unhealthy) * 1.0, the terminating
    # step included; gymnasium v5 pays 0 there. Same seed and actions in both: only that step differs.
    import gymnasium as gym

    d4rl_env = make_env(name)
    v5 = gym.make(d4rl_env.unwrapped.spec.id, **d4rl_env.unwrapped.spec.kwargs)
    rng = np.random.default_rng(0)
    for env in (d4rl_env, v5):
        env.reset(seed=3)
    for _ in range(5):
        action = rng.uniform(-1.0, 1.0, d4rl_env.action_space.shape)
        (_, ours, terminated, *_), (_, theirs, *_) = d4rl_env.step(action), v5.step(action)
        assert ours == pytest.approx(theirs) and not terminated
    for env in (d4rl_env, v5):  # the torso outside the healthy heights: the step ends the episode
        env.unwrapped.data.qpos[height_joint] = height
    action = np.zeros(d4rl_env.action_space.shape)
    (_, ours, terminated, *_), (_, theirs, v5_terminated, *_) = d4rl_env.step(action), v5.step(action)
    assert terminated and v5_terminated
    assert ours == pytest.approx(theirs + 1.0)  # the healthy reward, 1.0


def test_ant_has_no_contact_cost_as_d4rls_mujoco_2_ant():
    # D4RL's ant (MuJoCo 2.0): cfrc_ext reads 0, so contact_cost = 0.5e-3 * sum(clip(cfrc_ext)^2) = 0.
    env = make_env("ant-medium-v2")
    assert env.unwrapped._contact_cost_weight == 0.0 and env.unwrapped._ctrl_cost_weight == 0.5


def test_adroit_horizons():
    # d4rl/hand_manipulation_suite/__init__.py MAX_STEPS: pen 100, hammer / door / relocate 200
    # (gymnasium-robotics registers 200 for all four).
    for name, steps in [("hammer-expert-v1", 200), ("door-cloned-v0", 200), ("relocate-human-v1", 200)]:
        env = make_env(name)
        env.reset(seed=0)
        count, done = 0, False
        while not done:
            *_, terminated, truncated, _ = env.step(np.zeros(env.action_space.shape))
            count, done = count + 1, terminated or truncated
        assert (count, terminated) == (steps, False), name
    assert make_env("pen-human-v1").max_episode_steps == 100


def _at_state(env, **joints):
    """Set named joints (qpos), zero the velocities and recompute positions, as a state set by hand."""
    import mujoco

    inner = env.unwrapped
    for name, value in joints.items():
        inner.data.qpos[inner.model.joint(name).qposadr[0]] = value
    inner.data.qvel[:] = 0.0
    mujoco.mj_forward(inner.model, inner.data)
    return inner


def _distance(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


def test_pen_reward_and_the_drop_that_ends_the_episode():
    env = make_env("pen-expert-v1")
    env.reset(seed=0)
    # pen_v0.py: reward = -|pen - eps_ball| + <pen axis, target axis>; obj_pos[2] < 0.075 -> -5, done.
    inner = _at_state(env, OBJTx=0.2)  # the pen lowered to z = 0.05 (its body frame is rotated: x is down)
    data = inner.data
    pen = data.xpos[inner.obj_body_id]
    assert pen[2] < 0.075
    axis = (data.site_xpos[inner.obj_t_site_id] - data.site_xpos[inner.obj_b_site_id]) / inner.pen_length
    target = (data.site_xpos[inner.tar_t_site_id] - data.site_xpos[inner.tar_b_site_id]) / inner.tar_length
    reward, dropped = env.d4rl_reward()
    assert dropped
    assert reward == pytest.approx(
        -_distance(pen, data.site_xpos[inner.eps_ball_site_id]) + axis @ target - 5.0
    )
    # Stepping from the dropped state ends the episode (gymnasium-robotics never terminates).
    *_, terminated, truncated, _ = env.step(np.zeros(env.action_space.shape))
    assert terminated and not truncated
    # The pen held at the target with the target's orientation: +10 and +50.
    env.reset(seed=0)
    inner = _at_state(env)
    data = inner.data
    distance = _distance(data.xpos[inner.obj_body_id], data.site_xpos[inner.eps_ball_site_id])
    axis = (data.site_xpos[inner.obj_t_site_id] - data.site_xpos[inner.obj_b_site_id]) / inner.pen_length
    target = (data.site_xpos[inner.tar_t_site_id] - data.site_xpos[inner.tar_b_site_id]) / inner.tar_length
    bonus = 10.0 * (distance < 0.075 and axis @ target > 0.9) + 50.0 * (
        distance < 0.075 and axis @ target > 0.95
    )
    assert env.d4rl_reward() == (pytest.approx(-distance + axis @ target + bonus), False)


def test_door_reward_is_d4rls():
    env = make_env("door-human-v1")
    env.reset(seed=0)
    inner = _at_state(env, door_hinge=1.4)  # open past every bonus threshold (0.2, 1.0, 1.35)
    palm = inner.data.site_xpos[inner.grasp_site_id]
    handle = inner.data.site_xpos[inner.handle_site_id]
    # door_v0.py: -0.1 |palm - handle| - 0.1 (angle - 1.57)^2 - 1e-5 |qvel|^2 + 2 + 8 + 10
    expected = -0.1 * _distance(palm, handle) - 0.1 * (1.4 - 1.57) ** 2 + 20.0
    assert env.d4rl_reward() == (pytest.approx(expected), False)
    inner = _at_state(env, door_hinge=0.5)  # only the first bonus
    expected = -0.1 * _distance(palm, handle) - 0.1 * (0.5 - 1.57) ** 2 + 2.0
    assert env.d4rl_reward()[0] == pytest.approx(expected, abs=1e-6)


def test_hammer_reward_is_d4rls():
    env = make_env("hammer-human-v1")
    env.reset(seed=0)
    inner = _at_state(env, OBJTz=0.1)
    data = inner.data
    hammer, palm = data.xpos[inner.obj_body_id], data.site_xpos[inner.S_grasp_site_id]
    head, nail = data.site_xpos[inner.tool_site_id], data.site_xpos[inner.target_obj_site_id]
    nail_to_goal = _distance(nail, data.site_xpos[inner.goal_site_id])
    # hammer_v0.py: -0.1 |palm - hammer| - |head - nail| - 10 |nail - goal| - 0.01 |qvel| + bonuses
    expected = -0.1 * _distance(palm, hammer) - _distance(head, nail) - 10.0 * nail_to_goal
    expected += 2.0 * (hammer[2] > 0.04 and head[2] > 0.04) + 25.0 * (nail_to_goal < 0.02)
    expected += 75.0 * (nail_to_goal < 0.01)
    assert env.d4rl_reward() == (pytest.approx(expected), False)
    # gymnasium-robotics >= 1.2.1 adds +0.1 |palm - hammer| instead (its own warning says v1 changed).
    _, theirs, *_ = env.env.step(np.zeros(env.action_space.shape))
    ours, _ = env.d4rl_reward()
    palm, hammer = inner.data.site_xpos[inner.S_grasp_site_id], inner.data.xpos[inner.obj_body_id]
    assert theirs - ours == pytest.approx(0.2 * _distance(palm, hammer))


def test_relocate_reward_is_d4rls():
    env = make_env("relocate-expert-v1")
    env.reset(seed=0)
    inner = _at_state(env, OBJTz=0.1)  # the ball lifted off the table (z > 0.04)
    data = inner.data
    ball, palm = data.xpos[inner.obj_body_id], data.site_xpos[inner.S_grasp_site_id]
    target = data.site_xpos[inner.target_obj_site_id]
    assert ball[2] > 0.04
    # relocate_v0.py: -0.1 |palm - ball|; lifted: +1 - 0.5 |palm - target| - 0.5 |ball - target|; bonuses
    expected = (
        -0.1 * _distance(palm, ball) + 1.0 - 0.5 * _distance(palm, target) - 0.5 * _distance(ball, target)
    )
    expected += 10.0 * (_distance(ball, target) < 0.1) + 20.0 * (_distance(ball, target) < 0.05)
    assert env.d4rl_reward() == (pytest.approx(expected), False)
    env.reset(seed=0)
    inner = _at_state(env)  # on the table: only the reach term
    data = inner.data
    expected = -0.1 * _distance(data.site_xpos[inner.S_grasp_site_id], data.xpos[inner.obj_body_id])
    assert env.d4rl_reward()[0] == pytest.approx(expected)


def test_antmaze_goal_is_d4rls_noisy_goal_once_for_v0_and_at_every_reset_for_v2():
    # maze_env.goal_sampler: goal cell + U(0, 0.25 * 4) + U(0, 0.5) * 0.25 * 4 per axis, clamped at 0.
    # umaze's goal cell is at D4RL's (0, 8): offsets must fill [0, 1.5] x [0, 1.5] with a mean of 0.75.
    v2 = make_env("antmaze-umaze-v2")
    goals = np.array([v2.reset(seed=seed)[1]["target_goal"] for seed in range(400)])
    offsets = goals - (0.0, 8.0)
    assert offsets.min() >= 0.0 and offsets.max() <= 1.5
    np.testing.assert_allclose(offsets.mean(axis=0), [0.75, 0.75], atol=0.05)
    # A sum of U(0, 1) and U(0, 0.5) has density 1 on [0.5, 1]: half the goals (a cell-centre goal: none).
    plateau = np.mean((offsets[:, 0] > 0.5) & (offsets[:, 0] < 1.0))
    assert plateau == pytest.approx(0.5, abs=0.07)
    # v2 redraws at every reset of one environment; v0 keeps the goal of its first reset.
    assert len({tuple(v2.reset()[1]["target_goal"]) for _ in range(5)}) == 5
    v0 = make_env("antmaze-umaze-v0")
    first = v0.reset(seed=1)[1]["target_goal"]
    for _ in range(3):
        np.testing.assert_array_equal(v0.reset()[1]["target_goal"], first)
    # Different environments draw different goals; the same seed draws the same one.
    v0_other = make_env("antmaze-umaze-v0")
    assert tuple(v0_other.reset(seed=2)[1]["target_goal"]) != tuple(first)
    np.testing.assert_array_equal(make_env("antmaze-umaze-v0").reset(seed=1)[1]["target_goal"], first)


def test_kitchen_keeps_d4rls_episode_rules():
    # d4rl/kitchen: max_episode_steps 280, BONUS_THRESH 0.3, REMOVE_TASKS_WHEN_COMPLETE and
    # TERMINATE_ON_TASK_COMPLETE True (+1 per task, once; the episode ends when all four are done).
    env = make_env("kitchen-complete-v0")
    assert env._env.spec.max_episode_steps == 280 and d4rl_envs.KITCHEN_BONUS_THRESH == 0.3
    env.reset(seed=0)
    data = env._env.unwrapped.data
    data.qpos[22] = env._goal[22]  # the microwave at its goal: +1 on the next step, then never again
    _, reward, terminated, _, info = env.step(np.zeros(9))
    assert reward == 1.0 and not terminated and info["step_task_completions"] == ["microwave"]
    _, reward, *_ = env.step(np.zeros(9))
    assert reward == 0.0 and "microwave" not in env.tasks_to_complete
    for task in ("kettle", "light switch", "slide cabinet"):
        index = env._indices[task]
        data.qpos[index] = env._goal[index]
    _, reward, terminated, truncated, _ = env.step(np.zeros(9))
    assert reward == 3.0 and terminated and not truncated
