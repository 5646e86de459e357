"""Fitting: sample the growth model for a data vintage, check convergence, cache the posterior.

``fit(as_of=..., data_through=..., seed=...)`` returns a :class:`Fit`: the posterior of the latent
paths and their dynamics, its diagnostics, and :meth:`Fit.predict` for any figure rows. The
posterior is cached on disk under ``.cache/fits/<key>.nc`` (:data:`CACHE_DIR`; the environment variable
``CHANGZHI_CACHE`` overrides the folder); the key hashes the observations used, the catalogue, the targets,
the plans' signals, the sampler settings, the model's source code and the package versions, so the same
inputs never refit and any change does.

The cache never holds a partial posterior and is never trusted blindly (:mod:`model.cache`):

* only a completed fit is written: a trace with fewer chains × draws than asked or NaN in any posterior
  variable (what nutpie returns when sampling is interrupted by Ctrl-C) raises :class:`FitInterrupted`
  and nothing is written; a Ctrl-C during compilation or sampling propagates before any write;
* every file carries its key, settings, draw count and a checksum, all verified on load; a file that is
  unreadable or does not match is reported (a :class:`model.cache.CacheWarning` naming the path and what
  is wrong), moved aside to ``<key>.bad-<n>.nc`` and refitted, never used;
* a loaded posterior is read whole into memory, so deleting or replacing the file later cannot affect it;
* writes go to a uniquely named temporary file replaced atomically onto ``<key>.nc``; an unwritable cache
  folder gives a warning naming it and the fit is returned uncached.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd

from . import cache as cache_mod
from . import data as data_mod
from . import priors
from .errors import InputError
from .layout import Layout, build_layout

CACHE_DIR = Path(os.environ.get("CHANGZHI_CACHE", data_mod.ROOT / ".cache" / "fits"))
"""Posterior cache folder; the environment variable ``CHANGZHI_CACHE`` overrides it."""
MODEL_SOURCES = ("growth.py", "layout.py", "operators.py", "priors.py", "fit.py", "sparse.py", "planner.py",
                 "joint.py", "marginal.py")
ENGINES = ("joint", "sampled")
"""``joint``: one posterior of the parameters with the paths integrated out (:mod:`model.joint`), the default;
``sampled``: the earlier engine (NUTS over the paths of 19 data-rich indicators, the rest by importance
resampling, :mod:`model.sparse`), kept for the side-by-side benchmark until it is removed."""
SAMPLER = "nutpie"
QUANTILES = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95)
STORED_DRAWS = 1000
"""Draws kept on disk over all chains (each chain thinned evenly), in single precision: the paths of 345
indicators over 10 years are 14 MB per 1000 draws."""
WEAK_ESS = 5.0
"""A sparse indicator whose importance weights have a mean Kish ESS below this (per posterior draw) is named
in every output: its few figures sit far in the tails of its class prior (poverty incidence 17.5% → 0.07%)."""


class FitInterrupted(KeyboardInterrupt):
    """Sampling stopped before every chain had every draw (Ctrl-C): the partial trace is discarded, nothing
    is cached. A :class:`KeyboardInterrupt`, so the command line reports it as an interruption (exit 130)."""


@dataclass(frozen=True)
class FitSettings:
    """What determines a posterior besides the data: vintage, sampler and its seed."""

    as_of: str | None = None
    data_through: int | None = None
    draws: int = 2500
    tune: int = 1000
    chains: int = 2
    target_accept: float = 0.9
    seed: int = 20210525
    engine: str = "joint"

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
    weak_sparse: list[str] = field(default_factory=list)
    ok: bool = field(init=False)

    def __post_init__(self):
        self.ok = bool(self.max_rhat <= 1.01 and self.min_ess_bulk >= 400 and self.min_ess_tail >= 400
                       and self.divergences == 0)

    def as_dict(self) -> dict:
        return {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in self.__dict__.items()}

    def flag(self) -> str:
        """One line for every output: 'converged' or what failed."""
        from .sparse import PROPOSALS

        weak = (f"; importance weights nearly degenerate (ESS < {WEAK_ESS:g} of {PROPOSALS}, data far in the tails of "
                f"the class prior) for {', '.join(self.weak_sparse)}" if self.weak_sparse else "")
        if self.ok:
            return "converged" + weak
        return (f"NOT CONVERGED (max R-hat {self.max_rhat:.3f}, min bulk ESS {self.min_ess_bulk:.0f}, "
                f"min tail ESS {self.min_ess_tail:.0f}, {self.divergences} divergences): treat results with caution"
                + weak)


def package_versions() -> dict[str, str]:
    return {p: importlib.metadata.version(p) for p in ("numpy", "scipy", "pandas", "pymc", "pytensor", "arviz")}


def _structure_key(obs: pd.DataFrame, dataset: data_mod.Dataset, signals: pd.DataFrame) -> str:
    """Hash of what defines the model: figures, catalogue, targets, the plans' signals, code and versions."""
    h = hashlib.sha256()
    h.update(obs.drop(columns=["file"]).to_csv(index=False).encode())
    # the catalogue (transforms, classes, links) and the targets (which indicators are sampled) shape the model
    h.update(dataset.catalogue.to_csv(index=False).encode())
    h.update(dataset.targets[["target_id", "indicator"]].to_csv(index=False).encode())
    h.update(signals.to_csv(index=False).encode())
    h.update(json.dumps(package_versions(), sort_keys=True).encode())
    for name in MODEL_SOURCES:
        h.update((data_mod.ROOT / "model" / name).read_bytes())
    return h.hexdigest()[:16]


