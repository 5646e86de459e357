r"""Attainment: the probability that each target is met, read off simulated paths.

For target *k* with quantity :math:`q_k` (the observation operator of its kind applied to the
simulated path: nominal level, average real growth over the plan years including those already
observed, share, count, pp change, cumulative total) and threshold :math:`c_k`,

.. math::

    P_k = \frac1S \sum_s \mathbb 1\{q_k^{(s)} \;\mathrm{cmp}_k\; c_k\}

where cmp is ≥, >, ≤, <, a range, or "about": a floor with a tolerance (:math:`q \ge c - t`,
t = 0.5 points for rates and shares, 2% of the threshold for levels), because exceeding a
左右 target counts as meeting it in Chinese plan evaluation. A printed ceiling of 0 on a positive
quantity (劣Ⅴ类水体比例 ≤ 0%: "eliminate") means "below half a unit of the printed precision"
(:math:`q \le 0.5`), as :func:`model.growth.censor_zeros` reads a printed 0 among the figures: a
share on a logit scale is never exactly 0, so the literal reading would give P = 0 whatever happens.

Monte Carlo standard error (``mcse``, probability units): paths reuse posterior draws, which are
autocorrelated, so the error of :math:`P_k` comes from the effective sample size of the draws the
paths extend (:func:`model.mcse.share_mcse`), not from :math:`\sqrt{P(1-P)/S}`, which is only its floor.

Evidence: what is known of the indicator's trend in the target's plan period (for a ratio a/b, of
:math:`\mu_a-\mu_b`) is split into the shares from the figures (``drift_learning``), from the plan's
own target (``plan_share``, :mod:`model.planner`) and from the class prior (:func:`trend_evidence`);
:math:`P^{prior}_k` is the probability when the trend and volatility are drawn from the class priors
instead of the posterior (same observed starting point). Label: ``data`` (data share ≥ 0.5),
``mixed`` (0.2–0.5), else ``plan`` or ``prior``, whichever share is larger.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from .data import Dataset, formula_terms, half_unit
from .fit import Fit
from .mcse import share_mcse
from .operators import OP_OF_KIND, evaluate
from .simulate import Paths

ABOUT_TOLERANCE = {"rate": 0.5, "level": 0.02}
"""Tolerance of 'about' targets: points for rates/shares/changes, fraction of the threshold for levels."""

LOWER_IS_BETTER = ("<", "<=")
POSITIVE_KINDS = ("level", "count", "share", "cumulative")


GROWTH_KINDS = ("yoy_growth", "avg_growth", "cum_growth")


def level_unknown(fit: Fit, rows: pd.DataFrame) -> np.ndarray:
    """True for rows that need a level the data never gave (an unanchored indicator, or a ratio of one):
    only growth figures of such indicators can be read."""
    cat = fit.layout.catalogue
    unanchored = set(fit.unanchored) | unanchored_fitted(fit)
    return np.array([kind not in GROWTH_KINDS and bool(set(formula_terms(cat.at[ind, "links"]) or (ind,)) & unanchored)
                     for ind, kind in zip(rows["indicator"], rows["kind"])], dtype=bool)


def unanchored_fitted(fit: Fit) -> set[str]:
    """Sampled indicators whose level no figure pins: no level of their own, nor through a ratio
    with a level figure whose other term is pinned (SEI value added is pinned by SEI share × GDP)."""
    from .layout import anchors

    layout, obs = fit.layout, fit.observations
    anchored = set(anchors(layout, obs)[0]) | set(obs.loc[obs["kind"] == "cumulative", "indicator"])
    levels = set(obs.loc[obs["kind"].isin(["level", "count", "share"]), "indicator"])
    for _ in range(3):
        for d in layout.derived:
            a, b = formula_terms(layout.catalogue.at[d, "links"])
            if d in levels and (a in anchored or b in anchored):
                anchored |= {a, b}
    sampled = set(json.loads(fit.idata.attrs.get("fitted", "[]")))
    return sampled - anchored - {"gdp_deflator"}


def target_quantity(paths: Paths, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per-path value of each row's quantity (n_paths, n_rows); NaN where the model cannot read it.

    Also returns a boolean mask of readable rows.
    """
    cells = paths.cells()
    index = paths.layout.index(rows)
    out = np.full((cells.shape[0], len(rows)), np.nan)
    for op, pos in index.rows.items():
        out[:, pos] = evaluate(op, cells, index.idx[op], index.weights[op])
    return out, ~np.isnan(out).all(axis=0)


