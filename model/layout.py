r"""The grid of the model: which indicators get latent paths, over which years, and how figures index them.

Indicators are *base* (their own latent path :math:`x_{i,t}` on the natural scale) or *derived*
(a ratio of two others, from the catalogue's ``links`` ``= a / b``). From the latent paths,

.. math::

    \ell_{i,t} = \begin{cases}
        x_{i,t}                        & \text{log transform}\\
        \log 100 - \log(1+e^{-x_{i,t}}) & \text{logit (shares in \%)}\\
        \log x_{i,t}                   & \text{identity}\\
        \ell_{a,t} - \ell_{b,t} + \log 100 & \text{derived } i = a/b
    \end{cases}
    \qquad
    \ell^{\mathrm{nom}}_{i,t} = \ell_{i,t} + \delta_i\, d_t

where :math:`d_t` is the log GDP deflator (:math:`d_{2020}=0`) and :math:`\delta_i=1` for
indicators deflated by it (catalogue column ``deflator``). Real figures read :math:`\ell`,
nominal ones :math:`\ell^{\mathrm{nom}}`. The flattened cell vector is
``[ℓ (indicator, year) ..., ℓ_nom (indicator, year) ...]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .data import Dataset, formula_terms
from .operators import OP_OF_KIND, cell_years

DEFLATOR = "gdp_deflator"
DEFLATOR_BASE_YEAR = 2020
LOG100 = float(np.log(100.0))


@dataclass
class FigureIndex:
    """How a set of figures (observations, targets, user rows) reads the cell vector, per operator."""

    rows: dict[str, np.ndarray] = field(default_factory=dict)  # op -> positions in the input frame
    idx: dict[str, np.ndarray] = field(default_factory=dict)  # op -> (n, k) cell indices
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # op -> (n, k) weights


@dataclass
class Layout:
    """Indicators and years of a fit, and the maps from figures to cells."""

    base: list[str]
    derived: list[str]
    years: np.ndarray
    catalogue: pd.DataFrame
    start: dict[str, int]

    @property
    def indicators(self) -> list[str]:
        return self.base + self.derived

    @property
    def n_years(self) -> int:
        return len(self.years)

    def row(self, indicator: str) -> int:
        return self.indicators.index(indicator)

    def transform(self, indicator: str) -> str:
        return self.catalogue.at[indicator, "transform"]

    def klass(self, indicator: str) -> str:
        return self.catalogue.at[indicator, "class"]

    def deflated(self) -> np.ndarray:
        """1.0 for indicators whose nominal value is real × GDP deflator, per indicator row."""
        return np.array([float(self.catalogue.at[i, "deflator"] == DEFLATOR and i in self.base)
                         for i in self.indicators])

    def ratio_terms(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows of numerator and denominator of each derived indicator."""
        terms = [formula_terms(self.catalogue.at[i, "links"]) for i in self.derived]
        return (np.array([self.row(a) for a, _ in terms], dtype=int),
                np.array([self.row(b) for _, b in terms], dtype=int))

    def subset(self, base: list[str]) -> "Layout":
        """The same grid restricted to some base indicators (and the ratios of them)."""
        keep = [i for i in self.base if i in base]
        derived = [d for d in self.derived if all(t in keep for t in formula_terms(self.catalogue.at[d, "links"]))]
        return Layout(keep, derived, self.years, self.catalogue, {i: self.start[i] for i in keep})

    def with_years(self, last_year: int) -> "Layout":
        """The same indicators on a grid extended (or cut) to ``last_year``."""
        years = np.arange(self.years[0], last_year + 1)
        return Layout(self.base, self.derived, years, self.catalogue, self.start)

    def cell(self, indicator: str, year: int, nominal: bool) -> int:
        offset = len(self.indicators) * self.n_years if nominal else 0
        return offset + self.row(indicator) * self.n_years + int(year - self.years[0])

    def index(self, frame: pd.DataFrame) -> FigureIndex:
        """Index rows (indicator, year, span_start, kind, price_basis) into the cell vector.

        Rows whose cells fall outside the grid or whose indicator is not modelled are skipped
        (they are absent from ``rows``).
        """
        out = FigureIndex()
        groups: dict[str, list[tuple[int, list[int], list[float]]]] = {}
        for pos, r in enumerate(frame.itertuples(index=False)):
            if r.indicator not in self.indicators:
                continue
            span = None if pd.isna(r.span_start) else int(r.span_start)
            years, weights = cell_years(r.kind, int(r.year), span)
            if min(years) < self.years[0] or max(years) > self.years[-1]:
                continue
            nominal = r.price_basis == "nominal"
            cells = [self.cell(r.indicator, y, nominal) for y in years]
            groups.setdefault(OP_OF_KIND[r.kind], []).append((pos, cells, weights))
        for op, items in groups.items():
            k = max(len(c) for _, c, _ in items)
            idx = np.zeros((len(items), k), dtype=int)
            w = np.zeros((len(items), k))
            for j, (_, cells, weights) in enumerate(items):
                idx[j, : len(cells)] = cells
                w[j, : len(weights)] = weights
            out.rows[op] = np.array([p for p, _, _ in items], dtype=int)
            out.idx[op], out.weights[op] = idx, w
        return out


