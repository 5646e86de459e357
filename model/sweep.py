r"""Sweeps: one scenario over a grid of values of one forward assumption, on one posterior.

A sweep answers "how does P(attained) move as this assumption moves?": for each value the
scenario's paths are simulated and the attainment read off them, exactly as ``run`` does. Every
value uses

* the same posterior: it is fitted (or loaded from the cache) **once**; a sweep may vary only a
  forward assumption or a threshold, never the vintage or the sampler, so it never refits;
* the same seed: the resampled posterior draws and the innovations are the same for every value
  (common random numbers), so the curve is smooth and, where the model makes P monotone in the
  assumption (a growth shift against a growth floor), exactly monotone.

Path syntax (``vary``)::

    assumptions[2].value                       the assumption at index 2 (0-based; -1 is the last)
    assumptions.2.value                        the same, dotted
    assumptions[gdp_deflator].value            the one assumption whose indicator (or one of them) is gdp_deflator
    assumptions[gdp_deflator:growth_set].value the one assumption on gdp_deflator of kind growth_set
    assumptions[...].sd                        sd of a growth_set assumption (points)
    assumptions[...].probability               probability of a level_shock assumption (0–1)
    thresholds.p14_gdp                         the threshold of a target (in its unit)

A selector must match exactly one assumption (else the error lists them). Index positions count the
assumptions inherited through ``extends`` first, as in the merged scenario. ``value`` is in the
assumption's units: points of yearly growth (growth_shift), % per year (growth_set), a multiplier
of the innovation sd (volatility) or % of the level (level_shock).
"""

from __future__ import annotations

import difflib
import re
import typing
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import data as data_mod
from .scenario import MAX_SWEEP_VALUES, Assumption, Scenario, ScenarioError, error_lines

KINDS = typing.get_args(Assumption.model_fields["kind"].annotation)
FIELDS = {"value": None, "sd": "growth_set", "probability": "level_shock"}
"""Fields a sweep may vary, and the only assumption kind on which the field acts (None: every kind)."""
UNITS = {("value", "growth_shift"): "points added to yearly growth", ("value", "growth_set"): "% per year",
         ("value", "volatility"): "× innovation sd", ("value", "level_shock"): "% of the level",
         ("sd", "growth_set"): "sd, points", ("probability", "level_shock"): "probability"}
COLUMNS = ["path", "value", "target_id", "p_attained", "mcse"]

_ASSUMPTION = re.compile(r"assumptions(?:\[(?P<key>[^\[\]]*)\]|\.(?P<dot>-?\d+))\.(?P<field>[A-Za-z_]+)")
_THRESHOLD = re.compile(r"thresholds\.(?P<tid>[A-Za-z0-9_-]+)")


