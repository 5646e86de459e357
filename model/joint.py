r"""One joint posterior: every figure informs the shared parameters, the latent paths integrated out.

For each base indicator *i* of class *c* (scale :math:`k_i`: 1, or the level of an identity-scale index)
the state is :math:`\theta_i = (x_{i,t_0..T}, \mu_i, \delta_{i,p})`: the latent path on its natural scale
(:mod:`model.layout`), its long-run trend and the shift of each plan period's trend. A priori

.. math::

    x_{i,k} &= a_i + u^a_i, & u^a_i &\sim \mathcal N(0, A_i)  && \text{anchor: first observed level}\\
    x_{i,t} &= x_{i,t-1} + \mu_i + \delta_{i,p(t)} + \varepsilon_{i,t}, &
        \varepsilon_{i,t} &\sim \mathcal N(0, k_i^2\sigma_i^2/\lambda_{i,t})\\
    \mu_i &= k_i m_c + u^\mu_i, & u^\mu_i &\sim \mathcal N(0, k_i^2 s_c^2/\lambda^\mu_i)
        && \lambda^\mu_i \sim \Gamma(3/2, 3/2):\ t_3\text{ trends}\\
    \delta_{i,p} &\sim \mathcal N(0, k_i^2\rho^2 s_c^2) &&& &\text{a plan period's shift}\\
    \sigma_i &= \sigma_c\, e^{\omega z_i}, & z_i &\sim \mathcal N(0, 1)

with :math:`\lambda_{i,t} \sim \Gamma(\nu_c/2, \nu_c/2)` for fat-tailed classes (price, trade) and 1
otherwise. So :math:`\theta = c + B u` with *B* fixed by the grid and :math:`u \sim \mathcal N(0,
\mathrm{diag}\,v)`, *v* a function of the parameters. Every figure is a linear Gaussian observation
:math:`y = H\theta + e` on its comparison scale (:func:`model.marginal.observation_matrix`; pp changes
and cumulative totals linearised at a reference path, below); a five-year plan's statement of a
period's trend is one more row, :math:`g_{i,p} = \mu_i + \delta_{i,p} + e`,
:math:`e \sim \mathcal N(0, \kappa^2 k_i^2 s_c^2/\lambda^T)` (:mod:`model.planner`). Linked indicators
(ratios, nominal = real + deflator) share one *group*; given the parameters each group's figures are
Gaussian,

.. math::

    y \sim \mathcal N\big(Hc,\; G\,\mathrm{diag}(v)\,G^\top + \mathrm{diag}\, r\big), \qquad G = HB,
    \qquad r_k = \text{rounding}_k^2 + \tau_{f(k)}^2 \quad(\text{scaled to the comparison scale})

with :math:`\tau_f` the document error of the figure's family: kind of source (plan table, work report,
digest, footnoted earlier-year figure) × scale (levels in log points, growth in points), each a
lognormal above a floor. A censored statement (">8%") adds :math:`\log\Phi\big(\pm(h^\top\bar\theta - v)
/\sqrt{h^\top\bar P h + r}\big)` with :math:`(\bar\theta, \bar P)` the moments given the group's point
figures: exact for one statement per group, otherwise their dependence given the point figures is
neglected. NUTS samples only the parameters (class trend mean :math:`m_c`, spread :math:`s_c`,
volatility :math:`\sigma_c`, the indicators' :math:`z_i, \lambda^\mu_i`, ω, ρ, the mixing weights and
the document errors); the paths are drawn afterwards from their exact conditional given each draw
(:func:`smooth`, a simulation smoother), so nothing is drawn given parameters it could have informed.

Linearisation (stated approximation, bounded in ``tests/test_marginal.py``): a cumulative total is
linearised at a reference path through the indicator's anchor rising at its class's prior trend, a pp
change of a share at its anchor level; see :mod:`model.marginal` for the error bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
from scipy.special import log_ndtr

from . import priors
from .data import formula_terms
from .data import DataError
from .growth import _scale, ahead_periods, censor_zeros, distinct_figures, observation_noise, plan_period
from .layout import DEFLATOR, DEFLATOR_BASE_YEAR, Layout, anchors
from .marginal import observation_matrix
from .operators import LOG_SCALE_OPS, OP_OF_KIND

SOURCE_KINDS = ("plan", "report", "digest", "footnoted")
"""Kinds of source whose document errors differ (:func:`source_kind`)."""
FAMILIES = [f"{s}_{scale}" for s in SOURCE_KINDS for scale in ("level", "growth")]
SOURCE_OF_FILE = {"000": "plan", "001": "digest", "002": "report", "003": "plan", "004": "report"}
"""Seed-file prefix → kind of source (``../shared/seeds/README.md``): plans and their tables, the work
reports, and the newspaper digest; a user's own file counts as a report."""


def source_kind(obs: pd.DataFrame) -> np.ndarray:
    """Kind of source of each figure: a footnoted earlier-year figure ("*", "**"), else by document."""
    quote = obs["quote"].astype(str).str.lstrip()
    by_file = obs["source"].astype(str).str[:3].map(SOURCE_OF_FILE).fillna("report")
    return np.where(quote.str.startswith("*"), "footnoted", by_file.to_numpy())


