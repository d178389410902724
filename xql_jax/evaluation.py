"""Policy rollouts in gymnasium environments and D4RL-style normalized scores."""

from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence

import gymnasium as gym
import numpy as np


def evaluate(
    act: Callable[[np.ndarray], np.ndarray],
    envs: Sequence[gym.Env],
    num_episodes: int,
    seed: int,
) -> np.ndarray:
    """Undiscounted returns of ``num_episodes`` episodes of a deterministic policy.

    The environments are stepped in lockstep so the policy runs once per step on a batch of
    observations, not once per environment; episode ``i`` is reset with seed ``seed + i``.
    """
    returns = []
    for first in range(0, num_episodes, len(envs)):
        active_envs = envs[: min(len(envs), num_episodes - first)]
        observations = np.stack([env.reset(seed=seed + first + i)[0] for i, env in enumerate(active_envs)])
        totals = np.zeros(len(active_envs))
        running = np.ones(len(active_envs), bool)
        while running.any():
            actions = np.asarray(act(observations))
            for i, env in enumerate(active_envs):
                if not running[i]:
                    continue
                obs, reward, terminated, truncated, _ = env.step(actions[i])
                observations[i] = obs
                totals[i] += reward
                running[i] = not (terminated or truncated)
        returns.extend(totals.tolist())
    return np.asarray(returns)


def normalized_score(returns, references: Optional[Dict[str, float]]):
    """100 * (return - random) / (expert - random), or None without reference returns."""
    if references is None:
        return None
    low, high = references["ref_min_score"], references["ref_max_score"]
    return 100.0 * (np.asarray(returns) - low) / (high - low)
