"""The correlated-feature geometries of the chapter (section "Correlated features").

The paper's small reproductions (``corr-pairs``, ``anticorr-pairs``, ``corr-hexagon``,
``indep-hexagon`` and ``corr-sets10``, see
:mod:`~superposition_lib.experiments.pca_vs_superposition.specs`) as tidy frames: the geometry of
every pair, every feature's direction in two dimensions, whether a model forms a hexagon, how
close WᵀW is to the identity within and across sets, and the numbers the chapter states about
them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...core.metrics import REPRESENTED_NORM
from ...core.run import Run
from ...core.store import RunStore
from ..registry import load

__all__ = [
    "direction_frame",
    "geometry_findings",
    "gram_frame",
    "hexagon_frame",
    "pair_frame",
    "sets_frame",
]


def pair_frame(run: Run) -> pd.DataFrame:
    """One row per (model, pair) of a run whose features form consecutive pairs.

    Parameters
    ----------
    run : Run
        A run with n even (all seeds).

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``instance``, ``seed``, ``density``, ``loss``, ``best`` (the
        lowest-loss seed of its instance), ``pair``, ``norm_a``, ``norm_b`` (of the two members),
        ``cosine`` (between them; NaN if one is zero) and ``geometry``: ``"orthogonal"``
        (both represented, ``|cos| < 0.1``), ``"antipodal"`` (cos < −0.95), ``"collapsed"``
        (cos > 0.95), ``"other"`` (both represented otherwise) or ``"not both represented"``.

    Examples
    --------
    >>> run = load("corr-pairs", "smoke")
    >>> df = pair_frame(run)
    >>> len(df), sorted(df["pair"].unique().tolist())
    (16, [0, 1])
    """
    W = run.W.astype(float)
    k = W.shape[0]
    best = np.zeros(k, bool)
    best[run.best().models] = True
    rows = []
    for pair in range(W.shape[2] // 2):
        a, b = W[:, :, 2 * pair], W[:, :, 2 * pair + 1]
        na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = (a * b).sum(1) / (na * nb)
        both = (na > REPRESENTED_NORM) & (nb > REPRESENTED_NORM)
        geometry = np.where(~both, "not both represented", np.select(
            [np.abs(cos) < 0.1, cos < -0.95, cos > 0.95],
            ["orthogonal", "antipodal", "collapsed"], "other"))
        rows.append(pd.DataFrame({
            "model": np.arange(k), "instance": run.instance, "seed": run.restart,
            "density": run.feature_probability[:, 0], "loss": run.loss, "best": best,
            "pair": pair, "norm_a": na, "norm_b": nb, "cosine": cos, "geometry": geometry}))
    return pd.concat(rows, ignore_index=True)


def direction_frame(run: Run, set_size: int | None = 2) -> pd.DataFrame:
    """One row per (model, feature) of an m = 2 run: the feature's direction W_i.

    Parameters
    ----------
    run : Run
        A run with m = 2 (all seeds).
    set_size : int or None
        Features per set (``None`` for independent features: every feature its own set).

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``instance``, ``seed``, ``density``, ``loss``, ``best``, ``feature``,
        ``set``, ``x``, ``y``, ``norm``, ``angle`` (degrees in [0, 360)) and ``bias``.

    Examples
    --------
    >>> run = load("corr-hexagon", "smoke")
    >>> df = direction_frame(run)
    >>> len(df), int(df["set"].max())
    (96, 2)
    """
    W = run.W.astype(float)
    k, _, n = W.shape
    best = np.zeros(k, bool)
    best[run.best().models] = True
    feature = np.tile(np.arange(n), k)
    x, y = W[:, 0, :].ravel(), W[:, 1, :].ravel()
    return pd.DataFrame({
        "model": np.repeat(np.arange(k), n), "instance": np.repeat(run.instance, n),
        "seed": np.repeat(run.restart, n),
        "density": np.repeat(run.feature_probability[:, 0], n),
        "loss": np.repeat(run.loss, n), "best": np.repeat(best, n),
        "feature": feature, "set": feature // (set_size or 1), "x": x, "y": y,
        "norm": np.hypot(x, y), "angle": np.degrees(np.arctan2(y, x)) % 360,
        "bias": run.b.astype(float).ravel()})


def hexagon_frame(directions: pd.DataFrame) -> pd.DataFrame:
    """Per model of an n = 6, m = 2 run: is it a hexagon, and are the pairs adjacent?

    Parameters
    ----------
    directions : pandas.DataFrame
        :func:`direction_frame` rows.

    Returns
    -------
    pandas.DataFrame
        One row per model: ``model``, ``density``, ``seed``, ``best``, ``loss``,
        ``represented`` (features with ‖W_i‖ > 0.5), ``max_gap_error`` (largest deviation, in
        degrees, of the angular gaps between consecutive represented features from 60°),
        ``hexagon`` (six represented and every gap within 10° of 60°), ``pairs_adjacent``
        (every pair's members are neighbours in angular order), ``directions`` (distinct
        directions among the represented features: angles closer than 10° count once) and
        ``merged_pairs`` (sets whose two members are both represented and closer than 10°).

    Examples
    --------
    >>> a = np.radians(np.arange(6) * 60.0)
    >>> d = pd.DataFrame({"model": 0, "density": 0.1, "seed": 0, "best": True, "loss": 0.0,
    ...                   "feature": range(6), "set": [0, 0, 1, 1, 2, 2],
    ...                   "norm": 1.0, "angle": np.degrees(a)})
    >>> hexagon_frame(d)[["hexagon", "pairs_adjacent"]].values.tolist()
    [[True, True]]
    """
    rows = []
    for model, g in directions.groupby("model"):
        rep = g[g["norm"] > REPRESENTED_NORM].sort_values("angle")
        angles = rep["angle"].to_numpy()
        if len(angles) >= 2:
            gaps = np.diff(np.r_[angles, angles[0] + 360])
            err = float(np.abs(gaps - 360 / len(angles)).max()) if len(angles) == 6 else np.nan
            sets = rep["set"].to_numpy()
            nxt = np.roll(sets, -1)
            prv = np.roll(sets, 1)
            adjacent = bool(len(angles) == 6 and np.all((sets == nxt) | (sets == prv)))
        else:
            err, adjacent = np.nan, False
        first = g.iloc[0]
        if len(angles):
            gaps_all = np.diff(np.r_[angles, angles[0] + 360])
            distinct = int(max(1, (gaps_all >= 10).sum()))
        else:
            distinct = 0
        merged = 0
        for _, pair in rep.groupby("set"):
            if len(pair) == 2:
                d = abs(pair["angle"].iloc[0] - pair["angle"].iloc[1]) % 360
                merged += int(min(d, 360 - d) < 10)
        rows.append({"model": model, "density": first["density"], "seed": first["seed"],
                     "best": bool(first["best"]), "loss": first["loss"],
                     "represented": len(angles), "max_gap_error": err,
                     "hexagon": bool(len(angles) == 6 and err < 10),
                     "pairs_adjacent": adjacent, "directions": distinct,
                     "merged_pairs": merged})
    return pd.DataFrame(rows)


def sets_frame(run: Run, set_size: int = 10) -> pd.DataFrame:
    """Per model of ``corr-sets10``: how close WᵀW is to the identity within and across sets.

    Parameters
    ----------
    run : Run
        The ``corr-sets10`` run (all seeds).
    set_size : int
        Features per set.

    Returns
    -------
    pandas.DataFrame
        One row per model: ``model``, ``density``, ``seed``, ``best``, ``loss``, ``diag``
        (mean ‖W_i‖²), ``within`` (mean ``|W_i·W_j|`` over distinct features of one set),
        ``across`` (mean ``|W_i·W_j|`` over pairs from different sets) and ``within_max``.

    Examples
    --------
    >>> df = sets_frame(load("corr-sets10", "smoke"))
    >>> len(df), bool((df["diag"] > 0).all())
    (8, True)
    """
    W = run.W.astype(float)
    G = np.einsum("kmi,kmj->kij", W, W)
    n = G.shape[-1]
    s = np.arange(n) // set_size
    same = (s[:, None] == s[None, :]) & ~np.eye(n, dtype=bool)
    other = s[:, None] != s[None, :]
    best = np.zeros(len(W), bool)
    best[run.best().models] = True
    return pd.DataFrame({
        "model": np.arange(len(W)), "density": run.feature_probability[:, 0],
        "seed": run.restart, "best": best, "loss": run.loss,
        "diag": np.diagonal(G, axis1=1, axis2=2).mean(1),
        "within": np.abs(G[:, same]).mean(1), "within_max": np.abs(G[:, same]).max(1),
        "across": np.abs(G[:, other]).mean(1)})


def gram_frame(run: Run) -> pd.DataFrame:
    """WᵀW of the lowest-loss model of every instance, long form (for a heatmap).

    Parameters
    ----------
    run : Run
        Any run (all seeds).

    Returns
    -------
    pandas.DataFrame
        Columns ``density``, ``i``, ``j``, ``value``.

    Examples
    --------
    >>> df = gram_frame(load("corr-sets10", "smoke"))
    >>> len(df)
    800
    """
    best = run.best()
    W = best.W.astype(float)
    G = np.einsum("kmi,kmj->kij", W, W)
    k, n, _ = G.shape
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return pd.DataFrame({"density": np.repeat(best.feature_probability[:, 0], n * n),
                         "i": np.tile(i.ravel(), k), "j": np.tile(j.ravel(), k),
                         "value": G.reshape(-1)})



def geometry_findings(store: RunStore | None = None, profile: str | None = None) -> dict:
    """Numbers of the correlated-feature reproductions (section "Correlated features").

    Parameters
    ----------
    store : RunStore, optional
        Where runs are cached.
    profile : str, optional
        Defaults to the current profile.

    Returns
    -------
    dict
        ``corr_orthogonal`` / ``anticorr_antipodal``: fraction of (model, pair) rows with that
        geometry, over all seeds and over the best seeds (``…_best``); ``corr_pair_cosine`` and
        ``anticorr_pair_cosine``: median cosine between the members of a pair (best seeds);
        ``hexagon_corr`` / ``hexagon_indep``: fraction of models forming a hexagon, and
        ``hexagon_corr_adjacent``: fraction of the correlated hexagons with pairs adjacent (with
        ``…_best`` variants over the best seeds), and ``hexagon_corr_by_density`` /
        ``hexagon_indep_by_density``: density → hexagons, seeds, the best seed's distinct
        directions, merged pairs, whether it is a hexagon and its largest gap error, the seeds
        with a merged pair and the hexagons with adjacent pairs (:func:`hexagon_frame`);
        ``sets10_within``, ``sets10_across`` and ``sets10_diag``: means over the best seeds of
        :func:`sets_frame`; ``models``: models trained per experiment.

    Examples
    --------
    >>> import tempfile
    >>> f = geometry_findings(RunStore(tempfile.mkdtemp()), "smoke")
    >>> 0 <= f["corr_orthogonal"] <= 1
    True
    """
    out = {}
    for name, key, geo in (("corr-pairs", "corr", "orthogonal"),
                           ("anticorr-pairs", "anticorr", "antipodal")):
        df = pair_frame(load(name, profile, store=store))
        out[f"{key}_{geo}"] = float((df["geometry"] == geo).mean())
        out[f"{key}_{geo}_best"] = float((df[df["best"]]["geometry"] == geo).mean())
        out[f"{key}_pair_cosine"] = float(df[df["best"]]["cosine"].median())
        out[f"{key}_geometries"] = df["geometry"].value_counts().to_dict()
        out["models"] = int(df["model"].nunique())
    for name, key, size in (("corr-hexagon", "corr", 2), ("indep-hexagon", "indep", None)):
        h = hexagon_frame(direction_frame(load(name, profile, store=store), size))
        out[f"hexagon_{key}"] = float(h["hexagon"].mean())
        out[f"hexagon_{key}_best"] = float(h[h["best"]]["hexagon"].mean())
        out[f"hexagon_{key}_represented"] = float(h["represented"].mean())
        out[f"hexagon_{key}_by_density"] = {
            float(p): {"hexagons": int(g["hexagon"].sum()), "seeds": len(g),
                       "best_directions": int(g[g["best"]]["directions"].iloc[0]),
                       "best_merged": int(g[g["best"]]["merged_pairs"].iloc[0]),
                       "best_hexagon": bool(g[g["best"]]["hexagon"].iloc[0]),
                       "best_gap_error": float(g[g["best"]]["max_gap_error"].iloc[0]),
                       "adjacent_hexagons": int((g["hexagon"] & g["pairs_adjacent"]).sum()),
                       "merged_models": int((g["merged_pairs"] > 0).sum())}
            for p, g in h.groupby("density")}
        if key == "corr":
            hx = h[h["hexagon"]]
            out["hexagon_corr_adjacent"] = (float(hx["pairs_adjacent"].mean()) if len(hx)
                                            else np.nan)
    s = sets_frame(load("corr-sets10", profile, store=store))
    sb = s[s["best"]]
    out.update(sets10_within=float(sb["within"].mean()), sets10_across=float(sb["across"].mean()),
               sets10_diag=float(sb["diag"].mean()),
               sets10_within_max=float(sb["within_max"].max()))
    return out
