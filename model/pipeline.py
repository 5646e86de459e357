"""The main job: scenario → posterior (cached) → simulated paths → attainment → results directory.

Results are written into a temporary directory beside the destination and moved into place
only when complete, so an interrupted or failed run never leaves a half-written result and
never overwrites a previous good one with partial files. A destination that exists is replaced
only if it is a results folder this project wrote (its ``manifest.json`` lists every file in it);
anything else is refused (:func:`check_output_dir`), so no user file is ever deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import data as data_mod
from .attainment import attainment_table, joint_results, unanchored_fitted
from .fit import QUANTILES, Fit, data_hash, fit, package_versions
from .errors import InputError
from .scenario import Scenario
from .simulate import Paths, prior_dynamics, simulate

RESULTS_DIR = data_mod.ROOT / "results"
MANIFEST = "manifest.json"
MANIFEST_KEYS = ("scenario_hash", "fit_key")
"""Keys by which a manifest.json is recognised as this project's (a folder holding one may be replaced)."""
_OUTPUT_NAMES = re.compile(r"(attainment\.csv|attainment\.md|correlation\.csv|forecasts\.csv|joint\.csv|draws\.nc|"
                           r"manifest\.json|report\.html|report\.md|"
                           r"(fan_charts|fans_targets|p_attained|threshold_curves)(_\d+)?\.png)")
"""Names ``write_results`` writes: a results folder whose manifest predates the ``files`` list may hold only these."""


@dataclass
class ScenarioResult:
    """Everything one scenario run produces (tables as DataFrames).

    Attributes
    ----------
    scenario : Scenario
    fit : Fit
        The posterior used (``fit.diagnostics`` says whether it converged).
    paths : Paths
        The simulated paths.
    attainment : DataFrame
        One row per target (see :func:`model.attainment_table`); ``p_attained`` in 0–1.
    joint, correlation : DataFrame
        See :func:`model.joint_results`.
    forecasts : DataFrame
        Mean and quantiles ``q05 … q95`` per indicator, ``measure`` (level in ``unit``, nominal level,
        real growth %) and year.
    hits : DataFrame of bool
        Paths × evaluated targets.
    data_files : tuple of str
        The user's observation files used beside the shipped data (``load_data(extra=...)``); the
        manifest records them with checksums and ``run.py report`` reloads them.

    Examples
    --------
    >>> import model
    >>> r = model.run_scenario(model.Scenario(name="quick", draws=500,
    ...                                       fit={"draws": 150, "tune": 150, "chains": 2, "seed": 11}))
    >>> gdp = r.forecasts.query("indicator == 'gdp' and year == 2025")
    >>> gdp[["measure", "unit"]].to_numpy().tolist()
    [['nominal level', '亿元'], ['real growth %', '%']]
    >>> bool((gdp["q05"] < gdp["q50"]).all() and (gdp["q50"] < gdp["q95"]).all())
    True
    >>> r.hits.shape == (500, int((r.attainment["status"] == "evaluated").sum()))
    True
    """

    scenario: Scenario
    fit: Fit
    paths: Paths
    attainment: pd.DataFrame
    joint: pd.DataFrame
    correlation: pd.DataFrame
    forecasts: pd.DataFrame
    hits: pd.DataFrame
    plan_targets: pd.DataFrame | None = None  # the dataset's target registry (annual plan targets on the charts)
    data_files: tuple[str, ...] = ()  # the user's observation files beside the shipped data (absolute paths)


def prior_paths(fit: Fit, scenario: Scenario, n_paths: int) -> Paths:
    """Paths whose future trend and volatility come from the class priors (for the evidence column)."""
    override = prior_dynamics(fit, scenario.seed + 7)
    return simulate(fit, scenario.horizon, n_paths, scenario.seed, scenario.assumptions, override=override)


def start_years(layout) -> dict[str, int]:
    """First year each indicator's path is informed (a ratio: when both components are)."""
    from .data import formula_terms

    start = dict(layout.start)
    for d in layout.derived:
        start[d] = max(start[t] for t in formula_terms(layout.catalogue.at[d, "links"]))
    return start


