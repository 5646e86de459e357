r"""The earlier engine's growth model (``fit(engine="sampled")``; the default is :mod:`model.joint`), and helpers
both engines share (plan periods, the cell vector, rounding noise, zero censoring, distinct figures).

For each base indicator *i* (class *c*) on its natural scale (log, logit or identity),

.. math::

    x_{i,y_i} &\sim \mathcal N(a_i,\; 2^2)                     && a_i = \text{first observed level (year } y_i\text{), transformed}\\
    x_{i,t}   &= x_{i,t-1} + \mu_{i,p(t)} + \sigma_i\,\varepsilon_{i,t}\\
    \mu_i &= m_c + s_c\, z^{\mu}_i, \quad z^{\mu}_i \sim t_3   && \text{long-run drift}\\
    \mu_{i,p} &= \mu_i + \rho\, s_c\, z_{i,p}, \quad z_{i,p} \sim \mathcal N(0,1) && \text{drift of plan period } p\\
    \sigma_i &= \sigma_c\, e^{0.3 z^{\sigma}_i}, \quad \log\sigma_c \sim \mathcal N(\log v_c, 0.5^2),\; z^\sigma_i \sim \mathcal N(0,1) && \text{pooled volatility}\\
    \varepsilon_{i,t} &\sim t_{\nu_c}(0, 1) \;\text{or}\; \mathcal N(0,1)\\
    g_{i,p} &\sim t_3(\mu_{i,p},\; \kappa\, s_c) && \text{a five-year plan's target as a statement of its period's trend}

(non-centred; class priors in :mod:`model.priors`; the targets' implied trends :math:`g_{i,p}` and
κ = ``priors.PLANNER_SD`` in :mod:`model.planner`). Plan periods *p* are the five-year plans (2011–15,
2016–20, 2021–25, ...): a new plan moves trends, so each period has its own drift around the
indicator's long-run one (:math:`\rho` = ``priors.PERIOD_SHIFT``). A forecast within the period of the
latest figures uses its fitted drift; a later period that a plan states is part of the model (its drift
is informed by the statement alone, :func:`ahead_periods`); any other later period draws its drift afresh.
Volatility is pooled hard within a class (indicators differ from the class scale by ~30%): few indicators have more than two figures,
and a looser pool opens funnels the sampler cannot cross. The log GDP deflator :math:`d_t` is a base
indicator of class *price* (Student-t innovations, fat tails for coal-price swings) pinned to
:math:`d_{2020}=0`. Derived indicators (SEI share = SEI value added / GDP, ...) are ratios of
base ones (:mod:`model.layout`). Every figure *k* is an operator :math:`h_k` of the paths
(:mod:`model.operators`), observed with noise

.. math::

    y_k \sim \mathcal N\big(h_k(x),\; \sqrt{p_k^2 + \tau_{f(k)}^2 + a_k^2}\big),
    \qquad \tau_f = \underline\tau_f + \kappa_f e^{0.5 u_f},\; u_f \sim \mathcal N(0, 1)

with :math:`p_k` the rounding error of the printed value (half a unit of the last digit / √3; for
growth figures also 2% of the figure), :math:`\tau_f` a document error per family *f* (levels on
the log scale, growth in points) above a floor (preliminary figures
are revised: 0.5% for levels, 0.1 points for growth), and :math:`a_k` the tolerance of an "about"
statement. Statements ">8%" or "≤5.5%" enter as censored terms :math:`\log P(y \gtrless v)`.

The document error is a property of the statistical system (revisions, definitions), shared by all
indicators. One error per indicator class was tried first (so that the 13th plan's conflicting trade
figures would loosen trade only); with one to three distinct figures per class those scales were not
identified, and the funnels between a scale near zero and the paths it lets through caused the last
divergences of the full fit. For the same reason the scale above the floor is lognormal, not
half-normal: a half-normal puts its mode at zero, where the floor makes the likelihood flat and the
scale mixed slowly (R-hat 1.11, ESS 28 as of 2021-05-25; lognormal: ESS 1180). Two other alternatives were rejected because they made the posterior
multimodal ("which document is wrong", "which figure is the outlier"): an error per document, and
Student-t errors. Conflicting figures of fat-tailed classes are drawn outside NUTS (:mod:`model.sparse`).

**Parameterisation.** Where point figures pin the change of a path over a span
(:func:`pinned_spans`: levels of 2015 and 2020, an average growth 2016–20, for the deflator nominal
levels with the real change between them), the span's n steps are drawn as a centred sum plus a
non-centred bridge,

.. math::

    \Delta \sim \mathcal N(M,\; \sigma_i^2 V), \qquad
    s_t = m_t + \frac{v_t}{V}(\Delta - M) + \sigma_i\Big(\sqrt{v_t}\,e_t - \frac{v_t}{V}\sum_u \sqrt{v_u}\,e_u\Big),
    \quad e \sim \mathcal N(0, I_n),\; V = \textstyle\sum_t v_t

with :math:`m_t` the trend of step *t*, :math:`M = \sum_t m_t`, :math:`v_t = 1` for normal steps and :math:`v_t = 1/\lambda_t`, :math:`\lambda_t \sim
\mathrm{Gamma}(\nu/2, \nu/2)` for Student-t steps (a t is a normal with such a variance). Given
their sum the steps have covariance :math:`\sigma_i^2(\mathrm{diag}\,v - vv^\top/V)`: exactly the
conditional of independent steps, so the prior is unchanged; only the geometry is not. Data-pinned
sums are centred (no funnel where the data are sharp), everything else stays non-centred. Fiscal
revenue's coal-boom jump (+37%/yr 2021–22, then +1.5%) and the deflator's volatility otherwise
force funnels between a volatility and its innovations.

The drift prior is :math:`z^\mu_i \sim t_3` (not normal): a few indicators (family farms ×16 in
five years) sit far in the tail of their class, and a normal prior pins the sampler there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from . import priors
from .layout import DEFLATOR, DEFLATOR_BASE_YEAR, LOG100, FigureIndex, Layout, anchors
from .operators import LOG_SCALE_OPS, OP_OF_KIND, cell_years, evaluate, to_comparison_scale

SQRT3 = np.sqrt(3.0)


def plan_period(year):
    """First year of the five-year plan period of ``year`` (the period of the step ending in that year)."""
    y = np.asarray(year)
    return priors.PLAN_PERIOD_START + 5 * ((y - priors.PLAN_PERIOD_START) // 5)


def ahead_periods(layout: Layout, signals: pd.DataFrame | None) -> np.ndarray:
    """Plan periods after the fitted years that a plan's statement speaks of (sorted)."""
    if signals is None or not len(signals):
        return np.array([], dtype=int)
    p = np.unique(signals["period"].to_numpy(int))
    return p[p > plan_period(layout.years[-1])]


