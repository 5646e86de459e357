"""Fan charts: the distribution of a target's quantity through the horizon, one panel per target.

A panel draws the quantity a target is judged on, read off the simulated paths (growth targets on
the growth rate, level and share targets on the level, cumulative targets on the running total
since the span start): posterior median and 50/80/95% bands, the observed figures of that same
quantity marked by source document, the target at its year with P(attained) beside it, and the
plan's annual targets (work reports ``a2021``, ``a2023``, …) for the same quantity. An average-growth
target is drawn on the yearly growth rate, with its threshold over the span and the model's span
average (median, 95%) at the target year. Panels go on A4-wide pages of ``COLS × ROWS``.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from .attainment import level_unknown, target_quantity
from .charts import A4_WIDTH_IN, DPI, OKABE_ITO, _unit, save_png
from .pipeline import start_years

BANDS = ((0.025, 0.975, 0.16, "95%"), (0.10, 0.90, 0.30, "80%"), (0.25, 0.75, 0.50, "50%"))
"""Central intervals drawn (lower, upper quantile, opacity, label), widest first."""
LEVEL_KINDS = ("level", "count", "share")
DRAWN_AS = {"level": "level", "count": "level", "share": "level", "yoy_growth": "yoy_growth",
            "avg_growth": "yoy_growth", "cum_growth": "cum_growth", "pp_change": "pp_change",
            "cumulative": "cumulative"}
"""Quantity a target of each kind is drawn on."""
COLS, ROWS = 3, 4
PANEL_HEIGHT_IN, HEADER_IN, LEGEND_IN = 2.45, 0.25, 0.75
TITLE_WIDTH = 42
"""Characters of a panel title line (at 6.8 pt a third of A4 holds about this many)."""
DODGE = 0.18
"""Horizontal offset (years) between documents reporting a figure for the same year."""
LOG_RATIO = 30.0
"""A level fan spanning more than this factor (95% band) is drawn on a log axis."""
TARGET_COLOUR, PLAN_COLOUR, MODEL_COLOUR = OKABE_ITO[3], OKABE_ITO[7], OKABE_ITO[0]
DOC_STYLES = [(OKABE_ITO[1], "o"), (OKABE_ITO[2], "s"), (OKABE_ITO[4], "^"), (OKABE_ITO[5], "D"),
              (OKABE_ITO[6], "v")]


@dataclass
class Panel:
    """What one fan panel draws (all in the panel's unit)."""

    key: str  # target id, or indicator/measure for panels without a target
    title: str
    ylabel: str
    bands: pd.DataFrame  # year, q2.5, q10, q25, q50, q75, q90, q97.5
    observed: pd.DataFrame  # observation rows drawn, with provenance
    target: pd.Series | None = None  # attainment row whose threshold is marked with its P
    span_mean: pd.Series | None = None  # model's span average at the target year (avg_growth targets)
    plan_marks: pd.DataFrame = field(default_factory=pd.DataFrame)  # annual plan targets drawn
    log: bool = False


def _qcol(q: float) -> str:
    return f"q{q * 100:g}"


QCOLS = [_qcol(q) for lo, hi, _, _ in BANDS for q in (lo, hi)] + ["q50"]


def quantity_bands(paths, indicator: str, kind: str, price_basis: str, years, span_start=None) -> pd.DataFrame:
    """Median and band quantiles of one quantity per year (years the paths cannot read are dropped)."""
    rows = pd.DataFrame({"indicator": indicator, "year": list(years), "kind": kind, "price_basis": price_basis,
                         "span_start": np.nan if span_start is None else float(span_start)})
    if rows.empty:
        return pd.DataFrame(columns=["year", *QCOLS])
    q, ok = target_quantity(paths, rows)
    qs = sorted({0.5, *(b for lo, hi, _, _ in BANDS for b in (lo, hi))})
    out = pd.DataFrame(np.nanquantile(q[:, ok], qs, axis=0).T if ok.any() else np.zeros((0, len(qs))),
                       columns=[_qcol(p) for p in qs])
    out.insert(0, "year", rows.loc[ok, "year"].to_numpy())
    return out


def _basis_ok(catalogue: pd.DataFrame, indicator: str, a: str, b: str) -> bool:
    """Same price basis, or the distinction does not apply (no deflator, or n.a.)."""
    return not catalogue.at[indicator, "deflator"] or a == b or "n.a." in (a, b)


def matching(frame: pd.DataFrame, catalogue: pd.DataFrame, indicator: str, kind: str, price_basis: str,
             span_start=None) -> pd.DataFrame:
    """Rows of ``frame`` (observations or targets) that are figures of the quantity drawn for ``kind``."""
    f = frame[frame["indicator"] == indicator]
    drawn = DRAWN_AS[kind]
    if drawn == "level":
        f = f[f["kind"].isin(LEVEL_KINDS)]
    elif drawn == "yoy_growth":
        f = f[f["kind"] == "yoy_growth"]
    else:
        f = f[(f["kind"] == kind) & (f["span_start"] == span_start)]
    return f[np.array([_basis_ok(catalogue, indicator, b, price_basis) for b in f["price_basis"]], dtype=bool)]


def _quantity_label(kind: str, price_basis: str, span_start) -> str:
    basis = f", {price_basis}" if price_basis in ("real", "nominal") else ""
    s = None if span_start is None or pd.isna(span_start) else int(span_start)
    return {"level": f"level{basis}", "yoy_growth": f"growth on previous year{basis}",
            "cum_growth": f"growth since {s - 1 if s else ''}{basis}",
            "pp_change": f"change since {s - 1 if s else ''}",
            "cumulative": f"total since {s}"}[DRAWN_AS[kind]]


def _title(catalogue: pd.DataFrame, indicator: str, key: str, lang: str) -> str:
    zh, en = catalogue.at[indicator, "name_zh"], catalogue.at[indicator, "name_en"]
    if lang == "zh" and zh:
        lines = [zh if len(zh) <= 24 else zh[:23] + "…", textwrap.shorten(en, TITLE_WIDTH, placeholder="…")]
    else:
        lines = textwrap.wrap(en, TITLE_WIDTH)
        if len(lines) > 2:
            lines = [lines[0], textwrap.shorten(" ".join(lines[1:]), TITLE_WIDTH, placeholder="…")]
    return "\n".join([*lines, _wrap_id(key)])


def _wrap_id(key: str, width: int = 38) -> str:
    """A long target id split at underscores (it must stay whole to be found in the table)."""
    lines = [""]
    for part in key.split("_"):
        piece = part if not lines[-1] else "_" + part
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines.append("_" + part)
        else:
            lines[-1] += piece
    return "\n".join(lines)


def _years(start: int, horizon: int, kind: str, span_start) -> range:
    """Years drawn: from the first year the path is informed (a span target: from its span start)."""
    drawn = DRAWN_AS[kind]
    if drawn in ("cum_growth", "pp_change", "cumulative"):
        return range(int(span_start), horizon + 1)
    first = start + (1 if drawn == "yoy_growth" else 0)
    if kind == "avg_growth":
        first = min(first, int(span_start))
    return range(first, horizon + 1)


def _wide(bands: pd.DataFrame, kind: str) -> bool:
    if DRAWN_AS[kind] not in ("level", "cumulative") or kind == "share" or bands.empty:
        return False
    lo, hi = bands["q2.5"].min(), bands["q97.5"].max()
    return bool(lo > 0 and hi / lo > LOG_RATIO)


def target_panel(result, row: pd.Series, plan_targets: pd.DataFrame, lang: str) -> Panel | str:
    """The panel of one evaluated target, or the reason it cannot be charted."""
    cat, paths = result.fit.layout.catalogue, result.paths
    ind, kind, basis = row["indicator"], row["kind"], row["price_basis"]
    if kind not in DRAWN_AS:
        return f"kind {kind!r} has no fan"
    start = start_years(paths.layout).get(ind)
    if start is None:
        return "indicator has no simulated path"
    span = None if pd.isna(row["span_start"]) else int(row["span_start"])
    drawn = "yoy_growth" if kind == "avg_growth" else kind
    bands = quantity_bands(paths, ind, drawn, basis, _years(start, paths.layout.years[-1], kind, span),
                           span if DRAWN_AS[kind] != "yoy_growth" else None)
    if bands.empty or int(row["year"]) not in set(bands["year"]):
        return f"the paths give no {_quantity_label(kind, basis, span)} in {int(row['year'])}"
    span_mean = None
    if kind == "avg_growth":
        span_mean = quantity_bands(paths, ind, kind, basis, [int(row["year"])], span).iloc[0]
    unit = "%" if DRAWN_AS[kind] in ("yoy_growth", "cum_growth") else row["unit"]
    marks = matching(plan_targets, cat, ind, kind, basis, span)
    marks = marks[marks["plan"].str.fullmatch(r"a\d{4}") & marks["threshold"].notna()
                  & (marks["target_id"] != row["target_id"]) & marks["year"].between(bands["year"].min(),
                                                                                  bands["year"].max())]
    return Panel(row["target_id"], _title(cat, ind, row["target_id"], lang),
                 f"{_unit(unit, lang)} · {_quantity_label(kind, basis, span)}", bands,
                 matching(result.fit.observations, cat, ind, kind, basis, span), row, span_mean, marks,
                 _wide(bands, kind))


def series_panel(result, indicator: str, kind: str, price_basis: str, target: pd.Series | None,
                 plan_targets: pd.DataFrame, lang: str) -> Panel | None:
    """A headline panel: an indicator's level or growth, with its target if one is given."""
    cat, paths = result.fit.layout.catalogue, result.paths
    start = start_years(paths.layout).get(indicator)
    probe = pd.DataFrame({"indicator": [indicator], "kind": [kind]})
    if start is None or level_unknown(result.fit, probe)[0]:
        return None
    bands = quantity_bands(paths, indicator, kind, price_basis, _years(start, paths.layout.years[-1], kind, None))
    if bands.empty:
        return None
    span_mean = None
    if target is not None and target["kind"] == "avg_growth":
        span_mean = quantity_bands(paths, indicator, "avg_growth", target["price_basis"], [int(target["year"])],
                                   target["span_start"]).iloc[0]
    unit = "%" if kind == "yoy_growth" else cat.at[indicator, "unit"]
    marks = matching(plan_targets, cat, indicator, kind, price_basis)
    marks = marks[marks["plan"].str.fullmatch(r"a\d{4}") & marks["threshold"].notna()
                  & marks["year"].between(bands["year"].min(), bands["year"].max())]
    if target is not None:
        marks = marks[marks["target_id"] != target["target_id"]]
    key = target["target_id"] if target is not None else f"{indicator}"
    ylabel = f"{_unit(unit, lang)} · {_quantity_label(kind, price_basis, None)}"
    return Panel(key, _title(cat, indicator, key, lang), ylabel,
                 bands, matching(result.fit.observations, cat, indicator, kind, price_basis), target, span_mean,
                 marks, _wide(bands, kind))


def doc_styles(observations: pd.DataFrame) -> dict[str, tuple[str, str, str]]:
    """(colour, marker, legend label) of each source document, fixed across pages."""
    docs = observations.drop_duplicates("source").sort_values("source")
    return {s: (*DOC_STYLES[k % len(DOC_STYLES)], f"observed: doc {s[:3]} ({pd.Timestamp(p):%Y-%m-%d})")
            for k, (s, p) in enumerate(zip(docs["source"], docs["published"]))}


def _threshold_text(t: pd.Series) -> str:
    from .report import CMP

    if t["comparator"] == "range":
        label = f"{t['threshold']:,g}–{t['threshold_high']:,g}"
    else:
        label = f"{CMP.get(t['comparator'], t['comparator'])} {t['threshold']:,g}"
    if t["kind"] == "avg_growth":
        label = f"avg {int(t['span_start'])}–{str(int(t['year']))[2:]} {label}"
    p = t.get("p_attained")
    return label + ("" if pd.isna(p) else f"\nP = {p:.2f}")


def draw_panel(ax, panel: Panel, docs: dict, legend: dict) -> None:
    """Draw one panel; add its artists' legend entries to ``legend`` (label -> handle)."""
    b = panel.bands
    for lo, hi, alpha, label in BANDS:
        ax.fill_between(b["year"], b[_qcol(lo)], b[_qcol(hi)], color=MODEL_COLOUR, alpha=alpha, lw=0)
        legend.setdefault(f"{label} band", Patch(color=MODEL_COLOUR, alpha=alpha, lw=0))
    (line,) = ax.plot(b["year"], b["q50"], color=MODEL_COLOUR, lw=1.5)
    legend.setdefault("posterior median", line)
    obs = panel.observed
    if len(obs):  # documents reporting the same year sit side by side, not on top of each other
        rank = obs.groupby("year")["source"].rank(method="dense") - 1
        n = obs.groupby("year")["source"].transform("nunique")
        obs = obs.assign(x=obs["year"] + DODGE * (rank - (n - 1) / 2))
    for src, g in obs.groupby("source"):
        colour, marker, label = docs[src]
        legend[label] = ax.scatter(g["x"], g["value"], s=20, zorder=5, color=colour, marker=marker,
                                   edgecolor="black", linewidth=0.4)
    if len(panel.plan_marks):
        m = panel.plan_marks
        legend["annual plan target"] = ax.scatter(m["year"], m["threshold"], s=30, zorder=6, marker="x",
                                                  color=PLAN_COLOUR, linewidth=1.3)
    if panel.log:
        ax.set_yscale("log")
        plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    else:
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.10g}"))
    ax.margins(y=0.08)
    t = panel.target
    if t is not None and not pd.isna(t["threshold"]):
        _draw_target(ax, panel, t, legend)
    ax.set_title(panel.title, fontsize=6.8, loc="left", pad=3)
    ax.set_ylabel(panel.ylabel + (" (log)" if panel.log else ""), fontsize=6.5)
    first = min([b["year"].min(), *panel.observed["year"], *panel.plan_marks.get("year", [])])
    ax.set_xlim(first - 0.4, b["year"].max() + 0.6)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True, steps=[1, 2, 5, 10], nbins=6))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.0f}"))
    ax.tick_params(labelsize=6.5, length=2.5)


