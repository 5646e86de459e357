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
