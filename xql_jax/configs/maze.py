"""The embedded PointMaze dataset (the default run): sized to finish in minutes on a 2-core CPU."""

from xql_jax.configs import base


def get_config(variant: str = "xql"):
    config = base.get_config(variant)
    config.agent.beta = 2.0
    config.agent.awr_temperature = 3.0
    config.agent.expectile = 0.7
    config.reward_preprocessing = "none"  # dense reward exp(-distance) already lies in [0, 1]
    config.max_steps = 100_000
    config.log_interval = 1_000
    config.eval_interval = 5_000
    config.checkpoint_interval = 10_000
    config.eval_episodes = 50  # random start cells make 10 episodes a noisy estimate
    return config