def _cache_key(structure: str, settings: FitSettings) -> str:
    """The model's hash with the sampler settings: one posterior."""
    return hashlib.sha256((structure + json.dumps(settings.as_dict(), sort_keys=True)).encode()).hexdigest()[:16]


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
        """Posterior draws with chains stacked first: (n_draws, ...). ``x`` (latent paths), ``mu`` (trend
        of the plan period of the last fitted year), ``mu_base`` (long-run trend), ``sigma`` (volatility) and
        ``mu_ahead`` (trends of the later periods a plan states, :attr:`ahead`) cover every base indicator
        (sampled and sparse); ``sigma_class``, ``noise_level`` and
        ``noise_growth`` (floors included) every class (``klass_all``)."""
        if name in ("x", "mu", "mu_base", "sigma", "sigma_class", "noise_level", "noise_growth", "mu_ahead"):
            name = f"{name}_all"
        return _stack(self.idata.posterior[name].to_numpy())

    @property
    def unanchored(self) -> list[str]:
        """Indicators with no level figure: their level is unknown (only growth can be evaluated)."""
        return json.loads(self.idata.attrs.get("unanchored", "[]"))

    @property
    def sparse_ess(self) -> dict[str, float]:
        """Mean Kish effective sample size of the importance weights per sparse indicator (of
        :data:`model.sparse.PROPOSALS` proposals per draw): near 1 means the draws are poor."""
        return json.loads(self.idata.attrs.get("sparse_ess", "{}"))

    @property
    def timings(self) -> dict[str, float]:
        """Seconds spent building and compiling the model (0 when this process had compiled it), sampling,
        and drawing the sparse indicators, when the fit was computed (not loaded from the cache)."""
        return json.loads(self.idata.attrs.get("timings", "{}"))

    @property
    def ahead(self) -> list[int]:
        """Plan periods after the fitted years whose trends the fit drew given the plans' statements of them."""
        post = self.idata.posterior
        return [int(p) for p in post["ahead"].to_numpy()] if "ahead" in post.coords else []

    @property
    def planner(self) -> pd.DataFrame:
        """The plans' statements of period trends the fit used or the simulation uses (:mod:`model.planner`):
        indicator, period, implied trend per year on the natural scale, target ids."""
        from .planner import SIGNAL_COLUMNS

        frame = pd.read_json(io.StringIO(self.idata.attrs.get("planner", "[]")), orient="records")
        return frame if len(frame) else pd.DataFrame(columns=SIGNAL_COLUMNS)

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


class NotCached(InputError):
    """A caller asked for a cached posterior only (``refit=False``) and none matches."""


def _identify(dataset: data_mod.Dataset, settings: FitSettings):
    """Layout, observations, plan signals, structure hash and cache key of a fit (no sampling)."""
    from .planner import signals as planner_signals

    vintage = dataset.vintage(settings.as_of, settings.data_through)
    layout = build_layout(vintage)
    obs = vintage.observations
    signals = planner_signals(dataset.targets, obs, dataset.catalogue, settings.as_of, settings.data_through)
    signals = signals[signals["indicator"].isin(layout.base)].reset_index(drop=True)
    structure = _structure_key(obs, dataset, signals)
    return layout, obs, signals, structure, _cache_key(structure, settings)


def fit_key(dataset: data_mod.Dataset, as_of: str | None = None, data_through: int | None = None,
            seed: int = FitSettings.seed, draws: int = FitSettings.draws, tune: int = FitSettings.tune,
            chains: int = 2, engine: str = FitSettings.engine) -> str:
    """The cache key :func:`fit` would use (data, settings, model code and versions), without fitting."""
    settings = FitSettings(as_of=as_of, data_through=data_through, draws=draws, tune=tune, chains=chains, seed=seed,
                           **({} if engine == "joint" else {"engine": engine, "target_accept": 0.99}))
    return _identify(dataset, settings)[-1]


