"""Exactness of model.marginal: against statsmodels' Kalman smoother, brute-force quadrature and Monte Carlo."""

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
import pytest
import statsmodels.api as sm
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import expit, logit, logsumexp

from model import marginal as mg

SEED = sum(map(ord, "marginal"))
CATALOGUE = pd.read_csv(Path(__file__).parents[1] / "data" / "catalogue.csv", index_col="indicator",
                        dtype=str, keep_default_na=False)
RTOL = 1e-6


def frame(*rows):
    """Figure rows (indicator, year, span_start, kind, value, sd, price_basis)."""
    cols = ["indicator", "year", "span_start", "kind", "value", "sd", "price_basis"]
    return pd.DataFrame([r + ("real",) * (len(cols) - len(r)) for r in rows], columns=cols)


def rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.maximum(np.abs(b), 1e-300)))


# --------------------------------------------------------------------------------------------------
# statsmodels: a random walk with drift observed in levels with noise


T, A0, VAR0, MU, SIGMA, R2 = 9, 0.2, 0.3**2, 0.05, 0.1, 0.05**2


def level_series(seed=SEED):
    rng = np.random.default_rng(seed)
    return A0 + np.concatenate([[0.0], np.cumsum(rng.normal(MU, SIGMA, T - 1))]) + rng.normal(0.0, np.sqrt(R2), T)


def statsmodels_smooth(y, a=A0, A=VAR0, mu=MU, sigma=SIGMA, r2=R2):
    """Level + deterministic trend (the drift, a known constant state) + irregular, known initial state."""
    mod = sm.tsa.UnobservedComponents(y, irregular=True, level=True, stochastic_level=True,
                                      trend=True, stochastic_trend=False)
    mod.ssm.initialize_known(np.array([a, mu]), np.diag([A, 0.0]))
    mod.ssm.loglikelihood_burn = 0  # the initial state is known: every observation counts
    mod.ssm.tolerance = 0.0  # no steady-state shortcut (it alone moves the smoothed covariance by ~1e-7)
    return mod.smooth([r2, sigma**2])


def statsmodels_level_cov(res):
    """Full smoothed covariance of the level over time, from statsmodels' lag-j autocovariances."""
    n = res.smoothed_state.shape[1]
    cov = np.diag(res.smoothed_state_cov[0, 0])
    for j in range(1, n):
        lag = res.smoother_results.smoothed_state_autocovariance(lag=j)[0, 0, j:]  # Cov(x_t, x_{t-j})
        cov += np.diag(lag, -j) + np.diag(lag, j)
    return cov


def ours(y, a=A0, A=VAR0, mu=MU, sigma=SIGMA, r2=R2):
    """(y, H, r, m, P) of the same model: levels only, missing years (NaN) not in H."""
    rows = frame(*[("gdp", 2010 + t, np.nan, "level", np.exp(v), np.sqrt(r2) * np.exp(v)) for t, v in enumerate(y)])
    H, yy, r = mg.observation_matrix(rows, {"gdp": np.arange(2010, 2010 + len(y))}, CATALOGUE)
    m, P = mg.path_moments(a, A, np.full(len(y) - 1, mu), sigma)
    return yy, H, r, m, P


MISSING = {"complete": [], "one gap": [3], "first and last two": [0, 7, 8], "mostly missing": [1, 2, 3, 5, 6, 7]}


@pytest.mark.parametrize("missing", MISSING.values(), ids=MISSING.keys())
def test_loglik_and_smoothed_moments_equal_statsmodels(missing):
    y = level_series()
    y[missing] = np.nan
    res = statsmodels_smooth(y)
    yy, H, r, m, P = ours(y)
    assert H.shape == (T - len(missing), T) and np.all(H.sum(axis=0)[missing] == 0)
    assert rel(mg.marginal_loglik_np(yy, H, r, m, P), res.llf) <= RTOL
    mean, cov = mg.conditional_moments(yy, H, r, m, P)
    ref = statsmodels_level_cov(res)
    assert rel(mean, res.smoothed_state[0]) <= RTOL
    assert np.max(np.abs(cov - ref)) <= RTOL * np.max(np.abs(ref))


