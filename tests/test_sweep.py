"""Sweeps: one posterior for the whole grid, common random numbers (exactly monotone where the model is), a
one-value sweep equals a run, the path syntax, the sweep: block, and `run.py sweep` end to end and on bad input."""

import importlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import model
import model.pipeline as pipeline
from model.scenario import Assumption, Scenario, ScenarioError, load_scenario
from model.sweep import plan_sweep, resolve
from run import app

SMALL_FIT = dict(draws=150, tune=150, chains=2, seed=11)  # the settings of conftest's small_fit (cached)

runner = CliRunner()
simulate_mod = importlib.import_module("model.simulate")
ROOT = Path(__file__).resolve().parent.parent
HEADLINE = ["p14_gdp", "p14_gdp_growth", "p14_sei_share_gdp"]


def _scenario(**update) -> Scenario:
    """Three assumptions on the small fit's settings, 300 paths."""
    fields = dict(name="sw", draws=300, seed=4, fit=SMALL_FIT, assumptions=[
        Assumption(indicator=["gdp", "sei_va"], kind="growth_shift", value=0.0, years=[2024, 2025]),
        Assumption(indicator="gdp_deflator", kind="growth_set", value=1.0, years=[2024, 2025]),
        Assumption(indicator="fiscal_revenue", kind="volatility", value=1.0)])
    return Scenario(**{**fields, **update})


@pytest.fixture
def count_fits(monkeypatch):
    """Calls of the posterior fit (computed or loaded from the cache) made through the pipeline."""
    calls = []
    real = pipeline.fit

    def counted(*a, **k):
        calls.append(k)
        return real(*a, **k)

    monkeypatch.setattr(pipeline, "fit", counted)
    return calls


