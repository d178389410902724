"""The paper's analyses (Section 3.1, Figure 1, App. D.2): Bellman errors of online learners."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def bellman_errors(module, state, batch, config) -> jax.Array:
    """Q_1(s, a) - (r + discount * mask * Q_1(s', pi(s'))) for every transition of ``batch``.

    As in App. D.2: the first critic, the current parameters (no target network), the policy's
    deterministic action (the mean for SAC), and no entropy term. ``module`` is the learner's
    module (xql_jax.agents.sac, td3 or xql) and ``state`` its unbatched state.
    """
    next_actions = module.eval_actions(state, batch["next_observations"], config)
    params = {"params": state.critic.params}
    q = state.critic.apply_fn(params, batch["observations"], batch["actions"])[0]
    next_q = state.critic.apply_fn(params, batch["next_observations"], next_actions)[0]
    target = batch["rewards"] + state.hyperparams["discount"] * batch["masks"] * next_q
    return q - jax.lax.stop_gradient(target).astype(jnp.float32)
