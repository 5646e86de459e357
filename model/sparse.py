r"""Sparse indicators: those with one or two figures (often just the plan's 2020 base), or with no
target, drawn outside NUTS from their exact conditional posterior by importance resampling.

One or two figures pin at most a level and one change of a path; the class prior alone splits that
change into trend and volatility. In NUTS such an indicator is a funnel (volatility against the
innovations that must add up to the pinned change) that forces step sizes of 0.02 and 1000
leapfrog steps per draw for the whole model. Its conditional posterior given the class
hyperparameters is cheap to draw exactly instead. For each posterior draw *s* of the NUTS part
(class volatility :math:`\sigma_c^{(s)}`, document errors :math:`\tau^{(s)}`, the deflator path),
*K* proposals are drawn:

1. the volatility :math:`\sigma_i = \sigma^{(s)}_c e^{0.3 u}k_i` and the mixing weight λ of the
   :math:`t_3` drift prior from their priors, so that :math:`\mu_i \mid \lambda \sim \mathcal N(m_c k_i,
   s_c^2k_i^2/\lambda)`;
2. given them, the model of :mod:`model.growth` is linear-Gaussian in the state
   :math:`\theta = (x_{i,\cdot}, \mu_i, \mu_{i,p} - \mu_i)` (path, long-run drift, plan-period shifts;
   the level is flat a priori, as :math:`x_0 \sim N(\cdot, 2^2)` in NUTS): θ is drawn from its
   Gaussian posterior given the figures **linearised** on the indicator's natural scale (log levels,
   :math:`\log(1+g)` for growth rates, the mean log level for a cumulative total, the logit of a share)
   and the plan's statement of a fitted period's trend (:mod:`model.planner`; its :math:`t_3` is a
   normal with precision scaled by a mixing weight :math:`\lambda_T`, drawn from its prior like λ);
3. the weight is that Gaussian's evidence times the ratio of the exact likelihood of *all* the
   indicator's figures (levels, growth rates, cumulative totals, pp changes, censored statements:
   the operators of :mod:`model.operators` and the noise of :mod:`model.growth`) to the linearised
   one, and for fat-tailed classes the ratio of the Student-t to the Gaussian density of the steps.

One proposal per draw is kept with probability proportional to its weight. A lone level figure is
matched exactly by one proposal. The mean Kish effective sample size of the weights per draw is
reported per indicator (``Fit.sparse_ess``); ``tests/test_sparse.py`` checks the sampler by
simulation-based calibration.

Dependence on the NUTS part is one way (a "cut"): sparse indicators do not inform the class
volatilities, which they could barely do (one change each) and which their programme-count
histories (approval items −96%) would distort. An indicator with no level figure of any kind has
no level (``unanchored``): only its growth targets can be evaluated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scipy import stats
from scipy.special import log_ndtr

from . import priors
from .growth import _scale, ahead_periods, censor_zeros, distinct_figures, log_values, observation_noise, plan_period
from .layout import DEFLATOR, Layout, anchors
from .operators import LOG_SCALE_OPS, OP_OF_KIND, cell_years, evaluate, to_comparison_scale

PROPOSALS = 64
"""Proposals per posterior draw and indicator (the weights' Kish ESS is reported)."""
CHUNK = 500
"""Posterior draws processed at once (bounds memory: CHUNK × PROPOSALS × years)."""


def class_noise(classes_all: list[str], post: dict[str, np.ndarray], rng) -> dict[str, np.ndarray]:
    """Class volatility (fitted where NUTS sampled the class, else drawn from its prior) and the document
    errors (one per family, shared by every class: ``post`` holds them as (n,) vectors), as (n, n_classes_all)
    arrays."""
    n = post["x"].shape[0]
    out = {"sigma_class": np.zeros((n, len(classes_all)))}
    for k, c in enumerate(classes_all):  # sorted: the same draws in every process
        out["sigma_class"][:, k] = (post["sigma_class"][:, post["classes"].index(c)] if c in post["classes"] else
                                    priors.CLASS_PRIORS[c].vol * np.exp(priors.VOL_CLASS_SPREAD * rng.standard_normal(n)))
    for name in ("noise_level", "noise_growth"):
        out[name] = np.repeat(post[name][:, None], len(classes_all), axis=1)
    return out


def draw_sparse(full: Layout, fitted: Layout, post: dict[str, np.ndarray], obs: pd.DataFrame, seed: int,
                proposals: int = PROPOSALS, signals: pd.DataFrame | None = None
                ) -> tuple[dict[str, np.ndarray], list[str], dict[str, float]]:
    """Posterior arrays on ``full.base`` from the NUTS ones plus importance-resampled sparse indicators.

    ``post`` holds ``x`` (n, n_fitted, n_years), ``mu`` (trend of the last plan period), ``mu_base``
    (long-run trend), ``sigma`` (n, n_fitted), ``sigma_class`` (n, n_classes) with their ``classes``, and
    ``noise_level``, ``noise_growth`` (n,: one per family, floors included), and ``mu_ahead`` (n, n_fitted,
    n_ahead: trends of the stated periods after the fitted years, :func:`model.growth.ahead_periods`).
    ``signals`` are the plans' statements of period trends (:func:`model.planner.signals`). Returns the
    arrays ``x``, ``mu``, ``mu_base``, ``sigma``, ``mu_ahead`` and, over all classes, ``sigma_class``, ``noise_level``,
    ``noise_growth`` with ``classes``; the ids of unanchored indicators; the mean ESS per sparse indicator.
    """
    rng = np.random.default_rng(seed)
    n = post["x"].shape[0]
    nb, ny = len(full.base), full.n_years
    classes_all = sorted({full.klass(i) for i in full.base})
    noise = class_noise(classes_all, post, rng)
    ahead = ahead_periods(full, signals)
    out = {"x": np.zeros((n, nb, ny)), "mu": np.zeros((n, nb)), "mu_base": np.zeros((n, nb)), "sigma": np.zeros((n, nb)),
           "mu_ahead": np.zeros((n, nb, len(ahead)))}
    deflator = post["x"][:, fitted.base.index(DEFLATOR)]
    figures = censor_zeros(distinct_figures(obs))
    anchor, anchor_year = anchors(full, obs, last=True)
    scale = _scale(full, anchor)
    unanchored, ess = [], {}
    for j, ind in enumerate(full.base):
        if ind in fitted.base:
            k = fitted.base.index(ind)
            for name in out:
                out[name][:, j] = post[name][:, k]
            continue
        c = classes_all.index(full.klass(ind))
        own = signals[signals["indicator"] == ind] if signals is not None else None
        cond = _Conditional(full, ind, figures[figures["indicator"] == ind], anchor.get(ind), anchor_year.get(ind),
                            scale[j], () if own is None else list(zip(own["period"], own["drift"])))
        if not cond.anchored:
            unanchored.append(ind)
        draws = [cond.draw(rng, noise["sigma_class"][s, c], noise["noise_level"][s, c], noise["noise_growth"][s, c],
                           deflator[s], proposals) for s in _chunks(n)]
        for name, i in (("x", 0), ("mu", 1), ("mu_base", 2), ("sigma", 3)):
            out[name][:, j] = np.concatenate([d[i] for d in draws])
        # stated later periods from the conditional; the others a fresh shift around the long-run trend
        stated = np.concatenate([d[5] for d in draws])
        shift = priors.PERIOD_SHIFT * cond.prior.drift_sd * scale[j]
        for k, p in enumerate(ahead):
            out["mu_ahead"][:, j, k] = (stated[:, list(cond.ahead).index(p)] if p in cond.ahead else
                                        out["mu_base"][:, j] + shift * rng.standard_normal(n))
        if not cond.exact:
            ess[ind] = float(np.mean(np.concatenate([d[4] for d in draws])))
    out.update(noise, classes=classes_all)
    return out, unanchored, ess


def _chunks(n: int):
    for a in range(0, n, CHUNK):
        yield slice(a, min(a + CHUNK, n))


class _Conditional:
    """One sparse indicator: its figures indexed on a grid of (indicator, deflator), their linearisation, its prior."""

    def __init__(self, full: Layout, ind: str, rows: pd.DataFrame, anchor: float | None, anchor_year: int | None,
                 scale: float, signals=()):
        self.layout = full.subset([ind, DEFLATOR])
        self.row = self.layout.base.index(ind)
        self.transform = full.transform(ind)
        self.prior = priors.CLASS_PRIORS[full.klass(ind)]
        self.scale = scale
        self.n_years = ny = full.n_years
        y0 = int(full.years[0])
        rows = rows.reset_index(drop=True)
        index = self.layout.index(rows)
        self.groups = []  # exact likelihood: (op, idx, weights, values on comparison scale, known sd, point?, sign)
        for op, pos in index.rows.items():
            sub = rows.iloc[pos]
            comp = sub["comparator"].to_numpy()
            self.groups.append((op, index.idx[op], index.weights[op], to_comparison_scale(op, sub["value"].to_numpy(float)),
                                observation_noise(sub, op), np.isin(comp, ["=", "about"]),
                                np.where(np.isin(comp, [">", ">="]), 1.0, -1.0)))
        # Linearised figures h'x = y' (sd = factor * noise): the Gaussian proposal given (mu, sigma).
        lin = [self._linear(r, y0, ny, full) for r in rows.itertuples(index=False)]
        lin = [v for v in lin if v is not None]
        has_level = any(v[4] == "level" for v in lin)
        self.anchored = has_level or anchor is not None
        if not self.anchored:  # with a flat level, level figures (a censored total, say) say nothing
            self.groups = [g for g in self.groups if g[0] == "growth"]
        # One linear figure (or none) is matched exactly whatever the trend: one proposal per draw suffices.
        self.exact = len(lin) <= 1 and not self.prior.nu and all(
            g[0] in ("level", "growth") and g[5].all() for g in self.groups) and len(rows) <= 1
        self.col = int(anchor_year - y0) if anchor_year is not None else (
            int(np.flatnonzero(lin[0][0])[0]) if lin else ny - 1)
        # A pseudo-figure on the level at the anchor's year keeps the proposal proper; it is divided out of
        # the weights unless nothing depends on the level (unanchored).
        pseudo = np.zeros(ny)
        pseudo[self.col] = 1.0
        if has_level:
            pseudo_sd = 10.0
        elif anchor is not None:  # a share or index known only through censored or nonlinear figures
            p = 1.0 / (1.0 + np.exp(-anchor)) if self.transform == "logit" else None
            pseudo_sd = 3 * 0.02 * ({"logit": 1.0 / max(1 - p, 1e-3) if p is not None else 1.0,
                                     "identity": abs(anchor)}.get(self.transform, 1.0))
        else:
            pseudo_sd = 1.0
        lin.append((pseudo, np.zeros(ny), anchor or 0.0, pseudo_sd, "pseudo", 1.0))
        self.H = np.array([v[0] for v in lin])          # (r, years) on x
        self.Hd = np.array([v[1] for v in lin])         # (r, years) on the log deflator (nominal figures)
        self.y = np.array([v[2] for v in lin])
        self.known = np.array([v[3] for v in lin])
        self.family = np.array([v[4] for v in lin])
        self.factor = np.array([v[5] for v in lin])
        # state (x_0 … x_{T-1}, long-run drift m, period shifts d_p); steps x_t - x_{t-1} - m - d_p(t) ~ N(0, sd²)
        periods = plan_period(full.years)
        self.ahead = np.array(sorted({int(p) for p, _ in signals if p > periods[-1]}), dtype=int)
        self.periods = np.union1d(periods, self.ahead)  # later periods: a shift with no step, only a statement
        self.last_period = int(np.searchsorted(self.periods, periods[-1]))
        n_p = len(self.periods)
        A = np.zeros((ny - 1, ny + 1 + n_p))
        A[:, :ny] = np.diff(np.eye(ny), axis=0)
        A[:, ny] = -1.0
        A[np.arange(ny - 1), ny + 1 + np.searchsorted(self.periods, periods[1:])] = -1.0
        self.A, self.AtA = A, A.T @ A
        # the plan's statements of a fitted period's trend m + d_p (model.planner): (state columns, implied trend)
        self.signals = [(np.array([ny, ny + 1 + int(np.searchsorted(self.periods, p))]), float(g))
                        for p, g in signals if p in self.periods]
        self.exact = self.exact and not self.signals

    def _linear(self, r, y0: int, ny: int, full: Layout):
        """(h, h_deflator, y', known sd, family, sd factor) of a point figure that is (nearly) linear in x, or None."""
        if r.comparator not in ("=", "about"):
            return None
        span = None if pd.isna(r.span_start) else int(r.span_start)
        years, weights = cell_years(r.kind, int(r.year), span)
        if min(years) < y0 or max(years) >= y0 + ny:
            return None
        h = np.zeros(ny)
        np.add.at(h, np.array(years) - y0, weights)
        nominal = r.price_basis == "nominal" and full.catalogue.at[r.indicator, "deflator"] == DEFLATOR
        op = OP_OF_KIND[r.kind]
        one = pd.DataFrame([r._asdict()])
        v = float(r.value)
        if op == "level":
            known = observation_noise(one, op)[0]
            if self.transform == "log":
                return h, h * nominal, np.log(v), known, "level", 1.0
            if self.transform == "logit":
                p = min(max(v / 100.0, 1e-3), 1 - 1e-3)
                return h, 0 * h, np.log(p / (1 - p)), known, "level", 1.0 / (1 - p)
            return h, 0 * h, v, known, "level", v
        if self.transform != "log":
            return None
        if op == "growth" and v > -100:
            return h, h * nominal, np.log1p(v / 100.0), observation_noise(one, op)[0], "growth", 0.01 / (1 + v / 100.0)
        if op == "sum":  # log of a total over n years ≈ log n + mean log level
            n = len(years)
            return h / n, h / n * nominal, np.log(v / n), observation_noise(one, op)[0], "level", 1.0
        return None

    def draw(self, rng, sig_c, tau_level, tau_growth, deflator, K):
        """One conditional draw per posterior draw: (x, mu, mu_base, sigma, ess, mu_ahead), with leading axis
        len(sig_c); ``mu_ahead`` (m, len(self.ahead)) are the trends of the stated periods after the fitted years.

        Proposal: the volatility and the t₃ drift prior's mixing weight λ from the prior, then (x, mu) from
        the Gaussian posterior of the random walk given λ and the linearised figures; weight = that
        Gaussian's evidence × exact / linearised likelihood."""
        K = 1 if self.exact else K
        m_, ny, cp = len(sig_c), self.n_years, self.prior
        nu_mu = priors.DRIFT_NU
        lam = rng.gamma(nu_mu / 2, 2 / nu_mu, (m_, K))                # t₃ drift = N(m_c, s_c²/λ) mixture
        m0, s0 = cp.drift_mean * self.scale, cp.drift_sd * self.scale
        shift = priors.PERIOD_SHIFT * s0                              # sd of a plan period's shift of the trend
        sigma = sig_c[:, None] * np.exp(priors.VOL_INDICATOR_SPREAD * rng.standard_normal((m_, K))) * self.scale
        sd = sigma * (np.sqrt(cp.nu / (cp.nu - 2)) if cp.nu else 1.0)  # Gaussian stand-in for t steps: same variance
        tau = np.where(self.family[None, :] == "growth", tau_growth[:, None],
                       np.where(self.family[None, :] == "pseudo", 0.0, tau_level[:, None]))
        w = 1.0 / (self.factor**2 * (self.known**2 + tau**2))                       # (m, r)
        y = self.y - deflator @ self.Hd.T                                           # (m, r)
        prec, pmu = 1.0 / sd**2, lam / s0**2
        n_state, n_p = self.AtA.shape[0], len(self.periods)
        Q = prec[..., None, None] * self.AtA
        Q[..., :ny, :ny] += np.einsum("ri,mr,rj->mij", self.H, w, self.H)[:, None]
        Q[..., ny, ny] += pmu
        Q[..., ny + 1:, ny + 1:] += np.eye(n_p) / shift**2
        b = np.zeros((m_, K, n_state))
        b[..., :ny] = ((w * y) @ self.H)[:, None, :]
        b[..., ny] = pmu * m0
        logw = np.zeros((m_, K))
        for cols, g in self.signals:  # a t₃ statement = N(g; m + d_p, τ²/λ_T), λ_T from its Gamma prior
            lam_t = rng.gamma(priors.PLANNER_NU / 2, 2 / priors.PLANNER_NU, (m_, K))
            pi = lam_t / (priors.PLANNER_SD * s0) ** 2
            Q[..., cols[:, None], cols[None, :]] += pi[..., None, None]
            b[..., cols] += (pi * g)[..., None]
            logw += 0.5 * np.log(pi) - 0.5 * pi * g**2
        L = np.linalg.cholesky(Q)
        u = _forward(L, b)                                   # θ̂ = L⁻ᵀu, so b'θ̂ = u'u
        theta = _backward(L, u + rng.standard_normal(u.shape))
        x, mu_base = theta[..., :ny], theta[..., ny]
        mu = mu_base + theta[..., ny + 1 + self.last_period]
        logdet = 2 * np.log(np.diagonal(L, axis1=-2, axis2=-1)).sum(-1)
        c = pmu * m0**2 + (w * y**2).sum(-1)[:, None]
        logw += (0.5 * (u**2).sum(-1) - 0.5 * c - 0.5 * logdet - (ny - 1) * np.log(sd) + 0.5 * np.log(pmu)
                 - n_p * np.log(shift))
        resid = y[:, None, :] - x @ self.H.T
        lin = -0.5 * w[:, None, :] * resid**2
        keep = self.family != "pseudo" if not self.anchored else np.ones(len(self.family), bool)
        logw -= lin[..., keep].sum(-1)
        if cp.nu:  # exact t density of the steps over the Gaussian stand-in
            steps = theta @ self.A.T                          # steps minus their trends
            logw += (stats.t.logpdf(steps / sigma[..., None], cp.nu) - np.log(sigma[..., None])
                     - stats.norm.logpdf(steps / sd[..., None]) + np.log(sd[..., None])).sum(-1)
        cells = self._cells(x, deflator)
        for op, idx, wts, v, known, point, sign in self.groups:
            t = (tau_level if op in LOG_SCALE_OPS else tau_growth)[:, None, None]
            s = np.sqrt(known**2 + t**2)
            z = (to_comparison_scale(op, evaluate(op, cells, idx, wts)) - v) / s
            logw += np.where(point, -0.5 * z**2 - np.log(s), log_ndtr(sign * z)).sum(-1)
        logw = np.where(np.isfinite(logw), logw, -np.inf)
        logw -= logw.max(axis=1, keepdims=True)
        p = np.exp(logw)
        p /= p.sum(axis=1, keepdims=True)
        pick = (p.cumsum(axis=1) < rng.random((m_, 1))).sum(axis=1).clip(max=K - 1)
        rows = np.arange(m_)
        ahead = mu_base[..., None] + theta[..., ny + 1 + np.searchsorted(self.periods, self.ahead)]
        return (x[rows, pick], mu[rows, pick], mu_base[rows, pick], sigma[rows, pick], 1.0 / (p**2).sum(axis=1),
                ahead[rows, pick])

    def _cells(self, x, deflator):
        """Flattened log values of (indicator, deflator) for proposals x (m, K, years)."""
        grid = np.empty((*x.shape[:2], 2, self.n_years))
        grid[:, :, self.row] = x
        grid[:, :, 1 - self.row] = deflator[:, None, :]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return log_values(grid, self.layout)


def _forward(L, b):
    """Solve L u = b for lower-triangular L, batched over leading axes (a loop over the few rows)."""
    u = np.empty_like(b)
    for i in range(b.shape[-1]):
        u[..., i] = (b[..., i] - (L[..., i, :i] * u[..., :i]).sum(-1)) / L[..., i, i]
    return u


def _backward(L, u):
    """Solve L' v = u for lower-triangular L, batched over leading axes."""
    v = np.empty_like(u)
    for i in reversed(range(u.shape[-1])):
        v[..., i] = (u[..., i] - (L[..., i + 1:, i] * v[..., i + 1:]).sum(-1)) / L[..., i, i]
    return v
