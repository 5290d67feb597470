"""Experiments of the chapter "Superposition as a phase change" (``chapters/phase-change.qmd``).

``phase-change``
    n = 2 features in m = 1 dimension (ReLU output). Feature 0 has importance 1; the extra
    feature 1 has relative importance r, one of :data:`RELATIVE_IMPORTANCES` (30 values from
    0.1 to 10, log-spaced); both have density p, one of :data:`DENSITIES` (30 values from 1 to
    0.01, log-spaced). Every one of the 900 (r, p) cells trains :data:`SEEDS` models in one
    batched call; as in the paper, the highest-loss seed of each cell is dropped and the rest
    vote.

How a model represents the extra feature (:func:`classify`, thresholds as in
:mod:`~superposition_lib.core.metrics`): with W = [w₀, w₁] (m = 1),

- ``"not_represented"`` if ``|w₁| ≤ 0.5``;
- ``"dedicated"`` if ``|w₁| > 0.5`` and ``|w₀| ≤ 0.5`` (feature 1 has the dimension to itself);
- ``"superposition"`` if both exceed 0.5 and w₀ w₁ < 0 (an antipodal pair);
- ``"other"`` otherwise (both large with the same sign; not a candidate of the theory).

A cell's class is the most common class among its kept seeds (ties go to the class whose
models have the lowest mean loss).

The ``paper`` profile trains 10,000 steps with batch 1024 at learning rate 1e-3 (the notebook's
defaults); ``smoke`` trains the same grid with 3 seeds for a few hundred steps at learning rate
0.01.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis import stats, theory
from ..core import metrics
from ..core.config import ExperimentSpec
from ..core.run import Run
from ..core.store import RunStore
from ..core.schedule import initial_params
from . import Experiment, load, register, seed_vote

__all__ = [
    "CHAPTER",
    "CLASSES",
    "DENSITIES",
    "GRIDS",
    "N3_DENSITIES",
    "N3_IMPORTANCES",
    "N3_TOLERANCE",
    "RELATIVE_IMPORTANCES",
    "SEEDS",
    "SMALL_INIT_SCALE",
    "cell_frame",
    "classify",
    "classify_n3",
    "findings",
    "model_frame",
    "n3_findings",
    "n3_frames",
    "n3_trained_findings",
    "phase_frames",
    "stuck_summary",
    "theory_boundaries",
    "theory_frame",
]

#: The chapter's file stem.
CHAPTER = "phase-change"

#: Relative importance r of the extra feature (paper profile): 30 values, 0.1 to 10, log-spaced.
RELATIVE_IMPORTANCES = tuple(float(v) for v in np.geomspace(0.1, 10.0, 30))

#: Density 1 − S of both features (paper profile): 30 values, 1 to 0.01, log-spaced.
DENSITIES = tuple(float(v) for v in np.geomspace(1.0, 0.01, 30))

#: Models trained per cell (paper profile); the highest-loss one is dropped.
SEEDS = 10

#: The classes of :func:`classify`: the theory's three, then anything else.
CLASSES = (*theory.CLASSES, "other")

#: ‖W_i‖ above which a feature counts as represented (as in the other chapters).
NORM_THRESHOLD = 0.5


def _grid_spec(importances, densities, seeds: int, n: int = 2, **training) -> ExperimentSpec:
    # n features in n - 1 dimensions: the last one is the extra feature
    r, p = np.meshgrid(np.asarray(importances), np.asarray(densities), indexing="ij")
    return ExperimentSpec(
        model="relu_output", n_features=n, n_hidden=n - 1,
        feature_probability=tuple((float(q),) * n for q in p.ravel()),
        importance=tuple((1.0,) * (n - 1) + (float(x),) for x in r.ravel()),
        restarts=seeds, seed=0, **training)


def _profiles(init_scale: float = 1.0, n: int = 2) -> dict:
    # 9,000 models: the final loss of each is estimated on at most 2^16 samples (enough to rank
    # the seeds of a cell), and the training loss is kept every 1,000 steps.
    grid = (RELATIVE_IMPORTANCES, DENSITIES) if n == 2 else (N3_IMPORTANCES, N3_DENSITIES)
    paper = _grid_spec(*grid, SEEDS, n, steps=10_000, batch_size=1024,
                       history_every=1000, eval_samples=1 << 16, init_scale=init_scale)
    smoke = _grid_spec(*grid, 3, n, steps=400, batch_size=256, lr=1e-2,
                       history_every=100, eval_samples=1 << 12, init_scale=init_scale)
    return {"paper": paper, "smoke": smoke}


#: Factor on the Xavier standard deviation (sqrt(2/3) ≈ 0.82 for n = 2, m = 1) in
#: ``phase-change-small-init``: the weights start near 0.08, where the importance and density
#: rather than the draw decide which feature grows first.
SMALL_INIT_SCALE = 0.1

register(Experiment(
    "phase-change", CHAPTER,
    "2 features in 1 dim: extra feature's importance 0.1-10 x density 1-0.01, 30 x 30, 10 seeds",
    _profiles(), best_of=False))
#: Relative importance r of the extra feature in ``phase-change-n3``: 20 values, 0.1 to 10.
N3_IMPORTANCES = tuple(float(v) for v in np.geomspace(0.1, 10.0, 20))

#: Density of the three features in ``phase-change-n3``: 20 values, 1 to 0.01.
N3_DENSITIES = tuple(float(v) for v in np.geomspace(1.0, 0.01, 20))

register(Experiment(
    "phase-change-n3", CHAPTER,
    "3 features in 2 dims: extra feature's importance 0.1-10 x density 1-0.01, 20 x 20, 10 seeds",
    _profiles(n=3), best_of=False))

#: The runs of the n = 2 grid: the paper's initialisation and the small one.
GRIDS = ("phase-change", "phase-change-small-init")

register(Experiment(
    "phase-change-small-init", CHAPTER,
    "phase-change with initial weights 10x smaller (std 0.08): do the stuck seeds remain?",
    _profiles(SMALL_INIT_SCALE), best_of=False))


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
        [w1 <= NORM_THRESHOLD, w0 <= NORM_THRESHOLD, antipodal],
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
        ``loss`` (mean kept loss), ``theory`` (:func:`~superposition_lib.analysis.theory.candidate_losses`
        ``extra``), ``theory_loss`` (the cheapest candidate's expected loss), ``agree``,
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


def stuck_summary(cells: pd.DataFrame, models: pd.DataFrame) -> dict:
    """Which seeds get stuck with one feature where the theory says superposition, by how
    they started.

    With m = 1 an antipodal pair needs w₀ w₁ < 0, so a model whose two weights start with the
    same sign must carry one of them through zero to reach it.

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`cell_frame` rows.
    models : pandas.DataFrame
        :func:`model_frame` rows (with the initial weights).

    Returns
    -------
    dict
        Each rate as (rate, low, high), the Wilson 95% interval over the kept models of the
        cells the theory calls superposition: ``stuck`` (they represent one feature only),
        ``stuck_same_sign`` and ``stuck_opposite_sign`` (the same among models whose weights
        started with the same or opposite signs), ``same_sign_of_stuck`` (the stuck models
        that started with the same signs) and ``survivor_stronger`` (the stuck models whose
        surviving feature started with the larger weight, 1/2 if the start's magnitudes do
        not matter); ``models`` (their number) and ``agreement`` (share of cells where the
        kept seeds' majority agrees with the theory, and its range over the cells whose vote
        is not settled, :func:`~superposition_lib.analysis.stats.vote_range`).

    Examples
    --------
    >>> from superposition_lib.core.train import train
    >>> from superposition_lib.experiments import get
    >>> models = model_frame(train(get("phase-change").spec("smoke").replace(steps=20),
    ...                            progress=False))
    >>> s = stuck_summary(cell_frame(models), models)
    >>> s["stuck"][1] <= s["stuck"][0] <= s["stuck"][2]
    True
    """
    kept = models[models["kept"]].merge(cells[["cell", "theory"]], on="cell")
    sup = kept[kept["theory"] == "superposition"]
    stuck = sup["class"].isin(["not_represented", "dedicated"]).to_numpy()
    same = (sup["w0_init"] * sup["w1_init"] > 0).to_numpy()
    lead = (np.abs(sup["w1_init"]) > np.abs(sup["w0_init"])).to_numpy()
    survivor = (sup["class"] == "dedicated").to_numpy()

    def rate(hit, of):
        return stats.wilson_interval(int(np.sum(hit & of)), int(np.sum(of)))

    return {"models": int(len(sup)), "stuck": rate(stuck, np.ones_like(stuck)),
            "stuck_same_sign": rate(stuck, same), "stuck_opposite_sign": rate(stuck, ~same),
            "same_sign_of_stuck": rate(same, stuck),
            "survivor_stronger": rate(survivor == lead, stuck),
            "agreement": _agreement(cells, kept, "class")}


def _agreement(cells: pd.DataFrame, kept: pd.DataFrame, label: str) -> tuple:
    """:func:`~superposition_lib.analysis.stats.vote_range` of the cells' majority ``label`` against
    their ``theory``; ``kept`` holds the voting seeds, as many in every cell."""
    seeds = kept.groupby("cell").size()
    if seeds.nunique() != 1:
        raise ValueError(f"every cell needs as many kept seeds; got {sorted(seeds.unique())}")
    theory_of = cells.set_index("cell")["theory"]
    votes = (kept[label] == kept["cell"].map(theory_of)).groupby(kept["cell"]).sum()
    by_cell = cells.set_index("cell")
    return stats.vote_range(by_cell[label] == by_cell["theory"], votes.reindex(by_cell.index),
                            int(seeds.iloc[0]))


def _near_candidate(models: pd.DataFrame, tol: float = 0.1) -> float:
    """Fraction of models whose (|w₀|, |w₁|) lie within ``tol`` of a candidate's."""
    if "w0" not in models.columns:
        return np.nan
    w = np.abs(models[["w0", "w1"]].to_numpy())
    candidates = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    dist = np.abs(w[:, None, :] - candidates[None]).max(axis=2).min(axis=1)
    return float((dist < tol).mean())


