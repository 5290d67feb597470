"""Experiments of the chapter "PCA versus superposition" (``chapters/pca-vs-superposition.qmd``).

Every experiment uses the ReLU-output model x' = ReLU(WᵀWx + b) with equal importances (the
paper's choice for all its geometry experiments) and, unless stated, m = 2. The paper gives no
densities for its correlated-feature figures; we use sparse features (density 1 − S of 0.1 and
0.03, where superposition is cheap, see the phase-change chapter) and train
:data:`GEOMETRY_SEEDS` seeds of each, reporting how many seeds show each geometry.

``corr-pairs``
    n = 4: two correlated pairs (``data="correlated"``, ``set_size=2``, correlation 1: the
    members of a pair are present together). Paper: the members of a pair end orthogonal.
``anticorr-pairs``
    n = 4: two anticorrelated pairs (a pair is active with probability p, and then exactly one
    member is). Paper: each pair ends antipodal.
``corr-hexagon`` and ``indep-hexagon``
    n = 6: three correlated pairs, and six independent features, at :data:`HEXAGON_DENSITIES`
    (down to 0.003, so 10,000 steps of batch 1024). Paper: the correlated features form a
    hexagon with the members of a pair adjacent.
``corr-sets10``
    n = 20 in m = 10: two correlated sets of 10. Paper: within a set WᵀW ≈ identity ("local
    almost-orthogonal bases").
``collapse``
    n = 8 in m = 2: four correlated pairs (correlation 1) at :data:`COLLAPSE_DENSITIES` (16
    values from 1 to 0.01, log-spaced), :data:`COLLAPSE_SEEDS` seeds each; the lowest-loss seed
    of every density is the best-of-N model whose collapsed sets are counted.
``collapse-n6``, ``collapse-long``
    ``collapse`` with the paper's three pairs (n = 6), trained the same way, and ``collapse``
    trained 10,000 steps of batch 1024 (the hexagons' training): like-for-like and
    training-length controls.
``pca-map``
    The trade-off map: the same n = 8, m = 2 model over :data:`MAP_CORRELATIONS` (12 values of
    the presence correlation c from 0 to 1) × :data:`MAP_DENSITIES` (12 values from 1 to 0.01,
    log-spaced), :data:`MAP_SEEDS` seeds per cell, all in one batched spec.
``pair-map``
    The map's grid for two pairs (n = 4, m = 2), :data:`PAIR_MAP_SEEDS` seeds per cell: the
    setting of :mod:`~superposition_lib.analysis.pair_theory`, whose cheapest arrangement every cell is
    compared with.
``pca-map-long``
    Every other correlation and density of ``pca-map`` (6 × 6 cells, as many seeds) trained 10,000
    steps of batch 1024: the map's control for training length and batch size.

How a model uses its capacity (:func:`classify_strategy`): every pair is *collapsed*
(:func:`~superposition_lib.analysis.pca.collapsed_sets`: both members represented and along their sum
(a + b)/√2), *split* (both represented, not collapsed), *single* (one member represented) or
*dropped*. Then the model is

- ``"linear"`` if it holds at most :data:`PCA_FPD` = 1.25 features per dimension ‖W‖_F²/m:
  no room for superposition, the linear model's regime (WᵀW close to a rank-m projection, which
  is what the linear optimum looks like: the PCA solution for c > 0, and any projection at
  c = 0, where no direction is principal);
- otherwise ``"collapsed"`` if at least one pair is collapsed and none is split: every
  represented pair is read along its principal component, and those components share the m
  dimensions in superposition;
- ``"mixture"`` if some pairs are collapsed and others split;
- ``"superposition"`` if no pair is collapsed (features in superposition, none merged).

A cell of the map takes the majority class of its seeds (ties go to the class of lower mean
loss). Losses are compared with two exact references from :mod:`~superposition_lib.analysis.pca`: the
linear model's optimum (the PCA solution, :func:`~superposition_lib.analysis.pca.linear_optimal_loss`)
and the best ReLU model without superposition
(:func:`~superposition_lib.analysis.pca.no_superposition_loss`).

Training: correlated data trains on the general (not the fused) path, so to fit the book's
training budget (about 10 minutes for the chapter on two cores) the small geometry experiments
train 5,000 steps of batch 512 (the hexagons 10,000 of batch 1024) and the 8-feature runs
(``collapse``, ``pca-map``) 4,000 steps of batch 256, all with AdamW at a peak learning rate of
3e-3 decayed to 0 by a cosine (instead of the notebook's 10,000 steps of batch 1024 at a
constant 1e-3). ``smoke`` profiles keep every grid (n, m and densities) with one to four seeds
and a few hundred to a thousand steps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis import pair_theory, pca, stats, theory
from ..core import metrics
from ..core.config import ExperimentSpec
from ..core.run import Run
from ..core.store import RunStore
from . import Experiment, get, load, register, seed_vote

__all__ = [
    "CHAPTER",
    "COLLAPSE_DENSITIES",
    "COLLAPSE_RUNS",
    "COLLAPSE_SEEDS",
    "DECIDED_MARGIN",
    "GEOMETRY_DENSITIES",
    "GEOMETRY_SEEDS",
    "HEXAGON_DENSITIES",
    "MAP_CORRELATIONS",
    "MAP_DENSITIES",
    "MAP_SEEDS",
    "NORM_THRESHOLD",
    "PAIR_MAP_SEEDS",
    "PCA_FPD",
    "REGION_DRAWS",
    "STRATEGIES",
    "boundary_frame",
    "classify_strategy",
    "collapse_chance",
    "collapse_comparison",
    "collapse_frame",
    "direction_frame",
    "findings",
    "geometry_findings",
    "gram_frame",
    "hexagon_frame",
    "map_cells",
    "map_control",
    "map_frame",
    "pair_arrangement",
    "pair_frame",
    "pair_map_findings",
    "pair_map_frame",
    "pc_cosines",
    "region_intervals",
    "region_numbers",
    "sets_frame",
    "theory_boundary",
    "theory_cells",
    "theory_findings",
]

#: The chapter's file stem.
CHAPTER = "pca-vs-superposition"

#: Densities 1 − S of the small geometry experiments (paper profile).
GEOMETRY_DENSITIES = (0.1, 0.03)

#: Densities of ``corr-hexagon`` and ``indep-hexagon`` (paper profile): sparser ones too.
HEXAGON_DENSITIES = (0.1, 0.03, 0.01, 0.003)

#: Seeds per density of the small geometry experiments (paper profile).
GEOMETRY_SEEDS = 8

#: Densities of ``collapse``: 16 values from 1 to 0.01, log-spaced.
COLLAPSE_DENSITIES = tuple(float(v) for v in np.geomspace(1.0, 0.01, 16))

#: Seeds per density of ``collapse`` (paper profile).
COLLAPSE_SEEDS = 6

#: Presence correlations c of the map: 12 values from 0 to 1.
MAP_CORRELATIONS = tuple(float(v) for v in np.linspace(0.0, 1.0, 12))

#: Densities of the map: 12 values from 1 to 0.01, log-spaced.
MAP_DENSITIES = tuple(float(v) for v in np.geomspace(1.0, 0.01, 12))

#: Seeds per cell of the map (paper profile).
MAP_SEEDS = 8

#: Seeds per cell of ``pair-map`` (paper profile).
PAIR_MAP_SEEDS = 6

#: The strategies of :func:`classify_strategy`.
STRATEGIES = ("linear", "collapsed", "mixture", "superposition")

#: Features per dimension ‖W‖_F²/m up to which a model counts as ``"linear"``.
PCA_FPD = 1.25

#: ‖W_i‖ above which a feature counts as represented (as in the other chapters).
NORM_THRESHOLD = 0.5

_NOTEBOOK = {"steps": 5_000, "batch_size": 512, "lr": 3e-3, "lr_schedule": "cosine"}
_LONG = {"steps": 10_000, "batch_size": 1024, "lr": 3e-3, "lr_schedule": "cosine"}
_SMOKE = {"steps": 1000, "batch_size": 256, "lr": 1e-2}
_BIG = {"steps": 4_000, "batch_size": 256, "lr": 3e-3, "lr_schedule": "cosine",
        "eval_samples": 1 << 16}
_BIG_SMOKE = {"steps": 300, "batch_size": 128, "lr": 1e-2, "eval_samples": 1 << 12}


def _geometry(n: int, m: int, data: str, set_size: int | None,
              densities=GEOMETRY_DENSITIES, training=None) -> dict:
    def spec(seeds: int, **training) -> ExperimentSpec:
        kw = {"set_size": set_size} if set_size else {}
        return ExperimentSpec(model="relu_output", n_features=n, n_hidden=m, data=data,
                              feature_probability=list(densities), restarts=seeds,
                              seed=0, **kw, **training)
    return {"paper": spec(GEOMETRY_SEEDS, **(training or _NOTEBOOK)),
            "smoke": spec(4, **_SMOKE)}


def _collapse(n: int = 8, training=None) -> dict:
    def spec(seeds: int, **training) -> ExperimentSpec:
        return ExperimentSpec(model="relu_output", n_features=n, n_hidden=2, data="correlated",
                              set_size=2, feature_probability=list(COLLAPSE_DENSITIES),
                              restarts=seeds, seed=0, **training)
    return {"paper": spec(COLLAPSE_SEEDS, **(training or _BIG)), "smoke": spec(2, **_BIG_SMOKE)}


def _map(every: int = 1, training=None, n: int = 8, seeds: int = MAP_SEEDS) -> dict:
    c, p = np.meshgrid(MAP_CORRELATIONS[::every], MAP_DENSITIES[::every], indexing="ij")

    def spec(seeds: int, **training) -> ExperimentSpec:
        return ExperimentSpec(model="relu_output", n_features=n, n_hidden=2, data="correlated",
                              set_size=2, feature_probability=[float(x) for x in p.ravel()],
                              correlation=[float(x) for x in c.ravel()], restarts=seeds,
                              seed=0, **training)
    return {"paper": spec(seeds, **(training or _BIG)), "smoke": spec(1, **_BIG_SMOKE)}


for _name, _desc, _profiles in (
        ("corr-pairs", "2 correlated pairs in 2 dims (members of a pair orthogonal)",
         _geometry(4, 2, "correlated", 2)),
        ("anticorr-pairs", "2 anticorrelated pairs in 2 dims (each pair antipodal)",
         _geometry(4, 2, "anticorrelated", 2)),
        ("corr-hexagon", "3 correlated pairs in 2 dims (a hexagon, pairs adjacent)",
         _geometry(6, 2, "correlated", 2, HEXAGON_DENSITIES, _LONG)),
        ("indep-hexagon", "6 independent features in 2 dims (contrast to corr-hexagon)",
         _geometry(6, 2, "sparse_uniform", None, HEXAGON_DENSITIES, _LONG)),
        ("corr-sets10", "2 correlated sets of 10 in 10 dims (within-set WᵀW ≈ identity)",
         _geometry(20, 10, "correlated", 10)),
        ("collapse", "4 correlated pairs in 2 dims, density 1-0.01: sets collapsed on their PC",
         _collapse()),
        ("pca-map", f"4 pairs in 2 dims: correlation 0-1 x density 1-0.01, 12 x 12, "
                    f"{MAP_SEEDS} seeds", _map()),
        ("collapse-n6", "collapse with the paper's 3 pairs (n = 6), trained as collapse",
         _collapse(6)),
        ("collapse-long", "collapse trained 10,000 steps of batch 1024 (length and batch control)",
         _collapse(8, _LONG)),
        ("pca-map-long", "every other cell of pca-map, trained 10,000 steps of batch 1024",
         _map(2, _LONG)),
        ("pair-map", "pca-map with 2 pairs (n = 4) and 6 seeds: the pair theory's setting",
         _map(n=4, seeds=PAIR_MAP_SEEDS))):
    register(Experiment(_name, CHAPTER, _desc, _profiles, best_of=False))


# ---------------------------------------------------------------------------------------------
# Analysis


def _pair_states(W, set_size: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(collapsed, represented-count) per set, shapes (..., sets)."""
    W = np.asarray(W, dtype=float)
    n = W.shape[-1]
    collapsed = pca.collapsed_sets(W, set_size)
    rep = (np.linalg.norm(W, axis=-2) > NORM_THRESHOLD).reshape(*W.shape[:-2], n // set_size,
                                                                  set_size).sum(-1)
    return collapsed, rep


