"""Scenarios: YAML files that state a data vintage, forward assumptions and threshold overrides.

A scenario that changes only forward assumptions (growth, deflator, volatility, shocks,
thresholds, draws of the simulation) reuses the cached posterior of its vintage; one that
changes ``as_of``, ``data_through`` or the ``fit`` block refits. See ``docs/scenarios.md``
(generated from this schema by ``python run.py schema``).
"""

from __future__ import annotations

import datetime
import difflib
import hashlib
import json
import math
import re
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

    Every problem found is in ``problems`` (one line each); the message joins them with ``"; "``.
    """

    def __init__(self, *problems: str):
        self.problems = list(problems)
        super().__init__("; ".join(problems))


MAX_DRAWS = 20_000
"""Cap on simulated paths: memory grows by about 0.3 MB a path (4000 ≈ 1.6 GB, 20000 ≈ 6 GB peak)."""
MAX_FIT_STEPS = 20_000
"""Cap on posterior draws and tuning steps per chain."""
MAX_SEED = 2**31 - 1
MAX_CHANGE = 1000.0
"""Largest growth (% or points per year) or level change (%) an assumption may state."""
MAX_VOLATILITY = 10.0
PLANS = ("p13", "p14", "a2021", "a2023", "a2024")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
"""A scenario name is a plain folder name: letters, digits, ``_`` and ``-``, no dots or slashes."""
FIRST_YEAR, LAST_YEAR = 2000, 2035


class _Strict(BaseModel):
    """Rejects unknown keys (``load_scenario`` adds a 'did you mean' hint) and non-finite numbers."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


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

    indicator: str | list[str] = Field(description="Indicator id(s) from data/catalogue.csv (log-scale base "
                                                   "indicators): one id or a non-empty list.")
    kind: Literal["growth_shift", "growth_set", "volatility", "level_shock"] = Field(
        description="growth_shift: add `value` points to simulated yearly growth; growth_set: yearly growth is "
                    "`value` % (± `sd`); volatility: multiply the innovation sd by `value`; level_shock: "
                    "change the level by `value` % from `years` on, with `probability`.")
    value: float = Field(description="Points (growth_shift), % per year (growth_set), multiplier (volatility) "
                                     "or % of the level (level_shock). A finite number: growth and level changes "
                                     f"in (-100, {MAX_CHANGE:g}], a volatility multiplier in [0, {MAX_VOLATILITY:g}] "
                                     "(0 removes the noise).")
    years: list[int] | None = Field(None, min_length=1,
                                    description="Years the assumption applies to (default: every simulated "
                                                "year; for level_shock the first listed year); each after the last "
                                                "observed year and at most `horizon`.")
    sd: float = Field(0.0, ge=0, le=MAX_CHANGE, description="growth_set only: sd in points of noise around the set "
                                                            f"growth (finite, 0 to {MAX_CHANGE:g}).")
    probability: float = Field(1.0, ge=0, le=1, description="level_shock only: probability that the shock happens.")
    why: str = Field("", description="The economic story behind the assumption (shown in the report).")

    @field_validator("indicator")
    @classmethod
    def _some_indicator(cls, value):
        if isinstance(value, list) and not value:
            raise ValueError("an empty list names no indicator; give an id or a list of ids")
        return value

    @model_validator(mode="after")
    def _coherent(self):
        if self.kind == "volatility" and not 0 <= self.value <= MAX_VOLATILITY:
            raise ValueError(f"value: a volatility multiplier must be between 0 and {MAX_VOLATILITY:g}, "
                             f"not {self.value:g}")
        if self.kind in ("growth_set", "growth_shift", "level_shock") and self.value <= -100:
            raise ValueError("value: a growth or level change must be > -100%")
        if self.kind in ("growth_set", "growth_shift", "level_shock") and self.value > MAX_CHANGE:
            raise ValueError(f"value: a growth or level change must be at most {MAX_CHANGE:g}%, not {self.value:g}")
        return self

    def indicator_list(self) -> list[str]:
        return [self.indicator] if isinstance(self.indicator, str) else list(self.indicator)

    def year_list(self, first: int, last: int) -> list[int]:
        if self.kind == "level_shock":
            return [min(self.years)] if self.years else [first]
        return list(self.years) if self.years else list(range(first, last + 1))


