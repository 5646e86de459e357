r"""The Bayesian growth model: latent yearly paths that every kind of figure informs.

For each base indicator *i* (class *c*) on its natural scale (log, logit or identity),

.. math::

    x_{i,y_i} &\sim \mathcal N(a_i,\; 2^2)                     && a_i = \text{first observed level (year } y_i\text{), transformed}\\
    x_{i,t}   &= x_{i,t-1} + \mu_i + \sigma_i\,\varepsilon_{i,t}\\
    \mu_i &= m_c + s_c\, z^{\mu}_i, \quad z^{\mu}_i \sim t_3   && \text{drift}\\
    \sigma_i &= \sigma_c\, e^{0.3 z^{\sigma}_i}, \quad \log\sigma_c \sim \mathcal N(\log v_c, 0.5^2),\; z^\sigma_i \sim \mathcal N(0,1) && \text{pooled volatility}\\
    \varepsilon_{i,t} &\sim t_{\nu_c}(0, 1) \;\text{or}\; \mathcal N(0,1)

(non-centred; class priors in :mod:`model.priors`). Volatility is pooled hard within a class
(indicators differ from the class scale by ~30%): few indicators have more than two figures,
and a looser pool opens funnels the sampler cannot cross. The log GDP deflator :math:`d_t` is a base
indicator of class *price* (Student-t innovations, fat tails for coal-price swings) pinned to
:math:`d_{2020}=0`. Derived indicators (SEI share = SEI value added / GDP, ...) are ratios of
base ones (:mod:`model.layout`). Every figure *k* is an operator :math:`h_k` of the paths
(:mod:`model.operators`), observed with noise

.. math::

    y_k \sim \mathcal N\big(h_k(x),\; \sqrt{p_k^2 + \tau_{c(k),f(k)}^2 + a_k^2}\big),
    \qquad \tau_{c,f} = \underline\tau_f + \mathcal N^{+}(0, \kappa_f^2)

with :math:`p_k` the rounding error of the printed value (half a unit of the last digit / √3; for
growth figures also 2% of the figure), :math:`\tau_{c,f}` a document error per indicator class *c*
and family *f* (levels on the log scale, growth in points) above a floor (preliminary figures
are revised: 0.5% for levels, 0.1 points for growth), and :math:`a_k` the tolerance of an "about"
statement. Statements ">8%" or "≤5.5%" enter as censored terms :math:`\log P(y \gtrless v)`.

Documents that disagree widen the error of their class only: the 13th plan's trade table
(0.33 → 1.29亿美元, 31%/yr) against its text (10.7%/yr) loosens trade figures, not GDP. Two
alternatives were tried and rejected because they made the posterior multimodal ("which
document is wrong", "which figure is the outlier"): an error per document, and Student-t errors.

The drift prior is :math:`z^\mu_i \sim t_3` (not normal): a few indicators (family farms ×16 in
five years) sit far in the tail of their class, and a normal prior pins the sampler there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from . import priors
from .layout import DEFLATOR, DEFLATOR_BASE_YEAR, LOG100, FigureIndex, Layout, anchors
from .operators import LOG_SCALE_OPS, evaluate, to_comparison_scale

SQRT3 = np.sqrt(3.0)


def log_values(x, layout: Layout, xp=np):
    r"""Flattened cell vector :math:`[\ell, \ell^{nom}]` from latent base paths ``x`` (..., n_base, n_years)."""
    kinds = np.array([layout.transform(i) for i in layout.base])
    base = x
    for tr, fn in (("logit", lambda v: LOG100 - xp.log1p(xp.exp(-v))), ("identity", xp.log)):
        rows = np.flatnonzero(kinds == tr)
        if len(rows):
            value = fn(x[..., rows, :])
            if xp is np:
                base = base.copy() if base is x else base
                base[..., rows, :] = value
            else:
                base = xp.set_subtensor(base[..., rows, :], value)
    if layout.derived:
        num, den = layout.ratio_terms()
        base = xp.concatenate([base, base[..., num, :] - base[..., den, :] + LOG100], axis=-2)
    deflator = x[..., layout.base.index(DEFLATOR), :]
    nominal = base + layout.deflated()[:, None] * deflator[..., None, :]
    flat = lambda a: a.reshape((*a.shape[:-2], -1)) if xp is np else a.flatten()
    return xp.concatenate([flat(base), flat(nominal)], axis=-1)


def _scale(layout: Layout, anchor: dict[str, float]) -> np.ndarray:
    """Prior scale multiplier per base indicator: 1, or the level for identity-scale indices."""
    return np.array([abs(anchor.get(i, 1.0)) if layout.transform(i) == "identity" else 1.0 for i in layout.base])


def _innovation_cells(layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """(indicator row, year column) of every latent innovation: years after each indicator's start."""
    rows, cols = [], []
    for j, ind in enumerate(layout.base):
        for col in range(int(layout.start[ind] - layout.years[0]) + 1, layout.n_years):
            rows.append(j)
            cols.append(col)
    return np.array(rows, dtype=int), np.array(cols, dtype=int)


