"""Results folders: nothing of the user's is ever deleted or moved, refusals come before any computation,
temporary folders never outlive a failed or interrupted write, and manifest.json is strict JSON."""

import copy
import dataclasses
import json
import os
import signal
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import model.pipeline as pipeline
from model.errors import InputError
from run import app

runner = CliRunner()
BASELINE = str(Path("scenarios/baseline.yaml").resolve())


def _tree(folder: Path) -> dict:
    """Every entry under ``folder`` (hidden ones too): file bytes, or None for a folder."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in folder.rglob("*")}


@pytest.fixture
def no_fitting(monkeypatch):
    """A refusal must come before any computation: running a scenario fails the test."""
    def boom(*a, **k):
        raise AssertionError("run_scenario was called")

    monkeypatch.setattr(pipeline, "run_scenario", boom)


@pytest.fixture
def scenario(tmp_path):
    """A valid small scenario file (not run unless a test lets it)."""
    path = tmp_path / "scen" / "small.yaml"
    path.parent.mkdir()
    path.write_text(f"name: small\nextends: {BASELINE}\ndraws: 300\nseed: 4\n"
                    "fit: {draws: 150, tune: 150, chains: 2, seed: 11}\n", encoding="utf-8")
    return path


def _refused(result, shown: str):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith("error: ") and shown in result.output, result.output


# --- the data-loss cases reported by users -----------------------------------------------------------------------

def test_out_folder_with_user_files_untouched(tmp_path, scenario, no_fitting):
    home = tmp_path / "home"
    (home / "sub").mkdir(parents=True)
    (home / "thesis.docx").write_bytes(b"PK\x03\x04 four years of work")
    (home / "sub" / "survey.csv").write_text("id,answer\n1,yes\n", encoding="utf-8")
    before, around = _tree(home), sorted(p.name for p in tmp_path.iterdir())
    result = runner.invoke(app, ["run", str(scenario), "--out", str(home)])
    _refused(result, f"error: {home}: the folder exists and is not a results folder of this project")
    assert _tree(home) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == around  # no .tmp-/.old- folder beside it


def test_out_other_repository_untouched(tmp_path, scenario, no_fitting):
    clone = tmp_path / "other-clone"
    (clone / ".git" / "objects").mkdir(parents=True)
    (clone / ".git" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    (clone / "README.md").write_text("# another project\n", encoding="utf-8")
    before = _tree(clone)
    result = runner.invoke(app, ["run", str(scenario), "--out", str(clone)])
    _refused(result, str(clone))
    assert _tree(clone) == before


def test_validate_also_refuses_the_folder(tmp_path, scenario):
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.docx").write_bytes(b"draft")
    result = runner.invoke(app, ["validate", str(scenario), "--out", str(home)])
    _refused(result, str(home))
    assert _tree(home) == {"thesis.docx": b"draft"}


@pytest.mark.parametrize("name", [".", "../data", "ABSOLUTE"])
def test_scenario_name_is_not_a_path(name, tmp_path, monkeypatch, no_fitting):
    """With results/ elsewhere, a name '.', '../data' or an absolute path would have replaced that folder."""
    repo = tmp_path / "repo"
    (repo / "results" / "baseline").mkdir(parents=True)
    (repo / "results" / "baseline" / "attainment.csv").write_text("target_id,p_attained\n", encoding="utf-8")
    (repo / "data").mkdir()
    (repo / "data" / "observations.csv").write_text("indicator,year\ngdp,2023\n", encoding="utf-8")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine", encoding="utf-8")
    monkeypatch.setattr(pipeline, "RESULTS_DIR", repo / "results")
    path = tmp_path / "named.yaml"
    path.write_text(f"name: {json.dumps(str(victim) if name == 'ABSOLUTE' else name)}\nextends: {BASELINE}\n",
                    encoding="utf-8")
    before = _tree(tmp_path)
    for command in ("validate", "run"):
        result = runner.invoke(app, [command, str(path)])
        _refused(result, f"error: {path}: name: ")
        assert "not a plain name" in result.output
    assert _tree(tmp_path) == before


def test_out_existing_file_untouched(tmp_path, scenario, no_fitting):
    target = tmp_path / "existing_file.txt"
    target.write_bytes(b"notes\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = runner.invoke(app, ["run", str(scenario), "--out", str(target)])
    _refused(result, f"error: {target}: exists and is not a folder")
    assert target.read_bytes() == b"notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # not moved aside to a hidden name


def test_out_under_a_file(tmp_path, scenario, no_fitting):
    blocker = tmp_path / "file.txt"
    blocker.write_bytes(b"x")
    result = runner.invoke(app, ["run", str(scenario), "--out", str(blocker / "res")])
    _refused(result, f"error: {blocker / 'res'}: cannot be created: {blocker} is a file")
    assert blocker.read_bytes() == b"x"


@pytest.mark.parametrize("how", ["permission bits", "creation fails"])
def test_out_parent_read_only(how, tmp_path, scenario, no_fitting, monkeypatch):
    """Refused before fitting. As root, permission bits do not stop writes, so the bits are simulated
    (os.access) and, separately, the trial creation of a file in the parent is made to fail."""
    parent = tmp_path / "ro"
    parent.mkdir()
    (parent / "keep.txt").write_bytes(b"k")
    if how == "permission bits":
        if os.geteuid() == 0:
            real = os.access
            monkeypatch.setattr(pipeline.os, "access",
                                lambda p, mode, **k: False if Path(p) == parent else real(p, mode, **k))
        else:
            parent.chmod(0o555)
    else:
        real_mkdtemp = pipeline.tempfile.mkdtemp

        def mkdtemp(*a, **k):
            if Path(k.get("dir", "")) == parent:
                raise PermissionError(13, "Read-only file system")
            return real_mkdtemp(*a, **k)

        monkeypatch.setattr(pipeline.tempfile, "mkdtemp", mkdtemp)
    try:
        result = runner.invoke(app, ["run", str(scenario), "--out", str(parent / "res")])
    finally:
        parent.chmod(0o755)
    _refused(result, f"error: {parent / 'res'}: cannot write into {parent}")
    assert _tree(parent) == {"keep.txt": b"k"}


def test_results_folder_with_a_user_file_untouched(tmp_path, small_result):
    out = pipeline.write_results(small_result, tmp_path / "res", report=False)
    (out / "my_notes.txt").write_text("do not lose", encoding="utf-8")
    before = _tree(out)
    with pytest.raises(InputError, match=r"res: the results folder also holds my_notes\.txt"):
        pipeline.write_results(small_result, out, report=False)
    assert _tree(out) == before


def test_legacy_manifest_without_file_list(tmp_path):
    """Committed results predate the `files` list: only names write_results produces may be in them."""
    out = tmp_path / "old"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"scenario_hash": "a", "fit_key": "b"}), encoding="utf-8")
    for name in ("attainment.csv", "report.html", "fans_targets_07.png", "threshold_curves.png"):
        (out / name).write_bytes(b"")
    assert pipeline.check_output_dir(out) == out
    (out / "thesis.docx").write_bytes(b"")
    with pytest.raises(InputError, match="thesis.docx"):
        pipeline.check_output_dir(out)


def test_foreign_manifest_refused(tmp_path):
    out = tmp_path / "other"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"name": "some other tool"}), encoding="utf-8")
    with pytest.raises(InputError, match="not a results folder of this project"):
        pipeline.check_output_dir(out)


def test_symlink_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(InputError, match="symbolic link"):
        pipeline.check_output_dir(tmp_path / "link")


# --- writing ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_result(small_fit, dataset):
    from model.scenario import Scenario

    fit = {"draws": 150, "tune": 150, "chains": 2, "seed": 11}  # conftest.SMALL_FIT: the cached small fit
    return pipeline.run_scenario(Scenario(name="small", draws=300, seed=4, fit=fit), dataset)


def test_rerun_replaces_our_results_folder(tmp_path, small_result):
    out = pipeline.write_results(small_result, tmp_path / "res", report=False)
    fresh = (out / "attainment.csv").read_bytes()
    (out / "attainment.csv").write_bytes(b"stale")
    (out / "draws.nc").unlink()  # a partial old result is still ours
    again = pipeline.write_results(small_result, tmp_path / "res", report=False)
    assert again == out
    assert (out / "attainment.csv").read_bytes() == fresh and (out / "draws.nc").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]  # no .tmp- or .old- folder left


def test_cli_rerun_replaces_our_results_folder(tmp_path, small_result, scenario):
    out = pipeline.write_results(small_result, tmp_path / "res", report=False)
    (out / "attainment.csv").write_bytes(b"stale")
    result = runner.invoke(app, ["run", str(scenario), "--out", str(out), "--no-report"])
    assert result.exit_code == 0, result.output
    assert (out / "attainment.csv").read_bytes().startswith(b"target_id,")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["scenario"] == "small" and "manifest.json" in manifest["files"]
    assert sorted(manifest["files"]) == sorted(p.name for p in out.iterdir())


def test_empty_existing_folder_used(tmp_path, small_result):
    (tmp_path / "empty").mkdir()
    out = pipeline.write_results(small_result, tmp_path / "empty", report=False)
    assert (out / "manifest.json").is_file()


def test_results_folder_has_normal_permissions(tmp_path, small_result):
    mask = os.umask(0o022)
    os.umask(mask)
    out = pipeline.write_results(small_result, tmp_path / "res", report=False)
    assert out.stat().st_mode & 0o777 == 0o777 & ~mask  # not mkdtemp's 0o700


def _left_over(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith((".tmp-", ".old-", ".check-")))


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()], ids=["exception", "ctrl-c"])
def test_failed_write_leaves_nothing(error, tmp_path, small_result, monkeypatch):
    import model.report as report_mod

    def broken(*a, **k):
        raise error

    monkeypatch.setattr(report_mod, "build_report", broken)
    target = tmp_path / "new" / "deeper" / "res"
    with pytest.raises(type(error)):
        pipeline.write_results(small_result, target)
    assert not (tmp_path / "new").exists()  # the parents it created are gone too
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_failed_write_keeps_previous_result(tmp_path, small_result, monkeypatch):
    import model.report as report_mod

    out = pipeline.write_results(small_result, tmp_path / "res", report=False)
    before = _tree(out)
    monkeypatch.setattr(report_mod, "build_report", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        pipeline.write_results(small_result, out)
    assert _tree(out) == before and _left_over(tmp_path) == []


def test_sigterm_during_write_removes_the_temporary_folder(tmp_path, small_result, monkeypatch):
    import model.report as report_mod

    def killed(folder, *a, **k):
        assert folder.name.startswith(".tmp-res-")  # the temporary folder exists now
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)  # the handler interrupts this
        raise AssertionError("SIGTERM did not interrupt the write")

    def unhandled(signum, frame):  # stands in for the default action (which would end the test process)
        raise AssertionError("write_results installed no SIGTERM handler")

    monkeypatch.setattr(report_mod, "build_report", killed)
    original = signal.signal(signal.SIGTERM, unhandled)
    try:
        with pytest.raises(SystemExit) as stopped:
            pipeline.write_results(small_result, tmp_path / "res")
        assert signal.getsignal(signal.SIGTERM) is unhandled  # installed only during the write, then restored
    finally:
        signal.signal(signal.SIGTERM, original)
    assert stopped.value.code == 128 + signal.SIGTERM
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# --- manifest ----------------------------------------------------------------------------------------------------

def _no_constants(name):
    raise ValueError(f"non-standard JSON constant {name}")


def test_manifest_is_strict_json(tmp_path, small_result):
    result = copy.copy(small_result)
    result.fit = copy.copy(small_result.fit)
    nan_field = "max_rhat"  # NaN when a chain is constant
    result.fit.diagnostics = dataclasses.replace(result.fit.diagnostics, **{nan_field: float("nan")})
    out = pipeline.write_results(result, tmp_path / "res", report=False)
    text = (out / "manifest.json").read_text(encoding="utf-8")
    manifest = json.loads(text, parse_constant=_no_constants)
    assert manifest["diagnostics"][nan_field] is None
    assert "NaN" not in text and "Infinity" not in text


def test_strict_json_converts_non_finite():
    import numpy as np

    value = {"a": float("nan"), "b": [np.float64("inf"), -float("inf"), 1.5], "c": np.int64(3), 4: "x"}
    text = json.dumps(pipeline.strict_json(value), allow_nan=False)
    assert json.loads(text, parse_constant=_no_constants) == {"a": None, "b": [None, None, 1.5], "c": 3, "4": "x"}
