r"""The plan's own targets as information on the trend of their period ("planner information").

A five-year plan's target for indicator *i* says where its planners expect the indicator to go in
the plan period *p*: they know its programmes and projects, which the class prior does not. A
target :math:`T` with base :math:`B` in year *b* (the year before the period, or a footnoted earlier
one) and target year *e* is read as a noisy statement of the period's trend,

.. math::

    g_{i,p} = \frac{f(T) - f(B)}{e - b} \;\sim\; t_{\nu}\big(\mu_{i,p},\; \kappa\, s_c\big)

on the indicator's natural scale *f* (log, logit or identity); an average growth *r* gives
:math:`g = \log(1+r)`, a cumulative growth *c* over *n* years :math:`g = \log(1+c)/n`, a pp change
is added to its base share. :math:`s_c` is the class's drift sd and κ = ``priors.PLANNER_SD``.
Targets are not promises: a target misses the realised trend by about as much as trends differ
between indicators of a class, and some are slogans (R&D intensity 0.89% → 2.5% in five years), so
the signal is Student-t (ν = ``priors.PLANNER_NU``): a target far from everything else the model
knows loses its pull. Its centre is the threshold itself: no bias either way is assumed.

Only statements a planner made when the plan was issued count: mid-term adjustments (中期调整,
published later) and restatements are left out, as are ratios (a share of two modelled
indicators does not say which of them is expected to move), nominal targets of indicators whose
latent path is real (the deflator is not the planner's to set), annual plans and thresholds
supplied by a scenario. A bound the base already keeps (infant mortality ≤ 6‰ from 5.04‰) says
"no worse", not where the planner expects the indicator, and is left out too. Several targets of
one indicator and period (a level and its growth rate) are one statement: their implied trends
are averaged.

The signal is a term of the likelihood (:mod:`model.growth`, :mod:`model.sparse`). Where its
period lies after the fitted years (a fit as of 2021 and the 2021–25 plan), the fit adds that
period's trend, a shift with no step yet: the statement informs it and, through it, the
long-run trend, and the simulation uses it (``Fit.ahead``). :func:`evidence_shares` splits what
is known about a trend into data, plan and prior.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from scipy import stats

from . import priors
from .data import formula_terms
from .growth import plan_period
from .layout import DEFLATOR

FIVE_YEAR_PLANS = ("p13", "p14")
"""Target registry ``plan`` ids of five-year plans (``a2021`` ... are annual plans)."""
ADJUSTED = "调整"
"""A quote with this word is a mid-term adjustment (published after the plan), not the plan's statement."""
SIGNAL_COLUMNS = ["indicator", "period", "drift", "targets"]


def signals(targets: pd.DataFrame, observations: pd.DataFrame, catalogue: pd.DataFrame,
            as_of: str | None = None, data_through: int | None = None) -> pd.DataFrame:
    """Implied trend ``drift`` (natural scale, per year) of each (indicator, plan ``period``) with a usable
    five-year-plan target published by ``as_of``; ``targets`` lists the target ids averaged. With
    ``data_through`` (a fit on figures up to that year), only plans whose period starts by the next year:
    a plan is issued at the start of its period, and a later plan knows outcomes the fit must not see
    (the 14th plan, written in 2021, would tell a fit through 2015 where 2016–20 went)."""
    tg = targets[targets["plan"].isin(FIVE_YEAR_PLANS) & targets["threshold"].notna()
                 & (targets["restates"].fillna("") == "") & ~targets["quote"].astype(str).str.contains(ADJUSTED)]
    if as_of is not None:
        tg = tg[pd.to_datetime(tg["published"]) <= pd.Timestamp(as_of)]
    if data_through is not None:
        tg = tg[plan_period(tg["year"].to_numpy(int)) <= data_through + 1]
    rows = []
    for t in tg.itertuples(index=False):
        g = implied_drift(t, observations, catalogue)
        if g is not None and np.isfinite(g):
            rows.append((t.indicator, int(plan_period(int(t.year))), g, t.target_id))
    if not rows:
        return pd.DataFrame(columns=SIGNAL_COLUMNS)
    frame = pd.DataFrame(rows, columns=SIGNAL_COLUMNS)
    return (frame.groupby(["indicator", "period"], as_index=False)
            .agg(drift=("drift", "mean"), targets=("targets", " ".join)))


