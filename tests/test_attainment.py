"""Attainment probabilities on synthetic draws against closed forms."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from model.attainment import attained, joint_results


def test_normal_draws_match_normal_cdf():
    rng = np.random.default_rng(1)
    q = rng.normal(10.0, 2.0, 200_000)
    for thr in (7.0, 10.0, 12.5):
        assert attained(q, ">=", thr, None, "level").mean() == pytest.approx(stats.norm.sf(thr, 10, 2), abs=0.005)
        assert attained(q, "<=", thr, None, "level").mean() == pytest.approx(stats.norm.cdf(thr, 10, 2), abs=0.005)
    p = attained(q, "range", 8.0, 12.0, "level").mean()
    assert p == pytest.approx(stats.norm.cdf(12, 10, 2) - stats.norm.cdf(8, 10, 2), abs=0.005)


def test_about_is_a_floor_with_tolerance():
    q = np.array([5.4, 5.6, 6.0, 7.5])
    assert attained(q, "about", 6.0, None, "yoy_growth").tolist() == [False, True, True, True]
    q = np.array([2700.0, 2750.0, 2900.0])  # 2% of 2800 = 56
    assert attained(q, "about", 2800.0, None, "level").tolist() == [False, True, True]


def test_average_growth_target_by_hand(small_fit):
    """P(avg real GDP growth 2021-25 > 8%) from paths equals the hand computation on the same paths."""
    from model.attainment import target_quantity
    from model.simulate import simulate

    paths = simulate(small_fit, 2025, n_paths=500, seed=3)
    rows = pd.DataFrame([dict(indicator="gdp", year=2025, span_start=2021, kind="avg_growth", price_basis="real")])
    q, ok = target_quantity(paths, rows)
    j = paths.layout.base.index("gdp")
    col = lambda y: y - paths.layout.years[0]
    by_hand = 100 * (np.exp((paths.x[:, j, col(2025)] - paths.x[:, j, col(2020)]) / 5) - 1)
    assert ok[0]
    np.testing.assert_allclose(q[:, 0], by_hand, rtol=1e-10)
    assert attained(q[:, 0], ">", 8.0, None, "avg_growth").mean() == pytest.approx((by_hand > 8).mean())


def test_joint_results():
    hits = pd.DataFrame({"a": [True, True, False, True], "b": [True, False, False, True]})
    table = pd.DataFrame({"target_id": ["a", "b"], "attribute": ["约束性", "预期性"]})
    joint, corr = joint_results(hits, table)
    j = joint.set_index("event")["probability"]
    assert j["all evaluated targets"] == 0.5
    assert j["all binding (约束性) targets"] == 0.75
    assert j["at least 1 of 2"] == 0.75
    assert corr.loc["a", "b"] == pytest.approx(np.corrcoef([1, 1, 0, 1], [1, 0, 0, 1])[0, 1])


def test_printed_zero_ceiling_is_half_a_unit(dataset):
    """'≤ 0%' of a share (eliminate worse-than-V water) is read as below half a unit of the printed 0."""
    from model.attainment import read_threshold

    t = dataset.targets.loc["p13_worse_than_v_water_share"]
    assert t["threshold"] == 0 and t["threshold_half_unit"] == 0.5
    assert read_threshold(t["threshold"], t["comparator"], t["kind"], t["threshold_half_unit"]) == 0.5
    assert read_threshold(0.0, "<=", "share", 0.05) == 0.05  # printed "0.0"
    assert read_threshold(0.0, "<", "count") == 0.5  # no printed form (scenario override): as %g prints it
    assert read_threshold(-30.0, "<=", "cum_growth", 0.5) == -30.0  # growth can be negative: as printed
    assert read_threshold(0.0, ">=", "share", 0.5) == 0.0
    assert read_threshold(3.5, "<=", "share", 0.05) == 3.5
    assert read_threshold(100.0, ">=", "share", 0.5) == 99.5  # "all sections": printed 100 reads as ≥ 99.5
    assert read_threshold(100.0, "<=", "share", 0.5) == 100.0
    share = 100 / (1 + np.exp(-np.random.default_rng(0).normal(-5, 1, 10_000)))  # a logit-scale share near 0.7%
    assert attained(share, "<=", 0.0, None, "share").mean() == 0
    assert attained(share, "<=", read_threshold(0.0, "<=", "share", 0.5), None, "share").mean() == pytest.approx(
        (share <= 0.5).mean())
