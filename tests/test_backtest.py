"""Backtest machinery: scores against closed forms, and which figures a vintage is scored on."""

import numpy as np
import pandas as pd
import pytest
import scoringrules as sr
from scipy import stats

from model.backtest import later_figures, wilson
from model.predict import summarise


def test_wilson_interval_closed_form():
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)


def test_later_figures_are_after_the_vintage(dataset):
    later = later_figures(dataset, "2021-05-25", 2020)
    assert len(later) > 50
    assert (later["published"] > pd.Timestamp("2021-05-25")).all() and (later["year"] > 2020).all()
    assert not later.duplicated(["indicator", "year", "span_start", "kind", "value"]).any()


def test_pit_and_crps_of_normal_draws():
    rng = np.random.default_rng(0)
    draws = rng.normal(0, 1, (20_000, 1))
    s = summarise(draws, np.array([0.5]))
    assert s.at[0, "pit"] == pytest.approx(stats.norm.cdf(0.5), abs=0.01)
    assert s.at[0, "crps"] == pytest.approx(float(sr.crps_normal(0.5, 0, 1)), abs=0.01)
    assert s.at[0, "q05"] == pytest.approx(-1.645, abs=0.05)


def test_calibration_of_pit_on_simulated_truth():
    """If the truth is drawn from the predictive distribution, PITs are uniform and 80% intervals cover ~80%."""
    rng = np.random.default_rng(3)
    draws = rng.normal(rng.normal(0, 1, 300), 1.0, (4000, 300))
    truth = draws[0] + 0  # one draw of each column plays the truth
    s = summarise(draws[1:], truth)
    assert stats.kstest(s["pit"], "uniform").pvalue > 0.01
    cover = ((truth >= s["q10"]) & (truth <= s["q90"])).mean()
    assert 0.72 < cover < 0.88


def test_brier_decomposition_adds_up_and_reliability_table():
    from model.backtest import brier_decomposition, reliability_table

    rng = np.random.default_rng(2)
    p = rng.uniform(0, 1, 60)
    o = (rng.uniform(0, 1, 60) < p).astype(float)
    d = brier_decomposition(p, o)
    assert d["brier"] == pytest.approx(np.mean((p - o) ** 2))
    parts = d["reliability"] - d["resolution"] + d["uncertainty"] + d["within_variance"] - 2 * d["within_covariance"]
    assert parts == pytest.approx(d["brier"], abs=1e-12)
    same = brier_decomposition(np.repeat([0.1, 0.5, 0.9], 4), o[:12])  # one forecast per bin: Murphy's three terms
    assert same["within_variance"] == same["within_covariance"] == 0
    table = reliability_table(p, o)
    assert table["targets"].sum() == 60 and table["met"].sum() == o.sum()
    used = table[table["targets"] > 0]
    assert ((used["share_met_low"] <= used["share_met"]) & (used["share_met"] <= used["share_met_high"])).all()
    assert ((used["mean_p"] >= used["bin_low"]) & (used["mean_p"] <= used["bin_high"])).all()


def test_plan13_record_end_to_end(dataset, tmp_path):
    """Fit on figures about 2015 and earlier (short chains, cached), score the 13th plan's targets."""
    from model.backtest import plan13_record, write_plan13

    record, summary, reliability = plan13_record(dataset, draws=150, tune=150, seed=11, n_paths=800)
    assert {"target_id", "indicator", "comparator", "threshold", "p_attained", "outcome", "met", "evidence"} <= set(
        record.columns)
    assert (record["status"] == "evaluated").all() and record["p_attained"].between(0, 1).all()
    assert record["target_id"].str.startswith("p13_").all() and len(record) >= 15
    water = record.set_index("target_id").loc["p13_worse_than_v_water_share"]
    assert water["met"]  # the outcome 0 meets a ceiling of 0 (its probability: tests/test_attainment.py)
    v = summary.set_index("measure")["value"]
    o = record["met"].astype(float)
    assert v["Brier score, model"] == pytest.approx(np.mean((record["p_attained"] - o) ** 2))
    assert v["Brier score, 'every target is met'"] == pytest.approx(np.mean((1 - o) ** 2))
    assert v["Brier score, base rate"] == pytest.approx(np.mean((o.mean() - o) ** 2))
    parts = (v["reliability (lower is better)"] - v["resolution (higher is better)"] + v["uncertainty"]
             + v["within-bin variance"] - 2 * v["within-bin covariance"])
    assert parts == pytest.approx(v["Brier score, model"], abs=1e-9)
    assert reliability["targets"].sum() == len(record)
    (tmp_path / "backtest.md").write_text("# Vintage backtest\n", encoding="utf-8")
    write_plan13(record, summary, reliability, tmp_path)
    for name in ("plan13_record.csv", "plan13_summary.csv", "reliability.csv", "reliability_diagram.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert "13th-plan target record" in (tmp_path / "backtest.md").read_text(encoding="utf-8")
