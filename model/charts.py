"""Charts: fan charts of the headline indicators, P(attained) bars and probability-versus-threshold curves.

Labels are bilingual where a CJK font is installed (``zh``) and English otherwise, with a one-line
notice. Colours are the Okabe–Ito colour-blind-safe palette; units are on every axis.
"""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from .report import HEADLINE  # noqa: E402

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
FAN = [("q05", "q95", 0.18), ("q10", "q90", 0.28), ("q25", "q75", 0.45)]
HEADLINE_SERIES = [
    ("gdp", "nominal level", "p14_gdp"), ("gdp", "real growth %", "p14_gdp_growth"),
    ("gdp_deflator", "level", None), ("sei_share_gdp", "level", "p14_sei_share_gdp"),
    ("urbanization_rate", "level", "p14_urbanization_rate"),
    ("mfg_share_industry_above_scale", "level", "p14_mfg_share_industry_above_scale"),
    ("fiscal_revenue", "level", None), ("fixed_asset_investment", "level", None),
    ("urban_disposable_income", "level", None), ("rural_disposable_income", "level", None), ("industry_share_gdp", "level", "p14_industry_share_gdp"),
]
HEADLINE_IDS = [*HEADLINE, "p14_industry_share_gdp"]
"""Targets charted in every report: the plan's headline targets and the industry share."""
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
                         "axes.unicode_minus": False, "figure.dpi": 110, "axes.spines.top": False,
                         "axes.spines.right": False, "axes.prop_cycle": plt.cycler(color=OKABE_ITO)})
    return lang


UNIT_EN = {"亿元": "100 million yuan", "元": "yuan", "万元": "10,000 yuan", "万人": "10,000 persons", "万吨": "10,000 t",
           "亿吨": "100 million t", "个": "count", "家": "firms", "户": "firms", "岁": "years", "年": "years"}


def _name(cat: pd.DataFrame, ind: str, lang: str) -> str:
    zh, en = cat.at[ind, "name_zh"], cat.at[ind, "name_en"]
    return f"{zh} {en}" if lang == "zh" and zh else en


def _unit(unit: str, lang: str) -> str:
    return unit if lang == "zh" else UNIT_EN.get(unit, unit)


def fan_chart(ax, fc: pd.DataFrame, obs: pd.DataFrame, target: pd.Series | None, title: str, unit: str):
    """One fan: 50/80/90% bands, median, observed points by source, target marker with its P."""
    for lo, hi, alpha in FAN:
        ax.fill_between(fc["year"], fc[lo], fc[hi], color=OKABE_ITO[0], alpha=alpha, lw=0)
    ax.plot(fc["year"], fc["q50"], color=OKABE_ITO[0], lw=1.8, label="median")
    for k, (src, g) in enumerate(obs.groupby("source")):
        ax.scatter(g["year"], g["value"], s=22, zorder=5, color=OKABE_ITO[(k + 1) % 8], marker="os^Dv"[k % 5],
                   label=f"observed ({src[:3]})")
    if target is not None and not pd.isna(target.get("threshold")):
        ax.axhline(target["threshold"], color=OKABE_ITO[3], ls="--", lw=1.2)
        p = target.get("p_attained")
        txt = f"target {target['threshold']:g} {unit}" + (f"\nP = {p:.2f}" if not pd.isna(p) else "")
        top = target["threshold"] > np.nanmax(fc["q95"]) * 0.9
        ax.annotate(txt, xy=(fc["year"].max(), target["threshold"]), xytext=(-4, -24 if top else 6),
                    textcoords="offset points", ha="right", fontsize=8, color=OKABE_ITO[3])
    ax.set_title("\n".join(textwrap.wrap(title, 48)), fontsize=8)
    ax.set_ylabel(unit)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.legend(fontsize=6, loc="best", frameon=False)


def _series(result, ind: str, measure: str):
    fc = result.forecasts
    fc = fc[(fc["indicator"] == ind) & (fc["measure"] == measure)]
    obs = result.fit.observations
    if measure == "real growth %":
        obs = obs[(obs["indicator"] == ind) & (obs["kind"] == "yoy_growth")]
    else:
        kinds = ["level", "count", "share"]
        basis = "nominal" if measure == "nominal level" else None
        obs = obs[(obs["indicator"] == ind) & obs["kind"].isin(kinds)]
        if basis:
            obs = obs[obs["price_basis"] == basis]
    return fc, obs