@pytest.fixture
def no_fitting(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("the posterior was fitted or loaded")

    monkeypatch.setattr(pipeline, "fit", boom)


# --- the computation --------------------------------------------------------------------------------------


def test_growth_shift_sweep_is_exactly_monotone(small_fit, dataset):
    """Common random numbers: each path's growth rises with the shift, so P(growth > 8%/yr) never falls."""
    values = [-3, -1.5, 0, 1.5, 3, 4.5]
    curve = model.sweep(_scenario(), "assumptions[gdp:growth_shift].value", values, dataset,
                        targets=["p14_gdp_growth"], fit=small_fit)
    assert list(curve.columns) == ["path", "value", "target_id", "p_attained", "mcse"]
    assert curve["value"].tolist() == values and set(curve["path"]) == {"assumptions[gdp:growth_shift].value"}
    p = curve["p_attained"].to_numpy()
    assert np.all(np.diff(p) >= 0) and p[-1] > p[0]
    assert (curve["mcse"] > 0).all()


def test_deflator_sweep_is_exactly_monotone_for_the_nominal_goal(small_fit, dataset):
    curve = model.sweep(_scenario(), "assumptions[1].value", np.linspace(-6, 4, 6), dataset, targets=["p14_gdp"],
                        fit=small_fit)
    p = curve["p_attained"].to_numpy()
    assert np.all(np.diff(p) >= 0) and p[-1] > p[0]


def test_one_value_sweep_equals_a_run(small_fit, dataset):
    s = _scenario(targets=HEADLINE)
    curve = model.sweep(s, "assumptions[gdp_deflator:growth_set].value", [-2.5], dataset).set_index("target_id")
    varied = s.model_copy(deep=True)
    varied.assumptions[1].value = -2.5
    run = model.run_scenario(varied, dataset).attainment.set_index("target_id")
    pd.testing.assert_series_equal(curve["p_attained"], run.loc[HEADLINE, "p_attained"])
    pd.testing.assert_series_equal(curve["mcse"], run.loc[HEADLINE, "mcse"])


def test_threshold_sweep_defaults_to_its_target(small_fit, dataset):
    curve = model.sweep(_scenario(), "thresholds.p14_gdp", [2600, 2800, 3000], dataset, fit=small_fit)
    assert curve["target_id"].tolist() == ["p14_gdp"] * 3
    assert np.all(np.diff(curve["p_attained"]) <= 0)  # a higher floor is met less often


def test_the_posterior_is_fitted_once_and_reused(small_fit, dataset, count_fits, monkeypatch):
    seen = []
    real = simulate_mod.simulate

    def spy(fit, *a, **k):
        seen.append(fit)
        return real(fit, *a, **k)

    monkeypatch.setattr(simulate_mod, "simulate", spy)
    model.sweep(_scenario(), "assumptions[2].value", [0.5, 1.0, 2.0], dataset, targets=["a2024_fiscal_revenue"])
    assert len(count_fits) == 1  # one fit (from the cache) for three values
    assert len(seen) == 3 and all(f is seen[0] for f in seen)


def test_a_given_fit_is_used_and_must_be_the_scenarios(small_fit, dataset, no_fitting):
    curve = model.sweep(_scenario(), "assumptions[0].value", [0.0], dataset, targets=["p14_gdp"], fit=small_fit)
    assert len(curve) == 1
    with pytest.raises(ValueError, match="not this scenario's posterior"):
        model.sweep(_scenario(fit={**SMALL_FIT, "seed": 12}), "assumptions[0].value", [0.0], dataset,
                    targets=["p14_gdp"], fit=small_fit)


def test_run_scenario_reuses_a_given_fit(small_fit, dataset, no_fitting):
    r = model.run_scenario(_scenario(targets=["p14_gdp"]), dataset, fit=small_fit)
    assert r.fit is small_fit


def test_bad_values_name_the_field_before_fitting(dataset, no_fitting):
    with pytest.raises(ScenarioError) as err:
        model.sweep(_scenario(), "assumptions[fiscal_revenue].value", [1, 12, -1], dataset)
    assert err.value.problems == [
        "values: value 12: assumptions[2].value: a volatility multiplier must be between 0 and 10, not 12",
        "values: value -1: assumptions[2].value: a volatility multiplier must be between 0 and 10, not -1"]
    with pytest.raises(ScenarioError, match=r"values: value nan: assumptions\[0\]\.value: .*finite"):
        model.sweep(_scenario(), "assumptions[0].value", [float("nan")], dataset)
    with pytest.raises(ScenarioError, match="values: value -5: thresholds.p14_gdp: impossible threshold"):
        model.sweep(_scenario(), "thresholds.p14_gdp", [-5], dataset)
    with pytest.raises(ScenarioError, match="targets: unknown target 'p14_gpd' \\(did you mean 'p14_gdp'"):
        model.sweep(_scenario(), "assumptions[0].value", [1], dataset, targets=["p14_gpd"])
    with pytest.raises(ScenarioError, match="n_paths: "):
        model.sweep(_scenario(), "assumptions[0].value", [1], dataset, n_paths=0)
    with pytest.raises(ScenarioError, match="values: 1 given more than once"):
        model.sweep(_scenario(), "assumptions[0].value", [1, 2, 1], dataset)
    with pytest.raises(ScenarioError, match="1 to 200 values"):
        model.sweep(_scenario(), "assumptions[0].value", list(range(201)), dataset)


# --- the path syntax ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, canonical", [
    ("assumptions[0].value", "assumptions[0].value"),
    ("assumptions.1.value", "assumptions[1].value"),
    ("assumptions[-1].value", "assumptions[2].value"),
    ("assumptions[sei_va].value", "assumptions[0].value"),
    ("assumptions[gdp_deflator:growth_set].sd", "assumptions[1].sd"),
    (" assumptions[ gdp : growth_shift ].value ", "assumptions[0].value"),
    ("thresholds.p14_gdp", "thresholds.p14_gdp"),
])
def test_paths_resolve(path, canonical):
    assert resolve(_scenario(), path).canonical == canonical


