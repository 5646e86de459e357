r"""Monte Carlo standard error of a probability read off simulated paths.

A path extends one posterior draw (``Paths.posterior_draw``, an index into the chains stacked
first: ``chain * n_draws_per_chain + draw``) with fresh innovations. Paths that share a draw are
correlated, and successive MCMC draws are autocorrelated, so the share of :math:`S` paths that meet
a target is *not* as precise as :math:`S` independent Bernoulli trials: the standard error must come
from the effective sample size of the draws actually used.

For target indicator :math:`I_s \in \{0, 1\}` of path :math:`s`, :math:`\hat P = \frac1S\sum_s I_s`.
Over the :math:`D = C \times N` posterior draws (C chains of N draws), let :math:`n_d` be the number
of paths extending draw :math:`d` (0 for an unused draw) and :math:`y_d` the number of those that meet
the target. Linearising :math:`\hat P = \sum_d y_d / \sum_d n_d` (a ratio estimator, as for
self-normalised importance sampling) gives per-draw residuals

.. math::

    r_d = \frac{D}{S}\,(y_d - n_d \hat P), \qquad \hat P - P \approx \bar r = \frac1D \sum_d r_d,

arranged as a (chain, draw) array in sampling order. Their mean's MCSE, by ArviZ's
autocorrelation-based effective sample size (``az.mcse(r, method="mean")`` = sd(r) / √ESS(r)),
covers the three sources of Monte Carlo error at once: the autocorrelation of the chains, the
resampling of draws (a draw used twice counts twice, an unused one contributes 0) and the fresh
innovations of each path. When every draw is used by exactly one path (:math:`S = D`) the residual is
:math:`I_d - \hat P` and this is the plain MCSE of the indicator series; for independent draws it is
:math:`\sqrt{\hat P(1-\hat P)/S}`.

The reported value is never below the binomial standard error :math:`\sqrt{\hat P(1-\hat P)/S}` of
:math:`S` independent paths: an ESS estimated above :math:`S` (antithetic chains) is not trusted to
beat it. Units: those of :math:`\hat P`, a probability in 0–1 (0.01 = one percentage point).
It is 0 when :math:`\hat P` is 0 or 1 (no path differs; by the rule of three the probability is then
within about 3/ESS of the bound), and NaN when a chain has fewer than 4 draws (no ESS can be estimated).
"""

from __future__ import annotations

import numpy as np

MIN_DRAWS_PER_CHAIN = 4
"""ArviZ needs at least 4 draws per chain for an effective sample size."""


def share_mcse(hits, posterior_draw, chains: int, draws_per_chain: int) -> np.ndarray:
    r"""MCSE of the share of paths that meet each target, from the ESS of the posterior draws used.

    Parameters
    ----------
    hits : array of bool or 0/1, shape (n_paths,) or (n_paths, n_targets)
        Whether each path meets each target.
    posterior_draw : array of int, shape (n_paths,)
        The posterior draw each path extends, an index into the chains stacked first
        (``chain * draws_per_chain + draw``), as in ``Paths.posterior_draw``.
    chains, draws_per_chain : int
        Shape of the posterior (``fit.idata.posterior.sizes["chain"]``, ``["draw"]``).

    Returns
    -------
    ndarray of float, shape (n_targets,) (a 0-d array for 1-d ``hits``)
        Monte Carlo standard error of each share, in probability units (0–1); see the module
        docstring for the formula. 0 where the share is 0 or 1, NaN if ``draws_per_chain < 4`` (or if ArviZ
        cannot estimate the ESS).

    Examples
    --------
    Independent draws, one path each: the binomial standard error.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> hits = rng.random(4000) < 0.3
    >>> se = float(share_mcse(hits, np.arange(4000), chains=2, draws_per_chain=2000))
    >>> bool(abs(se - np.sqrt(0.3 * 0.7 / 4000)) < 0.001)
    True
    """
    import arviz as az

    hits = np.asarray(hits, dtype=float)
    one = hits.ndim == 1
    hits = hits.reshape(len(hits), -1)
    draw = np.asarray(posterior_draw, dtype=np.int64)
    n_paths, n_post = hits.shape[0], chains * draws_per_chain
    if draw.shape != (n_paths,):
        raise ValueError(f"posterior_draw has shape {draw.shape}, expected ({n_paths},) (one draw per path)")
    if n_paths and (draw.min() < 0 or draw.max() >= n_post):
        raise ValueError(f"posterior_draw indexes outside the {chains} × {draws_per_chain} posterior draws")
    out = np.full(hits.shape[1], np.nan)
    if n_paths == 0 or draws_per_chain < MIN_DRAWS_PER_CHAIN:
        return out[0] if one else out
    p = hits.mean(axis=0)
    counts = np.bincount(draw, minlength=n_post).astype(float)
    for k in range(hits.shape[1]):
        binomial = np.sqrt(p[k] * (1 - p[k]) / n_paths)
        if p[k] in (0.0, 1.0):
            out[k] = 0.0
            continue
        met = np.bincount(draw, weights=hits[:, k], minlength=n_post)
        resid = (n_post / n_paths) * (met - counts * p[k])
        se = float(np.ravel(az.mcse(resid.reshape(chains, draws_per_chain), method="mean"))[0])
        out[k] = max(se, binomial) if np.isfinite(se) else np.nan
    return out[0] if one else out
