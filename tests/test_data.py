"""The dataset is the specification of what the documents say: provenance, completeness, validation."""

import re

import pandas as pd
import pytest

from model import data

WS = re.compile(r"\s+")


def test_every_quote_is_on_its_cited_line(dataset):
    for frame in (dataset.observations, dataset.targets):
        for r in frame.itertuples(index=False):
            lines = data.seed_lines(r.source)
            assert lines is not None, r.source
            assert WS.sub("", r.quote) in WS.sub("", lines[int(r.line) - 1]), (r.source, r.line, r.quote)


def _number_forms(value: float) -> set[str]:
    forms = {f"{value:g}", f"{value:.1f}", f"{value:.2f}", f"{abs(value):g}", f"{abs(value):.1f}", f"{abs(value):.2f}"}
    if float(value).is_integer():
        forms.add(str(int(abs(value))))
    return forms


def test_value_appears_in_quote_or_note_explains(dataset):
    """The row's number is in its quote, or the note says how it was converted (倍, 番, units, footnotes)."""
    bad = []
    for r in dataset.observations.itertuples(index=False):
        quote = r.quote.replace(",", "")
        if any(f in quote for f in _number_forms(r.value)):
            continue
        if r.note:  # conversions are explained in the note
            continue
        bad.append((r.indicator, r.value, r.quote))
    assert not bad, bad[:10]


PLAN14_ROWS = ["gdp", "urbanization_rate", "above_scale_industrial_firms", "industry_share_gdp", "sei_share_gdp",
               "labour_productivity", "rd_expenditure", "hitech_mfg_va", "fiveg_penetration", "patents_per_10k",
               "new_materials_revenue", "high_end_equipment_va", "new_product_projects",
               "digital_core_industry_share_gdp", "mfg_share_industry_above_scale", "good_air_days_share",
               "surface_water_good_share", "energy_intensity", "co2_intensity", "forest_coverage_rate",
               "disposable_income_per_capita", "urban_unemployment_rate", "schooling_years_working_age",
               "doctors_per_1000", "pension_insurance_coverage_rate", "childcare_places_per_1000", "life_expectancy",
               "sports_population_share", "grain_production_capacity", "energy_production_capacity"]


def test_plan14_table_complete(dataset):
    """Every indicator row of 专栏2 (14th plan, 2025 targets) has a target."""
    p14 = set(dataset.targets.query("plan == 'p14' and year == 2025")["indicator"])
    missing = [i for i in PLAN14_ROWS if i not in p14]
    assert not missing, missing
    labs = {"provincial_key_labs", "provincial_tech_innovation_centers", "engineering_tech_research_centers"}
    assert labs <= p14


PLAN13_ROWS = ["gdp", "urbanization_rate", "urbanization_rate_hukou", "services_share", "trade_total_usd",
               "fdi_actual", "outward_direct_investment", "rd_intensity", "patents_per_10k", "tech_contract_value",
               "fixed_broadband_penetration", "mobile_internet_penetration", "urban_disposable_income",
               "rural_disposable_income", "preschool_gross_enrollment_rate", "high_school_gross_enrollment_rate",
               "urban_new_jobs", "poverty_population_reduction", "shantytown_renovation", "life_expectancy",
               "infant_mortality_rate", "maternal_mortality_rate", "elderly_care_beds_per_1000",
               "new_construction_land", "cultivated_land", "water_use_per_10k_gdp", "energy_intensity",
               "co2_intensity", "tree_cover_rate", "forest_stock_volume", "good_air_days", "pm25",
               "worse_than_v_water_share", "surface_water_good_share", "so2_emissions", "cod_emissions",
               "nox_emissions", "ammonia_nitrogen_emissions", "party_conduct_satisfaction",
               "work_accident_death_rate", "coal_mine_death_rate"]


def test_plan13_table_complete(dataset):
    """Every indicator row of 专栏1 (13th plan) has a target, and the 2015 bases are observations."""
    p13 = set(dataset.targets.query("plan == 'p13'")["indicator"])
    missing = [i for i in PLAN13_ROWS if i not in p13]
    assert not missing, missing
    assert len(dataset.observations.query("year == 2015 and source.str.startswith('003')")) >= 30


def test_headline_targets_present(dataset):
    t = dataset.targets
    assert t.at["p14_gdp", "threshold"] == 2800 and t.at["p14_gdp", "attribute"] == "力争"
    assert t.at["p14_gdp", "price_basis"] == "nominal"
    assert t.at["p14_gdp_growth", "kind"] == "avg_growth" and t.at["p14_gdp_growth", "threshold"] == 8
    assert t.at["p14_sei_share_gdp", "threshold"] == 12
    assert t.at["p14_urbanization_rate", "threshold"] == 62
    assert t.at["p14_mfg_share_industry_above_scale", "threshold"] == 45
    # a target with no number is kept, flagged by an empty threshold
    assert t.query("threshold != threshold and plan == 'p14'").shape[0] >= 4


