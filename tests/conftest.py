"""Shared fixtures: the shipped dataset and one small cached fit of the full data (tests share it)."""

import warnings

import pytest

warnings.filterwarnings("ignore", category=FutureWarning)

SMALL_FIT = dict(draws=150, tune=150, chains=2, seed=11)


@pytest.fixture(scope="session")
def dataset():
    from model import data

    return data.shipped()


@pytest.fixture(scope="session")
def small_fit(dataset):
    """A short-chain fit of all data (as of 2024-03-31), cached on disk after the first test run."""
    from model.fit import fit

    return fit(dataset, as_of="2024-03-31", **SMALL_FIT)


@pytest.fixture
def data_copy(tmp_path):
    """A writable copy of the shipped data folder (catalogue, observations, targets)."""
    import shutil

    from model import data

    for name in ("catalogue.csv", "observations.csv", "targets.csv"):
        shutil.copy(data.DATA_DIR / name, tmp_path / name)
    return tmp_path


SMALL_SCENARIO = """name: {name}
description: test scenario
extends: {base}
draws: 300
seed: 4
fit: {{draws: 150, tune: 150, chains: 2, seed: 11}}
"""


@pytest.fixture(scope="session")
def small_scenario(tmp_path_factory, small_fit):
    """The baseline scenario with few paths, on the small fit."""
    from pathlib import Path

    path = tmp_path_factory.mktemp("scen") / "small.yaml"
    path.write_text(SMALL_SCENARIO.format(name="small", base=str(Path("scenarios/baseline.yaml").resolve())),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def run_output(small_scenario, tmp_path_factory):
    """``run.py run`` of the small scenario with its report (English labels): (folder, console output)."""
    from typer.testing import CliRunner

    from run import app

    out = tmp_path_factory.mktemp("res") / "small"
    result = CliRunner().invoke(app, ["run", str(small_scenario), "--out", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.fixture
def small_settings(monkeypatch, small_fit):
    """The CLI's fit, spied on: what it is asked for is recorded; it samples with the small test settings (cached)."""
    import importlib

    fit_mod = importlib.import_module("model.fit")  # `import model.fit` would give the function
    calls = []
    real = fit_mod.fit

    def spy(dataset, **kwargs):
        calls.append(kwargs)
        return real(dataset, **{**kwargs, **SMALL_FIT})

    monkeypatch.setattr(fit_mod, "fit", spy)
    return calls
