"""The figures of the chapter "Superposition as a phase change" (``chapters/phase-change.qmd``).

Every ``figure_*`` function here builds one figure of the chapter: it asks
:mod:`~superposition_lib.experiments.phase_change` for the tidy frames and draws them with
:mod:`~superposition_lib.figures.phase_change`, returning ``(chart, data)`` or
``(chart, data, static)`` (see :func:`~superposition_lib.book.chapter_figures`).
Each registers itself under its figure's label (:func:`~superposition_lib.book.registry.figure`).

Examples
--------
>>> from superposition_lib.book.registry import builders
>>> sorted(builders(CHAPTER))
['fig-phase-n2', 'fig-phase-n3']
"""

from __future__ import annotations

import numpy as np

from .. import figures
from ..core.store import RunStore
from ..experiments.phase_change import (
    CHAPTER,
    n3_frames,
    phase_frames,
    theory_boundaries,
    theory_frame,
)
from .registry import figure

__all__ = ["CHAPTER", "figure_phase_n2", "figure_phase_n3"]


def _fine_densities() -> np.ndarray:
    return np.geomspace(0.01, 1.0, 400)


@figure(CHAPTER, "fig-phase-n2")
def figure_phase_n2(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-phase-n2``: (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_phase_n2("smoke")
    >>> sorted(data)
    ['boundaries', 'cells', 'models']
    """
    models, cells = phase_frames(profile, store=store)
    boundaries = theory_boundaries(_fine_densities())
    return (figures.phase_diagram(cells, models, boundaries),
            {"cells": cells, "models": models, "boundaries": boundaries})


@figure(CHAPTER, "fig-phase-n3")
def figure_phase_n3(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-phase-n3``: the theory on a 60 × 60 grid and the trained
    ``phase-change-n3`` models, (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_phase_n3("smoke")
    >>> sorted(data)
    ['boundaries', 'cells', 'theory']
    """
    grid = theory_frame(np.geomspace(0.1, 10.0, 60), np.geomspace(1.0, 0.01, 60), n_features=3)
    boundaries = theory_boundaries(_fine_densities(), n_features=3)
    _, cells = n3_frames(profile, store=store)
    return (figures.candidate_diagram(grid, boundaries, cells),
            {"theory": grid, "boundaries": boundaries, "cells": cells})
