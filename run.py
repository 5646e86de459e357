"""Command line: a thin typer shell over the ``model`` package.

    python run.py run scenarios/baseline.yaml      # the main job: probability table + report
    python run.py data --indicator gdp             # observations with provenance
    python run.py targets --plan p14               # the target registry
    python run.py validate scenarios/*.yaml
    python run.py compare scenarios/baseline.yaml scenarios/slowdown.yaml
    python run.py sweep scenarios/slowdown.yaml --vary "assumptions[0].value=-4:2:13" --target p14_gdp_growth
    python run.py predict --as-of 2021-05-25 --input rows.csv --out out.csv
    python run.py posterior                        # GDP growth 2021-22, deflator, 2025 nominal GDP
    python run.py backtest                         # vintage backtest, 13th-plan record, reliability diagram
    python run.py sbc                              # simulation-based calibration of the model and sampler
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Optional

os.environ.setdefault("PYTENSOR_FLAGS", "")
warnings.filterwarnings("ignore", category=FutureWarning)

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.markup import escape  # noqa: E402

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Bayesian scenario projections and target-attainment probabilities for Changzhi.")
err = Console(stderr=True)
out = Console()


def _fail(message: str, code: int = 2):
    err.print(f"[bold red]error:[/] {escape(str(message))}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _guarded(command):
    """Bad input at the boundary becomes one line and exit code 2 (Ctrl-C: exit 130), never a traceback.

    Model code raises :class:`model.errors.InputError` naming the file and field; files the user
    names can also fail as OSError, UnicodeDecodeError or pandas' EmptyDataError, which name the path."""
    import functools

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from model.errors import InputError

        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            _fail("interrupted: nothing was written (cached posteriors are kept only when complete)", code=130)
        except InputError as e:
            _fail(str(e))
        except UnicodeDecodeError as e:
            _fail(f"{getattr(e, 'filename', None) or 'input'}: not UTF-8 text ({e.reason} at byte {e.start})")
        except OSError as e:
            _fail(f"{e.filename or 'file'}: {e.strerror or e}")
        except ValueError as e:  # pandas' EmptyDataError and ParserError, date parsing
            _fail(str(e).splitlines()[0] if str(e) else type(e).__name__)

    return wrapper


def command(*args, **kwargs):
    """``app.command`` with the input guard: every command turns bad input into one line and exit 2."""
    register = app.command(*args, **kwargs)
    return lambda fn: register(_guarded(fn))


def _dataset(extra: list[Path] | None):
    from model import data

    try:
        return data.load(extra=extra or ())
    except data.DataError as e:
        _fail(str(e))


def _print_frame(frame, fmt: str, columns: list[str]):
    if fmt == "csv":
        frame[columns].to_csv(sys.stdout, index=False)
        return
    import pandas as pd
    from rich.table import Table

    table = Table(show_lines=False)
    for c in columns:
        table.add_column(c, overflow="fold")
    for _, r in frame[columns].iterrows():
        table.add_row(*["" if pd.isna(v) else str(v) for v in r])  # NaN, NA, NaT -> ""
    out.print(table)


def _as_of(value: Optional[str]) -> Optional[str]:
    """``--as-of`` checked as an ISO date YYYY-MM-DD (one line naming the option otherwise)."""
    from model.data import iso_date

    return None if value is None else iso_date(value, "--as-of")


def _check_overrides(draws: int | None, seed: int | None) -> dict:
    """The --draws and --seed given, checked against the scenario schema's ranges (one line naming the option,
    exit 2)."""
    from pydantic import ValidationError

    from model.scenario import Scenario

    updates = {k: v for k, v in (("draws", draws), ("seed", seed)) if v is not None}
    if updates:
        try:
            Scenario(name="override", **updates)
        except ValidationError as e:
            _problems([f"--{x['loc'][0]}: {x['msg']} (got {x['input']!r})" for x in e.errors()])
    return updates


def _lang(lang: str) -> str:
    if lang not in ("zh", "en"):
        _fail(f"--lang: {lang!r} is not a chart language; use zh or en")
    return lang


def _format(fmt: str) -> str:
    if fmt not in ("table", "csv"):
        _fail(f"--format: {fmt!r} is not one of table, csv")
    return fmt


