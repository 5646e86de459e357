"""Posterior checks of a fit: headline quantities and the posterior predictive check of every figure it read.

The predictive check asks of each exact figure ("=" or "about") whether it lies inside the central 95%
interval of its posterior predictive distribution (the model's path read through the figure's operator,
plus the document error of its kind of source). About 5% outside is what a calibrated model gives; far more
says the model cannot reproduce its own data, far fewer that its document errors are too wide.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .attainment import target_quantity
from .fit import Fit
from .predict import predictive_draws
from .simulate import simulate

PROVENANCE = ["source", "line", "quote", "published"]


def headline_quantities(fit: Fit, seed: int = 0) -> pd.DataFrame:
    """Mean and 5/50/95% quantiles of real GDP growth 2021–23, the GDP deflator 2015–25 (2020 = 1) and 2025
    nominal GDP (亿元), from paths simulated to 2025 under the fit's own trends."""
    rows = [dict(indicator="gdp", year=y, span_start=None, kind="yoy_growth", price_basis="real")
            for y in (2021, 2022, 2023)]
    rows += [dict(indicator="gdp_deflator", year=y, span_start=None, kind="level", price_basis="real")
             for y in range(2015, 2026)]
    rows += [dict(indicator="gdp", year=2025, span_start=None, kind="level", price_basis="nominal")]
    frame = pd.DataFrame(rows)
    q, _ = target_quantity(simulate(fit, 2025, seed=seed), frame)
    for p in (0.05, 0.5, 0.95):
        frame[f"q{round(p * 100):02d}"] = np.quantile(q, p, axis=0)
    frame["mean"] = q.mean(axis=0)
    return frame


def predictive_check(fit: Fit, seed: int = 1) -> pd.DataFrame:
    """One row per figure the fit read: its value, the 2.5% and 97.5% posterior predictive quantiles,
    ``readable`` (the model reads this figure) and ``outside`` (an exact figure outside that interval),
    with the figure's provenance."""
    obs = fit.observations.reset_index(drop=True)
    d = predictive_draws(fit, obs, seed=seed)
    readable = ~np.isnan(d).any(axis=0)
    lo, hi = np.full(len(obs), np.nan), np.full(len(obs), np.nan)
    if readable.any():
        lo[readable], hi[readable] = np.quantile(d[:, readable], [0.025, 0.975], axis=0)
    v = obs["value"].to_numpy(float)
    exact = obs["comparator"].isin(["=", "about"]).to_numpy()
    cols = ["indicator", "year", "span_start", "kind", "price_basis", "comparator", "value"]
    out = obs[cols + PROVENANCE].copy()
    out["pi95_low"], out["pi95_high"], out["readable"] = lo, hi, readable
    out["outside"] = readable & exact & ((v < lo) | (v > hi))
    return out


def predictive_markdown(check: pd.DataFrame, as_of: str | None) -> str:
    """The check as Markdown: the share of exact figures inside their 95% interval, then each one outside."""
    exact = check[check["readable"] & check["comparator"].isin(["=", "about"])]
    n, k = len(exact), int(exact["outside"].sum())
    lines = [f"# Posterior predictive check (fit as of {as_of or 'all documents'})", "",
             f"{int(check['readable'].sum())} of {len(check)} figures are read by the model; of its {n} exact "
             f"figures, {k} ({k / max(n, 1):.1%}) lie outside their central 95% posterior predictive interval "
             "(about 5% is what a calibrated model gives).", ""]
    if k:
        lines += ["| indicator | year | kind | value | 95% interval | source:line | quote |", "|---|---|---|---|---|---|---|"]
        for r in exact[exact["outside"]].itertuples():
            lines.append(f"| {r.indicator} | {r.year} | {r.kind} | {r.value:g} | {r.pi95_low:.4g} – {r.pi95_high:.4g} "
                         f"| {str(r.source)[:3]}:{r.line} | {str(r.quote).replace('|', '/')} |")
    return "\n".join(lines) + "\n"
