"""Base offline X-QL config: every field, commented. Domain configs import this and override a few.

Select a variant with the config string, e.g. ``--config=configs/locomotion.py:iql``.
"""

import ml_collections


def get_config(variant: str = "xql") -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()

    # ---- learner (xql_jax.agents.xql.XQLConfig) ----
    agent = ml_collections.ConfigDict()
    # "gumbel": X-QL (Gumbel regression); "gumbel_log": its log form (official train_finetune.py
    # --log_loss, losses.gumbel_log_loss); "expectile": the IQL baseline
    agent.value_loss = "gumbel"
    agent.beta = 2.0  # Gumbel temperature of the value loss (the paper's beta, "--temp" upstream)
    agent.max_clip = 7.0  # clip of (Q - V) / beta from above inside the Gumbel loss; inf disables
    agent.max_normalize = True  # max-normalised Gumbel loss: same minimizer, per-batch gradient scale
    agent.expectile = 0.7  # IQL expectile (used only when value_loss == "expectile")
    agent.awr_temperature = 3.0  # AWR inverse temperature: weights exp((Q - V) * awr_temperature)
    agent.discount = 0.99
    agent.tau = 0.005  # Polyak rate of the target critic
    agent.value_updates = 1  # V updates per learner step (paper Table 4 "v_updates")
    agent.double_q = True  # V and AWR use the min of two target critics
    agent.q_only = False  # paper Eq. 9: no V; critics fit by Gumbel regression (deterministic dynamics)
    agent.hidden_dims = (256, 256)  # every network: MLP 256x256 ReLU
    agent.value_layer_norm = True  # LayerNorm in V (the paper's fix for rare AntMaze divergence)
    agent.critic_layer_norm = False  # LayerNorm in the critics (the OGBench protocol of FQL uses it)
    agent.actor_dropout_rate = 0.0  # dropout in the policy torso (0.1 for kitchen and adroit)
    agent.actor_lr = 3e-4
    agent.critic_lr = 3e-4
    agent.value_lr = 3e-4
    agent.actor_cosine_decay = True  # cosine decay of the actor lr over max_steps (off for antmaze)
    agent.grad_clip_norm = ml_collections.config_dict.placeholder(float)  # global-norm clip, None = off
    # As the official offline code (github Div99/XQL offline/critic.py, policy.py):
    agent.critic_loss = "huber"  # 0.5 * Huber(delta 20) per critic, summed (its hard-coded loss); "mse"
    agent.huber_delta = 20.0
    agent.sample_random_times = 0  # n: append n x batch uniform random actions to V's batch (scripts: 1)
    agent.value_action_noise = 0.0  # std of noise on V's actions, clipped at 0.5 (its --noise: 0.1)
    agent.policy_mean_gain = 2.0**0.5  # orthogonal init gain of the policy mean head (official sqrt 2)
    config.agent = agent

    # ---- data ----
    config.reward_preprocessing = (
        "locomotion"  # "locomotion": r*1000/(max-min return); "antmaze": r-1; "none"
    )

    # ---- loop ----
    config.batch_size = 256
    config.max_steps = 1_000_000  # learner steps (the paper's performance saturates by ~500k)
    config.log_interval = 5_000  # steps per jitted lax.scan chunk; metrics are averaged per chunk
    config.eval_interval = 50_000  # must be a multiple of log_interval
    config.eval_episodes = 10  # evaluation episodes per evaluation (100 for antmaze)
    config.eval_envs = 10  # environments stepped in lockstep during evaluation
    config.checkpoint_interval = 50_000  # steps between checkpoints (and one at the end); 0: end only
    config.checkpoints_to_keep = 2  # a run started again in the same workdir resumes from the latest

    if variant == "iql":
        agent.value_loss = "expectile"
    elif variant != "xql":
        raise ValueError(f"unknown config variant {variant!r}; use 'xql' or 'iql'")
    return config
