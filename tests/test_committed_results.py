"""The README's measured numbers are exactly what the committed results give."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import readme_results  # noqa: E402


@pytest.mark.parametrize("markers", list(readme_results.BLOCKS), ids=lambda m: m[0])
def test_readme_blocks_match_results(markers):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_results.readme_block(readme, markers) == readme_results.BLOCKS[markers](ROOT / "results"), (
        "a results block of README.md differs from results/: run `make results` (or `python tools/readme_results.py` "
        "after regenerating results/)")


def test_block_changes_when_a_result_changes(tmp_path):
    import shutil

    copy = tmp_path / "results"
    shutil.copytree(ROOT / "results", copy, ignore=shutil.ignore_patterns("*.png", "*.html", "*.nc"))
    table = copy / "baseline" / "attainment.csv"
    text = table.read_text(encoding="utf-8")
    before = readme_results.render(copy)
    import pandas as pd

    frame = pd.read_csv(table)
    frame.loc[frame["target_id"] == "p14_gdp", "p_attained"] = 0.123
    frame.to_csv(table, index=False)
    assert "0.12" in readme_results.headline_table(copy) and readme_results.render(copy) != before
    assert text != table.read_text(encoding="utf-8")


SCENARIOS = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("name", SCENARIOS)
def test_committed_results_are_current(name, dataset):
    """results/<name> was run on this scenario file, these data and this model code (its manifest's hashes)."""
    from model.freshness import require_manifest, stale_reasons
    from model.scenario import load_scenario

    reasons = stale_reasons(require_manifest(ROOT / "results" / name), load_scenario(ROOT / "scenarios" / f"{name}.yaml"),
                            dataset)
    assert not reasons, f"results/{name}: {'; '.join(reasons)}: run `make results`"


def test_committed_comparison_matches_the_scenarios():
    import pandas as pd

    table = pd.read_csv(ROOT / "results" / "compare" / "p_attained.csv", index_col=0)
    for name in table.columns:
        own = pd.read_csv(ROOT / "results" / name / "attainment.csv").set_index("target_id")["p_attained"]
        pd.testing.assert_series_equal(table[name], own.reindex(table.index), check_names=False)


@pytest.mark.xfail(strict=True, reason="not yet met (issue 14, item 3): on the baseline only aggregate, environment, "
                   "innovation and social narrow their log trend spread by >= 30%, and only innovation and "
                   "output their log volatility; most classes have few members whose figures reach their trend or "
                   "volatility (investment: 2 of 37). Strict: this fails as soon as the criterion is met.")
def test_class_parameters_are_learned_not_set():
    """Issue "one joint posterior": for every class with at least 3 indicators, the baseline posterior sd of
    the log volatility and of the log trend spread is at least 30% narrower than the hyperprior's
    (``results/baseline/learning.csv``, written from the posterior the table used)."""
    import pandas as pd

    t = pd.read_csv(ROOT / "results" / "baseline" / "learning.csv")
    big = t[t["members"] >= 3]
    assert len(big) >= 5
    for col in ("log_volatility_narrower", "log_trend_spread_narrower"):
        short = big.loc[big[col] < 0.30, ["class", "members", col]]
        assert short.empty, f"{col} below 0.30:\n{short.to_string(index=False)}"