def findings(cells: pd.DataFrame, models: pd.DataFrame) -> dict:
    """The numbers the chapter states.

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`cell_frame` rows.
    models : pandas.DataFrame
        :func:`model_frame` rows.

    Returns
    -------
    dict
        ``cells``, ``agreement`` (fraction of cells where the classes agree),
        ``agreement_best`` (the same with the lowest-loss seed's class),
        ``best_disagree_near_boundary`` (fraction of those disagreements next to a boundary),
        ``agreement_interior`` (among cells not next to a theoretical boundary),
        ``disagree_near_boundary`` (fraction of disagreeing cells next to a boundary),
        ``confusion`` (theory class -> experiment class -> cells), ``unanimous`` (fraction of
        cells whose kept seeds all agree), ``other_models`` (models of class "other"),
        ``near_candidate`` (fraction of kept models with ``|w₀|`` and ``|w₁|`` both within 0.1
        of one candidate's, [1, 0], [0, 1] or [1, 1]),
        ``loss_ratio`` (median over cells of kept mean loss / theoretical loss) and
        ``n2_threshold`` (the highest density at which superposition wins for some r, from
        :func:`~superposition_lib.analysis.theory.phase_boundaries` on a fine grid); and, when both
        frames carry ``cell``: ``kept_matching`` (fraction of kept models in their cell's
        theoretical class), ``stuck`` (fraction of kept models in theoretically superposed cells
        that represent only one feature), ``mixed_cells`` (such cells with seeds of both kinds)
        and ``superposition_lower`` (fraction of mixed cells where the superposed seeds have the
        lower mean loss).

    Examples
    --------
    >>> cells = pd.DataFrame({"class": ["dedicated", "superposition"],
    ...                       "theory": ["dedicated", "not_represented"],
    ...                       "agree": [True, False], "near_boundary": [False, True],
    ...                       "share": [1.0, 0.6], "loss": [1.0, 1.0], "theory_loss": [1.0, 0.5]})
    >>> models = pd.DataFrame({"class": ["dedicated", "other"], "kept": True})
    >>> f = findings(cells, models)
    >>> f["agreement"], f["disagree_near_boundary"], f["other_models"]
    (0.5, 1.0, 1)
    """
    disagree = cells[~cells["agree"]]
    kept = models[models["kept"]]
    if "cell" in kept.columns and "theory" in cells.columns:
        kept = kept.merge(cells[["cell", "theory"]], on="cell")
        sup = kept[kept["theory"] == "superposition"]
        by_class = sup.groupby(["cell", "class"])["loss"].mean().unstack()
        single = by_class.reindex(columns=["not_represented", "dedicated"]).min(axis=1)
        mixed = by_class.reindex(columns=["superposition"]).join(single.rename("single"))
        mixed = mixed.dropna()
        local = {"kept_matching": float((kept["class"] == kept["theory"]).mean()),
                 "stuck": float(sup["class"].isin(["not_represented", "dedicated"]).mean()),
                 "mixed_cells": int(len(mixed)),
                 "superposition_lower": (float((mixed["superposition"] < mixed["single"]).mean())
                                         if len(mixed) else np.nan)}
    else:
        local = {"kept_matching": np.nan, "stuck": np.nan, "mixed_cells": 0,
                 "superposition_lower": np.nan}
    interior = cells[~cells["near_boundary"]]
    confusion = pd.crosstab(cells["theory"], cells["class"])
    fine = np.geomspace(0.01, 1.0, 2001)
    wins = theory.phase_boundaries(fine)["not_represented|superposition"].notna().to_numpy()
    return {
        "cells": int(len(cells)),
        "agreement": float(cells["agree"].mean()),
        "agreement_best": (float((cells["best_class"] == cells["theory"]).mean())
                           if "best_class" in cells.columns else np.nan),
        "best_disagree_near_boundary": (
            float(cells[cells["best_class"] != cells["theory"]]["near_boundary"].mean())
            if "best_class" in cells.columns and (cells["best_class"] != cells["theory"]).any()
            else np.nan),
        "agreement_interior": float(interior["agree"].mean()) if len(interior) else np.nan,
        "disagree_near_boundary": (float(disagree["near_boundary"].mean()) if len(disagree)
                                   else np.nan),
        "confusion": {t: {c: int(v) for c, v in row.items() if v}
                      for t, row in confusion.iterrows()},
        "unanimous": float((cells["share"] == 1).mean()),
        "other_models": int((models[models["kept"]]["class"] == "other").sum()),
        "near_candidate": _near_candidate(models[models["kept"]]),
        "loss_ratio": float(np.median(cells["loss"] / cells["theory_loss"])),
        "n2_threshold": float(fine[wins].max()) if wins.any() else np.nan,
        **local,
    }


