"""What the launchers share: run flags, the --config flag, clean exits on bad input, FINAL lines."""

import contextlib
import errno
import json
import os
import sys
from typing import Optional

from absl import app, flags
from absl import logging as absl_logging
from ml_collections import config_flags

import xql_jax.configs
from xql_jax import checks, config_args, multihost
from xql_jax import workdir as files
from xql_jax.data import DatasetError
from xql_jax.data.sources import ACCEPTED_NAMES
from xql_jax.runs import RunSpec, TrainingDiverged, Watch, parse_sweep

# The config files ship inside the package, so the defaults resolve in any install and directory.
CONFIG_DIR = os.path.dirname(os.path.abspath(xql_jax.configs.__file__))
DEFAULT_CONFIG = os.path.join(CONFIG_DIR, "maze.py")
# ml_collections raises these for an unknown or mistyped --config.* field.
_OVERRIDE_ERRORS = (AttributeError, KeyError, TypeError, ValueError)
FLAGS = flags.FLAGS
# Flags that name files or folders: a leading ~ is expanded (the shell leaves --flag=~/x alone).
PATH_FLAGS = (
    "config",
    "workdir",
    "dataset_path",
    "data_dir",
    "behavior_run",
    "export_behavior",
    "policy_dir",
    "out",
)


def expand_user_paths(argv):
    """``argv`` with ``~`` expanded in ``--<path flag>=~...`` (and ``--config=~/c.py:variant``)."""
    expanded = []
    for arg in argv:
        name, sep, value = arg.lstrip("-").partition("=")
        if arg.startswith("-") and sep and name in PATH_FLAGS and value.startswith("~"):
            arg = f"{arg[: len(arg) - len(value)]}{os.path.expanduser(value)}"
        expanded.append(arg)
    return expanded


def _exit_with(error: BaseException):
    detail = str(error.args[0] if error.args else error)
    if len(detail) > 1 and detail[0] == detail[-1] == "'":  # ml_collections nests a repr in the message
        detail = detail[1:-1].replace("\\'", "'").replace("\\n", " ")
    sys.exit(f"error: bad --config override: {' '.join(detail.split())}")


def _define_member_flags(default_config: str) -> None:
    flags.DEFINE_integer("seed", 0, "First seed; seeds seed .. seed + num_seeds - 1 run.")
    flags.DEFINE_integer("num_seeds", 1, "Seeds trained together in one program.")
    flags.DEFINE_multi_string(
        "sweep",
        [],
        "NAME=v1,v2,... : train these values of a scalar hyperparameter (beta, discount; offline also "
        "awr_temperature, expectile) alongside the seeds; repeat the flag for a grid.",
    )
    flags.DEFINE_enum("shard", "auto", ["auto", "true", "false"], "Lay the members over all devices.")
    flags.DEFINE_string(
        "wandb_project", None, "Also log to Weights & Biases, one run per member (pip extra [wandb])."
    )
    flags.DEFINE_string("wandb_entity", None, "wandb entity (team or user); default: yours.")
    flags.DEFINE_string("wandb_group", None, "wandb group; default: the workdir.")
    flags.DEFINE_enum(
        "wandb_mode", None, ["online", "offline"], "wandb mode; default: $WANDB_MODE or online."
    )
    flags.DEFINE_bool("progress", True, "Show a tqdm progress bar.")
    _define_process_flags()
    # ml_collections reads sys.argv itself; its errors for a missing file, an unknown variant or an
    # unknown field are tracebacks, so the config file and the override names are checked first.
    sys.argv[:] = config_args.last_config_overrides(expand_user_paths(sys.argv))
    try:
        config_args.check_config_args(sys.argv[1:], default_config)
    except ValueError as e:
        sys.exit(f"error: {e}")
    try:
        # With a default file, DEFINE_config_file already applies the command line's overrides.
        config_flags.DEFINE_config_file("config", default_config, "ml_collections config file[:variant].")
    except _OVERRIDE_ERRORS as e:
        _exit_with(e)


def _define_process_flags() -> None:
    """One run over several processes (hosts): every process starts the same command."""
    flags.DEFINE_enum(
        "multihost",
        "off",
        ["off", "auto"],
        "auto: join the processes of a cluster job JAX detects (SLURM, Open MPI, Cloud TPU), with "
        "no other flag; off: one process, unless --coordinator_address is given.",
    )
    flags.DEFINE_string(
        "coordinator_address", None, "Several processes: host:port of process 0 (jax.distributed)."
    )
    flags.DEFINE_integer("num_processes", None, "Several processes: how many.")
    flags.DEFINE_integer("process_id", None, "Several processes: this one's index, 0 .. N-1.")
    flags.DEFINE_integer(
        "heartbeat_timeout",
        multihost.DEFAULT_HEARTBEAT_TIMEOUT,
        "Several processes: seconds after which a silent process counts as lost.",
    )


