"""The dataset registry: every kind of name resolves to data, environment, references and domain."""

import json
import os

import h5py
import numpy as np
import pytest

from xql_jax.data import DatasetError, sources
from xql_jax.data.dataset import fingerprint, load_d4rl_hdf5


def _write(path, obs_dim, act_dim, steps=40, references=None):
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        f["observations"] = rng.normal(size=(steps, obs_dim)).astype(np.float32)
        f["actions"] = rng.uniform(-1, 1, (steps, act_dim)).astype(np.float32)
        f["rewards"] = rng.normal(size=steps).astype(np.float32)
        f["terminals"] = np.zeros(steps, bool)
        timeouts = np.zeros(steps, bool)
        timeouts[steps // 2 - 1] = timeouts[-1] = True
        f["timeouts"] = timeouts
    if references is not None:
        with open(os.path.splitext(path)[0] + ".json", "w") as f:
            json.dump(references, f)
    return str(path)


def test_embedded_name_resolves_to_the_cached_file_of_its_recipe(small_maze_file, tmp_path):
    from xql_jax.data import pointmaze

    # A cached file recording the default recipe is used as it is (a different recipe is made again:
    # tests/test_pointmaze.py); here the small file is relabelled so nothing is generated.
    data_dir = tmp_path / "cache"
    data_dir.mkdir()
    (data_dir / "pointmaze-umaze-v0.hdf5").write_bytes(open(small_maze_file, "rb").read())
    stored = json.load(open(os.path.splitext(small_maze_file)[0] + ".json"))
    stored.update(
        num_steps=pointmaze.DEFAULT_NUM_STEPS, seed=0, num_reference_episodes=pointmaze.NUM_REFERENCE_EPISODES
    )
    json.dump(stored, open(data_dir / "pointmaze-umaze-v0.json", "w"))
    messages = []
    source = sources.resolve("pointmaze-umaze-v0", data_dir=str(data_dir), log=messages.append)
    assert messages == [] and source.location == str(data_dir / "pointmaze-umaze-v0.hdf5")
    assert (source.kind, source.domain) == ("embedded", "maze") and len(source.load()) == 3000 - 2 - 1
    assert source.references == {
        "ref_min_score": stored["ref_min_score"],
        "ref_max_score": stored["ref_max_score"],
    }
    assert source.make_env(seed=0).observation_space.shape == (4,)


def test_d4rl_name_with_its_file_references_domain_and_adapter(tmp_path, monkeypatch):
    monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path))
    _write(tmp_path / "walker2d_medium-v2.hdf5", 17, 6)
    source = sources.resolve("walker2d-medium-v2")
    assert (source.kind, source.domain) == ("d4rl", "locomotion")
    assert source.references == {"ref_min_score": 1.629008, "ref_max_score": 4592.3}  # d4rl/infos.py
    assert source.make_env().unwrapped.model.geom_friction[:, 0].min() == pytest.approx(0.7)
    for name, domain in [
        ("antmaze-large-play-v2", "antmaze"),
        ("kitchen-mixed-v0", "kitchen"),
        ("door-human-v1", "adroit"),
    ]:
        with pytest.raises(DatasetError, match=f"D4RL dataset '{name}' not found: looked for {tmp_path}"):
            sources.resolve(name)
        assert sources.d4rl.domain(name) == domain


def test_made_name_missing_says_how_to_make_it(tmp_path):
    with pytest.raises(
        DatasetError, match=r"make_dataset.py --dataset=hopper-medium-replay --data_dir=\S+ --behavior_run="
    ):
        sources.resolve("hopper-medium-replay-made", data_dir=str(tmp_path))
    path = _write(
        tmp_path / "halfcheetah-medium-made.hdf5",
        17,
        6,
        references={"ref_min_score": -1.0, "ref_max_score": 9.0},
    )
    source = sources.resolve("halfcheetah-medium-made", data_dir=str(tmp_path))
    assert (source.kind, source.domain, source.location) == ("made", "locomotion", path)
    assert source.references == {"ref_min_score": -1.0, "ref_max_score": 9.0}
    assert source.make_env().unwrapped.spec.id == "HalfCheetah-v5"