@dataclass
class Batch:
    """Padded groups of one size class: figures, censored statements and the state map of each group."""

    groups: list[list[int]]        # base rows of each group
    G: np.ndarray                  # (n, K, U) figures on the independent variates u
    y: np.ndarray                  # (n, K) comparison values minus the fixed part of Hc
    M: np.ndarray                  # (n, K, n_classes) Hc's dependence on the class trend means
    known: np.ndarray              # (n, K) known noise variance (rounding, "about"); 1 where padded
    wnoise: np.ndarray             # (n, K) multiplier of the sampled noise variance
    noise_idx: np.ndarray          # (n, K) index into the sampled noise variances
    mask: np.ndarray               # (n, K) 1 for a figure
    v_idx: np.ndarray              # (n, U) index of each variate's variance (into the flat vector)
    Gc: np.ndarray                 # (n, C, U) censored statements
    yc: np.ndarray                 # (n, C)
    Mc: np.ndarray                 # (n, C, n_classes)
    known_c: np.ndarray
    wnoise_c: np.ndarray
    noise_idx_c: np.ndarray
    sign_c: np.ndarray             # (n, C) +1 for ">", -1 for "<", 0 where padded
    doc_idx: np.ndarray            # (n, K) index of the row's document-error multiplier (the last: none)
    doc_idx_c: np.ndarray          # (n, C)


@dataclass
class Structure:
    """Everything about the model that does not change with the parameters (built once per data vintage)."""

    layout: Layout
    classes: list[str]
    cls_of: np.ndarray             # class of each base row
    scale: np.ndarray              # k_i
    nu: np.ndarray                 # ν of each base row's steps (0: normal)
    periods: np.ndarray            # plan periods of the state (fitted and stated ahead)
    step_period: np.ndarray        # (T-1,) period column of each step
    anchor_mean: np.ndarray        # a_i
    anchor_var: np.ndarray         # A_i
    anchor_col: np.ndarray         # k (year column of the anchor)
    informed: np.ndarray           # base rows whose parameters any figure or statement touches
    signals: pd.DataFrame
    batches: list[Batch]
    unanchored: list[str]
    figures: pd.DataFrame = field(repr=False, default=None)
    n_doc: int = 0                 # groups with a document-error multiplier
    doc_groups: list = field(default_factory=list)

    @property
    def n_state(self) -> int:
        return self.layout.n_years + 1 + len(self.periods)

    @property
    def n_u(self) -> int:
        return self.layout.n_years + 1 + len(self.periods)

    def B(self) -> np.ndarray:
        """The fixed map from one indicator's variates u to its state θ (per anchor column: (n_base, S, U))."""
        T, P = self.layout.n_years, len(self.periods)
        D = np.eye(P)[self.step_period]  # (T-1, P)
        out = np.zeros((len(self.anchor_col), self.n_state, self.n_u))
        for j, k in enumerate(self.anchor_col):
            out[j] = _B(T, int(k), D)
        return out


def _B(T: int, k: int, D: np.ndarray) -> np.ndarray:
    """θ = c + B u for u = (u^a, u^μ, δ, ε): x = a + L(μ1 + Dδ + ε), μ, δ (module docstring)."""
    from .marginal import step_matrix

    L = step_matrix(T, k)
    P = D.shape[1]
    B = np.zeros((T + 1 + P, 1 + 1 + P + T - 1))
    B[:T, 0] = 1.0
    B[:T, 1] = L.sum(axis=1)
    B[:T, 2:2 + P] = L @ D
    B[:T, 2 + P:] = L
    B[T, 1] = 1.0
    B[T + 1:, 2:2 + P] = np.eye(P)
    return B


# flat variance vector: [A (n_base), dev (n_base), delta (n_base), eps (n_base*(T-1))]
def _v_index(j: int, n_base: int, T: int, P: int) -> np.ndarray:
    """Positions in the flat variance vector of base row j's variates (u^a, u^μ, δ_1..P, ε_1..T-1)."""
    return np.concatenate([[j, n_base + j], np.full(P, 2 * n_base + j), 3 * n_base + j * (T - 1) + np.arange(T - 1)])


def _groups(layout: Layout, figures: pd.DataFrame) -> list[list[int]]:
    """Connected base rows: a ratio figure joins its terms, a nominal figure of a deflated one the deflator."""
    parent = list(range(len(layout.base)))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    defl = dict(zip(layout.indicators, layout.deflated()))
    for r in figures.itertuples(index=False):
        terms = list(formula_terms(layout.catalogue.at[r.indicator, "links"]) or (r.indicator,))
        if r.price_basis == "nominal":
            terms += [DEFLATOR] if any(defl.get(t) for t in terms) else []
        rows = [layout.base.index(t) for t in terms]
        for a in rows[1:]:
            parent[find(a)] = find(rows[0])
    out: dict[int, list[int]] = {}
    for j in range(len(layout.base)):
        out.setdefault(find(j), []).append(j)
    return sorted(out.values(), key=lambda g: g[0])


