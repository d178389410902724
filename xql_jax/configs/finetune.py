"""Offline-to-online fine-tuning on the embedded PointMaze data (paper Table 3's protocol, small).

The offline fields are configs/maze.py's; ``online`` adds the fine-tuning phase. For D4RL AntMaze,
as in the paper: ``--config=configs/finetune.py`` with ``--config.max_steps=1000000`` and
``--config.online.max_steps=1000000`` after the antmaze settings (see configs/antmaze.py).
"""

import ml_collections

from xql_jax.configs import maze


def get_config(variant: str = "xql") -> ml_collections.ConfigDict:
    config = maze.get_config(variant)
    config.max_steps = 50_000  # offline pretraining steps
    online = ml_collections.ConfigDict()
    online.max_steps = 50_000  # environment steps of fine-tuning, one update each
    online.start_steps = 0  # the pretrained policy collects from the first step
    online.updates_per_step = 1
    # Share of each batch drawn from the transitions collected online. 0 samples the whole buffer
    # uniformly (IQL's fine-tuning protocol), where 50k new transitions stay a tenth of each batch:
    # on the embedded data that did not lift the score within 35k online steps; half does (README).
    online.online_fraction = 0.5
    online.log_interval = 1_000
    online.eval_interval = 5_000
    online.eval_episodes = config.eval_episodes
    online.eval_envs = config.eval_envs
    online.checkpoint_interval = 10_000
    online.checkpoints_to_keep = 1
    online.bellman_error_interval = 0  # see configs/online.py
    online.bellman_error_samples = 10_000
    config.online = online
    return config
