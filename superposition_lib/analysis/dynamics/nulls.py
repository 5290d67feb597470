"""Null models for the loss in jump windows: does the loss fall faster where features jump?

:func:`~superposition_lib.analysis.dynamics.jumps.jump_loss_fraction` measures the share of a
model's loss decrease (after a given step) that falls inside its jump windows. That share means
something only next to what windows of the same lengths would carry anyway. Two nulls, for one
model (positions u = log10(step); a window keeps its length in u):

- *random windows* (:func:`random_window_share`): the model's merged jump windows, each placed
  at a uniformly random position between ``after`` and the last step, ``draws`` times;
- *motion windows* (:func:`motion_window_share`): as many windows of the same lengths, centred
  on the snapshot intervals where some feature's D_i moves fastest (the largest abs(ΔD_i)/Δu
  over features) outside every jump window: periods of fast change without a level change.

If the jump windows carry a larger share than both, the loss concentrates where features change
level, not merely where something moves.

Shapes: D has shape (snapshots, n); steps and loss (snapshots,).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .jumps import jump_loss_fraction, merged_windows
from .levels import _as_trajectories

__all__ = ["motion_window_share", "random_window_share"]


def _share(windows: np.ndarray, loss, steps, after: int) -> float:
    """The share of the loss decrease after ``after`` inside ``windows`` (start, end steps)."""
    frame = pd.DataFrame({"step_start": windows[:, 0], "step_end": windows[:, 1]})
    return float(jump_loss_fraction(frame, loss, steps, after=after).fraction)


def _placed(lengths: np.ndarray, centres: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Windows of log-lengths ``lengths`` centred at log-positions ``centres``, shifted to lie
    inside [lo, hi], as (start, end) steps."""
    start = np.clip(centres - lengths / 2, lo, hi - lengths)
    return np.stack([np.round(10 ** start), np.round(10 ** (start + lengths))], 1).astype(np.int64)


def random_window_share(jumps: pd.DataFrame, loss, steps, *, after: int, draws: int = 200,
                        seed: int = 0) -> pd.Series:
    """The share of the loss decrease that windows as long as the jump windows carry when
    placed at random.

    Parameters
    ----------
    jumps : pandas.DataFrame
        The model's jumps (``step_start``, ``step_end``).
    loss : array_like, shape (snapshots,)
        The model's loss at ``steps``.
    steps : array_like of int, shape (snapshots,)
        Strictly increasing steps.
    after : int
        Only the decrease after this step counts (e.g. the end of the initial split).
    draws : int
        Random placements.
    seed : int
        Seed of the placements.

    Returns
    -------
    pandas.Series
        ``observed`` (the jump windows' share), ``null_mean`` (the mean share over the random
        placements), ``null_low`` and ``null_high`` (their 2.5% and 97.5% quantiles),
        ``above`` (the fraction of placements whose share is at least the observed one) and
        ``windows``; the shares are NaN without windows or without a decrease.

    Examples
    --------
    A loss that falls by 0.5 inside the one window [100, 200] and by 0.1 elsewhere:

    >>> steps = np.array([10, 100, 200, 10_000])
    >>> loss = np.array([1.0, 0.95, 0.45, 0.4])
    >>> jumps = pd.DataFrame({"step_start": [100], "step_end": [200]})
    >>> s = random_window_share(jumps, loss, steps, after=10)
    >>> round(float(s.observed), 2), bool(s.null_mean < s.observed), float(s.above) < 0.2
    (0.83, True, True)
    """
    _, steps = _as_trajectories(np.zeros(len(steps)), steps)
    last = int(steps[-1])
    windows = merged_windows(jumps, after, last)
    nan = {"observed": np.nan, "null_mean": np.nan, "null_low": np.nan, "null_high": np.nan,
           "above": np.nan, "windows": len(windows)}
    if len(windows) == 0:
        return pd.Series(nan)
    observed = _share(windows, loss, steps, after)
    lengths = np.log10(windows[:, 1]) - np.log10(windows[:, 0])
    lo, hi = np.log10(after), np.log10(last)
    rng = np.random.default_rng(seed)
    shares = []
    for _ in range(draws):
        starts = lo + rng.random(len(lengths)) * (hi - lo - lengths)
        placed = _placed(lengths, starts + lengths / 2, lo, hi)
        shares.append(_share(merged_windows(
            pd.DataFrame({"step_start": placed[:, 0], "step_end": placed[:, 1]}), after, last),
            loss, steps, after))
    shares = np.asarray(shares)
    if np.isnan(observed) or np.isnan(shares).all():
        return pd.Series(nan)
    return pd.Series({"observed": observed, "null_mean": float(np.nanmean(shares)),
                      "null_low": float(np.nanquantile(shares, 0.025)),
                      "null_high": float(np.nanquantile(shares, 0.975)),
                      "above": float(np.mean(shares >= observed)), "windows": len(windows)})


