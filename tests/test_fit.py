"""Fitting: vintages, the posterior cache, convergence reporting and parameter recovery."""

import importlib

import numpy as np
import pandas as pd
import pytest

from model import data
from model.fit import fit


def test_vintage_2021_sees_no_2023_figures(dataset):
    from model.layout import build_layout

    v = dataset.vintage("2021-05-25")
    assert not (v.observations["year"] >= 2021).any()
    assert set(v.observations["source"].str[:3]) <= {"002", "003"}
    assert build_layout(v).years[-1] == 2020


def test_cache_hit_does_not_resample(small_fit, dataset, monkeypatch):
    fit_mod = importlib.import_module("model.fit")

    def boom(*a, **k):
        raise AssertionError("sampled again")

    monkeypatch.setattr(fit_mod, "_sample", boom)
    again = fit(dataset, as_of="2024-03-31", draws=small_fit.settings.draws, tune=small_fit.settings.tune,
                chains=small_fit.settings.chains, seed=small_fit.settings.seed)
    assert again.from_cache and again.key == small_fit.key
    np.testing.assert_array_equal(again.draws("x"), small_fit.draws("x"))


def test_fit_covers_every_modelled_indicator(small_fit):
    x = small_fit.draws("x")
    assert x.shape[0] == small_fit.settings.chains * small_fit.settings.draws
    assert x.shape[1] == len(small_fit.layout.base)
    assert np.isfinite(x).all()


def test_diagnostics_are_those_of_the_stored_draws(small_fit):
    """The stored diagnostics (150 draws: nothing thinned) are recomputed from the posterior kept, and the flag
    says what they say."""
    fit_mod = importlib.import_module("model.fit")

    d = small_fit.diagnostics
    assert small_fit.idata.posterior.sizes["draw"] == small_fit.settings.draws
    again = fit_mod._diagnostics(small_fit.idata, d.seconds)
    numbers = ("max_rhat", "min_ess_bulk", "min_ess_tail", "divergences")
    assert [getattr(again, k) for k in numbers] == pytest.approx([getattr(d, k) for k in numbers], rel=1e-9)
    assert again.ok == d.ok
    assert d.divergences == int(small_fit.idata.sample_stats["diverging"].sum())
    flag = d.flag()
    assert flag.startswith("converged") == d.ok and flag.startswith("NOT CONVERGED") == (not d.ok)
    if not d.ok:
        assert f"max R-hat {d.max_rhat:.3f}" in flag and f"{d.divergences} divergences" in flag


def test_deflator_pinned_at_2020(small_fit):
    j = small_fit.layout.base.index("gdp_deflator")
    col = 2020 - small_fit.layout.years[0]
    assert np.abs(small_fit.draws("x")[:, j, col]).max() < 1e-9


def test_observations_inside_posterior_predictive(small_fit):
    """Nearly every observation lies inside its 90% posterior predictive interval (short chains)."""
    pred = small_fit.predict(small_fit.observations, n_draws=400, seed=1)
    ok = pred["q95"].notna()
    inside = (pred.loc[ok, "value"] >= pred.loc[ok, "q05"]) & (pred.loc[ok, "value"] <= pred.loc[ok, "q95"])
    assert ok.mean() > 0.9
    assert inside.mean() >= 0.85, pred.loc[ok & ~inside, ["indicator", "year", "kind", "value", "q05", "q95"]]


def _synthetic(true_mu=0.07, true_sd=0.02, seed=5):
    """Documents simulated from the model: GDP (real growth + nominal level) and urbanization."""
    rng = np.random.default_rng(seed)
    cat = data.shipped().catalogue.loc[["gdp", "gdp_deflator", "urbanization_rate"]].copy()
    years = np.arange(2010, 2024)
    real = np.log(1000) + np.concatenate([[0], np.cumsum(true_mu + true_sd * rng.standard_normal(len(years) - 1))])
    defl = np.concatenate([[0], np.cumsum(0.02 + 0.03 * rng.standard_normal(len(years) - 1))])
    defl -= defl[years == 2020]
    urb = -0.2 + 0.06 * np.arange(len(years)) + 0.03 * rng.standard_normal(len(years)).cumsum()
    rows = []
    base = dict(span_start=pd.NA, comparator="=", source="synthetic", line=pd.NA, quote="", note="",
                published=pd.Timestamp("2024-01-01"), file="synthetic", half_unit=0.05)
    for k, y in enumerate(years):
        rows.append(dict(base, indicator="gdp", year=y, kind="level", unit="亿元", price_basis="nominal",
                         value=round(float(np.exp(real[k] + defl[k])), 1)))
        if k:
            rows.append(dict(base, indicator="gdp", year=y, kind="yoy_growth", unit="%", price_basis="real",
                             value=round(float(100 * np.expm1(real[k] - real[k - 1])), 1)))
        rows.append(dict(base, indicator="urbanization_rate", year=y, kind="share", unit="%", price_basis="n.a.",
                         value=round(float(100 / (1 + np.exp(-urb[k]))), 1)))
    obs = pd.DataFrame(rows)
    obs["year"] = obs["year"].astype("Int64")
    obs["span_start"] = obs["span_start"].astype("Int64")
    targets = data.shipped().targets.iloc[:0]
    return data.Dataset(cat, obs, targets), real


@pytest.mark.slow
def test_parameter_and_path_recovery(tmp_path, monkeypatch):
    fit_mod = importlib.import_module("model.fit")

    monkeypatch.setattr(fit_mod, "CACHE_DIR", tmp_path)
    ds, real = _synthetic()
    f = fit(ds, draws=300, tune=300, seed=2)
    j = f.layout.base.index("gdp")
    mu = f.draws("mu")[:, j]
    lo, hi = np.quantile(mu, [0.05, 0.95])
    realised = np.diff(real).mean()  # the drift the data can reveal
    assert lo < realised < hi, (lo, realised, hi)
    path = f.draws("x")[:, j, :]
    inside = (np.quantile(path, 0.05, axis=0) <= real) & (real <= np.quantile(path, 0.95, axis=0))
    assert inside.mean() >= 0.8
