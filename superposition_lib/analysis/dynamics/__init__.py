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

from .jumps import energy_level_jumps, jump_loss_fraction, split_step
from .levels import (
    INITIAL_MOVE,
    LEVELS,
    assign_levels,
    feature_trajectories,
    plateaus,
    track_levels,
)
from .stages import (
    SETS,
    STAGES,
    StageThresholds,
    classify_stages,
    stage_measurements,
    stage_trajectory,
)

__all__ = [
    "LEVELS",
    "SETS",
    "STAGES",
    "StageThresholds",
    "assign_levels",
    "classify_stages",
    "energy_level_jumps",
    "feature_trajectories",
    "jump_loss_fraction",
    "plateaus",
    "split_step",
    "stage_measurements",
    "stage_trajectory",
    "track_levels",
    "INITIAL_MOVE",
]
