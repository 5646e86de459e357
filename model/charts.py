"""Charts: fan charts (see :mod:`model.fans`), P(attained) bars and probability-versus-threshold curves.

Labels are bilingual where a CJK font is installed (``zh``) and English otherwise, with a one-line
notice. Colours are the Okabe–Ito colour-blind-safe palette; units are on every axis.
"""

from __future__ import annotations

import io
import textwrap
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from .report import HEADLINE  # noqa: E402

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
HEADLINE_SERIES = [
    ("gdp", "level", "nominal", "p14_gdp"), ("gdp", "yoy_growth", "real", "p14_gdp_growth"),
    ("gdp_deflator", "level", "n.a.", None), ("sei_share_gdp", "share", "n.a.", "p14_sei_share_gdp"),
    ("urbanization_rate", "share", "n.a.", "p14_urbanization_rate"),
    ("mfg_share_industry_above_scale", "share", "n.a.", "p14_mfg_share_industry_above_scale"),
    ("industry_share_gdp", "share", "n.a.", "p14_industry_share_gdp"),
    ("fiscal_revenue", "level", "nominal", None), ("fixed_asset_investment", "level", "nominal", None),
    ("urban_disposable_income", "level", "nominal", None), ("rural_disposable_income", "level", "nominal", None),
]
"""Headline panels: (indicator, quantity kind, price basis, target marked on it)."""
HEADLINE_IDS = [*HEADLINE, "p14_industry_share_gdp"]
"""Targets charted in every report: the plan's headline targets and the industry share."""
A4_WIDTH_IN = 8.27
"""Every chart is A4 wide (inches), so that it prints at 100% on a page."""
DPI = 150
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK TC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "SimHei")


def cjk_font() -> str | None:
    """Name of an installed CJK font (the pinned PyPI package ships Noto Sans CJK), or None."""
    try:
        import cvttf_NotoSansCJK_Regular as noto

        for path in Path(noto.__file__).parent.glob("*.otf"):
            font_manager.fontManager.addfont(str(path))
    except ImportError:
        pass
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in CJK_FONTS if n in names), None)


def _setup(lang: str) -> str:
    font = cjk_font() if lang == "zh" else None
    if lang == "zh" and font is None:
        warnings.warn("no CJK font installed: chart labels fall back to English", stacklevel=2)
        lang = "en"
    plt.rcParams.update({"font.family": [font, "DejaVu Sans"] if font else ["DejaVu Sans"],
                         "axes.unicode_minus": False, "figure.dpi": DPI, "axes.spines.top": False,
                         "axes.spines.right": False, "axes.prop_cycle": plt.cycler(color=OKABE_ITO)})
    return lang


def save_png(fig, path: Path, dpi: float | None = None) -> Path:
    """Save a figure as a 256-colour PNG (a third of the size of full colour; the report embeds every image)."""
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    image = Image.open(buf).convert("RGB")  # octree keeps the palette's colours apart (median cut merges them)
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(path, optimize=True)
    return path


UNIT_EN = {
    "亿元": "100 million yuan", "万元": "10,000 yuan", "元": "yuan", "亿美元": "100 million USD",
    "元/人": "yuan per person", "元/人·年": "yuan per person-year", "元/人·月": "yuan per person-month",
    "万元/亩": "10,000 yuan per mu", "吨/万元": "t per 10,000 yuan", "吨标准煤/万元": "tce per 10,000 yuan",
    "人/亿元": "persons per 100 million yuan", "人/百万吨": "persons per million t", "1/10万": "per 100,000",
    "index (上年=100)": "index (previous year = 100)", "万人": "10,000 persons", "人": "persons", "名": "persons",
    "万户": "10,000 households", "户": "firms", "家": "firms", "万吨": "10,000 t", "亿吨": "100 million t", "吨": "t",
    "亿吨标准煤": "100 million tce", "万千瓦": "10,000 kW", "亿立方米": "100 million m³", "万立方米": "10,000 m³",
    "立方米": "m³", "万平方米": "10,000 m²", "平方米": "m²", "平方公里": "km²", "万亩": "10,000 mu", "亩": "mu",
    "斤/亩": "jin per mu", "公里": "km", "微克/立方米": "µg/m³", "万头": "10,000 head", "万头(只)": "10,000 head",
    "万场": "10,000 events", "场": "events", "个": "count", "座": "count", "所": "schools", "张": "beds",
    "条": "roads", "起": "accidents", "项": "items", "件": "items", "套": "housing units", "处": "sites",
    "天": "days", "小时": "hours", "岁": "years", "年": "years",
}
"""English for every unit in the data (a CJK unit would render as boxes without a CJK font)."""


