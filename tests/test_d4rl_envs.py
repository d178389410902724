"""The D4RL evaluation adapters: observation layouts, maze coordinates, rewards and ends."""

import numpy as np
import pytest

from xql_jax import d4rl_envs
from xql_jax.envs import make_env


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
    np.testing.assert_allclose(env.goal, goal)
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
    env._env.ant_env.data.qpos[:2] = np.asarray(goal) + (0.3, 0.0) - env._offset  # within 0.5
    observation, reward, terminated, _, _ = env.step(np.zeros(8))
    np.testing.assert_allclose(observation[:2], np.asarray(goal) + (0.3, 0.0), atol=0.05)
    assert reward == 1.0 and terminated


def test_kitchen_observation_has_robot_objects_and_the_datasets_goal():
    from gymnasium_robotics.envs.franka_kitchen import kitchen_env

    env = make_env("kitchen-partial-v0")
    observation, _ = env.reset(seed=0)
    assert observation.shape == (60,)
    qpos = env._env.unwrapped.data.qpos
    np.testing.assert_allclose(observation[:9], qpos[:9], atol=0.05)  # robot joints (with sensor noise)
    np.testing.assert_allclose(observation[9:30], qpos[9:], atol=0.01)  # objects
    goal = observation[30:]
    np.testing.assert_allclose(goal[22], kitchen_env.OBS_ELEMENT_GOALS["microwave"][0])
    np.testing.assert_allclose(goal[17:19], kitchen_env.OBS_ELEMENT_GOALS["light switch"])
    assert goal[11] == goal[12] == 0.0  # the bottom burner is "mixed"'s task, not "partial"'s
    mixed_goal = make_env("kitchen-mixed-v0").reset(seed=0)[0][30:]
    assert mixed_goal[11] == kitchen_env.OBS_ELEMENT_GOALS["bottom burner"][0]
    _, reward, terminated, truncated, info = env.step(np.zeros(9))
    assert reward == 0.0 and not terminated and len(info["tasks_to_complete"]) == 4
