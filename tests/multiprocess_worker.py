"""One process of tests/test_multiprocess.py: `python -m tests.multiprocess_worker ID PORT WORKDIR DATA`.

Joins a 2-process `jax.distributed` run on localhost (one CPU device each) and trains the same tiny
offline and online runs as `train_both` does in one process.
"""

import sys

OFFLINE = dict(batch_size=16, max_steps=40, log_interval=20, eval_interval=20, checkpoint_interval=20)
ONLINE = dict(batch_size=16, max_steps=60, start_steps=20, log_interval=20, eval_interval=30)


def train_both(workdir: str, dataset_path: str, log=print):
    """4 offline X-QL members on the maze file, then 4 online X-TD3 members on Pendulum."""
    from xql_jax.configs import maze, online
    from xql_jax.online import train_online
    from xql_jax.train import train_offline

    config = maze.get_config()
    config.agent.hidden_dims = (8, 8)
    config.update(eval_episodes=2, eval_envs=2, **OFFLINE)
    train_offline(
        config, f"{workdir}/offline", "pointmaze-umaze-v0", dataset_path=dataset_path, num_seeds=4,
        progress=False, log=log,
    )  # fmt: skip
    config = online.get_config("xtd3")
    config.agent.hidden_dims = (8, 8)
    config.agent.beta = 2.0
    config.update(eval_episodes=1, eval_envs=1, replay_capacity=100, checkpoint_interval=30, **ONLINE)
    train_online(config, f"{workdir}/online", "Pendulum-v1", num_seeds=4, progress=False, log=log)


if __name__ == "__main__":
    import jax

    process_id, port, workdir, dataset_path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    jax.distributed.initialize(f"localhost:{port}", num_processes=2, process_id=process_id)
    assert jax.process_count() == 2 and len(jax.devices()) == 2 and len(jax.local_devices()) == 1
    if process_id != 0:  # only process 0 writes: any output or summary made here fails the run
        import xql_jax.loop
        import xql_jax.runs

        def refuse(*args, **kwargs):
            raise AssertionError(f"process {process_id} wrote outputs")

        xql_jax.loop.RunLogger = refuse
        xql_jax.runs.write_json = refuse
    train_both(workdir, dataset_path)
    print(f"process {jax.process_index()} done", flush=True)
