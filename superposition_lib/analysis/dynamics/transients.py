"""Passages between levels: a transient level (1/√2), swaps through it, and digons forming.

Elhage et al. (2022, section "Superposition and learning dynamics") show a feature leaving its
digon (D_i = 1/2), passing through D_i = 1/√2 and settling into a digon again. 1/√2 is not one
of the :data:`~superposition_lib.analysis.dynamics.levels.LEVELS`: no stable configuration of
the paper sits there, and a feature that passes it does not stay; it is a transient level
(:data:`~superposition_lib.analysis.dynamics.levels.TRANSIENT_LEVELS`), on which no plateau
forms. Definitions, for one model:

- a *visit* to a level (:data:`TRANSIENT_LEVEL` by default) is a maximal run of snapshots at
  which abs(D_i − level) ≤ ``tol``; its ``level_before`` and ``level_after`` are the levels of
  the feature's nearest non-initial :func:`~superposition_lib.analysis.dynamics.plateaus`
  that start before it and end after it (NaN where there is none; a plateau that resumes on
  the same level after the visit spans it, and gives both). A feature on a neighbouring level
  (2/3 and 3/4 are 0.04 from 1/√2) that dips towards 1/√2 but stays within twice ``tol`` of
  its own level makes no visit: that is noise at the edge of its band;
- a *swap* is a visit with a digon on both sides (``level_before`` = ``level_after`` = 1/2):
  the paper's digon → 1/√2 → digon;
- a *digon formation* (:func:`digon_formations`) is a snapshot at which the number of digons,
  half the number of features on the level 1/2 (with hysteresis,
  :func:`~superposition_lib.analysis.dynamics.track_levels`), first exceeds every earlier
  count; the last one is where the model's final set of digons is complete.

Shapes: D has shape (snapshots, n); steps (snapshots,).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .levels import LEVELS, TRANSIENT_LEVELS, _as_trajectories, plateaus, track_levels

__all__ = ["ARRIVAL_WINDOW", "TRANSIENT_LEVEL", "digon_formations", "level_visits"]

#: The transient level of the paper's swap, D_i = 1/√2 (:data:`TRANSIENT_LEVELS`).
TRANSIENT_LEVEL = TRANSIENT_LEVELS[0]

#: Where :func:`digon_formations` reads where a new digon's features came from: the snapshots
#: between 10^0.5 and 10^0.2 times earlier than the formation, before a transition window of
#: up to 0.3 decades (as for a jump).
ARRIVAL_WINDOW = (0.2, 0.5)

_VISIT_DTYPES = {"feature": int, "step_start": np.int64, "step_end": np.int64,
                 "n_snapshots": int, "level_before": float, "level_after": float, "swap": bool}


def level_visits(D, steps, *, level: float = TRANSIENT_LEVEL, tol: float = 0.03
                 ) -> pd.DataFrame:
    """Every passage of a feature through a level, with the plateau levels around it.

    Parameters
    ----------
    D : array_like, shape (snapshots, n) or (snapshots,)
        The model's feature dimensionalities.
    steps : array_like of int, shape (snapshots,)
        Strictly increasing snapshot steps (step 0 is ignored).
    level : float
        The level visited (default 1/√2).
    tol : float
        Largest distance from it.

    Returns
    -------
    pandas.DataFrame
        One row per visit, ordered by step: ``feature``, ``step_start`` and ``step_end`` (its
        first and last snapshot), ``n_snapshots``, ``level_before`` and ``level_after`` (the
        plateaus around it, default :data:`~superposition_lib.analysis.dynamics.LEVELS`; NaN
        where none) and ``swap`` (a digon on both sides).

    Examples
    --------
    After the initial split (at step 20), a feature in a digon passes 1/√2 at steps 300-400 and
    returns to the digon; another rises from 0 through 1/√2 into a digon:

    >>> steps = np.unique(np.geomspace(1, 10_000, 60).round().astype(int))
    >>> swap = np.select([steps < 20, steps < 300, steps <= 400], [0.2, 0.5, 0.7], 0.5)
    >>> rise = np.select([steps < 20, steps < 300, steps <= 400], [0.2, 0.0, 0.71], 0.5)
    >>> level_visits(np.stack([swap, rise], 1), steps)[["feature", "level_before", "swap"]]
       feature  level_before   swap
    0        0           0.5   True
    1        1           0.0  False

    A feature on 3/4 that dips to 0.72 for a snapshot makes no visit:

    >>> dip = np.where(steps == 1000, 0.72, np.where(steps < 20, 0.2, 0.75))
    >>> len(level_visits(np.stack([dip, rise], 1), steps))
    1
    """
    D, steps = _as_trajectories(D, steps)
    keep = steps > 0
    D, steps = D[keep], steps[keep]
    near = np.abs(D - level) <= tol
    table = plateaus(D, steps)
    table = table[~table["initial"]]
    rows = []
    for feature in np.flatnonzero(near.any(0)):
        on = near[:, feature].astype(np.int8)
        edges = np.diff(np.r_[0, on, 0])
        mine = table[table["feature"] == feature]
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1):
            # a plateau that resumes after the visit on the same level spans it (plateaus
            # merge across brief excursions): it is the level on both sides
            before = mine[mine["step_start"] < steps[a]]
            after = mine[mine["step_end"] > steps[b]]
            lb = float(before["level"].iloc[-1]) if len(before) else np.nan
            la = float(after["level"].iloc[0]) if len(after) else np.nan
            if lb == la and np.all(np.abs(D[a:b + 1, feature] - lb) <= 2 * tol):
                continue  # a feature on 2/3 or 3/4 dipping to the edge of its band
            rows.append((feature, steps[a], steps[b], b - a + 1, lb, la,
                         bool(np.isclose(lb, 0.5) and np.isclose(la, 0.5))))
    columns = list(zip(*rows)) or [()] * len(_VISIT_DTYPES)
    frame = pd.DataFrame({name: np.array(values, dtype=dtype) for (name, dtype), values
                          in zip(_VISIT_DTYPES.items(), columns)})
    return frame.sort_values(["step_start", "feature"], kind="stable").reset_index(drop=True)


def digon_formations(D, steps, *, tol: float = 0.03) -> pd.DataFrame:
    """The snapshots at which the number of digons reaches a new maximum.

    Parameters
    ----------
    D : array_like, shape (snapshots, n)
        The model's feature dimensionalities.
    steps : array_like of int, shape (snapshots,)
        Strictly increasing snapshot steps (step 0 is ignored).
    tol : float
        Tolerance of the level 1/2 (:func:`~superposition_lib.analysis.dynamics.track_levels`,
        which leaves it at twice ``tol``).

    Returns
    -------
    pandas.DataFrame
        One row per new maximum, in order: ``step`` (the first snapshot at the new count),
        ``previous_step`` (the snapshot before it), ``digons`` (the new count), ``new`` (how
        many digons it adds) and ``D_before`` (the median D_i of the features that arrive at
        1/2 there over the snapshots :data:`ARRIVAL_WINDOW` decades before ``step``: where they
        sat before their transition; NaN without such snapshots).

    Examples
    --------
    Two features at D = 0.02 form a digon at step 2,000, after two others formed one early:

    >>> steps = np.unique(np.geomspace(1, 10_000, 60).round().astype(int))
    >>> early = np.where(steps < 20, 0.3, 0.5)
    >>> late = np.where(steps < 2000, 0.02, 0.5)
    >>> f = digon_formations(np.stack([early, early, late, late], 1), steps)
    >>> f[["digons", "new"]].values.tolist(), int(f.step.iloc[-1]), float(f.D_before.iloc[-1])
    ([[1, 1], [2, 1]], 2099, 0.02)
    """
    D, steps = _as_trajectories(D, steps)
    keep = steps > 0
    D, steps = D[keep], steps[keep]
    half = LEVELS.index(0.5)
    on = track_levels(D) == half
    digons = on.sum(1) // 2
    rows, best = [], 0
    for k in np.flatnonzero(digons > 0):
        if digons[k] <= best:
            continue
        arriving = on[k] & ~(on[k - 1] if k > 0 else np.zeros_like(on[k]))
        near, far = ARRIVAL_WINDOW
        earlier = (steps >= steps[k] / 10 ** far) & (steps <= steps[k] / 10 ** near)
        before = D[earlier][:, arriving]
        rows.append({"step": int(steps[k]), "previous_step": int(steps[k - 1]) if k else 0,
                     "digons": int(digons[k]), "new": int(digons[k] - best),
                     "D_before": float(np.median(before)) if before.size else np.nan})
        best = int(digons[k])
    return pd.DataFrame(rows, columns=["step", "previous_step", "digons", "new", "D_before"])
