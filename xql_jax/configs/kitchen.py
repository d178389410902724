"""D4RL Franka Kitchen: large beta, soft AWR, actor dropout 0.1, raw rewards."""

from xql_jax.configs import base


def get_config(variant: str = "xql"):
    config = base.get_config(variant)
    config.agent.beta = 5.0
    config.agent.max_clip = 7.0
    config.agent.awr_temperature = 0.5
    config.agent.expectile = 0.7
    config.agent.actor_dropout_rate = 0.1
    config.reward_preprocessing = "none"
    return config
