"""xql_jax: Extreme Q-Learning (Garg, Hejna, Geist, Ermon; ICLR 2023) in JAX/Flax.

The learners live in ``xql_jax.agents``, the loops in ``xql_jax.train`` (offline),
``xql_jax.online`` and ``xql_jax.finetune``, datasets by name in ``xql_jax.data.sources``, and the
paper's configs in ``xql_jax.configs`` (``configs/`` at the repository root links there).
"""

__version__ = "0.1.0"