def n3_findings(grid: pd.DataFrame) -> dict:
    """The numbers the chapter states about the n = 3, m = 2 theoretical diagram.

    Parameters
    ----------
    grid : pandas.DataFrame
        :func:`theory_frame` with ``n_features=3``.

    Returns
    -------
    dict
        ``share`` (candidate -> fraction of the grid where it is the cheapest) and
        ``triangle`` (``(density_min, density_max, r_min, r_max)`` of the cells the triangle
        wins, or None when it wins none).

    Examples
    --------
    >>> grid = theory_frame(np.geomspace(0.1, 10, 60), np.geomspace(1, 0.01, 60), n_features=3)
    >>> f = n3_findings(grid)
    >>> round(sum(f["share"].values()), 6), f["triangle"] is not None
    (1.0, True)
    """
    share = grid["solution"].value_counts(normalize=True)
    tri = grid[grid["solution"] == "triangle"]
    return {"share": {str(k): float(v) for k, v in share.items()},
            "triangle": ((float(tri["density"].min()), float(tri["density"].max()),
                          float(tri["relative_importance"].min()),
                          float(tri["relative_importance"].max())) if len(tri) else None)}


#: Largest entry-wise distance between a model's WᵀW and a candidate's at which
#: :func:`classify_n3` names the candidate (the candidates' Gram matrices differ by 0.5 or more).
N3_TOLERANCE = 0.25


