"""Expected losses of the candidate solutions of the smallest toy models, in closed form.

Elhage et al. (2022), section "Superposition as a phase change": features 1 … n − 1 have
importance 1 and an *extra* feature (the last) has relative importance r; all have density
p = 1 − S. For the ReLU-output model x' = ReLU(WᵀWx + b) the paper compares a few candidate
solutions and takes the cheapest. Each candidate fixes W (unit-norm columns, or zero); every
feature's error then depends only on p and its own bias, and the optimal bias has a closed form,
so the loss of a candidate is A(p) + r·B(p).

Per-feature errors (x, y, z independent Uniform[0, 1] magnitudes):

- *exact* (a dedicated dimension, bias 0): error 0.
- *absent* (W_i = 0): the best constant output is the mean p/2, leaving the variance
  v(p) = p/3 − p²/4.
- *antipodal* (W_j = −W_i for one other feature): feature i reads x_i − x_j + b. A negative bias
  only lowers an output that interference already keeps at or below x_i, so b ≥ 0; for
  0 ≤ b ≤ 1 the expected error is::

      F(p, b) = (1 − p) b² + p(1 − p) b³/3 + p² (1/6 − b/3 + 2b³/3 − b⁴/6),

  from the cases "i active or neither" (output off by b), "only j" (ReLU(b − x_j)²) and "both"
  (x_i − ReLU(x_i − x_j + b))². At b = 0 it is p²/6 (E[min(x, y)²] when both are active), and
  ∂F/∂b = −p²/3 < 0 there: a small positive bias always helps, because it offsets the
  interference when both features are active; the optimum solves a cubic.
- *triangle* (three features 120° apart in a plane): feature i reads x_i − (x_j + x_k)/2 + b;
  with the other two features active the interference (y + z)/2 has a triangular density on
  [0, 1]. For 0 ≤ b ≤ 1/2::

      T(p, b) = p²/8 + p³/24 + (p³/4 − 2p²/3) b + (1 − p)(1 − p + p²) b²
                + (4p/3 − 4p²/3 + 2p³/3) b³
                + (p³ − p²) b⁴/3 − 2p³ b⁵/15,

  with T(p, 0) = p² (3 + p)/24 (E[min(x, y/2)²] = 1/16 and E[min(x, (y + z)/2)²] = 1/6).

Losses follow the library's convention (:func:`~superposition_lib.core.models.per_model_loss`): the
importance-weighted squared error averaged over the n features. For n = 2, m = 1 the three
candidates of the paper cost r·v/2 ("not represented"), v/2 ("dedicated") and (1 + r) F*/2
("superposition"), F* = min_b F(p, b); so superposition wins exactly when F* < v/2, between
r = F*/(v − F*) and r = v/F* − 1 (with b = 0 these would be 2p/(4 − 5p) and 2/p − 5/2, and
the threshold p < 4/5). For n = 3, m = 2 the extra feature can also share a dimension
antipodally while the two others have one each, or all three form a triangle
(:data:`CANDIDATES`). :func:`phase_boundaries` gives every boundary of either diagram from the
pairwise equal-loss curves r = (A_b − A_a)/(B_a − B_b).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

__all__ = [
    "CANDIDATES",
    "CLASSES",
    "Candidate",
    "antipodal_error",
    "antipodal_minimum",
    "candidate_losses",
    "feature_variance",
    "optimal_bias",
    "phase_boundaries",
    "phase_diagram",
    "triangle_error",
]

#: How the extra feature is represented, in the paper's colours: grey, blue, red.
CLASSES = ("not_represented", "dedicated", "superposition")

_S3 = np.sqrt(3) / 2


@dataclass(frozen=True)
class Candidate:
    """A candidate solution: fixed weights and the kind of error each feature makes.

    Parameters
    ----------
    name : str
        Identifier, unique within one model size.
    W : numpy.ndarray, shape (m, n)
        Weights; the last column is the extra feature.
    errors : tuple of str
        Per feature: ``"exact"``, ``"absent"``, ``"antipodal"`` or ``"triangle"``.
    extra : str
        How the extra feature is represented: one of :data:`CLASSES`.

    Examples
    --------
    >>> c = CANDIDATES[2]["superposition"]
    >>> c.W.tolist(), c.errors, c.extra
    ([[1.0, -1.0]], ('antipodal', 'antipodal'), 'superposition')
    """

    name: str
    W: np.ndarray
    errors: tuple[str, ...]
    extra: str

    def biases(self, p) -> np.ndarray:
        """The optimal bias of every feature.

        Parameters
        ----------
        p : array_like, shape (k,)
            Densities.

        Returns
        -------
        numpy.ndarray, shape (k, n)

        Examples
        --------
        >>> CANDIDATES[2]["not_represented"].biases([1.0]).tolist()
        [[0.0, 0.5]]
        """
        p = np.atleast_1d(np.asarray(p, dtype=float))
        return np.stack([optimal_bias(kind, p) for kind in self.errors], axis=-1)

    def feature_errors(self, p) -> np.ndarray:
        """Every feature's expected squared error at its optimal bias.

        Parameters
        ----------
        p : array_like, shape (k,)
            Densities.

        Returns
        -------
        numpy.ndarray, shape (k, n)

        Examples
        --------
        >>> CANDIDATES[2]["dedicated"].feature_errors([1.0]).round(4).tolist()
        [[0.0833, 0.0]]
        """
        p = np.atleast_1d(np.asarray(p, dtype=float))
        return np.stack([_ERRORS[kind](p, optimal_bias(kind, p)) for kind in self.errors],
                        axis=-1)


def feature_variance(p) -> np.ndarray:
    """Variance v(p) = p/3 − p²/4 of a sparse uniform feature of density p.

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