def test_conditional_draws_match_statsmodels_per_posterior_draw():
    """Three parameter draws, each with its own (m, P, r): the draws of each, whitened by statsmodels'
    smoothed moments of that draw, are standard normal within Monte Carlo error (a wrong covariance,
    e.g. the prior's or another draw's, fails by tens of standard errors)."""
    y = level_series()
    y[[2, 5]] = np.nan
    params = [dict(sigma=0.1, r2=0.05**2), dict(sigma=0.2, r2=0.02**2), dict(sigma=0.05, r2=0.1**2, mu=0.0)]
    problems = [ours(y, **p) for p in params]
    yy, H, r, m, P = (np.stack(parts) for parts in zip(*problems))
    n = 20_000
    draws = mg.conditional_paths(np.random.default_rng(SEED), yy, H, r, m, P, n=n)
    assert draws.shape == (3, n, T)
    for d, p in zip(draws, params):
        res = statsmodels_smooth(y, **p)
        L = np.linalg.cholesky(statsmodels_level_cov(res))
        z = np.linalg.solve(L, (d - res.smoothed_state[0]).T).T
        assert np.max(np.abs(z.mean(axis=0))) < 5 / np.sqrt(n)
        assert np.max(np.abs(np.cov(z.T) - np.eye(T))) < 5 * np.sqrt(2 / n)


# --------------------------------------------------------------------------------------------------
# brute force: tensor-product Gauss–Hermite quadrature over the paths' standard-normal innovations


def walk(z, a, A, drifts, sigma, lam, anchor):
    """Paths (M, T) from standard normals z (M, T) by the model's recursion (z[:, 0] moves the anchor)."""
    scale = sigma / np.sqrt(np.ones(len(drifts)) if lam is None else np.asarray(lam))
    x = np.empty(z.shape)
    x[:, anchor] = a + np.sqrt(A) * z[:, 0]
    for t in range(anchor + 1, z.shape[1]):
        x[:, t] = x[:, t - 1] + drifts[t - 1] + scale[t - 1] * z[:, t - anchor]
    for t in range(anchor - 1, -1, -1):
        x[:, t] = x[:, t + 1] - drifts[t] - scale[t] * z[:, z.shape[1] - anchor + t]
    return x


def brute_force(paths_of, n_inputs, figures, n_nodes):
    """log ∫ Π_k N(T_k(v_k); T_k(f_k(x)), (s_k T_k'(v_k))²) dprior over ``n_inputs`` standard normals.

    ``figures``: (f on the printed scale, comparison transform T, its derivative T', printed value, printed sd).
    """
    nodes, weights = hermegauss(n_nodes)
    logw = np.log(weights / np.sqrt(2 * np.pi))
    z = np.array(list(itertools.product(nodes, repeat=n_inputs)))
    lw = np.array([sum(c) for c in itertools.product(logw, repeat=n_inputs)])
    x = paths_of(z)
    for f, tr, dtr, v, s in figures:
        sd = s * abs(dtr(v))
        lw = lw - 0.5 * ((tr(v) - tr(f(x))) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)
    return logsumexp(lw)


log1p_pct = (lambda g: np.log1p(g / 100), lambda g: 1 / (100 + g))
log_ = (np.log, lambda v: 1 / v)
logit_pct = (lambda v: logit(v / 100), lambda v: 100 / (v * (100 - v)))

# GDP 2019–21 and SEI value added 2021 (its ratio to GDP): level, yoy, average growth and a share
MIXED_PATHS = {"gdp": np.arange(2019, 2022), "sei_va": np.array([2021])}
MIXED_ROWS = frame(("gdp", 2019, np.nan, "level", 2010.0, 100.0),
                   ("gdp", 2021, np.nan, "level", 2280.0, 80.0),
                   ("gdp", 2021, np.nan, "yoy_growth", 6.5, 3.0),
                   ("gdp", 2021, 2020, "avg_growth", 6.0, 2.4),
                   ("sei_share_gdp", 2021, np.nan, "share", 9.5, 0.8))
MIXED_FIGURES = [(lambda x: np.exp(x[:, 0]), *log_, 2010.0, 100.0),
                 (lambda x: np.exp(x[:, 2]), *log_, 2280.0, 80.0),
                 (lambda x: 100 * np.expm1(x[:, 2] - x[:, 1]), *log1p_pct, 6.5, 3.0),
                 (lambda x: 100 * np.expm1((x[:, 2] - x[:, 0]) / 2), *log1p_pct, 6.0, 2.4),
                 (lambda x: 100 * np.exp(x[:, 3] - x[:, 2]), *log_, 9.5, 0.8)]