def log_values(x, layout: Layout, xp=np):
    r"""Flattened cell vector :math:`[\ell, \ell^{nom}]` from latent base paths ``x`` (..., n_base, n_years)."""
    kinds = np.array([layout.transform(i) for i in layout.base])
    transforms = {"log": lambda v: v, "logit": lambda v: LOG100 - xp.log1p(xp.exp(-v)), "identity": xp.log}
    groups = [(np.flatnonzero(kinds == tr), fn) for tr, fn in transforms.items() if (kinds == tr).any()]
    # transform each group of rows, then put the rows back in order (a 1-D take: no fancy set_subtensor,
    # which numba runs in object mode)
    order = np.argsort(np.concatenate([rows for rows, _ in groups]))
    base = xp.concatenate([fn(xp.take(x, rows, axis=-2)) for rows, fn in groups], axis=-2)
    base = xp.take(base, order, axis=-2)
    if layout.derived:
        num, den = layout.ratio_terms()
        base = xp.concatenate([base, xp.take(base, num, axis=-2) - xp.take(base, den, axis=-2) + LOG100], axis=-2)
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
    growth rate pin 2020→2022). The deflator's change a→b is pinned where a deflated indicator has
    nominal levels in a and b and its real change a→b is pinned (GDP 2015→2020: nominal levels and the
    real average growth). Figures of ratios, cumulative sums and statements (">8%") pin nothing here.
    """
    deflated = dict(zip(layout.indicators, layout.deflated()))
    y0 = int(layout.years[0])
    pins: dict[str, list[np.ndarray]] = {}
    nominal: dict[str, set[int]] = {}
    rows = obs[obs["indicator"].isin(layout.base) & obs["comparator"].isin(POINT) & obs["kind"].isin(PINNING_KINDS)]
    for r in rows.itertuples(index=False):
        span = None if pd.isna(r.span_start) else int(r.span_start)
        years, weights = cell_years(r.kind, int(r.year), span)
        if min(years) < layout.start[r.indicator]:
            continue
        if deflated[r.indicator] and r.price_basis == "nominal":
            if OP_OF_KIND[r.kind] == "level":
                nominal.setdefault(r.indicator, set()).add(int(r.year))
            continue
        pins.setdefault(r.indicator, []).append(_change(layout.n_years, np.array(years) - y0, np.sign(weights)))
    for ind, years in nominal.items():
        ys = sorted(years)
        for a, b in zip(ys[:-1], ys[1:]):
            change = _change(layout.n_years, [a - y0, b - y0], [-1, 1])
            if ind in pins and _determined(np.array(pins[ind]), change):
                pins.setdefault(DEFLATOR, []).append(change)
    out = {}
    for ind, vs in pins.items():
        basis = np.array(vs)
        knots = sorted(set(np.flatnonzero(basis.any(axis=0))))
        out[ind] = [(int(a) + y0, int(b) + y0) for a, b in zip(knots[:-1], knots[1:])
                    if _determined(basis, _change(layout.n_years, [a, b], [-1, 1]))]
    return out


def _change(n: int, cols, weights) -> np.ndarray:
    v = np.zeros(n)
    v[np.asarray(cols)] = weights
    return v


def _determined(basis: np.ndarray, change: np.ndarray) -> bool:
    """True if ``change`` is a linear combination of the rows of ``basis``."""
    return np.linalg.matrix_rank(np.vstack([basis, change])) == np.linalg.matrix_rank(basis)


@dataclass
class StepPlan:
    """How each latent step :math:`x_{i,t}-x_{i,t-1}` is parameterised.

    ``free``: (row, col) of steps drawn non-centred, :math:`\mu_{i,p(t)} + \sigma_i\varepsilon_{i,t}`.
    ``blocks``: (row, first col, n) of runs of n steps over a pinned span, drawn as a centred block
    sum :math:`\Delta \sim N(\sum_t \mu_{i,p(t)}, \sigma_i^2 V)` plus a non-centred bridge.
    """

    free: tuple[np.ndarray, np.ndarray]
    blocks: np.ndarray


MIN_PINNED = 1
"""Centre an indicator's pinned spans if it has at least this many. Since the indicators with one or two
figures are drawn outside NUTS (:mod:`model.sparse`), centring every pinned span is best: on the full
data (2 × 500 draws) mean leapfrog steps per draw fell from 230 to 87 against a threshold of 2."""


def step_plan(layout: Layout, spans: dict[str, list[tuple[int, int]]]) -> StepPlan:
    """Blocks over the pinned spans of indicators with at least ``MIN_PINNED`` of them; every other step free."""
    y0 = int(layout.years[0])
    rows, cols, blocks = [], [], []
    for j, ind in enumerate(layout.base):
        steps = set(range(int(layout.start[ind]) - y0 + 1, layout.n_years))
        pinned = spans.get(ind, [])
        for a, b in pinned if len(pinned) >= MIN_PINNED else ():
            blocks.append((j, a - y0 + 1, b - a))
            steps -= set(range(a - y0 + 1, b - y0 + 1))
        rows += [j] * len(steps)
        cols += sorted(steps)
    return StepPlan((np.array(rows, dtype=int), np.array(cols, dtype=int)),
                    np.array(blocks, dtype=int).reshape(-1, 3))


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


FIGURE_KEY = ["indicator", "year", "span_start", "kind", "comparator", "price_basis", "value"]


def distinct_figures(obs: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct figure: a figure restated verbatim by a later document is one measurement,
    not two independent ones (it would otherwise count twice against the document error). Keeps the
    first publication, in the input's order."""
    repeated = obs.sort_values("published", kind="stable").duplicated(FIGURE_KEY).reindex(obs.index)
    return obs[~repeated].reset_index(drop=True)


