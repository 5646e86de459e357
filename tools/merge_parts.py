"""One-off: merge the per-document extraction parts (data/parts/) into data/*.csv, harmonising ids and units.

Kept in the repository so the merge is reproducible and every harmonisation is reviewable.
"""
import re
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
PARTS = ROOT / "data" / "parts"
ORDER = ["003a", "003b", "002", "004", "001", "000"]  # catalogue precedence for duplicated ids

read = lambda f: pd.read_csv(f, dtype=str, keep_default_na=False)

cat = pd.concat([read(PARTS / f"{p}_catalogue.csv").assign(part=p) for p in ORDER], ignore_index=True)
obs = pd.concat([read(PARTS / f"{p}_observations.csv") for p in ORDER], ignore_index=True)
tgt = pd.concat([read(PARTS / f"{p}_targets.csv") for p in ORDER], ignore_index=True)
for frame in (cat, obs, tgt):
    for col in frame.columns:
        frame[col] = frame[col].str.strip()

# --- unit harmonisation: grain in 万吨 everywhere (1亿斤 = 5万吨, 1亿公斤 = 10万吨).
def convert(frame, indicator, unit_from, factor, unit_to):
    sel = (frame["indicator"] == indicator) & (frame["unit"] == unit_from)
    for col in [c for c in ("value", "threshold", "base_value", "threshold_high") if c in frame]:
        frame.loc[sel & (frame[col] != ""), col] = frame.loc[sel & (frame[col] != ""), col].map(
            lambda v: f"{float(v) * factor:g}")
    frame.loc[sel, "note"] = (frame.loc[sel, "note"] + f"; converted {unit_from} → {unit_to} (×{factor:g})").str.lstrip("; ")
    frame.loc[sel, "unit"] = unit_to

convert(obs, "grain_output", "亿斤", 5, "万吨")
convert(tgt, "grain_output", "亿斤", 5, "万吨")

# --- comparators: a plan target printed as a plain number is a floor (the vocabulary has no '=').
plain = tgt["comparator"] == "="
tgt.loc[plain, "note"] = (tgt.loc[plain, "note"] + "; plain number read as a floor (>=)").str.lstrip("; ")
tgt.loc[plain, "comparator"] = ">="

# --- 专栏2's manufacturing share is of ABOVE-SCALE industrial value added (制造业增加值占规上工业增加值比重);
# the 2021 report's 31.1% is of all industrial value added: two definitions, two ids.
for frame in (obs, tgt):
    sel = (frame["indicator"] == "mfg_share_industry") & (frame["source"].str.startswith("003"))
    frame.loc[sel, "indicator"] = "mfg_share_industry_above_scale"
    frame.loc[sel, "note"] = (frame.loc[sel, "note"] + "; denominator is above-scale industry (规上工业)").str.lstrip("; ")
    if "target_id" in frame:
        frame.loc[sel, "target_id"] = frame.loc[sel, "target_id"].str.replace("mfg_share_industry", "mfg_share_industry_above_scale")

# --- the same target stated in two documents: keep both rows (two sources); the later one restates the first.
DOC = {"002": "wr2021", "003": "plan", "004": "wr2024", "000": "ap2023", "001": "digest2024"}
tgt["restates"] = ""
restated = tgt["target_id"].str.endswith("_wr2021") & tgt["target_id"].str.removesuffix("_wr2021").isin(tgt["target_id"])
tgt.loc[restated, "restates"] = tgt.loc[restated, "target_id"].str.removesuffix("_wr2021")
dup = tgt["target_id"].duplicated(keep="first")
tgt.loc[dup, "restates"] = tgt.loc[dup, "target_id"]
tgt.loc[dup, "target_id"] = tgt.loc[dup, "target_id"] + "_" + tgt.loc[dup, "source"].str[:3].map(DOC)
assert not tgt["target_id"].duplicated().any(), tgt[tgt["target_id"].duplicated()]

# --- catalogue: first definition wins (precedence ORDER); report disagreements.
for ind, g in cat.groupby("indicator"):
    variants = g[["unit", "transform", "class"]].drop_duplicates()
    if len(variants) > 1:
        print(f"catalogue: {ind} defined differently: {variants.to_dict('records')} -> keeping {g.iloc[0]['part']}", file=sys.stderr)
cat = cat.drop_duplicates("indicator", keep="first").drop(columns="part")
cat.loc[cat["indicator"] == "grain_output", "unit"] = "万吨"

# --- overrides: links as formulas where a definition holds, and the deflator.
FORMULAS = {
    "sei_share_gdp": "= sei_va / gdp",
    "industry_share_gdp": "= industry_va / gdp",
    "services_share": "= services_va / gdp",
    "mfg_share_industry": "= mfg_va / industry_va",
    "mfg_share_industry_above_scale": "= mfg_va / industry_va_above_scale",
}
for ind, formula in FORMULAS.items():
    if ind in set(cat["indicator"]):
        old = cat.loc[cat["indicator"] == ind, "links"].iloc[0]
        cat.loc[cat["indicator"] == ind, "links"] = formula + (f" ({old})" if old and not old.startswith("=") else "")
