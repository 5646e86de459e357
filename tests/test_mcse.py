"""Monte Carlo standard error of P(attained) against closed forms and against replicated simulations."""

import arviz as az
import numpy as np
import pytest
from scipy.signal import lfilter

from model.mcse import share_mcse


@pytest.mark.parametrize("chains", [1, 2])
@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9])
def test_independent_draws_give_the_binomial_error(chains, p):
    """Each posterior draw used by one path, draws independent: MCSE ≈ sqrt(p(1-p)/n)."""
    n = 4000
    hits = np.random.default_rng(int(p * 100) + chains).random(n) < p
    se = share_mcse(hits, np.arange(n), chains, n // chains)
    assert se == pytest.approx(np.sqrt(p * (1 - p) / n), rel=0.1)
    assert se >= np.sqrt(hits.mean() * (1 - hits.mean()) / n) - 1e-15  # never below the binomial error


def test_one_path_per_draw_is_the_mcse_of_the_indicator_series():
    rng = np.random.default_rng(5)
    z = lfilter([1.0], [1.0, -0.8], rng.standard_normal((2, 1000)), axis=1)
    hits = (z > 0).ravel()
    expected = float(np.ravel(az.mcse(hits.reshape(2, 1000).astype(float), method="mean"))[0])
    assert share_mcse(hits, np.arange(2000), 2, 1000) == pytest.approx(expected, rel=1e-9)


def _ar1_indicator(rng, rho, chains, n):
    z = lfilter([np.sqrt(1 - rho**2)], [1.0, -rho], rng.standard_normal((chains, n)), axis=1)
    return (z > 0.5).ravel()


def test_autocorrelated_draws_give_a_larger_error_that_matches_replications():
    """An AR(1)-correlated indicator (ρ = 0.9): the MCSE is far above the binomial one and is the real
    spread of P over independent replications."""
    rng = np.random.default_rng(2)
    chains, n = 2, 2000
    hits = _ar1_indicator(rng, 0.9, chains, n)
    p = hits.mean()
    binomial = np.sqrt(p * (1 - p) / (chains * n))
    se = share_mcse(hits, np.arange(chains * n), chains, n)
    assert se > 2.5 * binomial
    reps = [_ar1_indicator(rng, 0.9, chains, n) for _ in range(200)]
    spread = np.std([r.mean() for r in reps])
    mean_se = np.mean([share_mcse(r, np.arange(chains * n), chains, n) for r in reps])
    assert mean_se == pytest.approx(spread, rel=0.2)


def test_resampled_draws_shared_by_paths_match_replications():
    """4000 paths resampling 1000 independent draws (paths of one draw share its P): the estimate is
    the replicated spread, larger than the 4000-independent-paths formula."""
    rng = np.random.default_rng(3)
    ps, ses = [], []
    for _ in range(200):
        theta = rng.beta(2, 3, 1000)  # P(attained | draw), mean 0.4
        draw = rng.integers(0, 1000, 4000)
        hits = rng.random(4000) < theta[draw]
        ps.append(hits.mean())
        ses.append(share_mcse(hits, draw, 2, 500))
    assert np.mean(ses) == pytest.approx(np.std(ps), rel=0.15)
    assert np.mean(ses) > 1.15 * np.sqrt(0.4 * 0.6 / 4000)


def test_edge_cases():
    draw = np.arange(100)
    assert share_mcse(np.zeros(100, bool), draw, 2, 50) == 0.0
    assert share_mcse(np.ones(100, bool), draw, 2, 50) == 0.0
    assert np.isnan(share_mcse(np.array([True, False, True, False]), np.arange(4), 2, 2))  # < 4 draws a chain
    both = share_mcse(np.column_stack([draw % 2 == 0, np.zeros(100, bool)]), draw, 2, 50)
    assert both.shape == (2,) and both[1] == 0 and both[0] > 0
    with pytest.raises(ValueError, match="outside"):
        share_mcse(np.ones(3, bool), np.array([0, 1, 100]), 2, 50)