class FitConfig(_Strict):
    """Sampler settings of the fit (changing them refits)."""

    draws: int = Field(2500, ge=1, le=MAX_FIT_STEPS, description="Posterior draws per chain (at most 1000 are "
                                                                 f"stored over all chains, thinned); 1 to {MAX_FIT_STEPS}.")
    tune: int = Field(1000, ge=1, le=MAX_FIT_STEPS, description=f"Tuning steps per chain; 1 to {MAX_FIT_STEPS}.")
    chains: int = Field(2, ge=1, le=8, description="Markov chains; 1 to 8.")
    seed: int = Field(20210525, ge=0, le=MAX_SEED, description=f"Sampler seed; 0 to {MAX_SEED}.")


MAX_SWEEP_VALUES = 200
"""Most values one sweep evaluates (each is a full simulation: about a second with 4000 paths)."""


def linear_grid(start: float, stop: float, n: int) -> list[float]:
    """``n`` evenly spaced values from ``start`` to ``stop`` (both included; ``n = 1``: ``start`` only),
    rounded to 12 significant digits so that 0.1 steps print as 0.1, 0.2, ..."""
    if n == 1:
        return [float(start)]
    step = (stop - start) / (n - 1)
    return [float(f"{start + i * step:.12g}") for i in range(n)]