def _n3_grams() -> tuple[list[str], np.ndarray]:
    """Every n = 3 candidate's WᵀW, also with features 0 and 1 swapped (they are alike)."""
    names, grams = [], []
    for name, c in theory.CANDIDATES[3].items():
        for order in ([0, 1, 2], [1, 0, 2]):
            W = np.asarray(c.W, dtype=float)[:, order]
            names.append(name)
            grams.append(W.T @ W)
    return names, np.stack(grams)


def classify_n3(W) -> np.ndarray:
    """Which n = 3, m = 2 candidate each model is: the one whose WᵀW is nearest (entry-wise
    maximum distance, features 0 and 1 interchangeable), or ``"other"`` when none is within
    :data:`N3_TOLERANCE`. WᵀW does not change under rotations and reflections of the hidden
    space, so neither does the class.

    Parameters
    ----------
    W : array_like, shape (..., 2, 3)
        Weights; feature 2 is the extra feature.

    Returns
    -------
    numpy.ndarray of str, shape (...)
        A name of :data:`~superposition_lib.analysis.theory.CANDIDATES` ``[3]`` or ``"other"``.

    Examples
    --------
    >>> c = np.cos(2 * np.pi / 3), np.sin(2 * np.pi / 3)
    >>> classify_n3([[[1, c[0], c[0]], [0, c[1], -c[1]]],
    ...              [[0, 1, -1], [1, 0, 0]], [[0.5, 0, 0], [0, 0, 0]]]).tolist()
    ['triangle', 'antipodal', 'other']
    """
    W = np.asarray(W, dtype=float)
    names, grams = _n3_grams()
    gram = np.swapaxes(W, -1, -2) @ W                                     # (..., 3, 3)
    dist = np.abs(gram[..., None, :, :] - grams).max(axis=(-1, -2))        # (..., candidates)
    nearest = np.asarray(names)[dist.argmin(-1)]
    return np.where(dist.min(-1) <= N3_TOLERANCE, nearest, "other")