def figure_class(obs: pd.DataFrame, layout: Layout, classes: list[str]) -> np.ndarray:
    """Index of the prior class each figure's error term belongs to (a ratio: its numerator's class)."""
    from .data import formula_terms

    out = []
    for ind in obs["indicator"]:
        base = (formula_terms(layout.catalogue.at[ind, "links"]) or (ind,))[0]
        out.append(classes.index(layout.klass(base)))
    return np.array(out, dtype=int)


def observation_noise(obs: pd.DataFrame, op: str) -> np.ndarray:
    """Known part of each figure's sd on its comparison scale: rounding (+ 'about' tolerance)."""
    value = obs["value"].to_numpy(float)
    half = obs["half_unit"].to_numpy(float)
    about = (obs["comparator"] == "about").to_numpy()
    if op in LOG_SCALE_OPS:
        rounding = half / np.abs(value) / SQRT3
        tolerance, relative = priors.ABOUT_TOLERANCE["level"], 0.0
    else:
        rounding = half / SQRT3
        tolerance, relative = priors.ABOUT_TOLERANCE["growth"], priors.GROWTH_RELATIVE_NOISE * np.abs(value)
    return np.sqrt(rounding**2 + (about * tolerance) ** 2 + relative**2)


def censor_zeros(obs: pd.DataFrame) -> pd.DataFrame:
    """A printed 0 of a positive quantity says only 'below half a unit': make it the statement ``≤ half unit``."""
    obs = obs.copy()
    zero = (obs["value"] <= 0) & obs["kind"].isin(["level", "count", "share", "cumulative"])
    obs.loc[zero, "value"] = obs.loc[zero, "half_unit"]
    obs.loc[zero, "comparator"] = "<="
    return obs


