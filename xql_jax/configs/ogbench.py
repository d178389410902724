"""OGBench single-task datasets (e.g. cube-single-play-singletask-task2-v0): the protocol of the
published single-task results (Flow Q-Learning, Park, Li and Levine 2025; github seohongpark/fql,
main.py and agents/iql.py), for IQL (``:iql``) and X-QL with the same networks.

From FQL's code: 1M steps, batch 256, Adam 3e-4 for every network with no decay, 4 x 512 MLPs,
LayerNorm in the critics and V but not the actor, discount 0.99 (FQL uses 0.995 on the giant and
humanoid mazes: override ``--config.agent.discount``), tau 0.005, MSE critic loss, two critics with
their min, IQL expectile 0.9 and AWR temperature ("alpha") 10, rewards as OGBench relabels them
(no preprocessing), evaluation every 100k steps over 50 episodes (success rate, in percent).
Kept from this project where FQL's IQL differs: the actor is this project's Gaussian (tanh mean,
learned state-independent std; FQL's has a constant std) and the AWR advantage uses the target
critics (FQL's uses the online ones). FQL's paper tunes IQL's temperature per environment; 10 is
its code's default.

X-QL's beta for OGBench is published nowhere. These rewards are -(unsolved subtasks) per step, 0 at
the goal, like AntMaze's shifted -1/0, so 0.6 (the paper's AntMaze beta) is where to start; find
it with one program over seeds x betas:
  python experiments/train_offline.py --config=configs/ogbench.py \
      --env_name=cube-single-play-singletask-task2-v0 --num_seeds=4 --sweep=beta=0.3,0.6,1,2,5
"""

from xql_jax.configs import base

BETA_SWEEP = (0.3, 0.6, 1.0, 2.0, 5.0)


def get_config(variant: str = "xql"):
    config = base.get_config(variant)
    agent = config.agent
    agent.hidden_dims = (512, 512, 512, 512)
    agent.value_layer_norm = True
    agent.critic_layer_norm = True
    agent.discount = 0.99
    agent.tau = 0.005
    agent.expectile = 0.9
    agent.awr_temperature = 10.0
    agent.beta = 0.6
    agent.critic_loss = "mse"
    agent.actor_cosine_decay = False
    agent.actor_lr = agent.critic_lr = agent.value_lr = 3e-4
    config.reward_preprocessing = "none"
    config.batch_size = 256
    config.max_steps = 1_000_000
    config.log_interval = 5_000
    config.eval_interval = 100_000
    config.eval_episodes = 50
    config.eval_envs = 10
    config.checkpoint_interval = 100_000
    return config
