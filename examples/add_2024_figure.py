"""What one new figure does to the 2025 probabilities: the baseline with and without a 2024 GDP outcome.

**The 2024 figures are HYPOTHETICAL, for illustration only. They are not Changzhi's published 2024
statistics.** The example uses real GDP growth of 5.0% in 2024 and a nominal GDP of 2946.5亿元.
5.0% is a round number below both the 2023 outcome (5.6%) and the 2024 annual target (6%左右),
so the example shows a year that falls short of its annual target. The nominal level is the 2023
level in the shipped data (2806.2亿元) grown by the same 5.0% with prices flat (deflator
unchanged), so the two rows agree with each other. Both rows carry a made-up publication date,
2025-03-31.

The script

1. writes ``OUT/extra_2024.csv`` (the two rows, with the columns of ``data/observations.csv``),
   ``OUT/without_2024.yaml`` (the baseline) and ``OUT/with_2024.yaml`` (the same scenario with
   ``as_of`` on the rows' publication date, so that the fit can see them);
2. runs ``without_2024`` on the shipped data and ``with_2024`` on the shipped data plus the extra
   file. The shipped documents used are the same in both runs (checked), and so are the sampler
   settings and the simulation seed. The only difference is the two rows;
3. writes ``OUT/before_after.csv`` and ``OUT/before_after.md``. They hold P(attained), median and
   90% interval of ``p14_gdp`` (GDP ≥ 2800亿元 in 2025), ``p14_gdp_growth`` (real growth > 8%/yr
   over 2021–25) and ``a2024_gdp`` (growth ≈ 6% in 2024), and the fit diagnostics. The table is
   also printed. With ``--doc PATH`` it also writes the documentation page (docs/add_data_example.md).

Run from the repository root::

    python examples/add_2024_figure.py --doc docs/add_data_example.md     # baseline settings: one new fit (minutes)
    python examples/add_2024_figure.py --draws 300 --fit-draws 150 --fit-seed 11 --out /tmp/x   # quick check

The same two runs with the command line::

    python run.py run OUT/without_2024.yaml
    python run.py run OUT/with_2024.yaml --data OUT/extra_2024.csv
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd

import model
from model.data import OBSERVATION_COLUMNS
from model.report import target_label

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["p14_gdp", "p14_gdp_growth", "a2024_gdp"]
REAL_GROWTH_2024 = 5.0  # %, HYPOTHETICAL (see the module docstring for why this value)
PUBLISHED = "2025-03-31"  # HYPOTHETICAL publication date, after the baseline's vintage (2024-03-31)
SOURCE = "HYPOTHETICAL illustration value (not a real statistic): examples/add_2024_figure.py"
COLUMNS = {"without": "without the 2024 figure", "with": "with the 2024 figure"}


def extra_rows(dataset: model.Dataset) -> pd.DataFrame:
    """The two hypothetical 2024 rows: real growth, and the nominal level it implies with flat prices."""
    obs = dataset.observations
    gdp_2023 = float(obs.query("indicator == 'gdp' and year == 2023 and kind == 'level'")["value"].max())
    level = round(gdp_2023 * (1 + REAL_GROWTH_2024 / 100), 1)
    note = "HYPOTHETICAL, for illustration only"
    rows = [dict(indicator="gdp", year=2024, value=REAL_GROWTH_2024, unit="%", kind="yoy_growth", price_basis="real",
                 note=f"{note}: below the 2023 outcome (5.6%) and the 2024 target (6%)"),
            dict(indicator="gdp", year=2024, value=level, unit="亿元", kind="level", price_basis="nominal",
                 note=f"{note}: {gdp_2023:g} × {1 + REAL_GROWTH_2024 / 100:g} (prices flat)")]
    frame = pd.DataFrame(rows).assign(span_start="", comparator="=", source=SOURCE, line="", quote="",
                                      published=PUBLISHED)
    return frame[OBSERVATION_COLUMNS]


def write_inputs(out: Path, dataset: model.Dataset, draws: int | None, fit_draws: int | None,
                 fit_seed: int | None) -> tuple[Path, Path, Path]:
    """The extra CSV and the two scenario files (the second extends the first and moves ``as_of``)."""
    out.mkdir(parents=True, exist_ok=True)
    extra = out / "extra_2024.csv"
    extra_rows(dataset).to_csv(extra, index=False, encoding="utf-8")
    base = Path(os.path.relpath(ROOT / "scenarios" / "baseline.yaml", out)).as_posix()
    overrides = f"draws: {draws}\n" if draws else ""
    fit = {k: v for k, v in (("draws", fit_draws), ("tune", fit_draws), ("seed", fit_seed)) if v is not None}
    if fit:
        overrides += "fit: {" + ", ".join(f"{k}: {v}" for k, v in fit.items()) + "}\n"
    without = out / "without_2024.yaml"
    without.write_text(f"name: without_2024\ndescription: The baseline (shipped data only).\nextends: {base}\n"
                       + overrides, encoding="utf-8")
    with_ = out / "with_2024.yaml"
    with_.write_text(f"name: with_2024\ndescription: The baseline plus the HYPOTHETICAL 2024 GDP rows of "
                     f"extra_2024.csv.\nextends: without_2024.yaml\nas_of: \"{PUBLISHED}\"\n", encoding="utf-8")
    return extra, without, with_


def check_same_documents(shipped: model.Dataset, without: model.Scenario, with_: model.Scenario) -> None:
    """The two vintages must select the same shipped rows, so that only the extra rows differ."""
    a = shipped.vintage(without.as_of, without.data_through).observations
    b = shipped.vintage(with_.as_of, with_.data_through).observations
    if not a.equals(b):
        raise SystemExit(f"the shipped data has {len(b) - len(a)} rows published between {without.as_of} and "
                         f"{with_.as_of}: the comparison would not isolate the extra rows")


def before_after(results: dict[str, model.ScenarioResult]) -> pd.DataFrame:
    """Long table: one row per (measure, target) with one column per run."""
    rows = []
    for tid in TARGETS:
        for measure in ("p_attained", "median", "q05", "q95"):
            rows.append({"measure": measure, "target_id": tid,
                         **{k: r.attainment.set_index("target_id").at[tid, measure] for k, r in results.items()}})
    for measure, get in (("observations", lambda f: len(f.observations)), ("last_fitted_year", lambda f: f.last_year),
                         ("max_rhat", lambda f: f.diagnostics.max_rhat),
                         ("min_ess_bulk", lambda f: f.diagnostics.min_ess_bulk),
                         ("min_ess_tail", lambda f: f.diagnostics.min_ess_tail),
                         ("divergences", lambda f: f.diagnostics.divergences),
                         ("converged", lambda f: int(f.diagnostics.ok))):
        rows.append({"measure": measure, "target_id": "", **{k: get(r.fit) for k, r in results.items()}})
    return pd.DataFrame(rows)


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.1f}" if abs(x) >= 100 else f"{x:.2f}"


def markdown_table(table: pd.DataFrame, attainment: pd.DataFrame) -> str:
    """The before/after table as Markdown: each target's P(attained) and interval, then the diagnostics."""
    t = table.set_index(["measure", "target_id"])
    lines = [f"| | {COLUMNS['without']} | {COLUMNS['with']} |", "|---|---|---|"]
    for tid in TARGETS:
        row = attainment.set_index("target_id").loc[tid]
        span = f"{row['span_start']}–{row['year']}" if pd.notna(row["span_start"]) else f"{row['year']}"
        what = f"{row['name_en']}, {row['price_basis']} {row['kind'].replace('_', ' ')} {span} {target_label(row)}"
        lines.append(f"| **P(attained)** `{tid}`: {what} | " + " | ".join(
            f"**{t.at[('p_attained', tid), k]:.2f}**" for k in COLUMNS) + " |")
        lines.append(f"| &nbsp;&nbsp;median [90% interval], {row['unit']} | " + " | ".join(
            f"{_num(t.at[('median', tid), k])} [{_num(t.at[('q05', tid), k])}, {_num(t.at[('q95', tid), k])}]"
            for k in COLUMNS) + " |")
    diag = [("observations in the fit", "observations", "{:.0f}"), ("last fitted year", "last_fitted_year", "{:.0f}"),
            ("max R-hat", "max_rhat", "{:.3f}"), ("min bulk ESS", "min_ess_bulk", "{:.0f}"),
            ("min tail ESS", "min_ess_tail", "{:.0f}"), ("divergences", "divergences", "{:.0f}")]
    for label, measure, fmt in diag:
        lines.append(f"| {label} | " + " | ".join(fmt.format(t.at[(measure, ''), k]) for k in COLUMNS) + " |")
    lines.append("| converged (R-hat ≤ 1.01, ESS ≥ 400, no divergences) | " + " | ".join(
        "yes" if t.at[("converged", ""), k] else "**no**" for k in COLUMNS) + " |")
    return "\n".join(lines)


