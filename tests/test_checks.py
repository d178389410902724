"""Bad input is refused in one line naming the field or file and the fix, before anything compiles."""

import functools
import json
import os
import sys

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.conftest import ROOT, run_script
from xql_jax import checks, config_args, losses
from xql_jax.configs import base, maze, online
from xql_jax.data import DatasetError, prepare, sources
from xql_jax.data.dataset import (
    data_file,
    load_d4rl_hdf5,
    references_path,
)
from xql_jax.envs import make_env, make_online_env, unit_actions
from xql_jax.runs import RunSpec, Watch

MAZE = os.path.join(ROOT, "configs", "maze.py")


def _write(path, obs_dim, act_dim, actions=None, terminals=None, references=None, steps=40):
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        f["observations"] = rng.normal(size=(steps, obs_dim)).astype(np.float32)
        f["actions"] = rng.uniform(-1, 1, (steps, act_dim)).astype(np.float32) if actions is None else actions
        f["rewards"] = rng.normal(size=steps).astype(np.float32)
        f["terminals"] = np.zeros(steps, bool) if terminals is None else terminals
        timeouts = np.zeros(steps, bool)
        timeouts[-1] = True
        f["timeouts"] = timeouts
    if references is not None:
        json.dump(references, open(references_path(str(path)), "w"))
    return str(path)


def _launch(script, args, **env):
    return run_script(script, args, timeout=120, env=env)


def _one_line_error(result) -> str:
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr[-2000:]
    return lines[0]


def test_config_file_and_variant_errors_name_the_file_and_its_variants(tmp_path):
    with pytest.raises(
        ValueError, match=r"--config file .*absent\.py not found; the shipped configs are .*maze\.py"
    ):
        config_args.check_config_args([f"--config={tmp_path}/absent.py"], MAZE)
    with pytest.raises(
        ValueError, match=r"^--config=.*maze\.py:nope: unknown config variant 'nope'; use 'xql' or 'iql'$"
    ):
        config_args.check_config_args(["--config", f"{MAZE}:nope"], MAZE)
    online_file = os.path.join(ROOT, "configs", "online.py")
    with pytest.raises(ValueError, match=r"unknown config variant 'x'; use one of \('xsac', 'sac'"):
        config_args.check_config_args([f"--config={online_file}:x"], MAZE)
    broken = tmp_path / "broken.py"
    broken.write_text("def get_config(:\n")
    with pytest.raises(ValueError, match=r"--config file .*broken\.py does not load: SyntaxError"):
        config_args.check_config_args([f"--config={broken}"], MAZE)
    config_args.check_config_args([f"--config={MAZE}:iql", "--config.agent.beta=3"], MAZE)  # fine as it is


def test_unknown_config_field_names_the_field_and_the_valid_ones():
    with pytest.raises(ValueError) as error:
        config_args.check_config_args(["--config.x=1"], MAZE)
    assert str(error.value).startswith(
        "--config.x=1: unknown config field x; config has ['agent', 'batch_size'"
    )
    with pytest.raises(
        ValueError, match=r"unknown config field agent.betta; did you mean beta\? config.agent has"
    ):
        config_args.check_config_args(["--config.agent.betta=1"], MAZE)
    with pytest.raises(ValueError, match=r"config.agent.beta is a float, it has no field 'x'"):
        config_args.check_config_args(["--config.agent.beta.x=1"], MAZE)
    with pytest.raises(
        ValueError, match=r"max_clip=None: .* cannot be set to None .*; pass inf for no clipping"
    ):
        config_args.check_config_args(["--config.agent.max_clip=None"], MAZE)
    config_args.check_config_args(["--config.agent.max_clip=inf", "--noconfig.agent.double_q"], MAZE)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("discount", 1.5, r"config.agent.discount must lie in \(0, 1\], got 1.5"),
        ("discount", 0.0, r"config.agent.discount must lie in \(0, 1\], got 0.0"),
        ("expectile", 1.0, r"config.agent.expectile must lie in \(0, 1\), got 1.0"),
        ("beta", 0.0, r"config.agent.beta must be > 0, got 0.0"),
        ("tau", 0.0, r"config.agent.tau must lie in \(0, 1\], got 0.0"),
        ("actor_lr", -1e-4, r"config.agent.actor_lr must be > 0, got -0.0001"),
        ("value_lr", float("nan"), r"config.agent.value_lr must be > 0, got nan"),
        ("max_clip", 0.0, r"config.agent.max_clip must be > 0 \(inf: no clipping\), got 0.0"),
        # beta = inf made every z 0 (V never trained); an infinite AWR temperature clips every weight
        ("beta", float("inf"), r"config.agent.beta must be finite, got inf"),
        ("awr_temperature", float("inf"), r"config.agent.awr_temperature must be finite, got inf"),
        ("hidden_dims", ("abc",), r"config.agent.hidden_dims must be layer widths, .* got \('abc',\)"),
        (
            "hidden_dims",
            (0,),
            r"config.agent.hidden_dims must be layer widths, positive integers .* got \(0,\)",
        ),
    ],
)
def test_learner_fields_out_of_range_are_refused(field, value, message):
    config = maze.get_config()
    config.agent[field] = value
    with pytest.raises(ValueError, match=message):
        checks.check_offline_config(config)