def forecast_table(paths: Paths, unanchored: list[str] = ()) -> pd.DataFrame:
    """Mean and quantiles of every modelled indicator and year (level in its unit, and real growth %),
    from the year its path is informed to the horizon."""
    layout = paths.layout
    cat = layout.catalogue
    frames = []
    for measure, kind in (("level", "level"), ("growth", "yoy_growth")):
        rows = pd.DataFrame([(i, y) for i in layout.indicators for y in layout.years[1 if kind != "level" else 0:]],
                            columns=["indicator", "year"])
        rows["span_start"] = np.nan
        rows["kind"] = kind
        rows["price_basis"] = "real"
        nominal = rows["indicator"].map(lambda i: cat.at[i, "deflator"] != "")
        if measure == "level":  # levels of deflated money series are published nominal
            rows.loc[nominal, "price_basis"] = "nominal"
        from .attainment import target_quantity

        start = start_years(paths.layout)
        first = rows["indicator"].map(start) + (0 if measure == "level" else 1)
        keep = rows["year"] >= first
        if measure == "level":  # an indicator with no level figure has no level
            keep &= ~rows["indicator"].isin(unanchored)
        rows = rows[keep].reset_index(drop=True)
        q, ok = target_quantity(paths, rows)
        rows = rows[ok].reset_index(drop=True)
        q = q[:, ok]
        rows["measure"] = np.where(rows["kind"] == "level", np.where(rows["price_basis"] == "nominal",
                                                                     "nominal level", "level"), "real growth %")
        rows["unit"] = [("%" if measure == "growth" else cat.at[i, "unit"]) for i in rows["indicator"]]
        rows["mean"] = q.mean(axis=0)
        for p in QUANTILES:
            rows[f"q{round(p * 100):02d}"] = np.quantile(q, p, axis=0)
        rows["observed"] = rows["year"] <= paths.last_observed_year
        frames.append(rows.drop(columns=["span_start", "kind"]))
    return pd.concat(frames, ignore_index=True).sort_values(["indicator", "measure", "year"], kind="stable")


def scenario_fit(scenario: Scenario, dataset: data_mod.Dataset, refit: bool = True) -> Fit:
    """The posterior a scenario uses: its vintage (``as_of``, ``data_through``) and ``fit`` block, from the
    on-disk cache when present (``refit=False``: only from the cache, else :class:`model.fit.NotCached`)."""
    return fit(dataset, as_of=scenario.as_of, data_through=scenario.data_through, seed=scenario.fit.seed,
               draws=scenario.fit.draws, tune=scenario.fit.tune, chains=scenario.fit.chains, refit=refit)


def check_fit(posterior: Fit, scenario: Scenario, dataset: data_mod.Dataset) -> None:
    """Raise ValueError unless ``posterior`` is the one :func:`scenario_fit` would give: same vintage, sampler
    settings and figures (a fit passed in must not silently answer another scenario's question)."""
    st = posterior.settings
    wanted = dict(as_of=scenario.as_of, data_through=scenario.data_through, **scenario.fit.model_dump())
    found = {k: getattr(st, k) for k in wanted}
    if found != wanted:
        differ = ", ".join(f"{k} {found[k]!r} (scenario: {wanted[k]!r})" for k in wanted if found[k] != wanted[k])
        raise ValueError(f"the fit passed is not this scenario's posterior: {differ}")
    if data_hash(posterior.observations) != data_hash(dataset.vintage(scenario.as_of, scenario.data_through)
                                                      .observations):
        raise ValueError("the fit passed was computed on other figures than the dataset's vintage")


