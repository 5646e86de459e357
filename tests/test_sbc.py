"""Simulation-based calibration of the joint model: the rank test rejects miscalibrated posteriors, the
generator simulates the documents the model's likelihood describes, and the fitted ranks are uniform."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import log_ndtr

from model.sbc import rank_uniformity, summarise


def _conjugate_ranks(n_reps: int, n_ranks: int, shift: float = 0.0, scale: float = 1.0, seed: int = 0) -> np.ndarray:
    """Ranks of θ ~ N(0, 1) among draws of its exact posterior N(y/2, 1/2) given y ~ N(θ, 1), or of that
    posterior shifted by ``shift`` sds and with its sd times ``scale`` (a miscalibrated fit)."""
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(n_reps)
    y = theta + rng.standard_normal(n_reps)
    sd = np.sqrt(0.5)
    post = y[:, None] / 2 + shift * sd + scale * sd * rng.standard_normal((n_reps, n_ranks - 1))
    return (post < theta[:, None]).sum(axis=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rank_test_accepts_exact_and_rejects_miscalibrated_posteriors(seed):
    n_reps, n_ranks, bins = 40, 20, 5
    assert rank_uniformity(_conjugate_ranks(n_reps, n_ranks, seed=seed), n_ranks, bins)[1] > 0.05
    for shift, scale in ((1.0, 1.0), (0.0, 0.3), (0.0, 3.0)):  # biased, overconfident, underconfident
        ranks = _conjugate_ranks(n_reps, n_ranks, shift, scale, seed)
        assert rank_uniformity(ranks, n_ranks, bins)[1] < 0.01, (shift, scale)


def test_rank_test_statistic_and_bins():
    chi2, p = rank_uniformity(np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 10, 5)
    assert chi2 == 0 and p == 1
    chi2, p = rank_uniformity(np.array([0] * 8 + [9] * 2), 10, 5)  # bin counts 8, 0, 0, 0, 2
    assert chi2 == pytest.approx(stats.chisquare([8, 0, 0, 0, 2]).statistic)
    with pytest.raises(ValueError):
        rank_uniformity(np.array([0, 1]), 10, 3)


# ---- the generator against the model's marginal likelihood -------------------------------------------------

@pytest.fixture(scope="module")
def design(dataset):
    """The real design (as of 2024-03-31) and one prior draw of the parameters with every noise component
    visible: document multipliers 1/λ = 4 and statements' λ = 0.5, so a generator that forgot one shows."""
    from model.sbc import prior_draws, setup

    s = setup(dataset)
    params = prior_draws(s, 1, seed=3)
    params["lambda_document"] = np.full_like(params["lambda_document"], 0.25)
    params["lambda_signal"] = np.full_like(params["lambda_signal"], 0.5)
    return s, params


def _moments(s, params, b: int, drop_inflate: bool = False):
    """Per group of batch b, the model's mean and covariance of its point figures given ``params``
    (M m, G diag(v) G' + diag(r), indexed the way the model's graph indexes them) and of its censored
    figures (their means, variances and covariances with the point figures)."""
    from model.joint import variances

    V, NV, m_c, inflate, _ = variances(s.st, params, np.random.default_rng(0))
    if drop_inflate:
        inflate = np.ones_like(inflate)
    batch = s.st.batches[b]
    out = []
    for g in range(len(batch.groups)):
        k, c = int(batch.mask[g].sum()), int((batch.sign_c[g] != 0).sum())
        v = V[0, batch.v_idx[g]]
        G, Gc = batch.G[g, :k], batch.Gc[g, :c]
        r = batch.known[g, :k] + batch.wnoise[g, :k] * NV[0, batch.noise_idx[g, :k]] * inflate[0, batch.doc_idx[g, :k]]
        rc = (batch.known_c[g, :c]
              + batch.wnoise_c[g, :c] * NV[0, batch.noise_idx_c[g, :c]] * inflate[0, batch.doc_idx_c[g, :c]])
        out.append(dict(k=k, c=c, mean=batch.M[g, :k] @ m_c[0], S=(G * v) @ G.T + np.diag(r),
                        mean_c=batch.Mc[g, :c] @ m_c[0] - batch.yc[g, :c], var_c=(Gc * v) @ Gc.T + np.diag(rc),
                        cross=(Gc * v) @ G.T))
    return out


