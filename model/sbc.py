r"""Simulation-based calibration (Talts et al. 2018) of the joint model that writes the table.

**What is simulated.** The design is the real one: :func:`model.joint.build_structure` on the documents as of
:data:`AS_OF` (every indicator, every operator kind, ratio links, the deflator, the plans' statements of period
trends, censored statements), so the groups, their observation maps *G*, *M*, the known noise, the families
of the document errors, the linearisation points and the level anchors are those of the production fit. Only
the figures' values change. Replication *r*:

1. parameters :math:`\phi^{(r)}` from the model's own prior: :func:`pymc.draw` of the free variables (and τ)
   of :func:`model.joint.build_model`, so the prior is the model's by construction; the indicators the model
   leaves out (no figure informs their z, λ) get theirs from the prior in :func:`model.joint.variances`, as
   :func:`model.joint.smooth` does;
2. every base indicator's variates :math:`u_i \sim \mathcal N(0, \mathrm{diag}\,v_i(\phi))` (positions by
   :func:`model.joint._v_index`), its state :math:`\theta_i = c_i(\phi) + B_i u_i`;
3. per group, every point figure and plan statement :math:`y = M m + G u + e`,
   :math:`e \sim \mathcal N(0, \mathrm{diag}\, r)`, :math:`r = \text{known} + w\,\nu_{f}\,/\lambda^{doc}_g`
   (document error of the family or the statement's planner noise, times the group's document multiplier);
4. per censored statement the figure :math:`f = M_c m + G_c u + e_c` the same way, and its direction
   ``sign_c`` = +1 if *f* is above the printed threshold, −1 if below (the threshold stays the document's);
5. the truth of the recorded quantities: the state to the last fitted year, extended to :data:`HORIZON` by
   the model's own dynamics, :math:`x_t = x_{t-1} + \mu_{p(t)} + \varepsilon_t`,
   :math:`\varepsilon_t \sim \mathcal N(0, k^2\sigma_i^2/\lambda_t)` with :math:`\lambda_t \sim \Gamma(\nu/2,
   \nu/2)` for fat-tailed classes (a Student-*t* step), :math:`\mu_{p}` the true trend of the period.

The same model, built once with its data in containers (``build_model(st, data=True)``) and compiled once
by nutpie, is conditioned on each replication's values (``compiled.with_data``) and sampled with the fit's
NUTS settings (:func:`model.fit.fit`: target accept, low-rank mass matrix; fewer draws, one chain). The
posterior quantities go through the production path: *L* = ``n_ranks`` − 1 draws thinned evenly from the
chain, their paths by :func:`model.joint.smooth`, extended to the horizon by :func:`model.simulate.simulate`.
The rank of the truth,

.. math::

    \mathrm{rank}_r = \#\{\ell : \theta^{(r)}_\ell < \theta^{(r)}\} \in \{0, \dots, L\},

is uniform on :math:`\{0, \dots, L\}` if the draws are the posterior of the model that generated the data; a
∪-shaped histogram means overconfident posteriors, ∩-shaped underconfident, a slope bias. Uniformity is
tested per quantity with a χ² test on equal-width rank bins.

**Quantities.** Every class's trend mean :math:`m_c`, trend spread :math:`s_c` and volatility
:math:`\sigma_c`; the 2025 value of :data:`ONE_FIGURE` (an indicator with a single figure: the answer is
mostly prior, checking the smoother and the extension where data are thinnest); 2025 nominal GDP on the log
scale (log real GDP + log deflator: a group of linked figures, the deflator, the projection).

**What this checks.** The sampler (adaptation, geometry, divergences) on the production posterior; the
marginal likelihood of :func:`model.joint.build_model` against a generator written from the equations
(a wrong variance, mapping or noise term there makes the ranks non-uniform; ``tests/test_sbc.py`` also checks
the two agree group by group); the simulation smoother; the projection code (:func:`model.simulate.simulate`
draws Student-*t* steps, the truth draws the model's normal-gamma mixture).

**What it does not check.** (a) Whether the model describes Changzhi (that is the backtests' job). (b) The
linearisation of cumulative totals and pp changes: the generator uses the same linear *G* as the model, so
the approximation is part of the model checked, not tested against the nonlinear operators
(``tests/test_marginal.py`` bounds it). (c) Censored statements: the model's term is
:math:`\log\Phi` of the statement given the group's point figures, exact for one statement per group and
neglecting the dependence between several statements of one group; at :data:`AS_OF` every group has at most
one, so the check is exact there, but a vintage with two statements in a group would test the approximation
only through the ranks. (d) Trends of plan periods after the horizon's period: 2024–25 lie in the 2021 period,
so :func:`model.simulate.future_trends`' fresh draws for later periods (from the prior constants) are not
exercised. (e) The design itself is fixed: the real anchors set the level priors in every replication, so the
check is of the model given that design, as the production fit uses it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
from scipy import stats

from . import data as data_mod
from .layout import DEFLATOR, Layout

AS_OF = "2024-03-31"
"""The vintage whose design is simulated: the data behind the table."""
HORIZON = 2025
ONE_FIGURE = "coal_output"
"""A target indicator with exactly one figure (a 2023 level in the work report) and no plan statement."""
NOMINAL = "gdp"


@dataclass
class Setup:
    """The real design and the model conditioned on containers of its data."""

    st: object                   # model.joint.Structure
    layout: Layout               # the fitted years (to the vintage's last year)
    obs: pd.DataFrame
    model: pm.Model              # build_model(st, data=True)
    names: list[str]             # the parameters smooth takes: the free variables and τ
    one_figure: str

    @property
    def rows(self) -> dict[str, int]:
        """Base rows whose truth is recorded."""
        base = self.layout.base
        return {n: base.index(n) for n in (self.one_figure, NOMINAL, DEFLATOR)}


def setup(dataset: data_mod.Dataset | None = None, as_of: str = AS_OF, one_figure: str = ONE_FIGURE) -> Setup:
    """The joint model's structure for the documents as of ``as_of`` and its model with data containers."""
    from .fit import FitSettings, _identify
    from .joint import build_model, build_structure

    dataset = dataset or data_mod.shipped()
    layout, obs, signals, *_ = _identify(dataset, FitSettings(as_of=as_of))
    st = build_structure(layout, obs, signals)
    n_fig = int((st.figures["indicator"] == one_figure).sum() + (st.signals["indicator"] == one_figure).sum())
    if n_fig != 1:
        raise ValueError(f"{one_figure} has {n_fig} figures and statements as of {as_of}, not exactly one")
    model = build_model(st, data=True)
    names = [rv.name for rv in model.free_RVs] + ["tau"]
    return Setup(st, layout, obs, model, names, one_figure)


