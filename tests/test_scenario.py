"""Scenario files: every shipped one validates, inheritance works, and each kind of bad input fails cleanly."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from model.scenario import ScenarioError, load_scenario
from run import app

SCENARIOS = sorted(Path("scenarios").glob("*.yaml"))
runner = CliRunner()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenarios_validate(path, dataset):
    s = load_scenario(path)
    s.check_against(dataset, 2023, where=str(path))
    assert s.description.strip(), "every scenario tells its economic story"


def test_required_scenarios_shipped():
    names = {p.stem for p in SCENARIOS}
    assert {"baseline", "plan_delivery", "coal_downturn", "slowdown", "sei_push", "as_of_2021"} <= names


def test_inheritance():
    base, child = load_scenario("scenarios/baseline.yaml"), load_scenario("scenarios/as_of_2021.yaml")
    assert child.as_of == "2021-05-25" and base.as_of == "2024-03-31"
    assert child.draws == base.draws and child.horizon == base.horizon
    slow = load_scenario("scenarios/slowdown.yaml")
    assert slow.assumptions[0].value == -1.5 and slow.fit_hash() == base.fit_hash()  # forward-only: same fit
    assert child.fit_hash() != base.fit_hash()  # another vintage: another fit


BAD = {
    "unknown_key.yaml": ("name: x\nhorizn: 2025\n", "did you mean 'horizon'"),
    "malformed.yaml": ("name: [unclosed\n", "malformed YAML"),
    "negative_draws.yaml": ("name: x\ndraws: -5\n", "draws"),
    "unknown_target.yaml": ("name: x\ntargets: [p14_gdpp]\n", "unknown target 'p14_gdpp'"),
    "unknown_indicator.yaml": ("name: x\nassumptions:\n  - {indicator: gpd, kind: growth_shift, value: -1}\n",
                               "unknown indicator 'gpd'"),
    "year_outside.yaml": ("name: x\nassumptions:\n  - {indicator: gdp, kind: growth_shift, value: -1, years: [2030]}\n",
                          "outside the simulated years"),
    "impossible_threshold.yaml": ("name: x\nthresholds: {p14_urbanization_rate: 140}\n", "impossible threshold"),
    "bad_kind.yaml": ("name: x\nassumptions:\n  - {indicator: gdp, kind: teleport, value: 1}\n", "kind"),
    "ratio_assumption.yaml": ("name: x\nassumptions:\n  - {indicator: sei_share_gdp, kind: growth_shift, value: 1}\n",
                              "is a ratio"),
    "not_mapping.yaml": ("- just\n- a list\n", "mapping"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_scenario_one_line_error_exit_2(name, tmp_path):
    text, needle = BAD[name]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert needle in message, message
    assert str(path) in message.replace("\n", "")
    assert "Traceback" not in message


def test_bad_scenario_run_writes_nothing(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\ndraws: 0\n", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(path), "--out", str(out)])
    assert result.exit_code == 2
    assert not out.exists()


def test_extends_missing_file(tmp_path):
    path = tmp_path / "child.yaml"
    path.write_text("name: c\nextends: nowhere.yaml\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(path)
