"""Simulation-based calibration: the rank test rejects miscalibrated posteriors; the model's ranks are uniform."""

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from model.sbc import conditionable, rank_uniformity, run_sbc, summarise


def _conjugate_ranks(n_reps: int, n_ranks: int, shift: float = 0.0, scale: float = 1.0, seed: int = 0) -> np.ndarray:
    """Ranks of θ ~ N(0, 1) among draws of its exact posterior N(y/2, 1/2) given y ~ N(θ, 1), or of that
    posterior shifted by ``shift`` sds and with its sd times ``scale`` (a miscalibrated fit)."""
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(n_reps)
    y = theta + rng.standard_normal(n_reps)
    sd = np.sqrt(0.5)
    post = y[:, None] / 2 + shift * sd + scale * sd * rng.standard_normal((n_reps, n_ranks - 1))
    return (post < theta[:, None]).sum(axis=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rank_test_accepts_exact_and_rejects_miscalibrated_posteriors(seed):
    n_reps, n_ranks, bins = 40, 20, 5
    assert rank_uniformity(_conjugate_ranks(n_reps, n_ranks, seed=seed), n_ranks, bins)[1] > 0.05
    for shift, scale in ((1.0, 1.0), (0.0, 0.3), (0.0, 3.0)):  # biased, overconfident, underconfident
        ranks = _conjugate_ranks(n_reps, n_ranks, shift, scale, seed)
        assert rank_uniformity(ranks, n_ranks, bins)[1] < 0.01, (shift, scale)


def test_rank_test_statistic_and_bins():
    chi2, p = rank_uniformity(np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 10, 5)
    assert chi2 == 0 and p == 1
    chi2, p = rank_uniformity(np.array([0] * 8 + [9] * 2), 10, 5)  # bin counts 8, 0, 0, 0, 2
    assert chi2 == pytest.approx(stats.chisquare([8, 0, 0, 0, 2]).statistic)
    with pytest.raises(ValueError):
        rank_uniformity(np.array([0, 1]), 10, 3)


def test_conditioned_model_reads_new_data():
    """Swapping the observed data of the conditionable copy changes the likelihood exactly as rebuilding would."""
    y_old, y_new = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 4.0])
    with pm.Model() as original:
        m = pm.Normal("m", 0.0, 1.0)
        pm.Normal("y", m, 2.0, observed=y_old)
    model, names = conditionable(original)
    assert names == {"y": "y_sbc_data"}
    point = {"m": 0.3}
    assert model.compile_logp()(point) == pytest.approx(original.compile_logp()(point))
    model.rvs_to_values[model["y"]].set_value(y_new)  # the observed value is now the shared variable
    expected = stats.norm.logpdf(0.3, 0, 1) + stats.norm.logpdf(y_new, 0.3, 2.0).sum()
    assert model.compile_logp()(point) == pytest.approx(expected)


@pytest.mark.slow
def test_ranks_of_the_truth_are_uniform_for_documents_of_our_shape():
    """A few dozen replications with short chains: every quantity's ranks pass the χ² test (Bonferroni over
    quantities at 1%), including 2025 GDP projected by model.simulate."""
    n_ranks, bins = 10, 5
    ranks = run_sbc(n_reps=30, draws=100, tune=150, n_ranks=n_ranks, seed=11)
    assert ranks["rank"].between(0, n_ranks - 1).all()
    summary = summarise(ranks, bins=bins)
    assert {"x[gdp,2025]", "mu[gdp]", "sigma[gdp]", "x[gdp,2025] via simulate"} <= set(summary["quantity"])
    assert (summary["replications"] == 30).all()
    assert (summary["p_uniform"] > 0.01 / len(summary)).all(), summary
