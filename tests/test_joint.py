"""The joint engine (model/joint.py): its group likelihood against scipy, statsmodels' Kalman filter and an
independent simulation of the random walk, and its simulation smoother against the closed-form conditional of
model/marginal.py."""

import dataclasses

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import stats
from statsmodels.tsa.statespace.mlemodel import MLEModel

from model import joint
from model.fit import FitSettings, _identify
from model.growth import plan_period
from model.marginal import conditional_moments


@pytest.fixture(scope="module")
def structure(dataset):
    layout, obs, signals, *_ = _identify(dataset, FitSettings(as_of="2024-03-31"))
    return joint.build_structure(layout, obs, signals)


def _params(st, rng):
    """A parameter draw (one row) with every name the smoother reads, away from the prior's centre."""
    n_cls, n_inf = len(st.classes), int(st.informed.sum())
    heavy = int((st.informed & (st.nu > 0)).sum())
    T = st.layout.n_years
    p = {"trend_mean": rng.normal(0.02, 0.02, (1, n_cls)), "trend_spread": rng.uniform(0.02, 0.1, (1, n_cls)),
         "sigma_class": rng.uniform(0.02, 0.2, (1, n_cls)), "vol_spread": np.array([0.3]),
         "period_shift": np.array([0.7]), "z_sigma": rng.normal(size=(1, n_inf)),
         "lambda_trend": rng.gamma(1.5, 1 / 1.5, (1, n_inf)), "lambda_step": rng.gamma(2, 0.5, (1, heavy, T - 1)),
         "tau": rng.uniform(0.01, 0.5, (1, len(joint.FAMILIES))),
         "lambda_signal": rng.gamma(1.5, 1 / 1.5, (1, len(st.signals))),
         "lambda_document": rng.gamma(2, 0.5, (1, st.n_doc))}
    return p


def _variances(st, p):
    n_base, T = len(st.layout.base), st.layout.n_years
    inf = np.flatnonzero(st.informed)
    z, lam = np.zeros((1, n_base)), np.ones((1, n_base))
    z[:, inf], lam[:, inf] = p["z_sigma"], p["lambda_trend"]
    steps = np.ones((1, n_base, T - 1))
    steps[:, np.flatnonzero(st.informed & (st.nu > 0))] = p["lambda_step"]
    sigma = p["sigma_class"][:, st.cls_of] * np.exp(p["vol_spread"][:, None] * z)
    V = joint._flat_variances(st, np, p["trend_spread"], sigma, lam, steps, p["period_shift"])
    NV = joint._noise_variances(st, np, p["tau"], p["trend_spread"], p["lambda_signal"])
    inflate = np.concatenate([1 / p["lambda_document"], np.ones((1, 1))], axis=1)
    return V, NV, inflate


def _group(b, g, V, NV, inflate, m):
    K, U = int(b.mask[g].sum()), int((b.v_idx[g] >= 0).sum())
    v = V[0, b.v_idx[g, :U]]
    G = b.G[g, :K, :U]
    r = b.known[g, :K] + b.wnoise[g, :K] * NV[0, b.noise_idx[g, :K]] * inflate[0, b.doc_idx[g, :K]]
    return G, v, r, b.y[g, :K] - b.M[g, :K] @ m


def test_batch_likelihood_equals_scipy_multivariate_normal(structure):
    """Every batch's PyTensor log-likelihood (groups without censored statements) equals the sum over its groups
    of scipy's multivariate normal log density with S = G diag(v) G' + diag(r)."""
    st, rng = structure, np.random.default_rng(3)
    p = _params(st, rng)
    V, NV, inflate = _variances(st, p)
    for b in st.batches:
        if b.Gc.shape[1]:
            continue
        got = pytensor.function([], joint._batch_loglik(b, pt.as_tensor(V[0]), pt.as_tensor(NV[0]),
                                                        pt.as_tensor(p["trend_mean"][0]), pt.as_tensor(inflate[0])))()
        want = 0.0
        for g in range(len(b.groups)):
            G, v, r, resid = _group(b, g, V, NV, inflate, p["trend_mean"][0])
            want += stats.multivariate_normal(np.zeros(len(r)), G @ np.diag(v) @ G.T + np.diag(r)).logpdf(resid)
        assert got == pytest.approx(want, rel=1e-9)