def build_structure(layout: Layout, obs: pd.DataFrame, signals: pd.DataFrame) -> Structure:
    """The static part of the joint model for the figures ``obs`` of a vintage and the plans' ``signals``."""
    figures = censor_full(censor_zeros(distinct_figures(obs)), layout)
    figures = figures[figures["indicator"].isin(layout.indicators)].reset_index(drop=True)
    figures["source_kind"] = source_kind(figures)
    T, y0 = layout.n_years, int(layout.years[0])
    first = figures.apply(_first_year, axis=1) if len(figures) else pd.Series(dtype=int)
    figures = figures[first.to_numpy() >= y0].reset_index(drop=True) if len(figures) else figures
    classes = sorted({layout.klass(i) for i in layout.base})
    cls_of = np.array([classes.index(layout.klass(i)) for i in layout.base])
    anchor, anchor_year = anchors(layout, figures[figures["comparator"].isin(["=", "about"])])
    scale = _scale(layout, anchor)
    nu = np.array([priors.CLASS_PRIORS[layout.klass(i)].nu or 0.0 for i in layout.base])
    periods = np.union1d(plan_period(layout.years), ahead_periods(layout, signals)).astype(int)
    step_period = np.searchsorted(periods, plan_period(layout.years[1:]))
    n_base, P = len(layout.base), len(periods)
    defl = layout.base.index(DEFLATOR)
    anchor_mean = np.array([anchor.get(i, 0.0) for i in layout.base])
    anchor_var = np.array([(priors.INITIAL_LEVEL_SD * (0.05 * s if s > 1 else 1.0)) ** 2 if i in anchor
                           else priors.UNANCHORED_LEVEL_SD**2 for i, s in zip(layout.base, scale)])
    anchor_col = np.array([int(anchor_year.get(i, layout.years[-1]) - y0) for i in layout.base])
    anchor_mean[defl], anchor_var[defl] = 0.0, 0.0
    anchor_col[defl] = int(min(DEFLATOR_BASE_YEAR, layout.years[-1]) - y0)
    st = Structure(layout, classes, cls_of, scale, nu, periods, step_period, anchor_mean, anchor_var, anchor_col,
                   np.zeros(n_base, bool), signals.reset_index(drop=True), [], [], figures)
    B = st.B()
    drift0 = np.array([priors.CLASS_PRIORS[layout.klass(i)].drift_mean for i in layout.base]) * scale

    groups = _groups(layout, figures)
    sig_rows = {ind: g for ind, g in st.signals.groupby("indicator")} if len(st.signals) else {}
    problems, unanchored = [], []
    fig_ind = figures["indicator"].map(
        lambda d: layout.base.index((formula_terms(layout.catalogue.at[d, "links"]) or (d,))[0]))
    level_inds = _anchored(layout, figures, anchor)
    for grp in groups:
        names = [layout.base[j] for j in grp]
        unanchored += [n for n in names if n not in level_inds and n != DEFLATOR]
        rows = figures[fig_ind.isin(grp).to_numpy()]
        sig = pd.concat([sig_rows[n] for n in names if n in sig_rows]) if any(n in sig_rows for n in names) else None
        if not len(rows) and sig is None:
            continue
        prob = _problem(st, grp, rows, sig, B, drift0)
        problems.append(prob)
        # a member's z, λ enter only through the columns of its trend, shifts and steps (not its anchor's)
        U = st.n_u
        for b, j in enumerate(grp):
            cols = np.r_[prob["G"][:, b * U + 1:(b + 1) * U], prob["Gc"][:, b * U + 1:(b + 1) * U]]
            st.informed[j] = bool(np.abs(cols).max(initial=0.0) > 0)
    st.unanchored = sorted(unanchored)
    for p in problems:  # a group with two or more figures has its own document-error multiplier
        n_fig = int((p["noise_idx"] < len(FAMILIES)).sum()) + len(p["yc"])
        p["doc"] = st.n_doc if n_fig >= 2 else -1
        st.n_doc += n_fig >= 2
        st.doc_groups.append(p["groups"]) if n_fig >= 2 else None
    st.batches = _batch(problems, len(classes))
    return st


