"""Bayesian scenario projections and target-attainment probabilities for Changzhi's plan targets.

The pipeline, one function per step (each returns pandas / numpy objects)::

    import model
    ds = model.load_data()                                   # catalogue, observations, targets (validated)
    f = model.fit(ds, as_of="2024-03-31")                    # posterior (cached on disk)
    s = model.load_scenario("scenarios/slowdown.yaml")       # or model.Scenario(name=..., assumptions=[...])
    r = model.run_scenario(s, ds)                            # simulate + attainment (reuses the cached fit)
    r.attainment[["target_id", "p_attained", "evidence"]]
    model.write_results(r, "results/slowdown")               # tables, manifest, draws, charts, report

Modules: ``data`` (dataset and provenance), ``priors`` (class priors, justified), ``operators``
(observation operators), ``layout`` (grid), ``growth`` (the PyMC model), ``prior_only``,
``fit`` (sampling, diagnostics, cache), ``simulate`` (scenario paths), ``attainment``,
``predict`` (predictive draws and scores), ``scenario`` (YAML schema), ``pipeline``, ``report``, ``charts``,
``fans`` (fan charts of every target).
"""

from .attainment import attainment_table, joint_results
from .data import DataError, Dataset
from .data import load as load_data
from .fit import Fit, fit
from .pipeline import ScenarioResult, run_scenario, write_results
from .scenario import Assumption, Scenario, ScenarioError, load_scenario
from .simulate import Paths, simulate

__all__ = ["Assumption", "DataError", "Dataset", "Fit", "Paths", "Scenario", "ScenarioError", "ScenarioResult",
           "attainment_table", "fit", "joint_results", "load_data", "load_scenario", "run_scenario", "simulate",
           "write_results"]
