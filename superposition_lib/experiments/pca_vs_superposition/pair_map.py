"""The two-pair theory next to trained models: its collapse boundary, and ``pair-map``.

:mod:`~superposition_lib.analysis.pair_theory` gives, for two correlated pairs in two dimensions,
the exact loss of every arrangement (orthogonal, antipodal, collapsed, triangle) and the
correlation above which collapsed pairs are the cheapest. This module draws that boundary over the
map's densities, states the theory's numbers, and compares it with ``pair-map`` (the map's grid
for two pairs): every trained model's arrangement and exact loss next to the theory's cheapest
arrangement.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...analysis import pair_theory, stats, theory
from ...core.metrics import REPRESENTED_NORM
from ...core.store import RunStore
from ..registry import load
from ..votes import seed_vote
from .specs import MAP_DENSITIES
from .strategy import _exchangeable

__all__ = [
    "DECIDED_MARGIN",
    "pair_arrangement",
    "pair_map_findings",
    "pair_map_frame",
    "theory_boundary",
    "theory_cells",
    "theory_findings",
]

def theory_boundary(points: int = 60) -> pd.DataFrame:
    """The two-pair theory's collapse boundary over the map's density range.

    Parameters
    ----------
    points : int
        Log-spaced densities from the map's densest to its sparsest (the densest capped at
        0.999: at p = 1 the data do not depend on c).

    Returns
    -------
    pandas.DataFrame
        :func:`~superposition_lib.analysis.pair_theory.collapse_boundary`: ``p`` and ``c`` = c*(p),
        above which collapsed pairs are the cheapest arrangement (NaN where they never are).

    Examples
    --------
    >>> b = theory_boundary(5)
    >>> b["c"].round(2).tolist()                  # sparser features need more correlation
    [0.37, 0.89, nan, nan, nan]
    """
    p = np.geomspace(min(max(MAP_DENSITIES), 0.999), min(MAP_DENSITIES), points)
    return pair_theory.collapse_boundary(p)


def theory_findings(points: int = 60) -> dict:
    """The numbers the chapter states about the two-pair theory.

    Parameters
    ----------
    points : int
        Densities of :func:`theory_boundary`.

    Returns
    -------
    dict
        ``boundary`` (:func:`theory_boundary`, NaN where collapse is never the cheapest);
        ``c_one`` (the grid densities (sparser, denser) between which c*(p) reaches 1);
        ``lowest`` and ``densest`` ((p, c) of the boundary's lowest and densest point);
        ``triangle_from`` (the lowest density, on a 0.005 grid over [0.55, 0.75], at which the
        triangle is the cheapest arrangement of independent pairs); ``triangle_gain`` (1 −
        triangle / collapsed loss at density 1, where all others cost 1/24); ``unit_norm``
        (the orthogonal members' loss at density 1 with ‖W_i‖ = 1, the phase-change
        theory's pricing); ``tilt`` ((density, angle) of the widest tilt of orthogonal members
        at c = 1 over :data:`MAP_DENSITIES`).

    Examples
    --------
    >>> f = theory_findings(5)
    >>> [round(v, 2) for v in f["c_one"]], round(f["triangle_gain"], 4)
    ([0.1, 0.32], 0.0015)
    """
    boundary = theory_boundary(points)
    drawn = boundary.dropna()
    sparsest = drawn["p"].min()
    lowest = drawn.loc[drawn["c"].idxmin()]
    densest = boundary.iloc[0]
    independent = pair_theory.pair_losses(np.linspace(0.55, 0.75, 41), 0.0)
    dense = pair_theory.pair_losses([1.0], [0.0]).iloc[0]
    tilts = pair_theory.arrangement_optimum("orthogonal", MAP_DENSITIES, 1.0)
    widest = tilts.loc[tilts["tilt"].idxmax()]
    return {
        "boundary": boundary,
        "c_one": (float(boundary.loc[boundary["p"] < sparsest, "p"].max()), float(sparsest)),
        "lowest": (float(lowest["p"]), float(lowest["c"])),
        "densest": (float(densest["p"]), float(densest["c"])),
        "triangle_from": float(independent.loc[independent["best"] == "triangle", "p"].min()),
        "triangle_gain": float(1 - dense["triangle"] / dense["collapsed"]),
        "unit_norm": float(theory.antipodal_minimum([1.0])[0]),
        "tilt": (float(widest["p"]), float(widest["tilt"])),
    }



#: The pairings of four features into two couples; the first is the data's (a₁, b₁), (a₂, b₂).
_PAIRINGS = (((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2)))

#: Relative margin by which the two-pair theory's cheapest arrangement must beat the next one
#: for a ``pair-map`` cell to count as decided.
DECIDED_MARGIN = 0.01


def _couple_geometry(cos: float) -> str:
    # the thresholds of pair_frame
    return ("orthogonal" if abs(cos) < 0.1 else "antipodal" if cos < -0.95
            else "collapsed" if cos > 0.95 else "other")


def pair_arrangement(W, exchangeable: bool = False) -> str:
    """Which arrangement of :data:`~superposition_lib.analysis.pair_theory.ARRANGEMENTS` a two-pair
    model has.

    Parameters
    ----------
    W : array_like, shape (2, 4)
        Weights of a₁, b₁, a₂, b₂.
    exchangeable : bool
        Whether the pairs are indistinguishable from couples of features of different pairs
        (c = 0 or p = 1): then any pairing of the four features may show the arrangement,
        preferring ``collapsed``, then ``orthogonal``, then ``antipodal``.

    Returns
    -------
    str
        ``"triangle"`` if exactly three features are represented (norm above
        :data:`~superposition_lib.core.metrics.REPRESENTED_NORM`) and every two of them are more
        than 104.5° apart (cosine below −0.25); with all four represented, the geometry both
        couples share under
        :func:`~superposition_lib.experiments.pca_vs_superposition.pair_frame`'s thresholds
        (``"orthogonal"``, ``"antipodal"``, ``"collapsed"``; ``"orthogonal"`` also needs each member
        of a couple antipodal to a member of the other, cosine below −0.95); else ``"other"``. The
        angle between the two couples of a collapsed or antipodal arrangement is not checked (the
        theory puts them at 90°).

    Examples
    --------
    >>> pair_arrangement([[1, 0, -1, 0], [0, 1, 0, -1]])
    'orthogonal'
    >>> a = np.radians([0, 120, 240, 0])
    >>> pair_arrangement([np.cos(a) * [1, 1, 1, 0], np.sin(a) * [1, 1, 1, 0]])
    'triangle'
    >>> pair_arrangement([[1, 0, 1, 0], [0, 1, 0, 1]])           # a₁ on a₂: not the data's pairs
    'other'
    >>> pair_arrangement([[1, 0, 1, 0], [0, 1, 0, 1]], exchangeable=True)
    'collapsed'
    """
    W = np.asarray(W, dtype=float)
    norm = np.linalg.norm(W, axis=0)
    represented = norm > REPRESENTED_NORM
    unit = W / np.maximum(norm, 1e-12)
    cos = unit.T @ unit
    if represented.sum() == 3:
        i, j, k = np.flatnonzero(represented)
        return "triangle" if max(cos[i, j], cos[i, k], cos[j, k]) < -0.25 else "other"
    if not represented.all():
        return "other"
    found = []
    for pairing in _PAIRINGS if exchangeable else _PAIRINGS[:1]:
        shapes = {_couple_geometry(cos[i, j]) for i, j in pairing}
        own, other = pairing
        if shapes == {"orthogonal"} and max(min(cos[u, v] for v in other) for u in own) > -0.95:
            continue                          # not each antipodal to a member of the other pair
        if len(shapes) == 1:
            found.append(shapes.pop())
    return next((a for a in ("collapsed", "orthogonal", "antipodal") if a in found), "other")


def pair_map_frame(profile: str | None = None, *, store: RunStore | None = None
                   ) -> pd.DataFrame:
    """``pair-map``: every model's arrangement and exact loss next to the two-pair theory.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to the current profile.
    store : RunStore, optional
        Where runs are cached.

    Returns
    -------
    pandas.DataFrame
        One row per model: ``model``, ``cell``, ``seed``, ``correlation``, ``density``,
        ``loss`` (training's estimate), ``exact_loss``
        (:func:`~superposition_lib.analysis.pair_theory.expected_errors`, no sampling noise),
        ``arrangement`` (:func:`pair_arrangement`); the theory's cheapest arrangement
        ``theory`` (:func:`~superposition_lib.analysis.pair_theory.pair_losses`; orthogonal at
        c = 0, where it ties with antipodal), its loss ``theory_loss`` and ``margin`` (the next
        arrangement's loss over it, minus 1); ``decided`` (margin of at least
        :data:`DECIDED_MARGIN`) and ``agrees`` (the arrangement is the theory's; at c = 0
        antipodal counts as orthogonal, the same arrangement of independent features).

    Examples
    --------
    >>> df = pair_map_frame("smoke")
    >>> len(df), sorted(df["theory"].unique())
    (144, ['collapsed', 'orthogonal', 'triangle'])
    """
    run = load("pair-map", profile, store=store)
    W, b = run.W.astype(float), run.b.astype(float)
    df = pd.DataFrame({
        "model": np.arange(len(W)), "cell": run.instance, "seed": run.restart,
        "correlation": run.spec.correlation_array()[run.instance],
        "density": run.feature_probability[:, 0], "loss": run.loss})
    df["exact_loss"] = [pair_theory.expected_errors(w, bias, p, c).mean() for w, bias, p, c
                        in zip(W, b, df["density"], df["correlation"])]
    same = _exchangeable(df["correlation"], df["density"])
    df["arrangement"] = [pair_arrangement(w, e) for w, e in zip(W, same)]
    cells = df.drop_duplicates("cell")
    theory = pair_theory.pair_losses(cells["density"], cells["correlation"])
    theory.index = cells["cell"].to_numpy()
    # at c = 0 orthogonal and antipodal are one arrangement: the margin is to another one
    losses = theory[list(pair_theory.ARRANGEMENTS)].copy()
    losses.loc[theory["c"] == 0, "antipodal"] = np.inf
    losses = np.sort(losses.to_numpy(), axis=1)
    theory["theory_loss"], theory["margin"] = losses[:, 0], losses[:, 1] / losses[:, 0] - 1
    for col, key in (("theory", "best"), ("theory_loss", "theory_loss"), ("margin", "margin")):
        df[col] = theory.loc[df["cell"], key].to_numpy()
    df["decided"] = df["margin"] >= DECIDED_MARGIN
    same_arrangement = {"orthogonal", "antipodal"}
    df["agrees"] = (df["arrangement"] == df["theory"]) | (
        (df["correlation"] == 0) & df["arrangement"].isin(same_arrangement)
        & df["theory"].isin(same_arrangement))
    return df


def pair_map_findings(models: pd.DataFrame) -> dict:
    """How far the trained two-pair map follows its theory.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`pair_map_frame` rows.

    Returns
    -------
    dict
        ``cells`` and ``decided`` (how many are); over the decided cells: ``best`` (share
        whose lowest-loss seed, by exact loss, agrees, Wilson interval), ``majority`` (share
        where most seeds agree: a vote on ``agrees``, ties to the lower mean exact loss; with
        its :func:`~superposition_lib.analysis.stats.vote_range`), ``models`` (share of their
        models that agree, Wilson); ``classes``, the agreement per predicted class (a frame
        indexed by :data:`~superposition_lib.analysis.pair_theory.ARRANGEMENTS`: ``cells``
        predicted to take it, ``decided`` of them, and the share of each whose lowest-loss seed
        takes it, ``agree`` and ``decided_agree``, with Wilson 95% intervals ``low``, ``high``,
        ``decided_low``, ``decided_high``; NaN without cells); over all cells:
        ``arrangements`` (arrangement -> models) and ``ratio``, a frame indexed by cell with
        ``density``, ``correlation``, ``theory``, the ``arrangement`` of the cell's lowest-loss
        seed, ``decided`` and ``ratio``, its exact loss over the theory's.

    Examples
    --------
    >>> models = pd.DataFrame({"cell": [0, 0, 1, 1], "density": 0.1, "correlation": 0.5,
    ...     "exact_loss": [1.0, 2.0, 0.99, 2.0],
    ...     "arrangement": ["orthogonal", "other", "collapsed", "collapsed"],
    ...     "theory": ["orthogonal", "orthogonal", "collapsed", "collapsed"],
    ...     "theory_loss": [1.0, 1.0, 1.0, 1.0], "decided": True,
    ...     "agrees": [True, False, True, True]})
    >>> f = pair_map_findings(models)
    >>> f["best"][0], f["ratio"]["ratio"].tolist()
    (1.0, [1.0, 0.99])
    >>> f["classes"].loc["collapsed", ["cells", "decided", "agree"]].tolist()
    [1.0, 1.0, 1.0]
    """
    seeds = models.groupby("cell").size()
    if seeds.nunique() != 1:
        raise ValueError(f"models: every cell needs as many seeds; got {sorted(seeds.unique())}")
    lowest = models.loc[models.groupby("cell")["exact_loss"].idxmin()].set_index("cell")
    ratio = lowest[["density", "correlation", "theory", "arrangement", "decided"]].assign(
        ratio=lowest["exact_loss"] / lowest["theory_loss"])
    decided = models[models["decided"]]
    vote = seed_vote(decided.assign(loss=decided["exact_loss"]), "agrees")
    best = decided.loc[vote["best_row"]]
    votes = decided.groupby("cell")["agrees"].sum().loc[vote.index]
    return {
        "cells": len(lowest),
        "decided": len(vote),
        "best": stats.wilson_interval(int(best["agrees"].sum()), len(best)),
        "majority": stats.vote_range(vote["agrees"].astype(bool), votes, int(seeds.iloc[0])),
        "models": stats.wilson_interval(int(decided["agrees"].sum()), len(decided)),
        "classes": _class_agreement(lowest),
        "arrangements": {str(k): int(v) for k, v in
                         models["arrangement"].value_counts().items()},
        "ratio": ratio,
    }


def _class_agreement(lowest: pd.DataFrame) -> pd.DataFrame:
    """Per predicted arrangement, how often the cells' lowest-loss seeds take it (all cells and
    decided cells, with Wilson intervals): the ``classes`` of :func:`pair_map_findings`."""
    rows = {}
    for arrangement in pair_theory.ARRANGEMENTS:
        mine = lowest[lowest["theory"] == arrangement]
        decided = mine[mine["decided"]]
        row = {"cells": len(mine), "decided": len(decided)}
        for prefix, group in (("", mine), ("decided_", decided)):
            share, low, high = (stats.wilson_interval(int(group["agrees"].sum()), len(group))
                                if len(group) else (np.nan, np.nan, np.nan))
            row.update({f"{prefix}agree": share, f"{prefix}low": low, f"{prefix}high": high})
        rows[arrangement] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def theory_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """Map cells with the two-pair theory's cheapest arrangement at their (p, c).

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`~superposition_lib.experiments.pca_vs_superposition.map_cells` rows (or any frame
        with ``density`` and ``correlation``).

    Returns
    -------
    pandas.DataFrame
        A copy with ``theory``:
        :func:`~superposition_lib.analysis.pair_theory.pair_losses`' ``best``.

    Examples
    --------
    >>> cells = pd.DataFrame({"density": [0.9, 0.01], "correlation": [0.5, 0.5]})
    >>> theory_cells(cells)["theory"].tolist()
    ['collapsed', 'orthogonal']
    """
    best = pair_theory.pair_losses(cells["density"], cells["correlation"])["best"]
    return cells.assign(theory=best.to_numpy())
