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