def paired_losses(W, b, density, importance, *, samples: int = 1 << 20,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Losses of trained models and of their cells' cheapest n = 3 candidates (at their
    optimal biases), each pair on the same inputs, so that their difference is measured far
    more precisely than either loss (at density 0.01 two features collide in one input in
    10,000, and the training run's own estimate is noisy there).

    Parameters
    ----------
    W : array_like, shape (cells, 2, 3)
        Trained weights, one model per cell.
    b : array_like, shape (cells, 3)
        Their biases.
    density : array_like, shape (cells,)
        Density of the three features.
    importance : array_like, shape (cells, 3)
        Importances (1, 1, r).
    samples : int
        Inputs per model.
    seed : int
        Seed of the inputs.

    Returns
    -------
    trained, candidate : numpy.ndarray, shape (cells,)
        The two losses; ``candidate`` is the cheapest of
        :data:`~superposition_lib.analysis.theory.CANDIDATES` ``[3]`` on the same inputs.

    Examples
    --------
    A trained model that is exactly the antipodal candidate at its optimal biases:

    >>> c = theory.CANDIDATES[3]["antipodal"]
    >>> W, b = c.W[None], c.biases([0.05])
    >>> trained, cand = paired_losses(W, b, [0.05], [[1.0, 1.0, 0.5]], samples=1 << 14)
    >>> bool(np.isclose(trained[0], cand[0], rtol=1e-6))
    True
    """
    import torch

    from ..core.data import FeatureDistribution
    from ..core.evaluation import evaluate

    density = np.asarray(density, dtype=float)
    importance = np.asarray(importance, dtype=float)
    losses = theory.candidate_losses(density, importance[:, 2], n_features=3)
    names = losses["solution"].to_numpy()
    cand_W = np.stack([theory.CANDIDATES[3][k].W for k in names])
    cand_b = np.concatenate([theory.CANDIDATES[3][k].biases([p]) for k, p in zip(names, density)])
    dist = FeatureDistribution("sparse_uniform", np.repeat(density[:, None], 3, axis=1))
    imp = torch.as_tensor(importance, dtype=torch.float32)
    out = []
    for weights, biases in ((W, b), (cand_W, cand_b)):
        params = {"W": torch.as_tensor(np.asarray(weights), dtype=torch.float32),
                  "b": torch.as_tensor(np.asarray(biases), dtype=torch.float32)}
        loss, _, _ = evaluate(params, dist, imp, "relu_output", np.random.default_rng(seed),
                              relative_se=0.0, max_samples=samples)
        out.append(loss)
    return out[0], out[1]


def n3_frames(profile: str | None = None, *, store: RunStore | None = None
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``phase-change-n3`` run as (models, cells) frames, next to the theory.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to the current profile.
    store : RunStore, optional
        Where runs are cached.

    Returns
    -------
    models : pandas.DataFrame
        One row per model: ``cell``, ``relative_importance``, ``density``, ``seed``, ``loss``,
        ``candidate`` (:func:`classify_n3`) and ``kept`` (False for the highest-loss seed of
        each cell, as for n = 2).
    cells : pandas.DataFrame
        One row per cell: ``relative_importance``, ``density``, ``candidate`` (majority of the
        kept seeds, :func:`~superposition_lib.experiments.seed_vote`), ``share``,
        ``best_candidate`` (the lowest-loss seed's), ``loss`` (mean kept loss), ``best_loss``
        (the lowest), ``theory`` (the cheapest candidate), ``theory_loss``, ``agree``,
        ``paired_loss`` and ``paired_theory_loss`` (the lowest-loss seed and the cheapest
        candidate on the same 4 times ``eval_samples`` inputs, :func:`paired_losses`) and the
        edges.

    Examples
    --------
    >>> models, cells = n3_frames("smoke")
    >>> len(cells), bool(cells["theory"].isin(list(theory.CANDIDATES[3])).all())
    (400, True)
    """
    run = load("phase-change-n3", profile, store=store)
    models = pd.DataFrame({"cell": run.instance,
                           "relative_importance": run.importance[:, 2],
                           "density": run.feature_probability[:, 2], "seed": run.restart,
                           "loss": run.loss, "candidate": classify_n3(run.W)})
    models["kept"] = _kept(models)
    kept = models[models["kept"]]
    g = kept.groupby("cell")
    cells = g[["relative_importance", "density"]].first()
    cells[["candidate", "share", "best_candidate"]] = seed_vote(kept, "candidate")[
        ["candidate", "share", "best_candidate"]]
    cells["loss"] = g["loss"].mean()
    best_rows = g["loss"].idxmin()
    cells["best_loss"] = kept.loc[best_rows, "loss"].to_numpy()
    cells = cells.reset_index()
    th = theory.candidate_losses(cells["density"], cells["relative_importance"], n_features=3)
    cells["theory"] = th["solution"].to_numpy()
    cells["theory_loss"] = th[list(theory.CANDIDATES[3])].min(axis=1).to_numpy()
    cells["agree"] = cells["candidate"] == cells["theory"]
    cells["paired_loss"], cells["paired_theory_loss"] = paired_losses(
        run.W[best_rows], run.b[best_rows], cells["density"],
        run.importance[best_rows], samples=4 * run.spec.eval_samples)
    return models, _add_edges(cells)


def n3_trained_findings(cells: pd.DataFrame, models: pd.DataFrame) -> dict:
    """The numbers the chapter states about the trained n = 3 diagram.

    Parameters
    ----------
    cells, models : pandas.DataFrame
        :func:`n3_frames`.

    Returns
    -------
    dict
        ``cells``; ``agreement`` (share of cells whose majority candidate is the theory's,
        with its range over unsettled votes, :func:`~superposition_lib.analysis.stats.vote_range`);
        ``agreement_best`` (the same for the lowest-loss seed, with a Wilson interval over
        cells); ``other`` (share of kept models near no candidate, Wilson interval);
        ``triangle_cells`` (cells the theory gives the triangle) and ``triangle_trained``
        (cells whose majority is the triangle); ``confusion`` (theory -> trained -> cells);
        ``loss_ratio`` (median over cells of mean kept loss / the cheapest candidate's);
        ``by_theory`` (a table, one row per theoretical candidate: ``cells``, ``majority`` and
        ``best`` (shares of its cells where the majority or the lowest-loss seed is that
        candidate), ``best_ratio`` (median of the lowest-loss seed's loss / the candidate's,
        both on the same inputs) and ``below`` (cells where that ratio is below 0.99: a
        solution outside the five unit-norm candidates does better)).

    Examples
    --------
    >>> cells = pd.DataFrame({"cell": [0, 1], "candidate": ["triangle", "antipodal"],
    ...                       "best_candidate": ["triangle", "triangle"],
    ...                       "theory": ["triangle", "triangle"], "agree": [True, False],
    ...                       "loss": [1.0, 2.0], "best_loss": [1.0, 0.9],
    ...                       "theory_loss": [1.0, 1.0], "paired_loss": [1.0, 0.9],
    ...                       "paired_theory_loss": [1.0, 1.0]})
    >>> models = pd.DataFrame({"cell": [0, 0, 1, 1], "seed": [0, 1, 0, 1], "kept": True,
    ...                        "candidate": ["triangle"] * 2 + ["antipodal"] * 2,
    ...                        "loss": [1.0, 1.0, 2.0, 2.0]})
    >>> f = n3_trained_findings(cells, models)
    >>> f["agreement"][0], f["agreement_best"][0], f["triangle_trained"]
    (0.5, 1.0, 1)
    >>> [float(v) for v in f["by_theory"].loc["triangle", ["cells", "best", "below"]]]
    [2.0, 1.0, 1.0]
    """
    kept = models[models["kept"]]
    confusion = pd.crosstab(cells["theory"], cells["candidate"])
    n = len(cells)
    return {
        "cells": int(n),
        "agreement": _agreement(cells, kept, "candidate"),
        "agreement_best": stats.wilson_interval(
            int((cells["best_candidate"] == cells["theory"]).sum()), n),
        "other": stats.wilson_interval(int((kept["candidate"] == "other").sum()), len(kept)),
        "triangle_cells": int((cells["theory"] == "triangle").sum()),
        "triangle_trained": int((cells["candidate"] == "triangle").sum()),
        "confusion": {t: {c: int(v) for c, v in row.items() if v}
                      for t, row in confusion.iterrows()},
        "loss_ratio": float(np.median(cells["loss"] / cells["theory_loss"])),
        "by_theory": cells.assign(
            majority=cells["candidate"] == cells["theory"],
            best=cells["best_candidate"] == cells["theory"],
            best_ratio=cells["paired_loss"] / cells["paired_theory_loss"],
            below=cells["paired_loss"] < 0.99 * cells["paired_theory_loss"]
        ).groupby("theory").agg(
                cells=("cell", "size"), majority=("majority", "mean"), best=("best", "mean"),
                best_ratio=("best_ratio", "median"), below=("below", "sum")),
    }