def build_model(layout: Layout, obs: pd.DataFrame, index: FigureIndex) -> pm.Model:
    """The PyMC model of the latent paths given the observations (see the module equations)."""
    obs = censor_zeros(obs)
    classes = sorted({layout.klass(i) for i in layout.base})
    cls_of = np.array([classes.index(layout.klass(i)) for i in layout.base])
    cp = [priors.CLASS_PRIORS[c] for c in classes]
    anchor, anchor_year = anchors(layout, obs)
    scale = _scale(layout, anchor)
    rows, cols = _innovation_cells(layout)
    n_base, n_years = len(layout.base), layout.n_years
    defl = layout.base.index(DEFLATOR)
    coords = {"indicator": layout.base, "year": layout.years, "klass": classes}

    with pm.Model(coords=coords) as model:
        z_mu = pm.StudentT("z_mu", nu=priors.DRIFT_NU, mu=0.0, sigma=1.0, dims="indicator")
        mu = pm.Deterministic(
            "mu", (np.array([p.drift_mean for p in cp])[cls_of] + np.array([p.drift_sd for p in cp])[cls_of] * z_mu) * scale,
            dims="indicator")
        sigma_class = pm.LogNormal("sigma_class", mu=np.log([p.vol for p in cp]), sigma=priors.VOL_CLASS_SPREAD, dims="klass")
        z_sigma = pm.Normal("z_sigma", 0.0, 1.0, dims="indicator")
        sigma = pm.Deterministic("sigma", sigma_class[cls_of] * pt.exp(priors.VOL_INDICATOR_SPREAD * z_sigma) * scale,
                                 dims="indicator")

        # Innovations, non-centred, grouped by tail weight so each group has one distribution.
        nus = np.array([cp[cls_of[r]].nu or 0.0 for r in rows])
        eps = pt.zeros(len(rows))
        for nu in np.unique(nus):
            sel = np.flatnonzero(nus == nu)
            name = "eps_normal" if nu == 0 else f"eps_t{nu:g}"
            e = pm.Normal(name, 0.0, 1.0, shape=len(sel)) if nu == 0 else pm.StudentT(name, nu=nu, mu=0.0, sigma=1.0, shape=len(sel))
            eps = pt.set_subtensor(eps[sel], e)
        innov = mu[rows] + sigma[rows] * eps
        steps = pt.zeros((n_base, n_years))
        steps = pt.set_subtensor(steps[rows, cols], innov)

        anchor_col = np.array([int(anchor_year.get(i, layout.start[i]) - layout.years[0]) for i in layout.base])
        has_anchor = np.array([i in anchor for i in layout.base])
        x0_mean = np.array([anchor.get(i, 0.0) for i in layout.base])
        x0_sd = np.where(has_anchor, priors.INITIAL_LEVEL_SD * np.where(scale > 1, 0.05 * scale, 1.0), 10.0)
        x0_sd[defl] = 1.0  # cancels: the deflator is pinned at its base year below
        x0 = pm.Normal("x0", x0_mean, x0_sd, dims="indicator")
        # Pin each path at its anchor year (first observed level) so that figure constrains one
        # parameter, not the sum of all innovations before it (a ridge NUTS crawls along).
        cum = pt.cumsum(steps, axis=1)
        x = x0[:, None] + cum - cum[np.arange(n_base), anchor_col][:, None]
        base_col = int(min(DEFLATOR_BASE_YEAR, layout.years[-1]) - layout.years[0])
        x = pt.set_subtensor(x[defl], x[defl] - x[defl, base_col])
        x = pm.Deterministic("x", x, dims=("indicator", "year"))

        cells = log_values(x, layout, xp=pt)
        noise_level = priors.NOISE_FLOOR_LEVEL + pm.HalfNormal("source_noise_level", priors.SOURCE_NOISE_LEVEL,
                                                               dims="klass")
        noise_growth = priors.NOISE_FLOOR_GROWTH + pm.HalfNormal("source_noise_growth", priors.SOURCE_NOISE_GROWTH,
                                                                 dims="klass")
        for op, positions in index.rows.items():
            sub = obs.iloc[positions]
            pred = to_comparison_scale(op, evaluate(op, cells, index.idx[op], index.weights[op], xp=pt), xp=pt)
            value = to_comparison_scale(op, sub["value"].to_numpy(float))
            tau = (noise_level if op in LOG_SCALE_OPS else noise_growth)[figure_class(sub, layout, classes)]
            sd = pt.sqrt(observation_noise(sub, op) ** 2 + tau**2)
            comp = sub["comparator"].to_numpy()
            point = np.isin(comp, ["=", "about"])
            if point.any():
                pm.Normal(f"obs_{op}", mu=pred[point], sigma=sd[point], observed=value[point])
            for sign, ops in ((1.0, [">", ">="]), (-1.0, ["<", "<="])):
                sel = np.isin(comp, ops)
                if sel.any():  # log P(y > v) = log Φ((pred - v)/sd), and mirrored for "<"
                    pm.Potential(f"censored_{op}_{'gt' if sign > 0 else 'lt'}",
                                 pm.logcdf(pm.Normal.dist(0.0, 1.0), sign * (pred[sel] - value[sel]) / sd[sel]).sum())
    return model