def classify_strategy(W, set_size: int = 2) -> np.ndarray:
    """How each model uses its m dimensions (the rule in the module doc).

    Parameters
    ----------
    W : array_like, shape (..., m, n)
        Weights; features form sets of ``set_size`` consecutive features.
    set_size : int
        Features per correlated set.

    Returns
    -------
    numpy.ndarray of str, shape (...)
        One of :data:`STRATEGIES` per model.

    Examples
    --------
    >>> s = np.sqrt(0.5)
    >>> pca_W = [[s, s, 0, 0], [0, 0, s, s]]          # each pair on its own component
    >>> a = np.radians([0, 0, 90, 90, 180, 180, 270, 270])
    >>> square = [np.cos(a) * s, np.sin(a) * s]       # four collapsed pairs in two dimensions
    >>> sup_W = [[1, 0, -1, 0], [0, 1, 0, -1]]        # four features in two dimensions
    >>> mix_W = [[s, s, 1, 0, -s, -s], [0, 0, 0, 1, 0, 0]]   # collapsed, split, collapsed
    >>> [classify_strategy(W).item() for W in (pca_W, square, sup_W, mix_W)]
    ['linear', 'collapsed', 'superposition', 'mixture']
    """
    W = np.asarray(W, dtype=float)
    collapsed, rep = _pair_states(W, set_size)
    n_coll = collapsed.sum(-1)
    split = ((rep >= 2) & ~collapsed).sum(-1)
    fpd = metrics.features_per_dimension(W)
    return np.select(
        [fpd <= PCA_FPD, (n_coll >= 1) & (split == 0), n_coll >= 1],
        ["linear", "collapsed", "mixture"], "superposition")


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
        both = (na > NORM_THRESHOLD) & (nb > NORM_THRESHOLD)
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
        rep = g[g["norm"] > NORM_THRESHOLD].sort_values("angle")
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


