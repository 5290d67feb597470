"""Expected losses of the arrangements of correlated pairs, the theory of the PCA–superposition
trade-off.

The unit is the paper's correlated-pairs setting: n = 4 features of importance 1 in m = 2
dimensions, two pairs (a₁, b₁) and (a₂, b₂) of the ``correlated`` data with density p and
presence correlation c (:mod:`~superposition_lib.core.data`): per sample and pair, both members are
present with probability q₂ = c·p + (1 − c)·p², each one alone with probability q₁ = p − q₂, and
neither with probability q₀ = 1 − 2p + q₂; present magnitudes are independent Uniform[0, 1].
Pairs are independent of each other.

**Exact expected loss** (:func:`expected_errors`). Feature i of the ReLU-output model outputs
ReLU(L), L = b_i + Σ_j a_j x_j with a = (WᵀW)_i and the sum over the features present. For
independent uniforms every term of its squared error has a closed form: with k nonzero
coefficients, iterating ∫₀¹ (t + a x)₊^q dx = ((t + a)₊^{q+1} − t₊^{q+1}) / ((q + 1) a) gives::

    E[L₊^q] = q!/(q + k)! · Σ_{S ⊆ [k]} (−1)^{k−|S|} (b + Σ_{j∈S} a_j)₊^{q+k} / Π_j a_j,

and E[x_i L₊] = ½ ∂E[L₊²]/∂a_i. Summing over which features are present (16 patterns) gives a
model's loss with no sampling noise. In floating point the alternating sum cancels badly when a
coefficient is tiny (between a trained model's "orthogonal" features a_j is of order 10⁻⁷), so
:func:`expected_errors` evaluates it in exact rational arithmetic.

**Arrangements** (:data:`ARRANGEMENTS`). Each fixes the directions of the four features in the
plane and a common norm: ‖W_i‖² = s for every represented feature. The loss is then minimised
over s and over every feature's bias (:func:`arrangement_optimum`; features of the same role
share a bias). Fixing s = 1 instead, as the phase-change theory of
:mod:`~superposition_lib.analysis.theory` does, overprices superposition at dense features: at
p = 1, orthogonal members cost 1/24 at s = b = ½ against 0.0705 at s = 1.

- ``orthogonal``: the members of a pair are orthogonal and each is antipodal to a member of the
  *other* pair (directions 0°, 90°, 180°, 270° for a₁, b₁, a₂, b₂), the paper's picture for
  correlated pairs. Every feature interferes only with an independent feature. The search
  also lets the members tilt to an angle θ in :data:`TILT_RANGE` (0°, θ, 180°, 180° + θ), so
  that each reads a little of its partner: with correlated pairs θ slightly above 90° pays.
- ``antipodal``: the members of each pair are antipodal (0°, 180°, 90°, 270°), the paper's
  picture for anticorrelated pairs; costlier than ``orthogonal`` for every c > 0.
- ``collapsed``: each pair is read along its sum (0°, 0°, 90°, 90°): both members output
  ReLU(s(x_a + x_b) + β), the pair's principal component (the PCA solution of the linear
  model). Given t = x_a + x_b the best output for x_a is E[x_a | t] = t/2 whichever members
  are present (by symmetry); s = ½, β = 0 gives it exactly, so the error is E[Var(x_a | t)],
  in closed form (:func:`collapsed_error`)::

      G(p, c) = q₁/6 + q₂/24 = p/6 − q₂/8.

- ``triangle``: a₁, b₁ and a₂ at 120° (0°, 120°, 240°) and b₂ dropped (W = 0, output its mean
  p/2): the n = 3, m = 2 triangle of the phase-change chapter, with one correlated pair inside
  it. It is the cheapest arrangement only for dense, weakly correlated features.
- ``single``, a reference column: one member of each pair gets a dimension and the other is
  dropped, (0 + v)/2 with v(p) = p/3 − p²/4 the variance of a feature: the best model without
  superposition. It equals G at c = 0 and exceeds it for c > 0, so it is never the unique
  optimum.

Losses follow the library's convention: the squared error averaged over the features. At
p = 1 the data do not depend on c; ``collapsed``, ``orthogonal`` (s = b = ½) and ``single`` all
cost 1/24 there, and the ``triangle`` 0.15% less.

The arrangements are a short list, not every W: the cheapest of them bounds the optimal loss
from above, and a trained model can beat it with an irregular arrangement
(:func:`~superposition_lib.experiments.pca_vs_superposition.pair_map_findings` measures by how
much).
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from itertools import product

import numpy as np
import pandas as pd

from .theory import feature_variance

__all__ = [
    "ARRANGEMENTS",
    "TILT_RANGE",
    "arrangement_optimum",
    "arrangement_weights",
    "collapse_boundary",
    "collapsed_error",
    "expected_errors",
    "pair_losses",
    "pair_phase_map",
    "pair_probabilities",
]

#: The arrangements of :func:`pair_losses`, in the order of its columns.
ARRANGEMENTS = ("orthogonal", "antipodal", "collapsed", "triangle")

#: Directions of a₁, b₁, a₂, b₂ in degrees given the tilt θ (None: dropped), and each
#: feature's role; features of one role share a bias (they are exchangeable in the arrangement).
_LAYOUTS = {
    "orthogonal": (lambda tilt: (0, tilt, 180, 180 + tilt), (0, 0, 0, 0)),
    "antipodal": (lambda tilt: (0, 180, 90, 270), (0, 0, 0, 0)),
    "collapsed": (lambda tilt: (0, 0, 90, 90), (0, 0, 0, 0)),
    "triangle": (lambda tilt: (0, 120, 240, None), (0, 0, 1, 2)),
}

#: Angles θ between the members of an ``orthogonal`` pair that :func:`arrangement_optimum`
#: searches, in degrees.
TILT_RANGE = (60.0, 120.0)

#: Half-width in degrees of the band around 90° where the tilt search is replaced by θ = 90°
#: exactly: there cos θ ~ 0 and the float alternating sums of ``_alternating_sums`` cancel.
_UPRIGHT_BAND = 0.1

#: Grid points per variable and zoom rounds of :func:`arrangement_optimum`'s search.
_GRID, _ROUNDS = 9, 20


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


# ---------------------------------------------------------------------------------------------
# Exact expected error of one feature, for any number type (floats, arrays, Fractions)


def _positive_part(t):
    return t * (t > 0)


def _alternating_sums(bias, coefs, own: int | None):
    """Σ_S (−1)^{k−|S|} t_S^{k+2}, the same of t_S^{k+1}, and of t_S^{k+1} over S ∋ ``own``,
    with t_S = (bias + Σ_{j∈S} a_j)₊ over the subsets S of the k coefficients."""
    k = len(coefs)
    # every subset's sum, built by doubling: subset s holds coefficient j if bit j of s is set
    sums, holds = [bias], [False]
    for j, a in enumerate(coefs):
        sums = sums + [t + a for t in sums]
        holds = holds + [True if j == own else h for h in holds]
    s2 = s1 = s1_own = 0
    for subset, (t, held) in enumerate(zip(sums, holds)):
        t = _positive_part(t)
        term = t ** (k + 1)
        if (k - subset.bit_count()) % 2:
            term = -term
        s2, s1 = s2 + term * t, s1 + term
        if held:
            s1_own = s1_own + term
    return s2, s1, s1_own


def _pattern_error(bias, coefs, own: int | None, present: bool, third):
    """E[(L₊ − x_i)²] (or E[L₊²] if x_i is absent) for L = bias + Σ a_j x_j, every a_j
    nonzero; ``own`` indexes a_i among them (None if a_i = 0).

    With k coefficients and P = Π a_j: E[L₊²] = 2 s₂/((k + 2)! P), E[L₊] = s₁/((k + 1)! P)
    and E[x_i L₊] = ½ ∂E[L₊²]/∂a_i = s₁ᵢ/((k + 1)! P) − E[L₊²]/(2a_i)."""
    k = len(coefs)
    s2, s1, s1_own = _alternating_sums(bias, coefs, own)
    den = 1
    for a in coefs:
        den = den * a
    square = 2 * s2 / (math.factorial(k + 2) * den)
    if not present:
        return square
    if own is None:                          # L does not involve x_i: E[x_i L₊] = E[L₊]/2
        return square - s1 / (math.factorial(k + 1) * den) + third
    cross = s1_own / (math.factorial(k + 1) * den) - square / (2 * coefs[own])
    return square - 2 * cross + third


def _is_zero(a) -> bool:
    return bool(np.all(np.asarray(a) == 0))


def _feature_error(row, i: int, bias, probabilities):
    """Expected squared error of feature i: ``row`` its coefficients (WᵀW)_i (entries that are
    zero everywhere drop out), ``probabilities`` per pair the (q0, q1, q2) of its presence."""
    n = len(row)
    third = Fraction(1, 3) if isinstance(bias, Fraction) else 1 / 3
    total = 0
    for present in product((False, True), repeat=n):
        weight = 1
        for pair, (q0, q1, q2) in enumerate(probabilities):
            weight = weight * (q0, q1, q1, q2)[2 * present[2 * pair] + present[2 * pair + 1]]
        if _is_zero(weight):
            continue
        active = [j for j in range(n) if present[j] and not _is_zero(row[j])]
        error = _pattern_error(bias, [row[j] for j in active],
                               active.index(i) if i in active else None, present[i], third)
        total = total + weight * error
    return total


def expected_errors(W, b, p: float, c: float) -> np.ndarray:
    """Exact expected squared error of every feature of a ReLU-output model on correlated pairs.

    Parameters
    ----------
    W : array_like, shape (m, n)
        Weights, n even; features (2k, 2k + 1) form pair k.
    b : array_like, shape (n,)
        Biases.
    p : float
        Density 1 − S of every feature, in (0, 1].
    c : float
        Presence correlation of every pair, in [0, 1].

    Returns
    -------
    numpy.ndarray, shape (n,)
        E[(ReLU((WᵀW x)_i + b_i) − x_i)²], computed in exact rational arithmetic from the
        float inputs (module docstring), so tiny interference terms lose nothing to
        cancellation. Its mean is the model's expected loss at importance 1.

    Examples
    --------
    >>> W = [[1.0, 0.0], [0.0, 1.0]]              # a pair, each member with its own dimension
    >>> expected_errors(W, [0.0, 0.0], 0.5, 0.3).tolist()
    [0.0, 0.0]
    >>> s = 0.5 ** 0.5                             # collapsed at s = 1/2: G(p, c)
    >>> collapsed = expected_errors([[s, s]], [0.0, 0.0], 0.5, 0.3)[0]
    >>> bool(collapsed == collapsed_error(0.5, 0.3))
    True
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float)
    if W.ndim != 2 or W.shape[1] % 2 or b.shape != (W.shape[1],):
        raise ValueError(f"W: shape must be (m, n) with n even and b shape (n,); got "
                         f"{W.shape} and {b.shape}")
    q = [Fraction(float(x)) for x in pair_probabilities(p, c)]
    probabilities = [tuple(q)] * (W.shape[1] // 2)
    A = W.T @ W
    return np.array([float(_feature_error([Fraction(float(a)) for a in A[i]], i,
                                          Fraction(float(b[i])), probabilities))
                     for i in range(W.shape[1])])


# ---------------------------------------------------------------------------------------------
# The arrangements, at their optimal scale and biases


def arrangement_weights(name: str, scale: float = 1.0, tilt: float = 90.0) -> np.ndarray:
    """Weights of one arrangement.

    Parameters
    ----------
    name : str
        One of :data:`ARRANGEMENTS`.
    scale : float
        ‖W_i‖² of every represented feature.
    tilt : float
        Angle θ in degrees between the members of a pair (``orthogonal`` only).

    Returns
    -------
    numpy.ndarray, shape (2, 4)
        Columns a₁, b₁, a₂, b₂.

    Examples
    --------
    >>> arrangement_weights("antipodal").round(6).tolist()
    [[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]]
    """
    if name not in _LAYOUTS:
        raise ValueError(f"name: must be one of {ARRANGEMENTS}; got {name!r}")
    angles = np.radians([np.nan if a is None else a for a in _LAYOUTS[name][0](tilt)])
    W = np.nan_to_num(np.sqrt(scale) * np.stack([np.cos(angles), np.sin(angles)]))
    W[np.abs(W) < 1e-12] = 0.0
    return W


def _coefficient(s, angle_i, angle_j):
    """s·cos(angle_i − angle_j), exactly 0 where a fixed angle makes it 0 (or j is dropped)."""
    if angle_j is None:
        return 0
    if np.ndim(angle_i) == 0 and np.ndim(angle_j) == 0:
        cos = round(math.cos(math.radians(angle_i - angle_j)), 12)
        return 0 if cos == 0 else s * cos
    return s * np.cos(np.radians(angle_i - angle_j))


def _role_errors(name: str, role: int, q, s, tilt, bias):
    """Expected error of a feature of ``role`` at scale s, tilt and bias (broadcast arrays)."""
    layout, roles = _LAYOUTS[name]
    angles = layout(tilt)
    i = roles.index(role)
    row = ([0] * len(angles) if angles[i] is None
           else [_coefficient(s, angles[i], a) for a in angles])
    return _feature_error(row, i, bias, [q, q])


def _zoom(low, high, best, points: int):
    """The range ±2 grid steps around ``best``."""
    width = (high - low) * 2 / (points - 1)
    return best - width, best + width


def _search(name: str, q, cells: int, tilts) -> dict:
    """Grid search with zooming over s, the tilt (if ``tilts`` is a range) and every bias."""
    roles = _LAYOUTS[name][1]
    counts = np.bincount(roles)
    ns, nt = _GRID, (_GRID if tilts is not None else 1)
    s_low, s_high = np.full(cells, 0.05), np.full(cells, 3.0)
    t_low, t_high = (np.full(cells, tilts[0]), np.full(cells, tilts[1])) if tilts else (None, None)
    b_low, b_high = np.full((len(counts), cells), -1.0), np.full((len(counts), cells), 1.0)
    step = np.linspace(0.0, 1.0, _GRID)
    for _ in range(_ROUNDS):
        s = np.maximum(s_low[:, None] + (s_high - s_low)[:, None] * step, 0.05)[:, :, None, None]
        if tilts is None:
            tilt = 90.0
        else:
            tilt = t_low[:, None] + (t_high - t_low)[:, None] * np.linspace(0.0, 1.0, nt)
            off = tilt - 90.0                 # keep out of the band where cos θ cancels
            tilt = np.where(np.abs(off) < _UPRIGHT_BAND,
                            90.0 + np.where(off < 0, -_UPRIGHT_BAND, _UPRIGHT_BAND), tilt)
            tilt = tilt[:, None, :, None]
        b = (b_low[..., None] + (b_high - b_low)[..., None] * step)[:, :, None, None, :]
        errors = np.stack([np.broadcast_to(_role_errors(name, r, q, s, tilt, b[r]),
                                           (cells, ns, nt, _GRID)) for r in range(len(counts))])
        # ties sit where the ReLU is off for every input: prefer the largest such bias, next
        # to where the output comes alive (a dropped feature's optimum p/2 can be tiny)
        best_b = _GRID - 1 - errors[..., ::-1].argmin(-1)                 # (roles, k, ns, nt)
        total = (counts[:, None, None, None] * errors.min(-1)).sum(0) / len(roles)
        flat = total.reshape(cells, -1).argmin(-1)
        si, ti, k = flat // nt, flat % nt, np.arange(cells)
        bi = best_b[:, k, si, ti]                                         # (roles, k)
        s_best = s[k, si, 0, 0]
        b_best = b[np.arange(len(counts))[:, None], k, 0, 0, bi]
        s_low, s_high = _zoom(s_low, s_high, s_best, ns)
        b_low, b_high = _zoom(b_low, b_high, b_best, _GRID)
        if tilts is not None:
            t_best = tilt[k, 0, ti, 0]
            t_low, t_high = _zoom(t_low, t_high, t_best, nt)
    return {"loss": total[k, si, ti], "scale": s_best,
            "tilt": t_best if tilts is not None else np.full(cells, 90.0), "biases": b_best}


def arrangement_optimum(name: str, p, c) -> pd.DataFrame:
    """An arrangement's loss, minimised over its scale, its tilt and its biases.

    Parameters
    ----------
    name : str
        One of :data:`ARRANGEMENTS`.
    p : array_like, shape (k,)
        Densities 1 − S, in (0, 1].
    c : array_like, shape (k,)
        Presence correlations, in [0, 1]; broadcast against ``p``.

    Returns
    -------
    pandas.DataFrame
        One row per (p, c): ``loss`` (per feature), ``scale`` s = ‖W_i‖² of the represented
        features, ``tilt`` (the angle θ between the members of a pair: searched in
        :data:`TILT_RANGE` for ``orthogonal``, 90 for the others) and ``bias0``, ``bias1``, …
        per role (module docstring; a₁'s first). Found by a grid search that starts over
        s ∈ [0.05, 3], the tilt range and every role's bias in [−1, 1] and zooms 20 times to
        ±2 grid steps around the best point, so the optimum may lie a little outside the
        starting ranges (the loss to about 10⁻¹⁰). For ``orthogonal`` it is the better of that
        search and θ = 90° exactly; tilts within 0.1° of 90° are not searched (their float
        sums cancel), which costs at most a few 10⁻¹⁰ of loss.

    Examples
    --------
    >>> opt = arrangement_optimum("collapsed", [0.5], [0.3])   # the closed form: s = 1/2, b = 0
    >>> [round(float(opt[k].iloc[0]), 6) for k in ("scale", "bias0")]
    [0.5, 0.0]
    >>> bool(abs(opt["loss"].iloc[0] - collapsed_error(0.5, 0.3)) < 1e-12)
    True
    """
    if name not in _LAYOUTS:
        raise ValueError(f"name: must be one of {ARRANGEMENTS}; got {name!r}")
    p, c = np.broadcast_arrays(np.atleast_1d(np.asarray(p, dtype=float)),
                               np.atleast_1d(np.asarray(c, dtype=float)))
    pair_probabilities(p, c)                       # checks the ranges
    return _optimum(name, tuple(p.tolist()), tuple(c.tolist())).copy()


@functools.lru_cache(maxsize=64)
def _optimum(name: str, p: tuple, c: tuple) -> pd.DataFrame:
    """:func:`arrangement_optimum`, remembered per exact input: the book and the tests ask
    for the same grids many times, and the tilted search takes seconds."""
    p, c = np.array(p), np.array(c)
    q = pair_probabilities(p, c)
    best = _search(name, tuple(x[:, None, None, None] for x in q), len(p), None)
    if name == "orthogonal":
        tilted = _search(name, tuple(x[:, None, None, None] for x in q), len(p), TILT_RANGE)
        better = tilted["loss"] < best["loss"]
        best = {key: np.where(better, tilted[key], value) for key, value in best.items()}
    out = pd.DataFrame({"p": p, "c": c, "loss": best["loss"], "scale": best["scale"],
                        "tilt": best["tilt"]})
    for r, bias in enumerate(best["biases"]):
        out[f"bias{r}"] = bias
    return out


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
        :data:`ARRANGEMENTS` (per feature, at its optimal scale and biases,
        :func:`arrangement_optimum`), the reference ``single``, and ``best``, the cheapest
        arrangement (ties within 10⁻⁹ go to the earlier one: orthogonal before antipodal at
        c = 0, orthogonal before collapsed at p = 1).

    Examples
    --------
    >>> df = pair_losses([0.03, 0.03, 0.9], [1.0, 0.0, 0.5])
    >>> df["best"].tolist()
    ['orthogonal', 'orthogonal', 'collapsed']
    >>> bool((df["orthogonal"] <= df["antipodal"] + 1e-9).all())
    True
    """
    p, c = np.broadcast_arrays(np.atleast_1d(np.asarray(p, dtype=float)),
                               np.atleast_1d(np.asarray(c, dtype=float)))
    out = pd.DataFrame({"p": p, "c": c})
    for name in ARRANGEMENTS:
        out[name] = (collapsed_error(p, c) if name == "collapsed"
                     else arrangement_optimum(name, p, c)["loss"].to_numpy())
    out["single"] = feature_variance(p) / 2
    # the search's last digits must not decide ties: round to its precision first
    out["best"] = out[list(ARRANGEMENTS)].round(9).idxmin(axis=1)
    return out


def collapse_boundary(densities, *, tol: float = 1e-4) -> pd.DataFrame:
    """The correlation above which collapsed pairs are the cheapest arrangement.

    Parameters
    ----------
    densities : array_like, shape (k,)
        Densities 1 − S, in (0, 1).
    tol : float
        Precision of the bisection on c.

    Returns
    -------
    pandas.DataFrame
        ``p`` and ``c`` = c*(p): ``collapsed`` is the cheapest of :data:`ARRANGEMENTS` for
        c > c*(p): 0 where it is cheapest already at c = 0, NaN where it is not cheapest
        even at c = 1. Collapsed gets cheaper as c
        grows (G = p/6 − q₂/8) faster than the others (``antipodal`` never beats
        ``orthogonal``), so c* is found by bisection, from below at the correlation where G
        meets the untilted orthogonal members' loss O* (independent of c, as its members
        interfere only with independent features): c = (8(p/6 − O*) − p²)/(p(1 − p)).

    Examples
    --------
    >>> collapse_boundary([0.5, 0.3, 0.05])["c"].round(2).tolist()
    [0.45, 0.92, nan]
    >>> collapse_boundary([0.1, 0.05])["c"].tolist()
    [nan, nan]
    """
    p = np.atleast_1d(np.asarray(densities, dtype=float))
    _check("densities", p, 1e-12, 1 - 1e-12)
    upright = arrangement_optimum("orthogonal", p, 0.0)["loss"].to_numpy()
    c = (8 * (p / 6 - upright) - p ** 2) / (p * (1 - p))
    open_ = c <= 1
    if not open_.any():                       # orthogonal beats collapse at every correlation
        return pd.DataFrame({"p": p, "c": np.nan})
    q = p[open_]

    def collapsed_cheapest(c):
        others = np.minimum(arrangement_optimum("orthogonal", q, c)["loss"].to_numpy(),
                            arrangement_optimum("triangle", q, c)["loss"].to_numpy())
        return collapsed_error(q, c) < others

    low, high = np.clip(c[open_], 0.0, 1.0), np.ones_like(q)
    never, always = ~collapsed_cheapest(high), collapsed_cheapest(low)
    while np.max(high - low) > tol:
        mid = (low + high) / 2
        cheapest = collapsed_cheapest(mid)
        low, high = np.where(cheapest, low, mid), np.where(cheapest, mid, high)
    c[open_] = np.where(never, np.nan, np.where(always, low, high))
    c[~open_] = np.nan
    return pd.DataFrame({"p": p, "c": c})


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
    >>> grid = pair_phase_map([0.9, 0.01], [0.0, 1.0])
    >>> grid[["p", "c"]].values.tolist()
    [[0.9, 0.0], [0.9, 1.0], [0.01, 0.0], [0.01, 1.0]]
    >>> grid["best"].tolist()
    ['triangle', 'collapsed', 'orthogonal', 'orthogonal']
    """
    p, c = np.meshgrid(np.asarray(densities, dtype=float), np.asarray(correlations, dtype=float),
                       indexing="ij")
    return pair_losses(p.ravel(), c.ravel())