def test_online_and_loop_fields_are_checked():
    config = online.get_config("xsac")
    config.agent.temperature_lr = 0.0
    with pytest.raises(ValueError, match=r"config.agent.temperature_lr must be > 0, got 0.0"):
        checks.check_online_config(config)
    config = online.get_config("xtd3")
    config.agent.discount = 2.0
    with pytest.raises(ValueError, match=r"config.agent.discount must lie in \(0, 1\]"):
        checks.check_online_config(config)
    config = base.get_config()
    config.reward_preprocessing = "atari"
    with pytest.raises(
        ValueError, match="config.reward_preprocessing must be 'locomotion', 'antmaze' or 'none'"
    ):
        checks.check_offline_config(config)
    config = base.get_config()
    config.agent.max_clip = float("inf")  # no clipping: accepted
    checks.check_offline_config(config)
    checks.check_online_config(online.get_config("xsac"))  # beta None (filled per task) is not refused
    config = online.get_config("xtd3")
    config.updates_per_step = 0  # was accepted, then reported as "training diverged ... nan"
    with pytest.raises(ValueError, match=r"config.updates_per_step must be >= 1 .*got 0"):
        checks.check_online_config(config)
    config = online.get_config("xtd3")
    config.update(max_steps=150, start_steps=200)  # only warm-up actions: it never learned
    with pytest.raises(ValueError, match=r"config.start_steps \(200\) is not below config.max_steps \(150\)"):
        checks.check_online_config(config)


def test_a_repeated_config_override_keeps_the_last_value_as_absl_flags_do():
    from absl import flags
    from ml_collections import config_flags

    argv = [
        "prog",
        f"--config={MAZE}",
        "--config.agent.hidden_dims=(64,64)",
        "--config.agent.hidden_dims=(16,)",
    ]
    assert config_args.last_config_overrides(argv) == [
        "prog",
        f"--config={MAZE}",
        "--config.agent.hidden_dims=(16,)",
    ]
    widths = []
    saved = list(sys.argv)
    try:
        for args in (argv, config_args.last_config_overrides(argv)):
            sys.argv[:] = args  # ml_collections reads the overrides from sys.argv
            values = flags.FlagValues()
            config_flags.DEFINE_config_file("config", MAZE, "", flag_values=values)
            values(args)
            widths.append(tuple(values.config.agent.hidden_dims))
    finally:
        sys.argv[:] = saved
    assert widths == [(64, 64, 16), (16,)]  # ml_collections alone appended the second tuple


def test_a_batch_larger_than_the_dataset_is_refused_before_training(tmp_path):
    from xql_jax.train import train_offline

    config = maze.get_config()
    config.batch_size = 100
    path = _write(tmp_path / "b.hdf5", 3, 1)  # 40 rows, 39 transitions
    with pytest.raises(ValueError, match=r"config.batch_size \(100\) exceeds the 39 transitions of .*b.hdf5"):
        train_offline(
            config, RunSpec("Pendulum-v1", dataset_path=path), Watch(str(tmp_path / "run"), progress=False)
        )
    assert not os.path.exists(tmp_path / "run")


