r"""Exact Gaussian marginalisation of linear observations of random-walk-with-drift paths.

One indicator's latent path :math:`x = (x_0, \dots, x_{T-1})` on its natural scale (log for levels,
logit for shares, identity for indices; :mod:`model.layout`) is a random walk with drift, known at
an anchor year *k* up to a Gaussian prior:

.. math::

    x_k \sim \mathcal N(a, A), \qquad
    x_t = x_{t-1} + \mu_t + \sigma \lambda_t^{-1/2} \varepsilon_t, \quad \varepsilon_t \sim \mathcal N(0, 1)

with :math:`\mu_t` the drift of the step into year *t* (its plan period's drift) and :math:`\lambda_t`
the scale-mixture weight of a Student-t step (:math:`\lambda_t \sim \mathrm{Gamma}(\nu/2, \nu/2)`, a
parameter of the sampler; :math:`\lambda_t = 1` for normal steps). Given :math:`(a, A, \mu, \sigma, \lambda)`
the path is Gaussian,

.. math::

    x \sim \mathcal N(m, P), \qquad m = a\mathbf 1 + L_k \mu, \qquad
    P = A\,\mathbf 1\mathbf 1^\top + \sigma^2 L_k\,\mathrm{diag}(1/\lambda)\,L_k^\top

where :math:`L_k` (*T* × *T*−1) adds the steps between the anchor and year *t*: :math:`(L_k)_{t,s} = 1`
for :math:`k < s \le t`, :math:`-1` for :math:`t < s \le k`, else 0 (:func:`path_moments`; the
current engine anchors each path at its first observed level, the deflator at 2020 with *A* = 0).
Linked indicators (ratios, nominal = real + deflator) form a *group* whose paths are stacked
into one vector with a block-diagonal covariance (:func:`block`).

Every figure *k* reads a linear combination of the group's path, observed with independent Gaussian
noise on a *comparison scale* on which the operator is linear:

.. math::

    y = H x + e, \quad e \sim \mathcal N(0, \mathrm{diag}\, r)
    \quad\Longrightarrow\quad
    y \sim \mathcal N(H m,\; S), \quad S = H P H^\top + \mathrm{diag}\, r

(:func:`marginal_loglik`, by the Cholesky factor of *S*), and the paths given the figures are

.. math::

    x \mid y \sim \mathcal N\big(m + K(y - Hm),\; P - KHP\big), \qquad K = P H^\top S^{-1}

(:func:`conditional_moments`, :func:`conditional_paths`). Both are exact: nothing is sampled.

Figures (:func:`observation_matrix`): a figure of year *t* (span *S..t*) with printed value *v* and sd
*s* (in the printed unit; growth and pp changes in points, shares in %) reads natural-scale *cells*
:math:`z_u`. A base indicator's cell is :math:`z_u = x_u`, for a nominal figure of a deflated
indicator :math:`x_u + d_u` (:math:`d` the log GDP deflator, a member of the group), for a ratio
*a/b* in % (SEI share of GDP = sei_va / gdp; manufacturing share of industry) :math:`x^a_u - x^b_u`:

====================  ============================  ==============================  ==============
kind                  comparison value y            H x                             sd of y
====================  ============================  ==============================  ==============
level, count, share   g(v), by the cell's scale     z_t                             s·|g'(v)|
yoy_growth            log(1 + v/100)                z_t − z_{t−1}                   s/(100 + v)
avg_growth (S..t)     log(1 + v/100)                (z_t − z_{S−1})/(t − S + 1)     s/(100 + v)
cum_growth (S..t)     log(1 + v/100)                z_t − z_{S−1}                   s/(100 + v)
pp_change (S..t)      v                             linearised (below)              s
cumulative (S..t)     log v                         linearised (below)              s/v
====================  ============================  ==============================  ==============

with *g* = log (log-scale levels), logit(v/100) (logit shares), identity (indices) or log(v/100)
(ratios in %) (``SCALES``, ``KINDS``). Growth of a logit share is not linear in its path and is refused.

**Approximations.** (i) A figure's noise, Gaussian on its printed scale, is taken as Gaussian on the
comparison scale with the printed sd times the derivative of the transform at the printed value (delta
method: :math:`s/(100+g)` for growth in log points, :math:`s/v` for levels, :math:`100 s/(v(100-v))` for
logit shares); what is neglected is of relative order :math:`s/(100+g)`, :math:`s/v` or
:math:`s/\min(v, 100-v)`: small unless a figure is imprecise for its size. (ii) Two operators are not linear in the
path: a pp change of a share, :math:`f = v(z_t) - v(z_{S-1})` with :math:`v = 100\,\mathrm{expit}(z)`,
and a cumulative total, :math:`f = \log \sum_{u=S}^t e^{z_u}`. They are replaced by their first-order
Taylor expansion at a fixed point :math:`\bar z` (argument ``at``: the prior mean of the path, or
better its current conditional mean), :math:`f(z) \approx f(\bar z) + \nabla f(\bar z)^\top (z - \bar z)`.
With :math:`\delta = z - \bar z`, the operator's error is the Taylor remainder, bounded by

* pp change of a logit share: :math:`|v''(z)| = 100\,p(1-p)|1-2p| \le 100/(6\sqrt3) \approx 9.62` pp,
  so :math:`|f(z) - f_{\rm lin}(z)| \le 4.81\,(\delta_t^2 + \delta_{S-1}^2)` pp; if the share stays
  within 40–60%, :math:`|v''| \le 5` and the bound is :math:`2.5\,(\delta_t^2 + \delta_{S-1}^2)` pp.
  (For a pp change of a ratio share, :math:`v = 100 e^z`, it is :math:`\tfrac12 \max v\,\delta^2` per cell.)
* cumulative total of log levels: the Hessian of :math:`\log\sum e^{z}` is
  :math:`\mathrm{diag}(w) - ww^\top` (*w* the softmax weights), so
  :math:`0 \le f(z) - f_{\rm lin}(z) \le \tfrac18 (\max_u \delta_u - \min_u \delta_u)^2` (Popoviciu's
  bound on a variance): the linearised total is never above the exact one.

The bounds grow with :math:`\delta^2`: linearise where the path's posterior is, not at a vague prior
(an anchor sd of 2 logit would allow errors of tens of points). Measured in ``tests/test_marginal.py``:
a share moving 50% → 54.9% with path sd 0.1 logit (the figure's spread from the path: 2.5 pp) has
operator error RMS 0.023 pp (noise sd 0.3 pp) and log-likelihood error ≤ 0.003 for figures 3–7 pp;
a five-year total of levels with 10% yearly volatility after a known level has operator error 0.4%
on average (at most 6%) and log-likelihood error 0.002 for a figure near its expectation, but
0.05 for one 1.7 sd above it (the error grows in the tails). Everything else here is exact.

Shapes: a leading batch axis (posterior draws, or padded groups) is allowed everywhere; the
PyTensor functions serve :mod:`pymc` models (``pm.Potential``), the NumPy ones tests and prediction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import pytensor.tensor as pt
from scipy.special import expit, logit

from .data import formula_terms
from .layout import DEFLATOR
from .operators import cell_years

LOG2PI = float(np.log(2.0 * np.pi))


def _tensor(x, xp):
    return np.asarray(x, dtype=float) if xp is np else pt.as_tensor_variable(x)


def step_matrix(n_years: int, anchor: int = 0) -> np.ndarray:
    r"""The matrix :math:`L_k` (n_years × n_years−1): row *t* adds the steps between the anchor *k* and year *t*."""
    t = np.arange(n_years)[:, None]
    s = np.arange(1, n_years)[None, :]
    return ((anchor < s) & (s <= t)).astype(float) - ((t < s) & (s <= anchor)).astype(float)


def path_moments(a, A, drifts, sigma, lam=None, anchor: int = 0, xp=np):
    r"""Mean and covariance of one indicator's path given its drift, volatility and scale weights.

    Parameters
    ----------
    a, A : float or array (...)
        Prior mean and variance of :math:`x_k`, the path at the anchor year (natural scale).
    drifts : array (..., T-1)
        :math:`\mu_t`, the drift of the step into year *t* = 1..T-1 (per year, natural scale).
        Its length must be static (a NumPy array, or a tensor indexed by a NumPy array).
    sigma : float or array (...)
        Volatility :math:`\sigma` (sd of a normal step, natural scale per year).
    lam : array (..., T-1), optional
        Scale-mixture weights :math:`\lambda_t` of Student-t steps (step variance
        :math:`\sigma^2/\lambda_t`); ``None`` for normal steps.
    anchor : int
        Position *k* of the year whose prior is :math:`\mathcal N(a, A)`.
    xp : module
        ``numpy`` or ``pytensor.tensor`` (gradients flow through every argument).

    Returns
    -------
    m : array (..., T)
    P : array (..., T, T)
    """
    drifts = _tensor(drifts, xp)
    n_steps = drifts.shape[-1] if xp is np else drifts.type.shape[-1]
    if n_steps is None:
        raise ValueError("path_moments needs drifts of static length (index a tensor with a NumPy array)")
    L = step_matrix(n_steps + 1, anchor)
    a, A, sigma = (_tensor(v, xp)[..., None] for v in (a, A, sigma))
    m = a + xp.matmul(drifts, L.T)
    var = sigma**2 if lam is None else sigma**2 / _tensor(lam, xp)  # (..., 1) or (..., T-1)
    P = A[..., None] + xp.matmul(L * var[..., None, :], L.T)
    return m, P


def block(moments: Sequence[tuple], xp=np):
    """Stack the moments of a group's indicators: concatenated means, block-diagonal covariance.

    Parameters
    ----------
    moments : sequence of (m, P)
        Each ``m`` (..., n_i) and ``P`` (..., n_i, n_i) with the same leading axes (static n_i).
    xp : module
        ``numpy`` or ``pytensor.tensor``.

    Returns
    -------
    m : array (..., sum n_i)
    P : array (..., sum n_i, sum n_i)
    """
    sizes = [int(m.shape[-1]) if xp is np else m.type.shape[-1] for m, _ in moments]
    n, before = sum(sizes), np.cumsum([0, *sizes[:-1]])
    Ps = [xp.pad(P, [(0, 0)] * (P.ndim - 2) + [(b, n - b - s)] * 2) for (_, P), b, s in zip(moments, before, sizes)]
    return xp.concatenate([m for m, _ in moments], axis=-1), sum(Ps[1:], Ps[0])


class _Scale(NamedTuple):
    to_z: Callable   # printed level v -> natural-scale cell z
    dz: Callable     # dz/dv
    value: Callable  # z -> printed level v
    dvalue: Callable  # dv/dz


SCALES = {
    "log": _Scale(np.log, lambda v: 1.0 / v, np.exp, np.exp),
    "logit": _Scale(lambda v: logit(v / 100.0), lambda v: 100.0 / (v * (100.0 - v)),
                    lambda z: 100.0 * expit(z), lambda z: 100.0 * expit(z) * expit(-z)),
    "identity": _Scale(lambda v: v, lambda v: np.ones_like(v), lambda z: z, lambda z: np.ones_like(z)),
    "ratio": _Scale(lambda v: np.log(v / 100.0), lambda v: 1.0 / v,
                    lambda z: 100.0 * np.exp(z), lambda z: 100.0 * np.exp(z)),
}
"""Natural scale of a cell: its printed level in the unit (shares and ratios in %), and back."""


class _Kind(NamedTuple):
    target: Callable  # (v, scale) -> comparison value y
    slope: Callable   # (v, scale) -> dy/dv (delta method for the sd)
    combine: str      # how y depends on the cells z: "linear", "sum" (of levels), "logsum" (log of a sum)
    scales: tuple     # natural scales on which this is linear (or linearised)


_LEVEL = _Kind(lambda v, s: SCALES[s].to_z(v), lambda v, s: np.abs(SCALES[s].dz(v)), "linear", tuple(SCALES))
_GROWTH = _Kind(lambda v, s: np.log1p(v / 100.0), lambda v, s: 1.0 / (100.0 + v), "linear", ("log", "ratio"))
KINDS = {
    "level": _LEVEL, "count": _LEVEL, "share": _LEVEL,
    "yoy_growth": _GROWTH, "avg_growth": _GROWTH, "cum_growth": _GROWTH,
    "pp_change": _Kind(lambda v, s: v, lambda v, s: np.ones_like(v), "sum", tuple(SCALES)),
    "cumulative": _Kind(lambda v, s: np.log(v), lambda v, s: 1.0 / v, "logsum", ("log", "identity")),
}
"""Figure kinds: comparison value, delta-method slope, and the operator on the cells (module docstring)."""


def _operator(combine: str, scale: _Scale, z: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Value and gradient at cells ``z`` of a figure's operator with weights ``w`` (from :func:`cell_years`)."""
    if combine == "linear":
        return float(w @ z), w
    levels = w * scale.value(z)
    grad = w * scale.dvalue(z)
    if combine == "sum":
        return float(levels.sum()), grad
    return float(np.log(levels.sum())), grad / levels.sum()