GDP = dict(a=np.log(2000.0), A=0.03**2, drifts=np.array([0.06, 0.05]), sigma=0.03)
SEI = dict(a=np.log(215.0), A=0.05**2, drifts=np.array([]), sigma=0.1)
STUDENT = {"normal": (None, 0), "student-t weights": ([0.5, 2.0], 0), "student-t, anchored 2021": ([0.5, 2.0], 2)}


def mixed_problem(lam, anchor, xp=np):
    m, P = mg.block([mg.path_moments(**GDP, lam=lam, anchor=anchor, xp=xp), mg.path_moments(**SEI, xp=xp)], xp=xp)
    H, y, r = mg.observation_matrix(MIXED_ROWS, MIXED_PATHS, CATALOGUE)
    return y, H, r, m, P


@pytest.mark.parametrize("lam, anchor", STUDENT.values(), ids=STUDENT.keys())
def test_mixed_group_equals_brute_force(lam, anchor):
    def paths_of(z):
        gdp = walk(z[:, :3], **GDP, lam=lam, anchor=anchor)
        return np.column_stack([gdp, SEI["a"] + np.sqrt(SEI["A"]) * z[:, 3]])

    exact = mg.marginal_loglik_np(*mixed_problem(lam, anchor))
    quad = brute_force(paths_of, 4, MIXED_FIGURES, 36)
    assert rel(brute_force(paths_of, 4, MIXED_FIGURES, 28), quad) < 0.1 * RTOL  # the quadrature has converged
    assert rel(exact, quad) <= RTOL


# real GDP 2020–21, the deflator (pinned at 2020: A = 0, Student-t step) and a logit share (urbanization)
NOMINAL_PATHS = {"gdp": np.array([2020, 2021]), "gdp_deflator": np.array([2020, 2021]),
                 "urbanization_rate": np.array([2021])}
NOMINAL_ROWS = frame(("gdp", 2020, np.nan, "level", 2300.0, 100.0, "nominal"),
                     ("gdp", 2021, np.nan, "level", 2580.0, 100.0, "nominal"),
                     ("gdp", 2021, np.nan, "yoy_growth", 5.5, 2.0, "real"),
                     ("gdp", 2021, np.nan, "yoy_growth", 12.0, 3.0, "nominal"),
                     ("urbanization_rate", 2021, np.nan, "share", 57.0, 2.0))
NOMINAL_FIGURES = [(lambda x: np.exp(x[:, 0] + x[:, 2]), *log_, 2300.0, 100.0),
                   (lambda x: np.exp(x[:, 1] + x[:, 3]), *log_, 2580.0, 100.0),
                   (lambda x: 100 * np.expm1(x[:, 1] - x[:, 0]), *log1p_pct, 5.5, 2.0),
                   (lambda x: 100 * np.expm1(x[:, 1] + x[:, 3] - x[:, 0] - x[:, 2]), *log1p_pct, 12.0, 3.0),
                   (lambda x: 100 * expit(x[:, 4]), *logit_pct, 57.0, 2.0)]
REAL = dict(a=np.log(2300.0), A=0.03**2, drifts=np.array([0.05]), sigma=0.03)
DEFL = dict(a=0.0, A=0.0, drifts=np.array([0.03]), sigma=0.03, lam=[0.5])
URB = dict(a=logit(0.56), A=0.08**2, drifts=np.array([]), sigma=0.01)


def nominal_problem(xp=np):
    parts = [mg.path_moments(**REAL, xp=xp), mg.path_moments(**DEFL, xp=xp), mg.path_moments(**URB, xp=xp)]
    m, P = mg.block(parts, xp=xp)
    H, y, r = mg.observation_matrix(NOMINAL_ROWS, NOMINAL_PATHS, CATALOGUE)
    return y, H, r, m, P


