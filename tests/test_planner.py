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


def test_no_data_variance_is_the_posterior_given_the_statement_alone():
    """Trend = m + s t₃ + ρ s N(0, 1), statement g ~ t₃(trend, κ s): the variance of the trend given g, by quadrature."""
    m, s, g = 0.0, 0.1, 0.25
    shift, sd = priors.PERIOD_SHIFT * s, priors.PLANNER_SD * s
    prior = lambda u: integrate.quad(lambda b: stats.t.pdf(b, priors.DRIFT_NU, m, s) * stats.norm.pdf(u, b, shift),
                                     -2, 2, limit=200)[0]
    dens = lambda u: prior(u) * stats.t.pdf(g, priors.PLANNER_NU, u, sd)
    z = integrate.quad(dens, -1.5, 1.5, limit=200)[0]
    mean = integrate.quad(lambda u: u * dens(u), -1.5, 1.5, limit=200)[0] / z
    var = integrate.quad(lambda u: (u - mean) ** 2 * dens(u), -1.5, 1.5, limit=200)[0] / z
    v0, v1 = planner.no_data_variances(m, s, g)
    assert v0 == pytest.approx((3 + priors.PERIOD_SHIFT**2) * s**2)
    assert v1 == pytest.approx(var, rel=0.05)


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


def test_statement_of_a_later_period_adds_its_trend(dataset, signals):
    """As of 2021 the fit ends in 2020: the 14th plan's statements add the 2021–25 trend to the model."""
    v = dataset.vintage("2021-05-25")
    layout = build_layout(v).subset(["gdp", "gdp_deflator"])
    obs = v.observations[v.observations["indicator"].isin(layout.indicators)].reset_index(drop=True)
    m = build_model(layout, obs, layout.index(obs), signals.reset_index())
    assert layout.years[-1] == 2020 and 2021 in m.coords["period"]
    assert len(m.rvs_to_values[m["planner"]].data) == 2    # GDP's statements of 2016–20 and 2021–25


def test_fit_through_a_year_sees_only_plans_issued_by_then(dataset):
    """The 13th-plan record fits figures through 2015: the 13th plan (2016–20) counts, the 14th (written in 2021,
    knowing 2016–20's outcomes) does not."""
    through = planner.signals(dataset.targets, dataset.observations, dataset.catalogue, data_through=2015)
    assert set(through["period"]) == {2016}
    every = planner.signals(dataset.targets, dataset.observations, dataset.catalogue)
    assert set(every["period"]) == {2016, 2021}