def scenario_charts(out_dir: Path, result, lang: str = "zh") -> list[tuple[str, Path]]:
    """Write the scenario's charts as PNG; return (caption, path) pairs."""
    lang = _setup(lang)
    cat = result.fit.layout.catalogue
    table = result.attainment.set_index("target_id")
    files = []
    panels = [(i, m, t) for i, m, t in HEADLINE_SERIES if not _series(result, i, m)[0].empty]
    n = len(panels)
    if n:
        cols = 2
        fig, axes = plt.subplots((n + 1) // cols, cols, figsize=(8.3, 2.6 * ((n + 1) // cols)), squeeze=False)
        for ax, (ind, measure, tid) in zip(axes.flat, panels):
            fc, obs = _series(result, ind, measure)
            unit = _unit("%" if measure == "real growth %" else cat.at[ind, "unit"], lang)
            target = table.loc[tid] if tid in table.index else None
            if tid == "p14_gdp_growth":
                target = None  # an average over 2021-25, not a yearly growth: shown in the table
            title = _name(cat, ind, lang) + ("" if measure == "level" else f", {measure}")
            fan_chart(ax, fc, obs, target, title, unit)
        for ax in axes.flat[n:]:
            ax.axis("off")
        fig.suptitle(f"Scenario {result.scenario.name}: median and 50/80/90% bands", fontsize=10)
        fig.tight_layout()
        path = out_dir / "fan_charts.png"
        fig.savefig(path)
        plt.close(fig)
        files.append(("Fan charts of the headline indicators", path))
    files.append(("P(attained) by target", _probability_bars(out_dir, result, lang)))
    files.append(("P(attained) as the threshold moves", _threshold_curves(out_dir, result, lang)))
    return files


def _probability_bars(out_dir: Path, result, lang: str) -> Path:
    t = result.attainment
    t = t[(t["status"] == "evaluated") & (t["plan"] == "p14")].sort_values("p_attained")
    fig, ax = plt.subplots(figsize=(8.3, max(2.5, 0.22 * len(t) + 1)))
    colours = t["evidence"].map({"data": OKABE_ITO[0], "mixed": OKABE_ITO[1], "prior": OKABE_ITO[7]}).fillna("grey")
    cat = result.fit.layout.catalogue
    short = lambda i: cat.at[i, "name_zh"] if lang == "zh" and cat.at[i, "name_zh"] else cat.at[i, "name_en"]
    labels = [f"{short(i)} ({tid.removeprefix('p14_')})" for i, tid in zip(t["indicator"], t["target_id"])]
    ax.barh(range(len(t)), t["p_attained"], color=colours)
    ax.set_yticks(range(len(t)), labels, fontsize=6)
    ax.set_xlim(0, 1)
    ax.set_xlabel("P(attained)")
    ax.set_title("14th-plan targets: P(attained)\nevidence: blue = data, orange = mixed, black = prior", fontsize=9)
    fig.tight_layout()
    path = out_dir / "p_attained.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def _threshold_curves(out_dir: Path, result, lang: str) -> Path:
    from .attainment import attained, target_quantity

    t = result.attainment.set_index("target_id")
    ids = [i for i in HEADLINE_IDS if i in t.index and t.at[i, "status"] == "evaluated"]
    fig, axes = plt.subplots(max(1, (len(ids) + 1) // 2), 2, figsize=(8.3, 2.4 * max(1, (len(ids) + 1) // 2)),
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
        ax.annotate(f"official {r['threshold']:g}: P={r['p_attained']:.2f}", (r["threshold"], 0.5), fontsize=7,
                    color=OKABE_ITO[3], xytext=(4, 0), textcoords="offset points")
        ax.set_ylim(0, 1)
        ax.set_ylabel("P(attained)")
        ax.set_xlabel(f"threshold ({_unit(r['unit'], lang)})")
        ax.set_title("\n".join(textwrap.wrap(_name(targets, r["indicator"], lang) + f" ({tid})", 50)),
                     fontsize=8)
    for ax in axes.flat[len(ids):]:
        ax.axis("off")
    fig.tight_layout()
    path = out_dir / "threshold_curves.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def comparison_charts(out_dir: Path, tables: dict, forecasts: dict, catalogue: pd.DataFrame,
                      indicator: str = "gdp", measure: str = "nominal level", lang: str = "zh") -> list[Path]:
    """P(attained) per headline target across scenarios, and one indicator's fan across scenarios."""
    lang = _setup(lang)
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = [t for t in HEADLINE_IDS if all(t in tb.index for tb in tables.values())]
    fig, ax = plt.subplots(figsize=(8.3, 0.5 * len(ids) * len(tables) ** 0.5 + 1.5))
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
    fig.savefig(bars)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8.3, 3.6))
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
    fig.savefig(fan)
    plt.close(fig)
    return [bars, fan]

