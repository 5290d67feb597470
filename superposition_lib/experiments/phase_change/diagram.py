"""The n = 2 phase diagram: the trained grid's models and cells, next to the theory's diagram.

How a model represents the extra feature (:func:`classify`, thresholds as in
:mod:`~superposition_lib.core.metrics`): with W = [w₀, w₁] (m = 1),

- ``"not_represented"`` if ``|w₁| ≤ 0.5``;
- ``"dedicated"`` if ``|w₁| > 0.5`` and ``|w₀| ≤ 0.5`` (feature 1 has the dimension to itself);
- ``"superposition"`` if both exceed 0.5 and w₀ w₁ < 0 (an antipodal pair);
- ``"other"`` otherwise (both large with the same sign; not a candidate of the theory).

A cell's class is the most common class among its kept seeds (ties go to the class whose
models have the lowest mean loss).

The theory's phase diagram and its boundaries (:mod:`~superposition_lib.analysis.theory`) come
on the same grids, for n = 2 and for n = 3, with cell edges for heatmaps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...analysis import theory
from ...core import metrics
from ...core.metrics import REPRESENTED_NORM
from ...core.run import Run
from ...core.schedule import initial_params
from ...core.store import RunStore
from ..registry import load
from ..votes import seed_vote
from .specs import GRIDS

__all__ = [
    "CLASSES",
    "cell_frame",
    "classify",
    "model_frame",
    "phase_frames",
    "theory_boundaries",
    "theory_frame",
]

#: The classes of :func:`classify`: the theory's three, then anything else.
CLASSES = (*theory.CLASSES, "other")



def classify(W) -> np.ndarray:
    """How each n = 2, m = 1 model represents the extra feature (the rule in the module doc).

    Parameters
    ----------
    W : array_like, shape (..., 1, 2)
        Weights [w₀, w₁]; feature 1 is the extra feature.

    Returns
    -------
    numpy.ndarray of str, shape (...)
        One of :data:`CLASSES` per model.

    Examples
    --------
    >>> classify([[[1.0, 0.0]], [[0.1, 0.9]], [[0.8, -0.9]], [[0.8, 0.9]]]).tolist()
    ['not_represented', 'dedicated', 'superposition', 'other']
    """
    W = np.asarray(W, dtype=float)
    w0, w1 = np.abs(W[..., 0, 0]), np.abs(W[..., 0, 1])
    antipodal = W[..., 0, 0] * W[..., 0, 1] < 0
    return np.select(
        [w1 <= REPRESENTED_NORM, w0 <= REPRESENTED_NORM, antipodal],
        ["not_represented", "dedicated", "superposition"], "other")


def model_frame(run: Run) -> pd.DataFrame:
    """One row per trained model: its cell, weights, loss, class and whether it is kept.

    Parameters
    ----------
    run : Run
        The ``phase-change`` run with every seed (W of shape (cells · seeds, 1, 2)).

    Returns
    -------
    pandas.DataFrame
        Columns ``cell`` (the instance), ``relative_importance`` r, ``density`` p, ``seed``,
        ``w0``, ``w1``, ``b0``, ``b1``, ``norm_extra`` = ``|w₁|``, ``superposition_extra``
        (:func:`~superposition_lib.core.metrics.superposition` of feature 1), ``loss``, ``class``
        (:func:`classify`), ``kept`` (False for the highest-loss seed of each cell) and
        ``w0_init``, ``w1_init`` (the weights the model started from,
        :func:`~superposition_lib.core.schedule.initial_params`).

    Examples
    --------
    >>> from superposition_lib.core.train import train
    >>> from superposition_lib.experiments import get
    >>> run = train(get("phase-change").spec("smoke").replace(steps=20), progress=False)
    >>> df = model_frame(run)
    >>> len(df), int((~df["kept"]).sum())
    (2700, 900)
    """
    W, b = run.W, run.b
    df = pd.DataFrame({
        "cell": run.instance,
        "relative_importance": run.importance[:, 1],
        "density": run.feature_probability[:, 1],
        "seed": run.restart,
        "w0": W[:, 0, 0], "w1": W[:, 0, 1], "b0": b[:, 0], "b1": b[:, 1],
        "norm_extra": np.abs(W[:, 0, 1]),
        "superposition_extra": metrics.superposition(W)[:, 1],
        "loss": run.loss,
        "class": classify(W),
    })
    W_init = initial_params(run.spec)["W"][run.instance * run.spec.restarts + run.restart]
    df["w0_init"], df["w1_init"] = W_init[:, 0, 0], W_init[:, 0, 1]
    df["kept"] = _kept(df)
    return df


def _kept(models: pd.DataFrame) -> pd.Series:
    """False for the highest-loss model of every cell (the first one on a tie), as the paper
    drops the worst seed of each cell."""
    worst = models.groupby("cell")["loss"].transform("max") == models["loss"]
    return ~(worst & ~models[worst].duplicated("cell").reindex(models.index, fill_value=False))


def _edges(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-midpoint cell edges (lo, hi) around sorted log-spaced centres."""
    v = np.sort(np.unique(values))
    mid = np.sqrt(v[1:] * v[:-1])
    lo = np.r_[v[0] ** 2 / mid[0], mid] if len(v) > 1 else v / 1.5
    hi = np.r_[mid, v[-1] ** 2 / mid[-1]] if len(v) > 1 else v * 1.5
    return dict(zip(v, lo)), dict(zip(v, hi))


