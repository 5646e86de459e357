"""The report: every chart written at A4 width, the HTML self-contained, every target in it, every evaluated
target on a fan page (or listed with the reason it is not), and provenance for each figure drawn."""

import html
import re

import pandas as pd
from PIL import Image

from model import charts, fans


def _sections(report_md: str) -> dict[str, str]:
    """Chart sections of report.md by image file name."""
    parts = re.split(r"\n### ", report_md.split("\n## Charts\n", 1)[1].split("\n## Scenario assumptions", 1)[0])
    out = {}
    for part in parts:
        m = re.search(r"!\[[^\]]*\]\(([^)]+\.png)\)", part)
        if m:
            out[m.group(1)] = part
    return out


def _charted(section: str) -> list[str]:
    line = next((ln for ln in section.splitlines() if ln.startswith("Targets on this chart:")), "")
    return re.findall(r"`([^`]+)`", line)


def test_every_chart_is_written_at_a4_width(run_output):
    out, _ = run_output
    sections = _sections((out / "report.md").read_text(encoding="utf-8"))
    assert {"fan_charts.png", "fans_targets_01.png", "p_attained.png", "threshold_curves.png"} <= set(sections)
    assert set(sections) == {p.name for p in out.glob("*.png")}
    width = round(charts.A4_WIDTH_IN * charts.DPI)
    for name, section in sections.items():
        assert (out / name).stat().st_size > 10_000, name
        w, h = Image.open(out / name).size
        assert w == width and 2 * charts.DPI <= h <= round(11.69 * charts.DPI), (name, w, h)
        if name.startswith("fans_targets"):
            n = len(_charted(section))
            assert 1 <= n <= fans.COLS * fans.ROWS
            assert h == round(fans.page_size(n)[1] * charts.DPI), (name, n, h)


def test_every_evaluated_target_has_a_fan_or_a_reason(run_output):
    out, _ = run_output
    text = (out / "report.md").read_text(encoding="utf-8")
    sections = _sections(text)
    charted = [t for name, s in sorted(sections.items()) if name.startswith("fans_targets") for t in _charted(s)]
    last = sections[max(n for n in sections if n.startswith("fans_targets"))]
    skipped = re.findall(r"^- `([^`]+)`: \S", last, flags=re.M)
    table = pd.read_csv(out / "attainment.csv")
    evaluated = set(table.loc[table["p_attained"].notna(), "target_id"])
    assert len(charted) == len(set(charted)), "a target charted twice"
    assert not set(charted) & set(skipped)
    assert set(charted) | set(skipped) == evaluated
    assert len(charted) >= 0.9 * len(evaluated)


def test_html_is_self_contained_and_lists_every_target(run_output):
    out, _ = run_output
    page = (out / "report.html").read_text(encoding="utf-8")
    refs = re.findall(r"""\b(?:src|href|srcset)\s*=\s*["']([^"']*)""", page)
    images = re.findall(r"<img\b", page)
    assert len(images) == len(list(out.glob("*.png"))) and len(refs) == len(images)
    assert all(r.startswith("data:image/png;base64,") for r in refs)
    assert "<link" not in page and "<script" not in page and "url(" not in page
    for tid in pd.read_csv(out / "attainment.csv")["target_id"]:
        assert tid in page, tid


def test_figures_drawn_carry_their_provenance(run_output, dataset):
    """Each observed GDP level and each annual GDP growth target on the GDP charts is in report.md with its
    quote, and in report.html with document, line, date and quote on hover."""
    out, _ = run_output
    md = (out / "report.md").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    obs = dataset.vintage("2024-03-31").observations
    gdp = obs[(obs["indicator"] == "gdp") & (obs["kind"] == "level") & (obs["price_basis"] == "nominal")]
    tg = dataset.targets
    plan = tg[(tg["indicator"] == "gdp") & (tg["kind"] == "yoy_growth") & tg["plan"].str.fullmatch(r"a\d{4}")
              & tg["threshold"].notna()]
    assert len(gdp) and len(plan)
    for _, r in pd.concat([gdp, plan]).iterrows():
        tip = f"doc {r['source'][:3]}, line {r['line']}, published {r['published']:%Y-%m-%d}: «{r['quote']}»"
        assert f'title="{html.escape(tip, quote=True)}"' in page, tip
        assert r["quote"].replace("|", "/") in md
    for tid in plan["target_id"]:
        assert f"annual plan target {tid}" in md, tid


def test_growth_targets_are_drawn_on_growth_and_plan_marks_match_the_quantity(dataset):
    cat = dataset.catalogue
    obs = dataset.observations
    real = fans.matching(obs, cat, "gdp", "avg_growth", "real")
    assert len(real) and set(real["kind"]) == {"yoy_growth"} and set(real["price_basis"]) <= {"real", "n.a."}
    levels = fans.matching(obs, cat, "gdp", "level", "nominal")
    assert len(levels) and set(levels["kind"]) <= set(fans.LEVEL_KINDS) and "real" not in set(levels["price_basis"])
    span = fans.matching(dataset.targets, cat, "high_standard_farmland_new", "cumulative", "n.a.", 2021)
    assert len(span) and set(span["kind"]) == {"cumulative"} and set(span["span_start"]) == {2021}


def test_every_unit_has_an_english_label(dataset):
    units = set(dataset.catalogue["unit"]) | set(dataset.observations["unit"]) | set(dataset.targets["unit"])
    cjk = re.compile(r"[\u3000-\u9fff]")
    assert not [u for u in units if cjk.search(charts._unit(u, "en"))]
