"""D4RL Adroit (pen, hammer, door, relocate): the same consistent settings as kitchen (beta 5, clip 7
as in the paper's Table 4, AWR 0.5, actor dropout 0.1, raw rewards)."""

from xql_jax.configs import kitchen


def get_config(variant: str = "xql"):
    return kitchen.get_config(variant)
