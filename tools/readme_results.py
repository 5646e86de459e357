"""The README's measured numbers, rendered from the committed ``results/`` (never typed by hand).

``python tools/readme_results.py`` rewrites the block between ``<!-- results:start -->`` and
``<!-- results:end -->`` in README.md; ``make results`` runs it after regenerating every result,
and ``tests/test_committed_results.py`` fails when the README's block differs from what ``results/``
gives. Every number in the block names the file it comes from.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- results:start -->", "<!-- results:end -->"
SCENARIOS = ("baseline", "plan_delivery", "coal_downturn", "slowdown", "sei_push", "as_of_2021")
HEADLINE = {
    "p14_gdp": "GDP ≥ 2800亿元 in 2025 (力争, nominal)",
    "p14_gdp_growth": "real GDP growth > 8%/yr, 2021–25",
    "p14_sei_share_gdp": "SEI > 12% of GDP",
    "p14_urbanization_rate": "urbanization ≥ 62%",
    "p14_mfg_share_industry_above_scale": "manufacturing ≥ 45% of above-scale industry",
    "p14_industry_share_gdp": "industry > 50% of GDP",
}


def _p(x: float) -> str:
    return "—" if pd.isna(x) else f"{x:.2f}"


def headline_table(results: Path) -> str:
    """P(attained) of the headline targets (rows) in each shipped scenario (columns)."""
    ran = [s for s in SCENARIOS if (results / s / "attainment.csv").is_file()]
    tables = {s: pd.read_csv(results / s / "attainment.csv").set_index("target_id") for s in ran}
    lines = ["| target | " + " | ".join(ran) + " |", "|---" * (len(ran) + 1) + "|"]
    for tid, label in HEADLINE.items():
        cells = [_p(tables[s]["p_attained"].get(tid, float("nan"))) for s in ran]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def coverage_sentence(results: Path) -> str:
    """How many baseline targets get a probability, why the others do not, and the evidence labels."""
    t = pd.read_csv(results / "baseline" / "attainment.csv", keep_default_na=False)
    status = t["status"].str.split(":").str[0]
    evaluated = t[status == "evaluated"]
    reasons = t.loc[status != "evaluated", "status"].str.split(": ", n=1).str[1].value_counts()
    labels = evaluated["evidence"].value_counts()
    why = "; ".join(f"{n} {reason}" for reason, n in reasons.items())
    ev = ", ".join(f"{labels[k]} `{k}`" for k in ("data", "mixed", "plan", "prior") if k in labels)
    return (f"Of the {len(t)} targets the baseline evaluates, {len(evaluated)} get a probability "
            f"(`results/baseline/attainment.csv`); not evaluable: {why}. Evidence labels of the "
            f"{len(evaluated)}: {ev}.")


def gdp_sentence(results: Path) -> str:
    """2025 nominal GDP, median and 90% interval, in the baseline and the coal downturn."""
    parts = []
    for s in ("baseline", "coal_downturn"):
        path = results / s / "attainment.csv"
        if path.is_file():
            r = pd.read_csv(path).set_index("target_id").loc["p14_gdp"]
            parts.append(f"`{s}` {r['median']:.0f}亿元 (90%: {r['q05']:.0f}–{r['q95']:.0f})")
    return "2025 nominal GDP, median: " + "; ".join(parts) + " (`attainment.csv`, row `p14_gdp`)."


def convergence_sentence(results: Path) -> str:
    """The fit diagnostics each shipped vintage's manifest carries."""
    parts = []
    for s in ("baseline", "as_of_2021"):
        path = results / s / "manifest.json"
        if path.is_file():
            m = json.loads(path.read_text(encoding="utf-8"))
            d, fs = m["diagnostics"], m["fit_settings"]
            parts.append(f"`{s}` (as of {m['as_of']}; {fs['chains']} × {fs['draws']} draws after {fs['tune']} "
                         f"tuning, seed {fs['seed']}): max R-hat {d['max_rhat']:.3f}, min bulk / tail ESS "
                         f"{d['min_ess_bulk']:.0f} / {d['min_ess_tail']:.0f}, {d['divergences']} divergences, "
                         f"flag: {m['diagnostics_flag']}")
    return "Convergence (`results/<scenario>/manifest.json`): " + "; ".join(parts) + "."