def pc_cosines(W) -> np.ndarray:
    """For every collapsed pair: the cosine between how it is read and (a + b)/√2.

    A collapsed pair (:func:`~superposition_lib.analysis.pca.collapsed_sets`) has one hidden direction
    u = (W_a + W_b)/‖W_a + W_b‖; along it the model reads u·x = (u·W_a) a + (u·W_b) b. This is
    the pair's principal component (a + b)/√2 when the two weights are equal.

    Parameters
    ----------
    W : array_like, shape (..., m, n)
        Weights; features form consecutive pairs.

    Returns
    -------
    numpy.ndarray, shape (k,)
        cos((u·W_a, u·W_b), (1, 1)) for the k collapsed pairs of all models.

    Examples
    --------
    >>> np.round(pc_cosines([[0.7, 0.7, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]), 6)
    array([1.])
    >>> np.round(pc_cosines([[0.6, 0.3], [0.0, 0.0]]), 3)       # unequal weights
    array([0.949])
    """
    W = np.asarray(W, dtype=float)
    W = W.reshape(-1, *W.shape[-2:])
    out = []
    for k, s in zip(*np.nonzero(pca.collapsed_sets(W, 2))):
        a, b = W[k, :, 2 * s], W[k, :, 2 * s + 1]
        u = (a + b) / np.linalg.norm(a + b)
        read = np.array([u @ a, u @ b])
        out.append(read.sum() / np.sqrt(2) / np.linalg.norm(read))
    return np.array(out)


