"""The skeleton the offline and online training loops share: one run's life in its workdir.

A ``RunSession`` owns everything around the learner's steps, so the two loops differ only in how
they make a step (scanned chunks on a dataset; environment steps and a replay buffer):

- the workdir: created (``~`` expanded), checked writable, and locked for the run's lifetime;
- the run's identity: config.json (the config and what identifies the run: data, environment,
  members) is compared on *every* start, checkpoint or not, before anything is restored;
- resuming: the newest readable checkpoint (older ones if it is damaged), and the output files cut
  back to its step; with no checkpoint, back to the phase's first step, so a restart before the
  first checkpoint never appends a second copy of its rows;
- records and outputs (JSONL/CSV/TensorBoard, optionally wandb), injected per member;
- the cadence of logging, evaluation and checkpoints, the progress bar, closing, summary.json —
  written also when training diverges, so a diverged run says so in its workdir.

Only process 0 of a multi-process run locks, writes and evaluates; every process checks the
identity, agrees with process 0 on config.json (``xql_jax.multihost``) and takes part in
checkpoints (Orbax saves collectively).
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import jax
import numpy as np
import tqdm
from jax.sharding import Mesh

from xql_jax import checks, protocols
from xql_jax import workdir as files
from xql_jax.checkpoints import Checkpointer
from xql_jax.evaluation import evaluation_seed, rollouts
from xql_jax.multihost import agree_on_run
from xql_jax.outputs import OutputFactory, close_all, default_outputs
from xql_jax.runs import (
    Member,
    MemberRecords,
    RunSpec,
    TrainingDiverged,
    Watch,
    make_members,
    member_mesh,
    to_host,
)
from xql_jax.workdir import (
    check_same_run,
    config_with_identity,
    lock_workdir,
    member_dirs,
    prepare_workdir,
    unlock_workdir,
)


def run_members(spec: RunSpec, watch: Watch, sweepable: Sequence[str]) -> Tuple[List[Member], Optional[Mesh]]:
    """The run's members (seeds x swept values, checked) and the mesh they lie on (None: one device)."""
    checks.check_members(spec.num_seeds, spec.sweep, spec.seed)
    members = make_members(spec.seeds, spec.sweep, sweepable)
    return members, member_mesh(len(members), watch.shard, log=watch.log)


def run_config_json(config, env_name: str, members: Sequence[Member], facts: Mapping) -> str:
    """config.json's text: the config and, under "run", what identifies the run: ``facts`` (its data,
    or its environment's sizes), the name it was started with and its members."""
    return config_with_identity(config, {**facts, "env_name": env_name, "members": [m.name for m in members]})


def run_info(
    env_name: str, algo: str, references: Optional[Mapping], config, kind: str, extra: Mapping
) -> Dict:
    """What every summary.json of the run records besides its scores: the name, the algorithm, the
    score references, the evaluation protocol (``xql_jax.protocols``), and ``extra``."""
    evaluation = protocols.record(config.eval_interval, config.eval_episodes, env_name, kind)
    return {"env_name": env_name, "algo": algo, "references": references, "evaluation": evaluation, **extra}


def summary_metric(references: Optional[Mapping], own_metric: Optional[str] = None) -> str:
    """The score a run is summarised and reported by: its data's own (OGBench: ``success_rate``),
    else the normalized score when there are reference returns, else the return."""
    return own_metric or ("normalized_score" if references is not None else "return_mean")


def sweepable_values(module, learner_config) -> Dict[str, float]:
    """The config's values of the learner's sweepable hyperparameters, as summary.json records them
    (members may override them)."""
    return {name: float(getattr(learner_config, name)) for name in module.SWEEPABLE}


class Evaluator:
    """Evaluation, the same in both loops: every member's deterministic policy on its own
    environments (process 0 only), from start states every member shares at a step, logged.

    ``act(state, observations[members, envs, obs_dim])`` is the learner's ``eval_actions`` over
    members. The environments are built once (none when the phase is already done) and closed
    with the session.
    """

    def __init__(self, session: "RunSession", make_env, act, config, references, metric: str):
        self._session, self._act = session, act
        self._episodes, self._references, self._metric = config.eval_episodes, references, metric
        per_member = min(config.eval_episodes, config.eval_envs)
        self.envs = (
            [[make_env() for _ in range(per_member)] for _ in session.members]
            if session.is_writer and not session.done
            else []
        )
        # With the step, the start states every member shares: one stream per run, from its first seed.
        self._seed = 1_000_000 * (session.members[0].seed + 1)

    def __call__(self, step: int, state: Any) -> None:
        """Evaluate and log at ``step``; a collective across processes (process 0 gathers)."""
        state = to_host(state) if jax.process_count() > 1 else state
        if not self._session.is_writer:
            return
        returns, successes = rollouts(
            lambda obs: np.nan_to_num(np.asarray(self._act(state, obs.astype(np.float32)))),
            self.envs,
            self._episodes,
            evaluation_seed(self._seed, step),
        )
        successes = successes if self._metric == "success_rate" else None
        self._session.log_eval(step, returns, self._references, self._metric, successes)

    def close(self) -> None:
        envs, self.envs = self.envs, []
        for member_envs in envs:
            for env in member_envs:
                env.close()