TEXT_HEIGHT = 0.22
"""Share of a panel's height kept free for the target's label."""


def _draw_target(ax, panel: Panel, t: pd.Series, legend: dict) -> None:
    """The target bar at its year (a dashed line over the span for an average) and its P beside it,
    set just outside everything drawn near that year so it never covers the fan or a point."""
    b = panel.bands
    year, thr = int(t["year"]), float(t["threshold"])
    high = thr if pd.isna(t["threshold_high"]) else float(t["threshold_high"])
    if panel.span_mean is not None:
        s = int(t["span_start"])
        ax.plot([s - 0.3, year + 0.3], [thr, thr], color=TARGET_COLOUR, lw=1.4, ls="--")
        m = panel.span_mean
        legend["model span average (median, 95%)"] = ax.errorbar(
            year + 0.45, m["q50"], yerr=[[m["q50"] - m["q2.5"]], [m["q97.5"] - m["q50"]]], fmt="D", ms=4,
            color=MODEL_COLOUR, mfc="white", capsize=2, lw=1, zorder=7)
    if t["comparator"] == "range":
        ax.plot([year, year], [thr, high], color=TARGET_COLOUR, lw=2.5, zorder=6)
    legend["target (P attained beside it)"] = ax.scatter([year], [thr], s=160, marker="_", linewidth=2.6,
                                                         color=TARGET_COLOUR, zorder=8)
    last = year == int(b["year"].max())
    near = (b["year"] >= year - (1.5 if last else 1)) & (b["year"] <= year + 1)
    values = [*b.loc[near, ["q2.5", "q97.5"]].to_numpy().ravel(), thr, high]
    for f in (panel.observed, panel.plan_marks.rename(columns={"threshold": "value"})):
        if len(f):
            values += list(f.loc[(f["year"] - year).abs() <= 1, "value"])
    if panel.span_mean is not None:
        values += [panel.span_mean["q2.5"], panel.span_mean["q97.5"]]
    median = b.loc[b["year"] == year, "q50"]
    above = median.empty or thr >= float(median.iloc[0])
    edge = max(values) if above else min(values)
    ax.annotate(_threshold_text(t), (year + (0.3 if last else 0), edge), xytext=(0, 4 if above else -4),
                textcoords="offset points", ha="right" if last else "center", va="bottom" if above else "top",
                fontsize=6.5, color=TARGET_COLOUR, zorder=9, linespacing=1.0,
                bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.8))
    scale = np.log10 if panel.log else (lambda v: v)
    inverse = (lambda v: 10 ** v) if panel.log else (lambda v: v)
    lo, hi = (scale(v) for v in ax.get_ylim())
    room = TEXT_HEIGHT * (hi - lo) / (1 - TEXT_HEIGHT)
    if above and scale(edge) + room > hi:
        ax.set_ylim(top=inverse(scale(edge) + room))
    if not above and scale(edge) - room < lo:
        ax.set_ylim(bottom=inverse(scale(edge) - room))


