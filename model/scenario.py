"""Scenarios: YAML files that state a data vintage, forward assumptions and threshold overrides.

A scenario that changes only forward assumptions (growth, deflator, volatility, shocks,
thresholds, draws of the simulation) reuses the cached posterior of its vintage; one that
changes ``as_of``, ``data_through`` or the ``fit`` block refits. See ``docs/scenarios.md``
(generated from this schema by ``python run.py schema``).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import InputError


class ScenarioError(InputError):
    r"""A scenario file is invalid; the message is one line naming the file and the field.

    Examples
    --------
    >>> import model, pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "typo.yaml"
    >>> _ = path.write_text("name: typo\ndraw: 100\n", encoding="utf-8")
    >>> try:
    ...     model.load_scenario(path)
    ... except model.ScenarioError as err:
    ...     print(str(err).split(": ", 1)[1])                   # after the file name
    (top level): unknown key 'draw' (did you mean 'draws'?)
    """


class _Strict(BaseModel):
    """Rejects unknown keys with a 'did you mean' hint."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, values):
        if isinstance(values, dict):
            known = set(cls.model_fields)
            for key in values:
                if key not in known:
                    hint = difflib.get_close_matches(str(key), known, n=1)
                    raise ValueError(f"unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
        return values


class Assumption(_Strict):
    """One forward assumption on the simulated path of one or more indicators.

    The fields (``indicator``, ``kind``, ``value`` in points, % per year, a multiplier or % of the
    level, ``years``, ``sd``, ``probability``, ``why``) are those of ``assumptions[]`` in a scenario
    YAML; see ``docs/scenarios.md``. How each kind acts on the paths: :mod:`model.simulate`.

    Examples
    --------
    >>> import model
    >>> slower = model.Assumption(indicator=["gdp", "industry_va"], kind="growth_shift", value=-1.5,
    ...                           years=[2024, 2025], why="weaker coal demand")
    >>> slower.indicator_list(), slower.year_list(2024, 2025)
    (['gdp', 'industry_va'], [2024, 2025])
    >>> model.Assumption(indicator="gdp", kind="growth_set", value=-120)   # a fall of more than 100%
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for Assumption
      Value error, value: a growth or level change must be > -100% ...
    """

    indicator: str | list[str] = Field(description="Indicator id(s) from data/catalogue.csv (log-scale base indicators).")
    kind: Literal["growth_shift", "growth_set", "volatility", "level_shock"] = Field(
        description="growth_shift: add `value` points to simulated yearly growth; growth_set: yearly growth is "
                    "`value` % (± `sd`); volatility: multiply the innovation sd by `value`; level_shock: "
                    "change the level by `value` % from `years` on, with `probability`.")
    value: float = Field(description="Points (growth_shift), % per year (growth_set), multiplier (volatility) "
                                     "or % of the level (level_shock).")
    years: list[int] | None = Field(None, description="Years the assumption applies to (default: every simulated "
                                                      "year; for level_shock the first listed year).")
    sd: float = Field(0.0, ge=0, description="growth_set only: sd in points of noise around the set growth.")
    probability: float = Field(1.0, ge=0, le=1, description="level_shock only: probability that the shock happens.")
    why: str = Field("", description="The economic story behind the assumption (shown in the report).")

    @model_validator(mode="after")
    def _coherent(self):
        if self.kind == "volatility" and self.value < 0:
            raise ValueError("value: a volatility multiplier must be ≥ 0")
        if self.kind in ("growth_set", "growth_shift", "level_shock") and self.value <= -100:
            raise ValueError("value: a growth or level change must be > -100%")
        return self

    def indicator_list(self) -> list[str]:
        return [self.indicator] if isinstance(self.indicator, str) else list(self.indicator)

    def year_list(self, first: int, last: int) -> list[int]:
        if self.kind == "level_shock":
            return [min(self.years)] if self.years else [first]
        return list(self.years) if self.years else list(range(first, last + 1))


class FitConfig(_Strict):
    """Sampler settings of the fit (changing them refits)."""

    draws: int = Field(3000, gt=0, description="Posterior draws per chain (at most 1500 are stored, thinned).")
    tune: int = Field(2000, gt=0, description="Tuning steps per chain.")
    chains: int = Field(2, gt=0, le=8, description="Markov chains.")
    seed: int = Field(20210525, description="Sampler seed.")


class Scenario(_Strict):
    """A scenario: data vintage, forward assumptions and threshold overrides.

    The fields are the keys of a scenario YAML (``docs/scenarios.md``, generated from this class).
    Build one in code, or read a file with :func:`model.load_scenario`.

    Examples
    --------
    >>> import model
    >>> weak = model.Scenario(name="weak_coal", description="GDP 1 point slower in 2024-25",
    ...                       assumptions=[model.Assumption(indicator="gdp", kind="growth_shift", value=-1.0,
    ...                                                     years=[2024, 2025])])
    >>> weak.as_of, weak.horizon, weak.draws                  # defaults: the baseline's vintage and horizon
    ('2024-03-31', 2025, 4000)
    >>> weak.fit_hash() == model.load_scenario("scenarios/baseline.yaml").fit_hash()   # one shared posterior
    True
    >>> weak.model_copy(update={"as_of": "2021-05-25"}).fit_hash() == weak.fit_hash()  # another vintage refits
    False
    """

    name: str = Field(description="Short id; results go to results/<name>/.")
    description: str = Field("", description="The economic story of the scenario, in words.")
    extends: str | None = Field(None, description="Another scenario file (relative path) whose fields this one "
                                                  "inherits; lists of assumptions are appended, mappings merged.")
    as_of: str | None = Field("2024-03-31", description="Data vintage: use documents published by this date "
                                                       "(ISO date; null = all).")
    data_through: int | None = Field(None, description="Use only figures referring to years up to this one.")
    horizon: int = Field(2025, ge=2021, le=2035, description="Last simulated year.")
    draws: int = Field(4000, gt=0, description="Number of simulated paths.")
    seed: int = Field(1, description="Seed of the simulation.")
    targets: list[str] | Literal["all"] = Field("all", description="Target ids to evaluate, or 'all' (every "
                                                                   "target of the plans listed in `plans`).")
    plans: list[str] = Field(["p14", "a2024"], description="Plans whose targets 'all' means (p13, p14, a2021, "
                                                           "a2023, a2024).")
    thresholds: dict[str, float] = Field({}, description="Threshold for a target whose document gives none (e.g. "
                                                         "完成省下达目标), or an override, by target id.")
    assumptions: list[Assumption] = Field([], description="Forward assumptions, applied in order.")
    fit: FitConfig = Field(FitConfig(), description="Sampler settings of the posterior fit.")

    @field_validator("as_of")
    @classmethod
    def _iso_date(cls, value):
        if value is not None:
            import datetime

            datetime.date.fromisoformat(value)
        return value

    def fit_hash(self) -> str:
        """Hash of what determines the posterior (vintage and sampler): equal hashes share a fit."""
        key = {"as_of": self.as_of, "data_through": self.data_through, **self.fit.model_dump()}
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]

    def scenario_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()[:16]

    def check_against(self, dataset, last_fit_year: int | None = None, where: str = "scenario") -> None:
        """Check ids, years and thresholds against the data; raise :class:`ScenarioError` on the first problem."""
        from .data import formula_terms
        from .layout import DEFLATOR

        cat, tg = dataset.catalogue, dataset.targets
        if self.targets != "all":
            for i, tid in enumerate(self.targets):
                if tid not in tg.index:
                    raise ScenarioError(f"{where}: targets[{i}]: unknown target {tid!r}{_hint(tid, tg.index)}")
        for tid, value in self.thresholds.items():
            if tid not in tg.index:
                raise ScenarioError(f"{where}: thresholds.{tid}: unknown target{_hint(tid, tg.index)}")
            if tg.at[tid, "kind"] in ("level", "count", "cumulative") and value <= 0:
                raise ScenarioError(f"{where}: thresholds.{tid}: impossible threshold {value} for a positive level")
            if tg.at[tid, "kind"] == "share" and not 0 < value < 100:
                raise ScenarioError(f"{where}: thresholds.{tid}: impossible threshold {value} for a share in %")
        for i, a in enumerate(self.assumptions):
            for ind in a.indicator_list():
                if ind not in cat.index:
                    raise ScenarioError(f"{where}: assumptions[{i}].indicator: unknown indicator {ind!r}{_hint(ind, cat.index)}")
                if formula_terms(cat.at[ind, "links"]):
                    raise ScenarioError(f"{where}: assumptions[{i}].indicator: {ind} is a ratio of "
                                        f"{' / '.join(formula_terms(cat.at[ind, 'links']))}; set assumptions on those")
                if a.kind != "volatility" and cat.at[ind, "transform"] != "log" and ind != DEFLATOR:
                    raise ScenarioError(f"{where}: assumptions[{i}].indicator: {ind} is a share or index; "
                                        f"growth and level assumptions need a log-scale level")
            for y in a.years or []:
                low = (last_fit_year or 2020) + 1
                if not low <= y <= self.horizon:
                    raise ScenarioError(f"{where}: assumptions[{i}].years: {y} is outside the simulated years "
                                        f"{low}–{self.horizon}")
        if self.horizon < (last_fit_year or 0):
            raise ScenarioError(f"{where}: horizon: {self.horizon} is before the last observed year {last_fit_year}")

    def target_ids(self, dataset) -> list[str]:
        """Target ids this scenario evaluates, in registry order."""
        tg = dataset.targets
        if self.targets == "all":
            return [t for t in tg.index if tg.at[t, "plan"] in self.plans and tg.at[t, "year"] <= self.horizon
                    and not tg.at[t, "restates"]]  # a target restated by a second document is listed once
        return list(self.targets)


