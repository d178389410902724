"""Policy rollouts in gymnasium environments, D4RL-style normalized scores and success rates."""

from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence, Tuple

import gymnasium as gym
import numpy as np


def evaluate(
    act: Callable[[np.ndarray], np.ndarray],
    envs: Sequence[Sequence[gym.Env]],
    num_episodes: int,
    seed: int,
) -> np.ndarray:
    """Undiscounted returns, shape [members, num_episodes], of deterministic policies (``rollouts``)."""
    return rollouts(act, envs, num_episodes, seed)[0]


def rollouts(
    act: Callable[[np.ndarray], np.ndarray],
    envs: Sequence[Sequence[gym.Env]],
    num_episodes: int,
    seed: int,
) -> Tuple[np.ndarray, np.ndarray]:
    """(returns, successes), each [members, num_episodes], of deterministic policies.

    ``successes`` is ``info["success"]`` of each episode's last step, as OGBench's evaluation reads
    it (its episodes end at the goal or the time limit); NaN where an environment reports none.

    ``envs[j]`` are the environments of member j (all members have the same number). All of them
    are stepped in lockstep, so ``act`` runs once per step on observations of shape
    [members, envs, obs_dim] and returns actions [members, envs, action_dim]. Episode i of every
    member is reset with seed ``seed + i``: members are compared on the same start states. The
    loops pass ``evaluation_seed(run seed, step)``, new at every evaluation.
    """
    num_members, per_member = len(envs), len(envs[0])
    returns = np.zeros((num_members, num_episodes))
    successes = np.full((num_members, num_episodes), np.nan)
    for first in range(0, num_episodes, per_member):
        count = min(per_member, num_episodes - first)
        active = [member_envs[:count] for member_envs in envs]
        observations = np.stack(
            [np.stack([env.reset(seed=seed + first + i)[0] for i, env in enumerate(row)]) for row in active]
        )
        running = np.ones((num_members, count), bool)
        while running.any():
            actions = np.asarray(act(observations))
            for j, row in enumerate(active):
                for i, env in enumerate(row):
                    if not running[j, i]:
                        continue
                    obs, reward, terminated, truncated, info = env.step(actions[j, i])
                    observations[j, i] = obs
                    returns[j, first + i] += reward
                    running[j, i] = not (terminated or truncated)
                    if not running[j, i] and "success" in info:
                        successes[j, first + i] = float(info["success"])
    return returns, successes


def evaluation_seed(seed: int, step: int) -> int:
    """The first reset seed of the evaluation at ``step`` of a run seeded ``seed``.

    Drawn from (seed, step), so successive evaluations start from new states (as the official
    environment's generator ran on between evaluations) while a rerun, or a resumed run, repeats
    them exactly, and every member of one evaluation shares them (paired comparisons).
    """
    # Below 2**32 - 2**16, so the episodes' seeds (this + episode index) stay valid numpy seeds,
    # which DM Control's tasks need; unchanged for all but 1 in 65536 (seed, step) pairs.
    return int(np.random.SeedSequence([seed, step]).generate_state(1)[0]) % (2**32 - 2**16)


def normalized_score(returns, references: Optional[Dict[str, float]]):
    """100 * (return - random) / (expert - random), or None without reference returns."""
    if references is None:
        return None
    low, high = references["ref_min_score"], references["ref_max_score"]
    return 100.0 * (np.asarray(returns) - low) / (high - low)
