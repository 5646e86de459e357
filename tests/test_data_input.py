"""Bad data files and dates reach the user as one line per problem (file, row, field), exit code 2, no traceback.

Each data case is one a user tried: it used to give a traceback or, worse, a silently wrong probability."""

import importlib

import pandas as pd
import pytest
from typer.testing import CliRunner

from model import data
from model.errors import InputError
from run import app

runner = CliRunner()
HEADER = ",".join(data.OBSERVATION_COLUMNS)


def _row(indicator="gdp", year="2024", span="", value="5.0", unit="%", kind="yoy_growth", basis="real",
         source="HYPOTHETICAL test row", line="", published="2024-03-01"):
    return f"{indicator},{year},{span},{value},{unit},{kind},=,{basis},{source},{line},,{published},"


def _listing(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*"))


# (case id, how to make the --data path under tmp_path, what the one problem line must contain)
DATA_CASES = [
    ("negative level", lambda d: _csv(d, _row(value="-2946.5", unit="亿元", kind="level", basis="nominal")),
     ["bad.csv row 2", "value -2946.5", "level", "≥ 0"]),
    ("share above 100", lambda d: _csv(d, _row("urbanization_rate", value="150", kind="share", basis="n.a.")),
     ["bad.csv row 2", "value 150", "share", "between 0 and 100"]),
    ("day-first date", lambda d: _csv(d, _row(published="01/04/2024")),
     ["bad.csv row 2", "published '01/04/2024'", "YYYY-MM-DD"]),
    ("folder as --data", lambda d: d,
     [None, "is a folder, not a CSV file"]),
    ("extra field", lambda d: _csv(d, _row(), _row(year="2023") + ",surplus"),
     ["bad.csv row 3", "14 fields but the header has 13"]),
    ("mixed date formats", lambda d: _csv(d, _row(), _row(year="2023", published="2024/03/01")),
     ["bad.csv row 3", "published '2024/03/01'", "YYYY-MM-DD"]),
    ("not UTF-8", lambda d: _csv(d, _row(source="长治统计公报"), encoding="gbk"),
     ["bad.csv", "not UTF-8"]),
    ("empty file", lambda d: _csv(d, header=False),
     ["bad.csv", "file is empty"]),
    ("header only", lambda d: _csv(d),
     ["bad.csv", "has a header but no data rows"]),
    ("nan value", lambda d: _csv(d, _row(value="nan")),
     ["bad.csv row 2", "value 'nan'", "not a finite number"]),
    ("inf value", lambda d: _csv(d, _row(value="inf", unit="亿元", kind="level", basis="nominal")),
     ["bad.csv row 2", "value 'inf'", "not a finite number"]),
    ("one document, two values", lambda d: _csv(d, _row(value="5.0"), _row(value="6.5")),
     ["bad.csv row 2 and bad.csv row 3", "gdp 2024 yoy_growth (real) is 5 in one and 6.5", "in one document"]),
    ("a level off by a unit", lambda d: _csv(d, _row(year="2023", value="28062", unit="亿元", kind="level",
                                                     basis="nominal")),
     ["observations.csv row", "bad.csv row 2", "gdp 2023 level (nominal) is 2806.2 in one and 28062",
      "factor of 2"]),
    ("a growth rate off by 20 points", lambda d: _csv(d, _row(year="2023", value="26.0")),
     ["observations.csv row", "bad.csv row 2", "gdp 2023 yoy_growth (real)", "more than 10 points"]),
]


def _csv(folder, *rows, header=True, encoding="utf-8"):
    path = folder / "bad.csv"
    text = "\n".join(([HEADER] if header else []) + list(rows)) + ("\n" if rows or header else "")
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("case, make, needles", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_bad_data_file_is_one_problem_line(case, make, needles, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    path = make(folder)
    needles = [str(path) if n is None else n for n in needles]
    before = _listing(tmp_path)
    r = runner.invoke(app, ["data", "--data", str(path), "--indicator", "gdp"])
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception  # not an uncaught error
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert lines[0] == "error: 1 data problem(s):", r.output
    assert len(lines) == 2 and lines[1].startswith("  - "), r.output
    for needle in needles:
        assert needle in lines[1], (needle, lines[1])
    assert _listing(tmp_path) == before  # nothing written


def test_every_problem_of_a_file_at_once(tmp_path):
    path = _csv(tmp_path, _row(value="-1", unit="亿元", kind="level", basis="nominal"),
                _row(published="01/04/2024"),
                _row(year="2023") + ",surplus",
                "",  # a blank line is skipped, and row numbers stay the file's line numbers
                _row("urbanization_rate", value="100.5", kind="share", basis="n.a."),
                _row(value="1e3"),
                _row(kind="yoy_growth", value="-100"),
                _row(kind="avg_growth", span="2021", value="-101"),
                _row(kind="pp_change", span="2021", value="120", unit="pp", indicator="urbanization_rate",
                     basis="n.a."),
                _row(year="1948"),
                _row(span="2020"),
                _row(line="0"))
    with pytest.raises(data.DataError) as err:
        data.load(extra=[path])
    problems = err.value.problems
    expected = [("row 2:", "value -1 is impossible for a level"),
                ("row 3:", "published '01/04/2024' is not an ISO date YYYY-MM-DD"),
                ("row 4:", "14 fields but the header has 13"),
                ("row 6:", "value 100.5 is impossible for a share"),
                ("row 7:", "value '1e3' is not a plain number"),
                ("row 8:", "value -100 is impossible for a yoy_growth: it must be > -100"),
                ("row 9:", "value -101 is impossible for a avg_growth"),
                ("row 10:", "value 120 is impossible for a pp_change"),
                ("row 11:", "year '1948' is not a year in 1949–2035"),
                ("row 12:", "span_start '2020' given for kind yoy_growth"),
                ("row 13:", "line '0' is not a line number")]
    for row, needle in expected:
        assert any(p.startswith(f"bad.csv {row}") and needle in p for p in problems), (row, needle, problems)
    assert len(problems) == len(expected), problems


def test_boundaries_that_are_possible_load(tmp_path):
    """A printed 0 (no deaths), a share of 0 or 100, a fall of 99.9 %, a BOM and blank lines are fine."""
    path = tmp_path / "ok.csv"
    rows = [_row("coal_mine_death_rate", value="0", unit="人/百万吨", kind="level", basis="n.a."),
            _row("urbanization_rate", value="100", kind="share", basis="n.a."),
            _row("urbanization_rate", year="2023", value="0", kind="share", basis="n.a."),
            _row(value="-99.9"), "", _row(year="2023", value="+5.2")]
    path.write_bytes(("\ufeff" + HEADER + "\n" + "\n".join(rows) + "\n").encode("utf-8"))
    ds = data.load(extra=[path])
    mine = ds.observations[ds.observations["file"] == "ok.csv"]
    assert list(mine["value"]) == [0.0, 100.0, 0.0, -99.9, 5.2]


def test_shipped_data_still_loads_with_its_zeros(dataset):
    zeros = dataset.observations.query("value == 0 and kind in ['level', 'count']")
    assert len(zeros) >= 2 and len(dataset.observations) >= 400


def test_targets_checked_against_their_kind(data_copy):
    d = data_copy
    tg = pd.read_csv(d / "targets.csv", dtype=str, keep_default_na=False)
    gdp = tg.index[tg["target_id"] == "p14_gdp"][0]
    share = tg.index[tg["target_id"] == "p14_urbanization_rate"][0]
    tg.loc[gdp, "threshold"] = "-2800"
    tg.loc[share, "threshold"] = "162"
    tg.loc[share, "published"] = "25/05/2021"
    tg.loc[3, "restates"] = "no_such_target"
    tg.to_csv(d / "targets.csv", index=False)
    with pytest.raises(data.DataError) as err:
        data.load(d)
    text = "\n".join(err.value.problems)
    assert f"targets.csv row {gdp + 2}: threshold -2800 is impossible for a level" in text
    assert f"targets.csv row {share + 2}: threshold 162 is impossible for a share" in text
    assert f"targets.csv row {share + 2}: published '25/05/2021' is not an ISO date" in text
    assert f"targets.csv row 5: restates 'no_such_target'" in text


def test_vintage_needs_an_iso_date(dataset):
    for bad in ("yesterday", "today", "01/04/2024", "2024-13-01", "2024-02-30", "20240331"):
        with pytest.raises(InputError, match=rf"as_of: '{bad}' is not an ISO date YYYY-MM-DD"):
            dataset.vintage(bad)
    assert len(dataset.vintage("2024-03-31").observations) == len(dataset.vintage(pd.Timestamp("2024-03-31")).observations)


@pytest.mark.parametrize("args", [["data", "--as-of", "yesterday"], ["data", "--as-of", "2024-13-01"],
                                  ["posterior", "--as-of", "2024-13-01"], ["posterior", "--as-of", "yesterday"],
                                  ["predict", "--input", "rows.csv", "--out", "out.csv", "--as-of", "2024-13-01"]])
def test_as_of_is_one_line(args, monkeypatch, tmp_path):
    fit_mod = importlib.import_module("model.fit")  # `import model.fit` gives the function

    def boom(*a, **k):
        raise AssertionError("fitted with a bad date")

    monkeypatch.setattr(fit_mod, "fit", boom)
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    assert lines[0].startswith(f"error: --as-of: {args[-1]!r} is not an ISO date YYYY-MM-DD"), lines
    assert not list(tmp_path.iterdir())


def test_posterior_before_any_document_is_one_line(monkeypatch):
    fit_mod = importlib.import_module("model.fit")  # `import model.fit` gives the function

    monkeypatch.setattr(fit_mod, "fit", lambda *a, **k: (_ for _ in ()).throw(AssertionError("fitted")))
    r = runner.invoke(app, ["posterior", "--as-of", "1990-01-01"])
    assert r.exit_code == 2 and r.output.startswith("error: --as-of: no document was published by 1990-01-01"), r.output


def test_targets_unknown_plan_and_format():
    r = runner.invoke(app, ["targets", "--plan", "p15"])
    assert r.exit_code == 2 and "--plan: unknown plan 'p15' (one of " in r.output, r.output
    r = runner.invoke(app, ["data", "--format", "json"])
    assert r.exit_code == 2 and "--format: 'json' is not one of table, csv" in r.output, r.output
