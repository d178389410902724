"""D4RL gym locomotion (halfcheetah, hopper, walker2d): the paper's consistent X-QL settings."""

from xql_jax.configs import base


def get_config(variant: str = "xql"):
    config = base.get_config(variant)
    config.agent.beta = 2.0
    config.agent.max_clip = 7.0
    config.agent.awr_temperature = 3.0
    config.agent.expectile = 0.7
    config.reward_preprocessing = "locomotion"
    return config
