r"""Prior-only indicators: those with a single figure (often just the plan's 2020 base) or none,
and those without any target.

The trend and volatility of an indicator with one figure cannot be learned from it, so sampling
it with NUTS adds dimensions and nothing else: its posterior *is* the prior given the figure,
drawn exactly here. Indicators without a target are drawn the same way from their latest level
(their own history does not change any target's probability, and their programme-count
histories, e.g. approval items −96%, distort the class pools the targets rely on):

.. math::

    x_{i,y} \sim \mathcal N\big(T(v_i),\; p_i^2 + \tau_{c,level}^2\big), \qquad
    \mu_i = (m_c + s_c\, z_i)\,k_i,\; z_i \sim t_3, \qquad
    \sigma_i = \sigma_c\, e^{0.3 u_i}\,k_i,\; u_i \sim \mathcal N(0,1)

with *y* the year of the (latest) level figure, *T* the indicator's transform, :math:`\sigma_c` and :math:`\tau` the
fitted class volatility and document noise (their prior when no data-rich indicator shares the
class), and the path stepping from *y* with :math:`\mu_i + \sigma_i \varepsilon_{i,t}` like any
other. An indicator with no level figure has no level (``unanchored``): only its growth targets
can be evaluated. A lone growth figure does not inform the trend (documented limitation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import priors
from .growth import _scale
from .layout import Layout, anchors


def draw_prior_only(full: Layout, fitted: Layout, post: dict[str, np.ndarray], obs: pd.DataFrame,
                    seed: int) -> tuple[dict[str, np.ndarray], list[str]]:
    """Posterior arrays (x, mu, sigma) on ``full.base`` from the fitted ones plus exact prior-only draws.

    ``post`` holds ``x`` (n, n_fitted, n_years), ``mu``, ``sigma`` (n, n_fitted), ``sigma_class``
    (n, n_classes) with ``classes``, and ``noise_level`` (n, n_classes). Returns the arrays and the ids of
    unanchored indicators.
    """
    rng = np.random.default_rng(seed)
    n = post["x"].shape[0]
    nb, ny = len(full.base), full.n_years
    x = np.zeros((n, nb, ny))
    mu = np.zeros((n, nb))
    sigma = np.zeros((n, nb))
    anchor, anchor_year = anchors(full, obs, last=True)
    scale = _scale(full, anchor)
    unanchored = []
    for j, ind in enumerate(full.base):
        if ind in fitted.base:
            k = fitted.base.index(ind)
            x[:, j], mu[:, j], sigma[:, j] = post["x"][:, k], post["mu"][:, k], post["sigma"][:, k]
            continue
        cls = full.klass(ind)
        cp = priors.CLASS_PRIORS[cls]
        if cls in post["classes"]:
            sig_c = post["sigma_class"][:, post["classes"].index(cls)]
            noise = post["noise_level"][:, post["classes"].index(cls)]
        else:
            sig_c = cp.vol * np.exp(priors.VOL_CLASS_SPREAD * rng.standard_normal(n))
            noise = np.median(post["noise_level"], axis=1)
        mu[:, j] = (cp.drift_mean + cp.drift_sd * rng.standard_t(3.0, n)) * scale[j]
        sigma[:, j] = sig_c * np.exp(priors.VOL_INDICATOR_SPREAD * rng.standard_normal(n)) * scale[j]
        if ind in anchor:
            year = anchor_year[ind]
            sd = np.sqrt(noise**2 + _rounding(obs, ind, year) ** 2)
            level = anchor[ind] + sd * rng.standard_normal(n) * (scale[j] if full.transform(ind) == "identity" else 1.0)
        else:
            unanchored.append(ind)
            year, level = int(full.years[-1]), np.zeros(n)
        col = int(year - full.years[0])
        steps = mu[:, j, None] + sigma[:, j, None] * rng.standard_normal((n, ny))
        path = np.zeros((n, ny))
        path[:, col:] = level[:, None] + np.cumsum(np.where(np.arange(ny) > col, steps, 0.0), axis=1)[:, col:]
        path[:, :col] = level[:, None] - np.cumsum(steps[:, 1: col + 1][:, ::-1], axis=1)[:, ::-1] if col else 0.0
        x[:, j] = path
    return {"x": x, "mu": mu, "sigma": sigma}, unanchored


def _rounding(obs: pd.DataFrame, ind: str, year: int) -> float:
    """Relative rounding sd of the anchoring figure (half a unit of its last digit / √3)."""
    rows = obs[(obs["indicator"] == ind) & (obs["year"] == year) & obs["kind"].isin(["level", "count", "share"])]
    r = rows.iloc[0]
    return float(r["half_unit"] / max(abs(r["value"]), 1e-9) / np.sqrt(3.0))
