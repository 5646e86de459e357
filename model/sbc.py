r"""Simulation-based calibration (Talts et al. 2018): does the fit recover what the prior generated?

For replication *r*: draw parameters, latent paths to 2025 and the documents' figures from the
model's own prior (:func:`model.growth.build_model` on a small layout of the documents' shape,
:func:`pymc.sample_prior_predictive`); condition *the same model* on the simulated figures; sample
with NUTS; record the rank of each true quantity :math:`\theta^{(r)}` among *L* thinned
posterior draws,

.. math::

    \mathrm{rank}_r = \#\{\ell : \theta^{(r)}_\ell < \theta^{(r)}\} \in \{0, \dots, L\}.

If the sampler returns the posterior of the model that generated the data, the ranks are
uniform on :math:`\{0, \dots, L\}` whatever the prior; a ∪-shaped histogram means overconfident
posteriors, ∩-shaped underconfident, a slope bias. Uniformity is tested with a χ² test on
equal-width rank bins.

The truth is drawn from the model as built, not from a copy of its prior, so the check stays
valid when :mod:`model.growth` changes. The model is built once from the documents' figures
(whose values set the anchors of the level priors and the relative rounding error); only the
observed values are then replaced, so prior and posterior belong to one joint distribution.
Censored statements (">8%") are PyMC Potentials, which prior predictive sampling cannot draw:
the layout keeps point figures only. Quantities: each indicator's latent value in 2025, the
trend and volatility of GDP, GDP's 2021–25 average real growth, and the 2025 GDP value
extended from the fitted years by :func:`model.simulate.simulate` (the projection code the
attainment probabilities use, checked against the model's own prior).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import pytensor
from pymc.model.fgraph import ModelObservedRV, fgraph_from_model, model_from_fgraph
from scipy import stats

from . import data as data_mod
from .growth import POINT, plan_period
from .layout import Layout, build_layout

SBC_INDICATORS = ("gdp", "urbanization_rate", "high_tech_enterprises")
"""GDP (nominal levels, real yoy and 5-year average growth; brings the deflator), a share with a
pp change, and a count: the kinds of figures the targets rest on."""
HORIZON = 2025


def template(dataset: data_mod.Dataset, indicators=SBC_INDICATORS) -> pd.DataFrame:
    """The documents' point figures of ``indicators``, one row per distinct figure (indicator, year, span,
    kind, basis): the years and kinds the simulated documents reproduce."""
    obs = dataset.observations
    obs = obs[obs["indicator"].isin(indicators) & obs["comparator"].isin(POINT)]
    return obs.drop_duplicates(["indicator", "year", "span_start", "kind", "price_basis"]).reset_index(drop=True)


def conditionable(model: pm.Model) -> tuple[pm.Model, dict[str, str]]:
    """The same model with each observed variable's data in a shared variable.

    Returns the model and ``{observed variable: shared variable name}``; new data are then set
    without rebuilding or recompiling (``nutpie`` ``with_data``, or ``set_value``).
    """
    fg, _ = fgraph_from_model(model)
    names = {}
    for node in list(fg.apply_nodes):
        if isinstance(node.op, ModelObservedRV):
            value = node.inputs[1]
            name = node.outputs[0].name
            shared = pytensor.shared(np.asarray(value.data), name=f"{name}_sbc_data", shape=value.type.shape)
            fg.replace(value, shared, import_missing=True)
            names[name] = shared.name
    return model_from_fgraph(fg, mutate_fgraph=True), names


@dataclass
class Setup:
    """A small model of the documents' shape: generative (for the truth) and conditionable (for the fit)."""

    layout: Layout  # grid extended to the horizon
    fit_years: int  # number of grid years with figures (the rest are projected)
    obs: pd.DataFrame
    generative: pm.Model
    conditioned: pm.Model
    data_names: dict[str, str]