def fit(dataset: data_mod.Dataset | None = None, as_of: str | None = None, data_through: int | None = None,
        seed: int = FitSettings.seed, draws: int = FitSettings.draws, tune: int = FitSettings.tune, chains: int = 2,
        cache: bool = True, progress: bool = False, refit: bool = True, engine: str = FitSettings.engine) -> Fit:
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
    refit : bool
        False: only a cached posterior will do; raise :class:`NotCached` rather than sample (``report``).

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
    if engine not in ENGINES:
        raise InputError(f"engine: {engine!r} is not one of {', '.join(ENGINES)}")
    settings = FitSettings(as_of=as_of, data_through=data_through, draws=draws, tune=tune, chains=chains, seed=seed,
                           **({} if engine == "joint" else {"engine": engine, "target_accept": 0.99}))
    layout, obs, signals, structure, key = _identify(dataset, settings)
    path = CACHE_DIR / f"{key}.nc"
    stored = stored_draws(settings)
    idata = cache_mod.load(path, key, settings.as_dict(), stored) if cache else None
    if idata is not None:
        diag = Diagnostics(**{k: v for k, v in json.loads(idata.attrs["diagnostics"]).items() if k != "ok"})
        return Fit(layout, obs, idata, diag, settings, key, from_cache=True)
    if not refit:
        raise NotCached(f"no cached posterior for as_of={as_of}, data_through={data_through}, {draws} draws, "
                        f"seed {seed} (key {key}, looked in {CACHE_DIR}): fitting it takes minutes; ask for it "
                        "explicitly (e.g. `run.py report --refit`)")

    with one_blas_thread():
        if settings.engine == "joint":
            return _fit_joint(layout, obs, signals, structure, settings, key, path, stored, cache, progress)
        return _fit_sampled(dataset, layout, obs, signals, structure, settings, key, path, stored, cache, progress)


def _fit_sampled(dataset, layout, obs, signals, structure, settings, key, path, stored, cache, progress) -> Fit:
    """The earlier engine: NUTS over the data-rich indicators' paths, the rest by importance resampling."""
    from .growth import ahead_periods, build_model, distinct_figures, plan_period
    from .layout import data_rich
    from .sparse import draw_sparse

    fitted = layout.subset(data_rich(layout, obs, dataset.targets))
    timings = {}
    start = time.perf_counter()
    if structure not in _COMPILED:  # the model's data and code, not the sampler settings
        fobs = distinct_figures(obs[obs["indicator"].isin(fitted.indicators)])
        _COMPILED[structure] = _compile(build_model(fitted, fobs, fitted.index(fobs), signals))
    timings["build and compile"] = time.perf_counter() - start
    start = time.perf_counter()
    idata = _sample(_COMPILED[structure], settings, progress)
    check_complete(idata, settings)
    seconds = timings["sample"] = time.perf_counter() - start
    diag = _diagnostics(idata, seconds)
    idata = idata.isel(draw=slice(None, None, _thin(settings)))  # diagnostics on every draw; store a thinned sample
    post = {k: _stack(idata.posterior[k].to_numpy()) for k in ("x", "sigma", "sigma_class")}
    post["mu_base"] = _stack(idata.posterior["mu"].to_numpy())
    post["mu"] = _stack(idata.posterior["drift"].sel(period=int(plan_period(layout.years[-1]))).to_numpy())
    ahead = ahead_periods(layout, signals)
    post["mu_ahead"] = _stack(idata.posterior["drift"].sel(period=list(ahead)).to_numpy())
    post["classes"] = list(idata.posterior["klass"].to_numpy())
    for fam, floor in (("level", priors.NOISE_FLOOR_LEVEL), ("growth", priors.NOISE_FLOOR_GROWTH)):
        post[f"noise_{fam}"] = _stack(idata.posterior[f"source_noise_{fam}"].to_numpy()).reshape(-1) + floor
    post["sigma_class"] = class_scale(fitted, post, np.random.default_rng(settings.seed))
    start = time.perf_counter()
    full, unanchored, ess = draw_sparse(layout, fitted, post, obs, settings.seed, signals=signals)
    timings["sparse indicators"] = time.perf_counter() - start
    diag.weak_sparse = sorted(i for i, e in ess.items() if e < WEAK_ESS)
    shape = idata.posterior["mu"].shape[:2]
    for name in ("x", "mu", "mu_base", "sigma", "sigma_class", "noise_level", "noise_growth", "mu_ahead"):
        arr = full[name]
        dims = ("chain", "draw", "klass_all" if name in ("sigma_class", "noise_level", "noise_growth") else "series",
                "ahead" if name == "mu_ahead" else "year")[: arr.ndim + 1]
        idata.posterior[f"{name}_all"] = (dims, arr.reshape(*shape, *arr.shape[1:]))
    idata.posterior = idata.posterior.assign_coords(series=layout.base, klass_all=full["classes"], ahead=list(ahead))
    idata.attrs.update(diagnostics=json.dumps(diag.as_dict()), settings=json.dumps(settings.as_dict()),
                       versions=json.dumps(package_versions()), data_hash=data_hash(obs),
                       fitted=json.dumps(fitted.base), unanchored=json.dumps(unanchored),
                       sparse_ess=json.dumps(ess), timings=json.dumps(timings),
                       planner=signals.to_json(orient="records"))
    if cache:
        cache_mod.store(path, idata, key, settings.as_dict(), stored)
    return Fit(layout, obs, idata, diag, settings, key)


