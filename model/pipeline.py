"""The main job: scenario → posterior (cached) → simulated paths → attainment → results directory.

Results are written into a temporary directory beside the destination and moved into place
only when complete, so an interrupted or failed run never leaves a half-written result and
never overwrites a previous good one with partial files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import data as data_mod
from .attainment import attainment_table, joint_results, unanchored_fitted
from .fit import QUANTILES, Fit, data_hash, fit, package_versions
from .scenario import Scenario
from .simulate import Paths, prior_dynamics, simulate

RESULTS_DIR = data_mod.ROOT / "results"


@dataclass
class ScenarioResult:
    """Everything one scenario run produces (tables as DataFrames).

    Attributes
    ----------
    scenario : Scenario
    fit : Fit
        The posterior used (``fit.diagnostics`` says whether it converged).
    paths : Paths
        The simulated paths.
    attainment : DataFrame
        One row per target (see :func:`model.attainment_table`); ``p_attained`` in 0–1.
    joint, correlation : DataFrame
        See :func:`model.joint_results`.
    forecasts : DataFrame
        Mean and quantiles ``q05 … q95`` per indicator, ``measure`` (level in ``unit``, nominal level,
        real growth %) and year.
    hits : DataFrame of bool
        Paths × evaluated targets.

    Examples
    --------
    >>> import model
    >>> r = model.run_scenario(model.Scenario(name="quick", draws=500,
    ...                                       fit={"draws": 150, "tune": 150, "chains": 2, "seed": 11}))
    >>> gdp = r.forecasts.query("indicator == 'gdp' and year == 2025")
    >>> gdp[["measure", "unit"]].to_numpy().tolist()
    [['nominal level', '亿元'], ['real growth %', '%']]
    >>> bool((gdp["q05"] < gdp["q50"]).all() and (gdp["q50"] < gdp["q95"]).all())
    True
    >>> r.hits.shape == (500, int((r.attainment["status"] == "evaluated").sum()))
    True
    """

    scenario: Scenario
    fit: Fit
    paths: Paths
    attainment: pd.DataFrame
    joint: pd.DataFrame
    correlation: pd.DataFrame
    forecasts: pd.DataFrame
    hits: pd.DataFrame
    plan_targets: pd.DataFrame | None = None  # the dataset's target registry (annual plan targets on the charts)


def prior_paths(fit: Fit, scenario: Scenario, n_paths: int) -> Paths:
    """Paths whose future trend and volatility come from the class priors (for the evidence column)."""
    override = prior_dynamics(fit, scenario.seed + 7)
    return simulate(fit, scenario.horizon, n_paths, scenario.seed, scenario.assumptions, override=override)


def start_years(layout) -> dict[str, int]:
    """First year each indicator's path is informed (a ratio: when both components are)."""
    from .data import formula_terms

    start = dict(layout.start)
    for d in layout.derived:
        start[d] = max(start[t] for t in formula_terms(layout.catalogue.at[d, "links"]))
    return start


def forecast_table(paths: Paths, unanchored: list[str] = ()) -> pd.DataFrame:
    """Mean and quantiles of every modelled indicator and year (level in its unit, and real growth %),
    from the year its path is informed to the horizon."""
    layout = paths.layout
    cat = layout.catalogue
    frames = []
    for measure, kind in (("level", "level"), ("growth", "yoy_growth")):
        rows = pd.DataFrame([(i, y) for i in layout.indicators for y in layout.years[1 if kind != "level" else 0:]],
                            columns=["indicator", "year"])
        rows["span_start"] = np.nan
        rows["kind"] = kind
        rows["price_basis"] = "real"
        nominal = rows["indicator"].map(lambda i: cat.at[i, "deflator"] != "")
        if measure == "level":  # levels of deflated money series are published nominal
            rows.loc[nominal, "price_basis"] = "nominal"
        from .attainment import target_quantity

        start = start_years(paths.layout)
        first = rows["indicator"].map(start) + (0 if measure == "level" else 1)
        keep = rows["year"] >= first
        if measure == "level":  # an indicator with no level figure has no level
            keep &= ~rows["indicator"].isin(unanchored)
        rows = rows[keep].reset_index(drop=True)
        q, ok = target_quantity(paths, rows)
        rows = rows[ok].reset_index(drop=True)
        q = q[:, ok]
        rows["measure"] = np.where(rows["kind"] == "level", np.where(rows["price_basis"] == "nominal",
                                                                     "nominal level", "level"), "real growth %")
        rows["unit"] = [("%" if measure == "growth" else cat.at[i, "unit"]) for i in rows["indicator"]]
        rows["mean"] = q.mean(axis=0)
        for p in QUANTILES:
            rows[f"q{round(p * 100):02d}"] = np.quantile(q, p, axis=0)
        rows["observed"] = rows["year"] <= paths.last_observed_year
        frames.append(rows.drop(columns=["span_start", "kind"]))
    return pd.concat(frames, ignore_index=True).sort_values(["indicator", "measure", "year"], kind="stable")