def setup(dataset: data_mod.Dataset | None = None, indicators=SBC_INDICATORS, horizon: int = HORIZON) -> Setup:
    """Build the SBC model from the documents' figures of ``indicators``."""
    from .growth import build_model

    dataset = dataset or data_mod.shipped()
    obs = template(dataset, indicators)
    fitted = build_layout(data_mod.Dataset(dataset.catalogue, obs, dataset.targets.iloc[:0]))
    layout = fitted.with_years(horizon)
    model = build_model(layout, obs, layout.index(obs))
    if model.potentials:
        raise ValueError("SBC needs a generative model: the layout has censored statements (Potentials)")
    conditioned, names = conditionable(model)
    return Setup(layout, fitted.n_years, obs, model, conditioned, names)


def quantities(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray, layout: Layout, horizon: int = HORIZON
               ) -> dict[str, np.ndarray]:
    """The recorded quantities from latent paths ``x`` (..., n_base, n_years) and ``mu``, ``sigma`` (..., n_base)."""
    col = lambda y: int(y - layout.years[0])
    out = {f"x[{ind},{horizon}]": x[..., j, col(horizon)] for j, ind in enumerate(layout.base)}
    if "gdp" in layout.base:
        g = layout.base.index("gdp")
        out["mu[gdp]"], out["sigma[gdp]"] = mu[..., g], sigma[..., g]
        growth = (x[..., g, col(horizon)] - x[..., g, col(2020)]) / (horizon - 2020)
        out[f"gdp avg growth 2021-{horizon} (%)"] = 100 * np.expm1(growth)
    return out


def thin(draws: np.ndarray, n: int) -> np.ndarray:
    """``n`` draws equally spaced through the (chain-stacked) draws: Talts et al.'s thinning against autocorrelation."""
    return draws[np.linspace(0, len(draws) - 1, n).round().astype(int)]


def _projected(s: Setup, idata, diag, seed: int) -> np.ndarray:
    """2025 GDP extended by :func:`model.simulate.simulate` from the posterior on the years with figures."""
    from .fit import Fit, FitSettings
    from .simulate import simulate

    short = Layout(s.layout.base, s.layout.derived, s.layout.years[: s.fit_years], s.layout.catalogue, s.layout.start)
    post = idata.posterior
    fitted_x = post["x"].isel(year=slice(0, s.fit_years)).rename(year="fit_year")
    last = int(plan_period(s.layout.years[s.fit_years - 1]))
    idata.posterior = post.assign(x_all=fitted_x, mu_all=post["drift"].sel(period=last), mu_base_all=post["mu"],
                                  sigma_all=post["sigma"])
    paths = simulate(Fit(short, s.obs, idata, diag, FitSettings(), "sbc"), s.layout.years[-1], seed=seed)
    return paths.x[:, s.layout.base.index("gdp"), -1]


def run_sbc(n_reps: int = 100, draws: int = 200, tune: int = 200, chains: int = 2, n_ranks: int = 50,
            seed: int = 2018, dataset: data_mod.Dataset | None = None, indicators=SBC_INDICATORS,
            progress=None) -> pd.DataFrame:
    """Ranks of the true quantities among ``n_ranks - 1`` thinned posterior draws, for ``n_reps`` replications.

    Sampling is nutpie NUTS with the settings of :func:`model.fit.fit` (target accept, low-rank
    mass matrix); compiled once, the data are swapped per replication. Returns one row per
    replication and quantity: truth, posterior mean and sd, rank (0 … n_ranks − 1) and the
    replication's divergences, max R-hat, min bulk ESS and seconds.
    """
    import nutpie

    from .fit import FitSettings, _diagnostics

    s = setup(dataset, indicators)
    prior = pm.sample_prior_predictive(draws=n_reps, model=s.generative, random_seed=seed)
    truth_x, truth_mu, truth_sigma = (prior.prior[v].to_numpy()[0] for v in ("x", "mu", "sigma"))
    truths = quantities(truth_x, truth_mu, truth_sigma, s.layout)
    if "gdp" in s.layout.base:
        truths[f"x[gdp,{HORIZON}] via simulate"] = truths[f"x[gdp,{HORIZON}]"]
    compiled = nutpie.compile_pymc_model(s.conditioned)
    settings = FitSettings(draws=draws, tune=tune, chains=chains)
    rows = []
    for r in range(n_reps):
        start = time.perf_counter()
        data = {shared: prior.prior_predictive[obs].to_numpy()[0, r] for obs, shared in s.data_names.items()}
        idata = nutpie.sample(compiled.with_data(**data), draws=draws, tune=tune, chains=chains,
                              cores=min(chains, 2), seed=seed + 1 + r, progress_bar=False,
                              target_accept=settings.target_accept, low_rank_modified_mass_matrix=True)
        seconds = time.perf_counter() - start
        stack = lambda v: idata.posterior[v].to_numpy().reshape(-1, *idata.posterior[v].shape[2:])
        post = quantities(stack("x"), stack("mu"), stack("sigma"), s.layout)
        diag = _diagnostics(idata, seconds)
        if "gdp" in s.layout.base:
            post[f"x[gdp,{HORIZON}] via simulate"] = _projected(s, idata, diag, seed + r)
        for name, draws_q in post.items():
            truth = float(truths[name][r])
            rows.append(dict(replication=r, quantity=name, truth=truth, post_mean=float(draws_q.mean()),
                             post_sd=float(draws_q.std()), rank=int((thin(draws_q, n_ranks - 1) < truth).sum()),
                             n_ranks=n_ranks, divergences=diag.divergences, max_rhat=diag.max_rhat,
                             min_ess_bulk=diag.min_ess_bulk, seconds=seconds))
        if progress:
            progress(r + 1, n_reps)
    return pd.DataFrame(rows)


