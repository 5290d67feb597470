"""Closed-form losses of the candidate solutions of the smallest toy model.

Elhage et al. (2022), section "Superposition as a phase change": with n = 2 features in m = 1
dimension, feature 1 of importance 1 and an extra feature 2 of relative importance r, both of
density p = 1 − S, the ReLU-output model x' = ReLU(WᵀWx + b) has three candidate solutions:

- ``"not_represented"``: W = [1, 0]. Feature 1 passes exactly (b₁ = 0); feature 2 is replaced
  by the constant that minimises its error, its mean p/2, costing its variance
  v(p) = p/3 − p²/4.
- ``"dedicated"``: W = [0, 1], the same with the features' roles swapped.
- ``"superposition"``: W = [1, −1], an antipodal pair. Each feature reads x₁ − x₂ through its own
  bias b = −β ≤ 0. Its expected squared error, over the cases where it is alone
  (probability p(1 − p)) and where both features are active (p²), is::

      F(β) = p(1 − p) (β² − 2β³/3) + p² (1/6 + β/3 − β³/3 + β⁴/6),   0 ≤ β ≤ 1.

  F'(β) = 2p(1 − p) β(1 − β) + p² (1/3 − β² + 2β³/3) ≥ 0 on [0, 1] (the last bracket falls
  from 1/3 to 0), so the optimal bias is 0: an antipodal partner only ever interferes
  negatively, and the ReLU already removes that. The error is then F(0) = p²/6 per feature,
  E[min(x₁, x₂)²] times the chance that both are active.

Losses follow the library's convention (:func:`~superposition_lib.models.per_model_loss`): the
importance-weighted squared error averaged over the n = 2 features, so the three candidates cost
r·v/2, v/2 and (1 + r) p²/12. :func:`phase_diagram` takes the cheapest on a grid;
:func:`phase_boundaries` gives the boundaries in closed form: r = 1 between the two
single-feature solutions, r = 2p / (4 − 5p) between "not represented" and "superposition"
(p < 4/5), and r = 2/p − 5/2 between "dedicated" and "superposition" (p < 4/5): superposition
wins between the two for every density below 4/5, on a range of r that widens as p falls.
The candidates fix ‖W_i‖ = 1; trained models may scale their weights slightly differently.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Candidate solutions of the n = 2, m = 1 model, with their weights W (shape (1, 2)).
CANDIDATES = {
    "not_represented": np.array([[1.0, 0.0]]),
    "dedicated": np.array([[0.0, 1.0]]),
    "superposition": np.array([[1.0, -1.0]]),
}


def feature_variance(p) -> np.ndarray:
    """Variance p/3 − p²/4 of a sparse uniform feature of density p.

    Parameters
    ----------
    p : array_like
        Density 1 − S, in (0, 1].

    Returns
    -------
    numpy.ndarray
        Same shape as ``p``.

    Examples
    --------
    >>> round(float(feature_variance(1.0)), 6)  # Uniform[0, 1]: 1/12
    0.083333
    """
    p = np.asarray(p, dtype=float)
    return p / 3 - p ** 2 / 4


def antipodal_error(p, beta) -> np.ndarray:
    """Expected squared error F(β) of one feature of an antipodal pair with bias −β.

    Parameters
    ----------
    p : array_like
        Density 1 − S of both features.
    beta : array_like
        Minus the bias, in [0, 1]; broadcast against ``p``.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> float(antipodal_error(1.0, 0.0))  # both always active: E[min(x₁, x₂)²] = 1/6
    0.16666666666666666
    """
    p, b = np.broadcast_arrays(np.asarray(p, dtype=float), np.asarray(beta, dtype=float))
    alone = b ** 2 - 2 * b ** 3 / 3
    both = 1 / 6 + b / 3 - b ** 3 / 3 + b ** 4 / 6
    return p * (1 - p) * alone + p ** 2 * both


def candidate_losses(p, r) -> pd.DataFrame:
    """Expected loss of each candidate solution, with its optimal biases.

    Parameters
    ----------
    p : array_like
        Density 1 − S of both features.
    r : array_like
        Relative importance of the extra feature (feature 1 has importance 1); broadcast
        against ``p``.

    Returns
    -------
    pandas.DataFrame
        One row per (p, r) with columns ``density``, ``relative_importance``,
        ``not_represented``, ``dedicated``, ``superposition`` (losses, each with its optimal
        biases: b = [0, p/2], [p/2, 0] and [0, 0]) and ``solution`` (the cheapest).

    Examples
    --------
    >>> candidate_losses([1.0, 0.01], 1.0)["solution"].tolist()
    ['not_represented', 'superposition']
    """
    p, r = np.broadcast_arrays(np.asarray(p, dtype=float), np.asarray(r, dtype=float))
    p, r = p.ravel(), r.ravel()
    v = feature_variance(p)
    losses = pd.DataFrame({
        "not_represented": r * v / 2,
        "dedicated": v / 2,
        "superposition": (1 + r) * antipodal_error(p, 0.0) / 2,  # optimal bias 0
    })
    frame = pd.concat([pd.DataFrame({"density": p, "relative_importance": r}), losses], axis=1)
    frame["solution"] = losses.idxmin(axis=1)
    return frame


def phase_diagram(densities, relative_importances) -> pd.DataFrame:
    """The cheapest candidate on a grid of densities and relative importances.

    Parameters
    ----------
    densities : array_like, shape (a,)
        Values of 1 − S.
    relative_importances : array_like, shape (b,)
        Values of r.

    Returns
    -------
    pandas.DataFrame
        ``a * b`` rows, as :func:`candidate_losses`.

    Examples
    --------
    >>> grid = phase_diagram(np.geomspace(0.01, 1, 3), np.geomspace(0.1, 10, 3))
    >>> len(grid), sorted(grid["solution"].unique())
    (9, ['dedicated', 'not_represented', 'superposition'])
    """
    p, r = np.meshgrid(np.asarray(densities, float), np.asarray(relative_importances, float),
                       indexing="ij")
    return candidate_losses(p, r)


def phase_boundaries(densities) -> pd.DataFrame:
    """Relative importances at which two candidates have equal loss, per density.

    Parameters
    ----------
    densities : array_like, shape (a,)
        Values of 1 − S.

    Returns
    -------
    pandas.DataFrame
        Columns ``density``, ``not_represented|dedicated`` (always 1),
        ``not_represented|superposition`` (2p / (4 − 5p)) and ``dedicated|superposition``
        (2/p − 5/2); the last two are NaN for p ≥ 4/5, where superposition never wins.

    Examples
    --------
    >>> phase_boundaries([0.1]).round(4).values.tolist()
    [[0.1, 1.0, 0.0571, 17.5]]
    """
    p = np.asarray(densities, dtype=float)
    sparse = p < 0.8
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(sparse, 2 * p / (4 - 5 * p), np.nan)
        high = np.where(sparse, 2 / p - 2.5, np.nan)
    return pd.DataFrame({"density": p, "not_represented|dedicated": np.ones_like(p),
                         "not_represented|superposition": low, "dedicated|superposition": high})
