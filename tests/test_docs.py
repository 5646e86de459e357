"""Documentation stays true: the scenario reference matches the schema, the examples run, the API is documented,
the README's commands exist."""

import doctest
import importlib.util
import inspect
import io
import os
import pydoc
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer

import model
from model.docs import scenario_reference

ROOT = Path(model.__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # scripts import this checkout's package, not an installed one


def test_scenario_reference_in_sync(tmp_path):
    """docs/scenarios.md is what `run.py schema` writes: the generated reference, then the hand-written examples."""
    from typer.testing import CliRunner

    from run import app

    text = (ROOT / "docs/scenarios.md").read_text(encoding="utf-8")
    generated = text.split("\n<!-- end of generated reference -->")[0].rstrip("\n") + "\n"
    assert generated == scenario_reference(), "run `python run.py schema`"
    copy = tmp_path / "scenarios.md"
    copy.write_text(text, encoding="utf-8")
    assert CliRunner().invoke(app, ["schema", "--out", str(copy)]).exit_code == 0
    assert copy.read_text(encoding="utf-8") == text  # regenerating keeps the examples after the marker


@pytest.mark.parametrize("name", model.__all__)
def test_public_example_runs(name, small_fit, monkeypatch):
    """Each public object has a numpydoc Examples section whose examples run and print what they show.

    The examples are self-contained (``import model`` and a short cached fit, the settings of ``small_fit``),
    so they can be pasted into a session; they run from the repository root."""
    monkeypatch.chdir(ROOT)
    obj = getattr(model, name)
    doc = inspect.getdoc(obj)
    assert "\nExamples\n--------\n" in doc, f"{name}: no numpydoc Examples section"
    assert "+SKIP" not in doc, f"{name}: skipped example"
    tests = doctest.DocTestFinder(recurse=False).find(obj, name, module=inspect.getmodule(obj), globs={})
    examples = [e for t in tests for e in t.examples]
    assert sum(bool(e.want.strip()) for e in examples) >= 1, f"{name}: no example shows checked output"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    for t in tests:
        runner.run(t, out=report.write)
    assert runner.failures == 0, report.getvalue()
    assert runner.tries == len(examples)


def test_help_gives_an_overview():
    text = pydoc.render_doc(model, renderer=pydoc.plaintext)
    overview = model.__doc__
    assert "P(attained)" in overview and "as_of" in overview and "extra=" in overview
    for name in model.__all__:
        assert re.search(rf"\b{name}\b", overview), f"{name} missing from the package overview"
        assert name in text
    for called in re.findall(r"model\.(\w+)\(", overview):
        assert called in model.__all__, f"overview calls model.{called}, which is not public"


def _shell_commands(markdown: str) -> list[str]:
    """Commands in ```bash blocks, comments stripped."""
    blocks = re.findall(r"```bash\n(.*?)```", markdown, flags=re.S)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


DOCUMENTS = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_documented_commands_exist(document):
    """Every `make` target, `run.py` command and option, and script named in the docs' bash blocks exists."""
    from run import app

    cli = typer.main.get_command(app)
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for command in _shell_commands((ROOT / document).read_text(encoding="utf-8")):
        words = shlex.split(command)
        if words[0] == "make":
            for target in words[1:]:
                assert re.search(rf"^{target}:", makefile, flags=re.M), f"{document}: make {target}"
            continue
        script = next((w for w in words if w.endswith(".py")), None)
        assert script, f"{document}: unexpected command {command!r}"
        assert (ROOT / script).is_file(), f"{document}: {script} does not exist"
        if script != "run.py":
            continue
        sub = words[words.index("run.py") + 1]
        assert sub in cli.commands, f"{document}: run.py {sub}"
        options = {o for p in cli.commands[sub].params for o in (*p.opts, *p.secondary_opts)}
        for w in words:
            if w.startswith("--"):
                assert w.split("=")[0] in options, f"{document}: run.py {sub} has no option {w}"


def test_readme_cheap_commands_run(monkeypatch):
    """The README's commands that need no fit run as written (the fits are left to `make run` and the slow tests)."""
    from typer.testing import CliRunner

    from run import app

    monkeypatch.chdir(ROOT)
    commands = [c for c in _shell_commands((ROOT / "README.md").read_text(encoding="utf-8"))
                if re.search(r"run\.py (validate|data|targets) ", c)]
    assert len(commands) == 3
    for command in commands:
        args = []
        for word in shlex.split(command)[2:]:  # after ".venv/bin/python run.py"; the shell would expand globs
            args += sorted(str(p.relative_to(ROOT)) for p in ROOT.glob(word)) if "*" in word else [word]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, (command, result.output)


def test_worked_example_runs(small_fit, tmp_path):
    out = tmp_path / "cmp.png"
    r = subprocess.run([sys.executable, "examples/custom_scenario.py", str(out), "--draws", "300",
                        "--fit-draws", "150", "--fit-seed", "11"], capture_output=True, text=True, timeout=900,
                       cwd=ROOT, env=ENV)
    assert r.returncode == 0, r.stderr[-2000:]
    assert out.stat().st_size > 10_000


def _add_data_example():
    spec = importlib.util.spec_from_file_location("add_2024_figure", ROOT / "examples/add_2024_figure.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _probabilities(markdown: str) -> list[tuple[float, float]]:
    return [(float(a), float(b)) for a, b in re.findall(r"\*\*P\(attained\)\*\*.*?\| \*\*([\d.]+)\*\* \| \*\*([\d.]+)\*\* \|",
                                                        markdown)]


@pytest.mark.slow
def test_add_data_example_runs(small_fit, tmp_path):
    """The 2024-figure example, with short chains: both runs, probabilities in [0, 1], the rows really used."""
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "examples/add_2024_figure.py", "--out", str(out), "--doc", str(tmp_path / "doc.md"),
                        "--draws", "300", "--fit-draws", "150", "--fit-seed", "11"],
                       capture_output=True, text=True, timeout=1800, cwd=ROOT, env=ENV)
    assert r.returncode == 0, r.stderr[-3000:]
    table = pd.read_csv(out / "before_after.csv", keep_default_na=False).set_index(["measure", "target_id"])
    assert list(table.columns) == ["without", "with"]
    p = table.loc["p_attained"]
    assert list(p.index) == ["p14_gdp", "p14_gdp_growth", "a2024_gdp"]
    assert ((p >= 0) & (p <= 1)).all().all()
    diag = table.xs("", level="target_id")
    assert diag.at["observations", "with"] == diag.at["observations", "without"] + 2
    assert (diag.at["last_fitted_year", "without"], diag.at["last_fitted_year", "with"]) == (2023, 2024)
    doc = (tmp_path / "doc.md").read_text(encoding="utf-8")
    assert "HYPOTHETICAL" in doc and "| | without the 2024 figure | with the 2024 figure |" in doc
    assert len(_probabilities(doc)) == 3 and all(0 <= x <= 1 for pair in _probabilities(doc) for x in pair)
    assert "--draws 300 --fit-draws 150 --fit-seed 11" in doc  # the page says how it was made


