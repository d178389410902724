"""Several seeds and swept hyperparameters in one program (vmapped, or in sequence on a CPU), sharded
over devices."""

import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.conftest import ACT_DIM, OBS_DIM, ROOT, fake_data, tiny
from xql_jax.agents import xql
from xql_jax.runs import member_mesh, members_in_sequence, over_members
from xql_jax.train import Member, init_member_states, make_members, make_train_chunk


def test_make_members_is_a_grid_of_sweeps_and_seeds():
    members = make_members([0, 1], {"beta": [1.0, 5.0]}, xql.SWEEPABLE)
    assert [m.name for m in members] == ["seed0_beta1", "seed1_beta1", "seed0_beta5", "seed1_beta5"]
    with pytest.raises(ValueError, match=r"cannot sweep \['batch_size'\]"):
        make_members([0], {"batch_size": [256]}, xql.SWEEPABLE)
    with pytest.raises(ValueError, match="beta values must be positive"):
        make_members([0], {"beta": [0.0]}, xql.SWEEPABLE)


@pytest.mark.parametrize("sequential", [False, True])
def test_each_member_equals_its_own_single_run(sequential):
    """Side by side (vmap) or one after another (``sequential``: the loop's choice on a CPU, see
    ``members_in_sequence``), every member computes what its own run computes, up to rounding (XLA's
    kernels for the stacked shapes, or for a loop's body, may round differently)."""
    on_cpu = jax.default_backend() == "cpu"
    assert members_in_sequence(None) == members_in_sequence(member_mesh(2, shard=True)) == on_cpu
    config = tiny()
    members = [Member(3), Member(7, {"beta": 5.0})]
    data = fake_data()
    batched, batched_metrics = make_train_chunk(config, 16, 4, members=True, sequential=sequential)(
        init_member_states(members, OBS_DIM, ACT_DIM, config), data
    )
    for i, member in enumerate(members):
        state = xql.create_state(
            jax.random.PRNGKey(member.seed), OBS_DIM, ACT_DIM, config, member.hyperparams
        )
        state, metrics = make_train_chunk(config, 16, 4)(state, data)
        leaves = zip(jax.tree_util.tree_leaves(batched), jax.tree_util.tree_leaves(state), strict=True)
        for a, b in leaves:
            np.testing.assert_allclose(a[i], b, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(batched_metrics["value_loss"][i], metrics["value_loss"], rtol=1e-4)
    assert float(batched.hyperparams["beta"][1]) == 5.0 and float(batched.hyperparams["beta"][0]) == 2.0


def test_over_members_in_sequence_matches_the_vmap_with_shared_arguments():
    def fn(x, shared, y):
        return {"sum": x * shared + y.sum(), "y": y}

    x, y, shared = jnp.arange(3.0), jnp.arange(12.0).reshape(3, 4), jnp.asarray(2.0)
    for sequential in (False, True):
        out = jax.jit(over_members(fn, sequential, in_axes=(0, None, 0)))(x, shared, y)
        np.testing.assert_array_equal(out["sum"], [6.0, 24.0, 42.0])
        np.testing.assert_array_equal(out["y"], y)
        one = over_members(fn, sequential, in_axes=(0, None, 0))(x[:1], shared, y[:1])
        assert one["sum"].shape == (1,) and one["y"].shape == (1, 4)
        with pytest.raises(ValueError, match=r"in_axes must be 0 \(member-stacked\) or None"):
            over_members(fn, sequential, in_axes=(0, None, 1))


SHARDED_SCRIPT = textwrap.dedent(
    """
    import os
    os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    os.environ["JAX_PLATFORMS"] = "cpu"
    import jax, numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec
    from tests.conftest import ACT_DIM, OBS_DIM, fake_data, tiny
    from xql_jax.train import init_member_states, make_members, make_train_chunk, member_mesh
    from xql_jax.train import members_in_sequence

    assert jax.device_count() == 4, jax.devices()
    config, data = tiny(), fake_data()
    members = make_members([0, 1, 2, 3])
    chunk = make_train_chunk(config, 16, 5, members=True)

    # The unsharded run as the loop runs it on a CPU (members in sequence), and vmapped.
    in_sequence = make_train_chunk(config, 16, 5, members=True, sequential=True)
    plain, plain_metrics = in_sequence(init_member_states(members, OBS_DIM, ACT_DIM, config), data)
    vmapped, _ = chunk(init_member_states(members, OBS_DIM, ACT_DIM, config), data)
    mesh = member_mesh(len(members))
    assert isinstance(mesh, Mesh) and mesh.devices.size == 4 and not members_in_sequence(mesh)
    state = jax.device_put(
        init_member_states(members, OBS_DIM, ACT_DIM, config), NamedSharding(mesh, PartitionSpec("members"))
    )
    sharded, sharded_metrics = chunk(state, jax.device_put(data, NamedSharding(mesh, PartitionSpec())))
    leaf = jax.tree_util.tree_leaves(sharded.actor.params)[0]
    assert len(leaf.sharding.device_set) == 4, leaf.sharding
    assert leaf.addressable_shards[0].data.shape[0] == 1  # one member per device
    for unsharded in (plain, vmapped):
        leaves = zip(jax.tree_util.tree_leaves(unsharded), jax.tree_util.tree_leaves(sharded), strict=True)
        for a, b in leaves:
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    for k in plain_metrics:
        np.testing.assert_allclose(plain_metrics[k], sharded_metrics[k], rtol=1e-5, atol=1e-6)
    print("SHARDED_OK")
    """
)


def test_four_seeds_sharded_over_four_devices_equal_the_unsharded_run():
    script = SHARDED_SCRIPT.format(root=ROOT)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert "SHARDED_OK" in result.stdout, result.stderr[-3000:]
