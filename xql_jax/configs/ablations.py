"""Ready-made ablations of paper App. D.5, run with experiments/sweep.py (all seeds in each program).

  python experiments/sweep.py --config=configs/ablations.py:beta --num_seeds=3 --workdir=runs/abl_beta
  python experiments/sweep.py --config=configs/ablations.py:batch_size --num_seeds=3 --workdir=runs/abl_xql
  python experiments/sweep.py --config=configs/ablations.py:batch_size_iql --num_seeds=3 --workdir=runs/ab_iql

The variant is ``<ablation>[:<domain>]``: the domain config it starts from (default ``maze``, the
embedded data; ``locomotion``, ``antmaze``, ``kitchen`` or ``adroit`` with --env_name and
--dataset_path of a D4RL file).

- ``beta``: the Gumbel temperature beta in {0.5, 1, 2, 5, 10}, every value with every seed in one
  program (the KL strength: small beta suits noisy data, large beta expert-like data).
- ``batch_size`` / ``batch_size_iql``: batch 256 against 1024, one program each (the paper's check
  that X-QL's gains over IQL are not a batch-size effect: the max-normalised Gumbel loss is
  normalised per batch, so larger batches are more stable).
"""

import importlib

ABLATIONS = {
    "beta": dict(variant="xql", sweep="beta=0.5,1,2,5,10", batch_sizes=()),
    "batch_size": dict(variant="xql", sweep="", batch_sizes=(256, 1024)),
    "batch_size_iql": dict(variant="iql", sweep="", batch_sizes=(256, 1024)),
}
DOMAINS = ("maze", "locomotion", "antmaze", "kitchen", "adroit")


def get_config(spec: str = "beta"):
    ablation, _, domain = spec.partition(":")
    domain = domain or "maze"
    if ablation not in ABLATIONS:
        raise ValueError(f"unknown ablation {ablation!r}; use one of {sorted(ABLATIONS)}")
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; use one of {DOMAINS}")
    settings = ABLATIONS[ablation]
    config = importlib.import_module(f"xql_jax.configs.{domain}").get_config(settings["variant"])
    config.ablation_sweep = settings["sweep"]  # experiments/sweep.py's --sweep when none is given
    config.ablation_batch_sizes = settings["batch_sizes"]  # its --batch_sizes when none is given
    return config