def join_processes() -> None:
    """Join the other processes of a multi-process run (--multihost / --coordinator_address flags);
    a launcher calls it before anything touches JAX. Bad values end the launcher in one line."""
    try:
        multihost.initialize(
            FLAGS.coordinator_address,
            FLAGS.num_processes,
            FLAGS.process_id,
            auto=FLAGS.multihost == "auto",
            heartbeat_timeout=FLAGS.heartbeat_timeout,
        )
    except ValueError as e:
        sys.exit(f"error: {e}")


def define_run_flags(default_config: str = DEFAULT_CONFIG) -> None:
    """Flags of every offline launcher: data, seeds, sweeps, devices, and the config file."""
    flags.DEFINE_string(
        "env_name",
        "pointmaze-umaze-v0",
        f"Dataset name (resolved by xql_jax.data.sources): {ACCEPTED_NAMES}.",
    )
    flags.DEFINE_string(
        "dataset_path", None, "D4RL-layout HDF5 file to train on; --env_name then names its environment."
    )
    flags.DEFINE_string(
        "data_dir",
        None,
        "Where embedded and made datasets live (default $XQL_DATA_DIR or ~/.cache/xql_jax/datasets).",
    )
    flags.DEFINE_bool(
        "download",
        False,
        "Fetch the dataset first if it is missing: a D4RL name from D4RL's URL into $D4RL_DATASET_DIR (or "
        "to --dataset_path), minari:<id> through Minari's download (xql_jax.data.download).",
    )
    _define_member_flags(default_config)


def define_online_flags(default_config: str) -> None:
    """Flags of the online launcher: environment, seeds, sweeps, devices, config, workdir."""
    flags.DEFINE_string("env_name", "cheetah-run", "DeepMind Control domain-task, or a gymnasium id.")
    flags.DEFINE_string("workdir", None, "Output folder; default runs/<env_name>/<variant>_seed<seed>.")
    _define_member_flags(os.path.join(CONFIG_DIR, default_config))


def parse_flags(argv):
    """absl's parser (for app.run) with ``~`` expanded in path flags, and a bad flag value ending the
    launcher with one line instead of absl's FATAL block."""
    # app.run passes sys.argv itself, which ml_collections reads.
    argv[:] = config_args.last_config_overrides(expand_user_paths(argv))
    try:
        remaining = FLAGS(argv)
    except flags.Error as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        detail = f"{lines[0]} {lines[-1]}" if "Traceback" in str(e) else " ".join(lines)
        sys.exit(f"error: {detail}")
    except _OVERRIDE_ERRORS as e:
        _exit_with(e)
    if not FLAGS["verbosity"].present:
        # Orbax logs every checkpoint step at INFO (dozens of lines per save); --verbosity=0 shows them.
        absl_logging.set_verbosity(absl_logging.WARNING)
    return remaining


def outputs_from_flags(workdir: str):
    """The loops' outputs: files and TensorBoard, and wandb with --wandb_project (checked here, before
    anything compiles, that wandb is installed)."""
    if not FLAGS.wandb_project:
        return None
    import importlib.util

    from xql_jax.outputs import wandb_outputs

    if importlib.util.find_spec("wandb") is None:
        sys.exit("error: --wandb_project needs wandb, which is not installed: pip install -e '.[wandb]'")
    settings = {
        "project": FLAGS.wandb_project,
        "entity": FLAGS.wandb_entity,
        "group": FLAGS.wandb_group,
        "mode": FLAGS.wandb_mode,
    }
    return wandb_outputs(settings, workdir)


def sweep_from_flags():
    """--sweep flags as {name: values}; a malformed or repeated --sweep ends the launcher in one line."""
    try:
        checks.check_sweep_flags(FLAGS.sweep)
        return parse_sweep(FLAGS.sweep)
    except ValueError as e:
        sys.exit(f"error: {e}")


def spec_from_flags(sweep=None) -> RunSpec:
    """What the run is, from the flags: --env_name, its seeds, ``sweep``, and (offline launchers)
    --dataset_path and --data_dir."""
    data = "dataset_path" in FLAGS
    return RunSpec(
        FLAGS.env_name,
        dataset_path=FLAGS.dataset_path if data else None,
        data_dir=FLAGS.data_dir if data else None,
        seed=FLAGS.seed,
        num_seeds=FLAGS.num_seeds,
        sweep=sweep,
    )


def watch_from_flags(workdir: str) -> Watch:
    """How the run is watched, from the flags: ``workdir``, progress bar, outputs (wandb with
    --wandb_project) and devices."""
    return Watch(workdir, progress=FLAGS.progress, outputs=outputs_from_flags(workdir), shard=shard_flag())