def test_group_moments_match_an_independent_simulation_of_the_random_walk(structure):
    """For GDP's group (levels, growth rates, average growth, ratios to GDP, nominal = real + deflator, plan
    statements), the figures simulated by stepping the random walk year by year (drift, period shifts, steps;
    no use of B) have the mean Hc and covariance G diag(v) G' of the model."""
    st, rng = structure, np.random.default_rng(5)
    p = _params(st, rng)
    V, NV, inflate = _variances(st, p)
    big = next(b for b in st.batches if len(b.groups) == 1 and len(b.groups[0]) > 3)
    grp = big.groups[0]
    G, v, _, _ = _group(big, 0, V, NV, inflate, p["trend_mean"][0])
    T, P, n = st.layout.n_years, len(st.periods), 200_000
    thetas = []
    for j in grp:
        vj = V[0, joint._v_index(j, len(st.layout.base), T, P)]
        a = rng.normal(0, np.sqrt(vj[0]), n)
        mu = st.scale[j] * p["trend_mean"][0, st.cls_of[j]] + rng.normal(0, np.sqrt(vj[1]), n)
        delta = rng.normal(0, 1, (n, P)) * np.sqrt(vj[2:2 + P])
        eps = rng.normal(0, 1, (n, T - 1)) * np.sqrt(vj[2 + P:])
        step = mu[:, None] + delta[:, st.step_period] + eps          # step into year t = 1..T-1
        k = st.anchor_col[j]
        x = np.zeros((n, T))
        x[:, k] = st.anchor_mean[j] + a
        for t in range(k + 1, T):
            x[:, t] = x[:, t - 1] + step[:, t - 1]
        for t in range(k - 1, -1, -1):
            x[:, t] = x[:, t + 1] - step[:, t]
        thetas.append(np.concatenate([x, mu[:, None], delta], axis=1))
    theta = np.concatenate(thetas, axis=1)
    H = np.zeros((G.shape[0], theta.shape[1]))
    # recover H from the stored G = H B (B has full row rank on θ's coordinates): H = G B⁺
    B = np.zeros((theta.shape[1], G.shape[1]))
    S, U = st.n_state, st.n_u
    for i, j in enumerate(grp):
        B[i * S:(i + 1) * S, i * U:(i + 1) * U] = st.B()[j]
    H = G @ np.linalg.pinv(B)
    sim = theta @ H.T
    cov = np.cov(sim, rowvar=False)
    model_cov = G @ np.diag(v) @ G.T
    scale = np.sqrt(np.outer(np.diag(model_cov), np.diag(model_cov))) + 1e-12
    assert np.max(np.abs(cov - model_cov) / scale) < 0.02


def test_smoother_mean_is_the_closed_form_conditional(structure):
    """Draws of a group's variates given its figures (Matheron's rule) have the conditional mean of
    model.marginal.conditional_moments."""
    st, rng = structure, np.random.default_rng(7)
    p = _params(st, rng)
    V, NV, inflate = _variances(st, p)
    b = next(b for b in st.batches if b.Gc.shape[1] == 0 and b.mask.sum(axis=1).max() >= 3)
    g = int(np.argmax(b.mask.sum(axis=1)))
    G, v, r, resid = _group(b, g, V, NV, inflate, p["trend_mean"][0])
    n = 40_000
    rep = lambda a: np.repeat(a, n, axis=0)
    draws = joint._condition(b, g, rep(V), rep(NV), rep(p["trend_mean"]), rep(inflate), rng)
    mean, cov = conditional_moments(resid, G, r, np.zeros(len(v)), np.diag(v))
    U = len(v)
    sd = np.sqrt(np.clip(np.diag(cov), 1e-18, None))
    assert np.all(np.abs(draws[:, :U].mean(axis=0) - mean) <= 5 * sd / np.sqrt(n) + 1e-9)
    assert np.allclose(draws[:, :U].std(axis=0), sd, rtol=0.03, atol=1e-9)


def test_no_data_indicator_is_not_sampled(structure):
    """Indicators whose figures reach only their anchor (one exact level) have no NUTS parameters of their own;
    a growth rate reaches the trend and volatility."""
    st = structure
    f = st.figures
    counts = f.groupby("indicator").size()
    lone = [i for i in counts[counts == 1].index if i in st.layout.base
            and f.loc[f["indicator"] == i, "kind"].isin(["level", "count", "share"]).all()
            and f.loc[f["indicator"] == i, "comparator"].isin(["=", "about"]).all()
            and i not in set(st.signals["indicator"])]
    assert lone and not any(st.informed[st.layout.base.index(i)] for i in lone)
    growth = f.loc[f["kind"] == "yoy_growth", "indicator"]
    assert any(st.informed[st.layout.base.index(i)] for i in growth if i in st.layout.base)