@command()
def data(indicator: Optional[list[str]] = typer.Option(None, help="Only these indicator ids."),
         as_of: Optional[str] = typer.Option(None, help="Vintage: documents published by this ISO date (YYYY-MM-DD)."),
         fmt: str = typer.Option("table", "--format", help="table or csv"),
         extra: Optional[list[Path]] = typer.Option(None, "--data", help="Extra observation CSV files.")):
    """List observations with their provenance."""
    from model.data import OBSERVATION_COLUMNS

    as_of = _as_of(as_of)
    fmt = _format(fmt)
    ds = _dataset(extra)
    if as_of:
        ds = ds.vintage(as_of)
    obs = ds.observations
    if indicator:
        unknown = [i for i in indicator if i not in ds.catalogue.index]
        if unknown:
            _fail(f"--indicator: unknown indicator {unknown[0]!r}")
        obs = obs[obs["indicator"].isin(indicator)]
    obs = obs.assign(published=obs["published"].dt.strftime("%Y-%m-%d"))
    _print_frame(obs, fmt, OBSERVATION_COLUMNS if fmt == "csv" else
                 ["indicator", "year", "span_start", "value", "unit", "kind", "price_basis", "source", "line", "quote"])


@command()
def targets(plan: Optional[list[str]] = typer.Option(None, help="Only these plans (p13, p14, a2021, a2023, a2024)."),
            fmt: str = typer.Option("table", "--format", help="table or csv")):
    """List the target registry."""
    from model.data import TARGET_COLUMNS

    fmt = _format(fmt)
    tg = _dataset(None).targets
    if plan:
        known = list(dict.fromkeys(tg["plan"]))
        unknown = [p for p in plan if p not in known]
        if unknown:
            _fail(f"--plan: unknown plan {unknown[0]!r} (one of {', '.join(known)})")
        tg = tg[tg["plan"].isin(plan)]
    tg = tg.assign(published=tg["published"].dt.strftime("%Y-%m-%d"))
    _print_frame(tg, fmt, TARGET_COLUMNS if fmt == "csv" else
                 ["target_id", "indicator", "year", "comparator", "threshold", "unit", "kind", "attribute", "plan"])


def _scenario(path: Path, ds):
    from model.scenario import ScenarioError, load_scenario

    try:
        s = load_scenario(path)
        s.check_against(ds, None, where=str(path))
        return s
    except ScenarioError as e:
        _fail(str(e))