MIN_FIGURES = 3
"""Distinct figures an indicator needs to be sampled by NUTS. Two figures pin at most a level and one
change, which only the class prior splits into trend and volatility: a funnel for NUTS (step size
0.02, 1000 leapfrog steps per draw for the whole model), while the exact conditional is cheap by
importance resampling (:mod:`model.sparse`). Three figures pin two changes and inform the trend."""


def data_rich(layout: Layout, obs: pd.DataFrame, targets: pd.DataFrame) -> list[str]:
    """Base indicators sampled by NUTS: those of light-tailed classes with a target (or a ratio with one)
    and at least ``MIN_FIGURES`` distinct figures of their own or of their ratios, the GDP deflator and
    the components of ratios (they are coupled). The rest are *sparse* (:mod:`model.sparse`)."""
    from .growth import distinct_figures

    cat = layout.catalogue
    count: dict[str, int] = {}
    for ind in distinct_figures(obs)["indicator"]:
        for term in formula_terms(cat.at[ind, "links"]) or (ind,):
            count[term] = count.get(term, 0) + 1
    with_target = set(targets["indicator"])
    for ind in list(with_target):
        with_target |= set(formula_terms(cat.at[ind, "links"]))
    from .priors import CLASS_PRIORS

    # fat-tailed classes (trade) with documents that disagree have one mode per "which figure is the
    # outlier": importance resampling does not mind modes, NUTS does
    rich = {i for i, k in count.items()
            if k >= MIN_FIGURES and i in with_target and CLASS_PRIORS[cat.at[i, "class"]].nu is None} | {DEFLATOR}
    for d in layout.derived:
        rich |= set(formula_terms(cat.at[d, "links"]))
    return [i for i in layout.base if i in rich]


def first_year_read(row) -> int:
    """Earliest year whose latent value a figure reads."""
    span = None if pd.isna(row.span_start) else int(row.span_start)
    return min(cell_years(row.kind, int(row.year), span)[0])


def build_layout(data: Dataset, targets: pd.DataFrame | None = None) -> Layout:
    """Choose modelled indicators and the year grid for a (vintage of a) dataset.

    Modelled: every indicator with an observation in the vintage or a target, the components
    of derived ratios, and the GDP deflator. The grid runs from the earliest year any figure
    reads to the latest observed year (the fit's end; the future belongs to simulation).
    """
    cat = data.catalogue
    obs = data.observations
    targets = data.targets if targets is None else targets
    wanted = set(obs["indicator"]) | set(targets["indicator"]) | {DEFLATOR}
    for ind in list(wanted):
        wanted |= set(formula_terms(cat.at[ind, "links"]))
    derived = sorted(i for i in wanted if len(formula_terms(cat.at[i, "links"])) == 2)
    base = sorted(wanted - set(derived))

    first_read = {}
    for r in obs.itertuples(index=False):
        y = first_year_read(r)
        for ind in (r.indicator, *formula_terms(cat.at[r.indicator, "links"])):
            first_read[ind] = min(first_read.get(ind, y), y)
    last_year = int(obs["year"].max()) if len(obs) else DEFLATOR_BASE_YEAR
    first_year = min(min(first_read.values(), default=last_year), min(DEFLATOR_BASE_YEAR, last_year))
    start = {i: first_read.get(i, last_year) for i in base}
    start[DEFLATOR] = first_year
    return Layout(base, derived, np.arange(first_year, last_year + 1), cat, start)


def anchors(layout: Layout, obs: pd.DataFrame, last: bool = False) -> tuple[dict[str, float], dict[str, int]]:
    """Prior centre of each base indicator's latent value at its first (or last) observed level, and that year.

    Indicators without a level observation get no anchor (a vague prior at their start year).
    """
    out, year = {}, {}
    levels = obs[obs["kind"].isin(["level", "count", "share"]) & (obs["value"] > 0)]
    for ind in layout.base:
        rows = levels[levels["indicator"] == ind].sort_values("year")
        if rows.empty:
            continue
        pick = -1 if last else 0
        value = float(rows["value"].iloc[pick])
        year[ind] = int(rows["year"].iloc[pick])
        tr = layout.transform(ind)
        if tr == "log":
            out[ind] = float(np.log(value))
        elif tr == "logit":
            p = min(max(value / 100.0, 1e-4), 1 - 1e-4)
            out[ind] = float(np.log(p / (1 - p)))
        else:
            out[ind] = value
    return out, year
