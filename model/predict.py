"""Posterior predictive distributions of figures, and their scores (PIT, CRPS, log score).

A predicted figure adds the observation noise of the growth model (rounding, the document
error of the indicator's class, 'about' tolerance) to the operator applied to the latent paths, so its intervals are
comparable with what a document will print.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scoringrules as sr

from .attainment import level_unknown, target_quantity
from .data import KINDS, YEAR_RANGE
from .errors import InputError
from .fit import QUANTILES, Fit
from .growth import observation_noise
from .operators import LOG_SCALE_OPS, OP_OF_KIND
from .simulate import prior_dynamics, simulate


def predictive_draws(fit: Fit, rows: pd.DataFrame, n_draws: int | None = None, seed: int = 0,
                     prior: bool = False) -> np.ndarray:
    """Draws (n_draws, n_rows) of each figure as it would be printed; NaN columns where unreadable.

    With ``prior=True`` the future trend and volatility come from the class priors (a baseline).
    Rows with an unknown kind, or a year outside 1949–2035, raise :class:`InputError` (a far year would
    simulate paths to it); rows before the fit's grid are unreadable (NaN). Files of rows are checked
    field by field by :func:`model.data.read_figure_rows`."""
    rows = rows.reset_index(drop=True).copy()
    _check_rows(rows)
    for col, default in (("span_start", np.nan), ("comparator", "="), ("half_unit", np.nan), ("source", "")):
        if col not in rows:
            rows[col] = default
    horizon = max(int(rows["year"].max()), fit.last_year)
    override = prior_dynamics(fit, seed + 7) if prior else None
    paths = simulate(fit, horizon=horizon, n_paths=n_draws, seed=seed, override=override)
    q, readable = target_quantity(paths, rows)
    readable &= ~level_unknown(fit, rows)
    rng = np.random.default_rng(seed + 1)
    # the document error: one per family, shared by every class (stored per class, all columns equal)
    post = {fam: fit.draws(f"noise_{fam}")[paths.posterior_draw, 0] for fam in ("level", "growth")}
    out = np.full_like(q, np.nan)
    for j, r in rows.iterrows():
        if not readable[j]:
            continue
        op = OP_OF_KIND[r["kind"]]
        fam = "level" if op in LOG_SCALE_OPS else "growth"
        tau = post[fam]
        known = 0.0
        if pd.notna(r.get("value")) and pd.notna(r["half_unit"]):
            known = observation_noise(rows.iloc[[j]], op)[0]
        sd = np.sqrt(tau**2 + known**2)
        noise = sd * rng.standard_normal(len(q))
        out[:, j] = np.exp(np.log(q[:, j]) + noise) if fam == "level" else q[:, j] + noise
    return out


def _check_rows(rows: pd.DataFrame) -> None:
    missing = [c for c in ("indicator", "year", "kind", "price_basis") if c not in rows]
    if missing:
        raise InputError(f"rows: missing column(s) {', '.join(missing)}")
    if rows.empty:
        raise InputError("rows: no rows to predict")
    low, high = YEAR_RANGE
    for j, r in rows.iterrows():
        if r["kind"] not in KINDS:
            raise InputError(f"rows: row {j}: kind {r['kind']!r} is not one of {', '.join(KINDS)}")
        for col in ("year", "span_start"):
            y = r.get(col)
            if col == "span_start" and pd.isna(y):
                continue
            if pd.isna(y) or float(y) != int(y) or not low <= int(y) <= high:
                raise InputError(f"rows: row {j}: {col} {y!r} is not a year in {low}–{high}")


def summarise(draws: np.ndarray, values: np.ndarray | None = None) -> pd.DataFrame:
    """Mean and quantiles per column; with ``values``, PIT, CRPS and log score (KDE) too."""
    cols = {"mean": np.nanmean(draws, axis=0) if draws.size else []}
    for p in QUANTILES:
        cols[f"q{round(p * 100):02d}"] = np.quantile(draws, p, axis=0)
    out = pd.DataFrame(cols)
    if values is not None:
        values = np.asarray(values, float)
        ok = ~np.isnan(values) & ~np.isnan(draws).any(axis=0)
        out["pit"] = np.where(ok, (draws < values).mean(axis=0), np.nan)
        out["crps"] = np.where(ok, sr.crps_ensemble(np.nan_to_num(values), np.nan_to_num(draws.T)), np.nan)
        out["log_score"] = np.where(ok, _log_score(draws, values), np.nan)
    return out


def _log_score(draws: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Negative log predictive density by a Gaussian KDE of the draws (Silverman bandwidth)."""
    out = np.full(draws.shape[1], np.nan)
    for j in range(draws.shape[1]):
        d, v = draws[:, j], values[j]
        if np.isnan(v) or np.isnan(d).any():
            continue
        h = 1.06 * max(d.std(), 1e-9) * len(d) ** -0.2
        dens = np.mean(np.exp(-0.5 * ((v - d) / h) ** 2)) / (h * np.sqrt(2 * np.pi))
        out[j] = -np.log(max(dens, 1e-300))
    return out


def predict(fit: Fit, rows: pd.DataFrame, n_draws: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Rows with ``mean``, ``q05`` … ``q95`` and, where ``value`` is given, ``pit``, ``crps``, ``log_score``."""
    rows = rows.reset_index(drop=True)
    draws = predictive_draws(fit, rows, n_draws, seed)
    values = rows["value"].to_numpy(float) if "value" in rows else None
    return pd.concat([rows, summarise(draws, values)], axis=1)