@pytest.mark.parametrize("path, message", [
    ("assumptions[3].value", "no assumptions[3]; the scenario has 3"),
    ("assumptions[-4].value", "no assumptions[-4]"),
    ("assumptions[gdp:growth_set].value", "no assumption on gdp of kind growth_set"),
    ("assumptions[gpd].value", "no assumption on gpd (did you mean 'gdp'?)"),
    ("assumptions[gdp:growth_shfit].value", "unknown kind 'growth_shfit' (did you mean 'growth_shift'?)"),
    ("assumptions[0].valeu", "not 'valeu' (did you mean 'value'?)"),
    ("assumptions[0].years", "not 'years'"),
    ("assumptions[0].sd", "sd acts only on growth_set assumptions; assumptions[0] is growth_shift"),
    ("assumptions[1].probability", "probability acts only on level_shock"),
    ("fit.draws", "not fit (that would need another fit"),
    ("as_of", "not as_of"),
    ("assumptions[0]", "not a sweep path"),
    ("value", "not a sweep path"),
    ("", "the path is empty"),
])
def test_bad_paths(path, message):
    with pytest.raises(ScenarioError) as err:
        resolve(_scenario(), path)
    assert message in str(err.value)
    assert len(err.value.problems) == 1


def test_ambiguous_selector_lists_the_matches():
    s = _scenario(assumptions=[Assumption(indicator="gdp_deflator", kind="growth_set", value=-5, years=[2024]),
                               Assumption(indicator="gdp_deflator", kind="growth_set", value=-3, years=[2025])])
    with pytest.raises(ScenarioError, match=r"matches assumptions\[0\] and assumptions\[1\]; use the index"):
        resolve(s, "assumptions[gdp_deflator:growth_set].value")


def test_unknown_threshold_target(dataset):
    with pytest.raises(ScenarioError, match="path: 'thresholds.p14_gpd': unknown target 'p14_gpd'"):
        plan_sweep(_scenario(), "thresholds.p14_gpd", [1], dataset)


# --- the sweep: block ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios" / "sweeps").glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_sweeps_validate(path, dataset):
    s = load_scenario(path)
    s.check_against(dataset, where=str(path))
    plan = plan_sweep(s, dataset=dataset)
    assert s.description.strip() and len(plan.values) > 1 and plan.targets
    assert s.scenario_hash() == s.model_copy(update={"sweep": None}).scenario_hash()  # the block is not hashed


def test_shipped_sweep_targets():
    defl, real = (load_scenario(ROOT / "scenarios" / "sweeps" / f"{n}.yaml") for n in ("deflator", "real_growth"))
    assert defl.sweep.targets == ["p14_gdp"] and defl.sweep.grid()[0] < 0 < defl.sweep.grid()[-1]
    assert real.sweep.targets == ["p14_gdp_growth", "p14_sei_share_gdp"]


def test_block_grid():
    from model.scenario import SweepConfig

    assert SweepConfig(vary="assumptions[0].value", start=-1, stop=1, n=5).grid() == [-1, -0.5, 0, 0.5, 1]
    assert SweepConfig(vary="x", start=0, stop=0.3, n=4).grid() == [0, 0.1, 0.2, 0.3]
    assert SweepConfig(vary="x", start=2, stop=9, n=1).grid() == [2]
    assert SweepConfig(vary="x", values=[3, 1]).grid() == [3, 1]


