"""Online X-SAC / SAC / X-TD3 / TD3 on DeepMind Control (paper Section 4.2, App. D.6): every field, commented.

Variants: ``--config=configs/online.py:xsac`` (default), ``:sac``, ``:xtd3``, ``:xtd3_dq``, ``:td3``.
``agent.beta`` left as None takes the paper's tuned value for the task (PAPER_BETAS) in
experiments/train_online.py; other tasks need ``--config.agent.beta``.
"""

import ml_collections

# The paper's beta per DM Control task (App. D.6): X-SAC / X-TD3 / X-TD3 without double Q.
PAPER_BETAS = {
    "cheetah-run": {"xsac": 2.0, "xtd3": 5.0, "xtd3_dq": 4.0},
    "walker-run": {"xsac": 1.0, "xtd3": 2.0, "xtd3_dq": 4.0},
    "hopper-hop": {"xsac": 2.0, "xtd3": 2.0, "xtd3_dq": 3.0},
    "quadruped-run": {"xsac": 5.0, "xtd3": 5.0, "xtd3_dq": 20.0},
}

VARIANTS = ("xsac", "sac", "xtd3", "xtd3_dq", "td3")


def _sac_agent(value_loss: str) -> ml_collections.ConfigDict:
    agent = ml_collections.ConfigDict()
    agent.value_loss = value_loss  # "gumbel": X-SAC (V by Gumbel regression); "soft": SAC with V
    agent.beta = ml_collections.config_dict.placeholder(float)  # Gumbel temperature; None = paper's
    agent.max_clip = 8.0  # clip of (Q - V) / beta inside the Gumbel loss (the paper's exp clip 8)
    agent.max_normalize = True  # max-normalised Gumbel loss
    agent.discount = 0.99
    agent.tau = 0.005  # Polyak rate of the target critic and target V
    agent.double_q = True  # min over two critics in the V target and the policy loss
    agent.hidden_dims = (1024, 1024)  # actor, critics and V (paper: 1024x1024 for SAC)
    agent.value_layer_norm = False
    agent.actor_lr = 1e-4
    agent.critic_lr = 1e-4
    agent.value_lr = 1e-4
    agent.temperature_lr = 1e-4
    agent.init_temperature = 0.1  # initial entropy temperature alpha (pytorch_sac's)
    agent.target_entropy = ml_collections.config_dict.placeholder(float)  # None: -action_dim
    agent.grad_clip_norm = ml_collections.config_dict.placeholder(float)
    return agent


def _td3_agent(critic_loss: str, double_q: bool) -> ml_collections.ConfigDict:
    agent = ml_collections.ConfigDict()
    agent.critic_loss = critic_loss  # "gumbel": X-TD3 (paper Eq. 9); "mse": TD3
    agent.beta = ml_collections.config_dict.placeholder(float)  # Gumbel temperature; None = paper's
    agent.max_clip = 8.0  # clip of (target - Q) / beta inside the Gumbel loss
    agent.max_normalize = True
    agent.discount = 0.99
    agent.tau = 0.005
    agent.double_q = double_q  # False: one critic, no min in the target ("X-TD3-DQ")
    agent.hidden_dims = (256, 256)
    agent.actor_lr = 1e-3
    agent.critic_lr = 1e-3
    agent.policy_noise = 0.2  # target policy smoothing noise (std), clipped to noise_clip
    agent.noise_clip = 0.5
    agent.exploration_noise = 0.1  # std of the action noise while collecting (paper: 0.05 on hopper)
    agent.actor_update_every = 2  # delayed actor and target updates
    agent.grad_clip_norm = ml_collections.config_dict.placeholder(float)
    return agent


def get_config(variant: str = "xsac") -> ml_collections.ConfigDict:
    if variant not in VARIANTS:
        raise ValueError(f"unknown config variant {variant!r}; use one of {VARIANTS}")
    config = ml_collections.ConfigDict()
    config.variant = variant  # the key of PAPER_BETAS
    sac_like = variant in ("xsac", "sac")
    config.learner = "sac" if sac_like else "td3"  # xql_jax.online.LEARNERS
    if sac_like:
        config.agent = _sac_agent("gumbel" if variant == "xsac" else "soft")
    else:
        config.agent = _td3_agent("mse" if variant == "td3" else "gumbel", double_q=variant != "xtd3_dq")
    if variant in ("sac", "td3"):
        config.agent.beta = 1.0  # unused by the baselines

    # ---- loop (environment steps) ----
    config.max_steps = 1_000_000  # environment steps
    config.start_steps = 5_000  # uniform random actions before learning starts
    config.updates_per_step = 1  # learner steps per environment step
    config.batch_size = 1024 if sac_like else 256
    config.replay_capacity = 1_000_000
    config.online_fraction = 0.0  # fine-tuning only: share of each batch from collected (not dataset) rows
    config.log_interval = 1_000  # environment steps between training-metric rows
    config.eval_interval = 10_000
    config.eval_episodes = 10
    config.eval_envs = 10  # evaluation environments stepped in lockstep

    config.checkpoint_interval = 100_000  # environment steps between checkpoints (+ one at the end)
    config.checkpoints_to_keep = 1  # each holds the replay buffers (about 170 MB per seed when full)

    # ---- Bellman-error study (paper Section 3.1, App. D.2) ----
    config.bellman_error_interval = 0  # environment steps between saved errors; 0 = off (paper: 5000)
    config.bellman_error_samples = 10_000  # replay transitions per save
    return config
