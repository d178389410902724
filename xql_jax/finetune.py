"""Offline-to-online fine-tuning (paper Table 3): pretrain X-QL (or IQL) offline, then keep training online.

The offline phase is ``train.run_offline``. The online phase is ``online.run_online`` with the same
learner (``learner="xql"``): its replay buffer starts with the whole dataset, new transitions are
collected with the stochastic policy and appended, rewards get the dataset's preprocessing, and
every update is the offline update on batches from the growing buffer. Both phases write to the
same workdir, so metrics and evaluations form one curve whose steps continue across the switch.
"""

from __future__ import annotations

from typing import Dict

import jax
import jax.numpy as jnp
import ml_collections

from xql_jax.checks import check_offline_config, check_online_config
from xql_jax.data import ogbench_data, replay
from xql_jax.envs import unit_actions
from xql_jax.multihost import agree_on_run
from xql_jax.online import OnlineStart, run_online
from xql_jax.runs import RunSpec, Watch
from xql_jax.train import learner_steps, run_offline
from xql_jax.workdir import CHECKPOINTS, lock_workdir, prepare_workdir, unlock_workdir


def online_config_from(config: ml_collections.ConfigDict, dataset_size: int) -> ml_collections.ConfigDict:
    """The online loop's config for the fine-tuning phase of ``config`` (an offline config + ``online``)."""
    online = ml_collections.ConfigDict(config.online.to_dict())
    online.learner = "xql"
    online.agent = ml_collections.ConfigDict({**config.agent.to_dict(), "decay_steps": learner_steps(config)})
    online.batch_size = config.batch_size
    online.replay_capacity = dataset_size + config.online.max_steps  # nothing of the dataset is evicted
    return online


def validate_finetune_config(config: ml_collections.ConfigDict) -> None:
    if "online" not in config:
        raise ValueError("a fine-tuning config needs an `online` section (see configs/finetune.py)")
    if config.agent.q_only:
        raise ValueError(
            "fine-tuning needs the V-based learner; q_only (paper Eq. 9) reads dataset next actions"
        )
    check_offline_config(config)
    # The online phase's settings too, now rather than after the offline phase's hours.
    check_online_config(online_config_from(config, dataset_size=config.batch_size))


def train_finetune(config: ml_collections.ConfigDict, spec: RunSpec, watch: Watch) -> Dict:
    """Pretrain offline on ``spec``'s dataset for ``config.max_steps``, then fine-tune online for
    ``config.online.max_steps``.

    Returns the online phase's summary with the offline phase's summary under ``"offline"``.
    """
    validate_finetune_config(config)
    if spec.sweep:
        raise ValueError("fine-tuning runs one setting (no sweep): run one launch per value")
    if ogbench_data.parse_name(spec.name):
        # The online phase scores returns: the run would switch from OGBench's success rate midway.
        raise ValueError(
            f"{spec.name}: fine-tuning reports returns online, not OGBench's success rate; fine-tune "
            "D4RL-style datasets, or train OGBench offline with train_offline.py"
        )
    # One lock over both phases, so no other run slips into the workdir between them.
    lock, problem = None, None
    if jax.process_index() == 0:
        try:
            lock = lock_workdir(prepare_workdir(watch.workdir))
        except ValueError as error:
            problem = str(error)
    try:
        # Every process stops here if process 0 could not take the workdir (or with other settings).
        agree_on_run(config.to_json_best_effort(), problem)
        return _finetune(config, spec, watch)
    finally:
        if lock is not None:
            unlock_workdir(lock)


def _finetune(config: ml_collections.ConfigDict, spec: RunSpec, watch: Watch) -> Dict:
    offline = run_offline(config, spec, watch, checkpoint_name=f"{CHECKPOINTS}/offline")
    online_config = online_config_from(config, len(offline.dataset))
    buffer = replay.from_dataset(offline.dataset, online_config.replay_capacity)
    members = len(offline.members)
    buffers = jax.tree_util.tree_map(lambda x: jnp.repeat(x[None], members, axis=0), buffer)
    watch.log(
        f"online fine-tuning for {config.online.max_steps} environment steps, dataset in the replay buffer"
    )
    start = OnlineStart(
        offline.state,
        buffers,
        reward_transform=offline.reward_transform,
        references=offline.references,
        step_offset=config.max_steps,
        info={"offline": offline.summary, "offline_steps": config.max_steps},
        config_json=offline.config_json,
        make_env=lambda seed=None: unit_actions(offline.source.make_env(seed), spec.name),
        checkpoint_name=f"{CHECKPOINTS}/online",
    )
    return run_online(online_config, spec, watch, start)
