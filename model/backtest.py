"""Backtests: does a probability of 0.3 come true 30% of the time?

* **Vintage backtest.** Fit on the documents published by ``as_of`` (default 2021-05-25: the 2021
  report and the plan) and score the predictive distribution of every later figure about a later
  year (the 2023 outcomes in the 2024 documents): PIT, coverage of the 50/80/95% central intervals
  with a binomial (Wilson) interval, CRPS and log score.
* **Baselines** on the same figures, scored by CRPS: *random walk with drift* at the indicator's
  last observed average growth (a point forecast: CRPS = absolute error), *plan as forecast*
  (the 14th plan's 2025 growth target as the growth of every year, where the plan has one: a
  point forecast), and the *model with prior trends* (same paths, trend and volatility from the
  class priors). Skill = 1 − CRPS_model / CRPS_baseline on the figures both can score.
* **13th-plan target record.** Fit on figures about 2015 and earlier, score P(attained) of the
  13th plan's 2020 targets against what happened: Brier score against "every target is met" and
  the base rate, its decomposition, and a reliability diagram (binned P against the share met,
  with Wilson intervals).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scoringrules as sr
from scipy import stats

from . import data as data_mod
from .fit import FitSettings, fit
from .predict import predictive_draws
from .predict import summarise as summarise_draws

LEVELS = (0.50, 0.80, 0.95)
RELIABILITY_BINS = 5
"""Equal-width bins of P(attained) for the reliability diagram and the Brier decomposition."""


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of a binomial proportion k/n."""
    if n == 0:
        return (np.nan, np.nan)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return (centre - half, centre + half)


def later_figures(dataset: data_mod.Dataset, as_of: str, last_year: int) -> pd.DataFrame:
    """Figures published after ``as_of`` about years after the vintage's last year (one per figure:
    a figure quoted by two documents is scored once, from the earlier document)."""
    obs = dataset.observations
    later = obs[(obs["published"] > pd.Timestamp(as_of)) & (obs["year"] > last_year)]
    later = later.sort_values("published").drop_duplicates(["indicator", "year", "span_start", "kind", "value"])
    return later.reset_index(drop=True)


def _rw_forecast(vintage: pd.DataFrame, row) -> float:
    """Random walk with drift: last level grown at the last observed average (or yoy) growth."""
    own = vintage[vintage["indicator"] == row.indicator]
    growth = own[own["kind"].isin(["avg_growth", "yoy_growth"])].sort_values("year")
    if growth.empty:
        return np.nan
    g = growth["value"].iloc[-1]
    if row.kind in ("yoy_growth", "avg_growth"):
        return g
    levels = own[own["kind"].isin(["level", "count"]) & (own["price_basis"] == row.price_basis)].sort_values("year")
    if row.kind in ("level", "count") and len(levels):
        last = levels.iloc[-1]
        return last["value"] * (1 + g / 100) ** (row.year - last["year"])
    return np.nan


def _plan_forecast(targets: pd.DataFrame, row) -> float:
    """The 14th plan's average growth target for the indicator, as the forecast of a growth figure."""
    t = targets[(targets["plan"] == "p14") & (targets["indicator"] == row.indicator)
                & (targets["kind"] == "avg_growth") & targets["threshold"].notna()]
    if row.kind not in ("yoy_growth", "avg_growth") or t.empty:
        return np.nan
    return float(t["threshold"].iloc[0])


