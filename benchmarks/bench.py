"""Benchmark: cold and warm fit of the joint engine beside the earlier engine, ESS per second, posterior size,
and scenarios on a cached posterior.

Writes benchmarks/results.md. Run with `make bench` (cold fit included: several minutes on 2 cores).
"""

import platform
import shutil
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

import importlib  # noqa: E402

fit_mod = importlib.import_module("model.fit")  # the module, not model.fit the function
from model import data  # noqa: E402
from model.pipeline import run_scenario  # noqa: E402
from model.scenario import load_scenario  # noqa: E402

OUT = Path(__file__).with_name("results.md")


def _fit_row(label: str, f, seconds: float) -> str:
    d, t = f.diagnostics, f.timings
    size = (fit_mod.CACHE_DIR / f"{f.key}.nc").stat().st_size / 1e6 if (fit_mod.CACHE_DIR / f"{f.key}.nc").exists() else float("nan")
    return (f"| {label} | {seconds:.1f} | {t.get('build and compile', 0):.1f} | {t.get('sample', 0):.1f} | "
            f"{t.get('sparse indicators', t.get('paths', 0)):.1f} | {d.min_ess_bulk:.0f} / {d.min_ess_tail:.0f} | "
            f"{d.min_ess_bulk / d.seconds:.0f} | {d.max_rhat:.3f} | {d.divergences} | {size:.0f} |")


def reference_seconds() -> float:
    """A fixed workload timed in the same run, so that timings taken on a busy or slower machine can be read
    as multiples of it: 40 Cholesky factorisations and solves of a seeded 600 x 600 SPD matrix (NumPy/BLAS)
    plus a pure-Python loop of 2 million additions. Best of three."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((600, 600))
    spd = a @ a.T + 600 * np.eye(600)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(40):
            np.linalg.solve(np.linalg.cholesky(spd), a)
        total = 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - t)
    return best


def main():
    ref_before = reference_seconds()
    ds = data.shipped()
    base = load_scenario("scenarios/baseline.yaml")
    settings = base.fit.model_dump()
    fits, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        real_cache = fit_mod.CACHE_DIR
        fit_mod.CACHE_DIR = Path(tmp)
        t = time.perf_counter()
        cold = fit_mod.fit(ds, as_of=base.as_of, **settings)
        fits.append(_fit_row("joint engine, cold: empty caches (build, compile, sample, paths, write)", cold,
                             time.perf_counter() - t))
        t = time.perf_counter()
        warm = fit_mod.fit(ds, as_of=base.as_of, **{**settings, "seed": settings["seed"] + 1})
        fits.append(_fit_row("warm: model compiled in this process, another seed (sample, paths, write)", warm,
                             time.perf_counter() - t))
        t = time.perf_counter()
        early = fit_mod.fit(ds, as_of="2021-05-25", **settings)
        fits.append(_fit_row("joint engine, the backtest's vintage (as of 2021-05-25), model compiled for it",
                             early, time.perf_counter() - t))
        t = time.perf_counter()
        old = fit_mod.fit(ds, as_of=base.as_of, engine="sampled", draws=3000, tune=2000, chains=2, seed=settings["seed"])
        fits.append(_fit_row("earlier engine (`engine=\"sampled\"`, its settings: 3000 draws + 2000 tuning, "
                             "target_accept 0.99), cold", old, time.perf_counter() - t))
        t = time.perf_counter()
        fit_mod.fit(ds, as_of=base.as_of, **settings)
        rows.append(("posterior cache hit (same data, settings and code)", time.perf_counter() - t))
        fit_mod.CACHE_DIR = real_cache
        if not (real_cache / f"{cold.key}.nc").exists():
            real_cache.mkdir(parents=True, exist_ok=True)
            shutil.copy(Path(tmp) / f"{cold.key}.nc", real_cache / f"{cold.key}.nc")
    for name in ("baseline", "slowdown", "coal_downturn"):
        s = load_scenario(f"scenarios/{name}.yaml")
        t = time.perf_counter()
        run_scenario(s, ds)
        rows.append((f"scenario `{name}` on the cached posterior (simulate + attainment, {s.draws} paths)",
                     time.perf_counter() - t))
    ref = min(ref_before, reference_seconds())
    rows = [(k, v, v / ref) for k, v in rows]
    fits = [f"{row} {float(row.split('|')[2]) / ref:.0f} |" for row in fits]  # column 2: total seconds
    lines = ["# Benchmark", "", "Measured by `make bench` (`benchmarks/bench.py`). Every time is also given as a "
             f"multiple of a fixed reference workload timed in the same run ({ref:.2f} s here; see "
             "`reference_seconds`), so runs on a busy or slower machine compare.", "", f"Machine: {platform.machine()}, {platform.python_version()}, "
             f"{__import__('os').cpu_count()} cores. Sampler: {fit_mod.SAMPLER}, {base.fit.chains} chains × "
             f"{base.fit.draws} draws (+{base.fit.tune} tuning), target_accept {fit_mod.FitSettings.target_accept}.",
             "", "Full fit (as of 2024-03-31 unless the row says otherwise), seconds:", "",
             "| fit | total | build + compile | sample | paths (joint) or sparse (earlier) | min ESS bulk / tail | "
             "ESS/s (sampling) | max R-hat | divergences | posterior file, MB | total / reference |",
             "|---|---|---|---|---|---|---|---|---|---|---|", *fits,
             "", "| step | seconds | / reference |", "|---|---|---|"]
    lines += [f"| {k} | {v:.1f} | {r:.1f} |" for k, v, r in rows]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