def run_scenario(scenario: Scenario, dataset: data_mod.Dataset | None = None, progress=None) -> ScenarioResult:
    """Fit (or load the cached posterior), simulate the scenario's paths and compute attainment.

    Parameters
    ----------
    scenario : Scenario
        Its ``as_of``, ``data_through`` and ``fit`` select the posterior (cached on disk: scenarios
        that differ only in assumptions share one); ``draws``, ``seed``, ``horizon``, ``assumptions``,
        ``targets`` and ``thresholds`` drive the simulation and the table.
    dataset : Dataset, optional
        Default: the shipped data. Pass ``model.load_data(extra=[...])`` to add your own figures.
    progress : callable, optional
        Called with a short message at each step.

    Returns
    -------
    ScenarioResult

    Raises
    ------
    ScenarioError
        If the scenario names unknown targets or indicators, or assumption years outside the simulation.

    Examples
    --------
    The baseline with short chains (the defaults, as in ``scenarios/baseline.yaml``, are for results):

    >>> import model
    >>> quick = model.Scenario(name="quick", draws=500, fit={"draws": 150, "tune": 150, "chains": 2, "seed": 11})
    >>> r = model.run_scenario(quick)
    >>> head = r.attainment.set_index("target_id").loc[["p14_gdp", "p14_gdp_growth"]]
    >>> head[["year", "comparator", "threshold", "unit"]]
                    year comparator  threshold unit
    target_id
    p14_gdp         2025         >=     2800.0   亿元
    p14_gdp_growth  2025          >        8.0    %
    >>> bool(head["p_attained"].between(0, 1).all()), set(head["evidence"]) <= {"data", "mixed", "plan", "prior"}
    (True, True)
    """
    dataset = dataset or data_mod.shipped()
    step = progress or (lambda msg: None)
    step("fitting the growth model (cached when the data and settings are unchanged)")
    f = fit(dataset, as_of=scenario.as_of, data_through=scenario.data_through, seed=scenario.fit.seed,
            draws=scenario.fit.draws, tune=scenario.fit.tune, chains=scenario.fit.chains)
    scenario.check_against(dataset, f.last_year)
    step(f"simulating {scenario.draws} paths to {scenario.horizon}")
    paths = simulate(f, scenario.horizon, scenario.draws, scenario.seed, scenario.assumptions)
    step("computing attainment")
    ids = scenario.target_ids(dataset)
    prior = prior_paths(f, scenario, scenario.draws)
    table, hits = attainment_table(f, paths, dataset, ids, scenario.thresholds, prior)
    joint, corr = joint_results(hits, table)
    return ScenarioResult(scenario, f, paths, table, joint, corr,
                          forecast_table(paths, set(f.unanchored) | unanchored_fitted(f)), hits, dataset.targets)


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=data_mod.ROOT, capture_output=True, text=True,
                              timeout=5).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def manifest(result: ScenarioResult) -> dict:
    s, f = result.scenario, result.fit
    return {
        "scenario": s.name, "scenario_hash": s.scenario_hash(), "fit_key": f.key,
        "data_hash": data_hash(f.observations), "n_observations": len(f.observations),
        "as_of": s.as_of, "data_through": s.data_through, "horizon": s.horizon,
        "seed": s.seed, "draws": s.draws, "fit_settings": f.settings.as_dict(),
        "fit_from_cache": f.from_cache, "diagnostics": f.diagnostics.as_dict(),
        "diagnostics_flag": f.diagnostics.flag(), "package_versions": package_versions(), "git_commit": git_commit(),
        "scenario_definition": s.model_dump(),
    }


def write_results(result: ScenarioResult, out_dir: str | Path, report: bool = True, lang: str = "zh") -> Path:
    """Write tables, manifest, draws (and the report) atomically into ``out_dir``.

    The files are written to a temporary folder beside ``out_dir`` and moved into place when all are
    done, so a failed run never leaves a half-written result.

    Parameters
    ----------
    result : ScenarioResult
    out_dir : str or Path
        Replaced if it exists.
    report : bool
        Also draw the charts and write ``report.html`` / ``report.md`` (a few seconds).
    lang : {"zh", "en"}
        Language of the chart labels.

    Returns
    -------
    Path
        ``out_dir``.

    Examples
    --------
    >>> import model, json, tempfile
    >>> r = model.run_scenario(model.Scenario(name="quick", draws=500,
    ...                                       fit={"draws": 150, "tune": 150, "chains": 2, "seed": 11}))
    >>> out = model.write_results(r, tempfile.mkdtemp() + "/quick", report=False)
    >>> sorted(p.name for p in out.iterdir())
    ['attainment.csv', 'attainment.md', 'correlation.csv', 'draws.nc', 'forecasts.csv', 'joint.csv', 'manifest.json']
    >>> manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    >>> manifest["scenario"], manifest["draws"], manifest["fit_settings"]["draws"]
    ('quick', 500, 150)
    """
    from . import report as report_mod

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{out_dir.name}-", dir=out_dir.parent))
    try:
        result.attainment.to_csv(tmp / "attainment.csv", index=False)
        (tmp / "attainment.md").write_text(report_mod.attainment_markdown(result), encoding="utf-8")
        result.forecasts.to_csv(tmp / "forecasts.csv", index=False)
        result.joint.to_csv(tmp / "joint.csv", index=False)
        result.correlation.to_csv(tmp / "correlation.csv")
        (tmp / "manifest.json").write_text(json.dumps(manifest(result), indent=2, ensure_ascii=False, default=str),
                                           encoding="utf-8")
        report_mod.paths_dataset(result).to_netcdf(tmp / "draws.nc")
        if report:
            report_mod.build_report(tmp, result, lang=lang)
        if out_dir.exists():
            old = out_dir.with_name(f".old-{out_dir.name}")
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