def test_nominal_deflator_and_logit_share_equal_brute_force():
    def paths_of(z):
        real = walk(z[:, :2], **REAL, lam=None, anchor=0)
        defl = walk(np.column_stack([np.zeros(len(z)), z[:, 2]]), **DEFL, anchor=0)  # A = 0: one input
        return np.column_stack([real, defl, URB["a"] + np.sqrt(URB["A"]) * z[:, 3]])

    exact = mg.marginal_loglik_np(*nominal_problem())
    quad = brute_force(paths_of, 4, NOMINAL_FIGURES, 36)
    assert rel(brute_force(paths_of, 4, NOMINAL_FIGURES, 28), quad) < 0.1 * RTOL  # the quadrature has converged
    assert rel(exact, quad) <= RTOL


# --------------------------------------------------------------------------------------------------
# PyTensor: agreement, batching with padding, gradients


def test_pytensor_padded_batch_equals_numpy_problems():
    y = level_series()
    y[[1, 4]] = np.nan
    problems = [mixed_problem([0.3, 2.5], 1), nominal_problem(), ours(y)]
    singles = np.array([mg.marginal_loglik_np(*p) for p in problems])
    assert len({p[1].shape for p in problems}) == 3  # three sizes: padding in both figures and cells
    batch = mg.pad_problems(problems, xp=pt)
    batched = mg.marginal_loglik(*batch).eval()
    np.testing.assert_allclose(batched, singles, rtol=1e-12)
    np.testing.assert_allclose(mg.marginal_loglik_np(*mg.pad_problems(problems)), singles, rtol=1e-12)
    np.testing.assert_allclose(mg.marginal_loglik(*problems[0]).eval(), singles[0], rtol=1e-12)


def test_gradient_wrt_sigma_and_drift_matches_finite_difference():
    sigma = pt.dscalar("sigma")
    drifts = pt.dvector("drifts", shape=(2,))
    lam = pt.dvector("lam", shape=(2,))

    def problem(s, d, lm, xp):
        parts = [mg.path_moments(GDP["a"], GDP["A"], d, s, lm, anchor=1, xp=xp), mg.path_moments(**SEI, xp=xp)]
        m, P = mg.block(parts, xp=xp)
        H, y, r = mg.observation_matrix(MIXED_ROWS, MIXED_PATHS, CATALOGUE)
        return y, H, r, m, P

    logp = mg.marginal_loglik(*problem(sigma, drifts, lam, pt))
    grad = pytensor.function([sigma, drifts, lam], pytensor.grad(logp, [sigma, drifts, lam]))
    at = (0.04, np.array([0.06, 0.03]), np.array([0.5, 2.0]))
    g_sigma, g_drift, g_lam = grad(*at)

    def fd(i, j=None, h=1e-6):
        def f(sign):
            args = [np.array(a, dtype=float) for a in at]
            if j is None:
                args[i] = args[i] + sign * h
            else:
                args[i][j] += sign * h
            return mg.marginal_loglik_np(*problem(*args, np))
        return (f(1) - f(-1)) / (2 * h)

    assert rel(g_sigma, fd(0)) < 1e-6
    assert rel(g_drift, [fd(1, 0), fd(1, 1)]) < 1e-6
    assert rel(g_lam, [fd(2, 0), fd(2, 1)]) < 1e-6


# --------------------------------------------------------------------------------------------------
# linearised operators: error bounds of the module docstring on realistic values


