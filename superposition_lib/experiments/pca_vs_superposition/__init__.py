"""Experiments of the chapter "PCA versus superposition" (``chapters/pca-vs-superposition.qmd``).

The package re-exports every public name of its modules, one per job:

:mod:`~superposition_lib.experiments.pca_vs_superposition.specs`
    The chapter's experiments and their specs for both profiles, registered on import.
:mod:`~superposition_lib.experiments.pca_vs_superposition.strategy`
    How a model of correlated pairs uses its dimensions (linear, collapsed, mixture,
    superposition), and the per-model measurements of the collapse sweeps and the map.
:mod:`~superposition_lib.experiments.pca_vs_superposition.geometry`
    The correlated-feature geometries: pairs, hexagons, sets of ten and their WᵀW.
:mod:`~superposition_lib.experiments.pca_vs_superposition.collapse`
    The collapse sweeps: collapsed pairs by density, across sweeps and against chance.
:mod:`~superposition_lib.experiments.pca_vs_superposition.tradeoff`
    The trade-off map over correlation and density: its cells and regions, its training
    control, and the numbers the chapter states.
:mod:`~superposition_lib.experiments.pca_vs_superposition.strategy_fit`
    A fitted model of the strategy over the map, P(strategy | density, correlation), with
    bootstrap intervals and the confidence band of its boundaries.
:mod:`~superposition_lib.experiments.pca_vs_superposition.pair_map`
    The two-pair theory's collapse boundary, and ``pair-map`` next to the theory.

The chapter's figures, drawn from these frames, are in
:mod:`superposition_lib.book.pca_vs_superposition`.

Examples
--------
>>> from superposition_lib.experiments import pca_vs_superposition as pt
>>> pt.CHAPTER, pt.map_cells.__module__
('pca-vs-superposition', 'superposition_lib.experiments.pca_vs_superposition.tradeoff')
"""

from __future__ import annotations

from .collapse import (
    COLLAPSE_RUNS,
    collapse_chance,
    collapse_comparison,
    collapse_frame,
)
from .geometry import (
    direction_frame,
    geometry_findings,
    gram_frame,
    hexagon_frame,
    pair_frame,
    sets_frame,
)
from .pair_map import (
    DECIDED_MARGIN,
    pair_arrangement,
    pair_map_findings,
    pair_map_frame,
    theory_boundary,
    theory_cells,
    theory_findings,
)
from .specs import (
    CHAPTER,
    COLLAPSE_DENSITIES,
    COLLAPSE_SEEDS,
    FINE_CORRELATIONS,
    FINE_DENSITIES,
    FINE_SEEDS,
    GEOMETRY_DENSITIES,
    GEOMETRY_SEEDS,
    HEXAGON_DENSITIES,
    MAP_CORRELATIONS,
    MAP_DENSITIES,
    MAP_SEEDS,
    PAIR_MAP_SEEDS,
)
from .strategy import (
    PCA_FPD,
    STRATEGIES,
    classify_strategy,
    pc_cosines,
)
from .strategy_fit import (
    BAND_LEVEL,
    FIT_REFITS,
    FIT_ROWS,
    FIT_RUNS,
    FIT_STRATEGIES,
    TERMS,
    StrategyFit,
    design,
    fit_findings,
    fit_strategy,
    fitted_edges,
    map_fit,
    strategy_surface,
)
from .tradeoff import (
    MAP_RUNS,
    boundary_frame,
    findings,
    map_cells,
    map_control,
    map_frame,
    region_numbers,
)

__all__ = [
    "BAND_LEVEL",
    "CHAPTER",
    "COLLAPSE_DENSITIES",
    "COLLAPSE_RUNS",
    "COLLAPSE_SEEDS",
    "DECIDED_MARGIN",
    "FINE_CORRELATIONS",
    "FINE_DENSITIES",
    "FINE_SEEDS",
    "FIT_REFITS",
    "FIT_ROWS",
    "FIT_RUNS",
    "FIT_STRATEGIES",
    "GEOMETRY_DENSITIES",
    "GEOMETRY_SEEDS",
    "HEXAGON_DENSITIES",
    "MAP_CORRELATIONS",
    "MAP_DENSITIES",
    "MAP_RUNS",
    "MAP_SEEDS",
    "PAIR_MAP_SEEDS",
    "PCA_FPD",
    "STRATEGIES",
    "StrategyFit",
    "TERMS",
    "boundary_frame",
    "classify_strategy",
    "collapse_chance",
    "collapse_comparison",
    "collapse_frame",
    "design",
    "direction_frame",
    "findings",
    "fit_findings",
    "fit_strategy",
    "fitted_edges",
    "geometry_findings",
    "gram_frame",
    "hexagon_frame",
    "map_cells",
    "map_control",
    "map_fit",
    "map_frame",
    "pair_arrangement",
    "pair_frame",
    "pair_map_findings",
    "pair_map_frame",
    "pc_cosines",
    "region_numbers",
    "sets_frame",
    "strategy_surface",
    "theory_boundary",
    "theory_cells",
    "theory_findings",
]