class SweepConfig(_Strict):
    """A sweep: the scenario run over a grid of values of one forward assumption (``run.py sweep``).

    The posterior is fitted (or loaded) once and every value is simulated with the same seed (common
    random numbers). See docs/scenarios.md, *Sweeps*, for the path syntax of ``vary``.
    """

    vary: str = Field(description="What to vary: a path into this scenario, e.g. `assumptions[0].value`, "
                                  "`assumptions[gdp_deflator:growth_set].value` (the assumption of that indicator "
                                  "and kind), `assumptions[-1].sd` or `thresholds.p14_gdp` (docs/scenarios.md, "
                                  "Sweeps). Only forward assumptions and thresholds: never the vintage or the fit.")
    values: list[float] | None = Field(None, min_length=1, max_length=MAX_SWEEP_VALUES,
                                       description=f"The values, finite numbers (1 to {MAX_SWEEP_VALUES}); or give "
                                                   "`start`, `stop` and `n` instead.")
    start: float | None = Field(None, description="First value of an evenly spaced grid (with `stop` and `n`).")
    stop: float | None = Field(None, description="Last value of the grid.")
    n: int | None = Field(None, ge=1, le=MAX_SWEEP_VALUES,
                          description=f"Number of grid values, 1 to {MAX_SWEEP_VALUES} (1: `start` only).")
    targets: list[str] | None = Field(None, min_length=1,
                                      description="Target ids of the sweep's table and chart (default: the "
                                                  "scenario's `targets`; for a threshold, its target).")

    @model_validator(mode="after")
    def _one_grid(self):
        grid = {"start": self.start, "stop": self.stop, "n": self.n}
        if self.values is not None and any(v is not None for v in grid.values()):
            raise ValueError("values: give either `values` or `start`, `stop` and `n`, not both")
        if self.values is None and any(v is None for v in grid.values()):
            missing = [k for k, v in grid.items() if v is None]
            raise ValueError(f"{missing[0]}: give `values`, or all of `start`, `stop` and `n` "
                             f"(missing: {', '.join(missing)})")
        return self

    def grid(self) -> list[float]:
        """The values of the sweep, in order."""
        return list(self.values) if self.values is not None else linear_grid(self.start, self.stop, self.n)


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

    name: str = Field(description="Short id; results go to results/<name>/. A plain folder name: letters, digits, "
                                  "`_` and `-`, starting with a letter or digit (no dots, slashes or spaces).")
    description: str = Field("", description="The economic story of the scenario, in words.")
    extends: str | None = Field(None, description="Another scenario file (path relative to this one's folder) whose "
                                                  "fields this one inherits; lists of assumptions are appended, "
                                                  "mappings merged.")
    as_of: str | None = Field("2024-03-31", description="Data vintage: use documents published by this date "
                                                       f"(ISO date YYYY-MM-DD, years {FIRST_YEAR}–2100, quoted or not; "
                                                       "null = all).")
    data_through: int | None = Field(None, ge=FIRST_YEAR, le=LAST_YEAR,
                                     description="Use only figures referring to years up to this one "
                                                 f"({FIRST_YEAR}–{LAST_YEAR}; null = all).")
    horizon: int = Field(2025, ge=2021, le=LAST_YEAR, description="Last simulated year (2021–2035, and not before "
                                                                  "the last observed year of the vintage).")
    draws: int = Field(4000, ge=1, le=MAX_DRAWS, description=f"Number of simulated paths; 1 to {MAX_DRAWS} (memory "
                                                             "grows by about 0.3 MB a path).")
    seed: int = Field(1, ge=0, le=MAX_SEED, description=f"Seed of the simulation; 0 to {MAX_SEED}.")
    targets: list[str] | Literal["all"] = Field("all", description="Target ids to evaluate (a non-empty list), or "
                                                                   "'all' (every target of the plans listed in "
                                                                   "`plans`).")
    plans: list[Literal[PLANS]] = Field(["p14", "a2024"], min_length=1,
                                        description="Plans whose targets 'all' means: a non-empty list of "
                                                    f"{', '.join(PLANS)}.")
    thresholds: dict[str, float] = Field({}, description="Threshold for a target whose document gives none (e.g. "
                                                         "完成省下达目标), or an override, by target id (finite).")
    assumptions: list[Assumption] = Field([], description="Forward assumptions, applied in order.")
    fit: FitConfig = Field(FitConfig(), description="Sampler settings of the posterior fit.")
    sweep: SweepConfig | None = Field(None, description="Optional: vary one assumption over a grid with `run.py "
                                                        "sweep` (see `sweep` below). `run` ignores it, and it is "
                                                        "not part of the scenario's hash.")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value):
        if not re.fullmatch(NAME_PATTERN, value) or len(value) > 100:
            raise ValueError(f"{value!r} is not a plain name (it names the folder results/<name>/): use letters, "
                             "digits, _ and -, starting with a letter or digit, at most 100 characters; no dots, "
                             "slashes or spaces")
        return value

    @field_validator("as_of", mode="before")
    @classmethod
    def _iso_date(cls, value):
        if value is None:
            return None
        if isinstance(value, datetime.datetime):
            raise ValueError(f"{value} has a time of day; give a date YYYY-MM-DD")
        if isinstance(value, datetime.date):  # an unquoted YAML date
            value = value.isoformat()
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not a date; give an ISO date YYYY-MM-DD (or null for every document)")
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError
            day = datetime.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a valid date; give an ISO date YYYY-MM-DD") from None
        if not FIRST_YEAR <= day.year <= 2100:
            raise ValueError(f"{value} is outside the years {FIRST_YEAR}–2100")
        return value

    @field_validator("targets", mode="before")
    @classmethod
    def _some_targets(cls, value):
        if isinstance(value, list) and not value:
            raise ValueError("an empty list evaluates no target; list target ids or write 'all'")
        if isinstance(value, str) and value != "all":
            raise ValueError(f"write a list of target ids, e.g. [{value}], or 'all'")
        return value

    def fit_hash(self) -> str:
        """Hash of what determines the posterior (vintage and sampler): equal hashes share a fit."""
        key = {"as_of": self.as_of, "data_through": self.data_through, **self.fit.model_dump()}
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]

    def scenario_hash(self) -> str:
        """Hash of what determines a run's results: every field but ``sweep`` (which only `run.py sweep` reads)."""
        return hashlib.sha256(json.dumps(self.model_dump(exclude={"sweep"}), sort_keys=True).encode()).hexdigest()[:16]

    def last_observed_year(self, dataset) -> int:
        """The last year with a figure in this scenario's vintage: the fit's last year, known without fitting."""
        from .layout import build_layout

        return int(build_layout(dataset.vintage(self.as_of, self.data_through)).years[-1])

    def problems(self, dataset, last_fit_year: int | None = None, where: str = "scenario") -> list[str]:
        """Every problem of this scenario against the data, each one line ``where: field: what is wrong``.

        ``last_fit_year`` is the fit's last observed year; by default it is derived from the vintage
        (:meth:`last_observed_year`), so a check without fitting is the same as the one after it.
        """
        from .data import formula_terms
        from .layout import DEFLATOR

        cat, tg = dataset.catalogue, dataset.targets
        out = []
        if dataset.vintage(self.as_of, self.data_through).observations.empty:
            field = "data_through" if self.data_through is not None else "as_of"
            return [f"{where}: {field}: no figure in the data is published by {self.as_of or 'any date'} and refers "
                    f"to a year up to {self.data_through or 'any year'}; nothing to fit"]
        if last_fit_year is None:
            last_fit_year = self.last_observed_year(dataset)
        if self.targets != "all":
            for i, tid in enumerate(self.targets):
                if tid not in tg.index:
                    out.append(f"{where}: targets[{i}]: unknown target {tid!r}{_hint(tid, tg.index)}")
        for tid, value in self.thresholds.items():
            if tid not in tg.index:
                out.append(f"{where}: thresholds.{tid}: unknown target{_hint(tid, tg.index)}")
            elif tg.at[tid, "kind"] in ("level", "count", "cumulative") and value <= 0:
                out.append(f"{where}: thresholds.{tid}: impossible threshold {value} for a positive level")
            elif tg.at[tid, "kind"] == "share" and not 0 < value < 100:
                out.append(f"{where}: thresholds.{tid}: impossible threshold {value} for a share in %")
        for i, a in enumerate(self.assumptions):
            for ind in a.indicator_list():
                if ind not in cat.index:
                    out.append(f"{where}: assumptions[{i}].indicator: unknown indicator {ind!r}{_hint(ind, cat.index)}")
                elif formula_terms(cat.at[ind, "links"]):
                    out.append(f"{where}: assumptions[{i}].indicator: {ind} is a ratio of "
                               f"{' / '.join(formula_terms(cat.at[ind, 'links']))}; set assumptions on those")
                elif a.kind != "volatility" and cat.at[ind, "transform"] != "log" and ind != DEFLATOR:
                    out.append(f"{where}: assumptions[{i}].indicator: {ind} is a share or index; "
                               f"growth and level assumptions need a log-scale level")
            low = last_fit_year + 1
            for y in a.years or []:
                if not low <= y <= self.horizon:
                    out.append(f"{where}: assumptions[{i}].years: {y} is outside the simulated years "
                               f"{low}–{self.horizon}")
        if self.sweep is not None:
            from .sweep import sweep_problems

            out += sweep_problems(self, dataset, last_fit_year, where)
        if self.horizon < last_fit_year:
            out.append(f"{where}: horizon: {self.horizon} is before the last observed year {last_fit_year} of the "
                       f"vintage (as_of {self.as_of}); use a horizon from {last_fit_year} to {LAST_YEAR}")
        elif self.targets == "all" and not self.target_ids(dataset):
            out.append(f"{where}: plans: no target of {', '.join(self.plans)} falls in the years up to the horizon "
                       f"{self.horizon}; nothing to evaluate")
        return out

    def check_against(self, dataset, last_fit_year: int | None = None, where: str = "scenario") -> None:
        """Check ids, years and thresholds against the data; raise one :class:`ScenarioError` listing every
        problem (``; ``-separated, see :meth:`problems`)."""
        found = self.problems(dataset, last_fit_year, where)
        if found:
            raise ScenarioError(*found)

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
        if key == "assumptions" and isinstance(value, list) and isinstance(parent.get(key), list):
            out[key] = parent[key] + value
        elif isinstance(value, dict) and isinstance(parent.get(key), dict):
            out[key] = {**parent[key], **value}
        else:
            out[key] = value  # a wrong type is left for the schema to report
    return out


