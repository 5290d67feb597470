"""The figures of the chapter "The toy model" (``chapters/toy-model.qmd``).

Every ``figure_*`` function here builds one figure of the chapter: it asks
:mod:`~superposition_lib.experiments.toy_model` for the tidy frames and draws them with
:mod:`~superposition_lib.figures.toy_model`, returning ``(chart, data)`` or
``(chart, data, static)`` (see :func:`~superposition_lib.book.chapter_figures`).
:data:`FIGURES` maps the chapter's figure labels to these functions.

Examples
--------
>>> sorted(FIGURES)
['fig-basic', 'fig-intro']
"""

from __future__ import annotations

from .. import figures
from ..experiments.toy_model import CHAPTER, basic_frames, intro_frames
from ..core.store import RunStore

__all__ = ["CHAPTER", "FIGURES"]


def figure_intro(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-intro``: (chart, data, static chart) from
    :func:`~superposition_lib.experiments.toy_model.intro_frames`.

    The static chart (every density side by side) is what the SVG and PNG downloads show.

    Examples
    --------
    >>> FIGURES["fig-intro"] is figure_intro
    True
    """
    features, gram = intro_frames(profile, store=store)
    return (figures.intro_geometry(features, gram), {"features": features, "gram": gram},
            figures.intro_geometry_static(features, gram))


def figure_basic(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-basic``: (chart, data) from
    :func:`~superposition_lib.experiments.toy_model.basic_frames`.

    Examples
    --------
    >>> FIGURES["fig-basic"] is figure_basic
    True
    """
    features, gram = basic_frames(profile, store=store)
    return figures.basic_results(features, gram), {"features": features, "gram": gram}


#: The chapter's figures by label: functions ``(profile, store) -> (chart, data[, static])``.
FIGURES = {"fig-intro": figure_intro, "fig-basic": figure_basic}
