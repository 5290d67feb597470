"""Figures of the chapter "Learning dynamics" (``chapters/learning-dynamics.qmd``).

The package re-exports every public name of its modules, one per job:

:mod:`~superposition_lib.figures.learning_dynamics.energy`
    Energy levels: feature dimensionalities and the loss over training with their jumps, jump
    statistics over seeds, densities and model sizes, the energy-level search, and features per
    dimension over training.
:mod:`~superposition_lib.figures.learning_dynamics.stages`
    The geometric stages of the n = 6, m = 3 model: one model explored snapshot by snapshot,
    the paths of stages the models take, and how often a path visits a stage.

The chapter's frames are made by :mod:`superposition_lib.experiments.learning_dynamics`, and
joined to these charts by :mod:`superposition_lib.book.learning_dynamics`.

Examples
--------
>>> from superposition_lib.figures import learning_dynamics as fig
>>> fig.jump_chart.__module__
'superposition_lib.figures.learning_dynamics.energy'
"""

from __future__ import annotations

from .energy import (
    SEARCH_METRICS,
    SHARE_PANELS,
    energy_level_chart,
    jump_chart,
    jump_statistics,
    search_chart,
    size_shares_chart,
    superposition_over_training,
)
from .stages import (
    path_share_chart,
    stage_explorer,
    stage_paths,
)

__all__ = [
    "SEARCH_METRICS",
    "SHARE_PANELS",
    "energy_level_chart",
    "jump_chart",
    "jump_statistics",
    "path_share_chart",
    "search_chart",
    "size_shares_chart",
    "stage_explorer",
    "stage_paths",
    "superposition_over_training",
]
