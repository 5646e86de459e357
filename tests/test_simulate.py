"""Scenario assumptions act on the simulated paths exactly as documented, without refitting."""

import numpy as np
import pandas as pd
import pytest

from model.attainment import target_quantity
from model.scenario import Assumption
from model.simulate import simulate

ROWS = pd.DataFrame([dict(indicator="gdp", year=y, span_start=np.nan, kind="yoy_growth", price_basis="real")
                     for y in (2024, 2025)])


def _growth(fit, assumptions, seed=5):
    q, ok = target_quantity(simulate(fit, 2025, n_paths=300, seed=seed, assumptions=assumptions), ROWS)
    assert ok.all()
    return q


def test_growth_shift_adds_points(small_fit):
    base = _growth(small_fit, [])
    shifted = _growth(small_fit, [Assumption(indicator="gdp", kind="growth_shift", value=-1.5, years=[2025])])
    np.testing.assert_allclose(shifted[:, 0], base[:, 0])  # 2024 untouched
    np.testing.assert_allclose(shifted[:, 1] - base[:, 1], -1.5, atol=1e-9)


def test_growth_set_and_volatility(small_fit):
    q = _growth(small_fit, [Assumption(indicator="gdp", kind="growth_set", value=6.0, years=[2024, 2025])])
    np.testing.assert_allclose(q, 6.0, atol=1e-9)
    calm = _growth(small_fit, [Assumption(indicator="gdp", kind="volatility", value=0.0)])
    mu = small_fit.draws("mu")[:, small_fit.layout.base.index("gdp")]
    assert calm.std() == pytest.approx(np.std(100 * np.expm1(mu)), rel=0.3)


def test_level_shock_with_probability(small_fit):
    rows = pd.DataFrame([dict(indicator="gdp", year=2025, span_start=np.nan, kind="level", price_basis="real")])
    shock = [Assumption(indicator="gdp", kind="level_shock", value=-10, years=[2024], probability=0.5)]
    a = target_quantity(simulate(small_fit, 2025, n_paths=2000, seed=9), rows)[0][:, 0]
    b = target_quantity(simulate(small_fit, 2025, n_paths=2000, seed=9, assumptions=shock), rows)[0][:, 0]
    ratio = b / a
    hit = np.isclose(ratio, 0.9)
    assert np.isclose(ratio[~hit], 1.0).all()
    assert 0.45 < hit.mean() < 0.55


def test_trend_is_the_fitted_one_within_the_plan_period_and_fresh_after(small_fit):
    """2024–25 (the 2021–25 plan period of the last fitted year) keep the fitted trend; 2026–30 draw a new
    one around the long-run trend, with sd PERIOD_SHIFT × class drift sd."""
    from model.priors import CLASS_PRIORS, PERIOD_SHIFT
    from model.simulate import future_trends

    n, layout = 4000, small_fit.layout
    dyn = {"mu": np.zeros((n, len(layout.base))), "mu_base": np.ones((n, len(layout.base)))}
    trends = future_trends(small_fit, dyn, np.arange(n), np.arange(2024, 2031), np.random.default_rng(0))
    assert (trends[:, :, :2] == 0).all()
    later = trends[:, :, 2:]
    assert (later == later[:, :, :1]).all()  # one trend for the whole new period
    j = layout.base.index("gdp")
    expected = PERIOD_SHIFT * CLASS_PRIORS[layout.klass("gdp")].drift_sd
    assert abs(later[:, j, 0].mean() - 1) < 4 * expected / np.sqrt(n)
    assert abs(later[:, j, 0].std() / expected - 1) < 0.05