def test_seeds_and_sweeps_are_checked():
    for num_seeds in (0, -3):
        with pytest.raises(
            ValueError, match=f"num_seeds \\(--num_seeds\\) must be at least 1, got {num_seeds}"
        ):
            checks.check_members(num_seeds)
    with pytest.raises(
        ValueError, match=r"--sweep=discount=...: config.agent.discount must lie in \(0, 1\], got 1.5"
    ):
        checks.check_members(2, {"discount": [0.9, 1.5]})
    checks.check_members(2, {"beta": [1.0, 5.0]})
    with pytest.raises(ValueError, match=r"--sweep=beta=...: config.agent.beta must be finite, got inf"):
        checks.check_members(2, {"beta": [1.0, float("inf")]})
    # Environments take seeds >= 0: --seed=-5 trained, then crashed in gymnasium at the first evaluation.
    with pytest.raises(ValueError, match=r"seed \(--seed\) must be >= 0, got -5"):
        checks.check_members(1, None, seed=-5)
    with pytest.raises(
        ValueError, match="--sweep=beta=1 and --sweep=beta=2 both sweep beta: give its values once"
    ):
        checks.check_sweep_flags(["beta=1", "discount=0.9", "beta=2"])
    checks.check_sweep_flags(["beta=1,2", "discount=0.9,0.99"])


def test_no_clipping_with_inf_is_the_unclipped_loss_with_finite_gradients():
    diff = jnp.array([-30.0, -1.0, 0.5, 2.0, 40.0])  # z up to 20: above every clip the configs use
    for clip_below in (False, True):
        for normalize in (False, True):
            unclipped = losses.gumbel_loss(diff, 2.0, None, normalize, clip_below)
            infinite = losses.gumbel_loss(diff, 2.0, float("inf"), normalize, clip_below)
            np.testing.assert_array_equal(infinite, unclipped)
            loss = functools.partial(
                losses.gumbel_loss,
                beta=2.0,
                max_clip=float("inf"),
                max_normalize=normalize,
                clip_below=clip_below,
            )
            grad = jax.grad(lambda d, loss=loss: loss(d).sum())(diff)
            assert np.all(np.isfinite(grad)) and np.all(np.asarray(grad) != 0.0)
    clipped = jax.grad(lambda d: losses.gumbel_loss(d, 2.0, 7.0, False).sum())(diff)
    assert clipped[-1] == 0.0  # a finite clip stops the gradient above it; inf does not


def test_discrete_action_environments_are_refused(tmp_path):
    with pytest.raises(
        ValueError, match=r"CartPole-v1 has a Discrete\(2\) action space; the learners need continuous"
    ):
        make_online_env("CartPole-v1")
    source = sources.resolve("CartPole-v1", dataset_path=_write(tmp_path / "c.hdf5", 4, 1))
    with pytest.raises(ValueError, match=r"CartPole-v1 has a Discrete\(2\) action space"):
        source.make_env()
    result = _launch("train_online.py", ["--env_name=CartPole-v1", f"--workdir={tmp_path}/w"])
    assert "CartPole-v1 has a Discrete(2) action space" in _one_line_error(result)


def test_reference_json_with_wrong_keys_fails_before_training(tmp_path):
    from xql_jax.train import train_offline

    path = _write(tmp_path / "p.hdf5", 3, 1, references={"random": 0, "expert": 1})
    config = maze.get_config()  # 100k steps: would train for minutes if the JSON were read late
    with pytest.raises(
        DatasetError, match=r"p.json: needs numbers under \['ref_min_score', 'ref_max_score'\]"
    ):
        train_offline(
            config, RunSpec("Pendulum-v1", dataset_path=path), Watch(str(tmp_path / "run"), progress=False)
        )
    assert not os.path.exists(tmp_path / "run")
    # json reads NaN and Infinity: they made every score nan (last=nan) or 0.0 for every policy.
    for bad in (
        {"ref_min_score": float("nan"), "ref_max_score": 1.0},
        {"ref_min_score": 0, "ref_max_score": float("inf")},
    ):
        path = _write(tmp_path / "n.hdf5", 3, 1, references=bad)
        with pytest.raises(DatasetError, match=r"n.json: needs numbers under .*, finite ones"):
            train_offline(
                config,
                RunSpec("Pendulum-v1", dataset_path=path),
                Watch(str(tmp_path / "run"), progress=False),
            )


