"""The curated dataset: observations, targets and the indicator catalogue, with provenance.

Three CSV tables under ``data/`` (see ``docs/data.md``):

* ``catalogue.csv``   one row per indicator id: names, unit, natural transform, prior class, links.
* ``observations.csv`` one row per historical figure quoted in a seed document.
* ``targets.csv``     one row per plan target (13th plan, 14th plan, annual targets).

Every row cites its seed file, line and an exact quote, and carries the publication date of
its document (the data *vintage*). Loading validates everything at once and raises a single
:class:`DataError` listing all problems with file and row, so a broken file is fixed in one pass.
"""

from __future__ import annotations

import csv
import datetime
import functools
import io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import InputError

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
SEEDS_DIR = Path(os.environ.get("CHANGZHI_SEEDS", ROOT.parent / "shared" / "seeds"))

KINDS = ("level", "count", "share", "yoy_growth", "avg_growth", "cum_growth", "pp_change", "cumulative")
SPAN_KINDS = ("avg_growth", "cum_growth", "pp_change", "cumulative")
GROWTH_KINDS = ("yoy_growth", "avg_growth", "cum_growth")
LEVEL_KINDS = ("level", "count", "cumulative")
COMPARATORS = ("=", "about", ">=", ">", "<=", "<", "range")
PRICE_BASES = ("real", "nominal", "n.a.")
TRANSFORMS = ("log", "logit", "identity")
ATTRIBUTES = ("预期性", "约束性", "力争")
YEAR_RANGE = (1949, 2035)
"""Years a row may refer to: the founding of the PRC to the scenario horizon cap (``Scenario.horizon`` ≤ 2035)."""
PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
"""A number as printed: digits with an optional sign and decimal point (its decimals set its precision)."""
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

CATALOGUE_COLUMNS = ["indicator", "name_zh", "name_en", "unit", "description", "transform", "class", "links", "deflator"]
OBSERVATION_COLUMNS = ["indicator", "year", "span_start", "value", "unit", "kind", "comparator", "price_basis",
                       "source", "line", "quote", "published", "note"]
TARGET_COLUMNS = ["target_id", "indicator", "year", "span_start", "base_year", "base_value", "comparator", "threshold",
                  "threshold_high", "unit", "kind", "price_basis", "attribute", "plan", "source", "line", "quote",
                  "published", "note", "restates"]


