"""The paper's analyses: distribution fits, Gumbel regression, ablation configs (the report: test_report)."""

import os

import numpy as np
import pytest

from tests.conftest import run_script
from xql_jax import analysis


def test_gumbel_fit_recovers_location_and_scale_of_known_gumbel():
    rng = np.random.default_rng(0)
    samples = rng.gumbel(loc=1.5, scale=0.7, size=20_000)  # max-type (right-skewed)
    fit = analysis.fit_gumbel(samples, side="right")
    assert abs(fit.loc - 1.5) < 0.02 and abs(fit.scale - 0.7) < 0.02
    mirrored = analysis.fit_gumbel(-samples)  # min-type, the default for Q - target errors
    assert abs(mirrored.loc + 1.5) < 0.02 and abs(mirrored.scale - 0.7) < 0.02
    # Exact mean log-likelihood of the Gumbel density at the fitted parameters.
    z = (samples - fit.loc) / fit.scale
    assert fit.log_likelihood == pytest.approx(np.mean(-np.log(fit.scale) - z - np.exp(-z)), rel=1e-9)
    # On Gumbel data the Gumbel fits better than the Gaussian; on Gaussian data the reverse.
    assert fit.log_likelihood > analysis.fit_gaussian(samples).log_likelihood
    normal = rng.normal(0.3, 2.0, size=20_000)
    gaussian = analysis.fit_gaussian(normal)
    assert abs(gaussian.loc - 0.3) < 0.05 and abs(gaussian.scale - 2.0) < 0.05
    assert gaussian.log_likelihood > analysis.fit_gumbel(normal).log_likelihood
    with pytest.raises(ValueError, match="side must be"):
        analysis.fit_gumbel(samples, side="up")


def test_clip_to_range_drops_both_tails():
    kept = analysis.clip_to_range(np.arange(1000.0), quantile=0.01)
    assert kept.min() >= 9 and kept.max() <= 990 and 975 <= len(kept) <= 982


def test_gumbel_regression_moves_from_mean_toward_max_as_in_closed_form():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 3000)
    y = np.sin(3 * x) + 0.5 * rng.normal(size=x.shape)
    grid = np.linspace(-0.8, 0.8, 41)
    fits = analysis.gumbel_regression_fit(x, y, [0.5, 5.0], grid, steps=800)
    for beta, fit in zip([0.5, 5.0], fits, strict=True):
        closed_form = np.sin(3 * grid) + 0.25 / (2 * beta)  # Gaussian noise: mean + sigma^2 / (2 beta)
        assert np.mean(np.abs(fit - closed_form)) < 0.08, beta
    assert np.mean(fits[0] - fits[1]) == pytest.approx(0.25 / 1.0 - 0.25 / 10.0, abs=0.06)


def test_bellman_error_script_fits_saved_errors(tmp_path):
    rng = np.random.default_rng(0)
    os.makedirs(tmp_path / "run" / "bellman_errors")
    for step in (5000, 10000):
        np.save(tmp_path / "run" / "bellman_errors" / f"step_{step:09d}.npy", -rng.gumbel(0.1, 0.3, 5000))
    result = run_script(
        "bellman_errors.py", [f"--runs=TD3={tmp_path}/run", f"--out={tmp_path}/be.png"], timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "the Gumbel fits better (mean log-likelihood) at 2 of 2 saved steps" in result.stdout
    rows = open(tmp_path / "be.csv").read().splitlines()
    assert len(rows) == 3 and rows[1].startswith("TD3,5000,")


def test_ablation_configs():
    from xql_jax.configs import ablations

    beta = ablations.get_config("beta")
    assert beta.ablation_sweep == "beta=0.5,1,2,5,10" and beta.agent.value_loss == "gumbel"
    batch = ablations.get_config("batch_size_iql:antmaze")
    assert tuple(batch.ablation_batch_sizes) == (256, 1024) and batch.agent.value_loss == "expectile"
    assert batch.reward_preprocessing == "antmaze"
    with pytest.raises(ValueError, match="unknown ablation"):
        ablations.get_config("dropout")