def test_fractional_terminals_are_refused(tmp_path):
    terminals = np.zeros(40, np.float32)
    terminals[[5, 9]] = 0.5
    with pytest.raises(
        DatasetError, match=r"f.hdf5: 'terminals' holds 2 value\(s\) other than 0 and 1 \(e.g. 0.5\)"
    ):
        load_d4rl_hdf5(_write(tmp_path / "f.hdf5", 3, 1, terminals=terminals))
    terminals[[5, 9]] = 1.0  # float flags of 0 and 1 are fine
    assert load_d4rl_hdf5(_write(tmp_path / "g.hdf5", 3, 1, terminals=terminals)).masks.min() == 0.0


def test_actions_clipped_as_the_official_code_and_a_warning_when_clearly_outside(tmp_path):
    # IQL / X-QL D4RLDataset (clip_to_eps, eps 1e-5): actions clipped to [-1 + 1e-5, 1 - 1e-5].
    actions = np.random.default_rng(0).uniform(-1, 1, (40, 2)).astype(np.float32)
    actions[3, 0], actions[4, 1] = 1.0005, -1.0
    path = _write(tmp_path / "a.hdf5", 4, 2, actions=actions)
    env = sources.resolve("pointmaze-umaze-v0", path).make_env()  # actions in [-1, 1]
    lines = []
    dataset = prepare.to_learner_actions(load_d4rl_hdf5(path), env, path, log=lines.append)
    assert lines == []  # 5e-4 past the bound is rounding: clipped without a word
    assert dataset.actions.max() == np.float32(1 - 1e-5) and dataset.actions.min() == np.float32(-1 + 1e-5)
    np.testing.assert_array_equal(dataset.actions[5:10], actions[5:10])  # inside: unchanged
    actions[7, 1] = 1.8  # unnormalised, or another environment's
    path = _write(tmp_path / "b.hdf5", 4, 2, actions=actions)
    dataset = prepare.to_learner_actions(load_d4rl_hdf5(path), env, path, log=lines.append)
    (warning,) = lines
    assert warning.startswith(f"warning: {path}: actions (dimension 1) span [-1, 1.8] but the environment's")
    assert "there are [-1, 1] (2.56% of the rows outside)" in warning and "check --env_name" in warning
    assert dataset.actions[7, 1] == np.float32(1 - 1e-5)  # clipped, as the official code did


def test_evaluation_and_collection_act_alike_on_a_box_other_than_unit(tmp_path):
    # Pendulum-v1 takes torques in [-2, 2]; every policy outputs [-1, 1].
    path = _write(tmp_path / "p.hdf5", 3, 1, actions=np.linspace(-2, 2, 40, dtype=np.float32)[:, None])
    source = sources.resolve("Pendulum-v1", dataset_path=path)
    evaluation, collection, raw = (
        source.make_env(seed=3),
        make_online_env("Pendulum-v1", seed=3),
        make_env("Pendulum-v1"),
    )
    raw.reset(seed=3)
    steps = [env.step(np.array([0.5], np.float32))[0] for env in (evaluation, collection, raw)]
    np.testing.assert_array_equal(steps[0], steps[1])  # both sent torque 1.0
    assert not np.allclose(steps[0], steps[2])  # the raw environment got torque 0.5
    # The data's torques are mapped into the same [-1, 1] units the evaluation acts in.
    dataset = prepare.to_learner_actions(source.load(), evaluation, path)
    np.testing.assert_allclose(
        dataset.actions[:, 0], np.clip(np.linspace(-1, 1, 40)[:-1], -1 + 1e-5, 1 - 1e-5), atol=1e-6
    )
    assert unit_actions(evaluation) is evaluation  # wrapping twice (fine-tuning) changes nothing


