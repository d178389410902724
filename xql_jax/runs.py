"""Machinery shared by the training loops: members, devices, divergence, per-member records.

A run trains one or more *members* in one program: every member is a (seed, hyperparameter
override) pair and the learner states are stacked along a leading member axis. ``jax.vmap`` runs
the members side by side; on a CPU the offline chunk runs them one after another
(``members_in_sequence``, ``over_members``). With several devices the member axis is laid over all
of them (``jax.sharding``).
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from xql_jax.evaluation import normalized_score
from xql_jax.workdir import member_dirs

MEMBER_AXIS = "members"

# A finite loss above this is treated as divergence too: with the paper's reward scales healthy
# losses stay many orders of magnitude below it.
EXPLODING_LOSS = 1e8


class TrainingDiverged(RuntimeError):
    """A loss or statistic became non-finite or exploded; the message names the step and the quantity."""


@dataclasses.dataclass(frozen=True)
class Member:
    """One learner of a multi-member run: its seed and its overrides of sweepable hyperparameters."""

    seed: int
    hyperparams: Dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def name(self) -> str:
        overrides = "".join(f"_{k}{v:g}" for k, v in sorted(self.hyperparams.items()))
        return f"seed{self.seed}{overrides}"


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """What a run is: the data it trains on and its members (the same settings resume the same run).

    ``name`` is a dataset name offline and in fine-tuning (``xql_jax.data.sources``), an environment
    id online. Members are seeds ``seed .. seed + num_seeds - 1`` for every combination of ``sweep``
    values (e.g. ``{"beta": [1, 2, 5]}``).
    """

    name: str
    dataset_path: Optional[str] = None  # a dataset file in place of the name's default location
    data_dir: Optional[str] = None  # where named datasets are looked for
    seed: int = 0
    num_seeds: int = 1
    sweep: Optional[Mapping[str, Sequence[float]]] = None

    @property
    def seeds(self) -> range:
        return range(self.seed, self.seed + self.num_seeds)


@dataclasses.dataclass(frozen=True)
class Watch:
    """How a run is watched: where it writes, what it shows, and how its members lie over devices."""

    workdir: str
    progress: bool = True  # the progress bar (process 0)
    log: Callable[[str], None] = print
    outputs: Optional[Callable] = None  # an ``xql_jax.outputs.OutputFactory``; None: files and TensorBoard
    shard: Optional[bool] = None  # the member axis over all devices (None: when they divide it)


def make_members(
    seeds: Sequence[int], sweep: Optional[Dict[str, Sequence[float]]] = None, sweepable: Sequence[str] = ()
) -> List[Member]:
    """Every seed for every combination of the swept values (a grid)."""
    sweep = dict(sweep or {})
    unknown = sorted(set(sweep) - set(sweepable))
    if unknown:
        raise ValueError(
            f"cannot sweep {unknown} in one program; sweepable: {list(sweepable)} "
            "(sweep other fields, e.g. batch_size, with separate runs: experiments/sweep.py)"
        )
    for name, values in sweep.items():
        if not values:
            raise ValueError(f"sweep over {name} has no values")
        if name == "beta" and min(values) <= 0:
            raise ValueError(f"beta values must be positive, got {list(values)}")
    names = sorted(sweep)
    members = [
        Member(seed, dict(zip(names, combo, strict=True)))
        for combo in itertools.product(*(sweep[n] for n in names))
        for seed in seeds
    ]
    seen = set()
    for member in members:
        if member.name in seen:  # one directory, one checkpoint slot, one row stream for two learners
            raise ValueError(
                f"two members would both be named {member.name}: give each --sweep value once, with "
                "values that differ in their first 6 significant digits"
            )
        seen.add(member.name)
    return members


def stacked_states(module, members: Sequence[Member], observation_dim: int, action_dim: int, config):
    """Learner states of ``module`` (xql, sac or td3) stacked along a leading member axis.

    Each member's state starts from PRNGKey(seed) and holds its overrides of ``module.SWEEPABLE``.
    """
    keys = jnp.stack([jax.random.PRNGKey(m.seed) for m in members])
    hyperparams = {
        name: jnp.asarray([m.hyperparams.get(name, getattr(config, name)) for m in members], jnp.float32)
        for name in module.SWEEPABLE
    }
    create = lambda key, h: module.create_state(key, observation_dim, action_dim, config, h)  # noqa: E731
    return jax.jit(jax.vmap(create))(keys, hyperparams)


def members_in_sequence(mesh: Optional[Mesh]) -> bool:
    """Whether the offline loop's chunk runs its members one after another (``lax.map``) rather than
    side by side (``jax.vmap``): on a CPU, unless they are sharded over several devices.

    Measured on a 2-core CPU with the main job's learner (256x256 networks, batch 256, chunks of
    1,000 scanned updates, ``benchmark.py --parts=mainjob [--mainjob_members=4]``): one member takes
    3.9 ms per update in sequence against 5.4 ms under a one-member vmap (1.35-1.40x), four members 15.5
    ms against 18.5 ms (1.19x): XLA's CPU kernels for the stacked shapes (a leading member axis on
    every array) are slower. A GPU or TPU is filled by the vmap instead. The online loop's learn call
    gained nothing in sequence (measured at 7ec3a5e, X-TD3 and X-SAC: 1.02-1.04x with one member,
    0.93-0.98x with four), so it stays vmapped. The two ways round differently in the last bits.
    """
    return jax.default_backend() == "cpu" and (mesh is None or mesh.devices.size == 1)


def over_members(fn: Callable, sequential: bool, in_axes: Sequence[Optional[int]]) -> Callable:
    """``fn`` of one member's arrays as a function of member-stacked arrays: ``jax.vmap(fn, in_axes)``,
    or with ``sequential`` one member after another (``jax.lax.map``; XLA compiles a loop of one trip
    as the plain program). ``in_axes`` holds 0 for a member-stacked argument and None for a shared
    one; the outputs are member-stacked either way.
    """
    if any(axis not in (0, None) for axis in in_axes):
        raise ValueError(f"in_axes must be 0 (member-stacked) or None (shared), got {tuple(in_axes)}")
    if not sequential:
        return jax.vmap(fn, in_axes=tuple(in_axes))

    def in_sequence(*args):
        if len(args) != len(in_axes):
            raise TypeError(f"expected {len(in_axes)} arguments, got {len(args)}")
        stacked = tuple(a for a, axis in zip(args, in_axes, strict=True) if axis == 0)

        def one(member_args):
            it = iter(member_args)
            return fn(*(next(it) if axis == 0 else a for a, axis in zip(args, in_axes, strict=True)))

        return jax.lax.map(one, stacked)

    return in_sequence


def parse_sweep(specs: Sequence[str]) -> Dict[str, List[float]]:
    """Parse ["beta=1,2,5", ...] (the launchers' --sweep flags) into {"beta": [1.0, 2.0, 5.0]}."""
    sweep = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        try:
            sweep[name.strip()] = [float(v) for v in values.split(",")]
        except ValueError:
            raise ValueError(f"--sweep={spec}: expected NAME=v1,v2,... with numbers") from None
        if not sep:
            raise ValueError(f"--sweep={spec}: expected NAME=v1,v2,...")
    return sweep


def member_mesh(num_members: int, shard: Optional[bool] = None, log=print) -> Optional[Mesh]:
    """A 1-D mesh over all devices for the member axis, or None to stay on one device.

    ``shard=None`` shards when there are several devices and they divide the members evenly.
    """
    devices = jax.devices()
    if jax.process_count() > 1 and (shard is False or num_members % len(devices)):
        # Every process would hold every member and the gathers would double them.
        raise ValueError(
            f"a run over {jax.process_count()} processes shards its members over all {len(devices)} "
            f"devices: choose num_seeds x sweep size as a multiple of {len(devices)} ({num_members} "
            "members now), and not --shard=false"
        )
    if shard is False or (shard is None and len(devices) == 1):
        return None
    if num_members % len(devices):
        if shard:
            raise ValueError(
                f"{num_members} members cannot be split evenly over {len(devices)} devices; "
                "choose num_seeds x sweep size as a multiple of the device count, or --shard=false"
            )
        log(f"{num_members} members do not divide over {len(devices)} devices: running on one device")
        return None
    return Mesh(np.asarray(devices), (MEMBER_AXIS,))


class MemberLayout:
    """Which members this process holds, and moves between its local rows and global arrays.

    With one process every member is local and arrays pass through. Over several processes
    (``jax.distributed``) the member axis is sharded over every device of every process; each
    process steps the environments of the members on its own devices, and its rows become the
    global array's shards (``jax.make_array_from_process_local_data``).
    """

    def __init__(self, num_members: int, mesh: Optional[Mesh]):
        self.num_members = num_members
        self.sharding = None
        self.local_indices = list(range(num_members))
        if mesh is not None and jax.process_count() > 1:
            devices = mesh.devices.reshape(-1)
            per_device = num_members // len(devices)
            self.sharding = NamedSharding(mesh, PartitionSpec(MEMBER_AXIS))
            self.local_indices = [
                i for i in range(num_members) if devices[i // per_device].process_index == jax.process_index()
            ]
        self._mesh = mesh

    def put(self, tree):
        """Lay member-stacked arrays (the same values on every process) over the mesh."""
        sharding = NamedSharding(self._mesh, PartitionSpec(MEMBER_AXIS))
        if jax.process_count() == 1:
            return jax.device_put(tree, sharding)

        def put(x):
            if isinstance(x, jax.Array) and not x.is_fully_addressable:  # already global (fine-tuning)
                return jax.device_put(x, sharding)
            x = np.asarray(x)
            return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

        return jax.tree_util.tree_map(put, tree)

    def to_global(self, local_rows: np.ndarray):
        """This process's rows (its members, in order) as the global member-stacked array."""
        if self.sharding is None:
            return local_rows
        return jax.tree_util.tree_map(
            lambda x: jax.make_array_from_process_local_data(
                self.sharding, np.asarray(x), (self.num_members,) + np.shape(x)[1:]
            ),
            local_rows,
        )

    def to_local(self, global_array) -> np.ndarray:
        """This process's rows of a member-stacked global array."""
        if self.sharding is None:
            return np.asarray(global_array)
        shards = sorted(global_array.addressable_shards, key=lambda shard: shard.index[0].start or 0)
        return np.concatenate([np.asarray(shard.data) for shard in shards])

    def gather(self, local_rows: np.ndarray) -> np.ndarray:
        """Every member's rows on every process (a collective)."""
        if self.sharding is None:
            return np.asarray(local_rows)
        return np.asarray(multihost_utils.process_allgather(np.asarray(local_rows), tiled=True))


def to_host(tree):
    """Fetch arrays to numpy; across processes the member axis is gathered first."""
    if jax.process_count() > 1:
        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


def divergence(metrics: Mapping[str, float], step: int) -> Optional[str]:
    """A message naming the step and the quantity when a metric is non-finite or a loss exploded.

    ``nonfinite_params`` (if present) counts parameter values that are NaN or infinite.
    """
    if metrics.get("nonfinite_params", 0) > 0:
        count = int(metrics["nonfinite_params"])
        return f"training diverged at step {step}: {count} parameter values are not finite"
    for name, value in metrics.items():
        if not np.isfinite(value):
            return f"training diverged at step {step}: {name} = {value} (not finite)"
        if name.endswith("loss") and abs(value) > EXPLODING_LOSS:
            return f"training diverged at step {step}: {name} = {value:.3g} exceeds {EXPLODING_LOSS:.0e}"
    return None


def count_nonfinite(*trees) -> jax.Array:
    """Number of NaN or infinite values in the arrays of ``trees`` (jittable)."""
    leaves = jax.tree_util.tree_leaves(trees)
    return sum(jnp.sum(~jnp.isfinite(leaf)) for leaf in leaves).astype(jnp.float32)


class MemberRecords:
    """What a run knows of each member: its evaluations and whether (and why) it diverged.

    It checks every logged row for divergence, keeps the evaluations that summaries and checkpoints
    need, and passes rows on to each member's outputs (``xql_jax.outputs.RunLogger``, optionally
    ``xql_jax.tracking.WandbLogger``), which the loop creates and injects; a process that does not
    write (in a multi-process run, all but process 0) passes none. It writes no file itself: the
    summaries are ``xql_jax.workdir.write_summaries`` of these records.
    """

    def __init__(
        self,
        workdir: str,
        members: Sequence[Member],
        outputs: Optional[Sequence[Sequence]] = None,
        resume: Optional[Mapping] = None,
    ):
        """``outputs[i]`` are member i's outputs (each with ``log_train``, ``log_eval``, ``close``);
        None writes nothing. ``resume`` is the ``record()`` of a checkpoint to continue from."""
        self.workdir = workdir
        self.members = list(members)
        self.writer = outputs is not None
        self.dirs = member_dirs(workdir, self.members)
        self.outputs: List[Sequence] = list(outputs) if outputs is not None else [[] for _ in self.members]
        self.evaluations: List[List[Dict]] = [[] for _ in self.members]
        self.diverged: Dict[int, str] = {}
        self.start = time.time()
        if resume is not None:
            if list(resume["members"]) != [m.name for m in self.members]:
                raise ValueError(
                    f"the checkpoint in {workdir} holds members {resume['members']}, this run has "
                    f"{[m.name for m in self.members]}: use a new --workdir or the same seeds and sweep"
                )
            self.evaluations = [list(e) for e in resume["evaluations"]]
            self.diverged = {int(i): message for i, message in resume["diverged"].items()}
            self.start -= float(resume["wall_time"])

    def record(self, step: int) -> Dict:
        """What a checkpoint stores about the run besides the learner state (JSON-serialisable)."""
        return {
            "step": step,
            "members": [m.name for m in self.members],
            "evaluations": self.evaluations,
            "diverged": {str(i): message for i, message in self.diverged.items()},
            "wall_time": time.time() - self.start,
        }

    @property
    def live(self) -> List[int]:
        return [i for i in range(len(self.members)) if i not in self.diverged]

    def log_train(
        self, step: int, metrics: Mapping[str, np.ndarray], extra: Optional[Mapping] = None, log=print
    ):
        """Check every live member's averaged metrics (arrays over members) for divergence, then log them.

        A member that diverges is dropped from logging and evaluation; when none is left the run
        stops with TrainingDiverged naming the step and the quantity.
        """
        for i in self.live:
            member_metrics = {k: float(v[i]) for k, v in metrics.items()}
            message = divergence(member_metrics, step)
            if message:
                self.diverged[i] = message
                log(f"{self.members[i].name}: {message}")
            elif self.writer:
                row = {k: v for k, v in member_metrics.items() if k != "nonfinite_params"}
                for name, value in (extra or {}).items():
                    row[name] = value[i] if isinstance(value, (list, np.ndarray)) else value
                row = {k: v for k, v in row.items() if v is not None}
                for output in self.outputs[i]:
                    output.log_train(step, row)
        if not self.live:
            if len(self.members) == 1:
                raise TrainingDiverged(self.diverged[0])
            raise TrainingDiverged(f"every member diverged: {self.diverged}")

    def log_eval(
        self,
        step: int,
        returns: np.ndarray,
        references: Optional[Dict[str, float]],
        successes: Optional[np.ndarray] = None,
    ) -> None:
        """Record evaluation returns [members, episodes] of the live members, and with ``successes``
        (0/1, same shape) the success rate in percent, as OGBench's papers report it."""
        for i in self.live:
            scores = normalized_score(returns[i], references)
            result = {
                "return_mean": float(returns[i].mean()),
                "return_std": float(returns[i].std()),
                "normalized_score": None if scores is None else float(scores.mean()),
                "normalized_score_std": None if scores is None else float(scores.std()),
            }
            if successes is not None:
                result["success_rate"] = 100.0 * float(np.mean(successes[i]))
            result["wall_time"] = time.time() - self.start
            for output in self.outputs[i]:
                output.log_eval(step, result)
            self.evaluations[i].append({"step": step, **result})

    def latest_mean(self, metric: str) -> float:
        return float(np.mean([self.evaluations[i][-1][metric] for i in self.live if self.evaluations[i]]))
