"""The command line end to end, with small draws (the fit is shared with the other tests through the cache)."""

import json

import pandas as pd
from typer.testing import CliRunner

from run import app

runner = CliRunner()


def test_run_writes_every_output(run_output):
    out, text = run_output
    for name in ("attainment.csv", "attainment.md", "forecasts.csv", "manifest.json", "draws.nc", "joint.csv",
                 "report.html", "report.md", "fan_charts.png", "fans_targets_01.png", "p_attained.png",
                 "threshold_curves.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    table = pd.read_csv(out / "attainment.csv")
    headline = table.set_index("target_id").loc[["p14_gdp", "p14_gdp_growth", "p14_sei_share_gdp",
                                                 "p14_urbanization_rate", "p14_mfg_share_industry_above_scale"]]
    assert headline["p_attained"].between(0, 1).all()
    assert "P(target attained)" in text
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"scenario_hash", "data_hash", "seed", "package_versions", "git_commit", "diagnostics"} <= set(manifest)
    fc = pd.read_csv(out / "forecasts.csv")
    assert {"indicator", "year", "measure", "mean", "q05", "q50", "q95"} <= set(fc.columns)
    assert fc["year"].max() == 2025


def test_same_seed_same_table(run_output, small_scenario, tmp_path):
    out, _ = run_output
    again = tmp_path / "again"
    result = runner.invoke(app, ["run", str(small_scenario), "--out", str(again), "--no-report"])
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_csv(out / "attainment.csv"), pd.read_csv(again / "attainment.csv"))


def test_failed_run_keeps_previous_result(run_output, small_scenario, monkeypatch):
    import model.report as report_mod

    out, _ = run_output
    before = (out / "attainment.csv").read_bytes()

    def broken(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report_mod, "build_report", broken)
    result = runner.invoke(app, ["run", str(small_scenario), "--out", str(out)])
    assert result.exit_code != 0
    assert (out / "attainment.csv").read_bytes() == before
    assert not list(out.parent.glob(".tmp-*"))


def test_data_and_targets_csv():
    r = runner.invoke(app, ["data", "--format", "csv", "--indicator", "gdp"])
    assert r.exit_code == 0 and r.output.startswith("indicator,year,span_start,value,unit,kind")
    assert "2806.2" in r.output
    r = runner.invoke(app, ["targets", "--format", "csv", "--plan", "p14"])
    assert r.exit_code == 0 and "p14_gdp," in r.output
    r = runner.invoke(app, ["data", "--indicator", "gpd"])
    assert r.exit_code == 2 and "unknown indicator 'gpd'" in r.output


def test_predict_api(small_fit):
    """``Fit.predict`` on a frame (the command line is tested end to end in test_predict_cli.py)."""
    rows = pd.DataFrame([dict(indicator="gdp", year=2023, kind="level", price_basis="nominal", value=2806.2),
                         dict(indicator="gdp", year=2025, kind="level", price_basis="nominal", value=float("nan"))])
    res = small_fit.predict(rows, n_draws=300)
    assert {"mean", "q05", "q95", "pit", "crps"} <= set(res.columns)
    assert 0 <= res.at[0, "pit"] <= 1 and pd.isna(res.at[1, "pit"])
    assert res.at[1, "q95"] > res.at[1, "q05"]


def test_report_rebuilds_without_refit(run_output, monkeypatch):
    import importlib

    fit_mod = importlib.import_module("model.fit")
    out, _ = run_output

    def boom(*a, **k):
        raise AssertionError("refitted")

    monkeypatch.setattr(fit_mod, "_sample", boom)
    (out / "report.html").unlink()
    result = runner.invoke(app, ["report", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert (out / "report.html").stat().st_size > 10_000


def test_compare_committed_results(tmp_path):
    result = runner.invoke(app, ["compare", "scenarios/baseline.yaml", "scenarios/slowdown.yaml",
                                 "--out", str(tmp_path), "--lang", "en"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "p_attained.csv", index_col=0)
    assert list(table.columns) == ["baseline", "slowdown"]
    for name in ("compare_p_attained.png", "compare_gdp.png"):
        assert (tmp_path / name).stat().st_size > 10_000


def test_data_option_adds_user_rows(tmp_path):
    from model.data import OBSERVATION_COLUMNS

    extra = tmp_path / "extra.csv"
    extra.write_text(",".join(OBSERVATION_COLUMNS) + "\ngdp,2024,,5.0,%,yoy_growth,=,real,HYPOTHETICAL,,,2025-03-31,\n",
                     encoding="utf-8")
    r = runner.invoke(app, ["data", "--format", "csv", "--indicator", "gdp", "--data", str(extra)])
    assert r.exit_code == 0, r.output
    assert "gdp,2024,,5.0,%,yoy_growth,=,real,HYPOTHETICAL" in r.output
    r = runner.invoke(app, ["data", "--format", "csv", "--indicator", "gdp", "--data", str(extra), "--as-of", "2024-03-31"])
    assert r.exit_code == 0 and "HYPOTHETICAL" not in r.output
    extra.write_text(",".join(OBSERVATION_COLUMNS) + "\ngdp,2024,,5.0,亿元,yoy_growth,=,real,x,,,2025-03-31,\n",
                     encoding="utf-8")
    r = runner.invoke(app, ["run", "scenarios/baseline.yaml", "--data", str(extra), "--out", str(tmp_path / "no")])
    assert r.exit_code == 2 and "extra.csv row 2: unit" in r.output
    assert not (tmp_path / "no").exists()


def test_sbc_checks_its_bins_before_sampling():
    r = runner.invoke(app, ["sbc", "--ranks", "50", "--bins", "7"])
    assert r.exit_code == 2 and "--bins 7 must divide --ranks 50" in r.output


def test_ctrl_c_during_fitting_is_one_line_and_writes_nothing(small_scenario, tmp_path, monkeypatch):
    """Ctrl-C while compiling or tuning: exit 130, one line, no traceback, no results folder."""
    import model.pipeline as pipeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "fit", interrupted)
    out = tmp_path / "res"
    r = runner.invoke(app, ["run", str(small_scenario), "--out", str(out)])
    assert r.exit_code == 130, r.output
    assert "interrupted" in r.output and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.iterdir())