def censor_full(obs: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    """A printed 100% of a logit-scale share says only 'at least 100 minus half a unit' (its logit is infinite)."""
    obs = obs.copy()
    logit = obs["indicator"].map(lambda i: i in layout.base and layout.transform(i) == "logit").to_numpy(bool)
    full = logit & obs["kind"].isin(["level", "share"]).to_numpy() & (obs["value"] >= 100.0).to_numpy()
    obs.loc[full, "value"] = 100.0 - obs.loc[full, "half_unit"]
    obs.loc[full, "comparator"] = ">="
    return obs


def _first_year(r) -> int:
    from .layout import first_year_read

    return first_year_read(r)


def _anchored(layout: Layout, figures: pd.DataFrame, anchor: dict) -> set[str]:
    """Base indicators whose level some figure pins: a level of their own or a cumulative total, or a ratio
    level whose other term is pinned (SEI value added from SEI share × GDP)."""
    out = set(anchor) | set(figures.loc[figures["kind"] == "cumulative", "indicator"])
    levels = set(figures.loc[figures["kind"].isin(["level", "count", "share"]), "indicator"])
    for _ in range(3):
        for d in layout.derived:
            a, b = formula_terms(layout.catalogue.at[d, "links"])
            if d in levels and (a in out or b in out):
                out |= {a, b}
    return out


def _reference(st: Structure, j: int) -> np.ndarray:
    """Reference path of base row j for linearising nonlinear figures: its anchor, moving at the class's prior trend."""
    cols = np.arange(st.layout.n_years) - st.anchor_col[j]
    drift = priors.CLASS_PRIORS[st.layout.klass(st.layout.base[j])].drift_mean * st.scale[j]
    return st.anchor_mean[j] + drift * cols


def _problem(st: Structure, grp: list[int], rows: pd.DataFrame, sig: pd.DataFrame | None, B: np.ndarray,
             drift0: np.ndarray) -> dict:
    """One group's figures and statements on its variates u (unpadded)."""
    layout, T, P = st.layout, st.layout.n_years, len(st.periods)
    S, U = st.n_state, st.n_u
    names = [layout.base[j] for j in grp]
    paths = {n: layout.years for n in names}
    at = np.concatenate([_reference(st, j) for j in grp])
    n_cls = len(st.classes)
    # θ of the group = blockdiag(B_j) u + c, c_j = (a_j + L1 k_j m_c, k_j m_c, 0): Hc = h0 + M m
    Bg = np.zeros((len(grp) * S, len(grp) * U))
    c0 = np.zeros(len(grp) * S)
    cm = np.zeros((len(grp) * S, n_cls))
    v_idx = []
    for b, j in enumerate(grp):
        Bg[b * S:(b + 1) * S, b * U:(b + 1) * U] = B[j]
        c0[b * S:b * S + T] = st.anchor_mean[j]
        cm[b * S:(b + 1) * S, st.cls_of[j]] = B[j][:, 1] * st.scale[j]  # θ moves with μ as B's u^μ column
        v_idx.append(_v_index(j, len(layout.base), T, P))
    x_cols = np.concatenate([np.arange(b * S, b * S + T) for b in range(len(grp))])

    def rows_to(frame):
        frame = frame.assign(sd=1.0, comparator="=")
        try:
            H, y, slope2 = observation_matrix(frame, paths, layout.catalogue, at=at)
        except ValueError as err:
            raise DataError(f"data: {err}") from None
        Hth = np.zeros((len(frame), len(grp) * S))
        Hth[:, x_cols] = H
        return Hth, y, slope2

    point = rows[rows["comparator"].isin(["=", "about"])]
    cens = rows[~rows["comparator"].isin(["=", "about"])]
    parts = []
    for frame in (point, cens):
        if not len(frame):
            parts.append((np.zeros((0, len(grp) * S)), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, int)))
            continue
        Hth, y, slope2 = rows_to(frame)
        known = np.zeros(len(frame))
        for op in OP_OF_KIND.values():
            sel = (frame["kind"].map(OP_OF_KIND) == op).to_numpy()
            if sel.any():
                known[sel] = observation_noise(frame[sel], op)
        printed = np.abs(frame["value"].to_numpy(float))
        on_log = frame["kind"].map(OP_OF_KIND).isin(LOG_SCALE_OPS).to_numpy()
        unit = np.where(on_log, printed, 1.0)  # level noise is relative: printed sd = relative × |value|
        fam = np.array([FAMILIES.index(f"{s}_{'level' if lg else 'growth'}")
                        for s, lg in zip(frame["source_kind"], on_log)])
        parts.append((Hth, y, slope2 * (known * unit) ** 2, slope2 * unit**2, fam))
    (Hp, yp, kp, wp, fp), (Hc, yc, kc, wc, fc) = parts
    if sig is not None and len(sig):
        Hs = np.zeros((len(sig), len(grp) * S))
        for r, s in enumerate(sig.itertuples(index=False)):
            b = names.index(s.indicator)
            Hs[r, b * S + T] = 1.0
            Hs[r, b * S + T + 1 + int(np.searchsorted(st.periods, int(s.period)))] = 1.0
        sig_idx = len(FAMILIES) + np.array([int(i) for i in sig.index])
        Hp = np.vstack([Hp, Hs])
        yp = np.concatenate([yp, sig["drift"].to_numpy(float)])
        kp = np.concatenate([kp, np.zeros(len(sig))])
        wp = np.concatenate([wp, np.ones(len(sig))])
        fp = np.concatenate([fp, sig_idx])
    sign = np.where(cens["comparator"].isin([">", ">="]).to_numpy(), 1.0, -1.0) if len(cens) else np.zeros(0)
    return dict(groups=grp, G=Hp @ Bg, y=yp - Hp @ c0, M=Hp @ cm, known=kp, wnoise=wp, noise_idx=fp,
                v_idx=np.concatenate(v_idx), Gc=Hc @ Bg, yc=yc - Hc @ c0, Mc=Hc @ cm, known_c=kc, wnoise_c=wc,
                noise_idx_c=fc, sign_c=sign, H=Hp, Hc=Hc, c0=c0, cm=cm)