def _exchangeable(correlation, density) -> np.ndarray:
    """Where the members of a pair are indistinguishable from features of different pairs:
    c = 0, or p = 1 (every feature always present), so the pair's covariance c·p(1 − p)/4 is 0."""
    return (np.asarray(correlation) == 0) | (np.asarray(density) >= 1)


def _model_metrics(run: Run) -> pd.DataFrame:
    W = run.W.astype(float)
    cov = pca.spec_covariance(run.spec)[run.instance]
    m = W.shape[1]
    collapsed, rep = _pair_states(W)
    # the chance level: the same count with every a_i paired with the next pair's b
    n = W.shape[2]
    repaired = np.roll(np.arange(n).reshape(-1, 2), -1, axis=0)[:, 1]
    cross = np.stack([np.arange(0, n, 2), repaired], axis=1).ravel()
    chance = _pair_states(W[..., cross])[0] if n >= 4 else np.zeros_like(collapsed)
    lin = pca.linear_optimal_loss(cov, m=m)
    nosup = pca.no_superposition_loss(cov, m=m)
    corr = run.spec.correlation_array()[run.instance]
    align = pca.pca_alignment(W, cov, components=m)
    # where a pair's covariance c·p(1 − p)/4 vanishes every direction is principal (the
    # covariance is a multiple of the identity): the alignment is 1 by definition and says
    # nothing, so it is left out
    align = np.where(_exchangeable(corr, run.feature_probability[:, 0]), np.nan, align)
    return pd.DataFrame({
        "model": np.arange(len(W)), "cell": run.instance, "seed": run.restart,
        "correlation": corr, "density": run.feature_probability[:, 0],
        "loss": run.loss, "linear_optimal": lin, "no_superposition": nosup,
        "loss_vs_pca": run.loss / lin, "loss_vs_nosup": run.loss / nosup,
        "pca_alignment": align, "features_per_dim": metrics.features_per_dimension(W),
        "collapsed": collapsed.sum(-1), "collapsed_chance": chance.sum(-1),
        "split": ((rep >= 2) & ~collapsed).sum(-1),
        "represented": (np.linalg.norm(W, axis=1) > NORM_THRESHOLD).sum(-1),
        "strategy": classify_strategy(W)})


