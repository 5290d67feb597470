"""Learning dynamics: energy-level jumps and geometric stages over training snapshots.

Elhage et al. (2022, section "Superposition and learning dynamics") describe two phenomena,
which this module detects in the snapshots a run records (``ExperimentSpec.snapshot_log``,
:class:`~superposition_lib.core.run.Snapshots`):

**Energy-level jumps.** In a uniform-superposition model, every feature's dimensionality D_i(t)
(:func:`~superposition_lib.core.metrics.feature_dimensionality`) first splits to 1/2 (an antipodal
pair) or 0 (not represented); later some features jump between such levels, and the loss drops
in small steps at the jumps. Definitions used here, for one model, with snapshot steps t_k
(log-spaced) and positions u_k = log10(t_k) (snapshots at step 0 are ignored: they have no
log-position):

- *Levels* ℓ: by default :data:`LEVELS` = {0, 1/3, 2/5, 1/2, 2/3, 3/4, 1}, the values D_i takes
  for an unrepresented feature and for the vertices of the regular configurations the paper
  finds (m/k for k features in m dimensions; 1 = a dedicated dimension).
- A feature *enters* level ℓ at a snapshot when ℓ is the level nearest to D_i(t_k) and
  abs(D_i(t_k) − ℓ) ≤ ``tol`` (0.03 by default, under half the smallest gap between the
  default levels, 2/5 − 1/3), and stays *on* it while abs(D_i − ℓ) ≤ ``leave`` (default
  2 ``tol``) unless it enters another level (hysteresis, :func:`track_levels`): noise at the
  edge of the band does not cut a plateau in two.
- A *plateau* is a maximal run of consecutive snapshots on one level, from its first to its
  last snapshot within ``tol`` of the level (the wider ``leave`` band only bridges gaps), that
  lasts at least ``min_span`` decades of training (u_last − u_first ≥ 0.1 by default, a factor
  1.26 in steps), holds at least ``min_points`` snapshots (5) and is flat: D_i drifts across it by at most
  ``max_drift`` (default ``tol``; the drift is the slope of the least-squares line of D_i
  against u times the plateau's length). Without the last condition a feature that moves slowly
  from 0.25 to 1/2 would make "plateaus" at 1/3 and 2/5 on its way, as trained features do.
  Consecutive plateaus on the same level are merged: brief excursions between them (noise, or a
  failed jump) are not jumps.
- The *initial state* lasts until the trajectories start to move: up to the first snapshot by
  which at least half of the features have been more than :data:`INITIAL_MOVE` (0.05) away from
  their first value (on the running median of 5 snapshots, so that noise does not end it).
  With log-spaced snapshots the weights barely move over the first decades, so an initial D_i
  that happens to lie near a level would look like a plateau, and the initial split like a jump.
  Runs are cut where the initial state ends; a plateau that starts inside it is *initial*, is
  never merged with a later plateau and is never the origin of a jump (unless
  ``initial_state=False``, for trajectories that start later in training).
- A *jump* is a pair of consecutive plateaus of one feature on different levels whose
  *transition window*, from the last snapshot of the first plateau (``step_start``) to the first
  snapshot of the second (``step_end``), spans at most ``max_transition`` decades (0.3, a
  factor 2 in steps), and across which the feature's median D changes by at least
  ``min_change`` (0.75) times the gap between the two levels: a change smaller than the gap
  between neighbouring levels is a drift between them, not a jump. Its ``step`` is the window's
  geometric midpoint sqrt(step_start · step_end). The first plateaus themselves (the initial
  split) are not jumps: they have no plateau before them, or only an initial one.

:func:`energy_level_jumps` lists the jumps with the loss before and after each one;
:func:`jump_loss_fraction` measures how much of the loss decrease after a given step (e.g. after
the initial split, :func:`split_step`) happens inside jump windows, next to the fraction of the
log-time those windows cover (what the loss fraction would be if the loss fell at a constant rate
in log-time).

**Geometric stages** (n=6, m=3, two correlated sets of 3 features, 0-2 and 3-5). The paper sees
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

Shapes: D has shape (snapshots, n); steps (snapshots,); W (..., m, n) as everywhere in the
library (:mod:`superposition_lib.core.metrics`).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.metrics import _as_float64, feature_dimensionality, feature_norms

__all__ = [
    "LEVELS",
    "SETS",
    "STAGES",
    "StageThresholds",
    "assign_levels",
    "classify_stages",
    "energy_level_jumps",
    "feature_trajectories",
    "jump_loss_fraction",
    "plateaus",
    "split_step",
    "stage_measurements",
    "stage_trajectory",
    "track_levels",
    "INITIAL_MOVE",
]

#: Default dimensionality levels: unrepresented, the vertices of the regular configurations
#: (m/k: 1/3, 2/5 pentagon, 1/2 digon, 2/3 triangle, 3/4 tetrahedron) and a dedicated dimension.
LEVELS = (0.0, 1 / 3, 2 / 5, 1 / 2, 2 / 3, 3 / 4, 1.0)

#: The stages :func:`classify_stages` assigns: the paper's A-D in order, ``"pca_axes"`` (both
#: sets collapsed, each on an axis of its own: the linear, PCA solution) and ``"other"``.
STAGES = ("near_zero", "opposite_sets", "triangles", "antiprism", "pca_axes", "other")

#: The two correlated sets of the n=6, m=3 model: features 0-2 and 3-5.
SETS = ((0, 1, 2), (3, 4, 5))

#: How far (in D) a feature must move from its first value to count as moving: above noise,
#: below the initial split of every size (a feature of n = 400 in m = 30 that is dropped moves
#: from about m/n = 0.075 to 0).
INITIAL_MOVE = 0.05
_PLATEAU_DTYPES = {"feature": int, "level": float, "step_start": np.int64, "step_end": np.int64,
                   "n_snapshots": int, "median": float, "initial": bool}


# ------------------------------------------------------------------------------------------
# Energy levels
# ------------------------------------------------------------------------------------------
def _as_trajectories(D, steps) -> tuple[np.ndarray, np.ndarray]:
    """D as (snapshots, features) float64 and steps as int64 (snapshots,), validated."""
    D = np.asarray(D, dtype=np.float64)
    steps = np.asarray(steps)
    if D.ndim == 1:
        D = D[:, None]
    if D.ndim != 2:
        raise ValueError(f"D must have shape (snapshots, features); got {D.shape}")
    if steps.ndim != 1 or len(steps) != len(D):
        raise ValueError(f"steps must have shape ({len(D)},), one per snapshot of D; got "
                         f"{steps.shape}")
    if len(steps) > 1 and np.any(np.diff(steps) <= 0):
        raise ValueError("steps must be strictly increasing")
    return D, steps.astype(np.int64)


def assign_levels(D, levels: Sequence[float] = LEVELS, tol: float = 0.03) -> np.ndarray:
    """Index of the level each dimensionality sits on, or −1 when it is on none.

    A value is on level ℓ when ℓ is its nearest level and abs(D − ℓ) ≤ ``tol``.

    Parameters
    ----------
    D : array_like, any shape
        Feature dimensionalities D_i.
    levels : sequence of float
        The levels (default :data:`LEVELS`).
    tol : float
        Largest distance from a level.

    Returns
    -------
    numpy.ndarray of int, same shape as D
        Index into ``levels``, or −1.

    Examples
    --------
    >>> assign_levels([0.01, 0.49, 0.45, 0.99])   # 0.45 is 0.05 from both 2/5 and 1/2
    array([ 0,  3, -1,  6])
    """
    if not tol >= 0:
        raise ValueError(f"tol must be a non-negative number; got {tol!r}")
    D = np.asarray(D, dtype=np.float64)
    lv = np.asarray(levels, dtype=np.float64)
    if lv.ndim != 1 or len(lv) == 0:
        raise ValueError(f"levels must be a non-empty sequence of numbers; got {levels!r}")
    dist = np.abs(D[..., None] - lv)
    nearest = np.argmin(dist, axis=-1)
    on = np.take_along_axis(dist, nearest[..., None], -1)[..., 0] <= tol
    return np.where(on, nearest, -1)


def track_levels(D, levels: Sequence[float] = LEVELS, tol: float = 0.03,
                 leave: float | None = None) -> np.ndarray:
    """The level each feature is on at each snapshot, with hysteresis, or −1 when on none.

    A feature enters level ℓ when ℓ is its nearest level and abs(D − ℓ) ≤ ``tol``
    (:func:`assign_levels`); it stays on ℓ while abs(D − ℓ) ≤ ``leave``, unless it enters
    another level first. A feature that hovers near a level's edge therefore does not flicker
    on and off it, and one that drifts between two close levels (1/3 and 2/5 are 0.067 apart)
    leaves the first only when it is well on its way.

    Parameters
    ----------
    D : array_like, shape (snapshots, n) or (snapshots,)
        Dimensionality trajectories, snapshots in order.
    levels : sequence of float
        The levels (default :data:`LEVELS`).
    tol : float
        Largest distance at which a feature enters a level.
    leave : float, optional
        Distance beyond which it leaves its level (default ``2 * tol``); at least ``tol``.

    Returns
    -------
    numpy.ndarray of int, same shape as D
        Index into ``levels``, or −1.

    Examples
    --------
    A feature at 0.5 that wanders to 0.54 stays on 1/2 (0.54 is within ``leave`` = 0.06);
    without hysteresis it would be on no level there:

    >>> track_levels([0.5, 0.54, 0.51, 0.58], levels=[0.0, 0.5, 1.0])
    array([ 1,  1,  1, -1])
    >>> assign_levels([0.5, 0.54, 0.51, 0.58], levels=[0.0, 0.5, 1.0])
    array([ 1, -1,  1, -1])
    """
    leave = 2 * tol if leave is None else leave
    if not leave >= tol:
        raise ValueError(f"leave must be a number >= tol ({tol!r}); got {leave!r}")
    D = np.asarray(D, dtype=np.float64)
    lv = np.asarray(levels, dtype=np.float64)
    entered = assign_levels(D, lv, tol)
    state = np.empty_like(entered)
    if len(D) == 0:
        return state
    state[0] = entered[0]
    for k in range(1, len(D)):
        previous = state[k - 1]
        stays = (previous >= 0) & (np.abs(D[k] - lv[np.maximum(previous, 0)]) <= leave)
        state[k] = np.where(entered[k] >= 0, entered[k], np.where(stays, previous, -1))
    return state


def _training_start(D: np.ndarray) -> int:
    """Index of the first snapshot by which at least half of the features have moved more than
    :data:`INITIAL_MOVE` from their first value (``len(D)`` if never): where the initial state
    ends. Moves are measured on the running median of 5 snapshots, so that noise does not end
    it early."""
    if len(D) == 0:
        return 0
    padded = np.pad(D, ((2, 2), (0, 0)), mode="edge")
    smooth = np.median(np.lib.stride_tricks.sliding_window_view(padded, 5, axis=0), axis=-1)
    moved = np.maximum.accumulate(np.abs(smooth - smooth[0]) > INITIAL_MOVE,
                                  axis=0).mean(1) >= 0.5
    return int(np.argmax(moved)) if moved.any() else len(D)


def _drift(u: np.ndarray, d: np.ndarray) -> float:
    """abs(slope) of the least-squares line of d against u, times the span of u."""
    du = u - u.mean()
    spread = float(du @ du)
    if spread == 0:
        return 0.0
    return abs(float(du @ (d - d.mean())) / spread) * float(u[-1] - u[0])


def plateaus(D, steps, *, levels: Sequence[float] = LEVELS, tol: float = 0.03,
             leave: float | None = None, min_span: float = 0.1, min_points: int = 5,
             max_drift: float | None = None) -> pd.DataFrame:
    """Plateaus of feature dimensionality trajectories.

    A plateau is a maximal run of consecutive snapshots on one level (:func:`track_levels`,
    with hysteresis) lasting at least ``min_span`` decades (log10 of the step ratio between its
    first and last snapshot) with at least ``min_points`` snapshots, over which D drifts by at most
    ``max_drift``. Consecutive plateaus of a feature on the same level are merged, except
    *initial* plateaus (those that start before the trajectories start to move, see the module
    docstring), which are kept apart. Snapshots at step 0 are ignored.

    Parameters
    ----------
    D : array_like, shape (snapshots, n) or (snapshots,)
        Dimensionality of every feature at every snapshot, e.g.
        ``metrics.feature_dimensionality(run.snapshots.W[:, model])``.
    steps : array_like of int, shape (snapshots,)
        Strictly increasing snapshot steps.
    levels : sequence of float
        The levels (default :data:`LEVELS`).
    tol : float
        Largest distance at which a feature enters a level.
    leave : float, optional
        Distance beyond which it leaves the level (default ``2 * tol``).
    min_span : float
        Shortest plateau, in decades of steps.
    min_points : int
        Fewest snapshots in a plateau.
    max_drift : float, optional
        Largest drift of D across a plateau (default ``tol``): the slope of the least-squares
        line of D against log10(step) times the plateau's length in decades. It rejects slow
        drifts that pass through a level's tolerance band without stopping there.

    Returns
    -------
    pandas.DataFrame
        One row per plateau, ordered by feature and step: ``feature``, ``level`` (its value),
        ``step_start`` and ``step_end`` (its first and last snapshot), ``n_snapshots`` (the
        snapshots on the level between them), ``median`` (the median D over them),
        ``initial`` (it starts in the initial state).

    Examples
    --------
    A feature that starts at 0.3, splits to 1/2 at step 30, then jumps to 0 at step 1000 (with
    0.3 as one of the levels, its start is an initial plateau, from which no jump is counted):

    >>> steps = np.unique(np.geomspace(1, 10_000, 40).round().astype(int))
    >>> D = np.select([steps < 30, steps < 1000], [0.3, 0.5], 0.0)
    >>> plateaus(D, steps, levels=[0.0, 0.3, 0.5])
       feature  level  step_start  step_end  n_snapshots  median  initial
    0        0    0.3           1        27           12     0.3     True
    1        0    0.5          35       943           15     0.5    False
    2        0    0.0        1194     10000           10     0.0    False
    """
    D, steps = _as_trajectories(D, steps)
    if min_points < 1 or not min_span >= 0:
        raise ValueError(f"min_points must be >= 1 and min_span >= 0; got {min_points!r} and "
                         f"{min_span!r}")
    lv = np.asarray(levels, dtype=np.float64)
    keep = steps > 0
    D, steps = D[keep], steps[keep]
    u = np.log10(steps)
    idx = track_levels(D, lv, tol, leave)
    start = _training_start(D)
    max_drift = tol if max_drift is None else max_drift
    rows = []
    for feature in range(D.shape[1]):
        runs = []  # qualifying runs: [level index, first, last, positions on the level]
        level = idx[:, feature]
        breaks = np.union1d(np.flatnonzero(np.diff(level)) + 1, [start])
        breaks = breaks[(breaks > 0) & (breaks < len(level))]
        for a, b in zip(np.r_[0, breaks], np.r_[breaks, len(level)]):
            if level[a] < 0:
                continue
            # from the first to the last snapshot within tol: hysteresis only bridges gaps
            core = np.flatnonzero(np.abs(D[a:b, feature] - lv[level[a]]) <= tol)
            if len(core) == 0:
                continue
            a, b = a + core[0], a + core[-1] + 1
            if (b - a < min_points or u[b - 1] - u[a] < min_span
                    or _drift(u[a:b], D[a:b, feature]) > max_drift):
                continue
            if runs and runs[-1][0] == level[a] and (runs[-1][1] < start) == (a < start):
                runs[-1][2], runs[-1][3] = b - 1, runs[-1][3] + list(range(a, b))
            else:
                runs.append([level[a], a, b - 1, list(range(a, b))])
        rows += [(feature, lv[k], steps[a], steps[b], len(on),
                  statistics.median(D[on, feature].tolist()), a < start)
                 for k, a, b, on in runs]
    columns = list(zip(*rows)) or [()] * len(_PLATEAU_DTYPES)
    return pd.DataFrame({name: np.array(values, dtype=dtype) for (name, dtype), values
                         in zip(_PLATEAU_DTYPES.items(), columns)})


def _loss_at(loss, steps, loss_steps, at) -> np.ndarray:
    """The loss at steps ``at``: exact at snapshot steps, else linear in log-step."""
    loss = np.asarray(loss, dtype=np.float64)
    ls = np.asarray(steps if loss_steps is None else loss_steps, dtype=np.float64)
    if loss.ndim != 1 or len(loss) != len(ls):
        raise ValueError(f"loss must have shape ({len(ls)},), one value per "
                         f"{'step' if loss_steps is None else 'loss step'}; got {loss.shape}")
    keep = ls > 0
    return np.interp(np.log10(np.asarray(at, dtype=np.float64)), np.log10(ls[keep]), loss[keep])


def energy_level_jumps(D, steps, loss=None, *, loss_steps=None,
                       levels: Sequence[float] = LEVELS, tol: float = 0.03,
                       leave: float | None = None, min_span: float = 0.1, min_points: int = 5,
                       max_drift: float | None = None, max_transition: float = 0.3,
                       min_change: float = 0.75, initial_state: bool = True) -> pd.DataFrame:
    """Jumps of features between dimensionality levels during training.

    A jump is a pair of consecutive :func:`plateaus` of one feature on different levels,
    separated by a transition window of at most ``max_transition`` decades, across which the
    feature's median D changes by at least ``min_change`` times the gap between the two levels
    (see the module docstring for the full definitions). The last condition rejects a feature
    that hovers between two close levels (between 1/3 and 2/5, say at 0.35 and then at 0.385:
    half the gap) however the tolerances are set.

    Parameters
    ----------
    D : array_like, shape (snapshots, n) or (snapshots,)
        Dimensionality of every feature of one model at every snapshot.
    steps : array_like of int, shape (snapshots,)
        Strictly increasing snapshot steps (log-spaced; step 0 is ignored).
    loss : array_like, shape (snapshots,) or (len(loss_steps),), optional
        The model's loss curve, e.g. ``run.snapshots.loss[:, model]`` (on ``steps``) or
        ``run.history_loss[:, model]`` with ``loss_steps=run.history_steps``. When given, the
        loss columns are added.
    loss_steps : array_like of int, optional
        Steps of ``loss`` when they are not ``steps``; the loss is interpolated linearly in
        log-step at the window edges.
    levels, tol, leave, min_span, min_points, max_drift
        Plateau definition, see :func:`plateaus`.
    max_transition : float
        Longest transition window, in decades of steps.
    min_change : float
        Smallest change of the median D from one plateau to the next, as a fraction of the gap
        between their levels.
    initial_state : bool
        The first snapshot is the untrained state: a plateau that starts there is not the
        origin of a jump. Set it to False when D starts later in training (e.g. sliced from
        after the initial split).

    Returns
    -------
    pandas.DataFrame
        One row per jump, ordered by ``step``: ``feature``; ``step_start`` and ``step_end``, the
        transition window (last snapshot of the plateau before, first of the plateau after);
        ``step``, its geometric midpoint; ``level_before``, ``level_after``; with ``loss`` also
        ``loss_before`` and ``loss_after`` (the loss at ``step_start`` and ``step_end``) and
        ``loss_change = loss_after − loss_before`` (negative when the loss drops).

    Examples
    --------
    Both features split from 0.3 to 1/2 at step 30; feature 0 then jumps to 0 at step 1000,
    while the loss drops from 0.2 to 0.1:

    >>> steps = np.unique(np.geomspace(1, 10_000, 40).round().astype(int))
    >>> D = np.stack([np.select([steps < 30, steps < 1000], [0.3, 0.5], 0.0),
    ...               np.where(steps < 30, 0.3, 0.5)], axis=1)
    >>> loss = np.where(steps < 1000, 0.2, 0.1)
    >>> jumps = energy_level_jumps(D, steps, loss)
    >>> jumps[["feature", "step_start", "step_end", "level_before", "level_after"]]
       feature  step_start  step_end  level_before  level_after
    0        0         943      1194           0.5          0.0
    >>> float(jumps.loss_change.iloc[0]), round(float(jumps.step.iloc[0]))
    (-0.1, 1061)
    """
    D, steps = _as_trajectories(D, steps)
    if not max_transition >= 0:
        raise ValueError(f"max_transition must be a non-negative number; got {max_transition!r}")
    table = plateaus(D, steps, levels=levels, tol=tol, leave=leave, min_span=min_span,
                     min_points=min_points, max_drift=max_drift)
    # consecutive plateaus of one feature (the table is ordered by feature and step)
    before = {c: table[c].to_numpy()[:-1] for c in table.columns}
    after = {c: table[c].to_numpy()[1:] for c in table.columns}
    start, end = before["step_end"], after["step_start"]
    level_gap = np.abs(after["level"] - before["level"])
    with np.errstate(divide="ignore"):
        window = np.log10(end) - np.log10(start)
    jump = ((before["feature"] == after["feature"]) & (level_gap > 0)
            & ~(before["initial"] & initial_state) & (window <= max_transition)
            & (np.abs(after["median"] - before["median"]) >= min_change * level_gap))
    start, end = start[jump], end[jump]
    jumps = pd.DataFrame({"feature": before["feature"][jump].astype(int),
                          "step_start": start.astype(np.int64), "step_end": end.astype(np.int64),
                          "step": np.sqrt(start.astype(float) * end),
                          "level_before": before["level"][jump].astype(float),
                          "level_after": after["level"][jump].astype(float)})
    if loss is not None:
        jumps["loss_before"] = _loss_at(loss, steps, loss_steps, jumps.step_start)
        jumps["loss_after"] = _loss_at(loss, steps, loss_steps, jumps.step_end)
        jumps["loss_change"] = jumps.loss_after - jumps.loss_before
    return jumps.sort_values(["step", "feature"], kind="stable").reset_index(drop=True)


def split_step(D, steps, *, fraction: float = 0.9, levels: Sequence[float] = LEVELS,
               tol: float = 0.03, leave: float | None = None, min_span: float = 0.1,
               min_points: int = 5, max_drift: float | None = None) -> int | None:
    """The step by which the features have split onto levels (the end of the initial split).

    The first snapshot step at which at least ``fraction`` of the features lie inside one of
    their :func:`plateaus` other than an initial one. A natural ``after`` for
    :func:`jump_loss_fraction`.

    Parameters
    ----------
    D : array_like, shape (snapshots, n) or (snapshots,)
        Dimensionality of every feature of one model at every snapshot.
    steps : array_like of int, shape (snapshots,)
        Strictly increasing snapshot steps.
    fraction : float
        Fraction of the features, in (0, 1].
    levels, tol, leave, min_span, min_points, max_drift
        Plateau definition, see :func:`plateaus`.

    Returns
    -------
    int or None
        The step, or None if the features never get there.

    Examples
    --------
    >>> steps = np.unique(np.geomspace(1, 10_000, 40).round().astype(int))
    >>> D = np.stack([np.where(steps < 100, 0.8, 0.5), np.where(steps < 300, 0.2, 0.0)], 1)
    >>> split_step(D, steps), split_step(D, steps, fraction=0.5)
    (367, 113)
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1]; got {fraction!r}")
    D, steps = _as_trajectories(D, steps)
    table = plateaus(D, steps, levels=levels, tol=tol, leave=leave, min_span=min_span,
                     min_points=min_points, max_drift=max_drift)
    table = table[~table.initial]
    inside = np.zeros((len(steps), D.shape[1]), dtype=bool)
    for row in table.itertuples():
        inside[(steps >= row.step_start) & (steps <= row.step_end), row.feature] = True
    ok = np.flatnonzero(inside.sum(1) >= fraction * D.shape[1] - 1e-9)
    return int(steps[ok[0]]) if len(ok) else None