def vintage_backtest(dataset: data_mod.Dataset | None = None, as_of: str = "2021-05-25",
                     draws: int = FitSettings.draws, tune: int = FitSettings.tune, seed: int = FitSettings.seed, n_draws: int = 2000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score the model fitted as of ``as_of`` on every later figure; return (per-figure scores, summary)."""

    dataset = dataset or data_mod.shipped()
    f = fit(dataset, as_of=as_of, draws=draws, tune=tune, seed=seed)
    rows = later_figures(dataset, as_of, f.last_year)
    d = predictive_draws(f, rows, n_draws=n_draws, seed=seed)
    d_prior = predictive_draws(f, rows, n_draws=n_draws, seed=seed, prior=True)
    ok = ~np.isnan(d).any(axis=0)
    rows = rows[ok].reset_index(drop=True)
    d, d_prior = d[:, ok], d_prior[:, ok]
    v = rows["value"].to_numpy(float)
    out = rows[["indicator", "year", "span_start", "kind", "price_basis", "value", "unit", "source", "line", "quote"]].copy()
    out["median"] = np.median(d, axis=0)
    scored = summarise_draws(d, v)  # the same PIT, CRPS and log score as run.py predict
    for col in ("pit", "crps", "log_score"):
        out[col] = scored[col].to_numpy()
    for level in LEVELS:
        lo, hi = np.quantile(d, [(1 - level) / 2, (1 + level) / 2], axis=0)
        out[f"in_{round(level * 100)}"] = (v >= lo) & (v <= hi)
    out["crps_prior"] = sr.crps_ensemble(v, d_prior.T)
    vintage = dataset.vintage(as_of).observations
    out["rw_forecast"] = [_rw_forecast(vintage, r) for r in rows.itertuples(index=False)]
    out["crps_rw"] = np.abs(out["rw_forecast"] - v)
    out["plan_forecast"] = [_plan_forecast(dataset.targets, r) for r in rows.itertuples(index=False)]
    out["crps_plan"] = np.abs(out["plan_forecast"] - v)
    return out, summarise(out, f)


def summarise(scores: pd.DataFrame, f) -> pd.DataFrame:
    """Coverage with Wilson intervals, mean CRPS and skill against each baseline."""
    n = len(scores)
    rows = []
    for level in LEVELS:
        k = int(scores[f"in_{round(level * 100)}"].sum())
        lo, hi = wilson(k, n)
        rows.append((f"coverage of {round(level * 100)}% intervals", k / n if n else np.nan,
                     f"{k}/{n}, 95% CI [{lo:.2f}, {hi:.2f}]"))
    rows.append(("mean CRPS (model)", scores["crps"].mean(), f"{n} figures; scale-dependent, see skills"))
    for name, col in (("model with prior trends", "crps_prior"), ("random walk with drift", "crps_rw"),
                      ("plan as forecast", "crps_plan")):
        both = scores[col].notna()
        skill = 1 - scores.loc[both, "crps"].mean() / scores.loc[both, col].mean() if both.any() else np.nan
        top = scores.loc[both, col].idxmax() if both.any() else None
        share = scores.at[top, col] / scores.loc[both, col].sum() if both.any() else np.nan
        rows.append((f"CRPS skill vs {name}", skill, f"on {int(both.sum())} figures both score; "
                     f"{scores.at[top, 'indicator'] if top is not None else '-'} is {share:.0%} of the baseline's CRPS"))
        # the ratio of mean CRPS is dominated by figures in large units; the median of per-figure skills is not
        per_figure = 1 - scores.loc[both, "crps"] / scores.loc[both, col]
        rows.append((f"CRPS skill vs {name}, median per figure", per_figure.median() if both.any() else np.nan,
                     f"{int((per_figure > 0).sum())} of {int(both.sum())} figures better than the baseline"))
    rows.append(("mean log score", scores["log_score"].mean(), "negative log predictive density (KDE)"))
    ks = stats.kstest(scores["pit"], "uniform") if n > 2 else None
    rows.append(("PIT uniformity (KS p-value)", ks.pvalue if ks else np.nan, f"fit {f.diagnostics.flag()}"))
    return pd.DataFrame(rows, columns=["measure", "value", "detail"])


def write_backtest(scores: pd.DataFrame, summary: pd.DataFrame, out_dir: str | Path) -> Path:
    """CSV, Markdown and a PIT histogram under ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out_dir / "scores.csv", index=False)
    summary.to_csv(out_dir / "summary.csv", index=False)
    md = ["# Vintage backtest", "", "| measure | value | detail |", "|---|---|---|"]
    md += [f"| {r.measure} | {r.value:.3f} | {r.detail} |" for r in summary.itertuples()]
    md += ["", "## Per figure", "", "| indicator | year | kind | value | median | PIT | in 80% | CRPS |",
           "|---|---|---|---|---|---|---|---|"]
    md += [f"| {r.indicator} | {r.year} | {r.kind} | {r.value:g} | {r.median:.4g} | {r.pit:.2f} | {r.in_80} | "
           f"{r.crps:.3g} |" for r in scores.itertuples()]
    (out_dir / "backtest.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    fig, ax = plt.subplots(figsize=(5, 3))
    lo, hi = stats.binom.ppf([0.025, 0.975], len(scores), 0.1)
    ax.axhspan(lo, hi, color="0.88", lw=0, label="95% band of a uniform PIT")
    ax.hist(scores["pit"], bins=np.linspace(0, 1, 11), color="#0072B2", edgecolor="white")
    ax.axhline(len(scores) / 10, color="#D55E00", ls="--", lw=1, label="uniform")
    ax.set_xlabel("PIT of later figures")
    ax.set_ylabel("figures")
    ax.legend(fontsize=8, facecolor="white", framealpha=1, edgecolor="none")
    fig.tight_layout()
    fig.savefig(out_dir / "pit_histogram.png", dpi=110)
    plt.close(fig)
    return out_dir


def plan13_record(dataset: data_mod.Dataset | None = None, draws: int = 1000, tune: int = 1000,
                  seed: int = 20210525, n_paths: int = 4000, chains: int = 2
                  ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Score P(attained) of the 13th plan's 2020 targets from a fit on figures about 2015 and earlier.

    The outcome of a target is read from the 2020 figure of the same indicator and kind (专栏1's
    实现情况 column). Returns per-target rows, a summary (Brier score of the model, of "every
    target is met" and of the historical base rate, with the model's Brier decomposition) and the
    reliability table (:func:`reliability_table`).
    """
    from .attainment import attained, attainment_table, read_threshold
    from .simulate import simulate

    dataset = dataset or data_mod.shipped()
    f = fit(dataset, data_through=2015, draws=draws, tune=tune, chains=chains, seed=seed)
    tg = dataset.targets[(dataset.targets["plan"] == "p13") & dataset.targets["threshold"].notna()]
    obs = dataset.observations
    rows = []
    for t in tg.itertuples(index=False):
        o = obs[(obs["indicator"] == t.indicator) & (obs["year"] == t.year) & (obs["kind"] == t.kind)
                & (obs["comparator"] == "=")]
        if len(o):
            threshold = read_threshold(t.threshold, t.comparator, t.kind, t.threshold_half_unit)
            met = bool(attained(np.array([o["value"].iloc[0]]), t.comparator, threshold, t.threshold_high, t.kind)[0])
            rows.append((t.target_id, o["value"].iloc[0], met))
    outcome = pd.DataFrame(rows, columns=["target_id", "outcome", "met"]).set_index("target_id")
    paths = simulate(f, 2020, n_paths, seed)
    table, _ = attainment_table(f, paths, dataset, list(outcome.index))
    table = table.set_index("target_id").join(outcome)
    scored = table[table["status"] == "evaluated"].copy()
    o = scored["met"].astype(float).to_numpy()
    p = scored["p_attained"].to_numpy()
    base = o.mean() if len(o) else np.nan
    d = brier_decomposition(p, o)
    summary = pd.DataFrame([
        ("targets scored (13th plan, outcome known, model evaluable)", len(p), f"of {len(tg)} with a threshold"),
        ("share of targets met", base, "historical base rate"),
        ("Brier score, model", d["brier"], f"fit {f.diagnostics.flag()}"),
        ("Brier score, 'every target is met'", np.mean((1 - o) ** 2), "p = 1 for all"),
        ("Brier score, base rate", np.mean((base - o) ** 2), "p = share met (in-sample, flatters the baseline)"),
        ("Brier difference, model − 'every target is met'", *brier_difference(p, np.ones_like(p), o)),
        ("reliability (lower is better)", d["reliability"], f"Murphy decomposition, {RELIABILITY_BINS} bins"),
        ("resolution (higher is better)", d["resolution"], f"Murphy decomposition, {RELIABILITY_BINS} bins"),
        ("uncertainty", d["uncertainty"], "base rate × (1 − base rate)"),
        ("within-bin variance", d["within_variance"], "of P(attained) around its bin mean"),
        ("within-bin covariance", d["within_covariance"],
         "Brier = reliability − resolution + uncertainty + within-bin variance − 2 × within-bin covariance"),
    ], columns=["measure", "value", "detail"])
    return scored.reset_index(), summary, reliability_table(p, o)


def brier_difference(p: np.ndarray, q: np.ndarray, o: np.ndarray, reps: int = 10000, seed: int = 0
                     ) -> tuple[float, str]:
    """Brier score of ``p`` minus that of ``q`` on outcomes ``o``, with a paired bootstrap 95% interval over
    targets (few targets: is the difference more than chance?)."""
    loss = (p - o) ** 2 - (q - o) ** 2
    if len(loss) == 0:
        return np.nan, ""
    boot = np.random.default_rng(seed).choice(loss, (reps, len(loss))).mean(axis=1)
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return float(loss.mean()), f"paired bootstrap over targets, 95% interval [{lo:.3f}, {hi:.3f}]"


def _bin(p: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width probability bins [0, 1/bins), …, [1 − 1/bins, 1]."""
    return np.clip((np.asarray(p) * bins).astype(int), 0, bins - 1)


def brier_decomposition(p: np.ndarray, o: np.ndarray, bins: int = RELIABILITY_BINS) -> dict[str, float]:
    r"""Brier score and its decomposition over equal-width bins of the forecasts (Stephenson et al. 2008):

    .. math::

        BS = \underbrace{\tfrac1N\sum_k n_k(\bar p_k-\bar o_k)^2}_{\text{reliability}}
           - \underbrace{\tfrac1N\sum_k n_k(\bar o_k-\bar o)^2}_{\text{resolution}}
           + \underbrace{\bar o(1-\bar o)}_{\text{uncertainty}}
           + \underbrace{\tfrac1N\sum_i (p_i-\bar p_{k(i)})^2}_{\text{within-bin variance}}
           - 2\,\underbrace{\tfrac1N\sum_i (p_i-\bar p_{k(i)})(o_i-\bar o_{k(i)})}_{\text{within-bin covariance}}

    exactly (Murphy's three terms add up only when all forecasts in a bin are equal).
    """
    p, o = np.asarray(p, float), np.asarray(o, float)
    n = len(p)
    if n == 0:
        return dict.fromkeys(("brier", "reliability", "resolution", "uncertainty", "within_variance",
                              "within_covariance"), np.nan)
    k = _bin(p, bins)
    base = o.mean()
    rel = res = wbv = wbc = 0.0
    for b in np.unique(k):
        sel = k == b
        pb, ob = p[sel].mean(), o[sel].mean()
        rel += sel.sum() * (pb - ob) ** 2
        res += sel.sum() * (ob - base) ** 2
        wbv += ((p[sel] - pb) ** 2).sum()
        wbc += ((p[sel] - pb) * (o[sel] - ob)).sum()
    return dict(brier=float(np.mean((p - o) ** 2)), reliability=rel / n, resolution=res / n,
                uncertainty=float(base * (1 - base)), within_variance=wbv / n, within_covariance=wbc / n)


def reliability_table(p: np.ndarray, o: np.ndarray, bins: int = RELIABILITY_BINS) -> pd.DataFrame:
    """Per probability bin: targets, mean P(attained), share met and its 95% Wilson interval."""
    p, o = np.asarray(p, float), np.asarray(o, float)
    k = _bin(p, bins)
    rows = []
    for b in range(bins):
        sel = k == b
        n, met = int(sel.sum()), int(o[sel].sum())
        lo, hi = wilson(met, n)
        rows.append(dict(bin_low=b / bins, bin_high=(b + 1) / bins, targets=n, met=met,
                         mean_p=p[sel].mean() if n else np.nan, share_met=met / n if n else np.nan,
                         share_met_low=lo, share_met_high=hi))
    return pd.DataFrame(rows)


def write_plan13(record: pd.DataFrame, summary: pd.DataFrame, reliability: pd.DataFrame, out_dir: str | Path) -> Path:
    """``plan13_record.csv``, ``plan13_summary.csv``, ``reliability.csv``, a reliability diagram, and a section
    appended to ``backtest.md`` (written first by :func:`write_backtest`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record.to_csv(out_dir / "plan13_record.csv", index=False)
    summary.to_csv(out_dir / "plan13_summary.csv", index=False)
    reliability.to_csv(out_dir / "reliability.csv", index=False)
    md = ["", "## 13th-plan target record (fit on figures about 2015 and earlier)", "",
          "| measure | value | detail |", "|---|---|---|"]
    md += [f"| {r.measure} | {r.value:.3f} | {r.detail} |" for r in summary.itertuples()]
    md += ["", "### Reliability (reliability_diagram.png)", "",
           "| P(attained) | targets | mean P | share met | 95% interval |", "|---|---|---|---|---|"]
    md += [f"| {r.bin_low:.1f}–{r.bin_high:.1f} | {r.targets} | {r.mean_p:.2f} | {r.share_met:.2f} | "
           f"[{r.share_met_low:.2f}, {r.share_met_high:.2f}] |" if r.targets else
           f"| {r.bin_low:.1f}–{r.bin_high:.1f} | 0 | | | |" for r in reliability.itertuples()]
    with open(out_dir / "backtest.md", "a", encoding="utf-8") as fh:
        fh.write("\n".join(md) + "\n")

    used = reliability[reliability["targets"] > 0]
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.plot([0, 1], [0, 1], color="0.6", ls="--", lw=1, label="perfect reliability")
    ax.errorbar(used["mean_p"], used["share_met"],
                yerr=[used["share_met"] - used["share_met_low"], used["share_met_high"] - used["share_met"]],
                fmt="o", color="#0072B2", capsize=3, label="share met (95% Wilson interval)")
    for r in used.itertuples():
        ax.annotate(f"n={r.targets}", (r.mean_p, r.share_met), textcoords="offset points", xytext=(6, -10), fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("P(attained), bin mean")
    ax.set_ylabel("share of targets met")
    ax.set_title("13th-plan targets: reliability", fontsize=10)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out_dir / "reliability_diagram.png", dpi=110)
    plt.close(fig)
    return out_dir
