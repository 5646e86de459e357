r"""Scenario simulation: extend posterior paths from the fit's last year to the horizon.

For each simulated path (a posterior draw, resampled) and future year *t*,

.. math::

    x_{i,t} = x_{i,t-1} + \mu_{i,p(t)} + k_{i,t}\,\sigma_i\,\varepsilon_{i,t}

exactly as in the fitted model (:mod:`model.growth`), with :math:`k_{i,t}` the scenario's
volatility multiplier. The trend of a year in the plan period of the fit's last year is that
period's posterior trend; a later period that a plan states has its trend drawn by the fit given the
statement (``Fit.ahead``, :mod:`model.planner`); any other later period's trend is drawn afresh
around the long-run trend, :math:`\mu_{i,p} = \mu_i + \rho\, s_c k_i\, z`, :math:`z \sim \mathcal N(0,1)`
(one draw per path, indicator and period). The scenario's assumptions then act on the simulated growth
:math:`g_{i,t} = e^{\Delta x_{i,t}} - 1` of log-scale indicators:

* ``growth_shift``  :math:`g \to g + \delta/100` (points added to the simulated growth),
* ``growth_set``    :math:`g \to g^*/100` (plus optional N(0, sd) noise in points),
* ``level_shock``   :math:`x_{i,u} \to x_{i,u} + \log(1 + s/100)` for all :math:`u \ge t`,
  applied to each path with the given probability,
* ``volatility``    :math:`k_{i,t}` (multiplies the innovation sd).

Nothing here refits: the posterior is read, not changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fit import Fit
from .growth import log_values
from .layout import Layout


@dataclass
class Paths:
    """Simulated latent paths on the fit's indicators, from its first year to the horizon.

    Attributes
    ----------
    layout : Layout
        The fit's layout extended to the horizon: ``layout.base`` (indicator ids, axis 1 of ``x``) and
        ``layout.years`` (axis 2).
    x : ndarray, shape (n_paths, n_base, n_years)
        Latent values on each indicator's natural scale (log level, logit share); GDP and value added
        are real, at 2020 prices. Years up to ``last_observed_year`` are posterior draws of the fit.
    posterior_draw : ndarray of int, shape (n_paths,)
        The posterior draw each path extends.
    last_observed_year : int
        The fit's last year; later years are simulated.

    Examples
    --------
    >>> import model
    >>> f = model.fit(as_of="2024-03-31", draws=150, tune=150, chains=2, seed=11)
    >>> paths = model.simulate(f, horizon=2025, n_paths=500, seed=1)
    >>> paths.x.shape == (500, len(paths.layout.base), len(paths.layout.years))
    True
    >>> paths.last_observed_year, int(paths.layout.years[-1])
    (2023, 2025)
    """

    layout: Layout
    x: np.ndarray  # (n_paths, n_base, n_years)
    posterior_draw: np.ndarray  # which posterior draw each path extends
    last_observed_year: int

    def cells(self) -> np.ndarray:
        """Flattened log-value cells (n_paths, n_cells) for :func:`model.operators.evaluate` (computed once)."""
        if getattr(self, "_cells", None) is None:
            self._cells = log_values(self.x, self.layout)
        return self._cells


def _standard_innovations(rng, nu: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Unit-scale innovations: Student-t(ν) where ν > 0, normal where ν = 0 (per indicator, axis 1)."""
    eps = rng.standard_normal(shape)
    for v in np.unique(nu[nu > 0]):
        sel = nu == v
        eps[:, sel] = rng.standard_t(v, size=(shape[0], int(sel.sum()), shape[2]))
    return eps


def simulate(fit: Fit, horizon: int = 2025, n_paths: int | None = None, seed: int = 0,
             assumptions: list | tuple = (), override: dict | None = None) -> Paths:
    """Simulate paths to ``horizon`` under a list of :class:`model.scenario.Assumption`.

    Parameters
    ----------
    fit : Fit
        The posterior to extend (read, not changed).
    horizon : int
        Last simulated year (≥ the fit's last year).
    n_paths : int, optional
        Number of paths (posterior draws resampled with replacement); default: all draws.
    seed : int
        Seed of the resampling and of the innovations: equal seeds give equal paths.
    assumptions : list of Assumption
        Applied in order to the simulated years (see the module docstring for what each kind does).
    override : dict, optional
        Draws of ``mu``, ``mu_base`` and ``sigma`` (n_draws, n_base) to use instead of the posterior's
        (the prior's, for the evidence column).

    Returns
    -------
    Paths
        Fitted years followed by the simulated years up to ``horizon``.

    Examples
    --------
    >>> import model, numpy as np
    >>> f = model.fit(as_of="2024-03-31", draws=150, tune=150, chains=2, seed=11)
    >>> base = model.simulate(f, horizon=2025, n_paths=500, seed=1)
    >>> set3 = model.simulate(f, horizon=2025, n_paths=500, seed=1, assumptions=[
    ...     model.Assumption(indicator="gdp", kind="growth_set", value=3.0, years=[2025])])
    >>> j = set3.layout.base.index("gdp")                       # x is log real GDP
    >>> bool(np.allclose(np.expm1(set3.x[:, j, -1] - set3.x[:, j, -2]), 0.03))   # 2025 growth is set to 3%
    True
    >>> bool(np.array_equal(set3.x[:, :, :-1], base.x[:, :, :-1]))               # earlier years unchanged
    True
    """
    from .priors import CLASS_PRIORS

    rng = np.random.default_rng(seed)
    layout = fit.layout
    x_fit = fit.draws("x")
    n_post = x_fit.shape[0]
    n_paths = n_paths or n_post
    pick = rng.permutation(n_post) if n_paths == n_post else rng.integers(0, n_post, n_paths)
    x_fit = x_fit[pick]
    ext = layout.with_years(max(horizon, fit.last_year))
    n_future = int(ext.years[-1] - fit.last_year)
    if n_future == 0:
        return Paths(ext, x_fit, pick, fit.last_year)

    dyn = override or {"mu": fit.draws("mu"), "mu_base": fit.draws("mu_base"), "sigma": fit.draws("sigma")}
    sigma = dyn["sigma"][pick][:, :, None]
    nu = np.array([CLASS_PRIORS[layout.klass(i)].nu or 0.0 for i in layout.base])
    shape = (n_paths, len(layout.base), n_future)
    eps = _standard_innovations(rng, nu, shape)
    future_years = ext.years[-n_future:]
    mu = future_trends(fit, dyn, pick, future_years, rng, planner=override is None)

    k = np.ones(shape)
    for a in assumptions:
        if a.kind == "volatility":
            for j, col in _targets(a, layout, future_years):
                k[:, j, col] = a.value
    steps = mu + k * sigma * eps

    shocks = np.zeros(shape)
    for a in assumptions:
        for j, col in _targets(a, layout, future_years):
            if a.kind == "growth_shift":
                steps[:, j, col] = np.log1p(np.maximum(np.expm1(steps[:, j, col]) + a.value / 100.0, -0.99))
            elif a.kind == "growth_set":
                noise = rng.normal(0.0, a.sd, n_paths) if a.sd else 0.0
                steps[:, j, col] = np.log1p(np.maximum(a.value + noise, -99.0) / 100.0)
            elif a.kind == "level_shock":
                hit = rng.random(n_paths) < a.probability
                shocks[hit, j, col] += np.log1p(a.value / 100.0)
    x_future = x_fit[:, :, -1:] + np.cumsum(steps + shocks, axis=2)
    return Paths(ext, np.concatenate([x_fit, x_future], axis=2), pick, fit.last_year)


