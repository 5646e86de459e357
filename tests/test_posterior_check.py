"""`run.py posterior`: the posterior predictive check of every figure read, against an independent count, and
its --out folder written atomically (never over a folder of the user's)."""

import importlib
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from model.posterior_check import predictive_check, predictive_markdown
from run import app

runner = CliRunner()
fit_mod = importlib.import_module("model.fit")


def test_predictive_check_counts_figures_outside_their_interval(small_fit):
    """``outside`` is exactly: readable, exact, and beyond the 2.5/97.5% quantiles of the predictive draws."""
    from model.predict import predictive_draws

    check = predictive_check(small_fit, seed=1)
    obs = small_fit.observations.reset_index(drop=True)
    d = predictive_draws(small_fit, obs, seed=1)
    assert len(check) == len(obs) and check["readable"].sum() > 0.9 * len(obs)
    j = int(np.flatnonzero(check["readable"].to_numpy())[0])
    lo, hi = np.quantile(d[:, j], [0.025, 0.975])
    assert check.loc[j, "pi95_low"] == pytest.approx(lo) and check.loc[j, "pi95_high"] == pytest.approx(hi)
    v = obs["value"].to_numpy(float)
    want = check["readable"] & obs["comparator"].isin(["=", "about"]) & ((v < check["pi95_low"]) | (v > check["pi95_high"]))
    assert (check["outside"] == want).all()
    text = predictive_markdown(check, "2024-03-31")
    assert f"{int(want.sum())} (" in text and text.count("\n| ") == int(want.sum()) + 1 - (want.sum() == 0)


def test_posterior_out_folder(small_settings, tmp_path):
    out = tmp_path / "posterior"
    r = runner.invoke(app, ["posterior", "--out", str(out)])
    assert r.exit_code == 0, r.output
    files = sorted(p.name for p in out.iterdir())
    assert files == ["learning.csv", "manifest.json", "posterior.csv", "predictive_check.csv", "predictive_check.md"]
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["as_of"] == "2024-03-31"
    check = pd.read_csv(out / "predictive_check.csv")
    assert {"source", "line", "quote", "published", "outside"} <= set(check.columns)


def test_posterior_refuses_a_folder_of_the_users(monkeypatch, tmp_path):
    """Refused before any fit: one line, exit 2, the user's folder untouched."""
    monkeypatch.setattr(fit_mod, "fit", lambda *a, **k: pytest.fail("fitted before checking --out"))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me", encoding="utf-8")
    r = runner.invoke(app, ["posterior", "--out", str(mine)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert len([ln for ln in r.output.splitlines() if ln.strip()]) == 1, r.output
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "keep me" and len(list(mine.iterdir())) == 1
