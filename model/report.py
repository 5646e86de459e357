"""Reporting: the probability table in Markdown, the draws as netCDF, and the HTML/Markdown report."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

HEADLINE = ["p14_gdp", "p14_gdp_growth", "p14_sei_share_gdp", "p14_urbanization_rate",
            "p14_mfg_share_industry_above_scale"]
"""The plan's headline targets, listed first in every table."""

CMP = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "about": "≈", "range": "∈", "=": "≥"}


def _fmt(x, digits=3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, (int, np.integer)):
        return str(x)
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.1f}"
    return f"{x:.{digits}g}"


def ordered(table: pd.DataFrame) -> pd.DataFrame:
    """Headline targets first, then the rest by plan and id."""
    rank = {t: i for i, t in enumerate(HEADLINE)}
    key = table["target_id"].map(lambda t: rank.get(t, len(HEADLINE)))
    return table.assign(_k=key).sort_values(["_k", "plan", "target_id"], kind="stable").drop(columns="_k")


def _pm(mcse) -> str:
    """' ±0.006': the Monte Carlo standard error of a probability, to one significant digit ('' if unknown)."""
    if mcse is None or pd.isna(mcse):
        return ""
    return f" ±{mcse:.1g}" if mcse >= 0.001 or mcse == 0 else " ±<0.001"


def target_label(row) -> str:
    thr = row["threshold"]
    if row["comparator"] == "range":
        return f"{_fmt(thr)}–{_fmt(row['threshold_high'])} {row['unit']}"
    if pd.isna(thr):
        return "(no number: 完成省下达目标 / provincial)"
    return f"{CMP.get(row['comparator'], row['comparator'])} {_fmt(thr)} {row['unit']}"


