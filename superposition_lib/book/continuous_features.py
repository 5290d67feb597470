"""The figures of the chapter "Continuous equivariant features"
(``chapters/continuous-features.qmd``).

Every ``figure_*`` function here builds one figure of the chapter: it asks
:mod:`~superposition_lib.experiments.continuous_features` for the tidy frames and draws them with
:mod:`~superposition_lib.figures.continuous_features`, returning ``(chart, data)`` or
``(chart, data, static)`` (see :func:`~superposition_lib.book.chapter_figures`).
Each registers itself under its figure's label (:func:`~superposition_lib.book.registry.figure`).

Examples
--------
>>> from superposition_lib.book.registry import builders
>>> sorted(builders(CHAPTER))
['fig-equivariant-map', 'fig-width-profile']
"""

from __future__ import annotations

from ..core.store import RunStore
from ..experiments.continuous_features import CHAPTER, map_cells, map_frame
from ..figures import continuous_features as fig
from .registry import figure

__all__ = ["CHAPTER", "figure_map", "figure_width_profile"]


@figure(CHAPTER, "fig-equivariant-map")
def figure_map(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-equivariant-map``: (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_map("smoke")
    >>> sorted(data)
    ['cells', 'models']
    """
    models = map_frame(profile, store=store)
    cells = map_cells(models)
    return fig.ring_map(cells, models), {"cells": cells, "models": models}


@figure(CHAPTER, "fig-width-profile")
def figure_width_profile(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-width-profile``: (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_width_profile("smoke")
    >>> sorted(data)
    ['cells']
    """
    cells = map_cells(map_frame(profile, store=store))
    return fig.width_profile(cells), {"cells": cells}
