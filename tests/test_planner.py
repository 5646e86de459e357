"""The plans' targets as statements of their periods' trends: which targets count, and the draws given them."""

import numpy as np
import pymc as pm
import pytest
from scipy import integrate, stats

from model import planner, priors
from model.growth import build_model
from model.layout import build_layout


@pytest.fixture(scope="module")
def signals(dataset):
    s = planner.signals(dataset.targets, dataset.observations, dataset.catalogue)
    return s.set_index(["indicator", "period"])


def test_targets_read_as_period_trends(signals):
    assert signals.at[("gdp", 2021), "drift"] == pytest.approx(np.log(1.08))        # ">8%" a year, 2021–25
    assert signals.at[("gdp", 2016), "drift"] == pytest.approx(np.log(1.072))       # the plan's 7.2%, not the
    assert "p13_gdp_growth_revised" not in signals.at[("gdp", 2016), "targets"]     # mid-term 6.5% of 2018
    # a share: logit 46.8% → 75% over 2015–20 (the level and its pp change are one statement, averaged)
    logit = lambda p: np.log(p / (1 - p))
    assert signals.at[("mobile_internet_penetration", 2016), "drift"] == pytest.approx((logit(.75) - logit(.468)) / 5)
    # cumulative growth: PM2.5 down 20% in five years
    assert signals.at[("pm25", 2016), "drift"] == pytest.approx(np.log(0.8) / 5)


def test_targets_that_say_nothing_of_the_trend_are_left_out(signals):
    indicators = set(signals.index.get_level_values(0))
    assert "sei_share_gdp" not in indicators            # a ratio: which of SEI and GDP moves is not said
    assert "infant_mortality_rate" not in indicators    # ≤ 6‰ from 5.04‰: a bound already kept
    assert ("gdp", 2021) in signals.index and len(signals.loc[("gdp", 2021), "targets"].split()) == 1  # not 2800亿元


def test_vintage_sees_only_published_plans(dataset):
    early = planner.signals(dataset.targets, dataset.observations, dataset.catalogue, as_of="2021-02-23")
    assert early.empty  # both plans' targets are read from the 14th plan (published 2021-05-25)


def test_conditional_trend_is_the_posterior_given_a_t_statement():
    """Prior N(0, 1) for the period's trend, statement g = 2 with a t₃ of scale 1: mean and sd by quadrature."""
    g, sd = 2.0, 1.0
    dens = lambda m: stats.norm.pdf(m) * stats.t.pdf((g - m) / sd, priors.PLANNER_NU)
    z = integrate.quad(dens, -10, 10)[0]
    mean = integrate.quad(lambda m: m * dens(m), -10, 10)[0] / z
    var = integrate.quad(lambda m: m**2 * dens(m), -10, 10)[0] / z - mean**2
    draws = planner.conditional_trend(np.zeros(40000), 1.0, g, sd, np.random.default_rng(0))
    assert draws.mean() == pytest.approx(mean, abs=0.02)
    assert draws.std() == pytest.approx(np.sqrt(var), abs=0.02)


def test_evidence_shares_are_shares_of_precision():
    # Gaussian: prior precision 1, plan 1, figures 2 → posterior precision 4
    data, plan, prior = planner.evidence_shares(v0=1.0, v1=0.5, v2=0.25)
    assert (data, plan, prior) == pytest.approx((0.5, 0.25, 0.25))
    assert planner.evidence_shares(1.0, 1.0, 1.0) == pytest.approx((0.0, 0.0, 1.0))   # nothing learnt
    v0, v1 = planner.no_data_variances(0.06, 0.03, 0.077)
    assert v1 < v0 and planner.no_data_variances(0.06, 0.03, None) == (v0, v0)


def test_statement_enters_the_likelihood_of_a_fitted_period(dataset, signals):
    v = dataset.vintage("2024-03-31")
    layout = build_layout(v).subset(["gdp", "gdp_deflator"])
    obs = v.observations[v.observations["indicator"].isin(layout.indicators)].reset_index(drop=True)
    sig = signals.reset_index()
    m = build_model(layout, obs, layout.index(obs), sig)
    planner_rv = m["planner"]
    assert planner_rv in m.observed_RVs
    # the fitted periods' statements of GDP: 2016–20 and 2021–25
    assert np.allclose(sorted(m.rvs_to_values[planner_rv].data), sorted(sig.loc[sig["indicator"] == "gdp", "drift"]))
    assert "planner" not in build_model(layout, obs, layout.index(obs)).named_vars
