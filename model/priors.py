"""Priors of the growth model, by indicator class: the one place to review them.

Each indicator belongs to a class (``class`` column of ``data/catalogue.csv``). On the
indicator's natural scale (log for levels, logit for shares, identity for indices) a class's
``ClassPrior`` gives the *centres of hyperpriors*; the joint model (:mod:`model.joint`) learns each
class's parameters from all its members' figures:

* ``drift``   the class trend mean m_c ~ N(drift_mean, (0.5 drift_sd)²) and trend spread
  s_c ~ LogNormal(log drift_sd, 0.5²); each indicator's trend μ_i ~ m_c + s_c t₃,
* ``vol``     median of the class volatility σ_c (sd of yearly innovations), log σ_c ~ N(log vol, 0.5²);
  each indicator's σ_i = σ_c · exp(ω z_i), z_i ~ N(0, 1), ω learned: partial pooling within the class,
* ``nu``      degrees of freedom of the Student-t innovations (None = normal): fat tails for the
  deflator (coal prices) and foreign trade (single firms); elsewhere the fat-tailed drift prior and
  the per-indicator volatility absorb jumps,

Log-scale numbers are growth rates in log points (0.06 ≈ 6%/yr); logit-scale numbers move a
share of 30–70% by about 25 pp per logit unit, so 0.10/yr ≈ 2.5 pp/yr. Identity-scale
indicators (life expectancy, ...) use the log-scale numbers times their first observed value.

The priors are set from general knowledge available before 2021-05-25 (the vintage of the backtest),
never from the outcomes the model is judged on. Sources: National Bureau of Statistics
prefecture-level series 2010–2020 (Shanxi prefectures' real GDP growth 2011–2019 ranged
about 3–11%, nominal budget revenue and investment growth swung ±20% with coal prices),
and the coal-price cycle (Qinhuangdao 5500 kcal spot price fell ~40% 2012–2015 and rose
~60% 2016–2018).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClassPrior:
    """Prior of one indicator class on the natural (transformed) scale, per year."""

    drift_mean: float
    drift_sd: float
    vol: float
    nu: float | None
    why: str


CLASS_PRIORS: dict[str, ClassPrior] = {
    "aggregate": ClassPrior(0.06, 0.03, 0.025, None,
        "Real GDP and broad value-added aggregates of a Shanxi prefecture grew 3–11%/yr 2011–2019, and year-to-"
        "year changes in growth were mostly within ±2–3 points (2020, covid, about -4): volatility 2.5 log points."),
    "output": ClassPrior(0.06, 0.06, 0.08, None,
        "Value added or gross output of one sector (SEI, high-tech manufacturing, equipment, new materials): "
        "growth from -10% to +35%/yr in Shanxi's 2011–2020 statistical yearbooks (single plants opening or "
        "closing), so wider drift and volatility than the aggregates."),
    "price": ClassPrior(0.02, 0.015, 0.08, 4.0,
        "GDP deflator of a coal economy: its long-run trend is tied to national inflation (~2%/yr; drift sd "
        "1.5 points), while coal-price swings, which are temporary, move it ±10–20% in a year (2012–2015 down, "
        "2016–2018 up): large volatility with heavy tails (ν = 4), not a new trend."),
    "fiscal": ClassPrior(0.05, 0.06, 0.10, None,
        "Nominal budget revenue follows nominal GDP and coal taxes; tax cuts and coal cycles gave yearly "
        "moves of ±15%."),
    "investment": ClassPrior(0.05, 0.06, 0.12, None,
        "Fixed-asset investment growth in Shanxi swung from -20% to +20% in the 2010s (statistical "
        "clean-ups, project cycles)."),
    "consumption": ClassPrior(0.06, 0.04, 0.06, None,
        "Retail sales grew 6–12%/yr before 2020 and fell in 2020: moderate volatility."),
    "trade": ClassPrior(0.05, 0.15, 0.30, 3.0,
        "Changzhi's foreign trade and FDI are tiny and lumpy (single firms move them by tens of percent)."),
    "income": ClassPrior(0.07, 0.03, 0.03, None,
        "Per-capita disposable incomes grew 5–9%/yr nominal with little volatility."),
    "population": ClassPrior(0.00, 0.02, 0.02, None,
        "Resident population and employment counts change slowly (±1%/yr)."),
    "structure": ClassPrior(0.00, 0.10, 0.08, None,
        "Shares (sector shares, coverage rates) move 0.5–2 pp/yr; direction a priori unknown, so drift is "
        "centred at zero; definition changes are modelled as separate series."),
    "energy": ClassPrior(0.02, 0.06, 0.10, None,
        "Coal output and power capacity follow capacity policy (capacity cuts 2016–2018; the 14th plan, May 2021, "
        "plans expansions)."),
    "innovation": ClassPrior(0.08, 0.12, 0.15, None,
        "R&D spending, patents, high-tech firms and digital indicators grow fast from small bases with "
        "large swings; drift sd 0.12 allows 0–30%/yr."),
    "programme": ClassPrior(0.05, 0.20, 0.25, None,
        "Counts of what a programme creates (family farms registered, certifications, projects, new firms): "
        "they can double or halve within a few years (family farms ×16 in 2016–2020), so drift sd 0.20 and "
        "volatility 0.25."),
    "urbanization": ClassPrior(0.045, 0.03, 0.012, None,
        "Urbanization rates rose about 1–1.4 pp a year in Chinese prefectures in the 2010s (≈0.045 logit/yr "
        "near 55%) and move smoothly from year to year (≈0.3 pp)."),
    "index": ClassPrior(0.004, 0.004, 0.003, None,
        "Slow indices on their natural scale (life expectancy, years of schooling), as fractions of their level "
        "per year: life expectancy of 75–78 years rises 0.1–0.6 years a year in Chinese cities."),
    "social": ClassPrior(0.02, 0.06, 0.08, None,
        "Education, health, pensions, housing: slow trends set by programmes."),
    "environment": ClassPrior(0.00, 0.08, 0.10, None,
        "Air and water quality indicators move with campaigns and weather; drift a priori unknown."),
    "agriculture": ClassPrior(0.00, 0.04, 0.06, None,
        "Grain output and farmland are stable with weather shocks of a few percent."),
}

# Observation noise (one per observation family, shared by all classes): a lognormal scale above a floor.
SOURCE_NOISE_LEVEL = 0.02
"""Log-points, the median: two documents quoting one level (after revisions, rounding of definitions) differ by ~1–2%."""
SOURCE_NOISE_GROWTH = 0.3
"""Percentage points, the median: growth figures restated in another document differ by a few tenths."""
SOURCE_NOISE_SPREAD = 0.5
"""sd of the log of the document error above its floor: a factor 1.6 either way (one sd)."""
VOL_CLASS_SPREAD = 0.5
"""sd of log σ_c around the class's ``vol``: a factor 1.6 either way (one sd)."""
VOL_INDICATOR_SPREAD = 0.3
"""sd of an indicator's log σ_i around its class σ_c."""
NOISE_FLOOR_LEVEL = 0.005
"""Log-points: even one document's level is a preliminary figure, later revised by ~0.5–1%."""
NOISE_FLOOR_GROWTH = 0.1
"""Percentage points: growth rates are revised by a tenth or more between releases."""
GROWTH_RELATIVE_NOISE = 0.02
"""Growth figures are known to ~2% of their size: a 33.4% growth of a small base is less exact than
5.6% of GDP, and '翻了四番' (×16, i.e. +1500%) is a figure of speech, not a measurement."""
PERIOD_SHIFT = 1.0
"""sd of an indicator's trend in one five-year plan period around its long-run trend, in units of its class's
drift sd. A new plan resets programmes and policies, and the coal cycle moves whole periods: Shanxi
prefectures' real GDP growth fell from about 10%/yr (2011–13) to about 5% (2014–16); programme outputs
(roads built, projects started) jump between plans. So the trend of a plan period differs from the
long-run trend about as much as trends differ between indicators of a class (the class drift sd)."""
PLAN_PERIOD_START = 2011
"""First year of a five-year plan period (12th plan: 2011–2015; 13th: 2016–2020; 14th: 2021–2025; ...)."""
DRIFT_NU = 3.0
"""Degrees of freedom of the drift prior's z (variance 3: see planner.no_data_variances)."""
ABOUT_TOLERANCE = {"growth": 0.5, "level": 0.02}
"""Extra observation sd for statements marked 左右/约 ('about'): 0.5 pp for rates, 2% for levels."""
INITIAL_LEVEL_SD = 2.0
"""sd of the first latent value around its first observation, on the natural scale (weakly informative)."""
PLANNER_SD = 1.0
"""Scale of a five-year plan's target read as a statement of its period's trend (:mod:`model.planner`), in units
of the class drift sd. Before these documents, national plan targets for real GDP growth missed the realised
five-year average by 0.7–3.8 points a year (11th plan 7.5% against 11.3%, 12th 7% against 7.8%, 13th 6.5%
against about 5.7%), against the aggregate class's drift sd of 3 points: a target is about as informative as
the spread of trends within its class, no more."""
PLANNER_NU = 3.0
"""Degrees of freedom of that statement: some targets are slogans (R&D intensity 0.89% → 2.5% in five years),
so a target far from the data and the class prior loses its pull instead of dragging the trend."""
UNANCHORED_LEVEL_SD = 10.0
"""sd of the level of an indicator no figure anchors (natural scale): vague; only its changes can be read."""
TREND_MEAN_SPREAD = 0.5
"""sd of a class's trend mean around its ``drift_mean``, in units of the class's ``drift_sd``: the general
knowledge behind ``CLASS_PRIORS`` (prefecture series to 2020) places the typical trend of a class within about
half the spread of its members' trends."""
HYPER_SPREAD = 0.5
"""sd of the logs of a class's trend spread and volatility around ``drift_sd`` and ``vol`` (a factor 1.6 either
way), and of the logs of the indicator volatility spread ω and the period shift ρ around their centres: the
pre-2021 sources give orders of magnitude, not the values; the figures of each class's members decide."""
SOURCE_KIND_SPREAD = 0.5
"""sd of the log of one kind of source's document error (plan table, work report, digest, footnoted figure)
around the error shared by all kinds: a factor 1.6 either way. No kind was known before 2021 to be less
exact than another; the figures of each kind decide, but no kind's error is free on its own (see
:func:`model.joint._document_error`)."""
DOCUMENT_NU = 4.0
"""Degrees of freedom of the document error of one indicator's figures: each group of linked figures has its
own multiplier λ ~ Gamma(ν/2, ν/2) of its error variance, so an indicator whose documents contradict each
other (the 13th plan's foreign trade: levels 2015 and 2020 against its own average growth) widens its own
errors, not those of every figure of its kind of source. One multiplier per group, not per figure: per-figure
tails make the posterior multimodal ("which figure is the outlier"), one shared by a group does not."""