BATCH_EDGES = (2, 4, 8, 16)
"""Groups are padded to the smallest of these figure counts that holds them (larger ones one by one):
padding costs little, and one batched Cholesky per size class keeps the graph small."""


def _batch(problems: list[dict], n_cls: int) -> list[Batch]:
    buckets: dict[object, list[dict]] = {}
    for p in problems:
        k = len(p["y"])
        edge = next((e for e in BATCH_EDGES if k <= e), None)
        key = (edge, len(p["yc"]) > 0) if edge is not None and len(p["groups"]) == 1 else id(p)
        buckets.setdefault(key, []).append(p)
    return [_pad(ps, n_cls) for ps in buckets.values()]


def _pad(ps: list[dict], n_cls: int) -> Batch:
    n = len(ps)
    K = max(1, max(len(p["y"]) for p in ps))
    C = max(len(p["yc"]) for p in ps)
    U = max(p["G"].shape[1] for p in ps)

    def arr(shape, fill=0.0, dtype=float):
        return np.full(shape, fill, dtype=dtype)

    b = Batch([p["groups"] for p in ps], arr((n, K, U)), arr((n, K)), arr((n, K, n_cls)), arr((n, K), 1.0),
              arr((n, K)), arr((n, K), 0, int), arr((n, K)), arr((n, U), -1, int), arr((n, C, U)), arr((n, C)),
              arr((n, C, n_cls)), arr((n, C), 1.0), arr((n, C)), arr((n, C), 0, int), arr((n, C)),
              arr((n, K), -1, int), arr((n, C), -1, int))
    for g, p in enumerate(ps):
        k, c, u = len(p["y"]), len(p["yc"]), p["G"].shape[1]
        b.G[g, :k, :u], b.y[g, :k], b.M[g, :k] = p["G"], p["y"], p["M"]
        b.known[g, :k], b.wnoise[g, :k], b.noise_idx[g, :k], b.mask[g, :k] = p["known"], p["wnoise"], p["noise_idx"], 1.0
        b.v_idx[g, :u] = p["v_idx"]
        b.Gc[g, :c, :u], b.yc[g, :c], b.Mc[g, :c] = p["Gc"], p["yc"], p["Mc"]
        b.known_c[g, :c], b.wnoise_c[g, :c], b.noise_idx_c[g, :c], b.sign_c[g, :c] = (
            p["known_c"], p["wnoise_c"], p["noise_idx_c"], p["sign_c"])
        figure = p["noise_idx"] < len(FAMILIES)
        b.doc_idx[g, :k] = np.where(figure, p["doc"], -1)
        b.doc_idx_c[g, :c] = p["doc"]
    return b


def _flat_variances(st: Structure, xp, s_c, sigma_i, lam_mu, lam_steps, rho):
    """The flat variance vector of every variate u (see :func:`_v_index`), with a trailing 0 for padding.

    ``sigma_i``, ``lam_mu`` (n_base,) and ``lam_steps`` (n_base, T-1) on every base row; ``s_c`` per class."""
    k2 = st.scale**2
    s2 = s_c[..., st.cls_of] ** 2
    dev = k2 * s2 / lam_mu
    delta = k2 * rho[..., None] ** 2 * s2 if xp is np else k2 * rho**2 * s2
    eps = (k2[:, None] * sigma_i[..., :, None] ** 2) / lam_steps
    lead = eps.shape[:-2]
    A = np.broadcast_to(st.anchor_var, (*lead, len(st.anchor_var))) if xp is np else st.anchor_var
    flat_eps = eps.reshape((*lead, -1)) if xp is np else eps.flatten()
    zero = np.zeros((*lead, 1)) if xp is np else np.zeros(1)
    return xp.concatenate([A, dev, delta, flat_eps, zero], axis=-1)


def _noise_variances(st: Structure, xp, tau, s_c, lam_signal):
    """Sampled noise variances: the document errors τ_f² per family, then each statement's κ² k² s_c²/λ^T."""
    if not len(st.signals):
        return tau**2
    rows = np.array([st.layout.base.index(i) for i in st.signals["indicator"]])
    sig = (priors.PLANNER_SD * st.scale[rows]) ** 2 * s_c[..., st.cls_of[rows]] ** 2 / lam_signal
    return xp.concatenate([tau**2, sig], axis=-1)


def _document_error(xp, post=None):
    r"""τ per family (kind of source × scale): :math:`\tau_{k,s} = \underline\tau_s + e^{\zeta_s + \psi\,\eta_{k,s}}`,
    a scale shared by the kinds of source plus each kind's deviation (ψ = ``priors.SOURCE_KIND_SPREAD``):
    with a few conflicting figures per kind, independent scales are bimodal ("which kind of document is
    wrong"); shrinking them to a common scale keeps one conflicting pair local without that."""
    scale_of = np.array([0 if f.endswith("level") else 1 for f in FAMILIES])
    floors = np.array([priors.NOISE_FLOOR_LEVEL, priors.NOISE_FLOOR_GROWTH])[scale_of]
    if post is not None:
        return floors + np.exp(post["source_noise_scale"][:, scale_of] + priors.SOURCE_KIND_SPREAD * post["source_noise_kind"])
    zeta = pm.Normal("source_noise_scale", np.log([priors.SOURCE_NOISE_LEVEL, priors.SOURCE_NOISE_GROWTH]),
                     priors.SOURCE_NOISE_SPREAD, shape=2)
    eta = pm.Normal("source_noise_kind", 0.0, 1.0, dims="family")
    return floors + pt.exp(zeta[scale_of] + priors.SOURCE_KIND_SPREAD * eta)


