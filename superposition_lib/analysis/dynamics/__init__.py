"""Learning dynamics: energy-level jumps and geometric stages over training snapshots.

Elhage et al. (2022, section "Superposition and learning dynamics") describe two phenomena,
which this package detects in the snapshots a run records (``ExperimentSpec.snapshot_log``,
:class:`~superposition_lib.core.run.Snapshots`). It re-exports every public name of its
modules, one per job:

:mod:`~superposition_lib.analysis.dynamics.levels`
    The dimensionality levels a feature sits on over training (with hysteresis), the plateaus
    on them, and every feature's norm, dimensionality and level at every snapshot.
:mod:`~superposition_lib.analysis.dynamics.jumps`
    Energy-level jumps between plateaus, the end of the initial split, and the share of the
    loss decrease that happens inside jump windows.
:mod:`~superposition_lib.analysis.dynamics.nulls`
    What windows of the jump windows' lengths carry of the loss decrease when placed at random
    or where features move fastest without a jump: the nulls of the loss share.
:mod:`~superposition_lib.analysis.dynamics.transients`
    Passages through the transient level 1/√2 (the paper's digon → 1/√2 → digon swap) and
    the snapshots at which new digons form.
:mod:`~superposition_lib.analysis.dynamics.stages`
    The geometric stages of the n = 6, m = 3 model with two correlated sets: measurements,
    classification and the path of stages a model takes.

Shapes: D has shape (snapshots, n); steps (snapshots,); W (..., m, n) as everywhere in the
library (:mod:`superposition_lib.core.metrics`).

Examples
--------
>>> from superposition_lib.analysis import dynamics
>>> dynamics.energy_level_jumps.__module__
'superposition_lib.analysis.dynamics.jumps'
"""

from __future__ import annotations

from .jumps import energy_level_jumps, jump_loss_fraction, merged_windows, split_step
from .levels import (
    INITIAL_MOVE,
    LEVELS,
    TRANSIENT_LEVELS,
    assign_levels,
    feature_trajectories,
    plateaus,
    track_levels,
)
from .nulls import motion_window_share, random_window_share
from .stages import (
    SETS,
    STAGES,
    StageThresholds,
    classify_stages,
    stage_measurements,
    stage_trajectory,
)
from .transients import (
    ARRIVAL_WINDOW,
    TRANSIENT_LEVEL,
    digon_formations,
    level_visits,
)

__all__ = [
    "ARRIVAL_WINDOW",
    "LEVELS",
    "SETS",
    "STAGES",
    "StageThresholds",
    "TRANSIENT_LEVEL",
    "TRANSIENT_LEVELS",
    "assign_levels",
    "classify_stages",
    "digon_formations",
    "energy_level_jumps",
    "feature_trajectories",
    "jump_loss_fraction",
    "level_visits",
    "merged_windows",
    "motion_window_share",
    "plateaus",
    "random_window_share",
    "split_step",
    "stage_measurements",
    "stage_trajectory",
    "track_levels",
    "INITIAL_MOVE",
]