def _problems(messages: list[str], code: int = 2):
    """Print each problem on its own ``error:`` line and exit with ``code``."""
    for message in messages:
        err.print(f"[bold red]error:[/] {escape(str(message))}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _load_checked(paths: list[Path], ds, out_dir: Optional[Path] = None):
    """Load every scenario and run every check `run` runs before fitting: schema, data (ids, years, the horizon
    against the vintage's last observed year), distinct names and a results folder that can be written without
    losing anything. Return [(path, scenario, results folder)]; on any problem print them all and exit 2."""
    from model.errors import InputError
    from model.pipeline import RESULTS_DIR, check_output_dir
    from model.scenario import ScenarioError, load_scenario

    problems, loaded = [], []
    for p in paths:
        try:
            s = load_scenario(p)
            s.check_against(ds, where=str(p))
        except ScenarioError as e:
            problems += e.problems
            continue
        loaded.append((p, s, (out_dir / s.name if len(paths) > 1 else out_dir) if out_dir else RESULTS_DIR / s.name))
    seen = {}
    for p, s, _ in loaded:
        if s.name in seen:
            problems.append(f"{p}: name: {s.name!r} is also the name of {seen[s.name]}; both would write the same "
                            "results folder")
        seen.setdefault(s.name, p)
    for p, s, target in loaded:
        try:
            check_output_dir(target)
        except InputError as e:
            problems.append(f"{e} (results of {p})")
    if problems:
        _problems(problems)
    return loaded


@command()
def validate(scenarios: list[Path] = typer.Argument(..., help="Scenario YAML files."),
             out_dir: Optional[Path] = typer.Option(None, "--out", help="Results folder `run` would use "
                                                                         "(default results/<name>)."),
             extra: Optional[list[Path]] = typer.Option(None, "--data", help="Extra observation CSV files.")):
    """Check scenario files without running them: every check `run` makes before fitting."""
    ds = _dataset(extra)
    for p, _, target in _load_checked(scenarios, ds, out_dir):
        out.print(f"[green]ok[/] {p} (results: {target})")


@command()
def run(scenarios: list[Path] = typer.Argument(..., help="Scenario YAML files."),
        out_dir: Optional[Path] = typer.Option(None, "--out", help="Results folder (default results/<name>; with "
                                                                    "several scenarios, <out>/<name>). An existing "
                                                                    "folder is replaced only if it is empty or a "
                                                                    "results folder written by `run`."),
        draws: Optional[int] = typer.Option(None, help="Override the number of simulated paths."),
        seed: Optional[int] = typer.Option(None, help="Override the simulation seed."),
        report: bool = typer.Option(True, help="Build charts and report.html."),
        lang: str = typer.Option("zh", help="Chart labels: zh or en."),
        extra: Optional[list[Path]] = typer.Option(None, "--data", help="Extra observation CSV files.")):
    """Run scenarios: fit (cached), simulate, attainment table, report."""
    from model.pipeline import run_scenario, write_results
    from model.scenario import Scenario, ScenarioError

    _lang(lang)
    ds = _dataset(extra)
    updates = _check_overrides(draws, seed)
    loaded = _load_checked(scenarios, ds, out_dir)  # validate all, and their results folders, before running any
    for path, s, target in loaded:
        s = Scenario.model_validate({**s.model_dump(), **updates})
        with err.status(f"[bold]{s.name}[/]") as status:
            try:
                result = run_scenario(s, ds, progress=lambda m: status.update(f"[bold]{s.name}[/]: {m}"))
                status.update(f"[bold]{s.name}[/]: writing {target}")
                write_results(result, target, report=report, lang=lang)
            except ScenarioError as e:
                _problems([p.replace("scenario: ", f"{path}: ", 1) for p in e.problems])
        if not result.fit.diagnostics.ok:
            err.print(f"[yellow]warning:[/] {result.fit.diagnostics.flag()}")
        from model.report import headline_markdown

        out.print(headline_markdown(result))
        out.print(f"[green]wrote[/] {target}")


def _parse_vary(text: str) -> tuple[str, list[float]]:
    """``PATH=START:STOP:N`` (N evenly spaced values) or ``PATH=V1,V2,...`` → (path, values); exit 2 naming
    --vary otherwise."""
    import math

    from model.scenario import MAX_SWEEP_VALUES, linear_grid

    example = "e.g. --vary \"assumptions[0].value=-3:3:13\""
    path, eq, spec = text.partition("=")
    path, spec = path.strip(), spec.strip()
    if not eq or not path or not spec:
        _fail(f"--vary: {text!r} is not PATH=START:STOP:N ({example})")

    def number(word: str, what: str) -> float:
        try:
            value = float(word)
        except ValueError:
            _fail(f"--vary: {what} {word.strip()!r} is not a number ({example})")
        if not math.isfinite(value):
            _fail(f"--vary: {what} must be a finite number, not {word.strip()!r}")
        return value

    if ":" in spec:
        parts = spec.split(":")
        if len(parts) != 3:
            _fail(f"--vary: {spec!r} is not START:STOP:N (three numbers separated by ':'; {example})")
        start, stop = number(parts[0], "START"), number(parts[1], "STOP")
        try:
            n = int(parts[2].strip())
        except ValueError:
            _fail(f"--vary: N {parts[2].strip()!r} is not a whole number of values")
        if not 1 <= n <= MAX_SWEEP_VALUES:
            _fail(f"--vary: N must be from 1 to {MAX_SWEEP_VALUES} values, not {n}")
        return path, linear_grid(start, stop, n)
    words = spec.split(",")
    if len(words) > MAX_SWEEP_VALUES:
        _fail(f"--vary: at most {MAX_SWEEP_VALUES} values, not {len(words)}")
    return path, [number(w, "value") for w in words]


def _sweep_folder_name(scenario_name: str, path: str) -> str:
    """``<scenario>_<path with every run of other characters than letters and digits as one _>``."""
    import re

    return f"{scenario_name}_{re.sub(r'[^A-Za-z0-9]+', '_', path).strip('_')}"[:150]


@command()
def sweep(scenario: Path = typer.Argument(..., help="Scenario YAML file (its assumptions are the ones varied)."),
          vary: Optional[str] = typer.Option(None, help="PATH=START:STOP:N: vary PATH (e.g. assumptions[0].value, "
                                             "assumptions[gdp_deflator:growth_set].value, thresholds.p14_gdp; "
                                             "docs/scenarios.md, Sweeps) over N evenly spaced values from START to "
                                             "STOP (N 1 to 200), or PATH=V1,V2,... Default: the scenario's sweep: "
                                             "block."),
          target: Optional[list[str]] = typer.Option(None, "--target", help="Target id to evaluate and chart "
                                                     "(repeat the option for several). Default: the sweep block's "
                                                     "targets, else the scenario's."),
          out_dir: Optional[Path] = typer.Option(None, "--out", help="Results folder (default results/sweeps/"
                                                 "<name>_<path>); an existing folder is replaced only if it is "
                                                 "empty or a results folder this project wrote."),
          draws: Optional[int] = typer.Option(None, help="Override the number of simulated paths per value."),
          seed: Optional[int] = typer.Option(None, help="Override the simulation seed (shared by every value)."),
          lang: str = typer.Option("zh", help="Chart labels: zh or en."),
          extra: Optional[list[Path]] = typer.Option(None, "--data", help="Extra observation CSV files.")):
    """Run a scenario over a grid of values of one assumption: P(attained) ± MCSE per value (sweep.csv, sweep.png).

    The posterior is fitted (or loaded from the cache) once for every value, and every value uses the same
    seed (common random numbers): the curve is smooth, and monotone wherever the model makes P monotone."""
    from model.errors import InputError
    from model.pipeline import RESULTS_DIR, check_output_dir, scenario_fit, scenario_manifest, write_folder
    from model.scenario import ScenarioError
    from model.sweep import plan_sweep, run_plan, sweep_chart

    _lang(lang)
    ds = _dataset(extra)
    _check_overrides(draws, seed)
    path, values = _parse_vary(vary) if vary is not None else (None, None)
    s = _scenario(scenario, ds)
    if vary is None and s.sweep is None:
        _fail(f"--vary: give PATH=START:STOP:N ({scenario} has no sweep: block)")
    try:
        plan = plan_sweep(s, path, values, ds, target or None, draws, seed)
    except ScenarioError as e:
        lines = []
        for problem in e.problems:
            key, _, msg = problem.partition(": ")
            if key == "scenario":
                lines.append(f"{scenario}: {msg}")
            elif key == "targets" and target:
                lines.append(f"--target: {msg}")
            elif key in ("path", "values") and vary is not None:
                lines.append(f"--vary: {msg}")
            else:
                lines.append(f"{scenario}: sweep.{ {'path': 'vary'}.get(key, key)}: {msg}")
        _fail("; ".join(lines))
    target_dir = out_dir or RESULTS_DIR / "sweeps" / _sweep_folder_name(s.name, plan.location.text)
    try:
        check_output_dir(target_dir)
    except InputError as e:
        _fail(f"--out: {e}")
    label = f"{s.name}: {plan.location.text}"
    with err.status(f"[bold]{escape(label)}[/]") as status:
        status.update(f"[bold]{escape(label)}[/]: fitting the growth model (cached when unchanged)")
        f = scenario_fit(plan.scenario, ds)
        frame = run_plan(plan, ds, f, progress=lambda m: status.update(f"[bold]{escape(s.name)}[/]: {escape(m)}"))

        def fill(tmp: Path) -> dict:
            frame.to_csv(tmp / "sweep.csv", index=False)
            sweep_chart(frame, plan, ds, tmp / "sweep.png", lang=lang)
            return {**scenario_manifest(plan.scenario, f, ds.extra_files), "kind": "sweep",
                    "sweep": {"path": plan.location.text, "location": plan.location.canonical,
                              "values": plan.values, "targets": plan.targets, "n_paths": plan.scenario.draws,
                              "seed": plan.scenario.seed, "common_random_numbers": True}}

        status.update(f"[bold]{escape(label)}[/]: writing {escape(str(target_dir))}")
        written = write_folder(target_dir, fill)
    if not f.diagnostics.ok:
        err.print(f"[yellow]warning:[/] {escape(f.diagnostics.flag())}")
    shown = frame.assign(p=[("–" if p != p else f"{p:.3f} ±{m:.3f}") for p, m in zip(frame["p_attained"],
                                                                                    frame["mcse"])])
    table = shown.pivot(index="value", columns="target_id", values="p")[list(dict.fromkeys(frame["target_id"]))]
    out.print(f"P(attained) ± MCSE as {plan.location.canonical} varies ({plan.scenario.draws} paths per value, "
              f"seed {plan.scenario.seed}, one posterior):", markup=False, highlight=False)
    out.print(table.to_string(), markup=False, highlight=False)
    out.print(f"[green]wrote[/] {escape(str(written))}")


@command()
def compare(scenarios: list[Path] = typer.Argument(..., help="Scenario YAML files (run first if needed)."),
            out_dir: Path = typer.Option(Path("results/compare"), "--out", help="Folder for the table and charts."),
            indicator: str = typer.Option("gdp", help="Indicator of the fan chart across scenarios."),
            rerun: bool = typer.Option(False, "--rerun", help="Rerun scenarios whose results are missing or stale."),
            lang: str = typer.Option("zh", help="Chart labels: zh or en.")):
    """One table (targets × scenarios) of P(attained), a bar chart of it and a fan chart across scenarios.

    Each scenario's results folder must be current: its manifest's scenario and data hashes must match
    the scenario file and the data now. A missing or stale folder is refused, or rerun with --rerun."""
    import pandas as pd

    from model.charts import comparison_charts
    from model.errors import InputError
    from model.freshness import require_manifest, stale_reasons
    from model.pipeline import RESULTS_DIR, run_scenario, write_results

    ds = _dataset(None)
    if indicator not in ds.catalogue.index:
        _fail(f"--indicator: unknown indicator {indicator!r}")
    _lang(lang)
    if out_dir.exists():  # compare writes p_attained.csv and compare_*.png: never over anything else
        import re

        if not out_dir.is_dir():
            _fail(f"--out: {out_dir} is a file; compare writes a folder")
        foreign = sorted(f.name for f in out_dir.iterdir()
                         if not (f.name == "p_attained.csv" or re.fullmatch(r"compare_\w+\.png", f.name)))
        if foreign:
            _fail(f"--out: {out_dir} holds files compare did not write ({', '.join(foreign[:3])}); "
                  "choose a new or empty folder")
    loaded = [(p, _scenario(p, ds)) for p in scenarios]
    stale = {}
    for p, s in loaded:
        try:
            folder = RESULTS_DIR / s.name
            reasons = stale_reasons(require_manifest(folder), s, ds, pd.read_csv(folder / "attainment.csv"))
        except (InputError, OSError, ValueError) as e:
            reasons = [str(e).splitlines()[0]]
        if reasons:
            stale[p] = reasons
    if stale and not rerun:
        _fail("; ".join(f"{p}: {RESULTS_DIR / s.name} not current: {', '.join(stale[p])}"
                        for p, s in loaded if p in stale)
              + ". Run them again (`python run.py run ...`) or pass --rerun")
    tables, forecasts = {}, {}
    for p, s in loaded:
        folder = RESULTS_DIR / s.name
        if p in stale:
            with err.status(f"rerunning {s.name} ({'; '.join(stale[p])})"):
                write_results(run_scenario(s, ds), folder, report=True, lang=lang)
        tables[s.name] = pd.read_csv(folder / "attainment.csv").set_index("target_id")
        forecasts[s.name] = pd.read_csv(folder / "forecasts.csv")
    table = pd.DataFrame({name: t["p_attained"] for name, t in tables.items()})
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "p_attained.csv")
    measure = "nominal level" if ds.catalogue.at[indicator, "deflator"] else "level"
    charts = comparison_charts(out_dir, tables, forecasts, ds.catalogue, indicator, measure, lang)
    out.print(table.dropna(how="all").round(3).to_string())
    out.print(f"[green]wrote[/] {out_dir / 'p_attained.csv'}, {', '.join(c.name for c in charts)}")