def read_threshold(threshold: float, comparator: str, kind: str, printed_half_unit: float | None = None) -> float:
    """The threshold as the comparison should use it: a ceiling of 0 (or below) on a positive quantity is
    half a unit of its printed precision (``printed_half_unit``; default: that of the number as written
    by ``%g``, 0.5 for 0), and a floor of 100% on a share (a logit path never reaches it) is 100 minus
    half a unit; any other threshold as printed."""
    zero_ceiling = comparator in LOWER_IS_BETTER and kind in POSITIVE_KINDS and threshold <= 0
    full_floor = comparator in (">=", ">", "=") and kind == "share" and threshold >= 100
    if not (zero_ceiling or full_floor):
        return float(threshold)
    if printed_half_unit is None or pd.isna(printed_half_unit):
        printed_half_unit = float(half_unit(pd.Series([f"{threshold:g}"])).iloc[0])
    return float(printed_half_unit) if zero_ceiling else 100.0 - float(printed_half_unit)


def attained(q: np.ndarray, comparator: str, threshold: float, high: float | None, kind: str) -> np.ndarray:
    """Boolean per path: does the quantity meet the target?"""
    if comparator in (">=", "="):
        return q >= threshold
    if comparator == ">":
        return q > threshold
    if comparator == "<=":
        return q <= threshold
    if comparator == "<":
        return q < threshold
    if comparator == "range":
        return (q >= threshold) & (q <= high)
    if comparator == "about":
        tol = ABOUT_TOLERANCE["level"] * abs(threshold) if kind in ("level", "count", "cumulative") else ABOUT_TOLERANCE["rate"]
        return q >= threshold - tol
    raise ValueError(f"unknown comparator {comparator!r}")


def trend_evidence(fit: Fit, indicator: str, year: int | None = None) -> tuple[float, float, float]:
    """Shares (data, plan, prior) of what is known of the trend that drives an indicator's quantity in ``year``:
    the fitted trend of the last plan period, that of a later period the plan states (``Fit.ahead``), or for any
    other later period the long-run trend plus a fresh period shift. From the trend's variance under the class prior, under the prior
    and the plan's statement (no figures), and under the posterior (:func:`model.planner.evidence_shares`).
    For a ratio, of the numerator's trend minus the denominator's. NaNs where a term is not modelled."""
    from .growth import plan_period
    from .planner import evidence_shares, no_data_variances
    from .priors import CLASS_PRIORS, PERIOD_SHIFT
    from .simulate import prior_scale

    layout = fit.layout
    terms = formula_terms(layout.catalogue.at[indicator, "links"]) or (indicator,)
    if any(t not in layout.base for t in terms):
        return float("nan"), float("nan"), float("nan")
    period = plan_period(year if year is not None else fit.last_year)
    later = period != plan_period(fit.last_year)
    stated = period in fit.ahead
    signals = fit.planner
    rng = np.random.default_rng(1)
    v0 = v1 = 0.0
    post = 0.0
    for sign, t in zip([1.0, -1.0], terms):
        j = layout.base.index(t)
        cp = CLASS_PRIORS[layout.klass(t)]
        scale = prior_scale(fit)[j]
        mine = signals[(signals["indicator"] == t) & (signals["period"] == period)]
        g = float(mine["drift"].iloc[0]) if len(mine) else None
        a, b = no_data_variances(cp.drift_mean * scale, cp.drift_sd * scale, g)
        v0, v1 = v0 + a, v1 + b
        if not later:
            trend = fit.draws("mu")[:, j]
        elif stated:
            trend = fit.draws("mu_ahead")[:, j, fit.ahead.index(period)]
        else:
            base = fit.draws("mu_base")[:, j]
            trend = base + PERIOD_SHIFT * cp.drift_sd * scale * rng.standard_normal(len(base))
        post = post + sign * trend
    return evidence_shares(v0, v1, float(np.var(post)))


def evidence_label(data: float, plan: float = 0.0) -> str:
    """'data' (figures give at least half of what is known of the trend), 'mixed' (a fifth), else 'plan' or
    'prior', whichever gives more."""
    if np.isnan(data):
        return "n/a"
    if data >= 0.2:
        return "data" if data >= 0.5 else "mixed"
    return "plan" if plan > 1.0 - data - plan else "prior"


def _last_observed(fit: Fit, indicator: str) -> int:
    obs = fit.observations
    terms = formula_terms(fit.layout.catalogue.at[indicator, "links"])
    years = obs.loc[obs["indicator"].isin([indicator, *terms]), "year"]
    return int(years.max()) if len(years) else fit.last_year


