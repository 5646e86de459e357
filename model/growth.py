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

**Parameterisation.** Where point figures pin the change of a path over a span
(:func:`pinned_spans`: levels of 2015 and 2020, an average growth 2016–20, ...) and an indicator
has at least two such spans, the span's n steps are drawn as a centred sum plus a
non-centred Brownian bridge,

.. math::

    \Delta \sim \mathcal N(n\mu_i,\; n\sigma_i^2), \qquad
    (x_{i,a+1}-x_{i,a}, \dots, x_{i,b}-x_{i,b-1}) = \Delta/n + \sigma_i H_n^\top \eta, \quad \eta \sim \mathcal N(0, I_{n-1})

(:math:`H_n` the Helmert contrasts, so the steps have covariance :math:`\sigma_i^2(I - J/n)` given
their sum: exactly the conditional of iid steps). The prior is unchanged; the geometry is not:
data-pinned sums are centred (no funnel where the data are sharp), everything else stays
non-centred. Fiscal revenue's coal-boom jump (+37%/yr 2021–22, then +1.5%) otherwise forces a
funnel between its volatility and its innovations.

The drift prior is :math:`z^\mu_i \sim t_3` (not normal): a few indicators (family farms ×16 in
five years) sit far in the tail of their class, and a normal prior pins the sampler there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
from scipy.linalg import helmert

from . import priors
from .layout import DEFLATOR, DEFLATOR_BASE_YEAR, LOG100, FigureIndex, Layout, anchors
from .operators import LOG_SCALE_OPS, cell_years, evaluate, to_comparison_scale

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


POINT = ("=", "about")
PINNING_KINDS = ("level", "count", "share", "yoy_growth", "avg_growth", "cum_growth", "pp_change")


def pinned_spans(layout: Layout, obs: pd.DataFrame) -> dict[str, list[tuple[int, int]]]:
    """Spans (a, b) of an indicator's path whose change :math:`x_b - x_a` point figures pin.

    A level pins :math:`x_t`; a growth rate or pp change pins :math:`x_t - x_{S-1}`. The years
    these figures read are the path's *knots*; the change between two consecutive knots is pinned
    when it is a linear combination of what the figures pin (levels 2020 and 2023 and the 2023
    growth rate pin 2020→2022). Figures of ratios, cumulative sums, statements (">8%") and nominal
    figures of deflated indicators read other paths as well and pin nothing here.
    """
    deflated = dict(zip(layout.indicators, layout.deflated()))
    y0 = int(layout.years[0])
    pins: dict[str, list[np.ndarray]] = {}
    rows = obs[obs["indicator"].isin(layout.base) & obs["comparator"].isin(POINT) & obs["kind"].isin(PINNING_KINDS)]
    for r in rows.itertuples(index=False):
        if deflated[r.indicator] and r.price_basis == "nominal":
            continue
        span = None if pd.isna(r.span_start) else int(r.span_start)
        years, weights = cell_years(r.kind, int(r.year), span)
        if min(years) < layout.start[r.indicator]:
            continue
        v = np.zeros(layout.n_years)
        v[np.array(years) - y0] = np.sign(weights)
        pins.setdefault(r.indicator, []).append(v)
    out = {}
    for ind, vs in pins.items():
        basis = np.array(vs)
        rank = np.linalg.matrix_rank(basis)
        knots = sorted(set(np.flatnonzero(basis.any(axis=0))))
        spans = []
        for a, b in zip(knots[:-1], knots[1:]):
            change = np.zeros(layout.n_years)
            change[[a, b]] = [-1.0, 1.0]
            if np.linalg.matrix_rank(np.vstack([basis, change])) == rank:
                spans.append((int(a) + y0, int(b) + y0))
        out[ind] = spans
    return out


@dataclass
class StepPlan:
    """How each latent step :math:`x_{i,t}-x_{i,t-1}` is parameterised.

    ``free``: (row, col) of steps drawn non-centred, :math:`\mu_i + \sigma_i\varepsilon_{i,t}`.
    ``blocks``: (row, first col, n) of runs of n steps over a pinned span, drawn as a centred block
    sum :math:`\Delta \sim N(n\mu_i, n\sigma_i^2)` plus a non-centred bridge.
    """

    free: tuple[np.ndarray, np.ndarray]
    blocks: np.ndarray


MIN_PINNED = 2
"""Centre an indicator's blocks only if at least two spans are pinned: one pinned change alone leaves
drift and volatility trading off along a funnel that a centred block crosses worse than free steps do
(full fit: min bulk ESS 11 with every pinned span centred, 175 with none)."""


def step_plan(layout: Layout, spans: dict[str, list[tuple[int, int]]], heavy_tailed: np.ndarray) -> StepPlan:
    """Blocks over the pinned spans of indicators with at least ``MIN_PINNED`` of them; every other step
    free (including all steps of heavy-tailed classes, whose block sums have no closed form)."""
    y0 = int(layout.years[0])
    rows, cols, blocks = [], [], []
    for j, ind in enumerate(layout.base):
        steps = set(range(int(layout.start[ind]) - y0 + 1, layout.n_years))
        pinned = [] if heavy_tailed[j] else spans.get(ind, [])
        for a, b in pinned if len(pinned) >= MIN_PINNED else ():
            blocks.append((j, a - y0 + 1, b - a))
            steps -= set(range(a - y0 + 1, b - y0 + 1))
        rows += [j] * len(steps)
        cols += sorted(steps)
    return StepPlan((np.array(rows, dtype=int), np.array(cols, dtype=int)),
                    np.array(blocks, dtype=int).reshape(-1, 3))


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

        # Free steps, non-centred, grouped by tail weight so each group has one distribution.
        heavy = np.array([cp[c].nu is not None for c in cls_of])
        plan = step_plan(layout, pinned_spans(layout, obs), heavy)
        rows, cols = plan.free
        nus = np.array([cp[cls_of[r]].nu or 0.0 for r in rows])
        eps = pt.zeros(len(rows))
        for nu in np.unique(nus):
            sel = np.flatnonzero(nus == nu)
            name = "eps_normal" if nu == 0 else f"eps_t{nu:g}"
            e = pm.Normal(name, 0.0, 1.0, shape=len(sel)) if nu == 0 else pm.StudentT(name, nu=nu, mu=0.0, sigma=1.0, shape=len(sel))
            eps = pt.set_subtensor(eps[sel], e)
        steps = pt.zeros((n_base, n_years))
        steps = pt.set_subtensor(steps[rows, cols], mu[rows] + sigma[rows] * eps)

        # Steps over a pinned span: the data pin their sum, so it is centred; the split within the block is a
        # non-centred Brownian bridge (Helmert contrasts: covariance σ²(I - J/n), exactly the conditional).
        if len(plan.blocks):
            b_row, b_first, b_n = plan.blocks.T
            delta = pm.Normal("delta", mu=b_n * mu[b_row], sigma=np.sqrt(b_n) * sigma[b_row])
            for n in np.unique(b_n):
                sel = np.flatnonzero(b_n == n)
                value = (delta[sel] / n)[:, None] * np.ones(n)
                if n > 1:
                    e = pm.Normal(f"bridge_{n}", 0.0, 1.0, shape=(len(sel), n - 1))
                    value = value + sigma[b_row[sel]][:, None] * pt.dot(e, helmert(n))
                r = np.repeat(b_row[sel], n)
                c = (b_first[sel][:, None] + np.arange(n)).ravel()
                steps = pt.set_subtensor(steps[r, c], value.ravel())

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
