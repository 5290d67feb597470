"""Geometric stages of the n = 6, m = 3 model with two correlated sets over training.

Elhage et al. (2022, section "Superposition and learning dynamics") train n=6 features in m=3
dimensions, in two correlated sets of 3 features (0-2 and 3-5). The paper sees
the weights go (A) near zero, (B) the two sets pushed apart along one axis (already
superposition: six features on one axis), (C) each set expanded into a triangle, (D) the
triangles rotated into an antiprism (an octahedron, every feature antipodal to a feature of the
other set). :func:`stage_measurements`
measures, per model W (m × n, columns W_i; Ŵ_i = W_i / ‖W_i‖):

- ``norm_min``, ``norm_max``: the smallest and largest ‖W_i‖;
- ``effective_rank``: the participation ratio (Σ σ²)² / Σ σ⁴ of W's singular values σ (1 for a
  rank-one W, m for m equal singular values, e.g. 3 for an octahedron; 0 for W = 0);
- ``within_cos_0``, ``within_cos_1``: the mean cosine Ŵ_i · Ŵ_j over the pairs of each set (+1
  for parallel members, 0 for orthogonal ones; −1/2, its minimum for three vectors, exactly when
  the three unit vectors sum to zero: an equilateral triangle through the origin);
- ``within_spread_0``, ``within_spread_1``: the largest minus the smallest of those pairwise
  cosines (0 when the set's three directions are equally far apart, i.e. the tips of the unit
  vectors form an equilateral triangle);
- ``set_cos``: the cosine between the two sets' mean directions Σ_{i ∈ set} Ŵ_i (−1 when the
  sets point in opposite directions; 0 when a mean is zero);
- ``antipodal_cos``: pairing every feature of set 0 with one of set 1 so that the sum of the
  pairs' cosines is smallest, the largest (least antipodal) cosine of a pair (−1 for three
  exactly antipodal pairs).

:func:`classify_stages` turns them into stages (:data:`STAGES`) with the thresholds of
:class:`StageThresholds`, checked in this order:

1. ``"near_zero"``: ``norm_max < zero_norm`` (0.3);
2. ``"opposite_sets"`` (the paper's B): both sets collapsed (mean within-set cosine >
   ``parallel_cos``, 0.8), pointing in opposite directions (``set_cos < −opposite_cos``, −0.8),
   effective rank < ``opposite_rank`` (1.5);
3. ``"pca_axes"``: both sets collapsed, but not onto one axis: each set on an axis of its own,
   effective rank ≈ 2. This is the linear model's solution, PCA of two correlated sets (one
   principal component per set), without superposition; the paper names no such stage;
4. ``"antiprism"``: ``antipodal_cos < −antipodal_cos`` (−0.8) and ``effective_rank >
   antiprism_rank`` (2.5): three cross-set antipodal pairs spanning three dimensions;
5. ``"triangles"``: neither set collapsed and each one's pairwise cosines within
   ``triangle_spread`` (0.3) of each other: the tips of each set's unit vectors form a (nearly)
   equilateral triangle. This covers two readings of the paper's stage C: each set opened up
   around the shared axis into a cone (the two triangles facing each other across the origin, as a
   prism or rotating towards the antiprism: within-set cosines between 1 and 0), and planar
   triangles through the origin (within-set cosines −1/2, e.g. a hexagon of two coplanar
   triangles);
6. ``"other"``: anything else (including the transitions between stages).

Coplanar triangles rotated 60° against each other (a hexagon) and the octahedron are the two ends
of one family: triangular antiprisms whose two triangles lie in parallel planes at heights ±h
(relative to their radius; the octahedron has h = 1/√2, the hexagon h = 0). All have three
antipodal pairs; with the default ``antiprism_rank`` those with h > 0.37 are ``"antiprism"`` and
the flatter ones ``"triangles"``.

:func:`stage_trajectory` collapses a sequence of per-snapshot stages into the path a model takes
(e.g. near_zero → opposite_sets → triangles → antiprism), ignoring blips shorter than ``min_points``
snapshots.

Shapes: W (..., m, n) as everywhere in the library (:mod:`superposition_lib.core.metrics`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...core.metrics import _as_float64

__all__ = [
    "SETS",
    "STAGES",
    "StageThresholds",
    "classify_stages",
    "stage_measurements",
    "stage_trajectory",
]

#: The stages :func:`classify_stages` assigns: the paper's A-D in order, ``"pca_axes"`` (both
#: sets collapsed, each on an axis of its own: the linear, PCA solution) and ``"other"``.
STAGES = ("near_zero", "opposite_sets", "triangles", "antiprism", "pca_axes", "other")

#: The two correlated sets of the n=6, m=3 model: features 0-2 and 3-5.
SETS = ((0, 1, 2), (3, 4, 5))


@dataclass(frozen=True)
class StageThresholds:
    """Thresholds of :func:`classify_stages` (see the module docstring for the rules).

    Parameters
    ----------
    zero_norm : float
        ``"near_zero"``: every ‖W_i‖ below it.
    parallel_cos : float
        A set is *collapsed* when its mean within-set cosine is above it.
    opposite_cos : float
        ``"opposite_sets"``: the sets' mean directions have cosine below its negative.
    opposite_rank : float
        ``"opposite_sets"``: effective rank below it.
    antipodal_cos : float
        ``"antiprism"``: every matched cross-set pair's cosine below its negative.
    antiprism_rank : float
        ``"antiprism"``: effective rank above it.
    triangle_spread : float
        ``"triangles"``: each set's pairwise cosines differ by less than this.

    Examples
    --------
    >>> StageThresholds(zero_norm=0.1).zero_norm
    0.1
    """

    zero_norm: float = 0.3
    parallel_cos: float = 0.8
    opposite_cos: float = 0.8
    opposite_rank: float = 1.5
    antipodal_cos: float = 0.8
    antiprism_rank: float = 2.5
    triangle_spread: float = 0.3


def _measure(W: np.ndarray, sets) -> dict[str, np.ndarray]:
    """The stage measurements of a batch W, shape (k, m, n); each value shape (k,)."""
    a, b = (list(s) for s in sets)
    norms = np.linalg.norm(W, axis=-2)                                       # (k, n)
    unit = W / np.where(norms > 1e-12, norms, 1.0)[:, None, :]
    unit = np.where(norms[:, None, :] > 1e-12, unit, 0.0)
    cos = np.swapaxes(unit, 1, 2) @ unit                                     # (k, n, n)
    sv2 = np.linalg.svd(W, compute_uv=False) ** 2                            # (k, m)
    fourth = (sv2 ** 2).sum(1)
    rank = np.where(fourth > 0, sv2.sum(1) ** 2 / np.where(fourth > 0, fourth, 1.0), 0.0)

    def pairs(s):                                                            # (k, pairs)
        return np.stack([cos[:, i, j] for i, j in itertools.combinations(s, 2)], axis=1)

    pa, pb = pairs(a), pairs(b)
    mean_a, mean_b = unit[:, :, a].sum(2), unit[:, :, b].sum(2)              # (k, m)
    na, nb = np.linalg.norm(mean_a, axis=1), np.linalg.norm(mean_b, axis=1)
    ok = (na > 1e-9) & (nb > 1e-9)
    set_cos = np.where(ok, (mean_a * mean_b).sum(1) / np.where(ok, na * nb, 1.0), 0.0)
    cross = cos[:, a][:, :, b]                                               # (k, |a|, |b|)
    perms = np.array(list(itertools.permutations(range(len(b)))))           # (p, |a|)
    matched = cross[:, np.arange(len(a)), perms]                             # (k, p, |a|)
    best = np.argmin(matched.sum(2), axis=1)
    antipodal = matched[np.arange(len(W)), best].max(1)
    return {"norm_min": norms.min(1), "norm_max": norms.max(1), "effective_rank": rank,
            "within_cos_0": pa.mean(1), "within_cos_1": pb.mean(1),
            "within_spread_0": np.ptp(pa, axis=1), "within_spread_1": np.ptp(pb, axis=1),
            "set_cos": set_cos, "antipodal_cos": antipodal}


def _stages_from(meas: dict, t: StageThresholds) -> np.ndarray:
    w0, w1 = meas["within_cos_0"], meas["within_cos_1"]
    rank = meas["effective_rank"]
    collapsed = (w0 > t.parallel_cos) & (w1 > t.parallel_cos)
    rules = [  # first match wins
        ("near_zero", meas["norm_max"] < t.zero_norm),
        ("opposite_sets",
         collapsed & (meas["set_cos"] < -t.opposite_cos) & (rank < t.opposite_rank)),
        ("pca_axes", collapsed),
        ("antiprism", (meas["antipodal_cos"] < -t.antipodal_cos) & (rank > t.antiprism_rank)),
        ("triangles", (w0 <= t.parallel_cos) & (w1 <= t.parallel_cos)
         & (meas["within_spread_0"] < t.triangle_spread)
         & (meas["within_spread_1"] < t.triangle_spread)),
    ]
    stage = np.full(len(w0), "other", dtype=object)
    for name, mask in reversed(rules):
        stage[mask] = name
    return stage


def _check_sets(W: np.ndarray, sets) -> tuple[tuple[int, ...], tuple[int, ...]]:
    sets = tuple(tuple(int(i) for i in s) for s in sets)
    n = W.shape[-1]
    if (len(sets) != 2 or len(sets[0]) != len(sets[1]) or len(sets[0]) < 2
            or len(set(sets[0] + sets[1])) != 2 * len(sets[0])
            or not all(0 <= i < n for i in sets[0] + sets[1])):
        raise ValueError(f"sets must be two disjoint, equally sized groups (≥ 2) of feature "
                         f"indices below n={n}; got {sets!r}")
    return sets


def stage_measurements(W, steps=None, *, sets=SETS,
                       thresholds: StageThresholds | None = None) -> pd.DataFrame:
    """Geometry measurements of the two-correlated-sets model, and its stage, per snapshot.

    Parameters
    ----------
    W : array_like or torch.Tensor, shape (m, n), (snapshots, m, n) or (snapshots, models, m, n)
        Weights, e.g. ``run.snapshots.W`` (n=6, m=3 in the paper's experiment).
    steps : array_like of int, shape (snapshots,), optional
        Snapshot steps, added as a ``step`` column.
    sets : pair of sequences of int
        The two correlated sets (default features 0-2 and 3-5).
    thresholds : StageThresholds, optional
        Thresholds of the ``stage`` column (default ``StageThresholds()``).

    Returns
    -------
    pandas.DataFrame
        One row per W: ``snapshot`` (for 3-D and 4-D W), ``model`` (for 4-D W), ``step`` (when
        given), then ``norm_min``, ``norm_max``, ``effective_rank``, ``within_cos_0``,
        ``within_cos_1``, ``within_spread_0``, ``within_spread_1``, ``set_cos``,
        ``antipodal_cos`` (defined in the module docstring) and ``stage``
        (:func:`classify_stages`).

    Examples
    --------
    The octahedron: every feature of set 0 antipodal to one of set 1, in three dimensions.

    >>> W = np.hstack([np.eye(3), -np.eye(3)])
    >>> stage_measurements(W).round(3).iloc[0].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'norm_min': 1.0, 'norm_max': 1.0, 'effective_rank': 3.0, 'within_cos_0': 0.0,
     'within_cos_1': 0.0, 'within_spread_0': 0.0, 'within_spread_1': 0.0, 'set_cos': -1.0,
     'antipodal_cos': -1.0, 'stage': 'antiprism'}
    """
    W = _as_float64(W)
    if W.ndim > 4:
        raise ValueError(f"W must have shape (m, n), (snapshots, m, n) or (snapshots, models, "
                         f"m, n); got {W.shape}")
    sets = _check_sets(W, sets)
    lead = W.shape[:-2]
    meas = _measure(W.reshape(-1, *W.shape[-2:]), sets)
    meas["stage"] = _stages_from(meas, thresholds or StageThresholds())
    index = {}
    if len(lead) >= 1:
        index["snapshot"] = np.repeat(np.arange(lead[0]), int(np.prod(lead[1:])))
    if len(lead) == 2:
        index["model"] = np.tile(np.arange(lead[1]), lead[0])
    if steps is not None:
        steps = np.asarray(steps)
        if not lead or steps.shape != (lead[0],):
            raise ValueError(f"steps must have one entry per snapshot (W's first axis); got "
                             f"shape {steps.shape} for W of shape {W.shape}")
        index["step"] = np.repeat(steps, int(np.prod(lead[1:])))
    return pd.DataFrame({**index, **meas})


def classify_stages(W, *, sets=SETS, thresholds: StageThresholds | None = None) -> np.ndarray:
    """Stage of the two-correlated-sets model (n=6, m=3) for every W.

    One of :data:`STAGES`, from the measurements of :func:`stage_measurements`; the rules,
    checked in order, are in the module docstring: ``"near_zero"``, ``"opposite_sets"``,
    ``"pca_axes"``, ``"antiprism"``, ``"triangles"``, else ``"other"``.

    Parameters
    ----------
    W : array_like or torch.Tensor, shape (..., m, n)
        Weights; leading dimensions (snapshots, models, …) are batch dimensions.
    sets : pair of sequences of int
        The two correlated sets (default features 0-2 and 3-5).
    thresholds : StageThresholds, optional
        Default ``StageThresholds()``.

    Returns
    -------
    numpy.ndarray of str, shape W.shape[:-2]

    Examples
    --------
    >>> a = 2 * np.pi * np.arange(3) / 3
    >>> flat = np.vstack([np.cos(a), np.sin(a), np.zeros(3)])          # one set, 120° apart
    >>> cone = np.vstack([0.6 * np.cos(a), 0.6 * np.sin(a), 0.8 * np.ones(3)])  # opened up
    >>> prism = np.hstack([cone, cone * [[1], [1], [-1]]])             # mirror images
    >>> W = np.stack([0.01 * np.ones((3, 6)),
    ...               np.outer([1.0, 0.1, 0.0], [1, 1, 1, -1, -1, -1]),  # one axis
    ...               np.hstack([flat, -flat[:, [1, 0, 2]]]),            # coplanar triangles
    ...               prism,
    ...               np.hstack([np.eye(3), -np.eye(3)]),                # octahedron
    ...               np.outer([1, 0, 0], [1, 1, 1, 0, 0, 0])
    ...               + np.outer([0, 1, 0], [0, 0, 0, 1, 1, 1])])        # two axes
    >>> classify_stages(W).tolist()
    ['near_zero', 'opposite_sets', 'triangles', 'triangles', 'antiprism', 'pca_axes']
    """
    W = _as_float64(W)
    sets = _check_sets(W, sets)
    meas = _measure(W.reshape(-1, *W.shape[-2:]), sets)
    stage = _stages_from(meas, thresholds or StageThresholds())
    return stage.astype(str).reshape(W.shape[:-2])


def stage_trajectory(stages, steps, *, min_points: int = 3) -> pd.DataFrame:
    """The sequence of stages a model goes through, with blips removed.

    Runs of consecutive snapshots with the same stage are found; runs shorter than
    ``min_points`` snapshots are dropped (blips: noise at a threshold, or a passage too quick
    to call a stage); then neighbouring runs of the same stage are joined.

    Parameters
    ----------
    stages : sequence of str, shape (snapshots,)
        Stage of every snapshot of one model, e.g. ``classify_stages(run.snapshots.W[:, k])``.
    steps : array_like of int, shape (snapshots,)
        Snapshot steps, increasing.
    min_points : int
        Fewest snapshots of a stage that count.

    Returns
    -------
    pandas.DataFrame
        One row per stage visited, in order: ``stage``, ``step_start`` and ``step_end`` (its
        first and last snapshot), ``n_snapshots`` (snapshots in its kept runs).

    Examples
    --------
    >>> stages = (["near_zero"] * 4 + ["other"] + ["opposite_sets"] * 5 + ["other"] * 2
    ...           + ["opposite_sets"] * 3)
    >>> path = stage_trajectory(stages, np.arange(15))
    >>> path
               stage  step_start  step_end  n_snapshots
    0      near_zero           0         3            4
    1  opposite_sets           5        14            8
    >>> " → ".join(path.stage)
    'near_zero → opposite_sets'
    """
    stages = np.asarray(stages, dtype=object)
    steps = np.asarray(steps)
    if stages.ndim != 1 or steps.shape != stages.shape:
        raise ValueError(f"stages and steps must have the same shape (snapshots,); got "
                         f"{stages.shape} and {steps.shape}")
    if min_points < 1:
        raise ValueError(f"min_points must be >= 1; got {min_points!r}")
    rows: list[list] = []
    breaks = np.flatnonzero(stages[1:] != stages[:-1]) + 1
    for a, b in zip(np.r_[0, breaks], np.r_[breaks, len(stages)]):
        if b - a < min_points or len(stages) == 0:
            continue
        if rows and rows[-1][0] == stages[a]:
            rows[-1][2], rows[-1][3] = steps[b - 1], rows[-1][3] + b - a
        else:
            rows.append([stages[a], steps[a], steps[b - 1], b - a])
    return pd.DataFrame(rows, columns=["stage", "step_start", "step_end", "n_snapshots"]).astype(
        {"stage": str, "step_start": np.int64, "step_end": np.int64, "n_snapshots": int})