def run_scenario(scenario: Scenario, dataset: data_mod.Dataset | None = None, progress=None,
                 refit: bool = True, fit: Fit | None = None) -> ScenarioResult:
    """Fit (or load the cached posterior), simulate the scenario's paths and compute attainment.

    Parameters
    ----------
    scenario : Scenario
        Its ``as_of``, ``data_through`` and ``fit`` select the posterior (cached on disk: scenarios
        that differ only in assumptions share one); ``draws``, ``seed``, ``horizon``, ``assumptions``,
        ``targets`` and ``thresholds`` drive the simulation and the table.
    dataset : Dataset, optional
        Default: the shipped data. Pass ``model.load_data(extra=[...])`` to add your own figures.
    progress : callable, optional
        Called with a short message at each step.
    refit : bool
        False: use the cached posterior only; raise :class:`model.fit.NotCached` rather than fit.
    fit : Fit, optional
        The scenario's posterior, already at hand (e.g. reused across the values of a sweep,
        :func:`model.sweep`); it must be the one the scenario's vintage and ``fit`` block give
        (ValueError otherwise). Default: fit or load it from the cache.

    Returns
    -------
    ScenarioResult

    Raises
    ------
    ScenarioError
        If the scenario names unknown targets or indicators, or assumption years outside the simulation.

    Examples
    --------
    The baseline with short chains (the defaults, as in ``scenarios/baseline.yaml``, are for results):

    >>> import model
    >>> quick = model.Scenario(name="quick", draws=500, fit={"draws": 150, "tune": 150, "chains": 2, "seed": 11})
    >>> r = model.run_scenario(quick)
    >>> head = r.attainment.set_index("target_id").loc[["p14_gdp", "p14_gdp_growth"]]
    >>> head[["year", "comparator", "threshold", "unit"]]
                    year comparator  threshold unit
    target_id
    p14_gdp         2025         >=     2800.0   亿元
    p14_gdp_growth  2025          >        8.0    %
    >>> bool(head["p_attained"].between(0, 1).all()), set(head["evidence"]) <= {"data", "mixed", "plan", "prior"}
    (True, True)
    """
    dataset = dataset or data_mod.shipped()
    step = progress or (lambda msg: None)
    step("fitting the growth model (cached when the data and settings are unchanged)")
    if fit is None:
        f = scenario_fit(scenario, dataset, refit=refit)
    else:
        check_fit(fit, scenario, dataset)
        f = fit
    scenario.check_against(dataset, f.last_year)
    step(f"simulating {scenario.draws} paths to {scenario.horizon}")
    paths = simulate(f, scenario.horizon, scenario.draws, scenario.seed, scenario.assumptions)
    step("computing attainment")
    ids = scenario.target_ids(dataset)
    prior = prior_paths(f, scenario, scenario.draws)
    table, hits = attainment_table(f, paths, dataset, ids, scenario.thresholds, prior)
    joint, corr = joint_results(hits, table)
    return ScenarioResult(scenario, f, paths, table, joint, corr,
                          forecast_table(paths, set(f.unanchored) | unanchored_fitted(f)), hits, dataset.targets,
                          dataset.extra_files)


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=data_mod.ROOT, capture_output=True, text=True,
                              timeout=5).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def manifest(result: ScenarioResult) -> dict:
    return scenario_manifest(result.scenario, result.fit, result.data_files)


def scenario_manifest(s: Scenario, f: Fit, data_files=()) -> dict:
    """What a results folder records of its scenario, posterior, data, code and package versions."""
    return {
        "scenario": s.name, "scenario_hash": s.scenario_hash(), "fit_key": f.key,
        "data_hash": data_hash(f.observations), "n_observations": len(f.observations),
        "as_of": s.as_of, "data_through": s.data_through, "horizon": s.horizon,
        "seed": s.seed, "draws": s.draws, "fit_settings": f.settings.as_dict(),
        "fit_from_cache": f.from_cache, "diagnostics": f.diagnostics.as_dict(),
        "diagnostics_flag": f.diagnostics.flag(), "package_versions": package_versions(), "git_commit": git_commit(),
        "scenario_definition": s.model_dump(),
        "data_files": [{"path": p, "sha256": file_sha256(p)} for p in data_files],
    }