def test_footnote_sets_year(dataset):
    """'*54.9' in the 2020 column of 专栏2 is 2019 data."""
    o = dataset.observations.query("indicator == 'urbanization_rate' and value == 54.9")
    assert set(o["year"]) == {2019}


def test_conflicts_kept_as_separate_rows(dataset):
    services = dataset.observations.query("indicator == 'services_va' and kind == 'avg_growth' and year == 2020")
    assert set(services["value"]) == {6.3, 6.8}


def test_vintage_filter(dataset):
    early = dataset.vintage("2021-05-25").observations
    assert early["published"].max() <= pd.Timestamp("2021-05-25")
    assert (early["year"] < 2023).all()


def test_validation_lists_all_problems(data_copy):
    d = data_copy
    obs = pd.read_csv(d / "observations.csv", dtype=str, keep_default_na=False)
    obs.loc[0, "indicator"] = "no_such_indicator"
    obs.loc[1, "value"] = "twelve"
    obs.loc[2, "year"] = "1850"
    obs.loc[3, "quote"] = "这句话不在文件里"
    obs.loc[4, "unit"] = "light-years"
    obs = pd.concat([obs, obs.iloc[[10]]])
    obs.to_csv(d / "observations.csv", index=False)
    with pytest.raises(data.DataError) as err:
        data.load(d)
    text = str(err.value)
    for needle in ("unknown indicator 'no_such_indicator'", "'twelve' is not a number", "'1850' is not a year",
                   "is not on line", "does not match", "duplicates an earlier row"):
        assert needle in text, needle
    assert len(err.value.problems) >= 6


def test_corrupt_file_is_one_clear_error(data_copy):
    d = data_copy
    (d / "targets.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(data.DataError, match="targets.csv"):
        data.load(d)


USER_HEADER = ",".join(data.OBSERVATION_COLUMNS)


def test_user_file_adds_rows_with_free_text_source(tmp_path, dataset):
    extra = tmp_path / "mine.csv"
    extra.write_text(USER_HEADER + "\ngdp,2024,,5.0,%,yoy_growth,=,real,HYPOTHETICAL test row,,,2025-03-31,\n",
                     encoding="utf-8")
    ds = data.load(extra=[extra])
    assert len(ds.observations) == len(dataset.observations) + 1
    row = ds.observations.iloc[-1]
    assert (row["indicator"], row["year"], row["value"], row["file"]) == ("gdp", 2024, 5.0, "mine.csv")
    assert pd.isna(row["line"]) and row["quote"] == ""
    assert len(ds.vintage("2024-03-31").observations) == len(dataset.vintage("2024-03-31").observations)
    assert len(ds.vintage("2025-03-31").observations) == len(dataset.observations) + 1


def test_user_file_validated_like_shipped_ones(tmp_path):
    extra = tmp_path / "mine.csv"
    extra.write_text(USER_HEADER + "\n"
                     "gdp,2024,,5.0,亿元,yoy_growth,=,real,my notes,,,2025-03-31,\n"       # wrong unit for growth
                     "gdp,2024,,2950,亿元,level,=,nominal,,,,2025-03-31,\n"                 # no source
                     "gdp,2024,,2950,亿元,level,=,nominal,my notes,,,,\n"                   # no publication date
                     "gdp,2024,,2950,亿元,level,=,nominal,003_c98e914008646718.txt,26,不在这一行,2025-03-31,\n",
                     encoding="utf-8")
    with pytest.raises(data.DataError) as err:
        data.load(extra=[extra])
    problems = err.value.problems
    assert len(problems) == 4 and all(p.startswith("mine.csv row ") for p in problems)
    for needle in ("unit '亿元' does not match '%'", "source is empty", "published is empty", "is not on line 26"):
        assert any(needle in p for p in problems), needle


def test_user_file_missing_columns(tmp_path):
    extra = tmp_path / "mine.csv"
    extra.write_text("indicator,year,value\ngdp,2024,5.0\n", encoding="utf-8")
    with pytest.raises(data.DataError, match=r"mine.csv: missing column\(s\) span_start"):
        data.load(extra=[extra])


def test_missing_seed_folder_is_one_problem(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "SEEDS_DIR", tmp_path / "no_seeds")
    data.seed_lines.cache_clear()
    try:
        with pytest.raises(data.DataError) as err:
            data.load()
    finally:
        data.seed_lines.cache_clear()
    assert len(err.value.problems) == 1
    assert "seed folder" in err.value.problems[0] and "CHANGZHI_SEEDS" in err.value.problems[0]
