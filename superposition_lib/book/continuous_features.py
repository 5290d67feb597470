"""The figures of the chapter "Continuous equivariant features" (``chapters/continuous-features.qmd``).

Every ``figure_*`` function here builds one figure of the chapter: it asks
:mod:`~superposition_lib.experiments.continuous_features` for the tidy frames and draws them with
:mod:`~superposition_lib.figures.continuous_features`, returning ``(chart, data)`` or
``(chart, data, static)`` (see :func:`~superposition_lib.book.chapter_figures`).
:data:`FIGURES` maps the chapter's figure labels to these functions.

Examples
--------
>>> sorted(FIGURES)
['fig-equivariant-map', 'fig-width-profile']
"""

from __future__ import annotations

from ..experiments.continuous_features import CHAPTER, map_cells, map_frame
from ..figures import continuous_features as fig
from ..core.store import RunStore

__all__ = ["CHAPTER", "FIGURES"]


def figure_map(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-equivariant-map``: (chart, data).

    Examples
    --------
    >>> FIGURES["fig-equivariant-map"] is figure_map
    True
    """
    models = map_frame(profile, store=store)
    cells = map_cells(models)
    return fig.ring_map(cells, models), {"cells": cells, "models": models}


def figure_width_profile(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-width-profile``: (chart, data).

    Examples
    --------
    >>> FIGURES["fig-width-profile"] is figure_width_profile
    True
    """
    cells = map_cells(map_frame(profile, store=store))
    return fig.width_profile(cells), {"cells": cells}


#: The chapter's figures by label: functions ``(profile, store) -> (chart, data)``.
FIGURES = {"fig-equivariant-map": figure_map, "fig-width-profile": figure_width_profile}
