"""Expected losses of the arrangements of correlated pairs, the theory of the PCA–superposition
trade-off.

The unit is the paper's correlated-pairs setting: n = 4 features of importance 1 in m = 2
dimensions, two pairs (a₁, b₁) and (a₂, b₂) of the ``correlated`` data with density p and
presence correlation c (:mod:`~superposition_lib.data`): per sample and pair, both members are
present with probability q₂ = c·p + (1 − c)·p², each one alone with probability q₁ = p − q₂, and
neither with probability q₀ = 1 − 2p + q₂; present magnitudes are independent Uniform[0, 1].
Pairs are independent of each other. Every arrangement below gives each pair one dimension's
worth of W (two features per dimension when all are represented), so they compete for the same
capacity:

- ``orthogonal``: the members of a pair are orthogonal and each is antipodal to a member of the
  *other* pair (W = [[1, 0, −1, 0], [0, 1, 0, −1]]), the paper's picture for correlated pairs.
  Every feature interferes only with an independent feature: the error F(p, b) of
  :func:`~superposition_lib.theory.antipodal_error` with q₂ = p².
- ``antipodal``: the members of each pair are antipodal (W = [[1, −1, 0, 0], [0, 0, 1, −1]]),
  the paper's picture for anticorrelated pairs: the same error with the pair's own q₂, larger
  for every c > 0.
- ``collapsed``: each pair is read along its sum, W_a = W_b = √s·u with the two pairs' u
  orthogonal, so both members output ReLU(s(x_a + x_b) + β): the pair's principal component
  (the PCA solution of the linear model). Given the sum t = x_a + x_b, the best output for x_a
  is E[x_a | t] = t/2 whichever members are present (by symmetry), and s = 1/2, β = 0 gives it
  exactly, so the error is E[Var(x_a | t)]::

      G(p, c) = q₁/6 + q₂/24 = p/6 − q₂/8

  (1/12 for each of "a alone" and "b alone", E[((y − x)/2)²] = 1/24 for "both").
- ``single``, a reference: one member of each pair gets a dimension and the other is dropped,
  (0 + v)/2 with v(p) = p/3 − p²/4 the variance of a feature (its best constant output is
  p/2): the best model without superposition. It equals G at c = 0 and exceeds it for c > 0,
  so it is never the unique optimum.

Collapsed beats orthogonal exactly when q₂ > 8(p/6 − F*(p)), F* = min_b F(p, b), that is for
correlations above (:func:`collapse_boundary`)::

    c*(p) = (8(p/6 − F*(p)) − p²) / (p(1 − p)).

Losses follow the library's convention: the squared error averaged over the features. At
p = 1 the data do not depend on c and ``single`` and ``collapsed`` tie at 1/24 (every
projection is a PCA solution of independent uniforms); ``orthogonal`` and ``antipodal`` tie at
c = 0, and ``orthogonal`` wins for every c > 0: the paper's "correlated features prefer to be
orthogonal".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .theory import antipodal_minimum, feature_variance

__all__ = [
    "ARRANGEMENTS",
    "collapse_boundary",
    "collapsed_error",
    "pair_losses",
    "pair_phase_map",
    "pair_probabilities",
]

#: The arrangements of :func:`pair_losses`, in the order of its columns.
ARRANGEMENTS = ("orthogonal", "antipodal", "collapsed")


def _check(name: str, values: np.ndarray, low: float, high: float) -> None:
    if np.any(~np.isfinite(values) | (values < low) | (values > high)):
        raise ValueError(f"{name}: values must lie in [{low:g}, {high:g}]; got values from "
                         f"{np.nanmin(values):g} to {np.nanmax(values):g}")


def pair_probabilities(p, c) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Presence probabilities of a correlated pair.

    Parameters
    ----------
    p : array_like
        Density 1 − S of both members, in (0, 1].
    c : array_like
        Presence correlation, in [0, 1]; broadcast against ``p``.

    Returns
    -------
    q0, q1, q2 : numpy.ndarray
        The probabilities that neither member is present, that one given member is present
        alone, and that both are (q₀ + 2q₁ + q₂ = 1).

    Examples
    --------
    >>> [float(q) for q in pair_probabilities(0.5, 1.0)]  # joint: both or neither
    [0.5, 0.0, 0.5]
    >>> [float(q) for q in pair_probabilities(0.5, 0.0)]  # independent
    [0.25, 0.25, 0.25]
    """
    p, c = np.broadcast_arrays(np.asarray(p, dtype=float), np.asarray(c, dtype=float))
    _check("p", p, 1e-12, 1.0)
    _check("c", c, 0.0, 1.0)
    q2 = c * p + (1 - c) * p ** 2
    return 1 - 2 * p + q2, p - q2, q2