def _hint(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class Location:
    """Where a sweep's value goes in a scenario: an assumption's field, or a target's threshold."""

    text: str  # as given
    index: int | None = None  # the assumption (non-negative), or None for a threshold
    field: str = "value"
    target_id: str | None = None
    kind: str | None = None  # the assumption's kind

    @property
    def canonical(self) -> str:
        """``assumptions[2].value`` or ``thresholds.p14_gdp``."""
        return f"thresholds.{self.target_id}" if self.index is None else f"assumptions[{self.index}].{self.field}"

    def unit(self, dataset: data_mod.Dataset | None = None) -> str:
        """The unit of the varied number (for the chart's axis)."""
        if self.index is None:
            if dataset is not None and self.target_id in dataset.targets.index:
                return str(dataset.targets.at[self.target_id, "unit"])
            return ""
        return UNITS.get((self.field, self.kind), "")


def resolve(scenario: Scenario, path: str) -> Location:
    """Where ``path`` (the module docstring's syntax) points in ``scenario``.

    Raises
    ------
    ScenarioError
        One line starting with the path: bad syntax, no such assumption, a selector matching none or
        several, or a field that the assumption's kind does not use.

    Examples
    --------
    >>> import model
    >>> from model.sweep import resolve
    >>> s = model.load_scenario("scenarios/coal_downturn.yaml")
    >>> resolve(s, "assumptions[fiscal_revenue:growth_shift].value").canonical
    'assumptions[2].value'
    >>> resolve(s, "assumptions[gdp_deflator].value")
    Traceback (most recent call last):
    ...
    model.scenario.ScenarioError: 'assumptions[gdp_deflator].value': matches assumptions[0] and assumptions[1]; ...
    """
    text = path.strip() if isinstance(path, str) else path
    if not isinstance(text, str) or not text:
        raise ScenarioError("the path is empty; e.g. assumptions[0].value or thresholds.p14_gdp")
    shown = repr(text)
    m = _THRESHOLD.fullmatch(text)
    if m:
        return Location(text, None, "threshold", m["tid"])
    m = _ASSUMPTION.fullmatch(text)
    if not m:
        if text.startswith(("as_of", "data_through", "fit", "horizon", "draws", "seed", "targets", "plans")):
            raise ScenarioError(f"{shown}: a sweep varies a forward assumption or a threshold, not "
                                f"{text.split('.')[0].split('[')[0]} (that would need another fit or other paths)")
        raise ScenarioError(f"{shown}: not a sweep path; write assumptions[<index>].value, "
                            "assumptions[<indicator>:<kind>].value (also .sd, .probability) or thresholds.<target id>")
    key = m["dot"] if m["dot"] is not None else m["key"].strip()
    fld = m["field"]
    assumptions = scenario.assumptions
    listing = ", ".join(f"assumptions[{i}] {'+'.join(a.indicator_list())}:{a.kind}" for i, a in enumerate(assumptions))
    if not assumptions:
        raise ScenarioError(f"{shown}: the scenario has no assumptions to vary; add one (its value is the "
                            "one a plain run uses)")
    if re.fullmatch(r"-?\d+", key):
        i = int(key)
        if not -len(assumptions) <= i < len(assumptions):
            raise ScenarioError(f"{shown}: no assumptions[{i}]; the scenario has {len(assumptions)} "
                                f"({listing})")
        i %= len(assumptions)
    else:
        indicator, _, kind = (part.strip() for part in key.partition(":"))
        if not indicator:
            raise ScenarioError(f"{shown}: empty selector; give an index or <indicator>[:<kind>]")
        if kind and kind not in KINDS:
            raise ScenarioError(f"{shown}: unknown kind {kind!r}{_hint(kind, KINDS)}; one of {', '.join(KINDS)}")
        found = [i for i, a in enumerate(assumptions)
                 if indicator in a.indicator_list() and (not kind or a.kind == kind)]
        if not found:
            known = sorted({ind for a in assumptions for ind in a.indicator_list()})
            hint = _hint(indicator, known) if indicator not in known else ""
            raise ScenarioError(f"{shown}: no assumption on {indicator}{' of kind ' + kind if kind else ''}{hint}; "
                                f"the scenario's assumptions: {listing}")
        if len(found) > 1:
            raise ScenarioError(f"{shown}: matches {' and '.join(f'assumptions[{i}]' for i in found)}; "
                                f"{'add :<kind> or ' if not kind else ''}use the index")
        i = found[0]
    kind = assumptions[i].kind
    if fld not in FIELDS:
        raise ScenarioError(f"{shown}: a sweep varies value, sd (growth_set) or probability (level_shock) of an "
                            f"assumption, not {fld!r}{_hint(fld, FIELDS)}")
    if FIELDS[fld] is not None and FIELDS[fld] != kind:
        raise ScenarioError(f"{shown}: {fld} acts only on {FIELDS[fld]} assumptions; assumptions[{i}] is "
                            f"{kind}")
    return Location(text, i, fld, None, kind)


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else repr(value)


def apply(scenario: Scenario, location: Location, value: float) -> Scenario:
    """``scenario`` with ``value`` at ``location``, validated by the schema (and without its ``sweep``).

    Raises
    ------
    ScenarioError
        ``value <v>: <field>: <what is wrong>`` for a value the schema refuses (e.g. a volatility
        multiplier above 10, a non-finite number).
    """
    from pydantic import ValidationError

    raw = scenario.model_dump()
    raw["sweep"] = None
    if location.index is None:
        raw["thresholds"] = {**raw["thresholds"], location.target_id: value}
    else:
        raw["assumptions"][location.index][location.field] = value
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        raise ScenarioError(*error_lines(err, f"value {_fmt(value)}")) from None


@dataclass
class SweepPlan:
    """A checked sweep, ready to run (:func:`plan_sweep`): nothing is fitted or simulated yet."""

    scenario: Scenario  # the scenario with the sweep's paths and seed, without its ``sweep`` block
    location: Location
    values: list[float]
    scenarios: list[Scenario] = field(repr=False)  # one per value
    targets: list[str] = field(default_factory=list)


def _values(values) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ScenarioError(f"values: give a list of numbers, not {values!r}") from None
    if not 1 <= len(out) <= MAX_SWEEP_VALUES:
        raise ScenarioError(f"values: a sweep takes 1 to {MAX_SWEEP_VALUES} values, not {len(out)}")
    twice = sorted({v for v in out if out.count(v) > 1})
    if twice:
        raise ScenarioError(f"values: {', '.join(_fmt(v) for v in twice)} given more than once")
    return out


def plan_sweep(scenario: Scenario, path: str | None = None, values=None, dataset: data_mod.Dataset | None = None,
               targets: list[str] | None = None, n_paths: int | None = None, seed: int | None = None,
               last_fit_year: int | None = None, check_scenario: bool = True) -> SweepPlan:
    """Check a sweep without fitting: the path, every value (through the scenario schema), the targets and
    (with ``check_scenario``) the scenario itself against the data, as ``run`` checks it before fitting.

    Arguments as :func:`sweep`; ``path``, ``values`` and ``targets`` default to the scenario's ``sweep``
    block; ``last_fit_year`` defaults to the vintage's last observed year. Raises :class:`ScenarioError`
    listing every problem, each line starting with what is at fault: ``path:``, ``values: value <v>:
    <field>:``, ``targets:``, ``n_paths:``, ``seed:`` or ``scenario:``.
    """
    dataset = dataset or data_mod.shipped()
    block = scenario.sweep
    if path is None:
        if block is None:
            raise ScenarioError("path: none given, and the scenario has no sweep block")
        path = block.vary
    if values is None:
        if block is None:
            raise ScenarioError("values: none given, and the scenario has no sweep block")
        values = block.grid()
    values = _values(values)
    if targets is None and block is not None:
        targets = block.targets
    updates = {k: v for k, v in (("draws", n_paths), ("seed", seed)) if v is not None}
    if updates:
        from pydantic import ValidationError

        try:
            base = Scenario.model_validate({**scenario.model_dump(), **updates, "sweep": None})
        except ValidationError as err:
            names = {"draws": "n_paths"}
            raise ScenarioError(*[f"{names.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']} (got {e['input']!r})"
                                  for e in err.errors()]) from None
    else:
        base = scenario.model_copy(update={"sweep": None})
    try:
        location = resolve(base, path)
    except ScenarioError as err:
        raise ScenarioError(*[f"path: {p}" for p in err.problems]) from None
    if location.index is None and location.target_id not in dataset.targets.index:
        raise ScenarioError(f"path: {location.text!r}: unknown target {location.target_id!r}"
                            f"{_hint(location.target_id, dataset.targets.index)}")
    last = last_fit_year if last_fit_year is not None else base.last_observed_year(dataset)
    problems = base.problems(dataset, last) if check_scenario else []
    scenarios = []
    for v in values:
        try:
            varied = apply(base, location, v)
        except ScenarioError as err:
            problems += [f"values: {p}" for p in err.problems]
            continue
        if location.index is None:  # a threshold is checked against its target (a share in 0-100, ...)
            problems += [f"values: {p}" for p in varied.problems(dataset, last, where=f"value {_fmt(v)}")
                         if ": thresholds." in p]
        assert varied.fit_hash() == base.fit_hash()  # a sweep never changes the posterior
        scenarios.append(varied)
    if targets is None:
        targets = [location.target_id] if location.index is None else base.target_ids(dataset)
    else:
        targets = list(targets)
        if not targets:
            problems.append("targets: an empty list evaluates no target")
        tg = dataset.targets
        for tid in targets:
            if tid not in tg.index:
                problems.append(f"targets: unknown target {tid!r}{_hint(tid, tg.index)}")
    if problems:
        raise ScenarioError(*dict.fromkeys(problems))
    return SweepPlan(base, location, values, scenarios, targets)


SWEEP_KEYS = {"path": "vary", "values": "values", "targets": "targets"}


def sweep_problems(scenario: Scenario, dataset: data_mod.Dataset, last_fit_year: int,
                   where: str = "scenario") -> list[str]:
    """Problems of a scenario's ``sweep`` block, each ``where: sweep.<key>: ...`` (for ``validate`` and ``run``;
    the rest of the scenario is checked by :meth:`Scenario.problems` itself)."""
    try:
        plan_sweep(scenario, dataset=dataset, last_fit_year=last_fit_year, check_scenario=False)
    except ScenarioError as err:
        out = []
        for p in err.problems:
            key, _, msg = p.partition(": ")
            out.append(f"{where}: sweep.{SWEEP_KEYS.get(key, key)}: {msg}")
        return out
    return []


def run_plan(plan: SweepPlan, dataset: data_mod.Dataset, fit, progress=None) -> pd.DataFrame:
    """Simulate and evaluate every value of a checked sweep on one posterior ``fit`` (see :func:`sweep`)."""
    from .attainment import attainment_table
    from .simulate import simulate

    rows = []
    for k, (value, s) in enumerate(zip(plan.values, plan.scenarios)):
        if progress:
            progress(f"{plan.location.text} = {_fmt(value)} ({k + 1}/{len(plan.values)})")
        paths = simulate(fit, s.horizon, s.draws, s.seed, s.assumptions)
        table, _ = attainment_table(fit, paths, dataset, plan.targets, s.thresholds)
        table = table.reindex(columns=["target_id", "p_attained", "mcse"])
        rows.append(table.assign(path=plan.location.text, value=value))
    return pd.concat(rows, ignore_index=True)[COLUMNS]


def sweep(scenario: Scenario, path: str | None = None, values=None, dataset: data_mod.Dataset | None = None,
          targets: list[str] | None = None, n_paths: int | None = None, seed: int | None = None,
          fit=None, progress=None) -> pd.DataFrame:
    """P(attained) of targets as one forward assumption of a scenario varies, on one posterior.

    Parameters
    ----------
    scenario : Scenario
        The scenario whose assumption (or threshold) is varied; its vintage and ``fit`` block give the
        posterior, fitted or loaded from the cache **once** for every value.
    path : str, optional
        What to vary (syntax in the module docstring and docs/scenarios.md, *Sweeps*), e.g.
        ``"assumptions[0].value"``, ``"assumptions[gdp_deflator:growth_set].value"``,
        ``"thresholds.p14_gdp"``. Default: the scenario's ``sweep.vary``.
    values : sequence of float, optional
        The values, in the varied field's units (1 to 200). Each is validated by the scenario schema.
        Default: the scenario's ``sweep`` grid.
    dataset : Dataset, optional
        Default: the shipped data.
    targets : list of str, optional
        Target ids to evaluate. Default: ``sweep.targets``, else the scenario's targets (for a
        threshold sweep, that target).
    n_paths, seed : int, optional
        Paths per value and the seed shared by every value (common random numbers). Default: the
        scenario's ``draws`` and ``seed``, so a one-value sweep gives the same P as ``run``.
    fit : Fit, optional
        The scenario's posterior if already at hand (checked to be the scenario's).
    progress : callable, optional
        Called with a short message before each value.

    Returns
    -------
    DataFrame
        Tidy, one row per (value, target): ``path`` (as given), ``value``, ``target_id``, ``p_attained``
        (0–1; NaN for a target that is not evaluable) and ``mcse`` (its Monte Carlo standard error,
        :func:`model.mcse.share_mcse`).

    Raises
    ------
    ScenarioError
        Before any fitting: a bad path, value or target id, or a scenario `run` would refuse; one line
        each, starting with what is at fault (``path:``, ``values: value <v>: <field>:``, ``targets:``,
        ``scenario:``; see :func:`plan_sweep`).

    Examples
    --------
    >>> import model
    >>> s = model.Scenario(name="faster", draws=300, fit={"draws": 150, "tune": 150, "chains": 2, "seed": 11},
    ...                    assumptions=[model.Assumption(indicator="gdp", kind="growth_shift", value=0.0,
    ...                                                  years=[2024, 2025])])
    >>> curve = model.sweep(s, "assumptions[gdp:growth_shift].value", [-2, 0, 2], targets=["p14_gdp_growth"])
    >>> curve[["value", "target_id"]]
       value       target_id
    0   -2.0  p14_gdp_growth
    1    0.0  p14_gdp_growth
    2    2.0  p14_gdp_growth
    >>> p = curve["p_attained"].to_numpy()
    >>> bool(p[0] <= p[1] <= p[2])          # common random numbers: exactly monotone
    True
    >>> model.sweep(s, "assumptions[0].value", [-150])
    Traceback (most recent call last):
    ...
    model.scenario.ScenarioError: values: value -150: assumptions[0].value: a growth or level change must be > -100%
    """
    from . import pipeline

    dataset = dataset or data_mod.shipped()
    plan = plan_sweep(scenario, path, values, dataset, targets, n_paths, seed)
    if fit is None:
        fit = pipeline.scenario_fit(plan.scenario, dataset)
    else:
        pipeline.check_fit(fit, plan.scenario, dataset)
    return run_plan(plan, dataset, fit, progress)


MAX_CHARTED = 8
"""Targets drawn on a sweep's chart (one colour each); sweep.csv has every target."""


def sweep_chart(frame: pd.DataFrame, plan: SweepPlan, dataset: data_mod.Dataset, path, lang: str = "en"):
    """P(attained) against the varied value, one line per target with a ±2 MCSE band (the first
    :data:`MAX_CHARTED` evaluated targets); saved as PNG at ``path``.

    Drawn on its own :class:`matplotlib.figure.Figure` inside ``plt.rc_context`` (global rcParams untouched).
    """
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from .charts import A4_WIDTH_IN, DPI, OKABE_ITO, _unit, cjk_font
    from .report import target_label

    font = cjk_font() if lang == "zh" else None
    rc = {"font.family": [font, "DejaVu Sans"] if font else ["DejaVu Sans"], "axes.unicode_minus": False,
          "axes.spines.top": False, "axes.spines.right": False}
    tg, cat = dataset.targets, dataset.catalogue
    loc, s = plan.location, plan.scenario
    evaluated = [(tid, g.sort_values("value")) for tid, g in
                 frame.dropna(subset=["p_attained"]).groupby("target_id", sort=False)]
    shown = min(len(evaluated), MAX_CHARTED)
    below = 0.45 + 0.17 * shown  # inches under the axes: the legend (one line a target) and the note
    height = 4.2 + below
    with plt.rc_context(rc):
        fig = Figure(figsize=(A4_WIDTH_IN, height), dpi=DPI)
        ax = fig.subplots()
        drawn = 0
        for tid, g in evaluated[:MAX_CHARTED]:
            colour = OKABE_ITO[drawn % len(OKABE_ITO)]
            x, p, se = g["value"].to_numpy(float), g["p_attained"].to_numpy(float), g["mcse"].to_numpy(float)
            row = tg.loc[tid]
            name = cat.at[row["indicator"], "name_zh" if font else "name_en"]
            name = name if isinstance(name, str) and name else row["indicator"]
            when = f"{int(row['span_start'])}–{row['year']}" if pd.notna(row["span_start"]) else f"{row['year']}"
            goal = (f"{row['comparator']} threshold on the x axis" if loc.target_id == tid
                    else target_label({**row.to_dict(), "unit": _unit(row["unit"], "zh" if font else "en")}))
            label = f"{tid}: {name} ({row['kind']}, {when}) {goal}"
            ax.fill_between(x, np.clip(p - 2 * se, 0, 1), np.clip(p + 2 * se, 0, 1), color=colour, alpha=0.2,
                            linewidth=0)
            ax.plot(x, p, marker="o", markersize=3, color=colour, label=label)
            drawn += 1
        unit = _unit(loc.unit(dataset), "zh" if font else "en")
        ax.set_xlabel(f"{loc.text}" + (f" ({unit})" if unit else ""))
        ax.set_ylabel("P(attained)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.set_title(f"{s.name}: P(attained) as {loc.canonical} varies", fontsize=10, loc="left")
        note = (f"{s.draws} paths per value, seed {s.seed} (the same for every value); band: ±2 Monte Carlo "
                f"standard errors")
        if len(evaluated) > MAX_CHARTED:
            note += (f".\nThe first {MAX_CHARTED} of {len(evaluated)} evaluated targets are drawn; all are in "
                     "sweep.csv (choose them with --target).")
        fig.text(0.01, 0.08 / height, note, fontsize=7, color="#555555", va="bottom")
        if drawn:
            fig.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0.01, 0.4 / height), frameon=False)
        else:
            ax.text(0.5, 0.5, "no target evaluable", transform=ax.transAxes, ha="center")
        fig.tight_layout(rect=(0, below / height, 1, 1))
        fig.savefig(path, dpi=DPI)
    return path