def observation_matrix(rows: pd.DataFrame, paths: Mapping[str, np.ndarray], catalogue: pd.DataFrame,
                       at: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Figures as linear Gaussian observations :math:`y = Hx + e` of a group's stacked path.

    Parameters
    ----------
    rows : DataFrame
        One figure per row: ``indicator``, ``year``, ``span_start`` (NaN if none), ``kind`` (a key of
        ``KINDS``), ``value`` and ``sd`` in the printed unit (growth and pp in points, shares in %),
        optional ``price_basis`` ("nominal" reads real + deflator for deflated indicators) and
        ``comparator`` (only point figures, "=" or "about", are Gaussian). Rows with a NaN value are
        missing and skipped.
    paths : mapping indicator -> years
        The group's base indicators in block order, each with its consecutive years (the stacked
        path is ``[x^1 over its years, x^2 ..., ...]``).
    catalogue : DataFrame
        Indexed by indicator: ``transform`` (log, logit, identity), ``links`` (``= a / b`` for a
        ratio in %), ``deflator`` (``gdp_deflator`` if nominal = real + deflator).
    at : array (N,), optional
        Natural-scale point at which the nonlinear kinds (pp_change, cumulative) are linearised;
        required only if there are any.

    Returns
    -------
    H : array (K, N)
    y : array (K,)  comparison values (minus the linearisation's constant)
    r : array (K,)  noise variances on the comparison scale; proportional to ``sd**2`` (pass sd = 1
        to get the squared delta-method slopes when the noise is a parameter)

    Raises
    ------
    ValueError
        For a kind that is not linear on the indicator's scale (growth of a logit share), a cell
        outside the group's paths, a censored statement, or a nonlinear kind without ``at``.
    """
    first = dict(zip(paths, np.cumsum([0] + [len(y) for y in paths.values()])))
    n = sum(len(y) for y in paths.values())

    def unit(ind, year):
        years = np.asarray(paths.get(ind, []))
        if not len(years) or not years[0] <= year <= years[-1]:
            raise ValueError(f"figure reads {ind} in {year}, outside the group's paths {dict(paths)}")
        return np.eye(n)[first[ind] + year - int(years[0])]

    def cell(ind, year, nominal):
        terms = formula_terms(catalogue.at[ind, "links"])
        if terms:
            return unit(terms[0], year) - unit(terms[1], year), "ratio"
        c = unit(ind, year)
        if nominal and catalogue.at[ind, "deflator"] == DEFLATOR:
            c = c + unit(DEFLATOR, year)
        return c, catalogue.at[ind, "transform"]

    H, y, sd = [], [], []
    for r in rows[rows["value"].notna()].itertuples(index=False):
        if getattr(r, "comparator", "=") not in ("=", "about"):
            raise ValueError(f"{r.indicator} {r.year}: a {r.comparator!r} statement is not a Gaussian observation")
        kind = KINDS[r.kind]
        years, w = cell_years(r.kind, int(r.year), None if pd.isna(r.span_start) else int(r.span_start))
        cells = [cell(r.indicator, yr, getattr(r, "price_basis", "") == "nominal") for yr in years]
        C, scale = np.array([c for c, _ in cells]), cells[0][1]
        if scale not in kind.scales:
            raise ValueError(f"{r.indicator}: {r.kind} of a {scale}-scale indicator is not linear in its path")
        if kind.combine != "linear" and at is None:
            raise ValueError(f"{r.indicator}: {r.kind} is linearised; pass the point `at`")
        z = C @ at if kind.combine != "linear" else np.zeros(len(years))
        f, grad = _operator(kind.combine, SCALES[scale], z, np.asarray(w, dtype=float))
        v = float(r.value)
        H.append(grad @ C)
        y.append(kind.target(v, scale) - f + grad @ z)
        sd.append(float(r.sd) * kind.slope(v, scale))
    return np.array(H).reshape(-1, n), np.array(y), np.array(sd) ** 2


def _loglik(y, H, r, m, P, mask, xp, cholesky, solve_lower):
    Ht = xp.swapaxes(H, -1, -2)
    S = xp.matmul(xp.matmul(H, P), Ht) + r[..., None, :] * xp.eye(H.shape[-2])
    L = cholesky(S)
    resid = y - xp.matmul(H, m[..., None])[..., 0]
    z = solve_lower(L, resid)
    n = H.shape[-2] if mask is None else mask.sum(axis=-1)
    logdet = xp.log(xp.diagonal(L, axis1=-2, axis2=-1)).sum(axis=-1)
    return -0.5 * (z**2).sum(axis=-1) - logdet - 0.5 * n * LOG2PI


def marginal_loglik(y, H, r, m, P, mask=None):
    r"""Log density of the figures with the paths integrated out (PyTensor).

    :math:`\log \mathcal N(y;\, Hm,\, HPH^\top + \mathrm{diag}\,r)`, by the Cholesky factor of *S*.

    Parameters
    ----------
    y : tensor (..., K)
        Comparison values (:func:`observation_matrix`); zero where padded.
    H : tensor (..., K, N)
        Observation matrix; zero rows where padded.
    r : tensor (..., K)
        Noise variances; one where padded.
    m, P : tensors (..., N), (..., N, N)
        Prior mean and covariance of the stacked path (:func:`path_moments`, :func:`block`).
    mask : array (..., K), optional
        1 for a real figure, 0 for padding (:func:`pad_problems`); a padded figure contributes
        exactly :math:`-\tfrac12\log 2\pi`, which is left out by counting only real figures.

    Returns
    -------
    tensor (...)
        One log density per problem (sum it for a ``pm.Potential``). A non-positive-definite *S*
        gives NaN (rejected by the sampler).
    """
    y, H, r, m, P = (pt.as_tensor_variable(v) for v in (y, H, r, m, P))
    return _loglik(y, H, r, m, P, mask, pt, pt.linalg.cholesky,
                   lambda L, b: pt.linalg.solve_triangular(L, b, lower=True, b_ndim=1))


def marginal_loglik_np(y, H, r, m, P, mask=None):
    """NumPy twin of :func:`marginal_loglik` (same arguments, arrays; raises on a non-positive-definite *S*)."""
    y, H, r, m, P = (np.asarray(v, dtype=float) for v in (y, H, r, m, P))
    return _loglik(y, H, r, m, P, mask, np, np.linalg.cholesky,
                   lambda L, b: np.linalg.solve(L, b[..., None])[..., 0])


def pad_problems(problems: Sequence[tuple], xp=np):
    """Stack problems (y, H, r, m, P) of different sizes into one padded batch.

    Padded figures get a zero row of ``H``, value 0 and unit variance; padded path cells get mean 0,
    zero covariance and a zero column of ``H`` (so they never enter *S*). ``H`` must be a NumPy array
    (its shape sets the padding); ``r``, ``m`` and ``P`` may be tensors (``xp=pytensor.tensor``).

    Returns
    -------
    y, H, r, m, P : arrays with a leading problem axis; mask : ndarray (n_problems, K_max)
    """
    K = max(np.shape(p[1])[0] for p in problems)
    N = max(np.shape(p[1])[1] for p in problems)
    out = []
    for y, H, r, m, P in problems:
        k, n = np.shape(H)
        out.append((xp.pad(y, [(0, K - k)]), xp.pad(H, [(0, K - k), (0, N - n)]),
                    xp.pad(r, [(0, K - k)], constant_values=1.0), xp.pad(m, [(0, N - n)]),
                    xp.pad(P, [(0, N - n)] * 2)))
    mask = np.array([np.arange(K) < np.shape(p[1])[0] for p in problems], dtype=float)
    return (*(xp.stack(parts) for parts in zip(*out)), mask)


def conditional_moments(y, H, r, m, P):
    r"""Mean and covariance of the paths given the figures, :math:`m + K(y-Hm)` and :math:`P - KHP` (NumPy).

    Arguments as :func:`marginal_loglik_np` (without padding); any leading axes broadcast.

    Returns
    -------
    mean : ndarray (..., N)
    cov : ndarray (..., N, N)
    """
    y, H, r, m, P = (np.asarray(v, dtype=float) for v in (y, H, r, m, P))
    HP = H @ P
    S = HP @ np.swapaxes(H, -1, -2) + r[..., None, :] * np.eye(H.shape[-2])
    G = np.linalg.solve(S, HP)  # S⁻¹HP, so K = G' (S and P are symmetric)
    mean = m + (np.swapaxes(G, -1, -2) @ (y - (H @ m[..., None])[..., 0])[..., None])[..., 0]
    cov = P - np.swapaxes(HP, -1, -2) @ G
    return mean, 0.5 * (cov + np.swapaxes(cov, -1, -2))


def conditional_paths(rng: np.random.Generator, y, H, r, m, P, n: int = 1) -> np.ndarray:
    r"""Draws of the paths given the figures, vectorised over posterior draws (NumPy).

    Parameters
    ----------
    rng : numpy.random.Generator
    y, H, r, m, P : arrays
        As :func:`conditional_moments`; a leading axis (posterior draws) gives each draw its own
        parameters (and ``m``, ``P``, ``r``), and broadcasts against the others.
    n : int
        Paths per parameter draw.

    Returns
    -------
    ndarray (..., n, N)
        Exact draws of :math:`x \mid y`. Years after the data (zero columns of ``H``) are
        forecasts; the conditional covariance is factored by its eigendecomposition, so a
        singular one (a path pinned at its anchor, *A* = 0) is fine.
    """
    mean, cov = conditional_moments(y, H, r, m, P)
    w, U = np.linalg.eigh(cov)
    root = U * np.sqrt(np.clip(w, 0.0, None))[..., None, :]
    z = rng.standard_normal((*mean.shape[:-1], n, mean.shape[-1]))
    return mean[..., None, :] + z @ np.swapaxes(root, -1, -2)