def _fit_joint(layout, obs, signals, structure, settings, key, path, stored, cache, progress) -> Fit:
    """Sample the joint model's parameters (:mod:`model.joint`), then draw every path given each draw."""
    from .joint import FAMILIES, build_model, build_structure, smooth

    timings = {}
    start = time.perf_counter()
    st = build_structure(layout, obs, signals)
    if structure not in _COMPILED:
        _COMPILED[structure] = _compile(build_model(st))
    timings["build and compile"] = time.perf_counter() - start
    start = time.perf_counter()
    idata = _sample(_COMPILED[structure], settings, progress)
    check_complete(idata, settings)
    seconds = timings["sample"] = time.perf_counter() - start
    diag = _diagnostics(idata, seconds)
    idata = idata.isel(draw=slice(None, None, _thin(settings)))
    idata.posterior = idata.posterior.drop_vars([k for k in idata.posterior.data_vars if k.endswith("_log__")])
    for group in ("warmup_posterior", "warmup_sample_stats"):  # tuning draws: nothing downstream reads them
        if group in idata.groups():
            delattr(idata, group)
    post = {k: _stack(v.to_numpy()) for k, v in idata.posterior.data_vars.items()}
    start = time.perf_counter()
    paths = smooth(st, post, settings.seed)
    timings["paths"] = time.perf_counter() - start
    shape = idata.posterior["trend_mean"].shape[:2]
    n_cls = len(st.classes)
    report = [FAMILIES.index("report_level"), FAMILIES.index("report_growth")]
    paths["sigma_class"] = post["sigma_class"]
    paths["noise_level"] = np.repeat(post["tau"][:, report[0], None], n_cls, axis=1)
    paths["noise_growth"] = np.repeat(post["tau"][:, report[1], None], n_cls, axis=1)
    ahead = [int(p) for p in st.periods if p > int(np.max(_plan_periods(layout.years)))]
    for name in ("x", "mu", "mu_base", "sigma", "sigma_class", "noise_level", "noise_growth", "mu_ahead"):
        arr = paths[name]
        dims = ("chain", "draw", "klass_all" if name in ("sigma_class", "noise_level", "noise_growth") else "series",
                "ahead" if name == "mu_ahead" else "year")[: arr.ndim + 1]
        idata.posterior[f"{name}_all"] = (dims, arr.reshape(*shape, *arr.shape[1:]).astype(STORED_DTYPE))
    idata.posterior = idata.posterior.assign_coords(series=layout.base, klass_all=st.classes, ahead=ahead,
                                                    year=layout.years)
    for name in idata.posterior.data_vars:
        idata.posterior[name] = idata.posterior[name].astype(STORED_DTYPE)
    idata.attrs.update(diagnostics=json.dumps(diag.as_dict()), settings=json.dumps(settings.as_dict()),
                       versions=json.dumps(package_versions()), data_hash=data_hash(obs), fitted="[]",
                       unanchored=json.dumps(st.unanchored), sparse_ess="{}", timings=json.dumps(timings),
                       planner=signals.to_json(orient="records"), engine="joint")
    if cache:
        cache_mod.store(path, idata, key, settings.as_dict(), stored)
    return Fit(layout, obs, idata, diag, settings, key)


STORED_DTYPE = np.float32
"""Draws are stored in single precision (7 digits: far below any figure's rounding) to keep the file small;
the diagnostics are computed before, on every draw in double precision."""


def _plan_periods(years):
    from .growth import plan_period

    return plan_period(years)