class _Loader(yaml.SafeLoader):
    """YAML without timestamps: an unquoted date stays the text the user wrote (``as_of`` checks it), so
    ``2024-13-45`` is reported as a bad date instead of failing inside the parser. A key given twice in
    one mapping is an error (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value if isinstance(node, yaml.MappingNode) else ():
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key_node.value!r}",
                                                            key_node.start_mark)
                seen.add(key_node.value)
        return super().construct_mapping(node, deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _raw(path: Path, seen: tuple[Path, ...] = (), origin: dict | None = None) -> dict:
    """The YAML mapping of ``path`` merged over the one it ``extends``; messages name ``path`` as given.

    ``origin`` (filled if given) maps each key, ``(key, subkey)`` of a mapping and ``("assumptions", i)``
    to the file that set it."""
    key = path.resolve()
    if key in seen:
        raise ScenarioError(f"{path}: extends: circular inheritance")
    if path.is_dir():
        raise ScenarioError(f"{path}: is a folder, not a scenario file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: file not found") from None
    except UnicodeDecodeError as err:
        raise ScenarioError(f"{path}: not UTF-8 text (byte {err.start}: {err.object[err.start:err.start + 1]!r}); "
                            f"save the file as UTF-8") from None
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read ({err.strerror or err})") from None
    try:
        raw = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ScenarioError(f"{path}: malformed YAML{at}: {getattr(err, 'problem', None) or err}") from None
    except (ValueError, TypeError, RecursionError) as err:  # a value the YAML constructors cannot build
        raise ScenarioError(f"{path}: malformed YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario must be a YAML mapping of keys to values")
    if "extends" in raw and raw["extends"] is not None:
        parent_name = raw["extends"]
        if not isinstance(parent_name, str) or not parent_name.strip():
            raise ScenarioError(f"{path}: extends: must name a scenario file (a relative path in quotes if needed), "
                                f"not {parent_name!r}")
        parent_path = path.parent / parent_name
        if parent_path.is_dir():
            raise ScenarioError(f"{path}: extends: {parent_name} is a folder, not a scenario file")
        if not parent_path.is_file():
            raise ScenarioError(f"{path}: extends: {parent_name}: file not found (looked for {parent_path})")
        inherited: dict = {}
        parent = _raw(parent_path, (*seen, key), inherited)
        parent.pop("name", None)
        parent.pop("description", None)
        own, raw = raw, _merge(parent, raw)
    else:
        own, inherited, parent = raw, {}, {}
    if origin is not None:
        origin.update(inherited)
        for name, value in own.items():
            origin[name] = path
            if isinstance(value, dict):
                origin.update({(name, sub): path for sub in value})
        first = len(parent["assumptions"]) if isinstance(parent.get("assumptions"), list) and \
            isinstance(own.get("assumptions"), list) else 0
        if isinstance(own.get("assumptions"), list):
            origin.update({("assumptions", first + i): path for i in range(len(own["assumptions"]))})
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
    origin: dict = {}
    raw = _raw(path, origin=origin)
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        raise ScenarioError(*error_lines(err, path, raw, origin)) from None


_FIELDS = {name for m in (Scenario, Assumption, FitConfig, SweepConfig) for name in m.model_fields}


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The schema class that holds the key at ``loc`` (for 'did you mean' hints on unknown keys)."""
    model = Scenario
    for part in loc:
        if model is Scenario and part == "fit":
            model = FitConfig
        elif model is Scenario and part == "sweep":
            model = SweepConfig
        elif model is Scenario and part == "assumptions":
            model = list
        elif model is list and isinstance(part, int):
            model = Assumption
        else:
            return None
    return model if model is not list else None


