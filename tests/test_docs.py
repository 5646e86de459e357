"""Documentation stays true: the scenario reference matches the schema, the example runs, the API is documented."""

import subprocess
import sys
from pathlib import Path

import model
from model.docs import scenario_reference


def test_scenario_reference_in_sync():
    text = Path("docs/scenarios.md").read_text(encoding="utf-8")
    generated = text.split("\n<!-- end of generated reference -->")[0].rstrip("\n") + "\n"
    assert generated == scenario_reference(), "run `python run.py schema` and keep the appendix"


def test_public_api_documented():
    assert "run_scenario" in model.__doc__
    for name in model.__all__:
        obj = getattr(model, name)
        assert obj.__doc__ and obj.__doc__.strip(), name


def test_worked_example_runs(small_fit, tmp_path):
    out = tmp_path / "cmp.png"
    r = subprocess.run([sys.executable, "examples/custom_scenario.py", str(out), "--draws", "300",
                        "--fit-draws", "150", "--fit-seed", "11"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    assert out.stat().st_size > 10_000