SWEEP_BLOCK_CASES = {
    "both_grids": ("sweep: {vary: 'assumptions[0].value', values: [1], start: 0, stop: 1, n: 2}", "sweep.values"),
    "no_grid": ("sweep: {vary: 'assumptions[0].value', start: 0, stop: 1}", "sweep.n"),
    "n_zero": ("sweep: {vary: 'assumptions[0].value', start: 0, stop: 1, n: 0}", "sweep.n"),
    "n_huge": ("sweep: {vary: 'assumptions[0].value', start: 0, stop: 1, n: 1000}", "sweep.n"),
    "typo_key": ("sweep: {vary: 'assumptions[0].value', values: [1], target: [p14_gdp]}",
                 "sweep: unknown key 'target' (did you mean 'targets'?)"),
    "bad_path": ("sweep: {vary: 'assumptions[7].value', values: [1]}", "sweep.vary"),
    "bad_value": ("sweep: {vary: 'assumptions[0].value', values: [1, -200]}", "sweep.values: value -200"),
    "bad_target": ("sweep: {vary: 'assumptions[0].value', values: [1], targets: [nope]}", "sweep.targets"),
    "value_inf": ("sweep: {vary: 'assumptions[0].value', values: [.inf]}", "sweep.values[0]"),
}


@pytest.mark.parametrize("case", sorted(SWEEP_BLOCK_CASES))
def test_bad_sweep_block_refused_by_validate(case, tmp_path):
    text, field = SWEEP_BLOCK_CASES[case]
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nassumptions:\n  - {indicator: gdp, kind: growth_shift, value: 0}\n" + text + "\n",
                    encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert all(line.startswith(f"error: {path}: ") for line in lines), result.output
    assert any(field in line for line in lines), result.output


# --- run.py sweep ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_sweep_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweeps") / "small_deflator.yaml"
    path.write_text(f"name: small_deflator\ndescription: test\nextends: {ROOT / 'scenarios/sweeps/deflator.yaml'}\n"
                    f"draws: 300\nfit: {json.dumps(SMALL_FIT)}\nsweep: {{n: 4}}\n", encoding="utf-8")
    return path


def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in folder.rglob("*")}


def test_cli_sweep_writes_table_chart_and_manifest(small_sweep_file, small_fit, tmp_path, count_fits):
    import matplotlib

    import model.charts  # noqa: F401  (its import selects the Agg backend; the chart itself must change nothing)

    before = dict(matplotlib.rcParams)
    out = tmp_path / "out"
    result = runner.invoke(app, ["sweep", str(small_sweep_file), "--out", str(out), "--lang", "en",
                                 "--target", "p14_gdp", "--target", "p14_gdp_growth"])
    assert result.exit_code == 0, result.output
    assert len(count_fits) == 1
    assert dict(matplotlib.rcParams) == before  # the chart leaves global matplotlib settings alone
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "sweep.csv", "sweep.png"]
    table = pd.read_csv(out / "sweep.csv")
    assert list(table.columns) == ["path", "value", "target_id", "p_attained", "mcse"]
    np.testing.assert_allclose(table["value"].unique(), [-6, -8 / 3, 2 / 3, 4], rtol=1e-10)
    assert table["target_id"].unique().tolist() == ["p14_gdp", "p14_gdp_growth"]
    gdp = table[table["target_id"] == "p14_gdp"]["p_attained"].to_numpy()
    assert np.all(np.diff(gdp) >= 0)
    assert (out / "sweep.png").stat().st_size > 10_000
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "sweep" and manifest["files"] == ["manifest.json", "sweep.csv", "sweep.png"]
    assert manifest["sweep"]["location"] == "assumptions[0].value" and len(manifest["sweep"]["values"]) == 4
    assert manifest["fit_key"] == small_fit.key and manifest["draws"] == 300
    assert "p14_gdp" in result.output and "wrote" in result.output
    # its own folder is replaced by a second run; one with a user's file in it is not
    again = runner.invoke(app, ["sweep", str(small_sweep_file), "--out", str(out), "--vary",
                                "assumptions[0].value=-1,1", "--target", "p14_gdp"])
    assert again.exit_code == 0, again.output
    assert pd.read_csv(out / "sweep.csv")["value"].tolist() == [-1, 1]
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    snapshot = _tree(tmp_path)
    refused = runner.invoke(app, ["sweep", str(small_sweep_file), "--out", str(out)])
    assert refused.exit_code == 2
    assert refused.output.strip().startswith("error: --out: ") and "notes.txt" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    assert _tree(tmp_path) == snapshot