def build_model(st: Structure, data: bool = False) -> pm.Model:
    """The PyMC model of the parameters, with every group's figures integrated over its paths (module docstring).

    ``data=True`` puts each batch's comparison values ``y`` and censored statements' directions ``sign_c`` in
    :func:`pymc.Data` containers named ``figures_<b>_y`` and ``figures_<b>_sign`` (:func:`data_names`), so a
    compiled model can be conditioned on other values of the same design without recompiling (nutpie's
    ``with_data``; :mod:`model.sbc`). The default embeds them as constants: the graph :func:`model.fit.fit` samples.
    """
    cp = [priors.CLASS_PRIORS[c] for c in st.classes]
    n_base, T = len(st.layout.base), st.layout.n_years
    inf = np.flatnonzero(st.informed)
    heavy = np.flatnonzero(st.informed & (st.nu > 0))
    coords = {"klass": st.classes, "informed": [st.layout.base[j] for j in inf], "family": FAMILIES}
    with pm.Model(coords=coords) as model:
        m_c = pm.Normal("trend_mean", mu=[p.drift_mean for p in cp],
                        sigma=[p.drift_sd * priors.TREND_MEAN_SPREAD for p in cp], dims="klass")
        s_c = pm.LogNormal("trend_spread", mu=np.log([p.drift_sd for p in cp]), sigma=priors.HYPER_SPREAD, dims="klass")
        sig_c = pm.LogNormal("sigma_class", mu=np.log([p.vol for p in cp]), sigma=priors.HYPER_SPREAD, dims="klass")
        omega = pm.LogNormal("vol_spread", mu=np.log(priors.VOL_INDICATOR_SPREAD), sigma=priors.HYPER_SPREAD)
        rho = pm.LogNormal("period_shift", mu=np.log(priors.PERIOD_SHIFT), sigma=priors.HYPER_SPREAD)
        z = pm.Normal("z_sigma", 0.0, 1.0, dims="informed")
        lam_mu = pm.Gamma("lambda_trend", priors.DRIFT_NU / 2, priors.DRIFT_NU / 2, dims="informed")
        zf = pt.set_subtensor(pt.zeros(n_base)[inf], z)
        lam_mu_f = pt.set_subtensor(pt.ones(n_base)[inf], lam_mu)
        sigma_i = sig_c[st.cls_of] * pt.exp(omega * zf)
        lam_steps = pt.ones((n_base, T - 1))
        if len(heavy):
            nu = st.nu[heavy][:, None]
            lam = pm.Gamma("lambda_step", nu / 2, nu / 2, shape=(len(heavy), T - 1))
            lam_steps = pt.set_subtensor(lam_steps[heavy], lam)
        tau = pm.Deterministic("tau", _document_error(pt), dims="family")
        lam_sig = (pm.Gamma("lambda_signal", priors.PLANNER_NU / 2, priors.PLANNER_NU / 2, shape=len(st.signals))
                   if len(st.signals) else None)
        V = _flat_variances(st, pt, s_c, sigma_i, lam_mu_f, lam_steps, rho)
        NV = _noise_variances(st, pt, tau, s_c, lam_sig)
        inflate = pt.ones(1)
        if st.n_doc:
            lam_doc = pm.Gamma("lambda_document", priors.DOCUMENT_NU / 2, priors.DOCUMENT_NU / 2, shape=st.n_doc)
            inflate = pt.concatenate([1.0 / lam_doc, pt.ones(1)])
        for b, batch in enumerate(st.batches):
            y = sign = None
            if data:
                y = pm.Data(f"figures_{b}_y", batch.y)
                sign = pm.Data(f"figures_{b}_sign", batch.sign_c) if batch.Gc.shape[1] else None
            pm.Potential(f"figures_{b}", _batch_loglik(batch, V, NV, m_c, inflate, y, sign))
    return model


def data_names(st: Structure) -> dict[str, tuple[int, str]]:
    """``{container name: (batch, "y" or "sign_c")}`` of the model built with ``data=True``."""
    out = {}
    for b, batch in enumerate(st.batches):
        out[f"figures_{b}_y"] = (b, "y")
        if batch.Gc.shape[1]:
            out[f"figures_{b}_sign"] = (b, "sign_c")
    return out