@command()
def report(result_dir: Path = typer.Argument(..., help="A results folder written by `run`."),
           lang: str = typer.Option("zh", help="Chart labels: zh or en."),
           refit: bool = typer.Option(False, "--refit", help="Fit the posterior again if it is no longer cached "
                                                            "(minutes); without it, report only uses the cache.")):
    """Rebuild a results folder's charts and report from its manifest, on the same data and cached posterior.

    The run's own --data files are reloaded (their checksums must match the manifest); a folder whose
    scenario, data or model changed since the run is refused, and the posterior is never refitted
    unless --refit is given."""
    import pandas as pd

    from model.freshness import require_manifest, stale_reasons
    from model.pipeline import file_sha256, run_scenario, write_results
    from model.scenario import Scenario

    _lang(lang)
    manifest = require_manifest(result_dir)
    try:
        s = Scenario.model_validate(manifest["scenario_definition"])
    except (KeyError, ValueError) as e:
        _fail(f"{result_dir / 'manifest.json'}: scenario_definition: not a valid scenario ({str(e).splitlines()[0]})")
    extra = []
    for f in manifest.get("data_files", []):
        path = Path(f["path"])
        if not path.is_file():
            _fail(f"{result_dir / 'manifest.json'}: data_files: the run used {path}, which is gone")
        if file_sha256(path) != f["sha256"]:
            _fail(f"{result_dir / 'manifest.json'}: data_files: {path} changed since the run; rerun it with "
                  f"`python run.py run ... --data {path}`")
        extra.append(path)
    ds = _dataset(extra)
    try:
        table = pd.read_csv(result_dir / "attainment.csv")
    except (OSError, ValueError) as e:
        _fail(f"{result_dir / 'attainment.csv'}: not readable ({str(e).splitlines()[0]})")
    reasons = stale_reasons(manifest, s, ds, table)
    if reasons:
        _fail(f"{result_dir}: not current: {'; '.join(reasons)}; rerun the scenario with `python run.py run`")
    with err.status(f"rebuilding {result_dir}"):
        write_results(run_scenario(s, ds, refit=refit), result_dir, report=True, lang=lang)
    out.print(f"[green]rebuilt[/] {result_dir / 'report.html'}")


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


