"""Bad scenario files fail at the boundary: exit 2, one line per problem naming the file and the field, no
traceback, nothing written, and `validate` refuses exactly what `run` would refuse (before any fitting)."""

import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

import model.pipeline as pipeline
from model.scenario import MAX_DRAWS, Scenario, ScenarioError, load_scenario
from run import app

runner = CliRunner()
BASELINE = str(Path("scenarios/baseline.yaml").resolve())

# name -> (file content: text, or bytes written as is; the field every error line must name)
CASES = {
    "as_of_month_13": ("name: x\nas_of: 2024-13-45\n", "as_of"),
    "as_of_with_time": ("name: x\nas_of: 2024-03-31 10:00:00\n", "as_of"),
    "as_of_not_a_date": ("name: x\nas_of: 12\n", "as_of"),
    "as_of_year_1900": ("name: x\nas_of: 1900-01-01\n", "as_of"),
    "seed_negative": ("name: x\nseed: -5\n", "seed"),
    "draws_a_billion": ("name: x\ndraws: 1000000000\n", "draws"),
    "draws_zero": ("name: x\ndraws: 0\n", "draws"),
    "fit_draws_huge": ("name: x\nfit: {draws: 10000000}\n", "fit.draws"),
    "fit_tune_huge": ("name: x\nfit: {tune: 10000000}\n", "fit.tune"),
    "fit_seed_negative": ("name: x\nfit: {seed: -1}\n", "fit.seed"),
    "targets_empty": ("name: x\ntargets: []\n", "targets"),
    "targets_bare_id": ("name: x\ntargets: p14_gdp\n", "targets"),
    "plans_unknown": ("name: x\nplans: [p15]\n", "plans[0]"),
    "plans_empty": ("name: x\nplans: []\n", "plans"),
    "plans_nothing_by_horizon": ("name: x\nplans: [a2024]\nhorizon: 2023\n", "plans"),
    "extends_number": ("name: x\nextends: 42\n", "extends"),
    "extends_folder": ("name: x\nextends: a_folder\n", "extends"),
    "extends_missing": ("name: x\nextends: nowhere.yaml\n", "extends"),
    "latin1": ("name: café\ndescription: é\n".encode("latin-1"), "not UTF-8"),
    "utf16": ("name: x\n".encode("utf-16"), "not UTF-8"),
    "horizon_before_last_year": ("name: x\nhorizon: 2022\n", "horizon"),
    "horizon_late": ("name: x\nhorizon: 2099\n", "horizon"),
    "data_through_1990": ("name: x\ndata_through: 1990\n", "data_through"),
    "name_dot": ('name: "."\n', "name"),
    "name_parent": ('name: "../data"\n', "name"),
    "name_absolute": ('name: "/tmp/victim"\n', "name"),
    "name_with_space": ('name: "my run"\n', "name"),
    "value_nan": ("name: x\nassumptions:\n  - {indicator: gdp, kind: growth_shift, value: .nan}\n",
                  "assumptions[0].value"),
    "growth_set_inf": ("name: x\nassumptions:\n  - {indicator: gdp, kind: growth_set, value: .inf}\n",
                       "assumptions[0].value"),
    "growth_set_huge": ("name: x\nassumptions:\n  - {indicator: gdp, kind: growth_set, value: 1e300}\n",
                        "assumptions[0].value"),
    "volatility_1e300": ("name: x\nassumptions:\n  - {indicator: gdp, kind: volatility, value: 1e300}\n",
                         "assumptions[0].value"),
    "volatility_negative": ("name: x\nassumptions:\n  - {indicator: gdp, kind: volatility, value: -1}\n",
                            "assumptions[0].value"),
    "sd_negative": ("name: x\nassumptions:\n  - {indicator: gdp, kind: growth_set, value: 5, sd: -1}\n",
                    "assumptions[0].sd"),
    "sd_inf": ("name: x\nassumptions:\n  - {indicator: gdp, kind: growth_set, value: 5, sd: .inf}\n",
               "assumptions[0].sd"),
    "indicator_empty_list": ("name: x\nassumptions:\n  - {indicator: [], kind: growth_shift, value: 1}\n",
                             "assumptions[0].indicator"),
    "years_empty_list": ("name: x\nassumptions:\n  - {indicator: gdp, kind: growth_shift, value: 1, years: []}\n",
                         "assumptions[0].years"),
    "threshold_nan": ("name: x\nthresholds: {p14_gdp: .nan}\n", "thresholds.p14_gdp"),
    "threshold_inf": ("name: x\nthresholds: {p14_gdp: .inf}\n", "thresholds.p14_gdp"),
    "threshold_minus_inf": ("name: x\nthresholds: {p14_gdp_growth: -.inf}\n", "thresholds.p14_gdp_growth"),
    "duplicate_key": ("name: x\ndraws: 100\ndraws: 200\n", "malformed YAML at line 3"),
    "duplicate_nested_key": ("name: x\nfit: {seed: 1, seed: 2}\n", "malformed YAML at line 2"),
    "assumptions_not_a_list": (f"name: x\nextends: {BASELINE}\nassumptions: 5\n", "assumptions"),
}


def _write(tmp_path: Path, name: str) -> Path:
    content, _ = CASES[name]
    (tmp_path / "a_folder").mkdir()
    path = tmp_path / f"{name}.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in folder.rglob("*")}


def _assert_refused(result, path: Path, field: str):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not an uncaught error
    lines = result.output.strip().splitlines()
    assert lines, "no message"
    for line in lines:
        assert line.startswith(f"error: {path}: "), line
    assert any(line.startswith(f"error: {path}: {field}") for line in lines), result.output


