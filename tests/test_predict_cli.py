"""`run.py predict` through the command line: bad input is one line with exit 2, before any fit, and nothing is
written; good input is predicted on the baseline's vintage and fit settings and written atomically."""

import importlib
import os

import pandas as pd
import pytest
from typer.testing import CliRunner

import run
from model import load_scenario
from run import app

runner = CliRunner()
fit_mod = importlib.import_module("model.fit")  # `import model.fit` would give the function
HEADER = "indicator,year,kind,price_basis,value"


def _file(folder, text, name="rows.csv", encoding="utf-8"):
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


# (case id, content of --input or a callable making the path, --out relative to the folder, needles of the one line)
PREDICT_CASES = [
    ("unknown kind", f"{HEADER}\ngdp,2025,yoy,real,\n", "out.csv",
     ["rows.csv row 2", "kind 'yoy' is not one of level, count, share, yoy_growth"]),
    ("empty file", "", "out.csv", ["rows.csv", "file is empty"]),
    ("header only", f"{HEADER}\n", "out.csv", ["rows.csv", "has a header but no data rows"]),
    ("value not a number", f"{HEADER}\ngdp,2024,yoy_growth,real,five\n", "out.csv",
     ["rows.csv row 2", "value 'five' is not a number"]),
    ("year 9999", f"{HEADER}\ngdp,9999,yoy_growth,real,\n", "out.csv",
     ["rows.csv row 2", "year '9999' is not a year in 2014–2035"]),
    ("year before the data", f"{HEADER}\ngdp,2013,yoy_growth,real,\n", "out.csv",
     ["rows.csv row 2", "year '2013' is not a year in 2014–2035"]),
    ("unknown indicator", f"{HEADER}\ngpd,2025,yoy_growth,real,\n", "out.csv",
     ["rows.csv row 2", "unknown indicator 'gpd'"]),
    ("share above 100", f"{HEADER}\nurbanization_rate,2025,share,n.a.,150\n", "out.csv",
     ["rows.csv row 2", "value 150 is impossible for a share"]),
    ("missing column", "indicator,year,kind\ngdp,2025,yoy_growth\n", "out.csv",
     ["rows.csv", "missing column(s) price_basis"]),
    ("extra field", f"{HEADER}\ngdp,2025,yoy_growth,real,,5\n", "out.csv",
     ["rows.csv row 2", "6 fields but the header has 5"]),
    ("not UTF-8", f"{HEADER},note\ngdp,2025,yoy_growth,real,,长治\n", "out.csv", ["rows.csv", "not UTF-8"]),
    ("input is a folder", lambda d: d, "out.csv", ["is a folder, not a CSV file"]),
    ("input missing", lambda d: d / "nope.csv", "out.csv", ["nope.csv: file not found"]),
    ("--out is a folder", f"{HEADER}\ngdp,2025,yoy_growth,real,\n", "dest",
     ["--out:", "dest is a folder; give a file name"]),
    ("--out parent missing", f"{HEADER}\ngdp,2025,yoy_growth,real,\n", "missing/out.csv",
     ["--out: folder", "missing does not exist"]),
    ("--draws zero", f"{HEADER}\ngdp,2025,yoy_growth,real,\n", "out.csv", ["--draws: 0 is not between 1 and"]),
]


@pytest.fixture
def no_fit(monkeypatch):
    """Bad input must be refused before anything is computed."""
    def boom(*a, **k):
        raise AssertionError("fitted before the input was checked")

    monkeypatch.setattr(fit_mod, "fit", boom)


@pytest.mark.parametrize("case, content, out_name, needles", PREDICT_CASES, ids=[c[0] for c in PREDICT_CASES])
def test_bad_predict_input_is_one_line_and_writes_nothing(case, content, out_name, needles, tmp_path, no_fit):
    (tmp_path / "dest").mkdir()
    src = content(tmp_path / "dest") if callable(content) else _file(
        tmp_path, content, encoding="gbk" if case == "not UTF-8" else "utf-8")
    out = tmp_path / out_name
    before = sorted(tmp_path.rglob("*"))
    args = ["predict", "--input", str(src), "--out", str(out), "--as-of", "2024-03-31"]
    r = runner.invoke(app, args + (["--draws", "0"] if case == "--draws zero" else []))
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    problem = lines[-1]
    assert lines[0].startswith("error: ") and len(lines) <= 2, r.output  # one line, or one problem of a DataError
    for needle in needles:
        assert needle in problem, (needle, r.output)
    if case != "--out is a folder":
        assert not out.exists()
    assert sorted(tmp_path.rglob("*")) == before  # no output, no temporary file
    assert not list(tmp_path.rglob("*.tmp"))