def prior_draws(s: Setup, n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` draws (n, ...) of the model's parameters from its own prior (:func:`pymc.draw`; τ with them)."""
    values = pm.draw([s.model[name] for name in s.names], draws=n, random_seed=seed)
    return {name: (v[None] if n == 1 else v) for name, v in zip(s.names, values)}


def _row_variates(st, V: np.ndarray, j: int, rng, size: int | None = None) -> np.ndarray:
    """Base row j's variates u ~ N(0, diag v) (size or n, U): u^a, u^μ, δ_1..P, ε_2..T."""
    from .joint import _v_index

    v = V[:, _v_index(j, len(st.layout.base), st.layout.n_years, len(st.periods))]
    n = size or v.shape[0]
    return np.sqrt(v) * rng.standard_normal((n, v.shape[1]))


def simulate_batch(st, b: int, V, NV, m_c, inflate, rng, size: int | None = None):
    """Figures of batch ``b`` of every group: ``y`` (n, groups, K), ``sign`` (n, groups, C) and the group
    members' variates ``{base row: (n, U)}``.

    The parameter arrays have a leading draw axis n (``V``, ``NV``, ``inflate`` as :func:`model.joint.variances`
    returns them); with ``size`` and n = 1, ``size`` data sets are drawn given the one parameter draw.
    Padded rows keep y = 0 and sign = 0 (as the structure has them)."""
    batch = st.batches[b]
    n = size or V.shape[0]
    ng, K, _ = batch.G.shape
    C = batch.Gc.shape[1]
    U = st.n_u
    y, sign, members = np.zeros((n, ng, K)), np.zeros((n, ng, C)), {}
    for g, grp in enumerate(batch.groups):
        u = np.concatenate([_row_variates(st, V, j, rng, size) for j in grp], axis=1)  # θ_j = c_j + B_j u_j, per row
        members.update({j: u[:, k * U:(k + 1) * U] for k, j in enumerate(grp)})
        k, c, w = int(batch.mask[g].sum()), int((batch.sign_c[g] != 0).sum()), u.shape[1]
        r = batch.known[g, :k] + batch.wnoise[g, :k] * NV[:, batch.noise_idx[g, :k]] * inflate[:, batch.doc_idx[g, :k]]
        y[:, g, :k] = (u @ batch.G[g, :k, :w].T + m_c @ batch.M[g, :k].T
                       + np.sqrt(r) * rng.standard_normal((n, k)))
        if c:
            rc = (batch.known_c[g, :c]
                  + batch.wnoise_c[g, :c] * NV[:, batch.noise_idx_c[g, :c]] * inflate[:, batch.doc_idx_c[g, :c]])
            f = u @ batch.Gc[g, :c, :w].T + m_c @ batch.Mc[g, :c].T + np.sqrt(rc) * rng.standard_normal((n, c))
            sign[:, g, :c] = np.where(f > batch.yc[g, :c], 1.0, -1.0)
    return y, sign, members


def _state(st, B: np.ndarray, j: int, u: np.ndarray, m_c: np.ndarray) -> np.ndarray:
    """θ_j = c_j + B_j u_j (n, S): the path x (T), the long-run trend μ, the periods' shifts δ (``B``: st.B()[j])."""
    T = st.layout.n_years
    theta = u @ B.T
    theta[:, :T] += st.anchor_mean[j]
    theta += (m_c[:, st.cls_of[j]] * st.scale[j])[:, None] * B[None, :, 1]
    return theta


def _period_trend(st, theta: np.ndarray, period: int, params: dict, j: int, rng) -> np.ndarray:
    """True trend of row j in plan ``period``: μ + δ_p for a period of the state, else μ + a fresh δ ~
    N(0, k²ρ²s_c²) (the model's prior of a period's shift)."""
    T = st.layout.n_years
    if period in st.periods:
        return theta[:, T] + theta[:, T + 1 + int(np.searchsorted(st.periods, period))]
    sd = st.scale[j] * params["period_shift"] * params["trend_spread"][:, st.cls_of[j]]
    return theta[:, T] + sd * rng.standard_normal(len(theta))


def truths(s: Setup, params: dict, states: dict[int, np.ndarray], sigma_i: np.ndarray, rng,
           horizon: int = HORIZON) -> dict[str, np.ndarray]:
    """The recorded quantities' true values (n,): the class parameters, and the state extended from the last
    fitted year to ``horizon`` by the model's dynamics (normal steps with gamma precisions: Student-t)."""
    from .growth import plan_period

    st, layout = s.st, s.layout
    out = {}
    for k, c in enumerate(st.classes):
        for name in ("trend_mean", "trend_spread", "sigma_class"):
            out[f"{name}[{c}]"] = params[name][:, k]
    T = layout.n_years
    ext = {}
    for name, j in s.rows.items():
        theta = states[j]
        x = theta[:, T - 1].copy()
        trend = {}
        for year in range(int(layout.years[-1]) + 1, horizon + 1):
            p = int(plan_period(year))
            mu = trend[p] = trend[p] if p in trend else _period_trend(st, theta, p, params, j, rng)
            nu = st.nu[j]
            lam = rng.gamma(nu / 2, 2 / nu, len(x)) if nu > 0 else 1.0
            x = x + mu + st.scale[j] * sigma_i[:, j] * rng.standard_normal(len(x)) / np.sqrt(lam)
        ext[name] = x
    out.update(_extended_quantities(s, ext, horizon))
    return out


def _extended_quantities(s: Setup, x: dict[str, np.ndarray], horizon: int) -> dict[str, np.ndarray]:
    return {f"x[{s.one_figure},{horizon}]": x[s.one_figure],
            f"log nominal {NOMINAL} {horizon}": x[NOMINAL] + x[DEFLATOR]}


def simulate_documents(s: Setup, params: dict, rng) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One simulated set of documents per parameter draw (n): the data containers' values
    ``{figures_<b>_y: (n, groups, K), figures_<b>_sign: (n, groups, C)}`` and the recorded quantities' truth."""
    from .joint import data_names, variances

    st = s.st
    V, NV, m_c, inflate, sigma_i = variances(st, params, rng)
    members = {}
    arrays = {}
    for b in range(len(st.batches)):
        arrays[b] = simulate_batch(st, b, V, NV, m_c, inflate, rng)
        members.update(arrays[b][2])
    data = {name: arrays[b][0 if what == "y" else 1] for name, (b, what) in data_names(st).items()}
    B = st.B()
    states = {j: _state(st, B[j], j, members[j] if j in members else _row_variates(st, V, j, rng), m_c)
              for j in s.rows.values()}
    return data, truths(s, params, states, sigma_i, rng)


def thin(draws: np.ndarray, n: int) -> np.ndarray:
    """``n`` draws equally spaced through the (chain-stacked) draws: Talts et al.'s thinning against autocorrelation."""
    return draws[np.linspace(0, len(draws) - 1, n).round().astype(int)]


def conditioned(st, data: dict[str, np.ndarray]):
    """A copy of the structure whose batches hold ``data`` (one replication's container values): what
    :func:`model.joint.smooth` conditions the paths on."""
    import copy
    import dataclasses

    from .joint import data_names

    batches = list(st.batches)
    for name, (b, what) in data_names(st).items():
        batches[b] = dataclasses.replace(batches[b], **{what: np.asarray(data[name], float)})
    out = copy.copy(st)
    out.batches = batches
    return out


def posterior_quantities(s: Setup, post: dict[str, np.ndarray], seed: int, data: dict | None = None,
                         horizon: int = HORIZON, fit=None) -> tuple[dict[str, np.ndarray], object]:
    """The recorded quantities from posterior draws of the parameters, by the production path: paths by
    :func:`model.joint.smooth` given the figures ``data`` (one replication's container values; default: the
    documents'), extended to ``horizon`` by :func:`model.simulate.simulate` on a :class:`model.fit.Fit` holding
    them (``fit``: one to reuse, its prior scales computed once)."""
    import arviz as az
    import xarray as xr

    from .fit import Diagnostics, Fit, FitSettings
    from .joint import smooth
    from .simulate import simulate

    st = s.st if data is None else conditioned(s.st, data)
    paths = smooth(st, post, seed)
    n = post["trend_mean"].shape[0]
    ahead = [int(p) for p in st.periods if p > _last_period(s.layout)]
    dims = {"x": ("series", "year"), "mu": ("series",), "mu_base": ("series",), "sigma": ("series",),
            "mu_ahead": ("series", "ahead")}
    posterior = xr.Dataset({f"{k}_all": (("chain", "draw", *d), paths[k][None]) for k, d in dims.items()},
                           coords={"series": s.layout.base, "year": s.layout.years, "ahead": ahead})
    idata = az.InferenceData(posterior=posterior)
    if fit is None:
        fit = Fit(s.layout, s.obs, idata, Diagnostics(1.0, n, n, 0, 0.0), FitSettings(as_of=AS_OF), "sbc")
    fit.idata = idata
    ext = simulate(fit, horizon, seed=seed)
    x = {name: ext.x[:, j, -1] for name, j in s.rows.items()}
    out = {}
    for k, c in enumerate(st.classes):
        for name in ("trend_mean", "trend_spread", "sigma_class"):
            out[f"{name}[{c}]"] = post[name][:, k]
    out.update(_extended_quantities(s, x, horizon))
    return out, fit


def _last_period(layout: Layout) -> int:
    from .growth import plan_period

    return int(plan_period(layout.years[-1]))


def run_sbc(n_reps: int = 200, draws: int = 200, tune: int = 200, chains: int = 1, n_ranks: int = 50,
            seed: int = 2018, dataset: data_mod.Dataset | None = None, progress=None) -> pd.DataFrame:
    """Ranks of the true quantities among ``n_ranks - 1`` thinned posterior draws, for ``n_reps`` replications.

    Sampling is nutpie NUTS with the settings of :func:`model.fit.fit` (target accept, low-rank mass matrix);
    compiled once, the data are swapped per replication. Returns one row per replication and quantity: truth,
    posterior mean and sd (over the thinned draws), rank (0 … n_ranks − 1) and the replication's divergences,
    max R-hat, min bulk ESS (over all parameters) and seconds (sampling, paths and projection).
    """
    import nutpie
    from .fit import FitSettings, _diagnostics, _stack, one_blas_thread

    if chains * draws < n_ranks - 1:
        raise ValueError(f"{chains} × {draws} draws cannot be thinned to {n_ranks - 1}")
    s = setup(dataset)
    params = prior_draws(s, n_reps, seed)
    data, truth = simulate_documents(s, params, np.random.default_rng(seed))
    compiled = nutpie.compile_pymc_model(s.model)
    target_accept = FitSettings().target_accept
    rows, fit = [], None
    for r in range(n_reps):
        start = time.perf_counter()
        data_r = {k: v[r] for k, v in data.items()}
        with one_blas_thread():
            idata = nutpie.sample(compiled.with_data(**data_r), draws=draws, tune=tune, chains=chains, cores=1,
                                  seed=seed + 1 + r, progress_bar=False, target_accept=target_accept,
                                  low_rank_modified_mass_matrix=True)
            post = {k: thin(_stack(v.to_numpy()), n_ranks - 1) for k, v in idata.posterior.data_vars.items()}
            quantities, fit = posterior_quantities(s, post, seed + r, data_r, fit=fit)
        seconds = time.perf_counter() - start
        diag = _diagnostics(idata, seconds)
        ess = _class_ess(idata, s.st.classes)
        for name, q in quantities.items():
            t = float(truth[name][r])
            rows.append(dict(replication=r, quantity=name, truth=t, post_mean=float(q.mean()), post_sd=float(q.std()),
                             rank=int((q < t).sum()), n_ranks=n_ranks, ess_bulk=ess.get(name, np.nan),
                             divergences=diag.divergences, max_rhat=diag.max_rhat, min_ess_bulk=diag.min_ess_bulk,
                             seconds=seconds))
        if progress:
            progress(r + 1, n_reps)
    return pd.DataFrame(rows)


def _class_ess(idata, classes: list[str]) -> dict[str, float]:
    """Bulk ESS of each class parameter over the whole chain (the thinned draws are ``n_ranks`` − 1 of them:
    fewer effective draws than that make ranks ∪-shaped)."""
    import arviz as az

    ess = az.ess(idata, var_names=["trend_mean", "trend_spread", "sigma_class"])
    return {f"{name}[{c}]": float(ess[name].to_numpy()[k]) for name in ess.data_vars for k, c in enumerate(classes)}


def rank_uniformity(ranks: np.ndarray, n_ranks: int, bins: int) -> tuple[float, float]:
    """χ² statistic and p-value of uniformity of ranks in {0, …, n_ranks − 1} over ``bins`` equal bins."""
    if n_ranks % bins:
        raise ValueError(f"{n_ranks} rank values do not split into {bins} equal bins")
    counts = np.bincount(np.asarray(ranks, int) * bins // n_ranks, minlength=bins)
    res = stats.chisquare(counts)
    return float(res.statistic), float(res.pvalue)


def summarise(ranks: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Per quantity: replications, χ² p-value of uniform ranks, mean and sd of the normalised rank
    (uniform: 0.5 and 0.289; below 0.289 underconfident, above overconfident), the share of
    replications whose truth lies in the central 80% of the posterior draws, and the median bulk ESS of the
    quantity's chain where recorded (class parameters)."""
    out = []
    for name, g in ranks.groupby("quantity", sort=False):
        n_ranks = int(g["n_ranks"].iloc[0])
        chi2, p = rank_uniformity(g["rank"].to_numpy(), n_ranks, bins)
        u = (g["rank"] + 0.5) / n_ranks
        out.append(dict(quantity=name, replications=len(g), chi2=chi2, p_uniform=p, mean_rank=u.mean(),
                        sd_rank=u.std(ddof=0), in_80=((u > 0.1) & (u < 0.9)).mean(),
                        **({"median_ess": g["ess_bulk"].median()} if "ess_bulk" in g else {})))
    return pd.DataFrame(out)


def write_sbc(ranks: pd.DataFrame, summary: pd.DataFrame, out_dir: str | Path, bins: int = 10,
              settings: str = "") -> Path:
    """``sbc.csv`` (ranks), ``sbc.md`` (summary) and ``sbc_ranks.png`` (rank histograms) under ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ranks.to_csv(out_dir / "sbc.csv", index=False)
    per_rep = ranks.drop_duplicates("replication")
    md = ["# Simulation-based calibration", "",
          "The joint model that writes the table, on the real design (every indicator's figures, links, plan "
          "statements and censored statements as of 2024-03-31): parameters drawn from its prior, the figures' "
          "values simulated from its equations, the same model fitted to them (Talts et al. 2018; `model/sbc.py`). "
          "If the sampler returns the model's posterior, the ranks of the truth are uniform; non-uniform ranks "
          "show it does not (∪: too narrow, ∩: too wide, slope: biased).",
          "", settings, "",
          f"Replications: {len(per_rep)}; with divergences: {int((per_rep['divergences'] > 0).sum())}; "
          + (f"max R-hat > 1.01: {int((per_rep['max_rhat'] > 1.01).sum())} (over all parameters); "
             if per_rep["max_rhat"].notna().any() else "R-hat: n/a (one chain); ")
          + f"median min bulk ESS {per_rep['min_ess_bulk'].median():.0f} (over all parameters); "
          f"time per replication (sampling, paths, projection) {per_rep['seconds'].median():.1f} s median, "
          f"{per_rep['seconds'].sum():.0f} s in all.", "",
          f"| quantity | replications | χ² ({bins} bins) | p (uniform) | mean rank (0.5) | sd rank (0.289) | "
          "truth in central 80% | median bulk ESS |", "|---|---|---|---|---|---|---|---|"]
    ess = lambda r: "" if pd.isna(getattr(r, "median_ess", np.nan)) else f"{r.median_ess:.0f}"
    md += [f"| {r.quantity} | {r.replications} | {r.chi2:.1f} | {r.p_uniform:.3f} | {r.mean_rank:.3f} | "
           f"{r.sd_rank:.3f} | {r.in_80:.2f} | {ess(r)} |" for r in summary.itertuples()]
    (out_dir / "sbc.md").write_text("\n".join(md) + "\n", encoding="utf-8")

    names = list(summary["quantity"])
    ncol = 3
    nrow = -(-len(names) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.4 * nrow), squeeze=False)
    for ax, name in zip(axes.flat, names):
        g = ranks[ranks["quantity"] == name]
        n, n_ranks = len(g), int(g["n_ranks"].iloc[0])
        lo, hi = stats.binom.ppf([0.005, 0.995], n, 1 / bins)
        ax.axhspan(lo, hi, color="0.85", lw=0)
        ax.hist(g["rank"], bins=np.linspace(0, n_ranks, bins + 1), color="#0072B2", edgecolor="white")
        ax.axhline(n / bins, color="#D55E00", ls="--", lw=1)
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("rank of truth", fontsize=7)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle("SBC rank histograms (grey: 99% band of a uniform histogram)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out_dir / "sbc_ranks.png", dpi=110)
    plt.close(fig)
    return out_dir