def _simulated(s, params, b: int, size: int, seed: int, drop_inflate: bool = False):
    from model.joint import variances
    from model.sbc import simulate_batch

    rng = np.random.default_rng(seed)
    V, NV, m_c, inflate, _ = variances(s.st, params, rng)
    if drop_inflate:
        inflate = np.ones_like(inflate)
    y, sign, _ = simulate_batch(s.st, b, V, NV, m_c, inflate, rng, size=size)
    return y, sign


def _whitened_gap(y: np.ndarray, moments: list[dict]) -> float:
    """Largest deviation, over every group, of the whitened figures L⁻¹(y − mean) from N(0, I): |mean| and
    |covariance − I| entries (about 1/√n each when the simulation has these moments)."""
    worst = 0.0
    for g, m in enumerate(moments):
        if not m["k"]:
            continue
        z = np.linalg.solve(np.linalg.cholesky(m["S"]), (y[:, g, :m["k"]] - m["mean"]).T).T
        worst = max(worst, np.abs(z.mean(axis=0)).max(), np.abs(np.cov(z.T, ddof=0).reshape(m["k"], m["k"])
                                                                - np.eye(m["k"])).max())
    return worst


@pytest.mark.parametrize("b", [0, 1, 2, 3, 4])
def test_simulated_figures_have_the_models_marginal_moments(design, b):
    """Given fixed parameters, the generator's figures of every group of every batch (single indicators,
    plan statements, censored groups, the GDP–deflator–value-added group of 23 figures) have mean M m and
    covariance G diag(v) G' + diag(r): whitened, every mean and covariance entry within 0.12 of N(0, I)'s
    (4000 draws: 5.4 standard errors of a variance, 7.6 of a mean or covariance; the largest of the ~500
    statistics of batch 0 is 0.08); the same check catches a generator without the document multipliers
    (0.59 or more wherever a batch has them)."""
    s, params = design
    n = 4000
    moments = _moments(s, params, b)
    assert _whitened_gap(_simulated(s, params, b, n, seed=10 + b)[0], moments) < 0.12
    batch = s.st.batches[b]
    if (batch.doc_idx >= 0).any() and not batch.Gc.shape[1]:  # multipliers on point figures (batch 1: one level
        # figure per group beside its statement, its variance nearly all the level's: no power there)
        assert _whitened_gap(_simulated(s, params, b, n, seed=10 + b, drop_inflate=True)[0], moments) > 0.3


def test_simulated_censored_directions_follow_the_models_conditional(design):
    """A censored statement's simulated direction is +1 with the probability the model's term gives it given
    the point figures, Φ(gap / sd) (checked over 4000 data sets, pooled per group and against the binned
    probability)."""
    s, params = design
    b = next(i for i, batch in enumerate(s.st.batches) if batch.Gc.shape[1])
    y, sign = _simulated(s, params, b, 4000, seed=21)
    moments = _moments(s, params, b)
    probs, hits = [], []
    for g, m in enumerate(moments):
        if not m["c"]:
            continue
        assert m["c"] == 1  # one statement per group: the model's term is exact
        W = np.linalg.solve(m["S"], m["cross"].T) if m["k"] else np.zeros((0, 1))  # S⁻¹ cov(y, f)
        gap = m["mean_c"][0] + (y[:, g, :m["k"]] - m["mean"]) @ W[:, 0]
        sd = np.sqrt(m["var_c"][0, 0] - m["cross"][0] @ W[:, 0])
        probs.append(stats.norm.cdf(gap / sd))
        hits.append(sign[:, g, 0] > 0)
    probs, hits = np.concatenate(probs), np.concatenate(hits)
    assert abs(hits.mean() - probs.mean()) < 4 * np.sqrt(probs.mean() * (1 - probs.mean()) / len(probs))
    edges = np.quantile(probs, np.linspace(0, 1, 6))
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (probs >= lo) & (probs <= hi)
        assert abs(hits[sel].mean() - probs[sel].mean()) < 4 * np.sqrt(0.25 / sel.sum()) + 1e-9


