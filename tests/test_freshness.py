"""Stale results are refused, never presented as current: compare after a scenario edit, report on a --data run."""

import shutil

import pytest
from typer.testing import CliRunner

from run import app

runner = CliRunner()


@pytest.fixture
def results_dir(run_output, tmp_path, monkeypatch):
    """A results folder holding the small scenario's run, as `results/` for the CLI."""
    import model.pipeline as pipeline

    folder, _ = run_output
    results = tmp_path / "results"
    shutil.copytree(folder, results / "small")
    monkeypatch.setattr(pipeline, "RESULTS_DIR", results)
    return results


def test_compare_accepts_current_results(results_dir, small_scenario, tmp_path):
    r = runner.invoke(app, ["compare", str(small_scenario), "--out", str(tmp_path / "cmp"), "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "cmp" / "p_attained.csv").is_file()


def test_compare_refuses_results_of_an_edited_scenario(results_dir, small_scenario, tmp_path):
    edited = tmp_path / "small.yaml"
    edited.write_text(small_scenario.read_text(encoding="utf-8").replace("seed: 4", "seed: 5"), encoding="utf-8")
    before = (results_dir / "small" / "attainment.csv").read_bytes()
    r = runner.invoke(app, ["compare", str(edited), "--out", str(tmp_path / "cmp")])
    assert r.exit_code == 2, r.output
    message = " ".join(r.output.split())
    assert "scenario changed" in message and str(edited) in message and "--rerun" in message
    assert "Traceback" not in r.output
    assert not (tmp_path / "cmp").exists()
    assert (results_dir / "small" / "attainment.csv").read_bytes() == before


def test_compare_refuses_a_folder_without_manifest(results_dir, small_scenario, tmp_path):
    (results_dir / "small" / "manifest.json").unlink()
    r = runner.invoke(app, ["compare", str(small_scenario), "--out", str(tmp_path / "cmp")])
    assert r.exit_code == 2 and "no manifest.json" in " ".join(r.output.split())


def test_compare_reruns_a_stale_folder_when_asked(results_dir, small_scenario, tmp_path):
    import json

    edited = tmp_path / "small.yaml"
    edited.write_text(small_scenario.read_text(encoding="utf-8").replace("seed: 4", "seed: 5"), encoding="utf-8")
    r = runner.invoke(app, ["compare", str(edited), "--rerun", "--out", str(tmp_path / "cmp"), "--lang", "en"])
    assert r.exit_code == 0, r.output
    manifest = json.loads((results_dir / "small" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 5


EXTRA = ("indicator,year,span_start,value,unit,kind,comparator,price_basis,source,line,quote,published,note\n"
         "gdp,2024,,5.0,%,yoy_growth,=,real,HYPOTHETICAL example,,,2025-03-31,test\n")


@pytest.fixture(scope="module")
def data_run(small_scenario, tmp_path_factory):
    """A small run with --data (a figure published after the vintage: the cached small fit still serves)."""
    home = tmp_path_factory.mktemp("datarun")
    extra = home / "extra.csv"
    extra.write_text(EXTRA, encoding="utf-8")
    out = home / "res"
    r = runner.invoke(app, ["run", str(small_scenario), "--data", str(extra), "--out", str(out), "--no-report"])
    assert r.exit_code == 0, r.output
    return out, extra


def _copy(data_run, tmp_path):
    out, extra = data_run
    folder, data = tmp_path / "res", tmp_path / "extra.csv"
    shutil.copytree(out, folder)
    shutil.copy(extra, data)
    import json

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["data_files"][0]["path"] = str(data)
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder, data


def test_manifest_records_the_runs_data_files(data_run):
    import json

    out, extra = data_run
    files = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["data_files"]
    assert [f["path"] for f in files] == [str(extra.resolve())] and len(files[0]["sha256"]) == 64


def test_report_reuses_the_runs_data_files(data_run, tmp_path, monkeypatch):
    import json

    import model.data as data_mod

    folder, data = _copy(data_run, tmp_path)
    seen = []
    real = data_mod.load
    monkeypatch.setattr(data_mod, "load", lambda *a, **k: seen.append(list(k.get("extra", ()))) or real(*a, **k))
    r = runner.invoke(app, ["report", str(folder), "--lang", "en"])
    assert r.exit_code == 0, r.output
    assert seen == [[data]]
    assert json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["data_files"][0]["path"] == str(data)


@pytest.mark.parametrize("change", ["edited", "deleted"])
def test_report_refuses_when_the_runs_data_file_changed(data_run, tmp_path, change):
    folder, data = _copy(data_run, tmp_path)
    if change == "edited":
        data.write_text(EXTRA.replace("5.0", "9.0"), encoding="utf-8")
    else:
        data.unlink()
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    r = runner.invoke(app, ["report", str(folder)])
    assert r.exit_code == 2, r.output
    assert str(data) in " ".join(r.output.split()) and "Traceback" not in r.output
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_report_never_refits_silently(run_output, tmp_path, monkeypatch):
    import importlib

    fit_mod = importlib.import_module("model.fit")  # the module (model.fit is also the function)

    folder = tmp_path / "res"
    shutil.copytree(run_output[0], folder)
    monkeypatch.setattr(fit_mod, "CACHE_DIR", tmp_path / "empty-cache")
    before = (folder / "attainment.csv").read_bytes()
    r = runner.invoke(app, ["report", str(folder)])
    assert r.exit_code == 2, r.output
    assert "no cached posterior" in " ".join(r.output.split()) and "--refit" in r.output
    assert (folder / "attainment.csv").read_bytes() == before


def test_a_changed_target_threshold_makes_results_stale(dataset):
    """targets.csv edited after a run (2800亿元 → 9999亿元): compare and report must not show the old P."""
    import dataclasses

    import pandas as pd

    from model.freshness import changed_targets, require_manifest, stale_reasons
    from model.scenario import load_scenario

    root = shutil.os.path.dirname(shutil.os.path.dirname(__file__))
    table = pd.read_csv(f"{root}/results/baseline/attainment.csv")
    assert changed_targets(table, dataset) == []
    targets = dataset.targets.copy()
    targets.loc["p14_gdp", "threshold"] = 9999.0
    edited = dataclasses.replace(dataset, targets=targets)
    assert changed_targets(table, edited) == ["p14_gdp (>= 2800.0 in 2025 → >= 9999.0 in 2025)"]
    reasons = stale_reasons(require_manifest(f"{root}/results/baseline"), load_scenario(f"{root}/scenarios/baseline.yaml"),
                            edited, table)
    assert any("targets.csv changed" in r and "p14_gdp" in r for r in reasons)


@pytest.mark.parametrize("args, option", [(["sbc", "--replications", "0"], "--replications"),
                                          (["sbc", "--bins", "0"], "--bins"), (["sbc", "--tune", "0"], "--tune"),
                                          (["backtest", "--draws", "0"], "--draws"),
                                          (["backtest", "--as-of", "1990-01-01"], "--as-of")])
def test_backtest_and_sbc_options_checked_before_any_work(args, option, tmp_path):
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert r.exit_code == 2, r.output
    assert option in r.output and "Traceback" not in r.output and not (tmp_path / "out").exists()


def test_brackets_in_user_text_are_printed_not_parsed(tmp_path):
    path = tmp_path / "[draft]" / "missing.yaml"
    r = runner.invoke(app, ["validate", str(path)])
    assert r.exit_code == 2 and "[draft]" in r.output and "Traceback" not in r.output
    bad = tmp_path / "y.yaml"
    bad.write_text('name: "[/]"\n', encoding="utf-8")
    r = runner.invoke(app, ["validate", str(bad)])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_a_csv_of_one_empty_quoted_field_is_one_problem(tmp_path):
    path = tmp_path / "quotes.csv"
    path.write_text('""\n', encoding="utf-8")
    r = runner.invoke(app, ["data", "--data", str(path)])
    assert r.exit_code == 2 and "quotes.csv" in r.output and "Traceback" not in r.output


def test_compare_never_writes_over_a_users_files(results_dir, small_scenario, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "p_attained.csv").write_text("my own table\n", encoding="utf-8")
    (mine / "notes.txt").write_text("notes\n", encoding="utf-8")
    r = runner.invoke(app, ["compare", str(small_scenario), "--out", str(mine)])
    assert r.exit_code == 2 and "notes.txt" in " ".join(r.output.split())
    assert (mine / "p_attained.csv").read_text(encoding="utf-8") == "my own table\n"