def _add_edges(df: pd.DataFrame) -> pd.DataFrame:
    for col, short in (("relative_importance", "r"), ("density", "p")):
        lo, hi = _edges(df[col].to_numpy())
        df[f"{short}_lo"] = df[col].map(lo)
        df[f"{short}_hi"] = df[col].map(hi)
    return df


def theory_frame(relative_importances, densities, *, n_features: int = 2) -> pd.DataFrame:
    """The theoretical phase diagram on a grid, with cell edges for heatmaps.

    Parameters
    ----------
    relative_importances, densities : array_like
        Grid values of r and p (log-spaced).
    n_features : {2, 3}
        Model size (see :mod:`~superposition_lib.analysis.theory`).

    Returns
    -------
    pandas.DataFrame
        :func:`~superposition_lib.analysis.theory.phase_diagram` columns plus ``loss`` (the cheapest
        candidate's) and the edges ``r_lo``, ``r_hi``, ``p_lo``, ``p_hi``.

    Examples
    --------
    >>> theory_frame([0.1, 10.0], [1.0, 0.01])["extra"].tolist()
    ['not_represented', 'dedicated', 'superposition', 'superposition']
    """
    grid = theory.phase_diagram(densities, relative_importances, n_features=n_features)
    names = list(theory.CANDIDATES[n_features])
    grid["loss"] = grid[names].min(axis=1)
    return _add_edges(grid)


def theory_boundaries(densities, *, n_features: int = 2) -> pd.DataFrame:
    """The theoretical boundaries in long form, for drawing lines over a heatmap.

    Parameters
    ----------
    densities : array_like
        Values of p (a fine grid draws smooth lines).
    n_features : {2, 3}
        Model size.

    Returns
    -------
    pandas.DataFrame
        Columns ``density``, ``relative_importance``, ``boundary`` (``"a|b"``); only points where
        the pair borders.

    Examples
    --------
    >>> theory_boundaries([1.0])[["relative_importance", "boundary"]].values.tolist()
    [[1.0, 'not_represented|dedicated']]
    """
    wide = theory.phase_boundaries(densities, n_features=n_features)
    long = wide.melt(id_vars="density", var_name="boundary", value_name="relative_importance")
    return long.dropna().reset_index(drop=True)[["density", "relative_importance", "boundary"]]


def cell_frame(models: pd.DataFrame) -> pd.DataFrame:
    """One row per (r, p) cell: the experiment's class from the kept seeds, and the theory's.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`model_frame` rows.

    Returns
    -------
    pandas.DataFrame
        Columns ``cell``, ``relative_importance``, ``density``, ``class`` (majority of the kept
        seeds; ties go to the class with the lowest mean loss), ``share`` (fraction of kept seeds
        in that class), ``best_class`` (the class of the lowest-loss seed), ``norm_extra`` and
        ``superposition_extra`` (means over the kept seeds),
        ``loss`` (mean kept loss), ``theory``
        (:func:`~superposition_lib.analysis.theory.candidate_losses` ``extra``), ``theory_loss``
        (the cheapest candidate's expected loss), ``agree``,
        ``near_boundary`` (a neighbouring cell of the grid has another theoretical class), and
        the cell edges ``r_lo``, ``r_hi``, ``p_lo``, ``p_hi``.

    Examples
    --------
    >>> from superposition_lib.core.train import train
    >>> from superposition_lib.experiments import get
    >>> run = train(get("phase-change").spec("smoke").replace(steps=20), progress=False)
    >>> cells = cell_frame(model_frame(run))
    >>> len(cells), set(cells["theory"]) <= set(CLASSES)
    (900, True)
    """
    kept = models[models["kept"]]
    g = kept.groupby("cell")
    cells = g[["relative_importance", "density"]].first()
    cells[["class", "share", "best_class"]] = seed_vote(kept, "class")[
        ["class", "share", "best_class"]]
    cells[["norm_extra", "superposition_extra", "loss"]] = g[
        ["norm_extra", "superposition_extra", "loss"]].mean()
    cells = cells.reset_index()
    th = theory.candidate_losses(cells["density"], cells["relative_importance"])
    cells["theory"] = th["extra"].to_numpy()
    cells["theory_loss"] = th[list(theory.CANDIDATES[2])].min(axis=1).to_numpy()
    cells["agree"] = cells["class"] == cells["theory"]
    ri = cells["relative_importance"].rank(method="dense").astype(int)
    pi = cells["density"].rank(method="dense").astype(int)
    label = dict(zip(zip(ri, pi), cells["theory"]))
    cells["near_boundary"] = [
        any(label.get((a + da, b + db), t) != t for da, db in ((1, 0), (-1, 0), (0, 1), (0, -1)))
        for a, b, t in zip(ri, pi, cells["theory"])]
    return _add_edges(cells)


def phase_frames(profile: str | None = None, *, store: RunStore | None = None,
                 experiment: str = "phase-change") -> tuple[pd.DataFrame, pd.DataFrame]:
    """A run of the n = 2 grid as (models, cells) frames.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to the current profile.
    store : RunStore, optional
        Where runs are cached.
    experiment : str
        ``"phase-change"`` or ``"phase-change-small-init"``.

    Returns
    -------
    models : pandas.DataFrame
        :func:`model_frame`.
    cells : pandas.DataFrame
        :func:`cell_frame`.

    Examples
    --------
    >>> models, cells = phase_frames("smoke")
    >>> len(cells)
    900
    """
    if experiment not in GRIDS:
        raise ValueError(f"experiment must be one of {', '.join(GRIDS)}; got {experiment!r}")
    models = model_frame(load(experiment, profile, store=store))
    return models, cell_frame(models)