def test_single_indicator_loglik_equals_statsmodels_kalman_filter(structure):
    """For lone indicators with only exact level figures (log scale, k = 1, normal steps, >= 3 figures), the joint
    engine's group log-likelihood (scipy on G diag(v) G' + diag(r), and _batch_loglik on that group alone) equals
    statsmodels' Kalman filter on a state space built here from the module docstring: state (x_t, u^mu, delta_p)
    from the anchor year, x_t = x_{t-1} + u^mu + delta_{p(t)} + eps_t, a level figure reads x_t, a plan statement
    reads u^mu + delta_p. Only the figures' noise variances r are the model's; no use of V, G or B. Plan statements
    are kept (every such indicator with >= 3 figures has one): they are Gaussian rows of the same state space."""
    st, lay, f = structure, structure.layout, structure.figures
    inf, P = list(np.flatnonzero(st.informed)), len(st.periods)
    chosen = []
    for b in st.batches:
        for g, grp in enumerate(b.groups):
            name = lay.base[grp[0]]
            rows, sig = f[f["indicator"] == name], st.signals[st.signals["indicator"] == name]
            if (len(grp) == 1 and lay.transform(name) == "log" and st.scale[grp[0]] == 1 and st.nu[grp[0]] == 0
                    and len(rows) >= 3 and rows["kind"].isin(["level", "count", "share"]).all()
                    and rows["comparator"].isin(["=", "about"]).all() and not (b.sign_c[g] != 0).any()
                    and b.mask[g].sum() == len(rows) + len(sig)):  # no other rows: figures, then statements
                rows_g = {k: v[g:g + 1] for k, v in vars(b).items() if k != "groups"}
                one = dataclasses.replace(b, groups=[grp], **rows_g)
                ins = [pt.dvector() for _ in range(4)]
                chosen.append((b, g, grp[0], rows, sig, pytensor.function(ins, joint._batch_loglik(one, *ins))))
    assert chosen
    for seed in (1, 2, 3):
        p = _params(st, np.random.default_rng(seed))
        V, NV, inflate = _variances(st, p)
        m = p["trend_mean"][0]
        for b, g, j, rows, sig, batch_loglik in chosen:
            G, v, r, resid = _group(b, g, V, NV, inflate, m)
            c, i, k0 = st.cls_of[j], inf.index(j), int(lay.years[st.anchor_col[j]])
            t_fig = rows["year"].to_numpy(int) - k0  # the anchor is the first level: earlier years carry no figure
            assert t_fig.min() == 0 and np.isin(sig["period"].to_numpy(int), st.periods).all()
            # deviations from the prior mean: x_t = a + (t - k) m_c, a statement's trend m_c
            assert np.allclose(resid, np.r_[np.log(rows["value"].to_numpy(float)) - st.anchor_mean[j] - t_fig * m[c],
                                            sig["drift"].to_numpy(float) - m[c]], rtol=0, atol=1e-12)
            s2, rho = p["trend_spread"][0, c] ** 2, p["period_shift"][0]
            sigma = p["sigma_class"][0, c] * np.exp(p["vol_spread"][0] * p["z_sigma"][0, i])
            prior = np.diag(np.r_[st.anchor_var[j], s2 / p["lambda_trend"][0, i], np.full(P, rho**2 * s2)])
            n = lay.n_years - int(st.anchor_col[j])
            when = np.r_[t_fig, np.zeros(len(sig), int)]  # a statement reads constant states: any time will do
            H = np.zeros((len(r), 2 + P))
            H[:len(rows), 0] = 1.0
            H[len(rows):, 1] = 1.0
            H[np.arange(len(rows), len(r)), 2 + np.searchsorted(st.periods, sig["period"].to_numpy(int))] = 1.0
            K = np.bincount(when).max()  # two documents' figures of one year: two observations of x_t
            endog, design, obs_cov = np.full((n, K), np.nan), np.zeros((K, 2 + P, n)), np.zeros((K, K, n))
            for q, t in enumerate(when):
                s = int((when[:q] == t).sum())
                endog[t, s], design[s, :, t], obs_cov[s, s, t] = resid[q], H[q], r[q]
            trans = np.repeat(np.eye(2 + P)[:, :, None], n, axis=2)
            for t in range(n - 1):  # the step into year k0 + t + 1, in that year's plan period
                trans[0, [1, 2 + np.searchsorted(st.periods, plan_period(k0 + t + 1))], t] = 1.0
            mod = MLEModel(endog, k_states=2 + P, k_posdef=1)
            mod["design"], mod["obs_cov"], mod["transition"] = design, obs_cov, trans
            mod["selection"], mod["state_cov"] = np.eye(2 + P)[:, :1], [[sigma**2]]
            mod.ssm.initialize_known(np.zeros(2 + P), prior)
            mod.ssm.loglikelihood_burn, mod.ssm.tolerance = 0, 0.0
            kalman = mod.ssm.loglike()
            scipy_ll = stats.multivariate_normal(np.zeros(len(r)), G @ np.diag(v) @ G.T + np.diag(r)).logpdf(resid)
            engine = batch_loglik(V[0], NV[0], m, inflate[0])
            assert scipy_ll == pytest.approx(kalman, rel=1e-6)
            assert engine == pytest.approx(kalman, rel=1e-6)