def file_sha256(path: str | Path) -> str:
    """Checksum of a file's bytes (the user's data files in the manifest)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def strict_json(value):
    """``value`` with NaN and ±inf as None and numpy scalars as Python ones, for ``json.dumps(allow_nan=False)``."""
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def read_manifest(folder: str | Path) -> dict | None:
    """The manifest of a results folder this project wrote, or None (no manifest.json, unreadable, not ours)."""
    try:
        found = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and all(k in found for k in MANIFEST_KEYS) else None


def check_output_dir(path: str | Path) -> Path:
    """Check that a results folder can be written at ``path`` without losing anything; return it (absolute).

    Allowed: ``path`` does not exist (its parents are created), is an empty folder, or is a results
    folder this project wrote (a ``manifest.json`` with ``scenario_hash`` and ``fit_key`` and no file
    that the manifest does not list). The nearest existing parent must be a folder in which a file can
    be created. Anything else (a file, a symbolic link, a folder with other content, a path under a
    file, a read-only parent) raises :class:`InputError` naming the path; nothing is touched.

    Examples
    --------
    >>> import model.pipeline as pipeline, pathlib, tempfile
    >>> home = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (home / "thesis.docx").write_bytes(b"years of work")
    >>> pipeline.check_output_dir(home / "new") == home / "new"
    True
    >>> pipeline.check_output_dir(home)
    Traceback (most recent call last):
    ...
    model.errors.InputError: ...: the folder exists and is not a results folder of this project ...
    """
    shown = str(path)
    path = Path(os.path.abspath(path))
    if path.name in ("", ".", "..") or path.parent == path:
        raise InputError(f"{shown}: not a folder name a result can be written to")
    if path.is_symlink():
        raise InputError(f"{shown}: is a symbolic link; give the folder itself (it is left untouched)")
    if path.exists():
        if not path.is_dir():
            raise InputError(f"{shown}: exists and is not a folder; refusing to replace it (choose another "
                             "results folder)")
        try:
            entries = sorted(p.name for p in path.iterdir())
        except OSError as err:
            raise InputError(f"{shown}: cannot list the folder ({err.strerror or err})") from None
        if entries:
            found = read_manifest(path)
            if found is None:
                raise InputError(f"{shown}: the folder exists and is not a results folder of this project (no "
                                 f"manifest.json with {' and '.join(MANIFEST_KEYS)}); refusing to replace it - "
                                 "choose a new or empty folder")
            listed = found.get("files")
            foreign = [e for e in entries if e != MANIFEST and
                       (e not in listed if isinstance(listed, list) else not _OUTPUT_NAMES.fullmatch(e))]
            if foreign:
                more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
                raise InputError(f"{shown}: the results folder also holds {', '.join(foreign[:3])}{more}, which "
                                 "this project did not write; refusing to replace it - move them or choose "
                                 "another folder")
    ancestor = path.parent
    while not ancestor.exists() and not ancestor.is_symlink():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(f"{shown}: cannot be created: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(f"{shown}: cannot write into {ancestor} (permission denied)")
    try:  # permission bits are not the whole story (root, read-only mounts, ACLs): try it
        os.rmdir(tempfile.mkdtemp(prefix=".check-", dir=ancestor))
    except OSError as err:
        raise InputError(f"{shown}: cannot write into {ancestor} ({err.strerror or err})") from None
    return path


@contextlib.contextmanager
def _terminate_raises():
    """While writing, SIGTERM raises SystemExit(143) so the ``finally`` cleanup runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_results(result: ScenarioResult, out_dir: str | Path, report: bool = True, lang: str = "zh") -> Path:
    """Write tables, manifest, draws (and the report) atomically into ``out_dir``.

    The files are written to a temporary folder beside ``out_dir`` and moved into place when all are
    done, so a failed or interrupted run (exception, Ctrl-C, SIGTERM) never leaves a half-written
    result and removes its temporary folder.

    Parameters
    ----------
    result : ScenarioResult
    out_dir : str or Path
        Created if absent; an empty folder or a results folder written by this function is replaced.
        Anything else is refused before writing (see :func:`check_output_dir`).
    report : bool
        Also draw the charts and write ``report.html`` / ``report.md`` (a few seconds).
    lang : {"zh", "en"}
        Language of the chart labels.

    Returns
    -------
    Path
        ``out_dir`` (absolute).

    Raises
    ------
    InputError
        If ``out_dir`` holds anything this project did not write, is a file or is not writable.

    Examples
    --------
    >>> import model, json, tempfile
    >>> r = model.run_scenario(model.Scenario(name="quick", draws=500,
    ...                                       fit={"draws": 150, "tune": 150, "chains": 2, "seed": 11}))
    >>> out = model.write_results(r, tempfile.mkdtemp() + "/quick", report=False)
    >>> sorted(p.name for p in out.iterdir())
    ['attainment.csv', 'attainment.md', 'correlation.csv', 'draws.nc', 'forecasts.csv', 'joint.csv', 'learning.csv', 'manifest.json']
    >>> manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    >>> manifest["scenario"], manifest["draws"], manifest["fit_settings"]["draws"]
    ('quick', 500, 150)
    """
    from . import report as report_mod

    def fill(tmp: Path) -> dict:
        result.attainment.to_csv(tmp / "attainment.csv", index=False)
        (tmp / "attainment.md").write_text(report_mod.attainment_markdown(result), encoding="utf-8")
        result.forecasts.to_csv(tmp / "forecasts.csv", index=False)
        result.joint.to_csv(tmp / "joint.csv", index=False)
        result.correlation.to_csv(tmp / "correlation.csv")
        if result.fit.idata.attrs.get("engine") == "joint":
            from .joint import learning_table

            learning_table(result.fit).to_csv(tmp / "learning.csv", index=False)
        report_mod.paths_dataset(result).to_netcdf(tmp / "draws.nc")
        if report:
            report_mod.build_report(tmp, result, lang=lang)
        return manifest(result)

    return write_folder(out_dir, fill)