def implied_drift(t, observations: pd.DataFrame, catalogue: pd.DataFrame) -> float | None:
    """The trend per year on the indicator's natural scale that target row ``t`` implies, or None."""
    if t.indicator not in catalogue.index or len(formula_terms(catalogue.at[t.indicator, "links"])) == 2:
        return None
    year = int(t.year)
    if plan_period(year) + 4 != year:  # a plan's end year only (not 2035 visions or mid-plan years)
        return None
    transform = catalogue.at[t.indicator, "transform"]
    real_path = catalogue.at[t.indicator, "deflator"] == DEFLATOR
    if real_path and t.price_basis == "nominal":
        return None
    value = (float(t.threshold) + float(t.threshold_high)) / 2 if pd.notna(t.threshold_high) else float(t.threshold)
    if t.kind in ("avg_growth", "cum_growth"):
        if transform != "log" or value <= -100:
            return None
        n = 1 if t.kind == "avg_growth" else year - int(t.span_start) + 1
        return float(np.log1p(value / 100.0) / n)
    if t.kind not in ("level", "count", "share", "pp_change"):
        return None
    base_year, base = _base(t, observations)
    if base is None or base_year >= year:
        return None
    if t.kind == "pp_change":
        value = base + value
    if (t.comparator in (">=", ">") and value <= base) or (t.comparator in ("<=", "<") and value >= base):
        return None  # a bound the base already keeps says "no worse", not where the planner expects it
    f = _natural(transform)
    try:
        return float((f(value) - f(base)) / (year - base_year))
    except (ValueError, ZeroDivisionError):
        return None


def _natural(transform: str):
    def log(v):
        if v <= 0:
            raise ValueError
        return np.log(v)

    def logit(v):
        p = min(max(v / 100.0, 0.005), 0.995)  # a target of 0% or 100%: half a percent from the bound
        return np.log(p / (1 - p))

    return {"log": log, "logit": logit, "identity": float}[transform]


def _base(t, observations: pd.DataFrame) -> tuple[int, float | None]:
    """Base year and value of a level target: its own base column, else the latest published level figure of
    the year before its plan period."""
    if pd.notna(t.base_year) and pd.notna(t.base_value):
        return int(t.base_year), float(t.base_value)
    year = int(plan_period(int(t.year))) - 1
    obs = observations[(observations["indicator"] == t.indicator) & (observations["year"] == year)
                       & observations["kind"].isin(["level", "count", "share"])
                       & observations["comparator"].isin(["=", "about"])]
    if len(obs) == 0:
        return year, None
    return year, float(obs.sort_values("published")["value"].iloc[-1])


def scale_sd(drift_sd: np.ndarray | float) -> np.ndarray | float:
    """Scale of the signal: κ times the class drift sd (times the level, for identity-scale indices)."""
    return priors.PLANNER_SD * np.asarray(drift_sd)


MONTE_CARLO = 20000
"""Draws for the no-data variances of :func:`evidence_shares` (a fixed seed: the same numbers every run)."""


@functools.lru_cache(maxsize=None)
def no_data_variances(drift_mean: float, drift_sd: float, signal: float | None) -> tuple[float, float]:
    """Variance of a plan period's trend under the class prior alone (V₀: t₃ long-run drift, variance 3 s², plus
    the period shift ρ² s²) and under the prior and the plan's statement, without any figure (V₁: prior draws
    weighted by the statement's t density)."""
    v0 = priors.DRIFT_NU / (priors.DRIFT_NU - 2) * drift_sd**2 + (priors.PERIOD_SHIFT * drift_sd) ** 2
    if signal is None:
        return v0, v0
    rng = np.random.default_rng(0)
    trend = (drift_mean + drift_sd * rng.standard_t(priors.DRIFT_NU, MONTE_CARLO)
             + priors.PERIOD_SHIFT * drift_sd * rng.standard_normal(MONTE_CARLO))
    w = stats.t.pdf((signal - trend) / float(scale_sd(drift_sd)), priors.PLANNER_NU)
    mean = np.average(trend, weights=w)
    return v0, float(np.average((trend - mean) ** 2, weights=w))


def evidence_shares(v0: float, v1: float, v2: float) -> tuple[float, float, float]:
    """(data, plan, prior) shares of what is known of a trend, from its variance under the prior (v0), the prior
    and the plan (v1), and the posterior (v2): for Gaussians, the shares of the posterior precision
    (prior 1/v0, plan 1/v1 − 1/v0, figures 1/v2 − 1/v1, each times v2)."""
    data = float(np.clip(1.0 - v2 / v1, 0.0, 1.0))
    plan = float(np.clip(1.0 - v1 / v0, 0.0, 1.0)) * (1.0 - data)
    return data, plan, 1.0 - data - plan
