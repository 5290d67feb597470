"""Experiments of the chapter "Learning dynamics" (``chapters/learning-dynamics.qmd``).

The package re-exports every public name of its modules, one per job:

:mod:`~superposition_lib.experiments.learning_dynamics.specs`
    The chapter's experiments and their specs for both profiles, registered on import.
:mod:`~superposition_lib.experiments.learning_dynamics.energy`
    Energy levels of one run (``energy-levels``): jumps, per-model summaries, features per
    dimension over training, and the numbers the chapter states.
:mod:`~superposition_lib.experiments.learning_dynamics.scale`
    Energy levels across model sizes (n = 20, 100 and 400): the paper-style figure's tables,
    the detector's tolerance, and where the jumps after the initial split go.
:mod:`~superposition_lib.experiments.learning_dynamics.sizes`
    Energy levels measured fairly: three sizes at the same densities, the loss in jump windows
    against the whole decrease and against two nulls, the search for the paper's swap, and the
    late digon.
:mod:`~superposition_lib.experiments.learning_dynamics.search`
    The documented search for the paper's energy-level picture.
:mod:`~superposition_lib.experiments.learning_dynamics.stages`
    The geometric stages of the n = 6, m = 3 model with two correlated sets.

The chapter's figures, drawn from these frames, are in
:mod:`superposition_lib.book.learning_dynamics`.

Examples
--------
>>> from superposition_lib.experiments import learning_dynamics as ld
>>> ld.CHAPTER, ld.energy_frames.__module__
('learning-dynamics', 'superposition_lib.experiments.learning_dynamics.energy')
"""

from __future__ import annotations

from .energy import (
    SETTLE_TOL,
    density_frame,
    energy_findings,
    energy_frames,
    exemplar,
    jump_frame,
    level_name,
    model_frame,
    superposition_frame,
    superposition_onset,
    trajectory_frame,
)
from .scale import (
    SCALE_RUNS,
    TOLERANCES,
    jump_directions,
    jumps_after_split,
    late_digon_jumps,
    scale_frames,
    scale_results,
    tolerance_frame,
    transition_counts,
)
from .search import (
    SEARCH_CONTRAST,
    SETTING_COLUMNS,
    search_design,
    search_findings,
    search_frame,
    search_frames,
)
from .sizes import (
    DROP_HALF_WIDTH,
    LATE_STEP,
    NULL_DRAWS,
    SIZE_QUANTITIES,
    SIZE_RUNS,
    SWAP_RUNS,
    event_frame,
    size_model_frame,
    size_results,
    size_statistics,
    visit_frame,
)
from .specs import (
    CHAPTER,
    ENERGY_DENSITIES,
    ENERGY_SEEDS,
    SCALE,
    SCALE_DENSITIES,
    SCALE_SEEDS,
    SEARCH,
    SEARCH_DENSITIES,
    SEARCH_SEEDS,
    SIZE_DENSITIES,
    SIZE_SEEDS,
    SIZES,
    STAGE_DENSITIES,
    STAGE_INIT_DENSITIES,
    STAGE_INIT_SCALES,
    STAGE_INIT_SEEDS,
    STAGE_SEEDS,
    SWAP,
    SWAP_DENSITY,
    SWAP_SEEDS,
)
from .stages import (
    PATH_STAGES,
    path_frame,
    path_shares,
    stage_findings,
    stage_frame,
    stage_frames,
    stage_geometry_frame,
    stage_init_results,
)

__all__ = [
    "CHAPTER",
    "DROP_HALF_WIDTH",
    "ENERGY_DENSITIES",
    "ENERGY_SEEDS",
    "LATE_STEP",
    "NULL_DRAWS",
    "PATH_STAGES",
    "SCALE",
    "SCALE_DENSITIES",
    "SCALE_RUNS",
    "SCALE_SEEDS",
    "SEARCH",
    "SEARCH_CONTRAST",
    "SEARCH_DENSITIES",
    "SEARCH_SEEDS",
    "SETTING_COLUMNS",
    "SETTLE_TOL",
    "SIZES",
    "SIZE_DENSITIES",
    "SIZE_QUANTITIES",
    "SIZE_RUNS",
    "SIZE_SEEDS",
    "STAGE_DENSITIES",
    "STAGE_INIT_DENSITIES",
    "STAGE_INIT_SCALES",
    "STAGE_INIT_SEEDS",
    "STAGE_SEEDS",
    "SWAP",
    "SWAP_DENSITY",
    "SWAP_RUNS",
    "SWAP_SEEDS",
    "TOLERANCES",
    "density_frame",
    "energy_findings",
    "energy_frames",
    "event_frame",
    "exemplar",
    "jump_directions",
    "jump_frame",
    "jumps_after_split",
    "late_digon_jumps",
    "level_name",
    "model_frame",
    "path_frame",
    "path_shares",
    "scale_frames",
    "scale_results",
    "search_design",
    "search_findings",
    "search_frame",
    "search_frames",
    "size_model_frame",
    "size_results",
    "size_statistics",
    "stage_findings",
    "stage_frame",
    "stage_frames",
    "stage_geometry_frame",
    "stage_init_results",
    "superposition_frame",
    "superposition_onset",
    "tolerance_frame",
    "trajectory_frame",
    "transition_counts",
    "visit_frame",
]