def shard_flag():
    return {"auto": None, "true": True, "false": False}[FLAGS.shard]


RESUME_HINT = "start the same command again: the run resumes from its last checkpoint"
# A full disk or quota: one line, as at a checkpoint, rather than the OSError's traceback.
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def exit_on_errors(context: str = "", workdir: Optional[str] = None, resume_hint: str = RESUME_HINT):
    """Bad input, divergence, a full disk or Ctrl-C end the launcher with one line naming the problem
    (and how to go on), no traceback; so does a lost process of a multi-process run (the line names
    it and how to resume ``workdir``)."""
    try:
        yield
    except KeyboardInterrupt:
        print(f"interrupted{context}: {resume_hint}", file=sys.stderr)
        sys.exit(130)  # the shell's code for a Ctrl-C
    except Exception as e:  # noqa: BLE001  (a collective's failure comes as ValueError or JaxRuntimeError)
        lost = multihost.lost_process_message(e, workdir)
        if lost:
            multihost.exit_now(f"error{context}: {lost}")
        if isinstance(e, (DatasetError, ValueError, TrainingDiverged)):
            multihost.stop_all(f"error{context}: {e}")  # sys.exit, telling the other processes first
        if isinstance(e, OSError) and e.errno in _NO_SPACE:
            where = f" writing {e.filename}" if e.filename else ""
            multihost.stop_all(
                f"error{context}: no space left on the device{where}: free some, then {resume_hint}"
            )
        raise


def fetch_from_flags() -> None:
    """With --download, the dataset --env_name names downloaded unless it is there already (names
    that download nothing, like the embedded or made datasets, are left to the run)."""
    if not FLAGS.download:
        return
    from xql_jax.data import download

    if download.downloadable(FLAGS.env_name):
        download.fetch(FLAGS.env_name, FLAGS.dataset_path, progress=FLAGS.progress)


def train_from_flags(config, workdir: str, context: str = "", keep_going: bool = False) -> dict:
    """train_offline with the run flags; bad input or divergence exits with one line, no traceback.

    With ``keep_going`` a run whose every member diverged returns the summary.json it left (naming
    who diverged and why) instead of exiting, so a sweep goes on with its other settings."""
    from xql_jax.train import train_offline

    sweep = sweep_from_flags()
    with exit_on_errors(context, workdir):
        fetch_from_flags()
        try:
            return train_offline(config, spec_from_flags(sweep), watch_from_flags(workdir))
        except TrainingDiverged as e:
            summary_path = os.path.join(os.path.expanduser(workdir), files.SUMMARY)
            if not keep_going or not os.path.exists(summary_path):
                raise
            import jax

            if jax.process_index() != 0:
                return {}  # only process 0 reports, as with a run that did not diverge
            print(f"error{context}: {e}")
            return json.load(open(summary_path))


def labelled_workdirs(specs, several: bool = True):
    """Parse --runs entries LABEL=workdir[+workdir...] into [(label, [workdir, ...])]."""
    runs = []
    for spec in specs:
        label, sep, dirs = spec.partition("=")
        workdirs = [os.path.expanduser(d) for d in dirs.split("+")] if dirs else []
        if not sep or not label or not workdirs or (not several and len(workdirs) != 1):
            expected = "LABEL=workdir[+workdir...]" if several else "LABEL=workdir"
            raise app.UsageError(f"--runs entry {spec!r}: expected {expected}")
        runs.append((label, workdirs))
    return runs


def print_final(summary: dict, env_name: str, algo: str, seed: int) -> None:
    """One FINAL line per group: the last and best evaluation (mean +- std over seeds)."""
    if not summary:  # not the writing process of a multi-host run
        return
    if "groups" not in summary:
        best = "none" if summary["best"] is None else f"{summary['best']:.1f}"
        last = "diverged" if summary["last"] is None else f"{summary['last']:.1f}"
        print(
            f"FINAL {env_name} {algo} seed={seed}: {summary['metric']} last={last} best={best} (best over "
            f"evaluations, step {summary['best_step']}) after {summary['steps']} steps, "
            f"{summary['wall_time']:.0f}s"
        )
        return
    for label, group in summary["groups"].items():
        last, best = group["last"], group["best"]
        if last["n"] == 0:
            print(f"FINAL {env_name} {algo} {label}: every member diverged")
            continue
        print(
            f"FINAL {env_name} {algo} {label}: {summary['metric']} last={last['mean']:.1f} "
            f"+- {last['std']:.1f} best={best['mean']:.1f} +- {best['std']:.1f} (mean +- std over "
            f"{last['n']} seeds) after {summary['steps']} steps, {summary['wall_time']:.0f}s"
        )
    if summary["diverged"]:
        print(f"diverged: {summary['diverged']}")