def attainment_markdown(result) -> str:
    """The probability table as Markdown, headline targets first, with evidence and provenance."""
    t = ordered(result.attainment)
    s, f = result.scenario, result.fit
    lines = [
        f"# P(target attained): scenario `{s.name}`",
        "",
        f"{s.description.strip()}",
        "",
        f"Data vintage: documents published by {s.as_of or 'any date'}; {len(f.observations)} observations; "
        f"fit {f.diagnostics.flag()}; {s.draws} simulated paths, seed {s.seed}.",
        "",
        "| target | 指标 | indicator | year | target | P(attained) | median [90% interval] | evidence (data / plan share) "
        "| P with prior trend | growth needed (percentile) | 属性 | source |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in t.iterrows():
        p = "not evaluable" if r["status"] != "evaluated" else f"**{r['p_attained']:.2f}**" + _pm(r.get("mcse"))
        interval = "–" if pd.isna(r.get("median")) else f"{_fmt(r['median'])} [{_fmt(r['q05'])}, {_fmt(r['q95'])}]"
        ev = ("–" if pd.isna(r.get("drift_learning")) else
              f"{r['evidence']} ({r['drift_learning']:.2f} / {r.get('plan_share', 0.0):.2f})")
        pp = "–" if pd.isna(r.get("p_prior")) else f"{r['p_prior']:.2f}"
        need = "–"
        if not pd.isna(r.get("required_rate")):
            need = f"{_fmt(r['required_rate'])} {r['required_rate_unit']} ({r['required_rate_percentile']:.0%})"
        label = target_label(r) + (" *(scenario)*" if r["threshold_from"] == "scenario" else "")
        lines.append(f"| `{r['target_id']}` | {r['name_zh']} | {r['name_en']} | {r['year']} | {label} | {p} | "
                     f"{interval} | {ev} | {pp} | {need} | {r['attribute']} | {r['source'][:3]}:{r['line']} |")
    lines += ["", "## Joint results", "", "| event | P |", "|---|---|"]
    for _, r in result.joint.head(3).iterrows():
        lines.append(f"| {r['event']} | {r['probability']:.3f} |")
    lines += ["", "Evidence: what is known of the indicator's trend in the target's plan period, split into the "
              "share from the figures (*data*), from the plan's own target read as the planners' statement of "
              "the trend (*plan*, see `model/planner.py`) and from the class prior (the rest); the label names "
              "data (≥ 0.5), mixed (≥ 0.2), else whichever of plan and prior gives more. *P with prior trend* is "
              "P(attained) when trend and volatility come from the class prior alone, without figures or the "
              "plan's target (same observed start). "
              "*± after P(attained)* is its Monte Carlo standard error, from the effective sample size of the "
              "posterior draws the paths extend (`mcse` in attainment.csv). "
              "*growth needed* is the yearly growth (or pp/yr) still required from the last observed year, "
              "with the share of simulated paths that grow less.", ""]
    not_eval = t[t["status"] != "evaluated"]
    if len(not_eval):
        lines += [f"{len(not_eval)} target(s) are not evaluable (no threshold in the document, or no base "
                  "value for the model to start from): see `status` in attainment.csv.", ""]
    return "\n".join(lines)


def headline_markdown(result) -> str:
    """The headline targets only, for the terminal (the full table is in attainment.md)."""
    text = attainment_markdown(result)
    head, _, rest = text.partition("|---|")
    rows = [ln for ln in rest.split("\n")[1:] if any(f"`{t}`" in ln for t in HEADLINE)]
    return head + "|---" + "|---" * 11 + "|\n" + "\n".join(rows) + f"\n\nFull table: {len(result.attainment)} targets in attainment.md"


def paths_dataset(result) -> xr.Dataset:
    """Simulated latent paths as an xarray Dataset (path, indicator, year) for netCDF."""
    p = result.paths
    return xr.Dataset(
        {"x": (("path", "indicator", "year"), p.x.astype("float32")),
         "posterior_draw": (("path",), p.posterior_draw)},
        coords={"path": np.arange(p.x.shape[0]), "indicator": p.layout.base, "year": p.layout.years},
        attrs={"description": "latent paths on the natural scale (log / logit / identity, see catalogue)",
               "scenario": result.scenario.name, "last_observed_year": p.last_observed_year},
    )


def build_report(out_dir: Path, result, lang: str = "zh") -> None:
    """Write charts, report.md and a self-contained report.html into ``out_dir``."""
    from . import charts

    figs, skipped = charts.scenario_charts(out_dir, result, lang=lang)
    md = [attainment_markdown(result), "", "## Charts", ""]
    last_fan = [c for c in figs if c.path.name.startswith("fans_targets")][-1:]
    for c in figs:
        md += [f"### {c.caption}", "", f"![{c.caption}]({c.path.name})", "", *_chart_notes(c, markdown=True)]
        if c.data is not None and len(c.data):
            md += [f"Data behind this chart ({len(c.data)} figures):", "", _data_markdown(c.data), ""]
        if c in last_fan:
            md += [_not_charted(skipped, result), ""]
    md += ["", methods_markdown(result)]
    (out_dir / "report.md").write_text("\n".join(md), encoding="utf-8")
    (out_dir / "report.html").write_text(_html(result, figs, skipped), encoding="utf-8")


DATA_COLUMNS = ["panels", "what", "indicator", "year", "figure", "value", "unit", "source", "line", "published"]


def _figure(r) -> str:
    span = "" if pd.isna(r["span_start"]) else f" {int(r['span_start'])}–"
    basis = f", {r['price_basis']}" if r["price_basis"] in ("real", "nominal") else ""
    c = r["comparator"]
    cmp = "" if pd.isna(c) or c == "=" else f" ({CMP.get(c, c)})"
    return f"{r['kind']}{span}{basis}{cmp}"


def _data_rows(data: pd.DataFrame) -> list[dict]:
    return [{"panels": r["panels"], "what": r["what"], "indicator": r["indicator"], "year": int(r["year"]),
             "figure": _figure(r), "value": _fmt(float(r["value"])), "unit": r["unit"],
             "source": str(r["source"])[:3], "line": int(r["line"]), "published": r["published"], "quote": r["quote"]}
            for _, r in data.iterrows()]


def _data_markdown(data: pd.DataFrame) -> str:
    cols = [*DATA_COLUMNS, "quote"]
    rows = [f"| {' | '.join(str(d[c]).replace('|', '/') for c in cols)} |" for d in _data_rows(data)]
    return "\n".join([f"| {' | '.join(cols)} |", "|" + "---|" * len(cols), *rows])


def _data_html(data: pd.DataFrame) -> str:
    head = "".join(f"<th>{c}</th>" for c in [*DATA_COLUMNS, "quote"])
    body = []
    for d in _data_rows(data):
        tip = html.escape(f"doc {d['source']}, line {d['line']}, published {d['published']}: «{d['quote']}»",
                          quote=True)
        cells = "".join(f"<td title=\"{tip}\">{html.escape(str(d[c]))}</td>" if c == "value"
                        else f"<td>{html.escape(str(d[c]))}</td>" for c in DATA_COLUMNS)
        body.append(f"<tr title=\"{tip}\">{cells}<td class='q'>{html.escape(d['quote'])}</td></tr>")
    return (f"<details><summary>Data behind this chart: {len(body)} figures (hover a row for its source)</summary>"
            f"<table class='data'><tr>{head}</tr>{''.join(body)}</table></details>")


def _chart_notes(chart, markdown: bool) -> list[str]:
    if not chart.targets:
        return []
    ids = ", ".join(f"`{t}`" if markdown else f"<code>{html.escape(t)}</code>" for t in chart.targets)
    return [f"Targets on this chart: {ids}", ""]


def _not_charted(skipped: dict[str, str], result) -> str:
    n = int(result.attainment["p_attained"].notna().sum())
    if not skipped:
        return f"All {n} evaluated targets have a fan chart."
    lines = [f"{n - len(skipped)} of {n} evaluated targets have a fan chart; not charted:", ""]
    return "\n".join(lines + [f"- `{t}`: {why}" for t, why in skipped.items()])


def methods_markdown(result) -> str:
    from . import growth, priors

    f = result.fit
    rows = "\n".join(f"| {c} | {p.drift_mean:+.2f} ± {p.drift_sd:.2f} | {p.vol:.2f} | {p.nu or '∞'} | {p.why} |"
                     for c, p in priors.CLASS_PRIORS.items())
    assumptions = "\n".join(f"- {a.kind} on {', '.join(a.indicator_list())}: {a.value:g}"
                            f"{' in ' + ', '.join(map(str, a.years)) if a.years else ''}"
                            f"{f' (probability {a.probability:g})' if a.probability < 1 else ''}. {a.why}"
                            for a in result.scenario.assumptions) or "- none: the model's own forward dynamics."
    d = f.diagnostics
    return (f"## Scenario assumptions\n\n{assumptions}\n\n## Model diagnostics\n\n"
            f"max R-hat {d.max_rhat:.3f}, min bulk ESS {d.min_ess_bulk:.0f}, min tail ESS {d.min_ess_tail:.0f}, "
            f"{d.divergences} divergences, {d.seconds:.0f} s sampling: **{d.flag()}**.\n\n"
            f"## Methods\n\n```\n{growth.__doc__.strip()}\n```\n\n### Priors by class (per year, natural scale)\n\n"
            f"| class | drift | volatility scale | tail ν | why |\n|---|---|---|---|---|\n{rows}\n")


def _html(result, figs, skipped) -> str:
    import markdown_it

    md = markdown_it.MarkdownIt("commonmark").enable("table")
    body = md.render(attainment_markdown(result))
    parts = []
    last_fan = [c for c in figs if c.path.name.startswith("fans_targets")][-1:]
    for c in figs:
        parts.append(f"<h3>{html.escape(c.caption)}</h3><figure><img alt=\"{html.escape(c.caption)}\" "
                     f"src=\"data:image/png;base64,{base64.b64encode(c.path.read_bytes()).decode()}\"/>"
                     f"<figcaption>{html.escape(c.caption)}</figcaption></figure>")
        parts += [f"<p>{n}</p>" for n in _chart_notes(c, markdown=False) if n]
        if c.data is not None and len(c.data):
            parts.append(_data_html(c.data))
        if c in last_fan:
            parts.append(md.render(_not_charted(skipped, result)))
    methods = md.render(methods_markdown(result))
    style = ("body{font-family:'Noto Sans CJK SC','Source Han Sans SC',sans-serif;max-width:1100px;margin:auto;"
             "padding:1em;color:#222}table{border-collapse:collapse;font-size:12px}td,th{border-bottom:1px solid #ddd;"
             "padding:3px 6px;text-align:left;vertical-align:top}img{max-width:100%}figure{margin:1em 0}"
             "table.data td.q{font-size:11px;color:#555}tr[title]:hover{background:#f3f7fb}")
    return (f"<!doctype html><html lang='zh'><head><meta charset='utf-8'><title>{html.escape(result.scenario.name)}"
            f"</title><style>{style}</style></head><body>{body}<h2>Charts</h2>{''.join(parts)}{methods}"
            f"</body></html>")
