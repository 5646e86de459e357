r"""Observation operators: every kind of figure as a function of the latent log-level paths.

Let :math:`\ell_{i,t}` be the log of indicator *i*'s value in year *t* (nominal or real, see
:mod:`model.layout`) and :math:`v_{i,t} = e^{\ell_{i,t}}` the value in its unit (shares in %).
A figure for year *t* with span start *S* (first year of the span) is

=============  ==============================================================  ===================
kind           operator                                                        compared on
=============  ==============================================================  ===================
level, count,  :math:`v_{i,t}`                                                  log scale
share
yoy_growth     :math:`100\,(e^{\ell_{i,t}-\ell_{i,t-1}}-1)`                      percentage points
avg_growth     :math:`100\,(e^{(\ell_{i,t}-\ell_{i,S-1})/(t-S+1)}-1)`            percentage points
cum_growth     :math:`100\,(e^{\ell_{i,t}-\ell_{i,S-1}}-1)`                      percentage points
pp_change      :math:`v_{i,t}-v_{i,S-1}`                                         percentage points
cumulative     :math:`\sum_{u=S}^{t} v_{i,u}`                                     log scale
=============  ==============================================================  ===================

Each operator is a weighted sum over at most a few cells of :math:`\ell` (``log`` ops) or of
:math:`v` (``sum``/``diff`` ops) followed by a scalar map, so one function serves fitting
(PyTensor, pass ``xp=pytensor.tensor``) and prediction (NumPy, with a leading draw axis).
"""

from __future__ import annotations

import numpy as np

OP_OF_KIND = {
    "level": "level", "count": "level", "share": "level",
    "yoy_growth": "growth", "avg_growth": "growth", "cum_growth": "growth",
    "pp_change": "diff", "cumulative": "sum",
}
"""Operator family of each observation kind."""

LOG_SCALE_OPS = ("level", "sum")
"""Families compared on the log scale (relative errors); the others in percentage points."""


def cell_years(kind: str, year: int, span_start: int | None) -> tuple[list[int], list[float]]:
    """Years whose latent values a figure reads, with their weights (see the table above)."""
    op = OP_OF_KIND[kind]
    if op == "level":
        return [year], [1.0]
    if kind == "yoy_growth":
        return [year, year - 1], [1.0, -1.0]
    start = int(span_start) if span_start is not None else year
    if kind == "avg_growth":
        n = year - start + 1
        return [year, start - 1], [1.0 / n, -1.0 / n]
    if op in ("growth", "diff"):
        return [year, start - 1], [1.0, -1.0]
    years = list(range(start, year + 1))
    return years, [1.0] * len(years)


def evaluate(op: str, log_values, idx: np.ndarray, weights: np.ndarray, xp=np):
    """Natural-scale value of figures of one operator family.

    Parameters
    ----------
    op : {"level", "growth", "diff", "sum"}
    log_values : array (..., n_cells)
        Flattened :math:`\\ell` over (basis, indicator, year) cells; leading axes are draws.
    idx, weights : arrays (n_figures, k)
        Cells each figure reads and their weights (zero-weight padding allowed).
    xp : module
        ``numpy`` or ``pytensor.tensor``.

    Returns
    -------
    array (..., n_figures): levels in their unit, growth in %, changes in pp, sums in the unit.
    """
    # a 1-D take reshaped (the gradient of a 2-D take is a fancy set_subtensor numba runs in object mode)
    taken = xp.take(log_values, idx.ravel(), axis=-1)
    taken = taken.reshape((*taken.shape[:-1], *idx.shape)) if xp is np else taken.reshape(idx.shape)  # (..., n, k)
    if op == "level":
        return xp.exp((taken * weights).sum(axis=-1))
    if op == "growth":
        return 100.0 * xp.expm1((taken * weights).sum(axis=-1))
    return (xp.exp(taken) * weights).sum(axis=-1)  # diff and sum read levels, not logs


def to_comparison_scale(op: str, natural, xp=np):
    """The scale on which a figure's noise is additive: log for levels and sums, else as is."""
    return xp.log(natural) if op in LOG_SCALE_OPS else natural
