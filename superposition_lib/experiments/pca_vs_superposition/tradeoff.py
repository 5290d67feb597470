"""The trade-off map: which strategy wins over presence correlation and density.

``pca-map`` trains n = 8 features (four correlated pairs) in m = 2 dimensions on a grid of
correlations c × densities p, several seeds per cell; ``pca-map-long`` is its control for
training length and batch size (see
:mod:`~superposition_lib.experiments.pca_vs_superposition.specs`). Every model gets a strategy
(:func:`~superposition_lib.experiments.pca_vs_superposition.strategy.classify_strategy`), and a
cell takes the majority strategy of its seeds (ties go to the strategy of lower mean loss). This
module turns the runs into models and cells, measures where the regions lie on the grid,
compares the map with its control, and gives the numbers the chapter states about the map and
the collapse sweeps. Where the boundaries lie between grid values, with their uncertainty, is
the fitted model's
(:mod:`~superposition_lib.experiments.pca_vs_superposition.strategy_fit`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...analysis import stats
from ...core.store import RunStore
from ..registry import load
from ..votes import cell_summary
from .strategy import STRATEGIES, _exchangeable, _model_metrics, pc_cosines

__all__ = [
    "MAP_RUNS",
    "boundary_frame",
    "findings",
    "map_cells",
    "map_control",
    "map_frame",
    "region_numbers",
]

#: The runs of the map's n = 8, m = 2 model: the map, its training control and its finer grid.
MAP_RUNS = ("pca-map", "pca-map-long", "pca-map-fine")


def map_frame(profile: str | None = None, *, store: RunStore | None = None,
              experiment: str = "pca-map") -> pd.DataFrame:
    """A run of the trade-off map: one row per model.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to the current profile.
    store : RunStore, optional
        Where runs are cached.
    experiment : str
        One of :data:`MAP_RUNS`: ``"pca-map"``, its control ``"pca-map-long"`` or its finer grid
        ``"pca-map-fine"``.

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``cell``, ``seed``, ``correlation`` c, ``density`` p, ``loss``,
        ``linear_optimal`` (the PCA solution's exact loss), ``no_superposition``,
        ``loss_vs_pca`` and ``loss_vs_nosup`` (the ratios), ``pca_alignment`` (top-2 principal
        subspace; NaN at c = 0 and at p = 1, where every direction is principal),
        ``features_per_dim`` ‖W‖_F²/m, ``collapsed`` (sets on their principal component),
        ``collapsed_chance`` (the same count for the pairs (a_i, b_{i+1}) of features from
        different sets: the chance level), ``split``,
        ``represented``, ``strategy``
        (:func:`~superposition_lib.experiments.pca_vs_superposition.classify_strategy`), and
        ``w0x``, ``w0y``, …, ``w7x``, ``w7y`` (the feature directions) and ``b0`` … ``b7``.

    Examples
    --------
    >>> df = map_frame("smoke")
    >>> len(df), df["correlation"].nunique(), df["density"].nunique()
    (144, 12, 12)
    """
    if experiment not in MAP_RUNS:
        raise ValueError(f"experiment must be one of {MAP_RUNS}; got {experiment!r}")
    run = load(experiment, profile, store=store)
    df = _model_metrics(run)
    W = run.W.astype(float)
    for i in range(W.shape[2]):
        df[f"w{i}x"], df[f"w{i}y"] = W[:, 0, i], W[:, 1, i]
        df[f"b{i}"] = run.b[:, i].astype(float)
    return df



def map_control(cells: pd.DataFrame, control: pd.DataFrame, seeds: int) -> dict:
    """How far the map's strategies hold under longer training with larger batches.

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`map_cells` of ``pca-map``.
    control : pandas.DataFrame
        :func:`map_cells` of ``pca-map-long`` (a subset of the cells).
    seeds : int
        Seeds per cell of ``cells``.

    Returns
    -------
    dict
        ``cells`` (shared cells), ``agree`` (share of them with the same majority strategy,
        Wilson interval: (share, low, high)), ``changes`` (map strategy -> control strategy ->
        cells, for the cells that differ), ``unanimous`` (share of the map's cells whose
        seeds all agree, Wilson interval), ``settled`` (share of the map's cells whose
        majority is settled: the Wilson interval of its share of the seeds lies above 1/2) and
        ``settle_votes`` (the fewest agreeing seeds that settle a vote).

    Examples
    --------
    >>> a = pd.DataFrame({"correlation": [0.0, 1.0], "density": 0.1,
    ...                   "strategy": ["linear", "collapsed"], "share": [1.0, 2 / 3]})
    >>> b = a.assign(strategy=["linear", "mixture"])
    >>> c = map_control(a, b, seeds=9)
    >>> c["cells"], c["agree"][0], c["changes"], c["settled"], c["settle_votes"]
    (2, 0.5, {'collapsed': {'mixture': 1}}, 0.5, 8)
    """
    keys = ["correlation", "density"]
    both = cells.round({k: 9 for k in keys}).merge(control.round({k: 9 for k in keys}),
                                                   on=keys, suffixes=("", "_control"))
    same = both["strategy"] == both["strategy_control"]
    changes = pd.crosstab(both.loc[~same, "strategy"], both.loc[~same, "strategy_control"])
    return {"cells": int(len(both)),
            "agree": stats.wilson_interval(int(same.sum()), len(both)),
            "changes": {a: {b: int(v) for b, v in row.items() if v}
                        for a, row in changes.iterrows()},
            "unanimous": stats.wilson_interval(int((cells["share"] == 1).sum()), len(cells)),
            "settled": float(np.mean([stats.wilson_interval(round(share * seeds), seeds)[1] > 0.5
                                      for share in cells["share"]])),
            "settle_votes": next((k for k in range(seeds + 1)
                                  if stats.wilson_interval(k, seeds)[1] > 0.5), None)}


def map_cells(models: pd.DataFrame) -> pd.DataFrame:
    """One row per (correlation, density) cell of the map.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`map_frame` rows.

    Returns
    -------
    pandas.DataFrame
        Columns ``cell``, ``correlation``, ``density``, the seed means of ``pca_alignment``,
        ``features_per_dim``, ``loss_vs_pca`` and ``loss_vs_nosup``, ``collapsed`` (NaN where
        c = 0 or p = 1: there a pair is indistinguishable from two features of different pairs
        and its count is chance, see
        :func:`~superposition_lib.experiments.pca_vs_superposition.collapse_chance`),
        ``linear_optimal``, ``no_superposition``, ``strategy`` (majority of the seeds; ties to the
        lower mean loss), ``share`` (its fraction of seeds), ``best_seed`` and ``best_strategy``
        (the lowest-loss seed and its strategy).

    Examples
    --------
    >>> models = pd.DataFrame({"cell": 0, "seed": [0, 1, 2], "correlation": 1.0,
    ...     "density": 0.1, "loss": [1.0, 2.0, 3.0], "pca_alignment": 1.0,
    ...     "features_per_dim": 1.0, "collapsed": 2, "loss_vs_pca": 1.0, "loss_vs_nosup": 0.5,
    ...     "linear_optimal": 1.0, "no_superposition": 2.0,
    ...     "strategy": ["mixture", "linear", "linear"]})
    >>> map_cells(models)[["strategy", "share", "best_strategy"]].values.tolist()
    [['linear', 0.6666666666666666, 'mixture']]
    """
    cells = cell_summary(
        models, "strategy",
        first=["correlation", "density", "linear_optimal", "no_superposition"],
        mean=["pca_alignment", "features_per_dim", "loss_vs_pca", "loss_vs_nosup", "collapsed"],
        best=["seed", "strategy"])
    # where pairs are exchangeable with non-partners a "collapsed" pair is chance alignment
    # (collapse_chance), so its count is left out, as the alignment is
    cells["collapsed"] = cells["collapsed"].where(
        ~_exchangeable(cells["correlation"], cells["density"]))
    return cells


def boundary_frame(cells: pd.DataFrame) -> pd.DataFrame:
    """The measured regions along density, one row per correlation.

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`map_cells` rows.

    Returns
    -------
    pandas.DataFrame
        One row per correlation: for every strategy s of :data:`STRATEGIES`, ``s_cells`` (how
        many cells), ``s_min`` and ``s_max`` (the lowest and highest density of such a cell;
        NaN if none).

    Examples
    --------
    >>> cells = pd.DataFrame({"correlation": 1.0, "density": [1.0, 0.1, 0.01],
    ...     "strategy": ["linear", "collapsed", "mixture"]})
    >>> boundary_frame(cells)[["linear_min", "collapsed_max", "mixture_max"]].values.tolist()
    [[1.0, 0.1, 0.01]]
    """
    rows = []
    for c, g in cells.groupby("correlation"):
        row = {"correlation": c}
        for s in STRATEGIES:
            d = g[g["strategy"] == s]["density"]
            row[f"{s}_cells"] = len(d)
            row[f"{s}_min"] = float(d.min()) if len(d) else np.nan
            row[f"{s}_max"] = float(d.max()) if len(d) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def _density_span(rows: pd.DataFrame) -> tuple[float, float]:
    """(min, max) of the rows' ``density``; NaNs if there are none."""
    return ((float(rows["density"].min()), float(rows["density"].max())) if len(rows)
            else (np.nan, np.nan))


def region_numbers(cells: pd.DataFrame) -> dict:
    """Where the map's regions lie, from the cells' majority strategies.

    Parameters
    ----------
    cells : pandas.DataFrame
        Rows with ``density``, ``correlation`` and ``strategy`` (:func:`map_cells`).

    Returns
    -------
    dict
        ``strategy_cells`` (strategy → cells), ``linear_min_density`` (lowest density of a
        ``"linear"`` cell), ``linear_all_above`` (the lowest density d such that every cell at
        density ≥ d is ``"linear"``), ``superposition_max_correlation`` (highest c of a
        ``"superposition"`` cell), ``superposition_densities`` (min, max density of those
        cells), ``collapsed_min_correlation`` (lowest c of a ``"collapsed"`` cell),
        ``collapsed_densities`` (min, max density of those cells), ``mixture_max_density``
        (highest density of a ``"mixture"`` cell) and ``mixture_all_below`` (the highest
        density d such that every cell with c > 0 at density ≤ d is ``"mixture"``); NaN where
        a strategy has no cell.

    Examples
    --------
    >>> cells = pd.DataFrame({"correlation": [0.0, 1.0, 1.0], "density": [0.01, 1.0, 0.1],
    ...     "strategy": ["superposition", "linear", "collapsed"]})
    >>> r = region_numbers(cells)
    >>> r["linear_all_above"], r["collapsed_densities"], r["mixture_all_below"]
    (1.0, (0.1, 0.1), nan)
    """
    by = {s: cells[cells["strategy"] == s] for s in STRATEGIES}
    span = _density_span
    above = np.nan
    for d in np.sort(cells["density"].unique())[::-1]:     # walk down from the densest column
        if not (cells[cells["density"] == d]["strategy"] == "linear").all():
            break
        above = float(d)
    below = np.nan
    correlated = cells[cells["correlation"] > 0]
    for d in np.sort(correlated["density"].unique()):      # walk up from the sparsest column
        if not (correlated[correlated["density"] == d]["strategy"] == "mixture").all():
            break
        below = float(d)
    return {
        "strategy_cells": {s: len(by[s]) for s in STRATEGIES},
        "linear_min_density": span(by["linear"])[0],
        "linear_all_above": above,
        "superposition_max_correlation": (float(by["superposition"]["correlation"].max())
                                          if len(by["superposition"]) else np.nan),
        "superposition_densities": span(by["superposition"]),
        "collapsed_min_correlation": (float(by["collapsed"]["correlation"].min())
                                      if len(by["collapsed"]) else np.nan),
        "collapsed_densities": span(by["collapsed"]),
        "mixture_max_density": span(by["mixture"])[1],
        "mixture_all_below": below,
    }


def findings(cells: pd.DataFrame, models: pd.DataFrame, collapse: pd.DataFrame) -> dict:
    """The numbers the chapter states about collapse and the trade-off map.

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`map_cells` rows.
    models : pandas.DataFrame
        :func:`map_frame` rows.
    collapse : pandas.DataFrame
        :func:`~superposition_lib.experiments.pca_vs_superposition.collapse_frame` rows.

    Returns
    -------
    dict
        Map: ``cells``, ``models``, ``strategy_cells`` (strategy → cells), ``unanimous``
        (fraction of cells whose seeds agree), ``linear_min_density`` (lowest density of a
        ``"linear"`` cell) and ``linear_all_above`` (the lowest density d such that every cell
        at density ≥ d is ``"linear"``), ``superposition_max_correlation`` (highest c of a
        ``"superposition"`` cell), ``superposition_densities`` (min, max density of those
        cells), ``collapsed_min_correlation`` (lowest c of a ``"collapsed"`` cell),
        ``collapsed_densities`` (min, max density of those cells), ``mixture_max_density``
        (highest density of a ``"mixture"`` cell), ``beats_pca`` (fraction of models with loss
        below the linear optimum), ``loss_vs_pca_range`` and ``loss_vs_nosup_range`` (min, max
        of the cell means), ``alignment_by_c`` (c → mean PCA alignment over the cells of
        density < 1), ``corr_alignment`` (Spearman correlation over cells of c with the mean
        PCA alignment), ``corr_fpd_density`` (of density with features per dimension) and
        ``fpd_range`` (min, max cell mean of ‖W‖²/m).
        Collapse: ``collapse_best`` (density → collapsed sets of the best seed),
        ``collapse_mean`` (density → mean over seeds), ``collapse_max`` (most sets collapsed by
        a best seed), ``collapse_all_densities`` (min, max density whose best seed collapses
        that many) and ``collapse_seeds`` (seeds per density).

    Examples
    --------
    >>> cells = pd.DataFrame({"correlation": [0.0, 1.0, 1.0], "density": [0.01, 1.0, 0.1],
    ...     "strategy": ["superposition", "linear", "collapsed"], "share": [1.0, 1.0, 1.0],
    ...     "pca_alignment": [np.nan, 1.0, 1.0], "features_per_dim": [2.0, 1.0, 2.0],
    ...     "loss_vs_pca": [0.5, 1.0, 0.4], "loss_vs_nosup": [0.4, 0.9, 0.3]})
    >>> models = pd.DataFrame({"loss": [1.0], "linear_optimal": [2.0],
    ...                        "no_superposition": [3.0]})
    >>> collapse = pd.DataFrame({"density": [1.0, 1.0], "seed": [0, 1],
    ...                          "best": [True, False], "collapsed": [4, 1]})
    >>> f = findings(cells, models, collapse)
    >>> f["linear_all_above"], f["superposition_max_correlation"], f["collapse_mean"]
    (1.0, 0.0, {1.0: 2.5})
    """
    best = collapse[collapse["best"]].sort_values("density")
    full = best[best["collapsed"] == best["collapsed"].max()] if len(best) else best
    sparse = cells[cells["density"] < 1]
    return {
        "cells": len(cells),
        "models": len(models),
        "unanimous": float((cells["share"] == 1).mean()),
        **region_numbers(cells),
        "beats_pca": float((models["loss"] < models["linear_optimal"]).mean()),
        "loss_vs_pca_range": (float(cells["loss_vs_pca"].min()),
                              float(cells["loss_vs_pca"].max())),
        "loss_vs_nosup_range": (float(cells["loss_vs_nosup"].min()),
                                float(cells["loss_vs_nosup"].max())),
        "alignment_by_c": {float(c): float(v) for c, v in
                           sparse.groupby("correlation")["pca_alignment"].mean().items()},
        "corr_alignment": float(cells[["correlation", "pca_alignment"]].corr("spearman").iloc[
            0, 1]) if cells["pca_alignment"].notna().sum() > 2 else np.nan,
        "corr_fpd_density": float(cells[["density", "features_per_dim"]].corr(
            "spearman").iloc[0, 1]) if len(cells) > 2 else np.nan,
        "fpd_range": (float(cells["features_per_dim"].min()),
                      float(cells["features_per_dim"].max())),
        "collapse_best": {float(p): int(k) for p, k in zip(best["density"], best["collapsed"])},
        "collapse_mean": {float(p): float(k) for p, k in
                          collapse.groupby("density")["collapsed"].mean().items()},
        "collapse_max": int(best["collapsed"].max()) if len(best) else 0,
        "collapse_all_densities": _density_span(full),
        "collapse_seeds": int(collapse["seed"].nunique()),
        **_pc_stats(collapse),
    }


def _pc_stats(collapse: pd.DataFrame) -> dict:
    if "w0x" not in collapse.columns:
        return {}
    n = sum(1 for c in collapse.columns if c.startswith("w") and c.endswith("x"))
    W = np.stack([collapse[[f"w{i}x" for i in range(n)]].to_numpy(),
                  collapse[[f"w{i}y" for i in range(n)]].to_numpy()], axis=1)
    best, every = pc_cosines(W[collapse["best"].to_numpy()]), pc_cosines(W)
    return {"pc_cos_best": float((best > 0.95).mean()) if len(best) else np.nan,
            "pc_cos_all": float((every > 0.95).mean()) if len(every) else np.nan,
            "pc_cos_min_best": float(best.min()) if len(best) else np.nan,
            "pc_pairs_best": len(best)}