def page_size(n_panels: int) -> tuple[float, float]:
    """Figure size (inches) of a page with ``n_panels`` panels: A4 width, one row per COLS panels."""
    rows = max(1, math.ceil(n_panels / COLS))
    height = HEADER_IN + rows * PANEL_HEIGHT_IN + LEGEND_IN
    return A4_WIDTH_IN, round(height * DPI) / DPI  # a whole number of pixels (matplotlib truncates)


def write_pages(panels: list[Panel], docs: dict, out_dir: Path, stem: str, heading: str,
                numbered: bool = True) -> list[Path]:
    """Write panels on pages of COLS × ROWS as ``{stem}_01.png``, … (``{stem}.png`` if not ``numbered``
    and one page holds them all)."""
    per_page = COLS * ROWS
    pages = [panels[i:i + per_page] for i in range(0, len(panels), per_page)]
    paths = []
    for k, page in enumerate(pages, 1):
        w, h = page_size(len(page))
        rows = max(1, math.ceil(len(page) / COLS))
        fig, axes = plt.subplots(rows, COLS, figsize=(w, h), squeeze=False, dpi=DPI)
        legend: dict = {}
        for ax, panel in zip(axes.flat, page):
            draw_panel(ax, panel, docs, legend)
        for ax in axes.flat[len(page):]:
            ax.axis("off")
        order = sorted(legend, key=lambda s: (not s.endswith("band") and s != "posterior median",
                                              s.startswith("observed"), s))
        fig.legend([legend[s] for s in order], order, loc="lower center", ncol=4, fontsize=7, frameon=False,
                   handletextpad=0.4, columnspacing=1.2)
        suffix = f" ({k}/{len(pages)})" if len(pages) > 1 else ""
        fig.suptitle(heading + suffix, fontsize=9, y=1 - 0.1 / h)
        fig.tight_layout(rect=(0, LEGEND_IN / h, 1, 1 - HEADER_IN / h), h_pad=1.2, w_pad=0.8)
        path = out_dir / (f"{stem}_{k:02d}.png" if numbered or len(pages) > 1 else f"{stem}.png")
        paths.append(save_png(fig, path, DPI))
    return paths


def provenance(panels: list[Panel]) -> pd.DataFrame:
    """The figures drawn on a set of panels with their provenance, one row per figure (panels listed)."""
    cols = ["what", "indicator", "year", "span_start", "kind", "price_basis", "comparator", "value", "unit",
            "source", "line", "published", "quote"]
    frames = []
    for p in panels:
        o = p.observed.assign(what="observed")
        m = p.plan_marks.rename(columns={"threshold": "value"})
        m = m.assign(what="annual plan target " + m["target_id"]) if len(m) else m
        frames += [f.reindex(columns=cols).assign(panel=p.key) for f in (o, m) if len(f)]
    if not frames:
        return pd.DataFrame(columns=["panels", *cols])
    f = pd.concat(frames, ignore_index=True)
    f["published"] = pd.to_datetime(f["published"]).dt.strftime("%Y-%m-%d")
    key = [c for c in cols if c != "quote"]
    grouped = f.groupby(key, dropna=False, sort=False).agg(panels=("panel", ", ".join), quote=("quote", "first"))
    return grouped.reset_index()[["panels", *cols]].sort_values(["indicator", "what", "year"], kind="stable")