def _batch_loglik(b: Batch, V, NV, m_c, inflate, y=None, sign=None):
    """Sum over a batch's groups of log N(y; Hc, S) and the censored statements' log Φ terms (PyTensor).

    ``y``, ``sign``: tensors replacing the batch's ``y`` and ``sign_c`` (same shapes; padding stays where it is)."""
    y = b.y if y is None else y
    sign = b.sign_c if sign is None else sign
    v = V[b.v_idx]                                                   # (n, U)
    Gv = b.G * v[:, None, :]
    r = b.known + b.wnoise * NV[b.noise_idx] * inflate[b.doc_idx]
    S = pt.matmul(Gv, b.G.transpose(0, 2, 1)) + r[:, :, None] * np.eye(b.G.shape[1])
    L = pt.linalg.cholesky(S)
    resid = y - pt.matmul(b.M, m_c)
    zr = pt.linalg.solve_triangular(L, resid, lower=True, b_ndim=1)
    logdet = pt.log(pt.diagonal(L, axis1=1, axis2=2)).sum()
    out = -0.5 * (zr**2).sum() - logdet - 0.5 * b.mask.sum() * np.log(2 * np.pi)
    if b.Gc.shape[1]:
        cross = pt.matmul(Gv, b.Gc.transpose(0, 2, 1))              # (n, K, C)
        W = pt.linalg.solve_triangular(L, cross, lower=True, b_ndim=2)
        gap = pt.matmul(b.Mc, m_c) - b.yc + (W * zr[:, :, None]).sum(axis=1)
        var = ((b.Gc**2) * v[:, None, :]).sum(axis=2) + b.known_c + b.wnoise_c * NV[b.noise_idx_c] * inflate[b.doc_idx_c] - (W**2).sum(axis=1)
        live = b.sign_c != 0
        out = out + pt.sum(pt.switch(live, log_normal_cdf(sign * gap / pt.sqrt(pt.maximum(var, 1e-12))), 0.0))
    return out


def log_normal_cdf(x):
    """log Φ(x), stable in both tails (PyTensor)."""
    return pt.switch(x > -5.0, pt.log(0.5 * pt.erfc(-x / np.sqrt(2.0))),
                     -0.5 * x**2 - pt.log(-x) - 0.5 * np.log(2 * np.pi) + pt.log1p(-1.0 / x**2))


CANDIDATES = 16
"""Path candidates per posterior draw for groups with censored statements: one is kept with probability
proportional to the statements' likelihood (importance resampling from the exact conditional given the
point figures; the weights are probabilities, at most 1)."""