def build_model(layout: Layout, obs: pd.DataFrame, index: FigureIndex, signals: pd.DataFrame | None = None) -> pm.Model:
    """The PyMC model of the latent paths given the observations and the plans' ``signals`` of their periods'
    trends (:func:`model.planner.signals`; those of fitted indicators are used). A signal of a period after the
    fitted years adds that period's trend to ``drift`` (:func:`ahead_periods`): the statement informs it and,
    through it, the long-run trend."""
    obs = censor_zeros(obs)
    classes = sorted({layout.klass(i) for i in layout.base})
    cls_of = np.array([classes.index(layout.klass(i)) for i in layout.base])
    cp = [priors.CLASS_PRIORS[c] for c in classes]
    anchor, anchor_year = anchors(layout, obs)
    scale = _scale(layout, anchor)
    n_base, n_years = len(layout.base), layout.n_years
    defl = layout.base.index(DEFLATOR)
    periods = np.union1d(plan_period(layout.years), ahead_periods(layout, signals))
    period_col = np.searchsorted(periods, plan_period(layout.years))
    coords = {"indicator": layout.base, "year": layout.years, "klass": classes, "period": periods}

    with pm.Model(coords=coords) as model:
        z_mu = pm.StudentT("z_mu", nu=priors.DRIFT_NU, mu=0.0, sigma=1.0, dims="indicator")
        drift_sd = np.array([p.drift_sd for p in cp])[cls_of] * scale
        mu = pm.Deterministic("mu", np.array([p.drift_mean for p in cp])[cls_of] * scale + drift_sd * z_mu,
                              dims="indicator")
        # the trend of each plan period: the long-run trend plus a shift (non-centred)
        z_period = pm.Normal("z_period", 0.0, 1.0, dims=("indicator", "period"))
        drift = pm.Deterministic("drift", mu[:, None] + priors.PERIOD_SHIFT * drift_sd[:, None] * z_period,
                                 dims=("indicator", "period"))
        drift_flat = drift[:, period_col].flatten()  # (indicator, year) flattened: the trend of each step
        if signals is not None:
            sig = signals[signals["indicator"].isin(layout.base) & signals["period"].isin(periods)]
            if len(sig):
                r = np.array([layout.base.index(i) for i in sig["indicator"]], dtype=int)
                p = np.searchsorted(periods, sig["period"].to_numpy(int))
                pm.StudentT("planner", nu=priors.PLANNER_NU, mu=drift.flatten()[r * len(periods) + p],
                            sigma=priors.PLANNER_SD * drift_sd[r], observed=sig["drift"].to_numpy(float))
        # A class with one sampled member: its scale and the member's deviation are one number (a ridge for
        # NUTS), so the member's volatility takes their combined prior (the same lognormal) directly.
        alone = np.bincount(cls_of, minlength=len(classes)) == 1
        spread = np.where(alone, np.hypot(priors.VOL_CLASS_SPREAD, priors.VOL_INDICATOR_SPREAD), priors.VOL_CLASS_SPREAD)
        sigma_class = pm.LogNormal("sigma_class", mu=np.log([p.vol for p in cp]), sigma=spread, dims="klass")
        pooled = np.flatnonzero(~alone[cls_of])
        z_sigma = pt.zeros(n_base)
        if len(pooled):
            z_sigma = pt.set_subtensor(z_sigma[pooled], pm.Normal("z_sigma", 0.0, 1.0, shape=len(pooled)))
        sigma = pm.Deterministic("sigma", sigma_class[cls_of] * pt.exp(priors.VOL_INDICATOR_SPREAD * z_sigma) * scale,
                                 dims="indicator")

        # Free steps, non-centred, grouped by tail weight so each group has one distribution.
        plan = step_plan(layout, pinned_spans(layout, obs))
        rows, cols = plan.free
        nus = np.array([cp[cls_of[r]].nu or 0.0 for r in rows])
        eps = pt.zeros(len(rows))
        for nu in np.unique(nus):
            sel = np.flatnonzero(nus == nu)
            name = "eps_normal" if nu == 0 else f"eps_t{nu:g}"
            e = pm.Normal(name, 0.0, 1.0, shape=len(sel)) if nu == 0 else pm.StudentT(name, nu=nu, mu=0.0, sigma=1.0, shape=len(sel))
            eps = pt.set_subtensor(eps[sel], e)
        steps = pt.zeros(n_base * n_years)  # flat: 1-D indexing compiles natively in numba, 2-D does not
        steps = pt.set_subtensor(steps[rows * n_years + cols], drift_flat[rows * n_years + cols] + sigma[rows] * eps)

        # Steps over a pinned span: the data pin their sum, so it is centred; the split within the block is a
        # non-centred bridge. Student-t steps are normal given their variances v = 1/λ, λ ~ Gamma(ν/2, ν/2):
        #   Δ ~ N(nμ, σ²V), V = Σv;  step_t = μ + v_t (Δ - nμ)/V + σ(√v_t e_t - v_t Σ_s √v_s e_s / V),  e ~ N(0, I)
        # (covariance σ²(diag v - vv'/V): exactly the conditional given the sum). Normal steps have v = 1.
        if len(plan.blocks):
            b_row, b_first, b_n = plan.blocks.T
            b_nu = np.array([cp[cls_of[r]].nu or 0.0 for r in b_row])
            heavy = np.flatnonzero(b_nu > 0)
            v = pt.ones((len(b_row), int(b_n.max())))
            if len(heavy):
                lam = pm.Gamma("block_lambda", alpha=b_nu[heavy, None] / 2, beta=b_nu[heavy, None] / 2,
                               shape=(len(heavy), int(b_n.max())))
                v = pt.set_subtensor(v[heavy], 1.0 / lam)
            inside = np.arange(int(b_n.max())) < b_n[:, None]           # steps beyond a block's length: none
            root_v = pt.sqrt(v) * inside                                  # masked after the root: finite gradient
            v = v * inside
            V = v.sum(axis=1)
            cells = b_row[:, None] * n_years + np.minimum(b_first[:, None] + np.arange(int(b_n.max())), n_years - 1)
            m = drift_flat[cells.ravel()].reshape(cells.shape) * inside  # trend of each step in the block
            M = m.sum(axis=1)
            delta = pm.Normal("delta", mu=M, sigma=pt.sqrt(V) * sigma[b_row])
            e = pm.Normal("bridge", 0.0, 1.0, shape=(len(b_row), int(b_n.max())))
            root = root_v * e
            value = (m + v * ((delta - M) / V)[:, None]
                     + sigma[b_row][:, None] * (root - v * (root.sum(axis=1) / V)[:, None]))
            live = np.flatnonzero(inside.ravel())
            steps = pt.set_subtensor(steps[cells.ravel()[live]], value.flatten()[live])
        steps = steps.reshape((n_base, n_years))

        anchor_col = np.array([int(anchor_year.get(i, layout.start[i]) - layout.years[0]) for i in layout.base])
        has_anchor = np.array([i in anchor for i in layout.base])
        x0_mean = np.array([anchor.get(i, 0.0) for i in layout.base])
        x0_sd = np.where(has_anchor, priors.INITIAL_LEVEL_SD * np.where(scale > 1, 0.05 * scale, 1.0), 10.0)
        x0_sd[defl] = 1.0  # cancels: the deflator is pinned at its base year below
        x0 = pm.Normal("x0", x0_mean, x0_sd, dims="indicator")
        # Pin each path at its anchor year (first observed level) so that figure constrains one
        # parameter, not the sum of all innovations before it (a ridge NUTS crawls along).
        cum = pt.cumsum(steps, axis=1)
        x = x0[:, None] + cum - cum.flatten()[np.arange(n_base) * n_years + anchor_col][:, None]
        base_col = int(min(DEFLATOR_BASE_YEAR, layout.years[-1]) - layout.years[0])
        x = pt.set_subtensor(x[defl], x[defl] - x[defl, base_col])
        x = pm.Deterministic("x", x, dims=("indicator", "year"))

        cells = log_values(x, layout, xp=pt)
        # one document error per family, shared by all classes (see the module docstring)
        noise_level = priors.NOISE_FLOOR_LEVEL + pm.LogNormal(
            "source_noise_level", np.log(priors.SOURCE_NOISE_LEVEL), priors.SOURCE_NOISE_SPREAD, shape=1)
        noise_growth = priors.NOISE_FLOOR_GROWTH + pm.LogNormal(
            "source_noise_growth", np.log(priors.SOURCE_NOISE_GROWTH), priors.SOURCE_NOISE_SPREAD, shape=1)
        for op, positions in index.rows.items():
            sub = obs.iloc[positions]
            pred = to_comparison_scale(op, evaluate(op, cells, index.idx[op], index.weights[op], xp=pt), xp=pt)
            value = to_comparison_scale(op, sub["value"].to_numpy(float))
            # one value per figure (a broadcast scalar here trips pytensor's elemwise fusion)
            tau = (noise_level if op in LOG_SCALE_OPS else noise_growth)[np.zeros(len(sub), dtype=int)]
            sd = pt.sqrt(observation_noise(sub, op) ** 2 + tau**2)
            comp = sub["comparator"].to_numpy()
            point = np.flatnonzero(np.isin(comp, ["=", "about"]))  # integer indices: 1-D takes compile natively
            if len(point):
                pm.Normal(f"obs_{op}", mu=pred[point], sigma=sd[point], observed=value[point])
            for sign, ops in ((1.0, [">", ">="]), (-1.0, ["<", "<="])):
                sel = np.flatnonzero(np.isin(comp, ops))
                if len(sel):  # log P(y > v) = log Φ((pred - v)/sd), and mirrored for "<"
                    pm.Potential(f"censored_{op}_{'gt' if sign > 0 else 'lt'}",
                                 pm.logcdf(pm.Normal.dist(0.0, 1.0), sign * (pred[sel] - value[sel]) / sd[sel]).sum())
    return model