BASELINE = Path(__file__).resolve().parent / "scenarios" / "baseline.yaml"
BASELINE_AS_OF = "2024-03-31"
"""The baseline scenario's vintage (``as_of`` of scenarios/baseline.yaml): its posterior is the one `make run` caches."""
MAX_PREDICT_DRAWS = 20000


def _vintage(ds, as_of: str):
    """The vintage of ``as_of``; an error naming ``--as-of`` when no document was published by then."""
    vintage = ds.vintage(as_of)
    if vintage.observations.empty:
        _fail(f"--as-of: no document was published by {as_of} (the first was published "
              f"{ds.observations['published'].min():%Y-%m-%d})")
    return vintage


def _baseline_fit() -> dict:
    """Sampler settings of the baseline scenario (its ``fit:`` block), so a fit of its vintage hits the cache."""
    from model import load_scenario

    return load_scenario(BASELINE).fit.model_dump()


def _check_out_file(path: Path, option: str = "--out") -> None:
    """Refuse, before any work, an output path that is a folder or whose folder does not exist."""
    if path.is_dir():
        _fail(f"{option}: {path} is a folder; give a file name, e.g. {path / 'predictions.csv'}")
    if path.exists() and not path.is_file():
        _fail(f"{option}: {path} exists and is not a regular file")
    if not path.parent.is_dir():
        _fail(f"{option}: folder {path.parent} does not exist; create it first")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        _fail(f"{option}: folder {path.parent} is not writable")