def _name(cat: pd.DataFrame, ind: str, lang: str) -> str:
    zh, en = cat.at[ind, "name_zh"], cat.at[ind, "name_en"]
    return f"{zh} {en}" if lang == "zh" and zh else en


def _unit(unit: str, lang: str) -> str:
    return unit if lang == "zh" else UNIT_EN.get(unit, unit)


@dataclass
class Chart:
    """One chart file, its caption, and the figures drawn on it with their provenance."""

    caption: str
    path: Path
    data: pd.DataFrame | None = None  # observed figures and plan targets drawn (see fans.provenance)
    targets: list[str] = field(default_factory=list)  # target ids charted on it


def _plan_targets(result) -> pd.DataFrame:
    if getattr(result, "plan_targets", None) is not None:
        return result.plan_targets
    from .data import shipped

    return shipped().targets


def scenario_charts(out_dir: Path, result, lang: str = "zh") -> tuple[list[Chart], dict[str, str]]:
    """Write the scenario's charts as PNG.

    Returns the charts, and the evaluated targets that have no fan with the reason (target id -> why).
    """
    from . import fans
    from .report import ordered

    lang = _setup(lang)
    table = result.attainment.set_index("target_id")
    plan = _plan_targets(result)
    docs = fans.doc_styles(result.fit.observations)
    charts = []
    heads = []
    for ind, kind, basis, tid in HEADLINE_SERIES:
        target = table.loc[tid].rename(tid) if tid in table.index else None
        if target is not None:
            target["target_id"] = tid
        panel = fans.series_panel(result, ind, kind, basis, target, plan, lang)
        if panel is not None:
            heads.append(panel)
    if heads:
        path = fans.write_pages(heads, docs, out_dir, "fan_charts",
                                f"Scenario {result.scenario.name}: headline indicators", numbered=False)[0]
        charts.append(Chart("Fan charts of the headline indicators", path, fans.provenance(heads),
                            [p.key for p in heads if p.target is not None]))
    panels, skipped = [], {}
    evaluated = ordered(result.attainment)
    for _, row in evaluated[evaluated["p_attained"].notna()].iterrows():
        panel = fans.target_panel(result, row, plan, lang)
        if isinstance(panel, str):
            skipped[row["target_id"]] = panel
        else:
            panels.append(panel)
    per_page = fans.COLS * fans.ROWS
    paths = fans.write_pages(panels, docs, out_dir, "fans_targets",
                             f"Scenario {result.scenario.name}: every evaluated target")
    for k, path in enumerate(paths):
        page = panels[k * per_page:(k + 1) * per_page]
        charts.append(Chart(f"Fan charts of the targets ({k + 1}/{len(paths)})", path, fans.provenance(page),
                            [p.key for p in page]))
    charts.append(Chart("P(attained) by target", _probability_bars(out_dir, result, lang)))
    charts.append(Chart("P(attained) as the threshold moves", _threshold_curves(out_dir, result, lang)))
    return charts, skipped


def _probability_bars(out_dir: Path, result, lang: str) -> Path:
    t = result.attainment
    t = t[(t["status"] == "evaluated") & (t["plan"] == "p14")].sort_values("p_attained")
    fig, ax = plt.subplots(figsize=(A4_WIDTH_IN, max(2.5, 0.22 * len(t) + 1)))
    colours = t["evidence"].map({"data": OKABE_ITO[0], "mixed": OKABE_ITO[1], "plan": OKABE_ITO[5],
                                  "prior": OKABE_ITO[7]}).fillna("grey")
    cat = result.fit.layout.catalogue
    short = lambda i: cat.at[i, "name_zh"] if lang == "zh" and cat.at[i, "name_zh"] else cat.at[i, "name_en"]
    labels = [f"{short(i)} ({tid.removeprefix('p14_')})" for i, tid in zip(t["indicator"], t["target_id"])]
    ax.barh(range(len(t)), t["p_attained"], color=colours)
    ax.set_yticks(range(len(t)), labels, fontsize=6)
    ax.set_xlim(0, 1)
    ax.set_xlabel("P(attained)")
    ax.set_title("14th-plan targets: P(attained)\nevidence: blue = data, orange = mixed, "
                 "light blue = plan's own target, black = prior", fontsize=9)
    fig.tight_layout()
    path = out_dir / "p_attained.png"
    save_png(fig, path)
    return path


