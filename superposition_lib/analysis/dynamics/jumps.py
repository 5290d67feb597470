"""Energy-level jumps: features moving from one plateau to another during training.

A feature's dimensionality D_i(t) settles on plateaus of levels
(:mod:`~superposition_lib.analysis.dynamics.levels` defines levels, plateaus and the initial
state); later some features jump between levels, and the loss drops in small steps at the
jumps (Elhage et al. 2022, section "Superposition and learning dynamics"). With snapshot
steps t_k (log-spaced):

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

Shapes: D has shape (snapshots, n); steps (snapshots,).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .levels import LEVELS, _as_trajectories, plateaus

__all__ = [
    "energy_level_jumps",
    "jump_loss_fraction",
    "merged_windows",
    "split_step",
]


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
    (see the module docstrings of this module and of
    :mod:`~superposition_lib.analysis.dynamics.levels` for the full definitions). The last condition
    rejects a feature that hovers between two close levels (between 1/3 and 2/5, say at 0.35 and
    then at 0.385: half the gap) however the tolerances are set.

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


def split_step(D, steps, *, fraction: float = 0.9, features=None,
               levels: Sequence[float] = LEVELS, tol: float = 0.03, leave: float | None = None,
               min_span: float = 0.1, min_points: int = 5,
               max_drift: float | None = None) -> int | None:
    """The step by which the features have split onto levels (the end of the initial split).

    The first snapshot step at which at least ``fraction`` of the features (of ``features``,
    when given) lie inside one of their :func:`plateaus` other than an initial one. A natural
    ``after`` for :func:`jump_loss_fraction`. Counted over every feature, a model that leaves
    most of its features out (n = 400 in m = 30 keeps about 60) ends its split when the
    dropped features reach 0, whatever the represented ones do; ``features`` restricts the
    count to the represented ones.

    Parameters
    ----------
    D : array_like, shape (snapshots, n) or (snapshots,)
        Dimensionality of every feature of one model at every snapshot.
    steps : array_like of int, shape (snapshots,)
        Strictly increasing snapshot steps.
    fraction : float
        Fraction of the features, in (0, 1].
    features : array_like of int or bool, optional
        The features counted (indices, or a mask of shape (n,)), e.g. those represented at the
        end; all by default.
    levels, tol, leave, min_span, min_points, max_drift
        Plateau definition, see :func:`plateaus`.

    Returns
    -------
    int or None
        The step, or None if the features never get there (or ``features`` is empty).

    Examples
    --------
    >>> steps = np.unique(np.geomspace(1, 10_000, 40).round().astype(int))
    >>> D = np.stack([np.where(steps < 100, 0.8, 0.5), np.where(steps < 300, 0.2, 0.0)], 1)
    >>> split_step(D, steps), split_step(D, steps, fraction=0.5)
    (367, 113)
    >>> split_step(D, steps, features=[True, False])   # the first feature alone
    113
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1]; got {fraction!r}")
    D, steps = _as_trajectories(D, steps)
    if features is not None:
        chosen = np.asarray(features)
        D = D[:, chosen] if chosen.dtype != bool else D[:, chosen.reshape(-1)]
        if D.shape[1] == 0:
            return None
    table = plateaus(D, steps, levels=levels, tol=tol, leave=leave, min_span=min_span,
                     min_points=min_points, max_drift=max_drift)
    table = table[~table.initial]
    inside = np.zeros((len(steps), D.shape[1]), dtype=bool)
    for row in table.itertuples():
        inside[(steps >= row.step_start) & (steps <= row.step_end), row.feature] = True
    ok = np.flatnonzero(inside.sum(1) >= fraction * D.shape[1] - 1e-9)
    return int(steps[ok[0]]) if len(ok) else None


def merged_windows(jumps: pd.DataFrame, after: int, last: int) -> np.ndarray:
    """The jump windows clipped to [``after``, ``last``], overlapping ones merged.

    Parameters
    ----------
    jumps : pandas.DataFrame
        Columns ``step_start`` and ``step_end`` (e.g. from
        :func:`~superposition_lib.analysis.dynamics.energy_level_jumps`).
    after, last : int
        The span counted.

    Returns
    -------
    numpy.ndarray, shape (windows, 2)
        Start and end steps, in order.

    Examples
    --------
    >>> j = pd.DataFrame({"step_start": [10, 15, 100], "step_end": [20, 30, 300]})
    >>> merged_windows(j, 12, 200).tolist()
    [[12, 30], [100, 200]]
    """
    windows = sorted((max(int(a), after), min(int(b), last))
                     for a, b in zip(jumps["step_start"], jumps["step_end"])
                     if b > after and a < last)
    merged: list[list[int]] = []
    for a, b in windows:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return np.array(merged, dtype=np.int64).reshape(-1, 2)


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
    merged = merged_windows(jumps, first, last).tolist()

    def value(step):
        return _loss_at(loss, steps, None, step)

    total = float(value(first) - value(last))
    inside = float(sum(value(a) - value(b) for a, b in merged))
    span = np.log10(last) - np.log10(first)
    covered = sum(np.log10(b) - np.log10(a) for a, b in merged)
    return pd.Series({"total_decrease": total, "jump_decrease": inside,
                      "fraction": inside / total if total > 0 else np.nan,
                      "windows": len(merged), "log_time_fraction": covered / span})
