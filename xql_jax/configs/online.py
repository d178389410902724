"""Online X-SAC / SAC / X-TD3 / TD3 on DeepMind Control (paper Section 4.2, App. D.6): every field, commented.

Variants: ``--config=configs/online.py:xsac`` (default), ``:sac``, ``:xtd3``, ``:xtd3_dq``, ``:td3``.
Settings are those of the official code that made the paper's figures (github Div99/XQL,
``online/configs/xsac.yaml``, ``xtd3.yaml`` and the ``*_experiments.json`` sweeps); where the
paper's text says otherwise the text's value is named beside the field. Fields left as None
(``agent.beta``, ``agent.exploration_noise``) take the task's value from ``TASKS`` via
``for_task``; other tasks need ``--config.agent.beta`` (the noise then defaults to 0.1).
"""

import ml_collections

# Per DM Control task, as the official sweeps ran them: the Gumbel temperature beta of each
# variant and TD3's exploration noise. X-SAC's betas are sac_experiments.json's; the paper's
# App. D.6 lists walker-run 1 and hopper-hop 2 instead (PAPER_TEXT_XSAC_BETAS).
TASKS = {
    "cheetah-run": {"beta": {"xsac": 2.0, "xtd3": 5.0, "xtd3_dq": 4.0}, "exploration_noise": 0.1},
    "walker-run": {"beta": {"xsac": 2.0, "xtd3": 2.0, "xtd3_dq": 4.0}, "exploration_noise": 0.1},
    "hopper-hop": {"beta": {"xsac": 1.0, "xtd3": 2.0, "xtd3_dq": 3.0}, "exploration_noise": 0.05},
    "quadruped-run": {"beta": {"xsac": 5.0, "xtd3": 5.0, "xtd3_dq": 20.0}, "exploration_noise": 0.1},
}
PAPER_TEXT_XSAC_BETAS = {"cheetah-run": 2.0, "walker-run": 1.0, "hopper-hop": 2.0, "quadruped-run": 5.0}
DEFAULT_EXPLORATION_NOISE = 0.1

VARIANTS = ("xsac", "sac", "xtd3", "xtd3_dq", "td3")


def _sac_agent(value_loss: str) -> ml_collections.ConfigDict:
    agent = ml_collections.ConfigDict()
    agent.value_loss = value_loss  # "gumbel": X-SAC (V by Gumbel regression); "soft": SAC with V
    agent.beta = ml_collections.config_dict.placeholder(float)  # Gumbel temperature; None = TASKS'
    agent.max_clip = 10.0  # clip of (Q - V) / beta in the Gumbel loss: xsac.yaml's (paper text: 8)
    agent.clip_below = True  # z clamped to [-max_clip, max_clip], as the official online loss
    agent.max_normalize = True  # max-normalised Gumbel loss
    agent.discount = 0.99
    agent.tau = 0.005  # Polyak rate of the target V
    agent.actor_update_every = 2  # actor and temperature every 2nd update (official; paper table: 1)
    agent.target_update_every = 2  # target V every 2nd update (official target_freq)
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
    agent.init_gain = 1.0  # orthogonal init gain of every layer, zero biases (official ortho_init)
    return agent


def _td3_agent(critic_loss: str, double_q: bool) -> ml_collections.ConfigDict:
    agent = ml_collections.ConfigDict()
    agent.critic_loss = critic_loss  # "gumbel": X-TD3 (paper Eq. 9); "mse": TD3
    agent.beta = ml_collections.config_dict.placeholder(float)  # Gumbel temperature; None = TASKS'
    agent.max_clip = 8.0  # clip of (target - Q) / beta inside the Gumbel loss (xtd3.yaml's exp_clip)
    agent.clip_below = True  # z clamped to [-max_clip, max_clip], as the official online loss
    agent.max_normalize = True
    agent.discount = 0.99
    agent.tau = 0.005
    agent.double_q = double_q  # False: one critic, no min in the target ("X-TD3-DQ")
    agent.hidden_dims = (256, 256)
    agent.actor_lr = 1e-3
    agent.critic_lr = 1e-3
    agent.policy_noise = 0.2  # target policy smoothing noise (std), clipped to noise_clip
    agent.noise_clip = 0.5
    # Std of the action noise while collecting; None = TASKS' (0.05 on hopper-hop, else 0.1).
    agent.exploration_noise = ml_collections.config_dict.placeholder(float)
    agent.actor_update_every = 2  # delayed actor and target updates
    agent.grad_clip_norm = ml_collections.config_dict.placeholder(float)
    agent.init_gain = 1.0  # orthogonal init gain of every layer, zero biases (official ortho_init)
    return agent


def get_config(variant: str = "xsac") -> ml_collections.ConfigDict:
    if variant not in VARIANTS:
        raise ValueError(f"unknown config variant {variant!r}; use one of {VARIANTS}")
    config = ml_collections.ConfigDict()
    config.variant = variant  # the key of TASKS' betas
    sac_like = variant in ("xsac", "sac")
    config.learner = "sac" if sac_like else "td3"  # xql_jax.agents.LEARNERS
    if sac_like:
        config.agent = _sac_agent("gumbel" if variant == "xsac" else "soft")
    else:
        config.agent = _td3_agent("mse" if variant == "td3" else "gumbel", double_q=variant != "xtd3_dq")
    if variant in ("sac", "td3"):
        config.agent.beta = 1.0  # unused by the baselines

    # ---- loop (environment steps) ----
    # Environment steps: xsac.yaml / xtd3.yaml total_steps 2000000, Figure 3's axis to 2e6. On a CPU
    # that is days per seed: pass --config.max_steps for shorter runs (the tests use a few hundred).
    config.max_steps = 2_000_000
    # Uniform random actions before learning starts: xsac.yaml 5000, xtd3.yaml 25000.
    config.start_steps = 5_000 if sac_like else 25_000
    config.updates_per_step = 1  # learner steps per environment step
    config.batch_size = 1024 if sac_like else 256
    config.replay_capacity = 1_000_000  # xsac.yaml / xtd3.yaml capacity: the last 1M of the 2M steps
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


def for_task(config: ml_collections.ConfigDict, env_name: str) -> ml_collections.ConfigDict:
    """``config`` with the fields left as None filled from ``TASKS`` for ``env_name``."""
    task = TASKS.get(env_name, {})
    if config.agent.beta is None:
        config.agent.beta = task.get("beta", {}).get(config.variant)
    if "exploration_noise" in config.agent and config.agent.exploration_noise is None:
        config.agent.exploration_noise = task.get("exploration_noise", DEFAULT_EXPLORATION_NOISE)
    return config