def smooth(st: Structure, post: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """Draws of every base indicator's state given each posterior draw of the parameters (a simulation smoother).

    ``post`` holds the sampled parameters stacked over chains (n, ...): ``trend_mean``, ``trend_spread``,
    ``sigma_class``, ``vol_spread``, ``period_shift``, ``z_sigma``, ``lambda_trend``, ``lambda_step`` (if any),
    ``tau``, ``lambda_signal`` (if any). Rows without figures draw their z, λ from the prior (nothing informs
    them). Per group the variates are drawn by Matheron's rule, :math:`u = u^* + D G^\top S^{-1}(y - Hc - G
    u^* - e^*)` with :math:`u^* \sim N(0, D)`, :math:`e^* \sim N(0, R)`: exact, and needs no factor of the
    (possibly singular) conditional covariance. Returns ``x`` (n, n_base, T), ``mu`` (trend of the last fitted
    period), ``mu_base``, ``mu_ahead`` (n, n_base, n_ahead), ``sigma`` (n, n_base, natural scale per year).
    """
    rng = np.random.default_rng(seed)
    n = post["trend_mean"].shape[0]
    n_base, T = len(st.layout.base), st.layout.n_years
    V, NV, m_c, inflate, sigma_i = variances(st, post, rng)

    # every base row from its prior: θ = c + B u, u ~ N(0, diag v)
    B = st.B()
    U = st.n_u
    v_all = np.stack([V[:, _v_index(j, n_base, T, len(st.periods))] for j in range(n_base)], axis=1)  # (n, n_base, U)
    u = np.sqrt(v_all) * rng.standard_normal(v_all.shape)
    for batch in st.batches:
        for g, grp in enumerate(batch.groups):
            u_grp = _condition(batch, g, V, NV, m_c, inflate, rng)
            for b, j in enumerate(grp):
                u[:, j] = u_grp[:, b * U:(b + 1) * U]
    theta = np.einsum("jsu,nju->njs", B, u)
    c = np.zeros((n, n_base, st.n_state))
    c[:, :, :T] = st.anchor_mean[None, :, None]
    c += (m_c[:, st.cls_of] * st.scale)[:, :, None] * B[None, :, :, 1]
    theta += c
    x = theta[:, :, :T]
    mu_base = theta[:, :, T]
    delta = theta[:, :, T + 1:]
    last = int(np.searchsorted(st.periods, plan_period(st.layout.years[-1])))
    ahead = [int(np.searchsorted(st.periods, p)) for p in ahead_periods(st.layout, st.signals)]
    return {"x": x, "mu_base": mu_base, "mu": mu_base + delta[:, :, last],
            "mu_ahead": mu_base[:, :, None] + delta[:, :, ahead], "sigma": sigma_i * st.scale}


def variances(st: Structure, post: dict[str, np.ndarray], rng) -> tuple[np.ndarray, ...]:
    """Per draw of the parameters ``post`` (as :func:`smooth` takes them): the flat variances ``V`` of every
    variate u (:func:`_v_index`), the sampled noise variances ``NV``, the class trend means, the document-error
    multipliers ``inflate`` (1/λ per group, then 1) and each base row's volatility σ_i.

    Rows without figures are not in the model: their z, λ^μ and step λ are drawn here from the prior (``rng``)."""
    n = post["trend_mean"].shape[0]
    n_base, T = len(st.layout.base), st.layout.n_years
    inf = np.flatnonzero(st.informed)
    z = rng.standard_normal((n, n_base))
    lam_mu = rng.gamma(priors.DRIFT_NU / 2, 2 / priors.DRIFT_NU, (n, n_base))
    z[:, inf], lam_mu[:, inf] = post["z_sigma"], post["lambda_trend"]
    lam_steps = np.ones((n, n_base, T - 1))
    for j in np.flatnonzero(st.nu > 0):
        lam_steps[:, j] = rng.gamma(st.nu[j] / 2, 2 / st.nu[j], (n, T - 1))
    heavy = np.flatnonzero(st.informed & (st.nu > 0))
    if len(heavy):
        lam_steps[:, heavy] = post["lambda_step"]
    sigma_i = post["sigma_class"][:, st.cls_of] * np.exp(post["vol_spread"][:, None] * z)
    V = _flat_variances(st, np, post["trend_spread"], sigma_i, lam_mu, lam_steps, post["period_shift"])
    NV = _noise_variances(st, np, post["tau"], post["trend_spread"], post.get("lambda_signal"))
    inflate = np.concatenate([1.0 / post["lambda_document"] if st.n_doc else np.zeros((n, 0)), np.ones((n, 1))], axis=1)
    return V, NV, post["trend_mean"], inflate, sigma_i


def _condition(b: Batch, g: int, V, NV, m_c, inflate, rng) -> np.ndarray:
    """Draws (n, U) of group g's variates given its figures (Matheron's rule; censored: importance resampling)."""
    live = b.v_idx[g] >= 0
    U = int(live.sum())
    K = int(b.mask[g].sum())
    n = V.shape[0]
    v = V[:, b.v_idx[g, :U]]                                          # (n, U)
    G = b.G[g, :K, :U]
    r = b.known[g, :K] + b.wnoise[g, :K] * NV[:, b.noise_idx[g, :K]] * inflate[:, b.doc_idx[g, :K]]  # (n, K)
    S = np.einsum("ku,nu,lu->nkl", G, v, G) + r[:, :, None] * np.eye(K)
    resid = b.y[g, :K] - m_c @ b.M[g, :K].T                          # (n, K)
    C = int((b.sign_c[g] != 0).sum())
    m = CANDIDATES if C else 1
    us = np.sqrt(v)[:, None, :] * rng.standard_normal((n, m, U))
    es = np.sqrt(r)[:, None, :] * rng.standard_normal((n, m, K))
    innov = resid[:, None, :] - us @ G.T - es                          # (n, m, K)
    sol = np.linalg.solve(S[:, None], innov[..., None])[..., 0]        # S⁻¹ innov
    draws = us + v[:, None, :] * (sol @ G)                             # (n, m, U)
    if C:
        Gc = b.Gc[g, :C, :U]
        rc = b.known_c[g, :C] + b.wnoise_c[g, :C] * NV[:, b.noise_idx_c[g, :C]] * inflate[:, b.doc_idx_c[g, :C]]
        gap = draws @ Gc.T + (m_c @ b.Mc[g, :C].T - b.yc[g, :C])[:, None, :]
        logw = log_ndtr(b.sign_c[g, :C] * gap / np.sqrt(rc)[:, None, :]).sum(axis=-1)
        w = np.exp(logw - logw.max(axis=1, keepdims=True))
        pick = (rng.random(n)[:, None] > np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)).sum(axis=1)
        draws = draws[np.arange(n), np.minimum(pick, m - 1)]
    else:
        draws = draws[:, 0]
    return draws


def learning_table(fit) -> pd.DataFrame:
    """Prior against posterior of each class's log volatility and log trend spread (hyperprior sd
    ``priors.HYPER_SPREAD``): how much the class's members' figures taught the model. ``narrower`` is
    1 − posterior sd / prior sd; ``members`` counts the class's indicators and ``informing`` those whose
    figures reach their trend or volatility (more than one level figure, a growth rate, a statement)."""
    post = fit.idata.posterior
    layout = fit.layout
    classes = [str(c) for c in post["klass"].to_numpy()]
    informing = set(post["informed"].to_numpy().tolist()) if "informed" in post.coords else set()
    rows = []
    for c in classes:
        members = [i for i in layout.base if layout.klass(i) == c]
        row = {"class": c, "members": len(members), "informing": len(informing & set(members))}
        for name, label in (("sigma_class", "log_volatility"), ("trend_spread", "log_trend_spread")):
            draws = np.log(post[name].sel(klass=c).to_numpy().ravel())
            row[f"{label}_prior_sd"] = priors.HYPER_SPREAD
            row[f"{label}_posterior_sd"] = float(draws.std())
            row[f"{label}_narrower"] = 1.0 - float(draws.std()) / priors.HYPER_SPREAD
        rows.append(row)
    return pd.DataFrame(rows)
