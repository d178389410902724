"""D4RL AntMaze: sparse reward shifted by -1, sharper AWR, constant actor lr, 100 eval episodes."""

from xql_jax.configs import base


def get_config(variant: str = "xql"):
    config = base.get_config(variant)
    config.agent.beta = 0.6
    config.agent.max_clip = 7.0
    config.agent.awr_temperature = 10.0
    config.agent.expectile = 0.9
    config.agent.actor_cosine_decay = False
    config.reward_preprocessing = "antmaze"
    config.eval_interval = 100_000
    config.eval_episodes = 100
    return config