def test_every_problem_of_the_input_at_once(tmp_path, no_fit):
    src = _file(tmp_path, f"{HEADER}\ngdp,9999,yoy,real,five\ngdp,2025,level,nominal,\ngpd,2025,share,n.a.,\n")
    r = runner.invoke(app, ["predict", "--input", str(src), "--out", str(tmp_path / "out.csv")])
    assert r.exit_code == 2
    assert r.output.startswith("error: 4 data problem(s):"), r.output
    for needle in ("row 2: kind 'yoy'", "row 2: year '9999'", "row 2: value 'five'", "row 4: unknown indicator 'gpd'"):
        assert needle in r.output, needle
    assert not (tmp_path / "out.csv").exists()


def test_default_vintage_is_the_baseline_scenarios():
    baseline = load_scenario(run.BASELINE)
    assert run.BASELINE_AS_OF == baseline.as_of == "2024-03-31"
    assert run._baseline_fit() == baseline.fit.model_dump()
    r = runner.invoke(app, ["predict", "--help"])
    assert "2024-03-31" in r.output and "baseline" in r.output


ROWS = (f"{HEADER},note\n"
        "gdp,2023,level,nominal,2806.2,a figure of the data: scored\n"
        "gdp,2025,level,nominal,,the headline target's quantity\n"
        "gdp,2024,yoy_growth,real,,\n")


@pytest.mark.parametrize("as_of", [["--as-of", "2024-03-31"], []], ids=["explicit", "default"])
def test_predict_end_to_end(as_of, small_settings, small_fit, tmp_path):
    src = _file(tmp_path, ROWS)
    out = tmp_path / "predicted.csv"
    r = runner.invoke(app, ["predict", "--input", str(src), "--out", str(out), "--draws", "600", *as_of])
    assert r.exit_code == 0, r.output
    assert "vintage: documents published by 2024-03-31 (the baseline scenario's)" in r.output
    assert f"wrote {out} (3 rows)" in r.output
    baseline = load_scenario(run.BASELINE)
    assert small_settings == [dict(as_of="2024-03-31", **baseline.fit.model_dump())]
    res = pd.read_csv(out)
    assert list(res["note"].fillna("")) == ["a figure of the data: scored", "the headline target's quantity", ""]
    assert {"mean", "q05", "q50", "q95", "pit", "crps", "log_score"} <= set(res.columns)
    assert 0 <= res.at[0, "pit"] <= 1 and res[["pit", "crps"]].iloc[1:].isna().all().all()
    assert (res["q95"] > res["q05"]).all()
    assert 2000 < res.at[1, "q50"] < 5000 and -20 < res.at[2, "q50"] < 30  # 亿元 and %
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predicted.csv", "rows.csv"]  # no temporary file left
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(small_settings, tmp_path, monkeypatch):
    src = _file(tmp_path, ROWS)
    out = tmp_path / "predicted.csv"
    out.write_text("the previous predictions\n", encoding="utf-8")

    real, written = pd.DataFrame.to_csv, []

    def full(self, path_or_buf=None, *a, **k):
        if path_or_buf is None:  # to a string (the fit's cache key): unchanged
            return real(self, path_or_buf, *a, **k)
        written.extend(p.name for p in tmp_path.glob(".predicted.csv.*.tmp"))  # the temporary file exists
        path_or_buf.write("mean,q05\n1,")  # half written, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    r = runner.invoke(app, ["predict", "--input", str(src), "--out", str(out), "--draws", "200"])
    assert r.exit_code == 2 and "No space left on device" in r.output, r.output
    assert len(written) == 1, written  # the failure was in the write, to a temporary file next to the output
    assert "Traceback" not in r.output
    assert out.read_text(encoding="utf-8") == "the previous predictions\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predicted.csv", "rows.csv"]


def test_predict_api_refuses_far_years_and_unknown_kinds(small_fit):
    from model.errors import InputError

    with pytest.raises(InputError, match="year 9999 is not a year in 1949–2035"):
        small_fit.predict(pd.DataFrame([dict(indicator="gdp", year=9999, kind="level", price_basis="nominal")]))
    with pytest.raises(InputError, match="kind 'yoy' is not one of"):
        small_fit.predict(pd.DataFrame([dict(indicator="gdp", year=2025, kind="yoy", price_basis="real")]))