def motion_window_share(D, steps, jumps: pd.DataFrame, loss, *, after: int) -> float:
    """The share of the loss decrease in windows as long as the jump windows, centred where
    features move fastest without changing level.

    Every snapshot interval after ``after`` that no jump window overlaps is scored by its
    fastest feature, max_i abs(ΔD_i)/Δu (u = log10(step)); the windows, as many as the merged
    jump windows and with their log-lengths (longest first), are centred on the
    highest-scoring intervals in turn.

    Parameters
    ----------
    D : array_like, shape (snapshots, n)
        The model's feature dimensionalities.
    steps : array_like of int, shape (snapshots,)
    jumps : pandas.DataFrame
        The model's jumps (``step_start``, ``step_end``).
    loss : array_like, shape (snapshots,)
    after : int
        Only the decrease after this step counts.

    Returns
    -------
    float
        The share (NaN without jump windows, without a decrease, or without intervals left).

    Examples
    --------
    One feature drifts fast from 0.1 to 0.3 between steps 1,000 and 2,000 while the loss is
    flat there; the jump window [100, 200] holds the loss drop:

    >>> steps = np.array([10, 100, 200, 1000, 2000, 10_000])
    >>> D = np.array([0.5, 0.5, 0.0, 0.1, 0.3, 0.3])[:, None]
    >>> loss = np.array([1.0, 0.9, 0.5, 0.45, 0.45, 0.4])
    >>> jumps = pd.DataFrame({"step_start": [100], "step_end": [200]})
    >>> motion_window_share(D, steps, jumps, loss, after=10)
    0.0
    """
    D, steps = _as_trajectories(D, steps)
    last = int(steps[-1])
    windows = merged_windows(jumps, after, last)
    if len(windows) == 0:
        return np.nan
    keep = steps > 0
    D, steps, loss = D[keep], steps[keep], np.asarray(loss, dtype=np.float64)[keep]
    u = np.log10(steps)
    a, b = steps[:-1], steps[1:]
    free = (a >= after) & ~np.any((a[:, None] < windows[None, :, 1])
                                  & (b[:, None] > windows[None, :, 0]), axis=1)
    if not free.any():
        return np.nan
    speed = np.abs(np.diff(D, axis=0)).max(1) / np.diff(u)
    order = np.flatnonzero(free)[np.argsort(-speed[free], kind="stable")]
    lengths = np.sort(np.log10(windows[:, 1]) - np.log10(windows[:, 0]))[::-1]
    count = min(len(lengths), len(order))
    centres = (u[:-1][order[:count]] + u[1:][order[:count]]) / 2
    placed = _placed(lengths[:count], centres, np.log10(after), np.log10(last))
    chosen = merged_windows(pd.DataFrame({"step_start": placed[:, 0],
                                          "step_end": placed[:, 1]}), after, last)
    return _share(chosen, loss, steps, after)