def collapsed_error(p, c) -> np.ndarray:
    """Error G(p, c) = q₁/6 + q₂/24 of a feature of a pair read along its sum.

    Parameters
    ----------
    p : array_like
        Density 1 − S of both members, in (0, 1].
    c : array_like
        Presence correlation, in [0, 1]; broadcast against ``p``.

    Returns
    -------
    numpy.ndarray
        Per-feature expected squared error at the optimal reading ReLU((x_a + x_b)/2).

    Examples
    --------
    >>> float(collapsed_error(1.0, 0.0))  # dense: both always present, E[((y - x)/2)²]
    0.041666666666666664
    """
    _, q1, q2 = pair_probabilities(p, c)
    return q1 / 6 + q2 / 24


def collapse_boundary(densities) -> pd.DataFrame:
    """The correlation above which a collapsed pair beats orthogonal members.

    Parameters
    ----------
    densities : array_like, shape (k,)
        Densities 1 − S, in (0, 1).

    Returns
    -------
    pandas.DataFrame
        ``p`` and ``c`` = c*(p) of the module docstring: collapsed is cheaper than orthogonal
        for c > c*(p). Values above 1 mean orthogonal wins at every correlation, below 0 that
        collapsed wins at every correlation.

    Examples
    --------
    >>> collapse_boundary([0.5, 0.3, 0.1])["c"].round(3).tolist()
    [0.44, 0.917, 1.222]
    """
    p = np.atleast_1d(np.asarray(densities, dtype=float))
    _check("densities", p, 1e-12, 1 - 1e-12)
    q2 = 8 * (p / 6 - antipodal_minimum(p))
    return pd.DataFrame({"p": p, "c": (q2 - p ** 2) / (p * (1 - p))})


def pair_losses(p, c) -> pd.DataFrame:
    """Expected loss of each arrangement of two correlated pairs in two dimensions.

    Parameters
    ----------
    p : array_like, shape (k,)
        Densities 1 − S, in (0, 1].
    c : array_like, shape (k,)
        Presence correlations, in [0, 1]; broadcast against ``p``.

    Returns
    -------
    pandas.DataFrame
        One row per (p, c): ``p``, ``c``, the loss of every arrangement of
        :data:`ARRANGEMENTS` (per feature, at its optimal biases), the reference ``single``, and
        ``best``, the cheapest arrangement.

    Examples
    --------
    >>> df = pair_losses([0.03, 0.03, 1.0], [1.0, 0.0, 0.5])
    >>> df["best"].tolist()
    ['orthogonal', 'orthogonal', 'collapsed']
    >>> bool((df["orthogonal"] <= df["antipodal"] + 1e-12).all())
    True
    """
    p, c = np.broadcast_arrays(np.atleast_1d(np.asarray(p, dtype=float)),
                               np.atleast_1d(np.asarray(c, dtype=float)))
    _, _, q2 = pair_probabilities(p, c)
    out = pd.DataFrame({"p": p, "c": c, "orthogonal": antipodal_minimum(p),
                        "antipodal": antipodal_minimum(p, both=q2),
                        "collapsed": collapsed_error(p, c),
                        "single": feature_variance(p) / 2})
    # ties (c = 0: orthogonal and antipodal) go to the earlier arrangement, after rounding
    # away the last bits
    out["best"] = out[list(ARRANGEMENTS)].round(12).idxmin(axis=1)
    return out


def pair_phase_map(densities, correlations) -> pd.DataFrame:
    """:func:`pair_losses` on the grid densities × correlations.

    Parameters
    ----------
    densities : array_like, shape (k,)
        Densities 1 − S, in (0, 1].
    correlations : array_like, shape (l,)
        Presence correlations, in [0, 1].

    Returns
    -------
    pandas.DataFrame
        k·l rows (densities vary slowest), columns as :func:`pair_losses`.

    Examples
    --------
    >>> grid = pair_phase_map([1.0, 0.01], [0.0, 1.0])
    >>> grid[["p", "c"]].values.tolist()
    [[1.0, 0.0], [1.0, 1.0], [0.01, 0.0], [0.01, 1.0]]
    >>> grid["best"].tolist()
    ['collapsed', 'collapsed', 'orthogonal', 'orthogonal']
    """
    p, c = np.meshgrid(np.asarray(densities, dtype=float), np.asarray(correlations, dtype=float),
                       indexing="ij")
    return pair_losses(p.ravel(), c.ravel())