def _hint(name: str, choices) -> str:
    hint = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {hint[0]!r}?)" if hint else ""


def _merge(parent: dict, child: dict) -> dict:
    out = dict(parent)
    for key, value in child.items():
        if key == "assumptions":
            out[key] = list(parent.get(key, [])) + list(value or [])
        elif isinstance(value, dict) and isinstance(parent.get(key), dict):
            out[key] = {**parent[key], **value}
        else:
            out[key] = value
    return out


def _raw(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    if path in seen:
        raise ScenarioError(f"{path}: extends: circular inheritance")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: file not found") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ScenarioError(f"{path}: malformed YAML{at}: {getattr(err, 'problem', err)}") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario must be a YAML mapping of keys to values")
    if raw.get("extends"):
        parent = _raw((path.parent / raw["extends"]).resolve(), (*seen, path))
        parent.pop("name", None)
        parent.pop("description", None)
        raw = _merge(parent, raw)
    return raw


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML (following ``extends``).

    Parameters
    ----------
    path : str or Path
        The YAML file. ``extends`` is resolved relative to its folder: the child's keys replace the
        parent's, ``assumptions`` are appended, mappings (``thresholds``, ``fit``) merged.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        One line: file, field and what is wrong.

    Examples
    --------
    >>> import model
    >>> s = model.load_scenario("scenarios/slowdown.yaml")    # extends baseline.yaml
    >>> s.name, s.as_of, s.extends
    ('slowdown', '2024-03-31', 'baseline.yaml')
    >>> [(a.kind, a.value, a.years) for a in s.assumptions]
    [('growth_shift', -1.5, [2024, 2025]), ('growth_shift', -3.0, [2024, 2025])]
    """
    path = Path(path)
    raw = _raw(path.resolve())
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        e = err.errors()[0]
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        return _fail(path, loc, msg)


def _fail(path, loc, msg):
    raise ScenarioError(f"{path}: {loc}: {msg}")
