"""The paper's analyses: distribution fits, Gumbel regression, the report, the ablation configs."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from xql_jax import analysis, report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def write_run(directory, env_name, metric, last, best, curve):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "summary.json"), "w") as f:
        json.dump({"env_name": env_name, "metric": metric, "last": last, "best": best}, f)
    with open(os.path.join(directory, "eval.jsonl"), "w") as f:
        for step, value in curve:
            f.write(json.dumps({"step": step, metric: value}) + "\n")
        f.write('{"step": 99')  # a row cut off by a kill is skipped


def test_report_table_and_curves_from_synthetic_workdirs(tmp_path):
    xql_runs = [tmp_path / f"xql{i}" for i in range(3)]
    for i, (last, best) in enumerate([(60.0, 70.0), (70.0, 75.0), (80.0, 80.0)]):
        write_run(
            xql_runs[i], "hopper-medium-v2", "normalized_score", last, best, [(10, 1.0 * i), (20, last)]
        )
    # A multi-seed IQL run: an aggregate summary with groups, members in subdirectories; one diverged.
    iql = tmp_path / "iql"
    os.makedirs(iql)
    with open(iql / "summary.json", "w") as f:
        json.dump({"groups": {"all": {"members": ["seed0", "seed1"]}}}, f)
    write_run(iql / "seed0", "hopper-medium-v2", "normalized_score", 50.0, 55.0, [(10, 5.0), (20, 50.0)])
    write_run(iql / "seed1", "hopper-medium-v2", "normalized_score", None, 40.0, [(10, 40.0)])

    results = report.collect("X-QL", [str(d) for d in xql_runs]) + report.collect("IQL", [str(iql)])
    rows = report.table(results)
    assert rows[0]["method"] == "X-QL" and rows[0]["seeds"] == 3
    assert rows[0]["last_mean"] == pytest.approx(70.0) and rows[0]["last_std"] == pytest.approx(
        np.std([60, 70, 80])
    )
    assert rows[0]["best_mean"] == pytest.approx(75.0)
    assert rows[1]["method"] == "IQL" and rows[1]["seeds"] == 1 and rows[1]["diverged"] == 1
    assert rows[1]["best_mean"] == pytest.approx(47.5)
    text = report.markdown(rows)
    assert (
        "| hopper-medium-v2 | 70.0 ± 8.2 (75.0 ± 4.1) n=3 | 50.0 ± 0.0 (47.5 ± 7.5) n=1, 1 diverged |" in text
    )
    steps, mean, std = report.mean_curve([r for r in results if r.method == "X-QL"])
    np.testing.assert_array_equal(steps, [10, 20])
    np.testing.assert_allclose(mean, [1.0, 70.0]) and np.testing.assert_allclose(std[1], np.std([60, 70, 80]))

    out = tmp_path / "out" / "report"
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "experiments", "report.py"),
            f"--runs=X-QL={'+'.join(map(str, xql_runs))},IQL={iql}",
            f"--out={out}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert os.path.getsize(f"{out}_curves.png") > 10_000
    assert open(f"{out}.csv").readline().startswith("env_name,method,metric,last_mean")
    missing = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "experiments", "report.py"),
            f"--runs=X=={tmp_path}/nothing",
            f"--out={out}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        missing.returncode != 0 and "no summary.json" in missing.stderr and "Traceback" not in missing.stderr
    )


def test_bellman_error_script_fits_saved_errors(tmp_path):
    rng = np.random.default_rng(0)
    os.makedirs(tmp_path / "run" / "bellman_errors")
    for step in (5000, 10000):
        np.save(tmp_path / "run" / "bellman_errors" / f"step_{step:09d}.npy", -rng.gumbel(0.1, 0.3, 5000))
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "experiments", "bellman_errors.py"),
            f"--runs=TD3={tmp_path}/run",
            f"--out={tmp_path}/be.png",
        ],
        capture_output=True,
        text=True,
        timeout=120,
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