def test_user_paths_are_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    path = _write(tmp_path / "x.hdf5", 3, 1, references={"ref_min_score": 0.0, "ref_max_score": 5.0})
    source = sources.resolve("Pendulum-v1", dataset_path="~/x.hdf5")
    assert source.location == path and source.references == {"ref_min_score": 0.0, "ref_max_score": 5.0}
    assert data_file("pointmaze-umaze-v0", "~/data") == str(tmp_path / "data" / "pointmaze-umaze-v0.hdf5")
    sys.path.insert(0, os.path.join(ROOT, "experiments"))
    try:
        from common import expand_user_paths, labelled_workdirs
    finally:
        sys.path.remove(os.path.join(ROOT, "experiments"))
    argv = ["x.py", "--workdir=~/run", "--data_dir=~/d", "--config=~/c.py:iql", "--env_name=~x", "--seed=1"]
    assert expand_user_paths(argv) == [
        "x.py",
        f"--workdir={tmp_path}/run",
        f"--data_dir={tmp_path}/d",
        f"--config={tmp_path}/c.py:iql",
        "--env_name=~x",
        "--seed=1",
    ]
    assert labelled_workdirs(["a=~/r1+~/r2"]) == [("a", [f"{tmp_path}/r1", f"{tmp_path}/r2"])]
    # The launcher expands --config before ml_collections reads it.
    result = _launch("train_offline.py", ["--config=~/mine.py:xql"], HOME=str(tmp_path))
    assert _one_line_error(result).startswith(f"error: --config file {tmp_path}/mine.py not found;")


def test_sweep_launcher_refuses_bad_batch_sizes_in_one_line(tmp_path, small_maze_file):
    result = _launch("sweep.py", ["--batch_sizes=256,abc", f"--workdir={tmp_path}/s"])
    assert (
        _one_line_error(result) == "error: --batch_sizes=256,abc: expected positive integers, e.g. 256,1024"
    )
    # A batch size refused after another has trained: the finished one's row is kept (it was lost).
    tiny = ["--config.agent.hidden_dims=(8,)", "--config.max_steps=20", "--config.log_interval=10"]
    tiny += [
        "--config.eval_interval=20",
        "--config.eval_episodes=1",
        "--config.eval_envs=1",
        "--progress=false",
    ]
    result = _launch(
        "sweep.py",
        ["--batch_sizes=16,100000", f"--workdir={tmp_path}/t", f"--dataset_path={small_maze_file}", *tiny],
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("error (batch size 100000): config.batch_size (100000) exceeds")
    )
    rows = open(tmp_path / "t" / "results.csv").read().splitlines()
    assert len(rows) == 2 and rows[1].startswith("16,all,")


def test_other_loops_configs_dict_observations_and_a_data_dir_file_are_one_line(tmp_path):
    from xql_jax.data.dataset import default_data_dir

    with pytest.raises(
        ValueError, match=r"the --config is not an offline config \(it has no reward_preprocessing\)"
    ):
        checks.check_offline_config(online.get_config("xsac"))
    with pytest.raises(
        ValueError, match=r"the --config is not an online config .*configs/online.py:<variant>"
    ):
        checks.check_online_config(maze.get_config())
    # Goal-conditioned gymnasium environments observe a Dict: a TypeError deep in the loop before.
    with pytest.raises(
        ValueError, match=r"PointMaze_UMaze-v3 has Dict observations \(achieved_goal, desired_goal"
    ):
        make_online_env("PointMaze_UMaze-v3")
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    with pytest.raises(DatasetError, match=r"--data_dir .*a_file is a file, not a folder"):
        default_data_dir(str(a_file))
    result = _launch("train_online.py", [f"--config={MAZE}", f"--workdir={tmp_path}/w"])
    assert "the --config is not an online config" in _one_line_error(result)


def test_ctrl_c_ends_a_run_in_one_line_naming_how_to_resume(tmp_path, small_maze_file):
    import signal
    import subprocess

    args = [
        os.path.join(ROOT, "experiments", "train_offline.py"),
        f"--dataset_path={small_maze_file}",
        f"--workdir={tmp_path}/w",
        "--config.agent.hidden_dims=(8,)",
        "--config.batch_size=16",
        "--config.max_steps=10000000",
        "--progress=false",
    ]
    run = subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
        # A test runner may start children with SIGINT ignored; a terminal's Ctrl-C reaches a default handler.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        while "member(s) on" not in run.stdout.readline():  # training has begun
            assert run.poll() is None, run.stderr.read()[-2000:]
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=120)
    finally:
        run.kill()
    assert run.returncode == 130 and "Traceback" not in stderr, stderr[-2000:]
    assert stderr.strip().splitlines() == [
        "interrupted: start the same command again: the run resumes from its last checkpoint"
    ]