#: The collapse sweeps: the chapter's (n = 8), the paper's three pairs trained the same way,
#: and n = 8 trained longer with larger batches.
COLLAPSE_RUNS = ("collapse", "collapse-n6", "collapse-long")


def collapse_frame(profile: str | None = None, *, store: RunStore | None = None,
                   experiment: str = "collapse") -> pd.DataFrame:
    """A collapse sweep: one row per model, with its collapsed sets and strategy.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to the current profile.
    store : RunStore, optional
        Where runs are cached.
    experiment : str
        One of :data:`COLLAPSE_RUNS`.

    Returns
    -------
    pandas.DataFrame
        Columns of :func:`map_frame` (without the biases) plus ``best`` (the lowest-loss seed
        of its density).

    Examples
    --------
    >>> df = collapse_frame("smoke")
    >>> len(df), int(df["best"].sum())
    (32, 16)
    """
    if experiment not in COLLAPSE_RUNS:
        raise ValueError(f"experiment must be one of {', '.join(COLLAPSE_RUNS)}; "
                         f"got {experiment!r}")
    run = load(experiment, profile, store=store)
    df = _model_metrics(run)
    W = run.W.astype(float)
    for i in range(W.shape[2]):
        df[f"w{i}x"], df[f"w{i}y"] = W[:, 0, i], W[:, 1, i]
    df["best"] = False
    df.loc[run.best().models, "best"] = True
    return df


