"""The chapter's experiments, with their specs for both profiles, registered on import.

The experiments of the chapter "PCA versus superposition" (``chapters/pca-vs-superposition.qmd``),
registered in this order when the module is imported.

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
    setting of :mod:`~superposition_lib.analysis.pair_theory`, whose cheapest arrangement every
    cell is compared with.
``pca-map-long``
    Every other correlation and density of ``pca-map`` (6 × 6 cells, as many seeds) trained 10,000
    steps of batch 1024: the map's control for training length and batch size.
``pca-map-fine``
    The map's boundaries on a finer grid: :data:`FINE_CORRELATIONS` (23 values, twice the map's
    resolution) × :data:`FINE_DENSITIES` (31 values from 0.66 to 0.01, three times the map's
    resolution), :data:`FINE_SEEDS` seeds per cell, trained as ``pca-map``. The densities stop at
    the map's first all-linear column: every boundary of the map lies below it. The fitted model
    of the strategy (:mod:`~superposition_lib.experiments.pca_vs_superposition.strategy_fit`)
    is fitted to these models and the map's.

Training: correlated data trains on the general (not the fused) path, so to fit the book's
training budget (about 10 minutes for the chapter on two cores) the small geometry experiments
train 5,000 steps of batch 512 (the hexagons 10,000 of batch 1024) and the 8-feature runs
(``collapse``, ``pca-map``) 4,000 steps of batch 256, all with AdamW at a peak learning rate of
3e-3 decayed to 0 by a cosine (instead of the notebook's 10,000 steps of batch 1024 at a
constant 1e-3). ``smoke`` profiles keep every grid (n, m and densities) with one to four seeds
and a few hundred to a thousand steps.

Examples
--------
>>> from superposition_lib import experiments
>>> experiments.get("pca-map").spec("paper").restarts == MAP_SEEDS
True
"""

from __future__ import annotations

import numpy as np

from ...core.config import ExperimentSpec
from ..registry import Experiment, register

__all__ = [
    "CHAPTER",
    "COLLAPSE_DENSITIES",
    "COLLAPSE_SEEDS",
    "GEOMETRY_DENSITIES",
    "GEOMETRY_SEEDS",
    "HEXAGON_DENSITIES",
    "MAP_CORRELATIONS",
    "MAP_DENSITIES",
    "MAP_SEEDS",
    "PAIR_MAP_SEEDS",
    "FINE_CORRELATIONS",
    "FINE_DENSITIES",
    "FINE_SEEDS",
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

#: Correlations of ``pca-map-fine``: 23 values from 0 to 1 (every map correlation and the
#: midpoints between them).
FINE_CORRELATIONS = tuple(float(v) for v in np.linspace(0.0, 1.0, 23))

#: Densities of ``pca-map-fine``: the 31 values of a log grid three times as fine as the map's
#: from its density 0.66 down to 0.01 (every map density in that range among them).
FINE_DENSITIES = tuple(float(v) for v in np.geomspace(1.0, 0.01, 34)[3:])

#: Seeds per cell of ``pca-map-fine`` (paper profile).
FINE_SEEDS = 4

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


def _map(every: int = 1, training=None, n: int = 8, seeds: int = MAP_SEEDS,
         correlations=MAP_CORRELATIONS, densities=MAP_DENSITIES, seed: int = 0) -> dict:
    c, p = np.meshgrid(correlations[::every], densities[::every], indexing="ij")

    def spec(seeds: int, **training) -> ExperimentSpec:
        return ExperimentSpec(model="relu_output", n_features=n, n_hidden=2, data="correlated",
                              set_size=2, feature_probability=[float(x) for x in p.ravel()],
                              correlation=[float(x) for x in c.ravel()], restarts=seeds,
                              seed=seed, **training)
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
         _map(n=4, seeds=PAIR_MAP_SEEDS)),
        ("pca-map-fine", f"pca-map's boundaries on a finer grid: 23 correlations x 31 densities "
                         f"0.66-0.01, {FINE_SEEDS} seeds", _map(
                             seeds=FINE_SEEDS, correlations=FINE_CORRELATIONS,
                             densities=FINE_DENSITIES, seed=1))):
    register(Experiment(_name, CHAPTER, _desc, _profiles, best_of=False))