def rank_uniformity(ranks: np.ndarray, n_ranks: int, bins: int) -> tuple[float, float]:
    """χ² statistic and p-value of uniformity of ranks in {0, …, n_ranks − 1} over ``bins`` equal bins."""
    if n_ranks % bins:
        raise ValueError(f"{n_ranks} rank values do not split into {bins} equal bins")
    counts = np.bincount(np.asarray(ranks, int) * bins // n_ranks, minlength=bins)
    res = stats.chisquare(counts)
    return float(res.statistic), float(res.pvalue)


def summarise(ranks: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Per quantity: replications, χ² p-value of uniform ranks, mean and sd of the normalised rank
    (uniform: 0.5 and 0.289; below 0.289 underconfident, above overconfident), and the share of
    replications whose truth lies in the central 80% of the posterior draws."""
    out = []
    for name, g in ranks.groupby("quantity", sort=False):
        n_ranks = int(g["n_ranks"].iloc[0])
        chi2, p = rank_uniformity(g["rank"].to_numpy(), n_ranks, bins)
        u = (g["rank"] + 0.5) / n_ranks
        out.append(dict(quantity=name, replications=len(g), chi2=chi2, p_uniform=p, mean_rank=u.mean(),
                        sd_rank=u.std(ddof=0), in_80=((u > 0.1) & (u < 0.9)).mean()))
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
          "Truth drawn from the model's prior, documents of our shape simulated from it, the same model fitted "
          "(Talts et al. 2018). If the sampler returns the model's posterior, the ranks of the truth are uniform; "
          "non-uniform ranks show it does not (∪: too narrow, ∩: too wide, slope: biased).",
          "", settings, "",
          f"Replications: {len(per_rep)}; with divergences: {int((per_rep['divergences'] > 0).sum())}; "
          f"max R-hat > 1.01: {int((per_rep['max_rhat'] > 1.01).sum())} (over all parameters; median min bulk ESS "
          f"{per_rep['min_ess_bulk'].median():.0f}); "
          f"sampling time {per_rep['seconds'].sum():.0f} s ({per_rep['seconds'].median():.1f} s median).", "",
          f"| quantity | replications | χ² ({bins} bins) | p (uniform) | mean rank (0.5) | sd rank (0.289) | "
          "truth in central 80% |", "|---|---|---|---|---|---|---|"]
    md += [f"| {r.quantity} | {r.replications} | {r.chi2:.1f} | {r.p_uniform:.3f} | {r.mean_rank:.3f} | "
           f"{r.sd_rank:.3f} | {r.in_80:.2f} |" for r in summary.itertuples()]
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