class DataError(InputError):
    r"""A data file failed validation; ``problems`` lists every problem found (file, row, what).

    Attributes
    ----------
    problems : list of str
        One line per problem: ``"<file> row <n>: <what is wrong>"`` (row numbers count the header as 1).

    Examples
    --------
    >>> import model, pathlib, tempfile
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "extra.csv"
    >>> _ = bad.write_text("indicator,year,span_start,value,unit,kind,comparator,price_basis,source,line,quote,"
    ...                    "published,note\n"
    ...                    "gpd,2024,,5.0,%,yoy_growth,=,real,my notes,,,2025-03-31,\n"
    ...                    "gdp,2024,,five,%,yoy_growth,=,real,my notes,,,2025-03-31,\n", encoding="utf-8")
    >>> try:
    ...     model.load_data(extra=[bad])
    ... except model.DataError as err:
    ...     print("\n".join(err.problems))
    extra.csv row 2: unknown indicator 'gpd' (not in catalogue.csv)
    extra.csv row 3: value 'five' is not a number
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"{len(problems)} data problem(s):\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Dataset:
    """The three validated tables. ``observations`` may be a vintage (see :meth:`vintage`).

    Attributes
    ----------
    catalogue : DataFrame
        One row per indicator, indexed by id: names, ``unit`` of the level, ``transform``, prior ``class``,
        ``links`` (ratio formulas), ``deflator``.
    observations : DataFrame
        One row per historical figure: the columns of ``data/observations.csv`` (``published`` as a
        Timestamp) plus ``half_unit`` (rounding precision, in the figure's unit) and ``file`` (its CSV).
    targets : DataFrame
        One row per plan target, indexed by ``target_id``.
    extra_files : tuple of str
        Absolute paths of the user's observation files (``load(extra=...)``); a run's manifest records
        them with their checksums so ``report`` can rebuild it on the same data.

    Examples
    --------
    >>> import model
    >>> ds = model.load_data()
    >>> ds.catalogue.at["gdp", "unit"], ds.catalogue.at["sei_share_gdp", "links"]
    ('亿元', '= sei_va / gdp')
    >>> ds.targets.loc[["p14_gdp", "p14_gdp_growth"], ["year", "kind", "comparator", "threshold", "unit"]]
                    year        kind comparator  threshold unit
    target_id
    p14_gdp         2025       level         >=     2800.0   亿元
    p14_gdp_growth  2025  avg_growth          >        8.0    %
    >>> early = ds.vintage("2021-05-25")          # the figures published by the plan's release
    >>> str(early.observations["published"].max().date()), int(early.observations["year"].max())
    ('2021-05-25', 2020)
    """

    catalogue: pd.DataFrame
    observations: pd.DataFrame
    targets: pd.DataFrame
    extra_files: tuple[str, ...] = ()

    def vintage(self, as_of: str | None = None, data_through: int | None = None) -> "Dataset":
        """Observations published by ``as_of`` (ISO date ``YYYY-MM-DD``, else :class:`InputError`) that refer
        to years up to ``data_through``."""
        obs = self.observations
        if as_of is not None:
            if not isinstance(as_of, (datetime.date, pd.Timestamp)):
                as_of = iso_date(as_of, "as_of")
            obs = obs[obs["published"] <= pd.Timestamp(as_of)]
        if data_through is not None:
            obs = obs[obs["year"] <= data_through]
        return Dataset(self.catalogue, obs.reset_index(drop=True), self.targets, self.extra_files)


def _ws(text: str) -> str:
    return re.sub(r"\s+", "", str(text))


@functools.lru_cache(maxsize=None)
def seed_lines(name: str) -> tuple[str, ...] | None:
    """Lines of a seed document (1-based access via ``[line - 1]``), or None if it is not there."""
    path = SEEDS_DIR / name
    if not path.is_file():
        return None
    return tuple(path.read_text(encoding="utf-8").split("\n"))


def _read_csv(path: Path, columns: list[str], problems: list[str], keep_other: bool = False) -> pd.DataFrame | None:
    """Read a CSV of strings (UTF-8, one header row), appending every problem found to ``problems``.

    The frame's index is the row number minus 2 (so ``i + 2`` is the row counting the header as 1).
    A folder, a missing, unreadable, empty or non-UTF-8 file, or a file with only a header is a
    problem naming the file; a row with more or fewer fields than the header is a problem naming
    the row (the other rows are still read and checked). Returns None when nothing can be checked.
    ``keep_other`` keeps columns beyond ``columns`` (otherwise only ``columns``, in that order).
    """
    path = Path(path)
    if path.is_dir():
        problems.append(f"{path}: is a folder, not a CSV file")
        return None
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        problems.append(f"{path}: file not found")
        return None
    except OSError as err:
        problems.append(f"{path}: cannot be read ({err.strerror or err})")
        return None
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark (Excel's "CSV UTF-8") is allowed
    except UnicodeDecodeError as err:
        problems.append(f"{path}: not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start}); "
                        "save the file as UTF-8 CSV")
        return None
    if not text.strip():
        problems.append(f"{path}: file is empty (expected a header row: {','.join(columns)})")
        return None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []  # (row number of the record's first line, fields)
    try:
        start = 1
        for fields in reader:
            if fields and any(f.strip() for f in fields) or len(fields) > 1:
                records.append((start, fields))
            start = reader.line_num + 1
    except csv.Error as err:
        problems.append(f"{path} row {start}: not valid CSV ({err})")
        return None
    if not records:
        problems.append(f"{path}: no header row (expected: {','.join(columns)})")
        return None
    header = [h.strip() for h in records[0][1]]
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        problems.append(f"{path}: column(s) {', '.join(duplicated)} appear more than once in the header")
        return None
    missing = [c for c in columns if c not in header]
    if missing:
        problems.append(f"{path}: missing column(s) {', '.join(missing)}")
        return None
    body = []
    for row, fields in records[1:]:
        if len(fields) != len(header):
            problems.append(f"{path.name} row {row}: {len(fields)} fields but the header has {len(header)} "
                            "(a value containing a comma must be in double quotes)")
        else:
            body.append((row, fields))
    if len(records) == 1:
        problems.append(f"{path}: has a header but no data rows")
        return None
    frame = pd.DataFrame([f for _, f in body], columns=header, index=[r - 2 for r, _ in body], dtype=str)
    keep = columns + [c for c in header if c not in columns] if keep_other else columns
    return frame[keep].apply(lambda s: s.str.strip())


def iso_date(text, what: str = "as_of") -> str:
    """``text`` if it is an ISO date ``YYYY-MM-DD`` (a real day), else :class:`InputError` naming ``what``.

    >>> iso_date("2024-03-31")
    '2024-03-31'
    >>> iso_date("01/04/2024", "--as-of")
    Traceback (most recent call last):
    model.errors.InputError: --as-of: '01/04/2024' is not an ISO date YYYY-MM-DD (e.g. 2024-03-31)
    """
    problem = _date_problem(text)
    if problem:
        raise InputError(f"{what}: {text!r} {problem}")
    return text


def _date_problem(text) -> str | None:
    if not isinstance(text, str) or not ISO_DATE.fullmatch(text):
        return "is not an ISO date YYYY-MM-DD (e.g. 2024-03-31)"
    try:
        datetime.date.fromisoformat(text)
    except ValueError as err:
        return f"is not an ISO date YYYY-MM-DD ({err})"
    return None


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and PLAIN_NUMBER.fullmatch(text) else None


def value_range(kind: str, transform: str | None = None) -> tuple[float, float, bool, str] | None:
    """Values a figure of ``kind`` can take: ``(low, high, low_is_open, why)``; None for an unknown kind.

    Levels, counts and totals are not negative (a printed 0, e.g. no deaths, reads as below half a
    unit); shares in % — and levels of indicators that are shares (``logit`` transform) — lie in
    [0, 100]; a growth rate is above −100 % (a fall of 100 % leaves nothing); a change of a share
    lies in [−100, 100] percentage points.

    >>> value_range("share"), value_range("yoy_growth")[:3]
    ((0.0, 100.0, False, 'a share is a percentage of a whole'), (-100.0, inf, True))
    """
    if kind == "share" or kind == "level" and transform == "logit":
        return 0.0, 100.0, False, "a share is a percentage of a whole"
    if kind in LEVEL_KINDS:
        return 0.0, math.inf, False, "a level, count or total is never negative"
    if kind in GROWTH_KINDS:
        return -100.0, math.inf, True, "a fall of 100% or more would leave nothing"
    if kind == "pp_change":
        return -100.0, 100.0, False, "a change of a share in % cannot exceed 100 points"
    return None


def _check_value(where: str, field: str, text: str, row: pd.Series, catalogue: pd.DataFrame, problems: list[str],
                 required: bool = True) -> None:
    """A plain finite number, possible for the row's kind (see :func:`value_range`)."""
    if text == "":
        if required:
            problems.append(f"{where}: {field} is empty")
        return
    try:
        value = float(text)
    except ValueError:
        problems.append(f"{where}: {field} {text!r} is not a number")
        return
    if not math.isfinite(value):
        problems.append(f"{where}: {field} {text!r} is not a finite number")
        return
    if not PLAIN_NUMBER.fullmatch(text):
        problems.append(f"{where}: {field} {text!r} is not a plain number as printed (digits with an optional sign "
                        "and decimal point, e.g. 5.1 or -3.2; no exponent, separators or %)")
        return
    kind, indicator = row["kind"], row["indicator"]
    transform = catalogue.at[indicator, "transform"] if indicator in catalogue.index else None
    allowed = value_range(kind, transform)
    if allowed is None:
        return
    low, high, open_low, why = allowed
    if value < low or (open_low and value == low) or value > high:
        bound = f"> {low:g}" if open_low else f"≥ {low:g}"
        if math.isfinite(high):
            bound = f"between {low:g} and {high:g}"
        what = f"{kind} of {indicator} (a share)" if kind == "level" and transform == "logit" else kind
        problems.append(f"{where}: {field} {text} is impossible for a {what}: it must be {bound} ({why})")


def _check_year(where: str, field: str, text: str, problems: list[str], required: bool = True,
                years: tuple[int, int] = YEAR_RANGE, why: str = "") -> None:
    if text == "":
        if required:
            problems.append(f"{where}: {field} is empty")
        return
    if not re.fullmatch(r"\d{4}", text) or not years[0] <= int(text) <= years[1]:
        problems.append(f"{where}: {field} {text!r} is not a year in {years[0]}–{years[1]}{why}")


def _check_figure(where: str, row: pd.Series, catalogue: pd.DataFrame, problems: list[str],
                  years: tuple[int, int] = YEAR_RANGE, why: str = "", unit_required: bool = True) -> None:
    """What a figure is: indicator, kind, unit, price basis, year and span (observations, targets, predict rows)."""
    indicator = row["indicator"]
    if indicator not in catalogue.index:
        problems.append(f"{where}: unknown indicator {indicator!r} (not in catalogue.csv)")
    kind = row["kind"]
    if kind not in KINDS:
        problems.append(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    elif indicator in catalogue.index and (unit_required or row.get("unit", "")):
        expected = expected_unit(kind, catalogue.at[indicator, "unit"])
        if row["unit"] != expected:
            problems.append(f"{where}: unit {row['unit']!r} does not match {expected!r} expected for {kind} of {indicator}")
    if row["price_basis"] not in PRICE_BASES:
        problems.append(f"{where}: price_basis {row['price_basis']!r} is not one of {', '.join(PRICE_BASES)}")
    _check_year(where, "year", row["year"], problems, years=years, why=why)
    span = row.get("span_start", "")
    _check_year(where, "span_start", span, problems, required=kind in SPAN_KINDS, years=years, why=why)
    if span and kind in KINDS and kind not in SPAN_KINDS:
        problems.append(f"{where}: span_start {span!r} given for kind {kind}, a single year "
                        f"(span_start is only for {', '.join(SPAN_KINDS)})")
    if span and row["year"].isdigit() and span.isdigit() and int(span) > int(row["year"]):
        problems.append(f"{where}: span_start {span} is after year {row['year']}")


def _check_published(where: str, text: str, problems: list[str], required: bool = True) -> None:
    if not text:
        if required:
            problems.append(f"{where}: published is empty (the publication date decides which vintages use the row)")
        return
    problem = _date_problem(text)
    if problem:
        problems.append(f"{where}: published {text!r} {problem}")


def _check_row_common(where: str, row: pd.Series, catalogue: pd.DataFrame, problems: list[str]) -> None:
    """Checks shared by observation and target rows: the figure, its publication date, provenance."""
    _check_figure(where, row, catalogue, problems)
    _check_published(where, row["published"], problems)
    _check_provenance(where, row, problems)


def _check_provenance(where: str, row: pd.Series, problems: list[str]) -> None:
    """A row citing a seed must quote its cited line verbatim; user rows cite a free-text source."""
    source = row["source"]
    if not source:
        problems.append(f"{where}: source is empty")
        return
    if not re.fullmatch(r"\d{3}_[0-9a-f]{16}\.txt", source):
        if row["line"] and not re.fullmatch(r"[1-9]\d*", row["line"]):
            problems.append(f"{where}: line {row['line']!r} is not a line number (a whole number ≥ 1, or empty)")
        return  # user-supplied data: free-text source, line and quote optional
    lines = seed_lines(source)
    if lines is None:
        problems.append(f"{where}: seed {source} not found in {SEEDS_DIR}")
        return
    if not re.fullmatch(r"[1-9]\d*", row["line"]) or not int(row["line"]) <= len(lines):
        problems.append(f"{where}: line {row['line']!r} is not a line of {source}")
        return
    if not row["quote"] or _ws(row["quote"]) not in _ws(lines[int(row["line"]) - 1]):
        problems.append(f"{where}: quote {row['quote']!r} is not on line {row['line']} of {source}")


def expected_unit(kind: str, catalogue_unit: str) -> str:
    """Unit an observation of ``kind`` must carry: the level's unit, ``%`` or ``pp``."""
    if kind in ("level", "count", "cumulative"):
        return catalogue_unit
    return "pp" if kind == "pp_change" else "%"


def _validate_catalogue(frame: pd.DataFrame, path: Path, problems: list[str]) -> pd.DataFrame:
    from .priors import CLASS_PRIORS  # the prior classes are defined with the priors

    for i, row in frame.iterrows():
        where = f"{path.name} row {i + 2}"
        if not re.fullmatch(r"[a-z][a-z0-9_]*", row["indicator"]):
            problems.append(f"{where}: indicator id {row['indicator']!r} is not snake_case")
        if row["transform"] not in TRANSFORMS:
            problems.append(f"{where}: transform {row['transform']!r} is not one of {', '.join(TRANSFORMS)}")
        if row["class"] not in CLASS_PRIORS:
            problems.append(f"{where}: class {row['class']!r} is not one of {', '.join(CLASS_PRIORS)}")
        if not row["unit"]:
            problems.append(f"{where}: unit is empty")
    for dup in frame.loc[frame["indicator"].duplicated(), "indicator"]:
        problems.append(f"{path.name}: indicator {dup!r} listed more than once")
    frame = frame.drop_duplicates("indicator").set_index("indicator", drop=False)
    for i, row in frame.iterrows():
        if row["deflator"] and row["deflator"] not in frame.index:
            problems.append(f"{path.name}: deflator {row['deflator']!r} of {i} is not an indicator")
        for ref in formula_terms(row["links"]):
            if ref not in frame.index:
                problems.append(f"{path.name}: links of {i} name unknown indicator {ref!r}")
    return frame


def formula_terms(links: str) -> tuple[str, ...]:
    """``"= a / b"`` → ``("a", "b")``: the indicator is the ratio a/b (in %); otherwise ``()``."""
    match = re.match(r"^=\s*([a-z][a-z0-9_]*)\s*/\s*([a-z][a-z0-9_]*)\s*(?:$|[;(])", links or "")
    return (match.group(1), match.group(2)) if match else ()


def _typed(frame: pd.DataFrame, numeric: list[str], integer: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    for col in numeric:
        frame[col] = pd.to_numeric(frame[col].replace("", None), errors="coerce").astype(float)
    for col in integer:
        frame[col] = pd.to_numeric(frame[col].replace("", None), errors="coerce").astype("Int64")
    frame["published"] = pd.to_datetime(frame["published"], format="%Y-%m-%d")  # checked: ISO dates
    return frame


def _validate_observations(frame: pd.DataFrame, path: Path, catalogue: pd.DataFrame, problems: list[str]) -> None:
    for i, row in frame.iterrows():
        where = f"{path.name} row {i + 2}"
        _check_row_common(where, row, catalogue, problems)
        _check_value(where, "value", row["value"], row, catalogue, problems)
        if row["comparator"] not in COMPARATORS or row["comparator"] == "range":
            problems.append(f"{where}: comparator {row['comparator']!r} is not one of =, about, >=, >, <=, <")
    key = ["indicator", "year", "span_start", "kind", "price_basis", "source", "line", "value"]
    for i in frame.index[frame.duplicated(key)]:
        problems.append(f"{path.name} row {i + 2}: duplicates an earlier row ({frame.at[i, 'indicator']} {frame.at[i, 'year']})")


def _validate_targets(frame: pd.DataFrame, path: Path, catalogue: pd.DataFrame, problems: list[str]) -> None:
    for i, row in frame.iterrows():
        where = f"{path.name} row {i + 2}"
        _check_row_common(where, row, catalogue, problems)
        if row["comparator"] not in COMPARATORS or row["comparator"] == "=" and row["threshold"] == "":
            problems.append(f"{where}: comparator {row['comparator']!r} is not one of {', '.join(COMPARATORS[1:])}")
        for col in ("threshold", "threshold_high", "base_value"):
            _check_value(where, col, row[col], row, catalogue, problems, required=False)
        if row["comparator"] == "range" and not (row["threshold"] and row["threshold_high"]):
            problems.append(f"{where}: a range target needs threshold and threshold_high")
        low, high = _number(row["threshold"]), _number(row["threshold_high"])
        if low is not None and high is not None and low > high:
            problems.append(f"{where}: threshold_high {row['threshold_high']} is below threshold {row['threshold']}")
        if row["threshold_high"] and row["comparator"] != "range":
            problems.append(f"{where}: threshold_high is given but comparator {row['comparator']!r} is not range")
        _check_year(where, "base_year", row["base_year"], problems, required=False)
        if row["attribute"] not in ATTRIBUTES:
            problems.append(f"{where}: attribute {row['attribute']!r} is not one of {', '.join(ATTRIBUTES)}")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", row["target_id"]):
            problems.append(f"{where}: target_id {row['target_id']!r} is not snake_case")
    for dup in frame.loc[frame["target_id"].duplicated(), "target_id"]:
        problems.append(f"{path.name}: target_id {dup!r} is used more than once")
    for i, restated in frame["restates"].items():
        if restated and restated not in set(frame["target_id"]):
            problems.append(f"{path.name} row {i + 2}: restates {restated!r}, which is not a target_id")


def half_unit(printed: pd.Series) -> pd.Series:
    """Reported precision of printed numbers: "5.6" is known to ±0.05, "318" to ±0.5 (half a unit of
    the last digit); NaN where nothing is printed."""
    printed = printed.astype(str).str.strip()
    decimals = printed.str.extract(r"\.(\d+)$")[0].str.len().fillna(0)
    return (0.5 * 10.0 ** (-decimals.astype(float))).where(printed.ne("") & printed.ne("nan"))


def read_observations(path: Path, catalogue: pd.DataFrame, problems: list[str]) -> pd.DataFrame | None:
    """Read and check one observations file (shipped or user-supplied); problems are appended."""
    frame = _read_csv(path, OBSERVATION_COLUMNS, problems)
    if frame is None:
        return None
    before = len(problems)
    _validate_observations(frame, path, catalogue, problems)
    if len(problems) > before:
        return None
    precision = half_unit(frame["value"])
    frame = _typed(frame, ["value"], ["year", "span_start", "line"])
    frame["half_unit"] = precision
    frame["file"] = path.name
    return frame


FIGURE_COLUMNS = ["indicator", "year", "kind", "price_basis"]
"""Columns a file of figures to predict must have; ``span_start``, ``value``, ``unit``, ``comparator`` and
``published`` are checked when present, and any other column is passed through."""
PREDICTION_COLUMNS = ("mean", "q05", "q10", "q25", "q50", "q75", "q90", "q95", "pit", "crps", "log_score")
"""Columns a prediction adds (:func:`model.predict.predict`): an input column of that name would be clobbered."""


def read_figure_rows(path: str | Path, catalogue: pd.DataFrame, years: tuple[int, int] = YEAR_RANGE) -> pd.DataFrame:
    r"""Read and check a CSV of figures to predict (``run.py predict --input``), with the loader's row checks.

    Parameters
    ----------
    path : path
        CSV with at least the columns ``indicator, year, kind, price_basis`` (e.g. an export of
        ``run.py data --format csv``); ``span_start`` (span kinds), ``value`` (to score), ``unit``,
        ``comparator`` and ``published`` are checked where given.
    catalogue : DataFrame
        ``Dataset.catalogue``: the known indicators.
    years : (first, last)
        Years a row (and its ``span_start``) may refer to: the first year of the data to the horizon cap.

    Raises
    ------
    DataError
        Listing every problem with file, row and field.

    Returns
    -------
    DataFrame
        The rows, ``year`` as int, ``span_start`` and ``value`` as float (NaN when empty); other columns as text.

    Examples
    --------
    >>> import model, pathlib, tempfile
    >>> rows = pathlib.Path(tempfile.mkdtemp()) / "rows.csv"
    >>> _ = rows.write_text("indicator,year,kind,price_basis,value\n"
    ...                     "gdp,2025,level,nominal,\n"
    ...                     "gdp,9999,yoy,real,five\n", encoding="utf-8")
    >>> try:
    ...     read_figure_rows(rows, model.load_data().catalogue, (2014, 2035))
    ... except DataError as err:
    ...     print("\n".join(err.problems))
    rows.csv row 3: kind 'yoy' is not one of level, count, share, yoy_growth, avg_growth, cum_growth, pp_change, cumulative
    rows.csv row 3: year '9999' is not a year in 2014–2035 (the first year of the data to the horizon cap)
    rows.csv row 3: value 'five' is not a number
    """
    path = Path(path)
    problems: list[str] = []
    frame = _read_csv(path, FIGURE_COLUMNS, problems, keep_other=True)
    if frame is None:
        raise DataError(problems)
    for col in ("span_start", "value", "unit", "comparator", "published"):
        if col not in frame:
            frame[col] = ""
    clobbered = [c for c in frame.columns if c in PREDICTION_COLUMNS]
    if clobbered:
        problems.append(f"{path}: column(s) {', '.join(clobbered)} would be overwritten by the prediction; "
                        "rename or drop them")
    for i, row in frame.iterrows():
        where = f"{path.name} row {i + 2}"
        _check_figure(where, row, catalogue, problems, years=years, unit_required=False,
                      why=" (the first year of the data to the horizon cap)")
        _check_value(where, "value", row["value"], row, catalogue, problems, required=False)
        if row["comparator"] and (row["comparator"] not in COMPARATORS or row["comparator"] == "range"):
            problems.append(f"{where}: comparator {row['comparator']!r} is not one of =, about, >=, >, <=, <")
        _check_published(where, row["published"], problems, required=False)
    if problems:
        raise DataError(problems)
    frame = frame.reset_index(drop=True)
    frame["year"] = frame["year"].astype(int)
    for col in ("span_start", "value"):
        frame[col] = pd.to_numeric(frame[col].replace("", None), errors="coerce").astype(float)
    frame["comparator"] = frame["comparator"].replace("", "=")
    return frame


def load(data_dir: str | Path | None = None, extra: list[str | Path] | tuple = ()) -> Dataset:
    r"""Load and validate the catalogue, observations and targets (plus ``extra`` observation files).

    Parameters
    ----------
    data_dir : path, optional
        Folder with ``catalogue.csv``, ``observations.csv`` and ``targets.csv`` (default: the shipped ``data/``).
    extra : list of paths
        User observation files with the same columns; ``source`` is free text there and
        ``line``/``quote`` may be empty.

    Raises
    ------
    DataError
        Listing every problem found in all files.

    Returns
    -------
    Dataset
        ``observations`` holds the shipped rows followed by those of ``extra`` (column ``file`` tells them apart).

    Examples
    --------
    >>> import model
    >>> ds = model.load_data()
    >>> float(ds.observations.query("indicator == 'gdp' and year == 2023 and kind == 'level'")["value"].max())
    2806.2

    Add your own figures: same columns as ``data/observations.csv``, free-text ``source``, no ``line``/``quote``
    (the value below is hypothetical):

    >>> import pathlib, tempfile
    >>> extra = pathlib.Path(tempfile.mkdtemp()) / "extra.csv"
    >>> _ = extra.write_text("indicator,year,span_start,value,unit,kind,comparator,price_basis,source,line,quote,"
    ...                      "published,note\n"
    ...                      "gdp,2024,,5.0,%,yoy_growth,=,real,HYPOTHETICAL example,,,2025-03-31,illustration\n",
    ...                      encoding="utf-8")
    >>> mine = model.load_data(extra=[extra])
    >>> len(mine.observations) - len(ds.observations)
    1
    >>> print(mine.observations.tail(1)[["indicator", "year", "kind", "value", "file"]].to_string(index=False))
    indicator  year       kind  value      file
          gdp  2024 yoy_growth    5.0 extra.csv
    """
    data_dir = Path(data_dir) if data_dir is not None else DATA_DIR
    problems: list[str] = []
    cat_path = data_dir / "catalogue.csv"
    catalogue = _read_csv(cat_path, CATALOGUE_COLUMNS, problems)
    if catalogue is None:
        raise DataError(problems)
    catalogue = _validate_catalogue(catalogue, cat_path, problems)
    frames = [read_observations(Path(p), catalogue, problems) for p in [data_dir / "observations.csv", *extra]]
    tgt_path = data_dir / "targets.csv"
    targets = _read_csv(tgt_path, TARGET_COLUMNS, problems)
    if targets is not None:
        _validate_targets(targets, tgt_path, catalogue, problems)
    if problems:
        raise DataError(_seed_folder_missing(problems))
    observations = pd.concat(frames, ignore_index=True)
    _check_contradictions(observations, [i + 2 for f in frames for i in range(len(f))], problems)
    if problems:
        raise DataError(problems)
    targets["threshold_half_unit"] = half_unit(targets["threshold"])
    targets = _typed(targets, ["threshold", "threshold_high", "base_value"], ["year", "span_start", "base_year", "line"])
    return Dataset(catalogue, observations, targets.set_index("target_id", drop=False),
                   tuple(str(Path(p).resolve()) for p in extra))


CONTRADICTION_RATIO = 2.0
"""Two exact figures of one level, count or total differing by more than this factor cannot both be right:
revisions between documents move such figures by a few per cent (the largest in the shipped data, the
13th plan's shantytown renovations 36281 vs 45000 households, is 1.24×); a factor of 2 or more is a
unit or typing error, which the model's document errors would silently absorb as noise."""
CONTRADICTION_POINTS = 10.0
"""The same for rates (growth, shares, pp changes), in percentage points (largest shipped gap: 0.5)."""
RATIO_KINDS = ("level", "count", "cumulative")


def _check_contradictions(obs: pd.DataFrame, rows: list[int], problems: list[str]) -> None:
    """Exact figures ("=") of one quantity (indicator, year, span, kind, price basis) that contradict each
    other: in one document, any difference beyond their rounding (a document does not state two values of
    one thing); across documents, beyond :data:`CONTRADICTION_RATIO` or :data:`CONTRADICTION_POINTS`. Each
    pair is one problem naming both figures (file, row, value)."""
    exact = obs.assign(_row=rows)[obs["comparator"] == "="]
    key = ["indicator", "year", "span_start", "kind", "price_basis"]
    for _, grp in exact.groupby(key, dropna=False, sort=False):
        if grp["value"].nunique() < 2:
            continue
        ordered = grp.sort_values("value")
        lo, hi = ordered.iloc[0], ordered.iloc[-1]
        same_doc = grp.groupby("source")["value"].agg(lambda v: v.max() - v.min())
        rounding = 2 * grp["half_unit"].fillna(0).max()
        doc = same_doc[same_doc > rounding + 1e-12]
        if len(doc):
            pair = grp[grp["source"] == doc.index[0]].sort_values("value").iloc[[0, -1]]
            lo, hi, why = pair.iloc[0], pair.iloc[1], f"in one document ({doc.index[0]})"
        elif lo["kind"] in RATIO_KINDS and lo["value"] > 0 and hi["value"] / lo["value"] > CONTRADICTION_RATIO:
            why = f"by more than a factor of {CONTRADICTION_RATIO:g}"
        elif lo["kind"] not in RATIO_KINDS and hi["value"] - lo["value"] > CONTRADICTION_POINTS:
            why = f"by more than {CONTRADICTION_POINTS:g} points"
        else:
            continue
        span = "" if pd.isna(lo["span_start"]) else f"{int(lo['span_start'])}–"
        problems.append(
            f"{lo['file']} row {lo['_row']} and {hi['file']} row {hi['_row']}: {lo['indicator']} {span}"
            f"{int(lo['year'])} {lo['kind']} ({lo['price_basis']}) is {lo['value']:g} in one and {hi['value']:g} "
            f"in the other, exact figures that contradict each other {why}: a unit or typing error; correct or "
            "remove one")


def _seed_folder_missing(problems: list[str]) -> list[str]:
    """One problem instead of one per row when the whole seed folder is missing (e.g. a fresh clone)."""
    missing = [p for p in problems if p.endswith(f"not found in {SEEDS_DIR}")]
    if not missing or SEEDS_DIR.is_dir():
        return problems
    return [f"seed folder {SEEDS_DIR} not found ({len(missing)} rows cite a seed): put the five source documents "
            "there or set the environment variable CHANGZHI_SEEDS to their folder",
            *[p for p in problems if p not in missing]]


@functools.lru_cache(maxsize=1)
def shipped() -> Dataset:
    """The shipped dataset, loaded once per process."""
    return load()
