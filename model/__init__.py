"""Bayesian scenario projections and target-attainment probabilities for Changzhi's plan targets.

For each target of the 14th Five-Year Plan (2021–2025) of 长治市 and of its annual plans (GDP
力争 2800亿元, real growth > 8%/yr, SEI share > 12% of GDP, ...), the package answers: given
the figures published up to a date, and a scenario's assumptions about the years ahead, what is
the probability that the target is met? Every indicator has a latent yearly path (a random walk
with drift, priors per indicator class); every published figure is an observation of those
paths; the posterior is sampled once per data vintage and cached on disk (``.cache/fits/``);
scenarios extend the posterior paths to the horizon; P(attained) is the share of paths that
meet the target, with an evidence label saying whether the data, the plan's own target or the
class prior drive it.

Pipeline (one function per step, pandas / numpy results; run from the repository root)::

    import model
    ds = model.load_data()                                   # catalogue, observations, targets (validated)
    ds = model.load_data(extra=["extra.csv"])                # + your figures (used by fits with as_of ≥ published)
    f = model.fit(ds, as_of="2024-03-31")                    # posterior of a vintage (cached on disk)
    paths = model.simulate(f, horizon=2025)                  # paths to the horizon under assumptions
    table, hits = model.attainment_table(f, paths, ds, ["p14_gdp", "p14_gdp_growth"])
    s = model.load_scenario("scenarios/slowdown.yaml")       # or model.Scenario(name=..., assumptions=[...])
    r = model.run_scenario(s, ds)                            # fit (cached) + simulate + attainment in one call
    r.attainment[["target_id", "p_attained", "mcse", "evidence"]]
    curve = model.sweep(s, "assumptions[0].value", [-3, -2, -1, 0])  # one fit, common random numbers
    model.write_results(r, "results/slowdown")               # tables, manifest, draws, charts, report

Public API (each has a docstring with units and a runnable example: ``help(model.fit)``):

Data
    ``load_data(data_dir=None, extra=())`` → ``Dataset`` (``catalogue``, ``observations``, ``targets``;
    ``vintage(as_of)``). ``DataError`` lists every problem of a bad file at once.
Posterior
    ``fit(dataset, as_of, ...)`` → ``Fit`` (``draws("x")``, ``diagnostics``, ``predict(rows)``).
Scenarios
    ``Scenario`` and ``Assumption`` (the YAML schema, docs/scenarios.md); ``load_scenario(path)``;
    ``ScenarioError`` names the file and field at fault.
Simulation and attainment
    ``simulate(fit, horizon, n_paths, seed, assumptions)`` → ``Paths``;
    ``attainment_table(fit, paths, dataset, target_ids)`` → (table, hits); ``joint_results(hits, table)``.
One call per scenario
    ``run_scenario(scenario, dataset)`` → ``ScenarioResult``; ``write_results(result, out_dir)``.
Sweeps
    ``sweep(scenario, path, values)`` → DataFrame of P(attained) and its MCSE per value and target: one
    forward assumption varied over a grid, on one posterior, with common random numbers.

The command line ``python run.py --help`` (run, sweep, compare, report, data, targets, validate, predict,
posterior, backtest, schema) is a thin shell over these functions. Documentation: README.md and
docs/ (methodology, data dictionary and how to add data, scenario reference, reading the table);
worked examples in examples/. Other modules: ``priors`` (class priors, justified), ``operators``
(observation operators), ``layout`` (grid), ``joint`` (the joint model: parameters sampled, paths integrated out
and drawn by a simulation smoother), ``growth`` and ``sparse`` (the earlier engine, ``fit(engine="sampled")``),
``predict`` (predictive draws and scores), ``backtest``, ``report``, ``charts``, ``fans`` (fan charts of
every target), ``errors`` (``InputError``: bad input the CLI turns into one line and exit 2), ``cache``
(the verified posterior cache), ``mcse`` (Monte Carlo standard error of a probability from the ESS of the
draws used), ``freshness`` (whether a results folder is still current), ``marginal``
(exact Gaussian marginal likelihood and conditional of linear figures of drift paths, used by ``joint``).
"""

from importlib.metadata import PackageNotFoundError, version

from .attainment import attainment_table, joint_results
from .data import DataError, Dataset
from .data import load as load_data
from .fit import Fit, fit
from .pipeline import ScenarioResult, run_scenario, write_results
from .scenario import Assumption, Scenario, ScenarioError, load_scenario
from .simulate import Paths, simulate
from .sweep import sweep

try:
    __version__ = version("changzhi-targets")
except PackageNotFoundError:  # a checkout that was never installed
    __version__ = "0+unknown"

__all__ = ["Assumption", "DataError", "Dataset", "Fit", "Paths", "Scenario", "ScenarioError", "ScenarioResult",
           "attainment_table", "fit", "joint_results", "load_data", "load_scenario", "run_scenario", "simulate",
           "sweep", "write_results"]