def _write_csv(frame, path: Path) -> None:
    """Write ``frame`` to ``path`` atomically: a unique temporary file in the same folder, then ``os.replace``.

    The temporary file is removed on any failure (including Ctrl-C), so only ``path`` is ever written."""
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            frame.to_csv(fh, index=False)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would make the output private
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@command()
def predict(input_file: Path = typer.Option(..., "--input", help="CSV of figure rows: columns indicator, year, kind, "
                                            "price_basis; optional span_start, value (to score), unit, comparator."),
            out_file: Path = typer.Option(..., "--out", help="CSV to write (its folder must exist); replaced "
                                          "atomically, nothing is written on error."),
            as_of: str = typer.Option(BASELINE_AS_OF, help="Vintage of the fit (ISO date YYYY-MM-DD). Default "
                                      f"{BASELINE_AS_OF}: the baseline scenario's vintage, whose posterior `make run` "
                                      "caches; another date fits anew (minutes)."),
            draws: int = typer.Option(2000, help=f"Predictive draws (1 to {MAX_PREDICT_DRAWS})."),
            seed: int = typer.Option(0)):
    """Posterior predictive mean, quantiles and (where a value is given) PIT and CRPS for figure rows.

    The fit uses the baseline scenario's sampler settings (scenarios/baseline.yaml), so it shares its cached posterior."""
    from model.data import YEAR_RANGE, read_figure_rows
    from model.fit import fit

    as_of = _as_of(as_of)
    _check_out_file(out_file)
    if not 1 <= draws <= MAX_PREDICT_DRAWS:
        _fail(f"--draws: {draws} is not between 1 and {MAX_PREDICT_DRAWS}")
    ds = _dataset(None)
    first = int(_vintage(ds, as_of).observations["year"].min())
    rows = read_figure_rows(input_file, ds.catalogue, (first, YEAR_RANGE[1]))
    settings = _baseline_fit()
    out.print(f"vintage: documents published by {as_of}"
              + (" (the baseline scenario's)" if as_of == BASELINE_AS_OF else "")
              + f"; fit settings of {BASELINE.name}: " + ", ".join(f"{k}={v}" for k, v in settings.items()),
              soft_wrap=True)
    with err.status("fitting (cached when unchanged)"):
        f = fit(ds, as_of=as_of, **settings)
    res = f.predict(rows, n_draws=draws, seed=seed)
    _write_csv(res, out_file)
    out.print(f"[green]wrote[/] {out_file} ({len(res)} rows)", soft_wrap=True)