def jump_loss_fraction(jumps: pd.DataFrame, loss, steps, *, after: int | None = None
                       ) -> pd.Series:
    """How much of the loss decrease happens inside jump windows.

    The jump windows [``step_start``, ``step_end``] of all features are merged where they
    overlap and clipped to [``after``, last step]. The loss decrease inside them (the sum over
    merged windows of loss at the start minus loss at the end) is compared with the whole
    decrease from ``after`` to the last step.

    Parameters
    ----------
    jumps : pandas.DataFrame
        From :func:`energy_level_jumps` (columns ``step_start``, ``step_end``).
    loss : array_like, shape (snapshots,)
        The model's loss at ``steps`` (e.g. ``run.snapshots.loss[:, model]``); between steps it
        is interpolated linearly in log-step.
    steps : array_like of int, shape (snapshots,)
        Strictly increasing steps of ``loss``.
    after : int, optional
        Only the decrease after this step counts (e.g. :func:`split_step`); default the first
        positive step.

    Returns
    -------
    pandas.Series
        ``total_decrease`` (loss at ``after`` minus loss at the end), ``jump_decrease`` (inside
        the windows), ``fraction`` (their ratio; NaN when the loss did not decrease),
        ``windows`` (merged windows after ``after``) and ``log_time_fraction`` (the fraction of
        log-time from ``after`` to the end the windows cover: the loss fraction expected if the
        loss fell at a constant rate in log-time).

    Examples
    --------
    Loss falls from 1.0 to 0.4 between steps 10 and 10,000; a jump window [100, 200] holds a
    drop of 0.3:

    >>> steps = np.array([10, 100, 200, 1000, 10_000])
    >>> loss = np.array([1.0, 0.9, 0.6, 0.5, 0.4])
    >>> jumps = pd.DataFrame({"step_start": [100], "step_end": [200]})
    >>> s = jump_loss_fraction(jumps, loss, steps)
    >>> round(float(s.fraction), 3), int(s.windows), round(float(s.log_time_fraction), 3)
    (0.5, 1, 0.1)
    """
    steps = np.asarray(steps)
    _, steps = _as_trajectories(np.zeros(len(steps)), steps)
    positive = steps[steps > 0]
    if len(positive) == 0:
        raise ValueError("steps must contain a positive step")
    first, last = (int(positive[0]) if after is None else int(after)), int(positive[-1])
    if not positive[0] <= first < last:
        raise ValueError(f"after must lie in [{positive[0]}, {last}); got {after!r}")
    windows = sorted((max(int(a), first), min(int(b), last))
                     for a, b in zip(jumps["step_start"], jumps["step_end"])
                     if b > first and a < last)
    merged: list[list[int]] = []
    for a, b in windows:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])

    def value(step):
        return _loss_at(loss, steps, None, step)

    total = float(value(first) - value(last))
    inside = float(sum(value(a) - value(b) for a, b in merged))
    span = np.log10(last) - np.log10(first)
    covered = sum(np.log10(b) - np.log10(a) for a, b in merged)
    return pd.Series({"total_decrease": total, "jump_decrease": inside,
                      "fraction": inside / total if total > 0 else np.nan,
                      "windows": len(merged), "log_time_fraction": covered / span})