@pytest.mark.parametrize("name", sorted(CASES))
def test_validate_refuses(name, tmp_path):
    path = _write(tmp_path, name)
    before, results_before = _tree(tmp_path), sorted(p.name for p in pipeline.RESULTS_DIR.iterdir())
    result = runner.invoke(app, ["validate", str(path)])
    _assert_refused(result, path, CASES[name][1])
    assert _tree(tmp_path) == before
    assert sorted(p.name for p in pipeline.RESULTS_DIR.iterdir()) == results_before


@pytest.fixture
def no_fitting(monkeypatch):
    """`run` must refuse before any computation: running a scenario fails the test."""
    def boom(*a, **k):
        raise AssertionError("run_scenario was called")

    monkeypatch.setattr(pipeline, "run_scenario", boom)


@pytest.mark.parametrize("name", ["as_of_month_13", "seed_negative", "draws_a_billion", "targets_empty",
                                  "extends_folder", "utf16", "horizon_before_last_year", "name_parent",
                                  "volatility_1e300", "threshold_nan"])
def test_run_refuses_before_fitting(name, tmp_path, no_fitting):
    path = _write(tmp_path, name)
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(path), "--out", str(out)])
    _assert_refused(result, path, CASES[name][1])
    assert not out.exists()
    assert not list(tmp_path.glob(".tmp-*"))


def test_every_problem_reported_at_once(tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text("name: x\nseed: -5\ndraws: 1000000000\ntargets: []\nplans: [p15]\nhorizn: 2025\n"
                    "fit: {seeed: 3}\nthresholds: {p14_gdp: .nan}\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    fields = ["seed", "draws", "targets", "plans[0]", "(top level)", "fit", "thresholds.p14_gdp"]
    for field in fields:
        assert any(line.startswith(f"error: {path}: {field}: ") for line in lines), (field, result.output)
    assert len(lines) == len(fields), result.output
    assert "did you mean 'horizon'" in result.output and "did you mean 'seed'" in result.output
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert len(caught.value.problems) == len(fields) and "\n" not in str(caught.value)


def test_data_problems_reported_at_once(tmp_path):
    path = tmp_path / "ids.yaml"
    path.write_text("name: x\ntargets: [p14_gdpp, p14_nothing]\nhorizon: 2022\nassumptions:\n"
                    "  - {indicator: gpd, kind: growth_shift, value: -1}\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 4, result.output
    for field in ("targets[0]", "targets[1]", "assumptions[0].indicator", "horizon"):
        assert any(f"{path}: {field}: " in line for line in lines), field


def test_inherited_problem_names_its_file(tmp_path):
    (tmp_path / "parent.yaml").write_text("name: p\nseed: -5\n", encoding="utf-8")
    child = tmp_path / "child.yaml"
    child.write_text("name: c\nextends: parent.yaml\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"child\.yaml \(inherited from .*parent\.yaml\): seed: "):
        load_scenario(child)


@pytest.mark.parametrize("text", ["as_of: 2024-03-31", "as_of: '2024-03-31'", 'as_of: "2024-03-31"'])
def test_unquoted_iso_date_accepted(text, tmp_path, dataset):
    path = tmp_path / "date.yaml"
    path.write_text(f"name: dated\n{text}\n", encoding="utf-8")
    s = load_scenario(path)
    assert s.as_of == "2024-03-31" and isinstance(s.as_of, str)
    assert s.fit_hash() == load_scenario("scenarios/baseline.yaml").fit_hash()  # the same vintage, one posterior
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output


def test_date_object_becomes_iso_text():
    assert Scenario(name="x", as_of=datetime.date(2021, 5, 25)).as_of == "2021-05-25"
    assert Scenario(name="x", as_of=None).as_of is None


def test_utf8_with_bom_accepted(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes("name: bom\ndescription: 常治\n".encode("utf-8-sig"))
    assert load_scenario(path).description == "常治"


def test_volatility_zero_still_allowed():
    """0 removes the innovation noise (tests/test_simulate.py uses it); the range is [0, 10]."""
    from model.scenario import Assumption

    assert Assumption(indicator="gdp", kind="volatility", value=0.0).value == 0.0
    assert Assumption(indicator="gdp", kind="volatility", value=10.0).value == 10.0
    with pytest.raises(ValueError, match="volatility multiplier"):
        Assumption(indicator="gdp", kind="volatility", value=10.5)


def test_horizon_check_is_the_fits(dataset, small_fit):
    """validate derives the fit's last year from the vintage without fitting: the same year as the fit."""
    s = Scenario(name="x", as_of="2024-03-31")
    assert s.last_observed_year(dataset) == small_fit.last_year
    assert Scenario(name="x", as_of="2021-05-25").last_observed_year(dataset) < small_fit.last_year


def test_validate_and_run_agree_on_the_horizon(tmp_path, no_fitting):
    path = tmp_path / "h.yaml"
    path.write_text("name: h\nhorizon: 2022\n", encoding="utf-8")
    v = runner.invoke(app, ["validate", str(path)])
    r = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert v.exit_code == r.exit_code == 2
    assert v.output == r.output
    assert "horizon: 2022 is before the last observed year 2023" in v.output


@pytest.mark.parametrize("option,value", [("--draws", "0"), ("--draws", str(MAX_DRAWS + 1)), ("--seed", "-1")])
def test_run_overrides_obey_the_schema(option, value, tmp_path, no_fitting):
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "scenarios/baseline.yaml", option, value, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {option}: ") and "Traceback" not in result.output
    assert not out.exists()


def test_duplicate_names_refused(tmp_path, no_fitting):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    for p in (a, b):
        p.write_text(f"name: same\nextends: {BASELINE}\n", encoding="utf-8")
    result = runner.invoke(app, ["run", str(a), str(b), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and f"{b}: name: 'same' is also the name of {a}" in result.output
    assert not (tmp_path / "out").exists()