def _check_bias(name: str, bias: np.ndarray, high: float) -> None:
    if np.any((bias < 0) | (bias > high)):
        raise ValueError(f"bias: {name} is given in closed form for 0 <= bias <= {high:g} "
                         f"(a negative bias never helps); got values from {bias.min():g} "
                         f"to {bias.max():g}")


def antipodal_error(p, bias) -> np.ndarray:
    """Expected squared error F(p, b) of one feature of an antipodal pair with bias b.

    Parameters
    ----------
    p : array_like
        Density 1 − S of both features.
    bias : array_like
        The feature's bias b, in [0, 1]; broadcast against ``p``.

    Returns
    -------
    numpy.ndarray
        The broadcast shape of ``p`` and ``bias``.

    Examples
    --------
    >>> float(antipodal_error(1.0, 0.0))  # both always active: E[min(x, y)²] = 1/6
    0.16666666666666666
    """
    p, b = np.broadcast_arrays(np.asarray(p, dtype=float), np.asarray(bias, dtype=float))
    _check_bias("antipodal_error", b, 1.0)
    together = 1 / 6 - b / 3 + 2 * b ** 3 / 3 - b ** 4 / 6
    return (1 - p) * b ** 2 + p * (1 - p) * b ** 3 / 3 + p ** 2 * together


def triangle_error(p, bias) -> np.ndarray:
    """Expected squared error T(p, b) of one feature of a triangle (three features at 120°).

    Parameters
    ----------
    p : array_like
        Density 1 − S of all three features.
    bias : array_like
        The feature's bias b, in [0, 1/2]; broadcast against ``p``.

    Returns
    -------
    numpy.ndarray
        The broadcast shape of ``p`` and ``bias``.

    Examples
    --------
    >>> float(triangle_error(1.0, 0.0))  # T(1, 0) = 4/24
    0.16666666666666666
    """
    p, b = np.broadcast_arrays(np.asarray(p, dtype=float), np.asarray(bias, dtype=float))
    _check_bias("triangle_error", b, 0.5)
    return (p ** 2 / 8 + p ** 3 / 24 + (p ** 3 / 4 - 2 * p ** 2 / 3) * b
            + (1 - p) * (1 - p + p ** 2) * b ** 2
            + (4 * p / 3 - 4 * p ** 2 / 3 + 2 * p ** 3 / 3) * b ** 3
            + (p ** 3 - p ** 2) * b ** 4 / 3
            - 2 * p ** 3 * b ** 5 / 15)


def _absent_error(p, bias) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return feature_variance(p) + (np.asarray(bias) - p / 2) ** 2


_ERRORS = {"exact": lambda p, b: np.zeros_like(np.asarray(p, dtype=float)),
           "absent": _absent_error, "antipodal": antipodal_error, "triangle": triangle_error}