def _threshold_curves(out_dir: Path, result, lang: str) -> Path:
    from .attainment import attained, target_quantity

    t = result.attainment.set_index("target_id")
    ids = [i for i in HEADLINE_IDS if i in t.index and t.at[i, "status"] == "evaluated"]
    fig, axes = plt.subplots(max(1, (len(ids) + 1) // 2), 2, figsize=(A4_WIDTH_IN, 2.4 * max(1, (len(ids) + 1) // 2)),
                             squeeze=False)
    targets = result.fit.layout.catalogue  # for names
    rows = pd.DataFrame([{"indicator": t.at[i, "indicator"], "year": t.at[i, "year"],
                          "span_start": t.at[i, "span_start"], "kind": t.at[i, "kind"],
                          "price_basis": t.at[i, "price_basis"]} for i in ids])
    q, _ = target_quantity(result.paths, rows) if len(rows) else (np.zeros((0, 0)), None)
    for k, (ax, tid) in enumerate(zip(axes.flat, ids)):
        r = t.loc[tid]
        grid = np.linspace(np.quantile(q[:, k], 0.01), np.quantile(q[:, k], 0.99), 120)
        p = [attained(q[:, k], r["comparator"], g, r["threshold_high"], r["kind"]).mean() for g in grid]
        ax.plot(grid, p, color=OKABE_ITO[0])
        ax.axvline(r["threshold"], color=OKABE_ITO[3], ls="--", lw=1)
        # the label sits where the curve is not: high where P is low, on the side the curve falls away
        low = r["p_attained"] < 0.5
        right = (p[-1] < p[0]) == low
        room = (grid[-1] - r["threshold"] if right else r["threshold"] - grid[0]) / (grid[-1] - grid[0])
        right = right if room > 0.3 else not right
        ax.annotate(f"official {r['threshold']:g}: P={r['p_attained']:.2f}", (r["threshold"], 0.94 if low else 0.06),
                    fontsize=7, color=OKABE_ITO[3], xytext=(4 if right else -4, 0), textcoords="offset points",
                    ha="left" if right else "right", va="center",
                    bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.8))
        ax.set_ylim(0, 1)
        ax.set_ylabel("P(attained)")
        ax.set_xlabel(f"threshold ({_unit(r['unit'], lang)})")
        ax.set_title("\n".join(textwrap.wrap(_name(targets, r["indicator"], lang) + f" ({tid})", 50)),
                     fontsize=8)
    for ax in axes.flat[len(ids):]:
        ax.axis("off")
    fig.tight_layout()
    path = out_dir / "threshold_curves.png"
    save_png(fig, path)
    return path


def comparison_charts(out_dir: Path, tables: dict, forecasts: dict, catalogue: pd.DataFrame,
                      indicator: str = "gdp", measure: str = "nominal level", lang: str = "zh") -> list[Path]:
    """P(attained) per headline target across scenarios, and one indicator's fan across scenarios."""
    lang = _setup(lang)
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = [t for t in HEADLINE_IDS if all(t in tb.index for tb in tables.values())]
    fig, ax = plt.subplots(figsize=(A4_WIDTH_IN, 0.5 * len(ids) * len(tables) ** 0.5 + 1.5))
    width = 0.8 / max(len(tables), 1)
    for k, (name, tb) in enumerate(tables.items()):
        ax.barh(np.arange(len(ids)) + k * width, tb.loc[ids, "p_attained"].fillna(0), width, label=name,
                color=OKABE_ITO[k % 8])
    ax.set_yticks(np.arange(len(ids)) + 0.4 - width / 2,
                  [_name(catalogue, tables[next(iter(tables))].at[t, "indicator"], lang) + f"\n({t})" for t in ids],
                  fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_xlabel("P(attained)")
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    fig.tight_layout()
    bars = out_dir / "compare_p_attained.png"
    save_png(fig, bars)
    fig, ax = plt.subplots(figsize=(A4_WIDTH_IN, 3.6))
    for k, (name, fc) in enumerate(forecasts.items()):
        f = fc[(fc["indicator"] == indicator) & (fc["measure"] == measure)]
        ax.fill_between(f["year"], f["q10"], f["q90"], color=OKABE_ITO[k % 8], alpha=0.15, lw=0)
        ax.plot(f["year"], f["q50"], color=OKABE_ITO[k % 8], lw=1.6, label=f"{name} (median, 80% band)")
    ax.set_title(_name(catalogue, indicator, lang) + f", {measure}", fontsize=9)
    ax.set_ylabel(_unit(catalogue.at[indicator, "unit"], lang) if measure != "real growth %" else "%")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    fan = out_dir / f"compare_{indicator}.png"
    save_png(fig, fan)
    return [bars, fan]