def _required(paths: Paths, row, threshold: float, last: int) -> tuple[float, float, str]:
    """Growth (or pp/yr) still needed from the last observed year, and its predictive percentile."""
    year = int(row.year)
    if year <= last or row.kind in ("cumulative",):
        return np.nan, np.nan, ""
    years_left = year - last
    unit = "pp/yr" if row.kind in ("share", "pp_change") else "%/yr"
    base = row._replace(kind="level" if row.kind not in ("share", "pp_change") else "share", year=last, span_start=None)
    end = row._replace(kind=base.kind, year=year, span_start=None)
    q, ok = target_quantity(paths, pd.DataFrame([base, end]))
    if not ok.all():
        return np.nan, np.nan, ""
    start_v, end_v = q[:, 0], q[:, 1]
    if row.kind in ("share",):
        need = (threshold - np.median(start_v)) / years_left
        model_rate = (end_v - start_v) / years_left
    elif row.kind in ("level", "count"):
        need = 100 * ((threshold / np.median(start_v)) ** (1 / years_left) - 1)
        model_rate = 100 * ((end_v / start_v) ** (1 / years_left) - 1)
    elif row.kind == "avg_growth":
        span = int(row.span_start)
        n = year - span + 1
        done = last - span + 1
        if done <= 0:
            need = threshold
        else:
            past, _ = target_quantity(paths, pd.DataFrame([row._replace(year=last)]))
            factor = (1 + threshold / 100) ** n / (1 + np.median(past[:, 0]) / 100) ** done
            need = 100 * (factor ** (1 / years_left) - 1)
        model_rate = 100 * ((end_v / start_v) ** (1 / years_left) - 1)
    elif row.kind == "yoy_growth":
        need = threshold
        model_rate = 100 * ((end_v / start_v) ** (1 / years_left) - 1) if years_left == 1 else np.full_like(end_v, np.nan)
    else:
        return np.nan, np.nan, ""
    return float(need), float(np.mean(model_rate <= need)), unit