def test_cli_refuses_a_folder_of_user_files(small_sweep_file, tmp_path, no_fitting):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_bytes(b"years of work")
    result = runner.invoke(app, ["sweep", str(small_sweep_file), "--out", str(out)])
    assert result.exit_code == 2 and result.output.startswith("error: --out: ")
    assert sorted(p.name for p in out.iterdir()) == ["thesis.docx"]


BAD_VARY = {
    "no_equals": (["--vary", "assumptions[0].value"], "--vary: 'assumptions[0].value' is not PATH=START:STOP:N"),
    "no_path": (["--vary", "=1:2:3"], "is not PATH=START:STOP:N"),
    "two_parts": (["--vary", "assumptions[0].value=1:2"], "is not START:STOP:N"),
    "four_parts": (["--vary", "assumptions[0].value=1:2:3:4"], "is not START:STOP:N"),
    "start_text": (["--vary", "assumptions[0].value=a:2:3"], "START 'a' is not a number"),
    "start_nan": (["--vary", "assumptions[0].value=nan:2:3"], "START must be a finite number"),
    "stop_inf": (["--vary", "assumptions[0].value=0:inf:3"], "STOP must be a finite number"),
    "n_zero": (["--vary", "assumptions[0].value=0:1:0"], "N must be from 1 to 200 values, not 0"),
    "n_201": (["--vary", "assumptions[0].value=0:1:201"], "N must be from 1 to 200 values, not 201"),
    "n_fraction": (["--vary", "assumptions[0].value=0:1:2.5"], "N '2.5' is not a whole number"),
    "list_text": (["--vary", "assumptions[0].value=1,x"], "value 'x' is not a number"),
    "unknown_index": (["--vary", "assumptions[9].value=0:1:3"], "no assumptions[9]"),
    "unknown_field": (["--vary", "assumptions[0].valu=0:1:3"], "did you mean 'value'"),
    "fit_field": (["--vary", "fit.draws=100:200:2"], "not fit"),
    "value_refused": (["--vary", "assumptions[0].value=-150:0:4"],
                      "--vary: value -150: assumptions[0].value: a growth or level change must be > -100%"),
    "unknown_target": (["--target", "p14_gpd"], "--target: unknown target 'p14_gpd' (did you mean 'p14_gdp'?)"),
    "draws_zero": (["--draws", "0"], "--draws: "),
    "lang": (["--lang", "fr"], "--lang: "),
}


@pytest.mark.parametrize("case", sorted(BAD_VARY))
def test_cli_bad_input_one_line_exit_2_nothing_written(case, small_sweep_file, tmp_path, no_fitting):
    args, message = BAD_VARY[case]
    out = tmp_path / "out"
    before = _tree(tmp_path)
    result = runner.invoke(app, ["sweep", str(small_sweep_file), "--out", str(out), *args])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --"), result.output
    assert message in lines[0], lines[0]
    assert _tree(tmp_path) == before and not out.exists()


def test_cli_needs_a_path(tmp_path, no_fitting):
    path = tmp_path / "plain.yaml"
    path.write_text("name: plain\nassumptions:\n  - {indicator: gdp, kind: growth_shift, value: 0}\n", encoding="utf-8")
    result = runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and result.output.startswith("error: --vary: give PATH=START:STOP:N")
    assert not (tmp_path / "out").exists()


def test_default_folder_name():
    from run import _sweep_folder_name

    assert _sweep_folder_name("deflator", "assumptions[gdp_deflator:growth_set].value") == \
        "deflator_assumptions_gdp_deflator_growth_set_value"
    assert _sweep_folder_name("x", "thresholds.p14_gdp") == "x_thresholds_p14_gdp"
