"""Sparse indicators: importance resampling returns the conditional posterior of the growth model.

Simulation-based calibration of the sampler alone: truth and figures drawn from the indicator's prior
(class hyperparameters fixed), then one conditional draw set per replication; the rank of the truth
among the draws is uniform when the draws come from the posterior. Cheap: no NUTS.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from model import priors
from model.growth import plan_period
from model.layout import DEFLATOR, Layout
from model.sparse import _Conditional

YEARS = np.arange(2014, 2024)
TAU_LEVEL, TAU_GROWTH = 0.02, 0.3


def _layout(dataset, ind):
    return Layout([ind, DEFLATOR] if ind < DEFLATOR else [DEFLATOR, ind], [], YEARS, dataset.catalogue,
                  {ind: 2014, DEFLATOR: 2014})


def _rows(ind, figures):
    base = dict(indicator=ind, span_start=pd.NA, comparator="=", price_basis="n.a.", half_unit=1e-4,
                source="synthetic", published=pd.Timestamp("2024-01-01"))
    return pd.DataFrame([dict(base, year=y, kind=k, value=v) for y, k, v in figures])


def _truth(rng, cp, sig_c, transform):
    """A path from the prior: long-run drift, a shift per plan period, volatility (class scale fixed)."""
    base = cp.drift_mean + cp.drift_sd * rng.standard_t(priors.DRIFT_NU)
    period = plan_period(YEARS)
    shift = {p: priors.PERIOD_SHIFT * cp.drift_sd * rng.standard_normal() for p in np.unique(period)}
    drift = base + np.array([shift[p] for p in period])
    sigma = sig_c * np.exp(priors.VOL_INDICATOR_SPREAD * rng.standard_normal())
    start = {"log": np.log(50.0), "logit": 0.0}[transform]
    steps = drift[1:] + sigma * rng.standard_normal(len(YEARS) - 1)
    return start + np.concatenate([[0.0], np.cumsum(steps)]), drift[-1], base


@pytest.mark.parametrize("ind, transform, stated", [("elderly_care_beds_per_1000", "log", None),
                                                    ("surface_water_good_share", "logit", None),
                                                    ("elderly_care_beds_per_1000", "log", 2021),
                                                    ("elderly_care_beds_per_1000", "log", 2026)])
def test_conditional_draws_are_calibrated(dataset, ind, transform, stated):
    """``stated``: a plan states the trend of the period starting that year (model.planner), drawn from its t₃
    around the truth: 2021–25, the last fitted period, or 2026–30, after the fitted years."""
    layout = _layout(dataset, ind)
    cp = priors.CLASS_PRIORS[dataset.catalogue.at[ind, "class"]]
    rng = np.random.default_rng(7)
    reps, n, ranks = 120, 49, {"x2020": [], "x2023": [], "mu": [], "mu_base": [], "ahead": []}
    sig_c = cp.vol
    for _ in range(reps):
        x, mu, mu_base = _truth(rng, cp, sig_c, transform)
        col = {y: k for k, y in enumerate(YEARS)}
        noise = lambda sd: sd * rng.standard_normal()
        if transform == "log":
            figures = [(2015, "level", float(np.exp(x[col[2015]] + noise(TAU_LEVEL)))),
                       (2020, "level", float(np.exp(x[col[2020]] + noise(TAU_LEVEL)))),
                       (2023, "yoy_growth", float(100 * np.expm1(x[col[2023]] - x[col[2022]]) + noise(TAU_GROWTH)))]
        else:
            share = lambda t: 100 / (1 + np.exp(-x[col[t]]))
            figures = [(2015, "share", float(share(2015) * np.exp(noise(TAU_LEVEL)))),
                       (2020, "share", float(share(2020) * np.exp(noise(TAU_LEVEL))))]
        anchor_value = figures[1][2]
        anchor = np.log(anchor_value) if transform == "log" else np.log(anchor_value / (100 - anchor_value))
        signals = ()
        ahead = mu_base + priors.PERIOD_SHIFT * cp.drift_sd * rng.standard_normal()  # the 2026–30 trend
        if stated:  # one level and the statement: the trend is the statement's (a wrong scale fails, ×0.2 or ×5)
            figures = figures[1:2]
            g = (mu if stated == 2021 else ahead) + priors.PLANNER_SD * cp.drift_sd * rng.standard_t(priors.PLANNER_NU)
            signals = [(stated, float(g))]
        cond = _Conditional(layout, ind, _rows(ind, figures), anchor, 2020, 1.0, signals)
        ones = np.ones(n)
        xs, mus, bases, _, _, aheads = cond.draw(rng, sig_c * ones, TAU_LEVEL * ones, TAU_GROWTH * ones,
                                                 np.zeros((n, len(YEARS))), 64)
        for name, draws, true in (("x2020", xs[:, col[2020]], x[col[2020]]), ("x2023", xs[:, col[2023]], x[col[2023]]),
                                  ("mu", mus, mu), ("mu_base", bases, mu_base)):
            ranks[name].append(int((draws < true).sum()))
        if stated == 2026:
            ranks["ahead"].append(int((aheads[:, 0] < ahead).sum()))
    for name, r in ((k, v) for k, v in ranks.items() if v):
        counts = np.bincount(np.array(r) * 5 // (n + 1), minlength=5)
        assert stats.chisquare(counts).pvalue > 0.001, (name, counts)


def test_one_level_needs_one_proposal_and_is_matched(dataset):
    ind = "elderly_care_beds_per_1000"
    cond = _Conditional(_layout(dataset, ind), ind, _rows(ind, [(2020, "level", 30.0)]), np.log(30.0), 2020, 1.0)
    assert cond.exact
    n = 2000
    ones = np.ones(n)
    xs, *_ = cond.draw(np.random.default_rng(1), 0.08 * ones, TAU_LEVEL * ones, TAU_GROWTH * ones,
                            np.zeros((n, len(YEARS))), 64)
    level = xs[:, 2020 - YEARS[0]]
    assert abs(np.median(level) - np.log(30.0)) < 0.003
    assert 0.8 * TAU_LEVEL < level.std() < 1.2 * TAU_LEVEL


def test_unanchored_total_constrains_nothing(dataset):
    """A censored total ('more than 600 people, 2016–20') with no level: the level is unknown, not forced up."""
    ind = "elderly_care_beds_per_1000"
    rows = _rows(ind, [(2020, "cumulative", 600.0)]).assign(span_start=2016, comparator=">")
    cond = _Conditional(_layout(dataset, ind), ind, rows, None, None, 1.0)
    assert not cond.anchored and cond.groups == []