def test_add_data_page_generated_and_linked(dataset):
    """docs/add_data_example.md comes from the example script: its CSV is the script's, its table well formed."""
    page = (ROOT / "docs/add_data_example.md").read_text(encoding="utf-8")
    assert "Generated by `python examples/add_2024_figure.py --doc docs/add_data_example.md" in page
    rows = _add_data_example().extra_rows(dataset)
    csv = re.search(r"```csv\n(.*?)\n```", page, flags=re.S).group(1)
    assert csv == rows.to_csv(index=False).strip()
    assert (rows["source"].str.contains("HYPOTHETICAL") & rows["note"].str.contains("HYPOTHETICAL")).all()
    probabilities = _probabilities(page)
    assert len(probabilities) == 3 and all(0 <= x <= 1 for pair in probabilities for x in pair)
    assert "(add_data_example.md)" in (ROOT / "docs/data.md").read_text(encoding="utf-8")
    assert "docs/add_data_example.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_hypothetical_rows_are_consistent(dataset):
    """The nominal 2024 level is the 2023 level grown at the hypothetical real growth (prices flat)."""
    rows = _add_data_example().extra_rows(dataset).set_index("kind")
    gdp_2023 = dataset.observations.query("indicator == 'gdp' and year == 2023 and kind == 'level'")["value"].max()
    assert rows.at["level", "value"] == pytest.approx(gdp_2023 * (1 + rows.at["yoy_growth", "value"] / 100), abs=0.05)
    assert (rows["published"] > "2024-03-31").all()  # after the baseline's vintage: only a later as_of sees them


def test_data_dictionary_in_sync(dataset):
    """The indicator table of docs/data.md is the catalogue (regenerate with `python run.py schema`)."""
    from model.docs import CATALOGUE_BEGIN, catalogue_table

    text = (ROOT / "docs/data.md").read_text(encoding="utf-8")
    assert text.split(CATALOGUE_BEGIN, 1)[1].strip("\n") == catalogue_table(dataset.catalogue).strip("\n"), \
        "run `python run.py schema`"
