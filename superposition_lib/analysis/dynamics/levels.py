"""Energy levels: the dimensionality levels features sit on over training, and plateaus on them.

In a uniform-superposition model, every feature's dimensionality D_i(t)
(:func:`~superposition_lib.core.metrics.feature_dimensionality`) first splits to 1/2 (an antipodal
pair) or 0 (not represented); later some features jump between such levels (Elhage et al. 2022,
section "Superposition and learning dynamics";
:mod:`~superposition_lib.analysis.dynamics.jumps` finds the jumps). Definitions used here, for
one model, with snapshot steps t_k (log-spaced) and positions u_k = log10(t_k) (snapshots at
step 0 are ignored: they have no log-position):

- *Levels* ℓ: by default :data:`LEVELS` = {0, 1/3, 2/5, 1/2, 2/3, 3/4, 1}, the values D_i takes
  for an unrepresented feature and for the vertices of the regular configurations the paper
  finds (m/k for k features in m dimensions; 1 = a dedicated dimension).
- A feature *enters* level ℓ at a snapshot when ℓ is the level nearest to D_i(t_k) and
  abs(D_i(t_k) − ℓ) ≤ ``tol`` (0.03 by default, under half the smallest gap between the
  default levels, 2/5 − 1/3), and stays *on* it while abs(D_i − ℓ) ≤ ``leave`` (default
  2 ``tol``) unless it enters another level (hysteresis, :func:`track_levels`): noise at the
  edge of the band does not cut a plateau in two.
- A *transient* level (:data:`TRANSIENT_LEVELS`: 1/√2, through which the paper's swap passes)
  is a value a feature passes but no configuration holds: a feature within ``tol`` of it (and
  nearer to it than to any level) is on no level, even where the hysteresis would keep it on
  a neighbour (2/3 is 0.04 away, within ``leave``), so that no plateau forms there.
- A *plateau* is a maximal run of consecutive snapshots on one level, from its first to its
  last snapshot within ``tol`` of the level (the wider ``leave`` band only bridges gaps), that
  lasts at least ``min_span`` decades of training (u_last − u_first ≥ 0.1 by default, a factor
  1.26 in steps), holds at least ``min_points`` snapshots (5) and is flat: D_i drifts across it
  by at most ``max_drift`` (default ``tol``; the drift is the slope of the least-squares line of
  D_i against u times the plateau's length). Without the last condition a feature that moves slowly
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

Shapes: D has shape (snapshots, n); steps (snapshots,); W (snapshots, m, n), one model's
weights at every snapshot.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ...core.metrics import _as_float64, feature_dimensionality, feature_norms

__all__ = [
    "INITIAL_MOVE",
    "LEVELS",
    "TRANSIENT_LEVELS",
    "assign_levels",
    "feature_trajectories",
    "plateaus",
    "track_levels",
]

#: Default dimensionality levels: unrepresented, the vertices of the regular configurations
#: (m/k: 1/3, 2/5 pentagon, 1/2 digon, 2/3 triangle, 3/4 tetrahedron) and a dedicated dimension.
LEVELS = (0.0, 1 / 3, 2 / 5, 1 / 2, 2 / 3, 3 / 4, 1.0)

#: Transient levels: values a feature passes on its way between levels but no configuration
#: holds; 1/√2, through which the paper's digon → 1/√2 → digon swap passes.
TRANSIENT_LEVELS = (float(1 / np.sqrt(2)),)

#: How far (in D) a feature must move from its first value to count as moving: above noise,
#: below the initial split of every size (a feature of n = 400 in m = 30 that is dropped moves
#: from about m/n = 0.075 to 0).
INITIAL_MOVE = 0.05
_PLATEAU_DTYPES = {"feature": int, "level": float, "step_start": np.int64, "step_end": np.int64,
                   "n_snapshots": int, "median": float, "initial": bool}


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
                 leave: float | None = None,
                 transient: Sequence[float] = TRANSIENT_LEVELS) -> np.ndarray:
    """The level each feature is on at each snapshot, with hysteresis, or −1 when on none.

    A feature enters level ℓ when ℓ is its nearest level and abs(D − ℓ) ≤ ``tol``
    (:func:`assign_levels`); it stays on ℓ while abs(D − ℓ) ≤ ``leave``, unless it enters
    another level first or comes within ``tol`` of a transient level (nearer to it than to any
    level). A feature that hovers near a level's edge therefore does not flicker on and off
    it, one that drifts between two close levels (1/3 and 2/5 are 0.067 apart) leaves the first
    only when it is well on its way, and one that passes 1/√2 is on no level there.

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
    transient : sequence of float
        Transient levels (default :data:`TRANSIENT_LEVELS`); empty for none.

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

    A feature on 2/3 that moves to 0.70 leaves it, for 1/√2 (a transient level) is nearer:

    >>> track_levels([0.67, 0.70, 0.68], levels=[0.5, 2 / 3])
    array([ 1, -1,  1])
    >>> track_levels([0.67, 0.70, 0.68], levels=[0.5, 2 / 3], transient=())
    array([1, 1, 1])
    """
    leave = 2 * tol if leave is None else leave
    if not leave >= tol:
        raise ValueError(f"leave must be a number >= tol ({tol!r}); got {leave!r}")
    D = np.asarray(D, dtype=np.float64)
    lv = np.asarray(levels, dtype=np.float64)
    nearest = assign_levels(D, np.r_[lv, np.asarray(transient, dtype=np.float64)], tol)
    passing = nearest >= len(lv)                 # within tol of a transient level
    entered = np.where(passing, -1, nearest)
    state = np.empty_like(entered)
    if len(D) == 0:
        return state
    state[0] = entered[0]
    for k in range(1, len(D)):
        previous = state[k - 1]
        stays = ((previous >= 0) & (np.abs(D[k] - lv[np.maximum(previous, 0)]) <= leave)
                 & ~passing[k])
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