@command()
def posterior(as_of: str = typer.Option(BASELINE_AS_OF, help="Vintage of the fit (ISO date YYYY-MM-DD); the "
                                        "baseline scenario's by default, with its sampler settings."),
              out_dir: Optional[Path] = typer.Option(None, "--out", help="Also write the tables to this folder "
                                                     "(posterior.csv, learning.csv, predictive_check.csv/.md).")):
    """Posterior of real GDP growth 2021-2023, the GDP deflator path and 2025 nominal GDP; what each class
    learned; and the posterior predictive check of every figure the fit read."""
    from model.fit import fit
    from model.pipeline import check_output_dir, write_folder
    from model.posterior_check import headline_quantities, predictive_check, predictive_markdown

    as_of = _as_of(as_of)
    if out_dir is not None:
        check_output_dir(out_dir)
    ds = _dataset(None)
    _vintage(ds, as_of)
    f = fit(ds, as_of=as_of, **_baseline_fit())
    frame = headline_quantities(f)
    out.print(f"fit: {f.diagnostics.flag()} (as of {as_of}; {len(f.observations)} observations)")
    out.print(frame.drop(columns=["span_start"]).round(3).to_string(index=False))
    learning = None
    if f.idata.attrs.get("engine") == "joint":
        from model.joint import learning_table

        learning = learning_table(f)
        out.print("\nClass parameters, prior sd against posterior sd of their logs (learned, not set):")
        out.print(learning.round(3).to_string(index=False))
    check = predictive_check(f)
    check_text = predictive_markdown(check, as_of)
    out.print("\n" + check_text, markup=False, highlight=False, soft_wrap=True)
    if out_dir is None:
        return

    def fill(tmp: Path) -> dict:
        frame.to_csv(tmp / "posterior.csv", index=False)
        if learning is not None:
            learning.to_csv(tmp / "learning.csv", index=False)
        check.to_csv(tmp / "predictive_check.csv", index=False)
        (tmp / "predictive_check.md").write_text(check_text, encoding="utf-8")
        return {"scenario_hash": None, "fit_key": f.key, "as_of": as_of, "command": f"run.py posterior --as-of {as_of}",
                "diagnostics": f.diagnostics.as_dict()}

    out.print(f"[green]wrote[/] {write_folder(out_dir, fill)}", soft_wrap=True)


