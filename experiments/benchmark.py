"""Throughput of the offline X-QL update in three shapes, measured side by side in one run.

  python experiments/benchmark.py                     # on whatever device JAX sees
  python experiments/benchmark.py --num_seeds=32 --scan_steps=1000

(1) reference shape: a batch sampled on the host with numpy, one jitted update per call;
(2) the dataset on the device, batches sampled inside jit, lax.scan over ``scan_steps`` updates;
(3) as (2) with ``num_seeds`` learners vmapped inside the scan.
Twin Q, V and actor, 256x256 MLPs, batch 256, halfcheetah-shaped data (17-d observations, 6-d
actions, 1M transitions). Compilation and a warm-up call are excluded; each figure is the median of
``repeats`` timed calls. The last line is one JSON object with the figures and the ratios.
"""

import json
import time

import jax
import numpy as np
from absl import app, flags

from xql_jax.agents import xql
from xql_jax.train import Member, init_member_states, make_train_chunk

flags.DEFINE_integer("num_transitions", 1_000_000, "Dataset size.")
flags.DEFINE_integer("observation_dim", 17, "halfcheetah: 17.")
flags.DEFINE_integer("action_dim", 6, "halfcheetah: 6.")
flags.DEFINE_integer("batch_size", 256, "Batch size.")
flags.DEFINE_integer("hidden", 256, "Width of the two hidden layers of every network.")
flags.DEFINE_integer("host_steps", 500, "Updates per timed call in shape (1).")
flags.DEFINE_integer("scan_steps", 1000, "Updates per lax.scan call in shapes (2) and (3).")
flags.DEFINE_integer("num_seeds", 8, "Vmapped learners in shape (3).")
flags.DEFINE_integer("repeats", 5, "Timed calls per shape; the median is reported.")
FLAGS = flags.FLAGS


def make_dataset(rng):
    n, obs, act = FLAGS.num_transitions, FLAGS.observation_dim, FLAGS.action_dim
    return {
        "observations": rng.standard_normal((n, obs), np.float32),
        "actions": rng.uniform(-1, 1, (n, act)).astype(np.float32),
        "rewards": rng.standard_normal(n, np.float32),
        "masks": np.ones(n, np.float32),
        "next_observations": rng.standard_normal((n, obs), np.float32),
        "next_actions": rng.uniform(-1, 1, (n, act)).astype(np.float32),
    }


def median_rate(run, steps_per_call):
    run()  # warm-up: compilation and first execution are not timed
    times = []
    for _ in range(FLAGS.repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return steps_per_call / float(np.median(times))


def main(_):
    config = xql.XQLConfig(hidden_dims=(FLAGS.hidden, FLAGS.hidden), decay_steps=1_000_000)
    rng = np.random.default_rng(0)
    host_data = make_dataset(rng)
    device_data = jax.device_put(host_data)
    obs_dim, act_dim, batch_size = FLAGS.observation_dim, FLAGS.action_dim, FLAGS.batch_size

    # (1) The reference code's shape: numpy sampling on the host, one jit call per update.
    update = jax.jit(xql.update, static_argnums=2, donate_argnums=0)
    state = [xql.create_state(jax.random.PRNGKey(0), obs_dim, act_dim, config)]

    def host_loop():
        s = state[0]
        for _ in range(FLAGS.host_steps):
            idx = rng.integers(0, FLAGS.num_transitions, batch_size)
            s, metrics = update(s, {k: v[idx] for k, v in host_data.items()}, config)
        jax.block_until_ready(s)
        state[0] = s

    host_rate = median_rate(host_loop, FLAGS.host_steps)
    print(f"(1) host sampling, jit per step: {host_rate:,.0f} steps/s", flush=True)

    # (2) Data on the device, sampling inside jit, lax.scan.
    chunk = make_train_chunk(config, batch_size, FLAGS.scan_steps)
    scan_state = [xql.create_state(jax.random.PRNGKey(0), obs_dim, act_dim, config)]

    def scan_loop():
        scan_state[0], metrics = chunk(scan_state[0], device_data)
        jax.block_until_ready((scan_state[0], metrics))

    scan_rate = median_rate(scan_loop, FLAGS.scan_steps)
    print(f"(2) device data, lax.scan of {FLAGS.scan_steps}: {scan_rate:,.0f} steps/s", flush=True)

    # (3) As (2), vmapped over seeds.
    members = [Member(seed) for seed in range(FLAGS.num_seeds)]
    vmapped_chunk = make_train_chunk(config, batch_size, FLAGS.scan_steps, members=True)
    member_state = [init_member_states(members, obs_dim, act_dim, config)]

    def vmapped_loop():
        member_state[0], metrics = vmapped_chunk(member_state[0], device_data)
        jax.block_until_ready((member_state[0], metrics))

    seed_rate = median_rate(vmapped_loop, FLAGS.scan_steps * FLAGS.num_seeds)
    print(f"(3) vmap over {FLAGS.num_seeds} seeds in the scan: {seed_rate:,.0f} seed-steps/s", flush=True)

    device = jax.devices()[0]
    print(
        json.dumps(
            {
                "device": f"{device.platform}:{device.device_kind}",
                "device_count": jax.device_count(),
                "shape1_host_steps_per_s": round(host_rate, 1),
                "shape2_scan_steps_per_s": round(scan_rate, 1),
                "shape3_vmap_seed_steps_per_s": round(seed_rate, 1),
                "num_seeds": FLAGS.num_seeds,
                "ratio_2_over_1": round(scan_rate / host_rate, 3),
                "ratio_3_over_1": round(seed_rate / host_rate, 3),
                "batch_size": batch_size,
                "hidden": FLAGS.hidden,
                "num_transitions": FLAGS.num_transitions,
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
