"""The n = 3, m = 2 phase diagram: its candidates, and the trained ``phase-change-n3`` grid.

Three features in two dimensions, two of importance 1 and an extra one of relative importance r,
have five candidate solutions (:data:`~superposition_lib.analysis.theory.CANDIDATES` ``[3]``).
A trained model is the candidate whose WᵀW is nearest (:func:`classify_n3`); a cell's candidate
is the majority of its kept seeds, compared with the theory's cheapest candidate, and the
lowest-loss seed's loss with the candidate's on the same inputs (:func:`paired_losses`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...analysis import stats, theory
from ...core.store import RunStore
from ..registry import load
from ..votes import seed_vote
from .agreement import _agreement
from .diagram import _add_edges, _kept

__all__ = [
    "N3_TOLERANCE",
    "classify_n3",
    "n3_findings",
    "n3_frames",
    "n3_trained_findings",
    "paired_losses",
]


def n3_findings(grid: pd.DataFrame) -> dict:
    """The numbers the chapter states about the n = 3, m = 2 theoretical diagram.

    Parameters
    ----------
    grid : pandas.DataFrame
        :func:`~superposition_lib.experiments.phase_change.theory_frame` with ``n_features=3``.

    Returns
    -------
    dict
        ``share`` (candidate -> fraction of the grid where it is the cheapest) and
        ``triangle`` (``(density_min, density_max, r_min, r_max)`` of the cells the triangle
        wins, or None when it wins none).

    Examples
    --------
    >>> from superposition_lib.experiments.phase_change import theory_frame
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

    from ...core.data import FeatureDistribution
    from ...core.evaluation import evaluate

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