def attainment_table(fit: Fit, paths: Paths, dataset: Dataset, target_ids: list[str],
                     thresholds: dict[str, float] | None = None, prior_paths: Paths | None = None
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per target with P(attained), the target-year distribution and evidence.

    Parameters
    ----------
    fit : Fit
        The posterior the paths extend (for the evidence columns and the last observed year).
    paths : Paths
        Simulated paths, e.g. from :func:`model.simulate`.
    dataset : Dataset
        Supplies the target registry and the catalogue.
    target_ids : list of str
        Ids of ``dataset.targets`` to evaluate, e.g. ``["p14_gdp", "p14_gdp_growth"]``.
    thresholds : dict, optional
        Threshold by target id (in the target's unit), for targets without a number or to override one.
    prior_paths : Paths, optional
        Paths with the class priors' trend and volatility; adds the ``p_prior`` column.

    Returns
    -------
    table : DataFrame
        One row per target: ``p_attained`` (share of paths meeting the target, 0–1; NaN when not
        evaluable, see ``status``), ``mcse`` (its Monte Carlo standard error, in the same 0–1 units,
        from the effective sample size of the posterior draws the paths extend, plus resampling and
        innovations: :func:`model.mcse.share_mcse`; never below the binomial error of ``n_paths``
        independent paths; 0 when P is 0 or 1), ``median``/``q05``/``q95`` of the target quantity in its unit,
        ``evidence``, ``drift_learning`` (share of the trend's knowledge from figures) and ``plan_share``
        (from the plan's own target, :mod:`model.planner`), the growth still needed, provenance.
    hits : DataFrame of bool
        Paths × evaluated targets: whether each path meets each target (for :func:`joint_results`).

    Examples
    --------
    >>> import model
    >>> ds = model.load_data()
    >>> f = model.fit(ds, as_of="2024-03-31", draws=150, tune=150, chains=2, seed=11)
    >>> paths = model.simulate(f, horizon=2025, n_paths=500, seed=1)
    >>> table, hits = model.attainment_table(f, paths, ds, ["p14_gdp", "p14_gdp_growth"])
    >>> table[["target_id", "comparator", "threshold", "unit", "status"]]
            target_id comparator  threshold unit     status
    0         p14_gdp         >=     2800.0   亿元  evaluated
    1  p14_gdp_growth          >        8.0    %  evaluated
    >>> bool(table["p_attained"].between(0, 1).all()), hits.shape
    (True, (500, 2))
    >>> bool((table["p_attained"] == hits.mean().to_numpy()).all())   # P = share of paths that meet it
    True
    >>> p = table["p_attained"]                                        # MCSE: at least the binomial error
    >>> bool((table["mcse"] >= (p * (1 - p) / 500) ** 0.5).all())
    True
    """
    thresholds = thresholds or {}
    tg = dataset.targets.loc[target_ids]
    cat = dataset.catalogue
    q_all, readable = target_quantity(paths, tg)
    readable &= ~level_unknown(fit, tg)
    q_prior = target_quantity(prior_paths, tg)[0] if prior_paths is not None else None
    records, hits = [], {}
    post = fit.idata.posterior
    posterior_shape = (int(post.sizes["chain"]), int(post.sizes["draw"]))
    for j, row in enumerate(tg.itertuples(index=False)):
        threshold = thresholds.get(row.target_id, row.threshold)
        rec = {
            "target_id": row.target_id, "plan": row.plan, "indicator": row.indicator,
            "name_zh": cat.at[row.indicator, "name_zh"], "name_en": cat.at[row.indicator, "name_en"],
            "year": int(row.year), "span_start": row.span_start, "kind": row.kind,
            "price_basis": row.price_basis, "attribute": row.attribute,
            "comparator": row.comparator, "threshold": threshold, "threshold_high": row.threshold_high,
            "unit": row.unit, "threshold_from": "scenario" if row.target_id in thresholds else "document",
            "source": row.source, "line": row.line, "quote": row.quote,
        }
        q = q_all[:, j]
        if not readable[j]:
            rec["status"] = "not evaluable: the model has no path for this quantity (no base value)"
        elif pd.isna(threshold):
            rec["status"] = "not evaluable: no threshold in the document; supply one in the scenario's thresholds"
        else:
            rec["status"] = "evaluated"
        if readable[j]:
            rec.update(median=float(np.median(q)), q05=float(np.quantile(q, 0.05)), q95=float(np.quantile(q, 0.95)))
            lower = row.comparator in LOWER_IS_BETTER
            rec["threshold_p50"] = float(np.quantile(q, 0.5))
            rec["threshold_p80"] = float(np.quantile(q, 0.8 if lower else 0.2))
            data, plan, _ = trend_evidence(fit, row.indicator, int(row.year))
            rec.update(drift_learning=data, plan_share=plan, evidence=evidence_label(data, plan),
                       last_observed_year=_last_observed(fit, row.indicator))
        if rec["status"] == "evaluated":
            printed = getattr(row, "threshold_half_unit", None) if rec["threshold_from"] == "document" else None
            threshold = read_threshold(float(threshold), row.comparator, row.kind, printed)
            hit = attained(q, row.comparator, threshold, row.threshold_high, row.kind)
            hits[row.target_id] = hit
            rec["p_attained"] = float(hit.mean())
            rec["mcse"] = float(share_mcse(hit, paths.posterior_draw, *posterior_shape))
            if q_prior is not None:
                rec["p_prior"] = float(attained(q_prior[:, j], row.comparator, threshold,
                                                row.threshold_high, row.kind).mean())
            need, pct, unit = _required(paths, row, threshold, rec["last_observed_year"])
            rec.update(required_rate=need, required_rate_unit=unit, required_rate_percentile=pct)
        records.append(rec)
    return pd.DataFrame(records), pd.DataFrame(hits)


def joint_results(hits: pd.DataFrame, table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """P(all), P(all binding), P(at least k of n), and the correlation of attainment across targets.

    Parameters
    ----------
    hits, table : DataFrame
        The two results of :func:`attainment_table`.

    Returns
    -------
    joint : DataFrame
        Columns ``event``, ``n_targets``, ``probability`` (0–1): all evaluated targets, all binding
        (约束性) ones if any, and at least k of n for every k.
    correlation : DataFrame
        Pearson correlation of the attainment indicators of the targets that vary across paths
        (empty if fewer than two do).

    Examples
    --------
    >>> import model
    >>> ds = model.load_data()
    >>> f = model.fit(ds, as_of="2024-03-31", draws=150, tune=150, chains=2, seed=11)
    >>> paths = model.simulate(f, horizon=2025, n_paths=500, seed=1)
    >>> table, hits = model.attainment_table(f, paths, ds, ["p14_gdp", "p14_gdp_growth", "a2024_gdp"])
    >>> joint, corr = model.joint_results(hits, table)
    >>> joint["event"].tolist()
    ['all evaluated targets', 'at least 1 of 3', 'at least 2 of 3', 'at least 3 of 3']
    >>> p = joint.set_index("event")["probability"]
    >>> bool(p["all evaluated targets"] == p["at least 3 of 3"] <= p["at least 2 of 3"] <= p["at least 1 of 3"] <= 1)
    True
    """
    rows = []
    if hits.shape[1]:
        binding = [t for t in hits.columns if table.set_index("target_id").at[t, "attribute"] == "约束性"]
        rows.append(("all evaluated targets", hits.shape[1], float(hits.all(axis=1).mean())))
        if binding:
            rows.append(("all binding (约束性) targets", len(binding), float(hits[binding].all(axis=1).mean())))
        met = hits.sum(axis=1)
        n = hits.shape[1]
        for k in range(1, n + 1):
            rows.append((f"at least {k} of {n}", n, float((met >= k).mean())))
    joint = pd.DataFrame(rows, columns=["event", "n_targets", "probability"])
    varying = hits.loc[:, hits.std() > 0].astype(float)
    corr = varying.corr() if varying.shape[1] > 1 else pd.DataFrame()
    return joint, corr