def feature_trajectories(W, steps, *, levels: Sequence[float] = LEVELS,
                         tol: float = 0.03) -> pd.DataFrame:
    """Norm, dimensionality and level of every feature at every snapshot, as a tidy table.

    Parameters
    ----------
    W : array_like, shape (snapshots, m, n)
        One model's weights at every snapshot, e.g. ``run.snapshots.W[:, model]``.
    steps : array_like of int, shape (snapshots,)
        Snapshot steps.
    levels, tol
        See :func:`assign_levels`.

    Returns
    -------
    pandas.DataFrame
        One row per snapshot and feature: ``step``, ``feature``, ``norm`` ‖W_i‖, ``D``
        (:func:`~superposition_lib.core.metrics.feature_dimensionality`) and ``level`` (the level D
        sits on, NaN when on none).

    Examples
    --------
    >>> W = np.array([[[0.1, 0.0]], [[1.0, -1.0]]])     # two snapshots, m=1, n=2
    >>> feature_trajectories(W, [0, 100])
       step  feature  norm    D  level
    0     0        0   0.1  1.0    1.0
    1     0        1   0.0  0.0    0.0
    2   100        0   1.0  0.5    0.5
    3   100        1   1.0  0.5    0.5
    """
    W = _as_float64(W)
    if W.ndim != 3:
        raise ValueError(f"W must have shape (snapshots, m, n) for one model; got {W.shape}")
    D = feature_dimensionality(W)
    steps = np.asarray(steps)
    if steps.shape != (len(W),):
        raise ValueError(f"steps must have shape ({len(W)},); got {steps.shape}")
    idx = assign_levels(D, levels, tol)
    level = np.where(idx >= 0, np.asarray(levels, dtype=np.float64)[np.maximum(idx, 0)], np.nan)
    k, n = D.shape
    return pd.DataFrame({"step": np.repeat(steps, n), "feature": np.tile(np.arange(n), k),
                         "norm": feature_norms(W).reshape(-1), "D": D.reshape(-1),
                         "level": level.reshape(-1)})


# ------------------------------------------------------------------------------------------
# Geometric stages of the n=6, m=3 model with two correlated sets
# ------------------------------------------------------------------------------------------
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