class RunSession:
    """One phase of a run in its workdir (see the module docstring); used as a context manager.

    Steps are the logged steps: ``first_step`` (the steps of earlier phases, e.g. fine-tuning's
    offline phase) plus this phase's own. ``total_steps`` is this phase's length; intervals count
    this phase's steps.
    """

    def __init__(
        self,
        workdir: str,
        members: Sequence[Member],
        config_json: str,
        *,
        total_steps: int,
        eval_interval: int,
        checkpoint_interval: int,
        checkpoints_to_keep: int,
        first_step: int = 0,
        checkpoint_name: str = files.CHECKPOINTS,
        outputs: Optional[OutputFactory] = None,
        progress: bool = True,
        description: str = "",
        log: Callable[[str], None] = print,
    ):
        self.members = list(members)
        self.config_json = config_json
        self.total_steps, self.first_step = total_steps, first_step
        self.eval_interval, self.checkpoint_interval = eval_interval, checkpoint_interval
        self.log = log
        self.is_writer = jax.process_index() == 0
        self.workdir, self._lock, problem = os.path.expanduser(workdir), None, None
        if self.is_writer:
            try:
                self.workdir = prepare_workdir(workdir)
                self._lock = lock_workdir(self.workdir)
            except ValueError as error:
                problem = str(error)
        try:
            # Every process of a multi-process run was started alike, and process 0 holds the
            # workdir, or all of them stop here with one line.
            agree_on_run(config_json, problem)
            # Before anything is restored or written: another run's workdir is refused here.
            check_same_run(self.workdir, self.members, config_json)
            self.checkpointer = Checkpointer(self.workdir, checkpoints_to_keep, checkpoint_name)
        except BaseException:
            self._release()
            raise
        self._outputs = outputs or default_outputs
        self._progress, self._description = progress, description
        self.records: Optional[MemberRecords] = None
        self.bar = None
        self.step = first_step
        self._summary_args: Optional[Tuple[str, Mapping, Mapping]] = None
        self.evaluator: Optional[Evaluator] = None
        self._closed = False

    @classmethod
    def for_config(cls, watch: Watch, members: Sequence[Member], config_json: str, config, **kwargs):
        """A session in ``watch``'s workdir, with its outputs, progress bar and log, and the cadence
        of a loop config (``max_steps``, ``eval_interval``, ``checkpoint_interval``,
        ``checkpoints_to_keep``, offline and online alike)."""
        return cls(
            watch.workdir,
            members,
            config_json,
            total_steps=config.max_steps,
            eval_interval=config.eval_interval,
            checkpoint_interval=config.checkpoint_interval,
            checkpoints_to_keep=config.checkpoints_to_keep,
            outputs=watch.outputs,
            progress=watch.progress,
            log=watch.log,
            **kwargs,
        )

    # -- start -------------------------------------------------------------------------------------
    def start(self, template: Any) -> Tuple[Any, Optional[Dict]]:
        """Restore the newest readable checkpoint into ``template``'s layout (or keep ``template``),
        cut the output files back to the step resumed from, and open the outputs.

        Returns ``(state, record)``; ``record`` is the checkpoint's loop record (None when starting
        afresh) and ``self.step`` the step resumed from."""
        state, record = self.checkpointer.restore_latest(template, log=self.log)
        if record is not None:
            self.step = int(record["step"])
            self.log(f"resuming from the checkpoint at step {self.step} in {self.checkpointer.directory}")
        finished = self.step >= self.first_step + self.total_steps
        # A finished phase keeps what later phases logged; otherwise rows past the step resumed from
        # (or every row of this phase, when there is no checkpoint) belonged to an attempt that died.
        cut_to = None if finished else self.step
        if cut_to is not None:
            self._refuse_to_cut_later_phases()
        outputs = None
        if self.is_writer:
            outputs = []
            files.write_configs(self.workdir, self.members, self.config_json)
            for member, directory in zip(self.members, member_dirs(self.workdir, self.members), strict=True):
                try:
                    outputs.append(self._outputs(directory, cut_to, member, json.loads(self.config_json)))
                except BaseException:
                    for opened in outputs:
                        close_all(opened)
                    raise
        self.records = MemberRecords(self.workdir, self.members, outputs, resume=record)
        self.bar = tqdm.tqdm(
            total=self.total_steps,
            initial=self.step - self.first_step,
            disable=not (self._progress and self.is_writer),
            desc=self._description,
            unit="step",
        )
        return state, record

    def _refuse_to_cut_later_phases(self) -> None:
        """A phase about to be redone from an earlier step (its newest checkpoint could not be read,
        or is gone) while a later phase (fine-tuning's online one) has logged: cutting the files
        would lose the later phase's rows, which its own finished checkpoint would not redo."""
        end = self.first_step + self.total_steps
        for directory in member_dirs(self.workdir, self.members):
            steps = [files.row_step(row) for row in files.read_rows(os.path.join(directory, files.METRICS))]
            if any(step is not None and step > end for step in steps):
                raise ValueError(
                    f"{self.checkpointer.directory} has no readable checkpoint at this phase's end (step "
                    f"{end}) but a later phase has logged past it in {directory}: redoing this phase "
                    "would drop that phase's rows. Restore the checkpoint (a <step>.damaged folder) or "
                    "use a new --workdir"
                )

    def evaluation(self, make_env, act, config, references, metric: str) -> Evaluator:
        """The phase's ``Evaluator`` (its environments are closed with the session)."""
        self.evaluator = Evaluator(self, make_env, act, config, references, metric)
        return self.evaluator

    def summary_on_exit(self, metric: str, info: Mapping, hyperparams: Mapping) -> None:
        """What ``finish`` (or a divergence) writes into summary.json besides the evaluations."""
        self._summary_args = (metric, dict(info), dict(hyperparams))

    # -- cadence -----------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.step >= self.first_step + self.total_steps

    def _due(self, step: int, interval: int) -> bool:
        local = step - self.first_step
        return local >= self.total_steps or bool(interval and local % interval == 0)

    def eval_due(self, step: int) -> bool:
        return self._due(step, self.eval_interval)

    def checkpoint_due(self, step: int) -> bool:
        return self._due(step, self.checkpoint_interval)

    # -- records -----------------------------------------------------------------------------------
    def log_train(self, step: int, metrics: Mapping, extra: Optional[Mapping] = None, advance: int = 0):
        """Check and log averaged metrics (arrays over members); raises TrainingDiverged when every
        member has diverged."""
        self.step = step
        self.records.log_train(step, metrics, extra, log=self.log)
        if advance:
            self.bar.update(advance)

    def advance(self, steps: int, step: int) -> None:
        self.step = step
        self.bar.update(steps)

    def log_eval(
        self, step: int, returns, references: Optional[Mapping], metric: str, successes=None
    ) -> None:
        self.records.log_eval(step, returns, references, successes)
        self.bar.set_postfix({metric.split("_")[0]: f"{self.records.latest_mean(metric):.1f}"})

    def save_member_arrays(self, name: str, values) -> None:
        """Save ``values[i]`` as ``<member dir>/name`` (.npy) for every live member (process 0 only)."""
        if not self.is_writer:
            return
        for i in self.records.live:
            files.save_array(os.path.join(self.records.dirs[i], name), values[i])

    def checkpoint(self, step: int, state: Any, extra_record: Optional[Mapping] = None) -> None:
        self.checkpointer.save(step, state, {**self.records.record(step), **(extra_record or {})})

    # -- end ---------------------------------------------------------------------------------------
    def finish(self) -> Dict:
        """Close the outputs and write summary.json; returns the run's summary ({} off process 0)."""
        self._close_outputs()
        summary = self._write_summary()
        self._close()
        return summary

    def _write_summary(self) -> Dict:
        if not self.is_writer or self.records is None or self._summary_args is None:
            return {}
        metric, info, hyperparams = self._summary_args
        return files.write_summaries(self.records, self.step, metric, info, hyperparams)

    def _close_outputs(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.records is not None:
            outputs, self.records.outputs = self.records.outputs, [[] for _ in self.members]
            for member_outputs in outputs:
                close_all(member_outputs)
        if self.evaluator is not None:
            self.evaluator.close()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._close_outputs()
        finally:
            try:
                self.checkpointer.close()
            finally:
                self._release()

    def _release(self) -> None:
        if self._lock is not None:
            unlock_workdir(self._lock)
            self._lock = None

    def __enter__(self) -> "RunSession":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if isinstance(error, TrainingDiverged) and not self._closed:
            # The workdir records the divergence (summary.json names who diverged, when and why), so
            # report.py lists the run as diverged rather than unfinished.
            self._close_outputs()
            self._write_summary()
        self._close()
