"""The figures of the chapter "The geometry of uniform superposition"
(``chapters/uniform-geometry.qmd``).

:data:`FIGURES` maps the chapter's figure labels to its ``figure_*`` functions, which still live
in :mod:`~superposition_lib.experiments.uniform_geometry` and are re-exported here.

Examples
--------
>>> sorted(FIGURES)
['fig-dimensionality', 'fig-pentagon', 'fig-polytopes']
"""

from __future__ import annotations

# The figure_* wrappers move here from experiments.uniform_geometry next.
from ..experiments import uniform_geometry as _experiments
from ..experiments.uniform_geometry import (  # noqa: F401 - re-exported
    CHAPTER,
    figure_dimensionality,
    figure_pentagon,
    figure_polytopes,
)

__all__ = ["CHAPTER", "FIGURES"]

#: The chapter's figures by label: functions ``(profile, store) -> (chart, data[, static])``.
FIGURES = _experiments.FIGURES