def future_trends(fit: Fit, dyn: dict, pick: np.ndarray, future_years: np.ndarray, rng,
                  planner: bool = True) -> np.ndarray:
    """Trend of each path, indicator and future year (n_paths, n_base, n_future): the fitted trend of the
    last plan period within it; for a later period that a plan states (``Fit.ahead``; with ``planner``), the
    trend the fit drew given the statement (:mod:`model.planner`); for any other later period a fresh draw
    around the long-run trend."""
    from .growth import plan_period
    from .priors import CLASS_PRIORS, PERIOD_SHIFT

    current, base = dyn["mu"][pick], dyn["mu_base"][pick]
    shift = PERIOD_SHIFT * np.array([CLASS_PRIORS[fit.layout.klass(i)].drift_sd for i in fit.layout.base]) * prior_scale(fit)
    periods = plan_period(future_years)
    out = np.repeat(current[:, :, None], len(future_years), axis=2)
    ahead = fit.ahead if planner else []
    for p in np.unique(periods[periods != plan_period(fit.last_year)]):
        if p in ahead:
            trend = fit.draws("mu_ahead")[pick][:, :, ahead.index(p)]
        else:
            trend = base + shift * rng.standard_normal(base.shape)
        out[:, :, periods == p] = trend[:, :, None]
    return out


def _targets(assumption, layout: Layout, future_years: np.ndarray):
    """(indicator row, future-year column) pairs an assumption applies to."""
    years = assumption.year_list(int(future_years[0]), int(future_years[-1]))
    for ind in assumption.indicator_list():
        j = layout.base.index(ind)
        for y in years:
            yield j, int(y - future_years[0])


def prior_scale(fit: Fit) -> np.ndarray:
    """Prior scale multiplier per base indicator (1, or the level of an identity-scale index), once per fit:
    it needs every indicator's anchor, which scans all figures."""
    if "_prior_scale" not in fit.__dict__:
        from .growth import _scale
        from .layout import anchors

        fit.__dict__["_prior_scale"] = _scale(fit.layout, anchors(fit.layout, fit.observations)[0])
    return fit.__dict__["_prior_scale"]


def prior_dynamics(fit: Fit, seed: int) -> dict[str, np.ndarray]:
    """Draws of the current period's trend ``mu``, the long-run trend ``mu_base`` and the volatility ``sigma``
    (n_draws, n_base) from the class priors alone."""
    from .priors import CLASS_PRIORS, DRIFT_NU, PERIOD_SHIFT, VOL_CLASS_SPREAD, VOL_INDICATOR_SPREAD

    rng = np.random.default_rng(seed)
    layout = fit.layout
    n = fit.draws("mu").shape[0]
    scale = prior_scale(fit)
    cp = [CLASS_PRIORS[layout.klass(i)] for i in layout.base]
    base = (np.array([p.drift_mean for p in cp])
            + np.array([p.drift_sd for p in cp]) * rng.standard_t(DRIFT_NU, (n, len(cp))))
    mu = base + PERIOD_SHIFT * np.array([p.drift_sd for p in cp]) * rng.standard_normal((n, len(cp)))
    sig_c = {c: CLASS_PRIORS[c].vol * np.exp(VOL_CLASS_SPREAD * rng.standard_normal(n))
             for c in sorted({layout.klass(i) for i in layout.base})}  # sorted: same draws in every process
    sigma = (np.stack([sig_c[layout.klass(i)] for i in layout.base], axis=1)
             * np.exp(VOL_INDICATOR_SPREAD * rng.standard_normal((n, len(cp)))))
    return {"mu": mu * scale, "mu_base": base * scale, "sigma": sigma * scale}