def test_models_likelihood_is_the_gaussian_the_generator_draws_from(design):
    """The model's own potential of each batch (its PyTensor graph, data in containers) at simulated figures
    equals the Gaussian log density with the generator's moments plus the censored statements' log Φ."""
    import pytensor.tensor as pt
    from pytensor.graph.replace import graph_replace

    from model.joint import data_names
    from model.sbc import simulate_documents

    s, params = design
    rvs = {s.model[name]: pt.as_tensor(params[name][0]) for name in s.names if name != "tau"}
    data, _ = simulate_documents(s, params, np.random.default_rng(5))
    for name, (b, _) in data_names(s.st).items():
        s.model[name].set_value(data[name][0])
    try:
        for b in range(len(s.st.batches)):
            got = graph_replace(s.model.potentials[b], rvs).eval(mode="FAST_COMPILE")
            y = data[f"figures_{b}_y"][0]
            sign = data[f"figures_{b}_sign"][0] if f"figures_{b}_sign" in data else np.zeros((len(y), 0))
            want = 0.0
            for g, m in enumerate(_moments(s, params, b)):
                if m["k"]:
                    want += stats.multivariate_normal(m["mean"], m["S"]).logpdf(y[g, :m["k"]])
                if m["c"]:
                    W = np.linalg.solve(m["S"], m["cross"].T) if m["k"] else np.zeros((0, m["c"]))
                    gap = m["mean_c"] + (y[g, :m["k"]] - m["mean"]) @ W
                    var = np.diag(m["var_c"]) - np.einsum("ck,kc->c", m["cross"], W)
                    want += log_ndtr(sign[g, :m["c"]] * gap / np.sqrt(var)).sum()
            assert float(got) == pytest.approx(want, rel=1e-9, abs=1e-6), b
    finally:
        for name, (b, what) in data_names(s.st).items():
            s.model[name].set_value(getattr(s.st.batches[b], what))


def test_prior_draws_are_the_models_prior(design):
    """The parameters come from the model's own prior: many draws of a class's trend mean have the mean and
    sd build_model gives it, and τ is the model's function of the document-error variables."""
    from model import priors
    from model.joint import _document_error
    from model.sbc import prior_draws

    s, _ = design
    p = prior_draws(s, 4000, seed=8)
    k = s.st.classes.index("output")
    cp = priors.CLASS_PRIORS["output"]
    sd = cp.drift_sd * priors.TREND_MEAN_SPREAD
    assert p["trend_mean"][:, k].mean() == pytest.approx(cp.drift_mean, abs=4 * sd / np.sqrt(4000))
    assert p["trend_mean"][:, k].std() == pytest.approx(sd, rel=0.05)
    np.testing.assert_allclose(p["tau"], _document_error(np, p), rtol=1e-12)


def test_conditioned_structure_holds_the_replications_data(design):
    """The smoother conditions on the replication's figures, not the documents' (a swapped structure)."""
    from model.joint import data_names
    from model.sbc import conditioned, simulate_documents

    s, params = design
    data, _ = simulate_documents(s, params, np.random.default_rng(2))
    one = {k: v[0] for k, v in data.items()}
    st = conditioned(s.st, one)
    for name, (b, what) in data_names(s.st).items():
        np.testing.assert_array_equal(getattr(st.batches[b], what), one[name])
        assert not np.array_equal(getattr(s.st.batches[b], what), one[name]) or not one[name].any()
    assert st.batches[0].G is s.st.batches[0].G


@pytest.mark.slow
def test_ranks_of_the_truth_are_uniform_on_the_real_design():
    """30 replications with short chains on the real design: every quantity's ranks (every class's trend
    mean, spread and volatility; coal output 2025; log nominal GDP 2025) pass the χ² test at a
    Bonferroni-corrected level, p > 0.01 / (number of quantities) (family-wise false alarm ≤ 1%)."""
    from model.sbc import run_sbc

    n_ranks, bins, n_reps = 10, 5, 30
    ranks = run_sbc(n_reps=n_reps, draws=100, tune=150, n_ranks=n_ranks, seed=11)
    assert ranks["rank"].between(0, n_ranks - 1).all()
    summary = summarise(ranks, bins=bins)
    assert {"x[coal_output,2025]", "log nominal gdp 2025", "trend_mean[output]", "sigma_class[price]"} <= set(
        summary["quantity"])
    assert len(summary) == 3 * 18 + 2
    assert (summary["replications"] == n_reps).all()
    assert (summary["p_uniform"] > 0.01 / len(summary)).all(), summary