# Non-formula links must not start with '=' (only the definitions above are modelled as ratios).
free = ~cat["indicator"].isin(FORMULAS) & cat["links"].str.startswith("=")
cat.loc[free, "links"] = "≈ " + cat.loc[free, "links"].str.lstrip("= ")

for ind, unit, cls in [("sei_va", "亿元", "output"), ("services_va", "亿元", "output"), ("industry_va", "亿元", "output"),
                       ("mfg_va", "亿元", "output"), ("industry_va_above_scale", "亿元", "output")]:
    if ind not in set(cat["indicator"]):
        print(f"catalogue: adding component {ind}", file=sys.stderr)
        cat = pd.concat([cat, pd.DataFrame([dict(indicator=ind, name_zh="", name_en=ind, unit=unit, description="component of a share",
                                                 transform="log", **{"class": cls}, links="")])], ignore_index=True)
cat = pd.concat([cat, pd.DataFrame([dict(
    indicator="gdp_deflator", name_zh="地区生产总值平减指数", name_en="GDP deflator", unit="2020=1",
    description="Implicit deflator of GDP: nominal GDP / real GDP at 2020 prices; not published, inferred from "
                "nominal levels and real growth", transform="log", **{"class": "price"},
    links="nominal gdp = real gdp × gdp_deflator")])], ignore_index=True)

# Identity (untransformed) scale only for bounded indices; shares → logit, positive quantities → log.
IDENTITY = {"life_expectancy", "schooling_years_working_age"}
ident = (cat["transform"] == "identity") & ~cat["indicator"].isin(IDENTITY)
cat.loc[ident, "transform"] = cat.loc[ident, "unit"].map(lambda u: "logit" if u == "%" else "log")
cat.loc[cat["indicator"].isin(IDENTITY), "transform"] = "identity"
cat.loc[cat["indicator"].isin(IDENTITY), "class"] = "index"
cat.loc[(cat["unit"] == "%") & (cat["transform"] == "log") & ~cat["indicator"].str.contains("ratio"), "transform"] = "logit"

# Counts of what a programme creates (farms registered, certifications, projects, firms) grow fast
# from small bases: their own prior class, not the class of the sector they belong to.
COUNT_UNITS = {"个", "家", "户", "所", "项", "件", "座", "名", "人", "场", "次", "条", "套", "万户", "万套", "万人次"}
prog = cat["unit"].isin(COUNT_UNITS) & cat["class"].isin(
    ["agriculture", "output", "investment", "energy", "environment", "trade", "consumption", "structure"])
cat.loc[prog, "class"] = "programme"

# Whole-economy aggregates are far steadier than single sectors (SEI +33% in 2023): own class.
AGGREGATES = {"gdp", "gdp_per_capita", "services_va", "industry_va", "industry_va_above_scale", "primary_va",
              "secondary_va", "labour_productivity", "finance_va"}
cat.loc[cat["indicator"].isin(AGGREGATES), "class"] = "aggregate"
cat.loc[cat["indicator"].str.startswith("urbanization_rate"), "class"] = "urbanization"
# CPI: 控制在3%左右 is a cap.
cpi = (tgt["indicator"] == "cpi") & (tgt["comparator"] == "about")
tgt.loc[cpi, "note"] = (tgt.loc[cpi, "note"] + "; 控制在 (keep within) read as a cap (<=)").str.lstrip("; ")
tgt.loc[cpi, "comparator"] = "<="

money = cat["unit"].isin(["亿元", "万元", "元"])
deflated = cat["class"].isin(["output", "aggregate"]) & money & ~cat["indicator"].str.contains("output|revenue|transactions")
cat["deflator"] = ""
cat.loc[deflated | (cat["indicator"] == "gdp_per_capita"), "deflator"] = "gdp_deflator"

used = set(obs["indicator"]) | set(tgt["indicator"])
for ind in FORMULAS.values():
    used |= set(re.findall(r"[a-z][a-z0-9_]*", ind))
used.add("gdp_deflator")
unused = set(cat["indicator"]) - used
cat = cat[cat["indicator"].isin(used)].sort_values("indicator")

obs = obs.drop_duplicates()
sort = lambda f, k: f.sort_values(k, kind="stable")
sort(obs, ["indicator", "year", "source", "line"]).to_csv(ROOT / "data" / "observations.csv", index=False)
sort(tgt, ["plan", "target_id"]).to_csv(ROOT / "data" / "targets.csv", index=False)
cat.to_csv(ROOT / "data" / "catalogue.csv", index=False)
print(f"observations {len(obs)}, targets {len(tgt)}, indicators {len(cat)} (dropped unused {len(unused)})", file=sys.stderr)