def write_folder(out_dir: str | Path, fill) -> Path:
    """Write a results folder atomically: ``fill(tmp)`` writes the files into a temporary folder beside
    ``out_dir`` and returns the manifest (a dict with at least ``scenario_hash`` and ``fit_key``); the
    manifest, listing every file, is added and the folder moved into place only when all is done.

    ``out_dir`` is checked first and again just before the move (:func:`check_output_dir`): a folder
    holding anything this project did not write is never replaced. On any failure (exception, Ctrl-C,
    SIGTERM) the temporary folder and any parent folders this call created are removed and a previous
    result at ``out_dir`` is kept. Used by :func:`write_results` and by ``run.py sweep``.
    """
    out_dir = check_output_dir(out_dir)
    missing = [p for p in (out_dir.parent, *out_dir.parent.parents) if not p.exists()]
    tmp = None
    with _terminate_raises():
        try:
            out_dir.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{out_dir.name}-", dir=out_dir.parent))
            content = fill(tmp)
            if not all(k in content for k in MANIFEST_KEYS):
                raise ValueError(f"a results manifest needs {' and '.join(MANIFEST_KEYS)}")
            content = {**content, "files": sorted([p.name for p in tmp.iterdir()] + [MANIFEST])}
            (tmp / MANIFEST).write_text(json.dumps(strict_json(content), indent=2, ensure_ascii=False,
                                                   allow_nan=False, default=str), encoding="utf-8")
            tmp.chmod(0o777 & ~_umask())  # mkdtemp makes 0o700; a results folder is an ordinary folder
            check_output_dir(out_dir)  # again: the destination may have changed while we computed
            if out_dir.exists():
                old = out_dir.with_name(tmp.name.replace(".tmp-", ".old-", 1))
                out_dir.rename(old)
                try:
                    tmp.rename(out_dir)
                except BaseException:
                    old.rename(out_dir)
                    raise
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(out_dir)
        except BaseException:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            for folder in missing:  # parents this call created, innermost first, if still empty
                with contextlib.suppress(OSError):
                    folder.rmdir()
            raise
    return out_dir