def test_explicit_file_takes_the_names_environment_and_its_own_references(tmp_path):
    # A gymnasium id or DM Control task names only the environment; no references -> raw returns.
    path = _write(tmp_path / "p.hdf5", 3, 1)
    source = sources.resolve("Pendulum-v1", dataset_path=path)
    assert (source.kind, source.references, source.domain) == ("file", None, None)
    assert source.make_env().observation_space.shape == (3,)
    # A D4RL name with a file elsewhere: D4RL's references unless a JSON beside the file says otherwise.
    hopper = _write(tmp_path / "h.hdf5", 11, 3)
    assert sources.resolve("hopper-medium-v2", dataset_path=hopper).references["ref_max_score"] == 3234.3
    _write(tmp_path / "h.hdf5", 11, 3, references={"ref_min_score": 0.0, "ref_max_score": 10.0})
    assert sources.resolve("hopper-medium-v2", dataset_path=hopper).references["ref_max_score"] == 10.0
    # ~ is expanded.
    home = str(tmp_path)
    os.environ["HOME"], old = home, os.environ["HOME"]
    try:
        assert sources.resolve("Pendulum-v1", dataset_path="~/p.hdf5").location == path
    finally:
        os.environ["HOME"] = old


def test_errors_name_every_accepted_form(tmp_path):
    with pytest.raises(DatasetError) as error:
        sources.resolve("hopper-medum-v2")
    message = str(error.value)
    for form in (
        "pointmaze-umaze-v0",
        "hopper-medium-v2",
        "-made",
        "minari:",
        "--dataset_path",
        "DM Control",
    ):
        assert form in message
    with pytest.raises(DatasetError, match="unknown environment 'NoSuchEnv-v9'.*Accepted names"):
        sources.resolve("NoSuchEnv-v9", dataset_path=_write(tmp_path / "x.hdf5", 3, 1))
    with pytest.raises(DatasetError, match="dataset file not found: .*nope.hdf5"):
        sources.resolve("Pendulum-v1", dataset_path=str(tmp_path / "nope.hdf5"))
    with pytest.raises(DatasetError, match="unknown made dataset 'ant-medium-made'"):
        sources.resolve("ant-medium-made")
    bad = _write(tmp_path / "bad.hdf5", 3, 1, references={"ref_min": 0})
    with pytest.raises(
        DatasetError, match=r"bad.json: needs numbers under \['ref_min_score', 'ref_max_score'\]"
    ):
        sources.resolve("Pendulum-v1", dataset_path=bad)


def test_identity_hashes_the_content_not_the_place(tmp_path):
    a = _write(tmp_path / "a.hdf5", 3, 1)
    b = tmp_path / "elsewhere" / "b.hdf5"
    b.parent.mkdir()
    b.write_bytes(open(a, "rb").read())
    first = sources.resolve("Pendulum-v1", dataset_path=a)
    moved = sources.resolve("Pendulum-v1", dataset_path=str(b))
    identity = first.identity(first.load())
    assert identity["fingerprint"] == moved.identity(moved.load())["fingerprint"]
    assert identity["fingerprint"] == fingerprint(load_d4rl_hdf5(a)) and identity["transitions"] == 38
    other = _write(tmp_path / "c.hdf5", 3, 1, steps=42)
    assert (
        sources.resolve("Pendulum-v1", dataset_path=other).identity(load_d4rl_hdf5(other))["fingerprint"]
        != (identity["fingerprint"])
    )


def test_a_saved_run_on_other_data_or_another_score_scale_is_refused(tmp_path):
    import ml_collections

    from xql_jax.workdir import check_same_config, config_with_identity

    config = ml_collections.ConfigDict({"batch_size": 256})
    identity = {
        "dataset": "hopper-medium-v2",
        "location": "/a.hdf5",
        "fingerprint": "ab" * 8,
        "transitions": 9,
    }
    saved = config_with_identity(
        config, {**identity, "references": {"ref_min_score": 0.0, "ref_max_score": 1.0}}
    )
    (tmp_path / "config.json").write_text(saved)
    check_same_config(str(tmp_path), saved)  # the same run
    moved = {
        **identity,
        "location": "/elsewhere/b.hdf5",
        "references": {"ref_min_score": 0.0, "ref_max_score": 1.0},
    }
    check_same_config(str(tmp_path), config_with_identity(config, moved))  # the same data, moved
    raw = config_with_identity(config, {**identity, "references": None})  # its JSON file removed
    with pytest.raises(ValueError, match=r"references \{'ref_min_score'.*this run is on .*references None"):
        check_same_config(str(tmp_path), raw)
    (tmp_path / "config.json").write_text(config.to_json_best_effort())  # written before runs recorded data
    with pytest.raises(ValueError, match="does not record its data"):
        check_same_config(str(tmp_path), saved)