def error_lines(err: ValidationError, path, raw: dict | None = None, origin: dict | None = None,
                prefix: str = "") -> list[str]:
    """Every error of a pydantic validation as one line ``file: field: message`` (``field`` as in the YAML,
    e.g. ``assumptions[0].value``; an unknown key gets a 'did you mean' hint; a value inherited through
    ``extends`` names the file it came from)."""
    lines = []
    for e in err.errors():
        loc, msg = tuple(e["loc"]), e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            model = _model_at(loc[:-1])
            known = list(model.model_fields) if model else []
            key = loc[-1]
            msg = f"unknown key {key!r}" + _hint(str(key), known)
            loc = loc[:-1]
        else:
            head = re.match(r"([a-z_]+): (.*)", msg)
            if head and head.group(1) in _FIELDS:  # a model check naming its field: fold it into the location
                loc, msg = (*loc, head.group(1)), head.group(2)
            value = e.get("input")
            if e["type"] != "value_error" and isinstance(value, (int, float, str)) and not isinstance(value, bool):
                shown = repr(value)
                msg += f" (got {shown if len(shown) <= 40 else shown[:37] + '...'})"
        field = prefix + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        source = path
        if origin and loc:
            source = origin.get(tuple(loc[:2]), origin.get(loc[0], path)) if len(loc) > 1 else origin.get(loc[0], path)
        where = f"{path}" if source == path else f"{path} (inherited from {source})"
        lines.append(f"{where}: {field or '(top level)'}: {msg}")
    return lines