def doc_page(table_md: str, extra: Path, results: dict[str, model.ScenarioResult], command: str) -> str:
    """The documentation page: what was added, the commands, the measured table and its settings."""
    from model.attainment import ABOUT_TOLERANCE

    s, f = results["with"].scenario, results["with"].fit
    out = Path(os.path.relpath(extra.parent, ROOT)).as_posix()
    g = REAL_GROWTH_2024
    moves = []
    for tid in ("p14_gdp", "p14_gdp_growth"):
        p = {k: results[k].attainment.set_index("target_id").at[tid, "p_attained"] for k in COLUMNS}
        moves.append(f"`{tid}` from {p['without']:.2f} to {p['with']:.2f}")
    return f"""# Adding a figure: a hypothetical 2024 GDP outcome

<!-- Generated by `{command}`; do not edit by hand. -->

**The 2024 figures on this page are HYPOTHETICAL, for illustration only. They are not
Changzhi's published 2024 statistics.** When the real 2024 outcomes are published, put them in a
file like this one (see [How to add data](data.md#how-to-add-data)) and rerun.

## The new rows

`{extra.name}` holds two rows, with the columns of `data/observations.csv`:

* real GDP growth of {g:.1f}% in 2024: a round number below both the 2023 outcome (5.6%) and the
  2024 annual target (6%左右), so that the year falls short of its annual target;
* the nominal GDP level that this growth implies with prices flat: the 2023 level × {1 + g / 100:g}.

Their publication date, {PUBLISHED}, is made up too.

```csv
{extra.read_text(encoding="utf-8").strip()}
```

## The comparison

`examples/add_2024_figure.py` runs the baseline scenario twice:

* *without*: on the shipped data, as of {results["without"].scenario.as_of} (the baseline's vintage);
* *with*: on the shipped data plus the two rows, as of {s.as_of}. The baseline's own vintage
  would ignore rows published in 2025. No shipped document is published between the two dates
  (the script checks this), so the two rows are the only difference.

Both runs use the same sampler settings ({f.settings.chains} chains × {f.settings.draws} draws,
{f.settings.tune} tuning steps, seed {f.settings.seed}) and the same simulation ({s.draws} paths,
seed {s.seed}). The script writes the CSV and both scenario files into `{out}`. The same two
runs from the command line:

```bash
python run.py data --data {out}/{extra.name} --indicator gdp     # check the rows load
python run.py run {out}/without_2024.yaml                        # extends scenarios/baseline.yaml
python run.py run {out}/with_2024.yaml --data {out}/{extra.name}     # as_of: "{s.as_of}"
```

## Result

{table_md}

P(attained) moves {moves[0]}, and {moves[1]}. With a 2024 figure the fitted years end in 2024,
and only 2025 is simulated. The 2024 annual target `a2024_gdp` (≈ 6%, met from
{6.0 - ABOUT_TOLERANCE["rate"]:g}% by the "about" tolerance) is then read off the fitted 2024 value.
The table is also in `{out}/before_after.csv` (full precision) and `{out}/before_after.md`.

Regenerate this page after a model change with:

```bash
{command}
```
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "add_2024_figure", help="folder for the outputs")
    ap.add_argument("--doc", type=Path, help="also write the documentation page here (docs/add_data_example.md)")
    ap.add_argument("--draws", type=int, help="simulated paths per run (default: the baseline's)")
    ap.add_argument("--fit-draws", type=int, help="posterior draws and tuning steps (default: the baseline's)")
    ap.add_argument("--fit-seed", type=int, help="sampler seed (default: the baseline's)")
    args = ap.parse_args(argv)

    shipped = model.load_data()
    extra, without_yaml, with_yaml = write_inputs(args.out, shipped, args.draws, args.fit_draws, args.fit_seed)
    scenarios = {"without": model.load_scenario(without_yaml), "with": model.load_scenario(with_yaml)}
    check_same_documents(shipped, scenarios["without"], scenarios["with"])
    data = {"without": shipped, "with": model.load_data(extra=[extra])}
    results = {}
    for k, s in scenarios.items():
        print(f"{COLUMNS[k]}: fitting (cached when unchanged) and simulating {s.draws} paths", flush=True)
        results[k] = model.run_scenario(s, data[k])
    table = before_after(results)
    table.to_csv(args.out / "before_after.csv", index=False)
    table_md = markdown_table(table, results["with"].attainment)
    (args.out / "before_after.md").write_text(table_md + "\n", encoding="utf-8")
    print(table_md)
    if args.doc:
        flags = "".join(f" --{name.replace('_', '-')} {getattr(args, name)}" for name in ("draws", "fit_draws", "fit_seed")
                        if getattr(args, name) is not None)
        command = f"python examples/add_2024_figure.py --doc {args.doc.as_posix()}{flags}"
        args.doc.parent.mkdir(parents=True, exist_ok=True)
        args.doc.write_text(doc_page(table_md, extra, results, command), encoding="utf-8")
        print(f"wrote {args.doc}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
