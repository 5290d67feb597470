"""Intervals over seeds for the numbers the book reports.

Every rate, count and boundary in the chapters comes from a handful of independently seeded
models, so each gets an interval:

- :func:`bootstrap_interval`: a percentile bootstrap of any statistic of per-model values,
  resampling whole *clusters* (e.g. seeds, when one seed trains a model at every density) so
  that models which share a seed are not treated as independent;
- :func:`wilson_interval`: the Wilson score interval of a binomial proportion k/n (e.g. the
  share of seeds that reach a configuration), which stays inside [0, 1] and is not degenerate
  at k = 0 or k = n (Wilson 1927, "Probable inference, the law of succession, and statistical
  inference", JASA 22:209);
- :func:`vote_range`: for a grid whose cells each take the majority class of their seeds,
  the share of cells whose majority matches a reference (the theory's class, say), and the
  range it spans when the cells whose vote is not settled at 95% go either way.

Examples
--------
>>> est, lo, hi = bootstrap_interval([1.0, 2.0, 3.0, 4.0])
>>> est, lo <= est <= hi
(2.5, True)
>>> [round(v, 3) for v in wilson_interval(0, 10)]
[0.0, 0.0, 0.278]
"""

from __future__ import annotations

from collections.abc import Callable
from statistics import NormalDist

import numpy as np

__all__ = ["bootstrap_interval", "vote_range", "wilson_interval"]


def bootstrap_interval(values, clusters=None, *,
                       statistic: Callable[[np.ndarray], float] = np.mean,
                       resamples: int = 2000, confidence: float = 0.95,
                       seed: int = 0) -> tuple[float, float, float]:
    """A statistic of per-model values and its percentile bootstrap interval.

    Parameters
    ----------
    values : array_like, shape (models,)
        One number per model; NaNs (e.g. a model without a jump has no "last jump") are left
        out before resampling.
    clusters : array_like, shape (models,), optional
        A label per model (e.g. its seed); whole clusters are resampled with replacement.
        Default: every model is its own cluster.
    statistic : callable
        Applied to the pooled values of a resample (default the mean).
    resamples : int
        Bootstrap resamples.
    confidence : float
        Coverage of the interval, in (0, 1).
    seed : int
        Seed of the resampling, so that the book's numbers are reproducible.

    Returns
    -------
    (estimate, low, high) : tuple of float
        The statistic of all values and the interval's ends; all NaN when no value is left.

    Raises
    ------
    ValueError
        If ``values`` and ``clusters`` differ in length, ``resamples`` < 1 or ``confidence``
        is not in (0, 1).

    Examples
    --------
    Two seeds, each with a model at two densities: the interval resamples seeds.

    >>> est, lo, hi = bootstrap_interval([1.0, 1.2, 3.0, 3.1], clusters=[0, 0, 1, 1])
    >>> round(est, 3), round(lo, 3), round(hi, 3)
    (2.075, 1.1, 3.05)
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    labels = np.arange(len(values)) if clusters is None else np.asarray(clusters).ravel()
    if len(labels) != len(values):
        raise ValueError(f"clusters: need one label per value ({len(values)}); got "
                         f"{len(labels)}")
    if resamples < 1:
        raise ValueError(f"resamples: must be an integer >= 1; got {resamples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: must lie in (0, 1); got {confidence!r}")
    keep = ~np.isnan(values)
    values, labels = values[keep], labels[keep]
    if len(values) == 0:
        return (np.nan, np.nan, np.nan)
    groups = [values[labels == label] for label in np.unique(labels)]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(groups), size=(resamples, len(groups)))
    stats = np.array([statistic(np.concatenate([groups[i] for i in row])) for row in draws])
    tail = (1 - confidence) / 2
    low, high = np.quantile(stats, [tail, 1 - tail])
    return float(statistic(values)), float(low), float(high)


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """A proportion k/n and its Wilson score interval.

    Parameters
    ----------
    k : int
        Successes, 0 <= k <= n.
    n : int
        Trials, n >= 1.
    confidence : float
        Coverage, in (0, 1).

    Returns
    -------
    (proportion, low, high) : tuple of float

    Raises
    ------
    ValueError
        If k or n is out of range, or ``confidence`` is not in (0, 1).

    Examples
    --------
    >>> [round(v, 3) for v in wilson_interval(7, 10)]
    [0.7, 0.397, 0.892]
    """
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise ValueError(f"n: must be an integer >= 1; got {n!r}")
    if not (isinstance(k, (int, np.integer)) and 0 <= k <= n):
        raise ValueError(f"k: must be an integer in [0, n] = [0, {n}]; got {k!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: must lie in (0, 1); got {confidence!r}")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(p), float(max(0.0, centre - half)), float(min(1.0, centre + half))


def vote_range(agree, votes, seeds: int, confidence: float = 0.95
               ) -> tuple[float, float, float]:
    """Share of grid cells whose seeds' majority equals a reference label, and the range it
    could take with other seeds.

    A cell's vote is *settled* when the Wilson interval (:func:`wilson_interval`) of the share
    of its seeds with the reference label lies wholly above 1/2 (it agrees) or wholly below
    (it disagrees); otherwise another set of seeds could flip it. The range runs from the
    share of settled agreeing cells to one minus the share of settled disagreeing cells. (A
    bootstrap over seeds does not suit a majority vote: resampled seeds split more often, which
    biases the resampled agreement low.)

    Parameters
    ----------
    agree : array_like of bool, shape (cells,)
        Whether each cell's majority (e.g. from
        :func:`~superposition_lib.experiments.seed_vote`) is the reference label.
    votes : array_like of int, shape (cells,)
        Seeds of each cell with the reference label.
    seeds : int
        Seeds per cell.
    confidence : float
        Coverage of each cell's interval, in (0, 1).

    Returns
    -------
    (share, low, high) : tuple of float

    Examples
    --------
    >>> share, lo, hi = vote_range([True, False, True], [9, 0, 5], seeds=9)
    >>> [round(v, 3) for v in (share, lo, hi)]
    [0.667, 0.333, 0.667]
    """
    agree = np.asarray(agree, dtype=bool)
    votes = np.asarray(votes)
    if agree.shape != votes.shape or agree.ndim != 1:
        raise ValueError(f"agree and votes must have one shape (cells,); got {agree.shape} and "
                         f"{votes.shape}")
    bounds = np.array([wilson_interval(k, seeds, confidence)[1:] for k in range(seeds + 1)])
    low, high = bounds[votes].T
    return float(agree.mean()), float((low > 0.5).mean()), float(1 - (high < 0.5).mean())