@command()
def backtest(as_of: str = typer.Option("2021-05-25", help="Vintage of the fit being scored."),
             draws: Optional[int] = typer.Option(None, min=1, max=20000, help="Posterior draws per chain (default: "
                                                 "the fit's, so the as_of_2021 scenario's posterior is reused)."),
             tune: Optional[int] = typer.Option(None, min=1, max=20000, help="Tuning steps per chain (default: "
                                                "the fit's)."),
             out_dir: Path = typer.Option(Path("results/backtest"), "--out", help="Folder for the scores.")):
    """Fit as of an earlier vintage and score its forecasts of every later figure; score the 13th plan's record."""
    from model.backtest import plan13_record, vintage_backtest, write_backtest, write_plan13
    from model.fit import FitSettings

    draws = FitSettings.draws if draws is None else draws
    tune = FitSettings.tune if tune is None else tune
    ds = _dataset(None)
    as_of = _as_of(as_of)
    _vintage(ds, as_of)
    with err.status(f"backtest as of {as_of}"):
        scores, summary = vintage_backtest(ds, as_of=as_of, draws=draws, tune=tune)
        write_backtest(scores, summary, out_dir)
    out.print(summary.to_string(index=False))
    with err.status("13th-plan record: fit on figures about 2015 and earlier"):
        record, record_summary, reliability = plan13_record(ds, draws=draws, tune=tune)
        write_plan13(record, record_summary, reliability, out_dir)
    out.print(record_summary.to_string(index=False))
    out.print(reliability.to_string(index=False))
    out.print(f"[green]wrote[/] {out_dir}")


@command()
def sbc(replications: int = typer.Option(200, min=1, max=10000, help="Simulated datasets (prior draws)."),
        draws: int = typer.Option(150, min=2, max=20000, help="Posterior draws per replication (one chain)."),
        tune: int = typer.Option(150, min=1, max=20000, help="Tuning steps per replication."),
        ranks: int = typer.Option(50, min=2, max=10000, help="Possible rank values (ranks among ranks − 1 thinned draws)."),
        bins: int = typer.Option(10, min=1, help="Rank-histogram bins of the χ² test (must divide --ranks)."),
        seed: int = typer.Option(2018, min=0, max=2**31 - 1, help="Seed of the prior draws and the sampler."),
        out_dir: Path = typer.Option(Path("results/backtest"), "--out", help="Folder of the SBC outputs.")):
    """Simulation-based calibration of the joint model on the real design: documents simulated from its prior,
    the same model fitted to them; ranks of the truth must be uniform."""
    import time

    from model.sbc import run_sbc, summarise, write_sbc

    if ranks % bins:
        _fail(f"--bins {bins} must divide --ranks {ranks}")
    if draws < ranks - 1:
        _fail(f"--draws {draws} cannot be thinned to --ranks {ranks} − 1 draws")
    start = time.perf_counter()
    with err.status("SBC: building and compiling the model") as status:
        frame = run_sbc(replications, draws=draws, tune=tune, n_ranks=ranks, seed=seed,
                        progress=lambda r, n: status.update(f"SBC: replication {r}/{n}"))
    seconds = time.perf_counter() - start
    summary = summarise(frame, bins=bins)
    settings = (f"Settings: {replications} replications of the design as of 2024-03-31, {draws} draws + {tune} "
                f"tuning steps × 1 chain (nutpie, one core), ranks among {ranks - 1} thinned draws, seed {seed}; "
                f"run time {seconds:.0f} s (`python run.py sbc --replications {replications} --draws {draws} "
                f"--tune {tune} --ranks {ranks} --bins {bins} --seed {seed}`).")
    write_sbc(frame, summary, out_dir, bins=bins, settings=settings)
    out.print(summary.to_string(index=False), markup=False, highlight=False)
    out.print(f"{seconds:.0f} s ({frame.drop_duplicates('replication')['seconds'].median():.1f} s median per "
              f"replication); [green]wrote[/] {out_dir}")


@command()
def schema(out_file: Path = typer.Option(Path("docs/scenarios.md"), "--out", help="Scenario reference to write."),
           dictionary: Path = typer.Option(Path("docs/data.md"), "--dictionary", help="Data dictionary to refresh.")):
    """Write the generated docs: the scenario YAML reference (keeping the hand-written part after it) and the
    indicator table of the data dictionary."""
    from model.docs import data_dictionary_page, scenario_reference_page

    existing = out_file.read_text(encoding="utf-8") if out_file.is_file() else None
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(scenario_reference_page(existing), encoding="utf-8")
    out.print(f"[green]wrote[/] {out_file}")
    if dictionary.is_file():
        page = data_dictionary_page(dictionary.read_text(encoding="utf-8"), _dataset(None).catalogue)
        dictionary.write_text(page, encoding="utf-8")
        out.print(f"[green]wrote[/] {dictionary}")


if __name__ == "__main__":
    app()
