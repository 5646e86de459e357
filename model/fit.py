"""Fitting: sample the growth model for a data vintage, check convergence, cache the posterior.

``fit(as_of=..., data_through=..., seed=...)`` returns a :class:`Fit`: the posterior of the latent
paths and their dynamics, its diagnostics, and :meth:`Fit.predict` for any figure rows. The
posterior is cached on disk under ``.cache/fits/<key>.nc``; the key hashes the observations used,
the sampler settings, the model's source code and the package versions, so the same inputs
never refit and any change does.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd

from . import data as data_mod
from . import priors
from .layout import Layout, build_layout

CACHE_DIR = data_mod.ROOT / ".cache" / "fits"
MODEL_SOURCES = ("growth.py", "layout.py", "operators.py", "priors.py", "fit.py", "prior_only.py")
SAMPLER = "nutpie"
QUANTILES = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95)


@dataclass(frozen=True)
class FitSettings:
    """What determines a posterior besides the data: vintage, sampler and its seed."""

    as_of: str | None = None
    data_through: int | None = None
    draws: int = 1500
    tune: int = 1000
    chains: int = 2
    target_accept: float = 0.95
    seed: int = 20210525

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Diagnostics:
    """Convergence summary of a fit; ``ok`` is False when any threshold fails."""

    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    seconds: float
    ok: bool = field(init=False)

    def __post_init__(self):
        self.ok = bool(self.max_rhat <= 1.01 and self.min_ess_bulk >= 400 and self.min_ess_tail >= 400
                       and self.divergences == 0)

    def as_dict(self) -> dict:
        return {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in self.__dict__.items()}

    def flag(self) -> str:
        """One line for every output: 'converged' or what failed."""
        if self.ok:
            return "converged"
        return (f"NOT CONVERGED (max R-hat {self.max_rhat:.3f}, min bulk ESS {self.min_ess_bulk:.0f}, "
                f"min tail ESS {self.min_ess_tail:.0f}, {self.divergences} divergences): treat results with caution")


def package_versions() -> dict[str, str]:
    return {p: importlib.metadata.version(p) for p in ("numpy", "scipy", "pandas", "pymc", "pytensor", "arviz")}


def _cache_key(obs: pd.DataFrame, settings: FitSettings, dataset: data_mod.Dataset) -> str:
    h = hashlib.sha256()
    h.update(obs.drop(columns=["file"]).to_csv(index=False).encode())
    # the catalogue (transforms, classes, links) and the targets (which indicators are sampled) shape the model
    h.update(dataset.catalogue.to_csv(index=False).encode())
    h.update(dataset.targets[["target_id", "indicator"]].to_csv(index=False).encode())
    h.update(json.dumps(settings.as_dict(), sort_keys=True).encode())
    h.update(json.dumps(package_versions(), sort_keys=True).encode())
    for name in MODEL_SOURCES:
        h.update((data_mod.ROOT / "model" / name).read_bytes())
    return h.hexdigest()[:16]


def data_hash(obs: pd.DataFrame) -> str:
    """Short hash of the observation rows a fit used."""
    return hashlib.sha256(obs.drop(columns=["file"]).to_csv(index=False).encode()).hexdigest()[:16]


@dataclass
class Fit:
    """A fitted posterior for one data vintage.

    Attributes
    ----------
    layout : Layout
        Indicators and years of the fit.
    observations : DataFrame
        The rows the fit used.
    idata : arviz.InferenceData
        Posterior of all parameters, including the latent paths ``x`` (indicator, year).
    diagnostics : Diagnostics
    settings : FitSettings
    key : str
        Cache key (hash of data, settings, code and versions).

    Examples
    --------
    >>> import model, pandas as pd
    >>> f = model.fit(as_of="2024-03-31", draws=150, tune=150, chains=2, seed=11)
    >>> f.draws("x").shape == (300, len(f.layout.base), len(f.layout.years))   # log levels, per draw
    True
    >>> rows = pd.DataFrame({"indicator": ["gdp"], "year": [2024], "span_start": [None],
    ...                      "kind": ["yoy_growth"], "price_basis": ["real"]})
    >>> pred = f.predict(rows, n_draws=500)                    # real GDP growth 2024, % (not yet observed)
    >>> pred[["indicator", "year", "kind"]]
      indicator  year        kind
    0       gdp  2024  yoy_growth
    >>> bool(pred.at[0, "q05"] < pred.at[0, "q50"] < pred.at[0, "q95"])
    True
    """

    layout: Layout
    observations: pd.DataFrame
    idata: az.InferenceData
    diagnostics: Diagnostics
    settings: FitSettings
    key: str
    from_cache: bool = False

    def draws(self, name: str) -> np.ndarray:
        """Posterior draws with chains stacked first: (n_draws, ...). ``x``, ``mu`` and ``sigma``
        cover every base indicator (fitted and prior-only)."""
        if name in ("x", "mu", "sigma"):
            name = f"{name}_all"
        return _stack(self.idata.posterior[name].to_numpy())

    @property
    def unanchored(self) -> list[str]:
        """Indicators with no level figure: their level is unknown (only growth can be evaluated)."""
        return json.loads(self.idata.attrs.get("unanchored", "[]"))

    @property
    def last_year(self) -> int:
        return int(self.layout.years[-1])

    def predict(self, rows: pd.DataFrame, n_draws: int | None = None, seed: int = 0) -> pd.DataFrame:
        """Posterior predictive draws for figure rows (same columns as ``data/observations.csv``).

        Rows after the fit's last year are read from baseline simulated paths. Returns one row
        per input row with ``mean``, the quantiles ``q05 ... q95`` and, where the row has a
        ``value``, its ``pit`` and ``crps``; rows the model cannot read are returned with NaN.
        """
        from .predict import predict  # predictive machinery lives with the simulation

        return predict(self, rows, n_draws=n_draws, seed=seed)


def _diagnostics(idata: az.InferenceData, seconds: float) -> Diagnostics:
    names = [v for v in idata.posterior.data_vars if v not in ("x",) and not v.endswith("_all")]
    summ = az.summary(idata, var_names=names, kind="diagnostics")
    div = int(idata.sample_stats["diverging"].sum()) if "diverging" in idata.sample_stats else 0
    return Diagnostics(float(summ["r_hat"].max()), float(summ["ess_bulk"].min()), float(summ["ess_tail"].min()),
                       div, seconds)


def fit(dataset: data_mod.Dataset | None = None, as_of: str | None = None, data_through: int | None = None,
        seed: int = 20210525, draws: int = 1500, tune: int = 1000, chains: int = 2,
        cache: bool = True, progress: bool = False) -> Fit:
    """Fit the growth model on the figures published by ``as_of`` (and referring to years ≤ ``data_through``).

    Parameters
    ----------
    dataset : Dataset, optional
        Default: the shipped data (:func:`model.data.shipped`).
    as_of : str, optional
        ISO date: the data vintage. ``None`` uses every document.
    data_through : int, optional
        Use only figures that refer to years up to this one (backtests of the 13th plan).
    seed, draws, tune, chains : sampler settings.
    cache : bool
        Read and write the on-disk posterior cache.

    Examples
    --------
    Short chains for a quick look (a repeated call loads the cached posterior; the defaults are for results):

    >>> import model
    >>> f = model.fit(as_of="2024-03-31", draws=150, tune=150, chains=2, seed=11)
    >>> bool((f.observations["published"] <= "2024-03-31").all())    # only documents of the vintage
    True
    >>> f.last_year, f.draws("mu").shape[0]                          # last year with data; chains × draws
    (2023, 300)
    >>> f.diagnostics.flag()                                         # 'converged' or what failed
    '...'
    """
    dataset = dataset or data_mod.shipped()
    settings = FitSettings(as_of=as_of, data_through=data_through, draws=draws, tune=tune, chains=chains, seed=seed)
    vintage = dataset.vintage(as_of, data_through)
    layout = build_layout(vintage)
    obs = vintage.observations
    key = _cache_key(obs, settings, dataset)
    path = CACHE_DIR / f"{key}.nc"
    if cache and path.is_file():
        idata = az.from_netcdf(path)
        diag = Diagnostics(**{k: v for k, v in json.loads(idata.attrs["diagnostics"]).items() if k != "ok"})
        return Fit(layout, obs, idata, diag, settings, key, from_cache=True)

    from .growth import build_model
    from .layout import data_rich
    from .prior_only import draw_prior_only

    fitted = layout.subset(data_rich(layout, obs, dataset.targets))
    fobs = obs[obs["indicator"].isin(fitted.indicators)].reset_index(drop=True)
    model = build_model(fitted, fobs, fitted.index(fobs))
    start = time.perf_counter()
    idata = _sample(model, settings, progress)
    seconds = time.perf_counter() - start
    diag = _diagnostics(idata, seconds)
    post = {k: _stack(idata.posterior[k].to_numpy()) for k in ("x", "mu", "sigma", "sigma_class")}
    post["noise_level"] = _stack(idata.posterior["source_noise_level"].to_numpy()) + priors.NOISE_FLOOR_LEVEL
    post["classes"] = list(idata.posterior["klass"].to_numpy())
    full, unanchored = draw_prior_only(layout, fitted, post, obs, seed)
    shape = idata.posterior["mu"].shape[:2]
    for name, arr in full.items():
        dims = ("chain", "draw", "series", "year")[: arr.ndim + 1]
        idata.posterior[f"{name}_all"] = (dims, arr.reshape(*shape, *arr.shape[1:]))
    idata.posterior = idata.posterior.assign_coords(series=layout.base)
    idata.attrs.update(diagnostics=json.dumps(diag.as_dict()), settings=json.dumps(settings.as_dict()),
                       versions=json.dumps(package_versions()), data_hash=data_hash(obs),
                       fitted=json.dumps(fitted.base), unanchored=json.dumps(unanchored))
    if cache:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        idata.to_netcdf(tmp)
        tmp.replace(path)
    return Fit(layout, obs, idata, diag, settings, key)


def _stack(arr: np.ndarray) -> np.ndarray:
    return arr.reshape((-1, *arr.shape[2:]))


def _sample(model, settings: FitSettings, progress: bool) -> az.InferenceData:
    """NUTS via nutpie (low-rank mass matrix: the paths are correlated) or PyMC's sampler as fallback."""
    try:
        import nutpie
    except ImportError:
        nutpie = None
    if nutpie is not None and SAMPLER == "nutpie":
        compiled = nutpie.compile_pymc_model(model)
        return nutpie.sample(compiled, draws=settings.draws, tune=settings.tune, chains=settings.chains,
                             cores=min(settings.chains, 2), seed=settings.seed, progress_bar=progress,
                             target_accept=settings.target_accept, low_rank_modified_mass_matrix=True)
    import pymc as pm

    with model:
        return pm.sample(draws=settings.draws, tune=settings.tune, chains=settings.chains,
                         cores=min(settings.chains, 2), random_seed=settings.seed,
                         target_accept=settings.target_accept, progressbar=progress,
                         compute_convergence_checks=False)
