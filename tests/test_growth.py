"""The growth model's parameterisation: knots, centred block sums and bridges give the same prior."""

import numpy as np
import pymc as pm
from scipy import stats

from model.growth import build_model, pinned_spans, plan_period, step_plan
from model.layout import build_layout


def _small(dataset, indicators):
    v = dataset.vintage("2024-03-31")
    layout = build_layout(v)
    small = layout.subset(indicators)
    obs = v.observations[v.observations["indicator"].isin(small.indicators)].reset_index(drop=True)
    return small, obs


def test_pinned_spans_are_changes_the_figures_determine(dataset):
    layout, obs = _small(dataset, ["fiscal_revenue", "gdp", "gdp_deflator"])
    spans = pinned_spans(layout, obs)
    # levels 2015, 2020, 2023 and the 2023 growth rate: 2020→2022 is pinned by their combination
    assert spans["fiscal_revenue"] == [(2015, 2020), (2020, 2022), (2022, 2023)]
    # real GDP: average growth 2016–20, growth 2020 and 2023; no figure pins 2020→2022
    assert spans["gdp"] == [(2015, 2019), (2019, 2020), (2022, 2023)]
    nominal_only = obs[(obs["indicator"] == "gdp") & (obs["price_basis"] == "nominal")]
    assert "gdp" not in pinned_spans(layout, nominal_only)  # a nominal level also reads the deflator
    # nominal levels 2015, 2020, 2023 and the real change 2015→2020 pin the deflator 2015→2020 only
    assert spans["gdp_deflator"] == [(2015, 2020)]
    assert "gdp_deflator" not in pinned_spans(layout, nominal_only)


def test_blocks_over_pinned_spans(dataset):
    layout, obs = _small(dataset, ["fiscal_revenue", "high_tech_enterprises", "gdp_deflator"])
    spans = {"fiscal_revenue": [(2015, 2020), (2020, 2023)], "gdp_deflator": [(2015, 2020)]}
    plan = step_plan(layout, spans)
    fiscal, defl = layout.base.index("fiscal_revenue"), layout.base.index("gdp_deflator")
    y0 = int(layout.years[0])
    assert sorted(plan.blocks.tolist()) == sorted([[fiscal, 2016 - y0, 5], [fiscal, 2021 - y0, 3],
                                                   [defl, 2016 - y0, 5]])
    free_rows, free_cols = plan.free
    assert 2016 not in layout.years[free_cols[free_rows == fiscal]]
    # no pinned span: every step stays free
    j = layout.base.index("high_tech_enterprises")
    assert (free_rows == j).sum() == layout.n_years - 1 - (layout.start["high_tech_enterprises"] - y0)


def test_block_parameterisation_keeps_the_random_walk_prior(dataset):
    """Standardised prior steps (Δx - μ_p)/σ are iid N(0, 1) whether a step is free, a one-year
    block or inside a bridge: the reparameterisation changes geometry, not the model."""
    layout, obs = _small(dataset, ["fiscal_revenue", "high_tech_enterprises", "gdp", "gdp_deflator"])
    m = build_model(layout, obs, layout.index(obs))
    x, drift, sigma = pm.draw([m["x"], m["drift"], m["sigma"]], draws=4000, random_seed=3)
    period = np.searchsorted(m.coords["period"], plan_period(layout.years))  # plan period of each year's step
    for ind in ("fiscal_revenue", "high_tech_enterprises", "gdp"):
        j = layout.base.index(ind)
        col = int(layout.start[ind] - layout.years[0])
        z = (np.diff(x[:, j, col:], axis=1) - drift[:, j, period[col + 1:]]) / sigma[:, j, None]
        assert np.abs(z.mean(axis=0)).max() < 0.1, ind
        assert np.abs(z.std(axis=0) - 1).max() < 0.08, ind
        lag1 = [np.corrcoef(z[:, t], z[:, t + 1])[0, 1] for t in range(z.shape[1] - 1)]
        assert np.abs(lag1).max() < 0.08, ind
    assert {"delta", "bridge", "block_lambda"} <= {v.name for v in m.free_RVs}
    # the deflator's Student-t steps (ν = 4) inside and outside its block: iid t₄, not normal
    j = layout.base.index("gdp_deflator")
    col = int(layout.start["gdp_deflator"] - layout.years[0])
    z = (np.diff(x[:, j, col:], axis=1) - drift[:, j, period[col + 1:]]) / sigma[:, j, None]
    for t in range(z.shape[1]):
        assert stats.kstest(z[:, t], stats.t(4).cdf).pvalue > 0.001, t
    assert stats.kstest(z.ravel(), "norm").pvalue < 1e-6
    lag1 = [np.corrcoef(z[:, t], z[:, t + 1])[0, 1] for t in range(z.shape[1] - 1)]
    assert np.abs(lag1).max() < 0.08
