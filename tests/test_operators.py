"""Each observation operator against its closed form, on NumPy and PyTensor alike."""

import numpy as np
import pytensor.tensor as pt
import pytest

from model.operators import cell_years, evaluate

LEVELS = np.log(np.array([100.0, 110.0, 121.0, 133.1, 146.41]))  # +10% a year, years 2015..2019


def _eval(kind, year, span=None, xp=np):
    years, w = cell_years(kind, year, span)
    idx = np.array([[y - 2015 for y in years]])
    from model.operators import OP_OF_KIND

    values = LEVELS if xp is np else pt.as_tensor(LEVELS)
    out = evaluate(OP_OF_KIND[kind], values, idx, np.array([w]), xp=xp)
    return float(out[0] if xp is np else out.eval()[0])


@pytest.mark.parametrize("xp", [np, pt])
def test_operators_closed_form(xp):
    assert _eval("level", 2017, xp=xp) == pytest.approx(121.0)
    assert _eval("yoy_growth", 2016, xp=xp) == pytest.approx(10.0)
    assert _eval("avg_growth", 2019, 2016, xp=xp) == pytest.approx(10.0)  # 5-year average of 10%
    assert _eval("cum_growth", 2019, 2016, xp=xp) == pytest.approx(46.41)
    assert _eval("cumulative", 2018, 2016, xp=xp) == pytest.approx(110 + 121 + 133.1)
    assert _eval("pp_change", 2017, 2016, xp=xp) == pytest.approx(121.0 - 100.0)


def test_average_growth_is_mean_log_growth():
    """A 5-year average of g constrains the sum of five log growth rates: Σ log(1+g_t) = 5 log(1+g)."""
    rng = np.random.default_rng(0)
    g = rng.uniform(0.02, 0.1, 5)
    levels = np.log(100) + np.concatenate([[0], np.cumsum(np.log1p(g))])
    years, w = cell_years("avg_growth", 2020, 2016)
    idx = np.array([[y - 2015 for y in years]])
    avg = evaluate("growth", levels, idx, np.array([w]))[0]
    assert avg == pytest.approx(100 * (np.prod(1 + g) ** 0.2 - 1))