def test_pp_change_of_a_logit_share_within_bound():
    """Share 50% in 2020 → 54.9% in 2025 (pp change 4.9 over 2021–25), path sd 0.1 logit at both ends."""
    paths = {"urbanization_rate": np.arange(2020, 2026)}
    at = logit(np.linspace(0.50, 0.549, 6))
    rows = frame(("urbanization_rate", 2025, 2021, "pp_change", 4.9, 0.3))
    H, y, r = mg.observation_matrix(rows, paths, CATALOGUE, at=at)
    cov = 0.1**2 * np.array([[1.0, 0.5], [0.5, 1.0]])  # (x_2020, x_2025)
    ends = at[[0, 5]]
    x = np.random.default_rng(SEED).multivariate_normal(ends, cov, 200_000)
    full = np.zeros((len(x), 6))
    full[:, [0, 5]] = x
    exact = 100 * (expit(x[:, 1]) - expit(x[:, 0]))
    linear = 4.9 - y[0] + full @ H[0]
    d2 = ((x - ends) ** 2).sum(axis=1)
    err = exact - linear
    assert np.all(np.abs(err) <= 100 / (12 * np.sqrt(3)) * d2)
    inside = np.all((expit(x) > 0.4) & (expit(x) < 0.6), axis=1)
    assert np.all(np.abs(err[inside]) <= 2.5 * d2[inside])
    assert np.sqrt(np.mean(err**2)) < 0.05  # vs noise sd 0.3 pp
    assert np.sqrt(H[0, [0, 5]] @ cov @ H[0, [0, 5]]) > 1.0  # not trivial: the path moves the figure by > 1 pp
    # the log-likelihood of a figure: exact (2-D quadrature over the ends) vs linearised Gaussian
    nodes, w = hermegauss(80)
    xe = ends + np.array(list(itertools.product(nodes, repeat=2))) @ np.linalg.cholesky(cov).T
    we = np.prod(np.array(list(itertools.product(w, repeat=2))), axis=1) / (2 * np.pi)
    f = 100 * (expit(xe[:, 1]) - expit(xe[:, 0]))
    for v in (3.0, 4.9, 7.0):
        exact_ll = np.log(np.sum(we * np.exp(-0.5 * ((v - f) / 0.3) ** 2))) - np.log(0.3 * np.sqrt(2 * np.pi))
        H, y, r = mg.observation_matrix(rows.assign(value=v), paths, CATALOGUE, at=at)
        assert abs(exact_ll - mg.marginal_loglik_np(y, H[:, [0, 5]], r, ends, cov)) < 0.01


def test_cumulative_total_of_levels_within_bound():
    """Five yearly levels 2021–25 after a known 2020 level, 10% yearly volatility, linearised at the mean path."""
    paths = {"gdp": np.arange(2020, 2026)}
    m, P = mg.path_moments(np.log(2000.0), 0.0, np.full(5, 0.06), 0.10)
    total = np.exp(m[1:]).sum()
    rows = frame(("gdp", 2025, 2021, "cumulative", total * 1.03, 0.02 * total))
    H, y, r = mg.observation_matrix(rows, paths, CATALOGUE, at=m)
    x = np.random.default_rng(SEED).multivariate_normal(m, P, 400_000)
    exact = logsumexp(x[:, 1:], axis=1)
    linear = np.log(total * 1.03) - y[0] + x @ H[0]
    delta = x[:, 1:] - m[1:]
    err = exact - linear
    assert np.all(err >= -1e-12)
    assert np.all(err <= np.ptp(delta, axis=1) ** 2 / 8 + 1e-12)
    assert np.mean(err) < 0.01  # log points: under 1% of the total
    # the log-likelihood of the figure: Monte Carlo over the paths vs the linearised Gaussian
    sd = np.sqrt(r[0])
    exact_ll = logsumexp(-0.5 * ((np.log(total * 1.03) - exact) / sd) ** 2) - np.log(len(x) * sd * np.sqrt(2 * np.pi))
    linear_ll = mg.marginal_loglik_np(y, H, r, m, P)
    assert abs(exact_ll - linear_ll) < 0.02  # Monte Carlo standard error 0.003


# --------------------------------------------------------------------------------------------------
# what is refused


@pytest.mark.parametrize("row, paths, message", [
    (("urbanization_rate", 2021, np.nan, "yoy_growth", 1.0, 0.1), {"urbanization_rate": [2020, 2021]}, "not linear"),
    (("gdp", 2019, np.nan, "level", 100.0, 1.0), {"gdp": [2020, 2021]}, "outside"),
    (("gdp", 2021, np.nan, "cumulative", 100.0, 1.0), {"gdp": [2020, 2021]}, "linearised"),
], ids=["growth of a logit share", "year outside the paths", "nonlinear without a point"])
def test_observation_matrix_refuses(row, paths, message):
    with pytest.raises(ValueError, match=message):
        mg.observation_matrix(frame(row), {k: np.array(v) for k, v in paths.items()}, CATALOGUE)


def test_censored_statement_refused():
    rows = frame(("gdp", 2021, np.nan, "yoy_growth", 8.0, 0.5)).assign(comparator=">")
    with pytest.raises(ValueError, match="not a Gaussian"):
        mg.observation_matrix(rows, {"gdp": np.array([2020, 2021])}, CATALOGUE)