_BIAS_RANGE = {"antipodal": 1.0, "triangle": 0.5}


def _minimise(error, p: np.ndarray, high: float) -> np.ndarray:
    """argmin over b ∈ [0, high] of a polynomial error(p, b), through the roots of ∂/∂b."""
    out = np.empty_like(p)
    for k, pk in enumerate(p):
        # error is a polynomial of degree <= 5 in b: fit it exactly from 6 points
        nodes = np.linspace(0.0, high, 6)
        coef = np.polynomial.polynomial.polyfit(nodes, error(pk, nodes), 5)
        roots = np.polynomial.polynomial.polyroots(np.polynomial.polynomial.polyder(coef))
        real = roots[np.abs(roots.imag) < 1e-9].real
        cands = np.concatenate([[0.0, high], real[(real > 0) & (real < high)]])
        out[k] = cands[np.argmin(error(pk, cands))]
    return out


def antipodal_minimum(p) -> np.ndarray:
    """min over b ∈ [0, 1] of :func:`antipodal_error`: the error of a feature of an antipodal
    pair at its optimal bias (and unit norm).

    Parameters
    ----------
    p : array_like, shape (k,)
        Densities.

    Returns
    -------
    numpy.ndarray, shape (k,)

    Examples
    --------
    >>> antipodal_minimum([0.5, 1.0]).round(4).tolist()
    [0.0383, 0.0705]
    """
    p = np.atleast_1d(np.asarray(p, dtype=float))
    return antipodal_error(p, optimal_bias("antipodal", p))


def optimal_bias(kind: str, p) -> np.ndarray:
    """The bias that minimises a feature's expected error, given how it is represented.

    Parameters
    ----------
    kind : {"exact", "absent", "antipodal", "triangle"}
        The feature's role (see the module docstring).
    p : array_like, shape (k,)
        Densities.

    Returns
    -------
    numpy.ndarray, shape (k,)
        0 for ``"exact"``, the mean p/2 for ``"absent"``, and the minimiser of
        :func:`antipodal_error` or :func:`triangle_error` (positive for every p > 0).

    Examples
    --------
    >>> optimal_bias("antipodal", [1.0, 0.1]).round(4).tolist()
    [0.4421, 0.0019]
    """
    p = np.atleast_1d(np.asarray(p, dtype=float))
    if kind == "exact":
        return np.zeros_like(p)
    if kind == "absent":
        return p / 2
    if kind not in _BIAS_RANGE:
        raise ValueError(f"kind: expected one of {sorted(_ERRORS)}, got {kind!r}")
    return _minimise(_ERRORS[kind], p, _BIAS_RANGE[kind])


def _candidates(m: int, *items) -> dict[str, Candidate]:
    return {name: Candidate(name, np.array(W, dtype=float).reshape(m, -1), errors, extra)
            for name, W, errors, extra in items}


#: Candidate solutions by number of features n (m = n − 1): for n = 2 the paper's three; for
#: n = 3 the extra feature (the last) is dropped, given a dimension (one feature of importance 1
#: dropped, or the two sharing a dimension antipodally), antipodal to feature 1, or in a triangle.
CANDIDATES = {
    2: _candidates(1, ("not_represented", [[1, 0]], ("exact", "absent"), "not_represented"),
                   ("dedicated", [[0, 1]], ("absent", "exact"), "dedicated"),
                   ("superposition", [[1, -1]], ("antipodal", "antipodal"), "superposition")),
    3: _candidates(2, ("not_represented", [[1, 0, 0], [0, 1, 0]], ("exact", "exact", "absent"),
                       "not_represented"),
                   ("dedicated", [[1, 0, 0], [0, 0, 1]], ("exact", "absent", "exact"),
                    "dedicated"),
                   ("dedicated_pair", [[1, -1, 0], [0, 0, 1]],
                    ("antipodal", "antipodal", "exact"), "dedicated"),
                   ("antipodal", [[1, 0, -1], [0, 1, 0]], ("antipodal", "exact", "antipodal"),
                    "superposition"),
                   ("triangle", [[1, -0.5, -0.5], [0, _S3, -_S3]],
                    ("triangle", "triangle", "triangle"), "superposition")),
}