def collapse_comparison(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The collapse sweeps side by side: per sweep and density, how many pairs collapse.

    Parameters
    ----------
    frames : dict of str to pandas.DataFrame
        Sweep name -> :func:`collapse_frame`.

    Returns
    -------
    pandas.DataFrame
        One row per sweep and density: ``run``, ``pairs``, ``density``, ``seeds``, ``best``
        (collapsed pairs of the lowest-loss seed), ``share`` (mean share of pairs collapsed
        over seeds) with its 95% bootstrap interval over seeds ``share_low``, ``share_high``,
        and ``all`` (seeds that collapse every pair) with its Wilson interval ``all_low``,
        ``all_high``.

    Examples
    --------
    >>> f = pd.DataFrame({"density": [0.1] * 4, "seed": [0, 1, 2, 3],
    ...                   "collapsed": [3, 3, 2, 3], "best": [True, False, False, False]})
    >>> c = collapse_comparison({"collapse-n6": f})
    >>> c[["pairs", "best", "share", "all"]].values.tolist()
    [[3.0, 3.0, 0.9166666666666666, 0.75]]
    """
    rows = []
    for name, df in frames.items():
        pairs = int(get(name).spec("paper").n_features // 2)
        for density, g in df.groupby("density", sort=False):
            share = g["collapsed"].to_numpy(dtype=float) / pairs
            mean, low, high = stats.bootstrap_interval(share)
            full, full_low, full_high = stats.wilson_interval(
                int((g["collapsed"] == pairs).sum()), len(g))
            rows.append({"run": name, "pairs": pairs, "density": float(density),
                         "seeds": len(g), "best": int(g.loc[g["best"], "collapsed"].iloc[0]),
                         "share": mean, "share_low": low, "share_high": high, "all": full,
                         "all_low": full_low, "all_high": full_high})
    return pd.DataFrame(rows)


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
        ``"pca-map"`` or its control ``"pca-map-long"``.

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``cell``, ``seed``, ``correlation`` c, ``density`` p, ``loss``,
        ``linear_optimal`` (the PCA solution's exact loss), ``no_superposition``,
        ``loss_vs_pca`` and ``loss_vs_nosup`` (the ratios), ``pca_alignment`` (top-2 principal
        subspace; NaN at c = 0 and at p = 1, where every direction is principal), ``features_per_dim``
        ‖W‖_F²/m, ``collapsed`` (sets on their principal component), ``collapsed_chance``
        (the same count for the pairs (a_i, b_{i+1}) of features from different sets: the
        chance level), ``split``,
        ``represented``, ``strategy`` (:func:`classify_strategy`), and ``w0x``, ``w0y``, …,
        ``w7x``, ``w7y`` (the feature directions) and ``b0`` … ``b7``.

    Examples
    --------
    >>> df = map_frame("smoke")
    >>> len(df), df["correlation"].nunique(), df["density"].nunique()
    (144, 12, 12)
    """
    if experiment not in ("pca-map", "pca-map-long"):
        raise ValueError(f"experiment must be 'pca-map' or 'pca-map-long'; got {experiment!r}")
    run = load(experiment, profile, store=store)
    df = _model_metrics(run)
    W = run.W.astype(float)
    for i in range(W.shape[2]):
        df[f"w{i}x"], df[f"w{i}y"] = W[:, 0, i], W[:, 1, i]
        df[f"b{i}"] = run.b[:, i].astype(float)
    return df


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


def collapse_chance(models: pd.DataFrame) -> pd.DataFrame:
    """Collapsed pairs against their chance level.

    Where c = 0 or p = 1 the members of a pair are indistinguishable from two features of
    different pairs, so any "collapsed" pair there is a chance alignment of two directions
    within the threshold. Re-pairing a_i with b_{i+1} (``collapsed_chance`` of
    :func:`map_frame`) gives the count such chance produces, everywhere.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`map_frame` or :func:`collapse_frame` rows.

    Returns
    -------
    pandas.DataFrame
        One row per group present: ``"exchangeable"`` (c = 0 or p = 1), then ``"linear"`` and
        ``"beyond linear"`` (the other models, by whether their strategy is ``"linear"``):
        ``models``, and the mean ``collapsed`` and ``chance`` per model with 95% bootstrap
        intervals over models (``collapsed_low``, ``collapsed_high``, ``chance_low``,
        ``chance_high``).

    Examples
    --------
    >>> m = pd.DataFrame({"strategy": ["linear", "linear", "mixture", "collapsed"],
    ...                   "correlation": [0.0, 1.0, 0.0, 1.0], "density": 0.5,
    ...                   "collapsed": [2, 4, 1, 4], "collapsed_chance": [1, 0, 1, 0]})
    >>> collapse_chance(m)[["group", "models", "collapsed", "chance"]].values.tolist()
    [['exchangeable', 2, 1.5, 1.0], ['linear', 1, 4.0, 0.0], ['beyond linear', 1, 4.0, 0.0]]
    """
    same = _exchangeable(models["correlation"], models["density"])
    linear = models["strategy"] == "linear"
    groups = {"exchangeable": same, "linear": ~same & linear, "beyond linear": ~same & ~linear}
    rows = []
    for name, mask in groups.items():
        if not mask.any():
            continue
        row = {"group": name, "models": int(mask.sum())}
        for col, key in (("collapsed", "collapsed"), ("collapsed_chance", "chance")):
            row[key], row[f"{key}_low"], row[f"{key}_high"] = stats.bootstrap_interval(
                models.loc[mask, col].to_numpy(dtype=float))
        rows.append(row)
    return pd.DataFrame(rows)


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
        :data:`NORM_THRESHOLD`) and every two of them are more than 104.5° apart (cosine
        below −0.25); with all four represented, the geometry both couples share under
        :func:`pair_frame`'s thresholds (``"orthogonal"``, ``"antipodal"``,
        ``"collapsed"``; ``"orthogonal"`` also needs each member of a couple antipodal to a
        member of the other, cosine below −0.95); else ``"other"``. The angle between the
        two couples of a collapsed or antipodal arrangement is not checked (the theory puts
        them at 90°).

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
    represented = norm > NORM_THRESHOLD
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
        (i, j), (k, l) = pairing
        if shapes == {"orthogonal"} and max(min(cos[u, k], cos[u, l]) for u in (i, j)) > -0.95:
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
        ``theory`` (:func:`~superposition_lib.analysis.pair_theory.pair_losses`; orthogonal at c = 0,
        where it ties with antipodal), its loss ``theory_loss`` and ``margin`` (the next
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
        its :func:`~superposition_lib.analysis.stats.vote_range`), ``models`` (share of their models that
        agree, Wilson) and ``by_theory`` (theory arrangement -> (cells, share whose
        lowest-loss seed agrees)); over all cells: ``arrangements`` (arrangement -> models)
        and ``ratio``, a frame indexed by cell with ``density``, ``correlation``, ``theory``,
        the ``arrangement`` of the cell's lowest-loss seed and ``ratio``, its exact loss over
        the theory's.

    Examples
    --------
    >>> models = pd.DataFrame({"cell": [0, 0, 1, 1], "density": 0.1, "correlation": 0.5,
    ...     "exact_loss": [1.0, 2.0, 0.99, 2.0],
    ...     "arrangement": ["orthogonal", "other", "collapsed", "collapsed"],
    ...     "theory": ["orthogonal", "orthogonal", "collapsed", "collapsed"],
    ...     "theory_loss": [1.0, 1.0, 1.0, 1.0], "decided": True,
    ...     "agrees": [True, False, True, True]})
    >>> f = pair_map_findings(models)
    >>> f["best"][0], f["by_theory"], f["ratio"]["ratio"].tolist()
    (1.0, {'collapsed': (1, 1.0), 'orthogonal': (1, 1.0)}, [1.0, 0.99])
    """
    seeds = models.groupby("cell").size()
    if seeds.nunique() != 1:
        raise ValueError(f"models: every cell needs as many seeds; got {sorted(seeds.unique())}")
    lowest = models.loc[models.groupby("cell")["exact_loss"].idxmin()].set_index("cell")
    ratio = lowest[["density", "correlation", "theory", "arrangement"]].assign(
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
        "by_theory": {str(t): (len(g), float(g["agrees"].mean()))
                      for t, g in best.groupby("theory")},
        "arrangements": {str(k): int(v) for k, v in
                         models["arrangement"].value_counts().items()},
        "ratio": ratio,
    }


def theory_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """Map cells with the two-pair theory's cheapest arrangement at their (p, c).

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`map_cells` rows (or any frame with ``density`` and ``correlation``).

    Returns
    -------
    pandas.DataFrame
        A copy with ``theory``: :func:`~superposition_lib.analysis.pair_theory.pair_losses`' ``best``.

    Examples
    --------
    >>> cells = pd.DataFrame({"density": [0.9, 0.01], "correlation": [0.5, 0.5]})
    >>> theory_cells(cells)["theory"].tolist()
    ['collapsed', 'orthogonal']
    """
    best = pair_theory.pair_losses(cells["density"], cells["correlation"])["best"]
    return cells.assign(theory=best.to_numpy())


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
        and its count is chance, see :func:`collapse_chance`),
        ``linear_optimal``, ``no_superposition``, ``strategy`` (majority of the seeds; ties to
        the lower mean loss), ``share`` (its fraction of seeds), ``best_seed`` and
        ``best_strategy`` (the lowest-loss seed and its strategy).

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
    vote = seed_vote(models, "strategy")
    g = models.groupby("cell")
    cells = g[["correlation", "density", "linear_optimal", "no_superposition"]].first()
    cols = ["pca_alignment", "features_per_dim", "loss_vs_pca", "loss_vs_nosup"]
    cells[cols] = g[cols].mean()
    # where pairs are exchangeable with non-partners a "collapsed" pair is chance alignment
    # (collapse_chance), so its count is left out, as the alignment is
    cells["collapsed"] = g["collapsed"].mean().where(
        ~_exchangeable(cells["correlation"], cells["density"]))
    cells[["strategy", "share"]] = vote[["strategy", "share"]]
    cells["best_seed"] = models.loc[vote["best_row"], "seed"].to_numpy()
    cells["best_strategy"] = vote["best_strategy"]
    return cells.reset_index()


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


#: Bootstrap draws of :func:`region_intervals`.
REGION_DRAWS = 1000

#: The quantities of :func:`region_intervals`: (name, key of :func:`region_numbers`, index
#: into a (min, max) pair or None).
_REGION_QUANTITIES = (
    ("linear_all_above", "linear_all_above", None),
    ("collapsed_min_correlation", "collapsed_min_correlation", None),
    ("collapsed_sparsest", "collapsed_densities", 0),
    ("collapsed_densest", "collapsed_densities", 1),
    ("superposition_max_correlation", "superposition_max_correlation", None),
    ("superposition_sparsest", "superposition_densities", 0),
    ("superposition_densest", "superposition_densities", 1),
    ("mixture_max_density", "mixture_max_density", None),
    ("mixture_all_below", "mixture_all_below", None),
)


def region_intervals(models: pd.DataFrame, draws: int = REGION_DRAWS, seed: int = 0
                     ) -> pd.DataFrame:
    """Bootstrap intervals over seeds on every region boundary of the map.

    Each draw resamples every cell's seeds with replacement, takes the majority strategy
    (ties to the lower mean loss, as :func:`map_cells`) and measures the regions again
    (:func:`region_numbers`). The intervals show how far the boundaries move between sets of
    seeds like these, not an exact 95% coverage: a cell whose seeds all agree never changes
    under resampling although fresh seeds could split it, and a split cell flips more often
    under resampling than with fresh seeds.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`map_frame` rows (``cell``, ``density``, ``correlation``, ``loss``,
        ``strategy``), the same number of seeds in every cell.
    draws : int
        Bootstrap draws.
    seed : int
        Seed of the resampling.

    Returns
    -------
    pandas.DataFrame
        Indexed by quantity (``linear_all_above``, ``collapsed_min_correlation``,
        ``collapsed_sparsest``, ``collapsed_densest``, ``superposition_max_correlation``,
        ``superposition_sparsest``, ``superposition_densest``, ``mixture_max_density``,
        ``mixture_all_below``):
        ``value`` (from all seeds), ``low`` and ``high`` (the 2.5% and 97.5% quantiles of the
        draws in which the boundary exists, grid values), ``steps`` (grid steps from ``low``
        to ``high``, along density or correlation) and ``missing`` (share of draws in which it
        does not, e.g. no cell of the region).

    Examples
    --------
    >>> models = pd.DataFrame({"cell": [0, 0, 1, 1], "seed": [0, 1, 0, 1],
    ...     "density": [1.0, 1.0, 0.1, 0.1], "correlation": 1.0, "loss": [1.0, 2.0, 1.0, 2.0],
    ...     "strategy": ["linear", "linear", "collapsed", "linear"]})
    >>> r = region_intervals(models, draws=200)   # cell 1 ties: collapsed has the lower loss
    >>> r.loc["linear_all_above", ["value", "low", "high", "steps"]].tolist()
    [1.0, 0.1, 1.0, 1.0]
    """
    models = models.sort_values(["cell", "seed"])
    seeds = models.groupby("cell").size()
    if seeds.nunique() != 1:
        raise ValueError(f"models: every cell needs as many seeds; got {sorted(seeds.unique())}")
    k = int(seeds.iloc[0])
    codes = pd.Categorical(models["strategy"], categories=STRATEGIES).codes
    if (codes < 0).any():
        raise ValueError(f"strategy: values must be in {STRATEGIES}")
    S, L = codes.reshape(-1, k), models["loss"].to_numpy(dtype=float).reshape(-1, k)
    cells = models.groupby("cell")[["density", "correlation"]].first().reset_index(drop=True)
    rng = np.random.default_rng(seed)

    def measure(strategy_codes) -> list:
        numbers = region_numbers(cells.assign(strategy=np.asarray(STRATEGIES)[strategy_codes]))
        return [numbers[key] if i is None else numbers[key][i]
                for _, key, i in _REGION_QUANTITIES]

    def majority(s, loss):
        hit = s[..., None] == np.arange(len(STRATEGIES))                 # (cells, k, 4)
        count = hit.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count > 0, (hit * loss[..., None]).sum(1) / count, np.inf)
        return np.where(count == count.max(1, keepdims=True), mean, np.inf).argmin(1)

    value = measure(majority(S, L))
    samples = []
    rows = np.arange(len(S))[:, None]
    for _ in range(draws):
        pick = rng.integers(0, k, S.shape)
        samples.append(measure(majority(S[rows, pick], L[rows, pick])))
    samples = np.array(samples, dtype=float)
    out = pd.DataFrame({"value": value}, index=[q for q, _, _ in _REGION_QUANTITIES])
    for col, qs in (("low", 0.025), ("high", 0.975)):
        out[col] = [np.nanquantile(x, qs, method="inverted_cdf") if np.isfinite(x).any()
                    else np.nan for x in samples.T]
    grids = {axis: np.sort(cells[axis].unique()) for axis in ("density", "correlation")}
    out["steps"] = [np.searchsorted(grid, hi) - np.searchsorted(grid, lo)
                    if np.isfinite(lo) else np.nan for (lo, hi), grid in zip(
                        out[["low", "high"]].to_numpy(),
                        (grids["correlation" if "correlation" in q else "density"]
                         for q in out.index))]
    out["missing"] = np.isnan(samples).mean(0)
    return out


def findings(cells: pd.DataFrame, models: pd.DataFrame, collapse: pd.DataFrame) -> dict:
    """The numbers the chapter states about collapse and the trade-off map.

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`map_cells` rows.
    models : pandas.DataFrame
        :func:`map_frame` rows.
    collapse : pandas.DataFrame
        :func:`collapse_frame` rows.

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
