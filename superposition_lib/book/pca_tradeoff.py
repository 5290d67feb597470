"""The figures of the chapter "PCA versus superposition" (``chapters/pca-vs-superposition.qmd``).

:data:`FIGURES` maps the chapter's figure labels to its ``figure_*`` functions, which still live
in :mod:`~superposition_lib.experiments.pca_tradeoff` and are re-exported here.

Examples
--------
>>> sorted(FIGURES)
['fig-collapse', 'fig-map', 'fig-pairs', 'fig-sets10']
"""

from __future__ import annotations

# The figure_* wrappers move here from experiments.pca_tradeoff next.
from ..experiments import pca_tradeoff as _experiments
from ..experiments.pca_tradeoff import (  # noqa: F401 - re-exported
    CHAPTER,
    figure_collapse,
    figure_map,
    figure_pairs,
    figure_sets10,
)

__all__ = ["CHAPTER", "FIGURES"]

#: The chapter's figures by label: functions ``(profile, store) -> (chart, data)``.
FIGURES = _experiments.FIGURES
