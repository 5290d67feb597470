"""Experiments of the chapter "Superposition as a phase change" (``chapters/phase-change.qmd``).

The package re-exports every public name of its modules, one per job:

:mod:`~superposition_lib.experiments.phase_change.specs`
    The chapter's experiments and their specs for both profiles, registered on import.
:mod:`~superposition_lib.experiments.phase_change.diagram`
    The n = 2 grid: how each model represents the extra feature, its models and cells next to
    the theory, and the theory's phase diagram and boundaries on any grid.
:mod:`~superposition_lib.experiments.phase_change.agreement`
    How far the trained n = 2 grid agrees with the theory (the numbers the chapter states), and
    which seeds get stuck with one feature.
:mod:`~superposition_lib.experiments.phase_change.n3`
    The n = 3, m = 2 diagram: its candidates, the trained ``phase-change-n3`` grid next to the
    theory, and the numbers the chapter states about both.

The chapter's figures, drawn from these frames, are in
:mod:`superposition_lib.book.phase_change`.

Examples
--------
>>> from superposition_lib.experiments import phase_change as pc
>>> pc.CHAPTER, pc.n3_frames.__module__
('phase-change', 'superposition_lib.experiments.phase_change.n3')
"""

from __future__ import annotations

from .agreement import (
    findings,
    stuck_summary,
)
from .diagram import (
    CLASSES,
    cell_frame,
    classify,
    model_frame,
    phase_frames,
    theory_boundaries,
    theory_frame,
)
from .n3 import (
    N3_TOLERANCE,
    classify_n3,
    n3_findings,
    n3_frames,
    n3_trained_findings,
    paired_losses,
)
from .specs import (
    CHAPTER,
    DENSITIES,
    GRIDS,
    N3_DENSITIES,
    N3_IMPORTANCES,
    RELATIVE_IMPORTANCES,
    SEEDS,
    SMALL_INIT_SCALE,
)

__all__ = [
    "CHAPTER",
    "CLASSES",
    "DENSITIES",
    "GRIDS",
    "N3_DENSITIES",
    "N3_IMPORTANCES",
    "N3_TOLERANCE",
    "RELATIVE_IMPORTANCES",
    "SEEDS",
    "SMALL_INIT_SCALE",
    "cell_frame",
    "classify",
    "classify_n3",
    "findings",
    "model_frame",
    "n3_findings",
    "n3_frames",
    "n3_trained_findings",
    "paired_losses",
    "phase_frames",
    "stuck_summary",
    "theory_boundaries",
    "theory_frame",
]