def _measure(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame.set_index("measure").loc[name]


def backtest_sentence(results: Path) -> str:
    """Coverage, PIT and CRPS skills of the vintage backtest (``results/backtest/summary.csv``)."""
    s = pd.read_csv(results / "backtest" / "summary.csv")
    cov = [_measure(s, f"coverage of {k}% intervals") for k in (50, 80, 95)]
    skills = []
    for base in ("random walk with drift", "plan as forecast", "model with prior trends"):
        name = f"CRPS skill vs {base}, median per figure"
        if name in set(s["measure"]):
            r = _measure(s, name)
            skills.append(f"{base} {r['value']:.2f} ({r['detail']})")
    pit = _measure(s, "PIT uniformity (KS p-value)")["value"]
    return ("Vintage backtest (`results/backtest/summary.csv`): coverage of 50/80/95% intervals "
            + " / ".join(f"{c['value']:.2f} ({c['detail']})" for c in cov)
            + f"; PIT uniformity KS p = {pit:.2f}; median CRPS skill per figure against " + "; ".join(skills) + ".")


def record_sentence(results: Path) -> str:
    """Brier scores of the 13th plan's record (``results/backtest/plan13_summary.csv``)."""
    s = pd.read_csv(results / "backtest" / "plan13_summary.csv")
    n = _measure(s, "targets scored (13th plan, outcome known, model evaluable)")["value"]
    met = _measure(s, "share of targets met")["value"]
    diff = _measure(s, "Brier difference, model − 'every target is met'")
    rows = [("model", "Brier score, model"), ("every target is met", "Brier score, 'every target is met'"),
            ("base rate, in-sample", "Brier score, base rate"), ("resolution", "resolution (higher is better)")]
    scores = ", ".join(f"{label} {_measure(s, m)['value']:.3f}" for label, m in rows)
    return (f"13th-plan record (`results/backtest/plan13_summary.csv`): {n:.0f} targets scored, "
            f"{met:.0%} met; Brier {scores}; difference model − every target met {diff['value']:.3f} "
            f"({diff['detail']}).")


def sbc_sentence(results: Path) -> str:
    """The χ² p-values of simulation-based calibration (``results/backtest/sbc.md``)."""
    text = (results / "backtest" / "sbc.md").read_text(encoding="utf-8")
    settings = re.search(r"Settings: (\d+) replications", text)
    frame = pd.read_csv(results / "backtest" / "sbc.csv")
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("|") and not line.startswith("|---")]
    col = rows[0].index("p (uniform)") if rows and "p (uniform)" in rows[0] else None
    ps = [float(r[col]) for r in rows[1:] if col is not None]
    span = f"χ² p from {min(ps):.2f} to {max(ps):.2f}" if ps else "see sbc.md"
    n = settings.group(1) if settings else frame["replication"].nunique()
    div = frame.groupby("replication")["divergences"].first().gt(0).sum()
    return (f"Simulation-based calibration (`results/backtest/sbc.md`): {n} replications, {span}; "
            f"divergences in {div} of {n} fits.")


def predictive_sentence(results: Path) -> str:
    """The posterior predictive check of the baseline fit (``results/posterior/predictive_check.csv``)."""
    check = pd.read_csv(results / "posterior" / "predictive_check.csv")
    exact = check[check["readable"] & check["comparator"].isin(["=", "about"])]
    k, n = int(exact["outside"].sum()), len(exact)
    return (f"Posterior predictive check of the baseline fit (`results/posterior/predictive_check.md`): {k} of "
            f"{n} exact figures ({k / n:.1%}) lie outside their central 95% predictive interval.")


def render(results: Path = ROOT / "results") -> str:
    """The README block: every sentence computed from ``results``."""
    return "\n\n".join([headline_table(results), coverage_sentence(results), gdp_sentence(results),
                        convergence_sentence(results), predictive_sentence(results), backtest_sentence(results), record_sentence(results),
                        sbc_sentence(results)])


SWEEPS = {
    "deflator_assumptions_gdp_deflator_growth_set_value": (
        "the GDP deflator's growth in 2024–25 (%/yr) against", {"p14_gdp": "P(GDP ≥ 2800亿元)"}),
    "real_growth_assumptions_gdp_growth_shift_value": (
        "the same shift (points) of the real growth of GDP and the main value-added aggregates, SEI included, "
        "in 2024–25 against", {"p14_gdp_growth": "P(real growth > 8%/yr, 2021–25)",
                               "p14_sei_share_gdp": "P(SEI > 12% of GDP)"}),
}
SWEEPS_START, SWEEPS_END = "<!-- sweeps:start -->", "<!-- sweeps:end -->"


def _value(v: float) -> str:
    return f"{v:+g}".replace("-", "−") if v else "0"


def _p_fine(p: float) -> str:
    """Two decimals, three within 0.01 of 0 or 1 (0.995 is not 1.00)."""
    return f"{p:.3f}" if min(p, 1 - p) < 0.01 else f"{p:.2f}"


def sweep_lines(results: Path) -> str:
    """One bullet per shipped sweep: P ± MCSE at the grid's ends and middle (``results/sweeps/*/sweep.csv``)."""
    lines = []
    for folder, (what, targets) in SWEEPS.items():
        frame = pd.read_csv(results / "sweeps" / folder / "sweep.csv")
        parts = []
        for tid, label in targets.items():
            rows = frame[frame["target_id"] == tid].sort_values("value").reset_index(drop=True)
            picks = rows.iloc[sorted({0, len(rows) // 2, len(rows) - 1})]
            steps = ", ".join(f"{_p_fine(r.p_attained)} (±{r.mcse:.3f}) at {_value(r.value)}" for r in picks.itertuples())
            parts.append(f"{label}: {steps}")
        lines.append(f"- `results/sweeps/{folder}/`: {what} " + "; ".join(parts) + ".")
    return "\n".join(lines)


BLOCKS = {(START, END): render, (SWEEPS_START, SWEEPS_END): sweep_lines}
"""Each marked block of the README and the function that renders it from ``results/``."""


def readme_block(readme: str, markers: tuple[str, str] = (START, END)) -> str:
    """The text between the markers (what the test compares)."""
    start, end = readme.index(markers[0]) + len(markers[0]), readme.index(markers[1])
    return readme[start:end].strip()


def main(readme: Path = ROOT / "README.md") -> None:
    text = readme.read_text(encoding="utf-8")
    for (first, last), make in BLOCKS.items():
        block = make(ROOT / "results")
        start, end = text.index(first) + len(first), text.index(last)
        text = text[:start] + "\n" + block + "\n" + text[end:]
    readme.write_text(text, encoding="utf-8")
    print(f"wrote {readme} ({len(BLOCKS)} blocks of results)", file=sys.stderr)


if __name__ == "__main__":
    main()