def _thin(settings: FitSettings) -> int:
    """Keep every n-th draw of each chain: at most :data:`STORED_DRAWS` are stored over all chains."""
    return -(-settings.chains * settings.draws // STORED_DRAWS)


def stored_draws(settings: FitSettings) -> int:
    """Chains × draws kept on disk (each chain thinned evenly, :func:`_thin`)."""
    return settings.chains * len(range(0, settings.draws, _thin(settings)))


def check_complete(idata: az.InferenceData, settings: FitSettings) -> None:
    """Raise :class:`FitInterrupted` unless the sampled trace has every chain and draw and no NaN.

    nutpie catches Ctrl-C and returns the trace so far, padded with NaN to the full length; PyMC returns
    fewer draws. Either must never be used or cached as the posterior of the full settings."""
    post = idata.posterior if "posterior" in idata.groups() else None
    shape = (int(post.sizes.get("chain", 0)), int(post.sizes.get("draw", 0))) if post is not None else (0, 0)
    wrong = []
    if shape != (settings.chains, settings.draws):
        wrong.append(f"{shape[0]} chains × {shape[1]} draws of {settings.chains} × {settings.draws}")
    if post is not None:
        nan = sorted(name for name, v in post.data_vars.items()
                     if v.dtype.kind in "fc" and bool(np.isnan(v.to_numpy()).any()))
        if nan:
            complete = np.ones(shape, dtype=bool)  # draws with no NaN in any variable
            for name in nan:
                complete &= ~np.isnan(post[name].to_numpy().reshape(*shape, -1)).any(axis=-1)
            done = complete.sum(axis=1).tolist()
            wrong.append(f"NaN in {', '.join(nan)} (completed draws per chain: {done})")
    if wrong:
        raise FitInterrupted(f"sampling stopped before it finished ({'; '.join(wrong)}): nothing was cached")


def class_scale(fitted: Layout, post: dict, rng) -> np.ndarray:
    """Class volatility draws (n, n_classes). A class with one sampled member was sampled as that member's
    volatility (:func:`model.growth.build_model`); its class scale is drawn from its exact conditional,
    log σ_c | log σ_i ~ N(log v + ρ (log σ_i − log v), ρ s_i²), ρ = s_c² / (s_c² + s_i²)."""
    out = post["sigma_class"].copy()
    members = [[i for i in fitted.base if fitted.klass(i) == c] for c in post["classes"]]
    sc2, si2 = priors.VOL_CLASS_SPREAD**2, priors.VOL_INDICATOR_SPREAD**2
    rho = sc2 / (sc2 + si2)
    for k, (c, who) in enumerate(zip(post["classes"], members)):
        if len(who) == 1:
            centre = np.log(priors.CLASS_PRIORS[c].vol)
            out[:, k] = np.exp(centre + rho * (np.log(out[:, k]) - centre)
                               + np.sqrt(rho * si2) * rng.standard_normal(len(out)))
    return out


def _stack(arr: np.ndarray) -> np.ndarray:
    return arr.reshape((arr.shape[0] * arr.shape[1], *arr.shape[2:]))  # not -1: arrays may be empty


_COMPILED: dict[str, object] = {}
"""Compiled models of this process by data and code: a refit with other sampler settings or seed reuses one."""


def one_blas_thread():
    """Context: BLAS/LAPACK on one thread. The model's matrices are tiny (≤ 40 × 40, batched), and OpenBLAS
    threads on them cost more than the work: measured on 2 cores, one log-density and gradient took 130 ms with
    the default threads and 1.5 ms with one. Chains still run in parallel (one per core)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _compile(model):
    """The model compiled for nutpie (numba), or the PyMC model itself when nutpie is missing."""
    try:
        import nutpie
    except ImportError:
        return model
    return nutpie.compile_pymc_model(model) if SAMPLER == "nutpie" else model


def _sample(compiled, settings: FitSettings, progress: bool) -> az.InferenceData:
    """NUTS via nutpie (low-rank mass matrix: the paths are correlated) or PyMC's sampler as fallback."""
    import pymc as pm

    if not isinstance(compiled, pm.Model):
        import nutpie

        return nutpie.sample(compiled, draws=settings.draws, tune=settings.tune, chains=settings.chains,
                             cores=min(settings.chains, 2), seed=settings.seed, progress_bar=progress,
                             target_accept=settings.target_accept, low_rank_modified_mass_matrix=True)
    with compiled:
        return pm.sample(draws=settings.draws, tune=settings.tune, chains=settings.chains,
                         cores=min(settings.chains, 2), random_seed=settings.seed,
                         target_accept=settings.target_accept, progressbar=progress,
                         compute_convergence_checks=False)
