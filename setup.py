"""xql_jax: Extreme Q-Learning (X-QL) in JAX/Flax."""

from setuptools import find_packages, setup

# Pinned where a newer release is known to break a pairing (see the README "Installation" notes):
# jax/jaxlib/flax/optax move together; dm_control and Franka Kitchen need mujoco <= 3.11;
# gymnasium-robotics 1.4.2 provides PointMaze/AntMaze/Adroit/Kitchen against gymnasium 1.4.
INSTALL_REQUIRES = [
    "jax==0.10.2",
    "jaxlib==0.10.2",
    "flax==0.12.8",
    "optax==0.2.8",
    "chex==0.1.92",
    "orbax-checkpoint==0.12.8",
    "ml_collections==1.1.0",
    "absl-py==2.5.1",
    "numpy>=2.0,<3",
    "gymnasium==1.4.0",
    "gymnasium-robotics==1.4.2",
    "mujoco==3.11.0",
    "dm_control==1.0.44",  # 1.0.50 needs mujoco 4.0, with which every suite task fails
    "minari==0.5.4",  # local Minari datasets (--env_name=minari:<id>)
    # OGBench single-task datasets (xql_jax.data.ogbench_data): its oracles, reader and relabelling.
    # 1.2.2 needs only mujoco, dm_control and gymnasium[mujoco], satisfied by the pins here (pip
    # install --dry-run changes nothing else). FQL's published numbers used 1.1.0 (see the README).
    "ogbench==1.2.2",
    "h5py>=3.10",
    "tensorboardX>=2.6",
    "tqdm>=4.66",
    "matplotlib>=3.8",
    "scipy>=1.11",  # maximum-likelihood fits of the Bellman-error analysis
    # The report's aggregate statistics (stratified-bootstrap intervals, performance profiles):
    # rliable 1.2.0 needs arch < 8, and arch 7.2 fails to import with pandas 3 (`deprecate_kwarg`).
    "rliable==1.2.0",
    "arch>=7,<8",
    "pandas>=2,<3",
    "seaborn>=0.12",  # rliable's plot_utils imports it
]

setup(
    name="xql_jax",
    version="0.1.0",
    description="Extreme Q-Learning (Garg, Hejna, Geist, Ermon; ICLR 2023) in JAX/Flax",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["xql_jax", "xql_jax.*"]),
    # The shipped behavior policies of experiments/make_dataset.py (TD3 actors, ~0.3 MB each).
    package_data={"xql_jax.data": ["behavior_policies/*.npz", "behavior_policies/*.json"]},
    install_requires=INSTALL_REQUIRES,
    extras_require={
        "test": ["pytest>=8", "pytest-xdist>=3.5,<4", "ruff>=0.5", "wandb==0.31.0"],
        # Minari's downloads (python -m xql_jax.data fetch minari:<id>, --download): its default remote is
        # Hugging Face, which needs huggingface_hub; D4RL downloads need nothing more.
        "minari-download": ["minari[hf]==0.5.4"],
        # Optional Weights & Biases logging (xql_jax.tracking); imported only when used.
        "wandb": ["wandb==0.31.0"],
        # GPU builds of the pinned jaxlib (pick the one matching the machine's CUDA driver).
        "cuda12": ["jax[cuda12]==0.10.2"],
        "cuda13": ["jax[cuda13]==0.10.2"],
    },
)