def _candidate_set(n_features: int) -> dict[str, Candidate]:
    if n_features not in CANDIDATES:
        raise ValueError(f"n_features: theory is available for {sorted(CANDIDATES)}, "
                         f"got {n_features!r}")
    return CANDIDATES[n_features]


def _coefficients(n_features: int, p: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per candidate, (A(p), B(p)) with loss = A + r·B."""
    out = {}
    for name, c in _candidate_set(n_features).items():
        e = c.feature_errors(p)
        out[name] = (e[:, :-1].sum(axis=1) / n_features, e[:, -1] / n_features)
    return out


def candidate_losses(p, r, *, n_features: int = 2) -> pd.DataFrame:
    """Expected loss of each candidate solution at its optimal biases.

    Parameters
    ----------
    p : array_like
        Density 1 − S of every feature.
    r : array_like
        Relative importance of the extra feature; broadcast against ``p``.
    n_features : {2, 3}
        Model size: n = 2, m = 1 or n = 3, m = 2.

    Returns
    -------
    pandas.DataFrame
        One row per (p, r): ``density``, ``relative_importance``, one loss column per
        candidate (:data:`CANDIDATES`), ``solution`` (the cheapest candidate) and ``extra``
        (how it represents the extra feature, one of :data:`CLASSES`).

    Examples
    --------
    >>> candidate_losses([1.0, 0.01], 1.0)["solution"].tolist()
    ['not_represented', 'superposition']
    >>> candidate_losses(0.01, 0.5, n_features=3)["solution"].tolist()
    ['antipodal']
    """
    p, r = np.broadcast_arrays(np.asarray(p, dtype=float), np.asarray(r, dtype=float))
    p, r = p.ravel(), r.ravel()
    unique, index = np.unique(p, return_inverse=True)
    coef = _coefficients(n_features, unique)
    losses = pd.DataFrame({name: a[index] + r * b[index] for name, (a, b) in coef.items()})
    frame = pd.concat([pd.DataFrame({"density": p, "relative_importance": r}), losses], axis=1)
    frame["solution"] = losses.idxmin(axis=1)
    extra = {name: c.extra for name, c in _candidate_set(n_features).items()}
    frame["extra"] = frame["solution"].map(extra)
    return frame


def phase_diagram(densities, relative_importances, *, n_features: int = 2) -> pd.DataFrame:
    """The cheapest candidate on a grid of densities and relative importances.

    Parameters
    ----------
    densities : array_like, shape (a,)
        Values of 1 − S.
    relative_importances : array_like, shape (b,)
        Values of r.
    n_features : {2, 3}
        Model size.

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
    return candidate_losses(p, r, n_features=n_features)


def phase_boundaries(densities, *, n_features: int = 2) -> pd.DataFrame:
    """The boundaries of the phase diagram: where two candidates tie and nothing is cheaper.

    For each pair of candidates (a, b) the losses A_a + r·B_a and A_b + r·B_b are equal at
    r = (A_b − A_a)/(B_a − B_b); that point is a boundary of the diagram when it is positive and
    no third candidate is cheaper there.

    Parameters
    ----------
    densities : array_like, shape (k,)
        Values of 1 − S.
    n_features : {2, 3}
        Model size.

    Returns
    -------
    pandas.DataFrame
        Columns ``density`` and one column ``"a|b"`` per pair of candidates holding the
        boundary's r, NaN where the pair does not border at that density.

    Examples
    --------
    >>> phase_boundaries([1.0, 0.1]).round(4).values.tolist()
    [[1.0, 1.0, nan, nan], [0.1, nan, 0.057, 17.5343]]
    """
    p = np.atleast_1d(np.asarray(densities, dtype=float))
    coef = _coefficients(n_features, p)
    out = {"density": p}
    for a, b in combinations(coef, 2):
        (a0, a1), (b0, b1) = coef[a], coef[b]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = (b0 - a0) / (a1 - b1)
        r = np.where(np.isfinite(r) & (r > 0), r, np.nan)
        tie = a0 + np.nan_to_num(r) * a1
        cheaper = [(c0 + np.nan_to_num(r) * c1) < tie * (1 - 1e-12)
                   for c, (c0, c1) in coef.items() if c not in (a, b)]
        out[f"{a}|{b}"] = np.where(np.any(cheaper, axis=0) if cheaper else False, np.nan, r)
    return pd.DataFrame(out)
