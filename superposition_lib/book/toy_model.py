"""The figures of the chapter "The toy model" (``chapters/toy-model.qmd``).

Every ``figure_*`` function here builds one figure of the chapter: it asks
:mod:`~superposition_lib.experiments.toy_model` for the tidy frames and draws them with
:mod:`~superposition_lib.figures.toy_model`, returning ``(chart, data)`` or
``(chart, data, static)`` (see :func:`~superposition_lib.book.chapter_figures`).
Each registers itself under its figure's label (:func:`~superposition_lib.book.registry.figure`).

Examples
--------
>>> from superposition_lib.book.registry import builders
>>> sorted(builders(CHAPTER))
['fig-basic', 'fig-intro']
"""

from __future__ import annotations

from .. import figures
from ..core.store import RunStore
from ..experiments.toy_model import CHAPTER, basic_frames, intro_frames
from .registry import figure

__all__ = ["CHAPTER", "figure_basic", "figure_intro"]


@figure(CHAPTER, "fig-intro")
def figure_intro(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-intro``: (chart, data, static chart) from
    :func:`~superposition_lib.experiments.toy_model.intro_frames`.

    The static chart (every density side by side) is what the SVG and PNG downloads show.

    Examples
    --------
    >>> chart, data, *static = figure_intro("smoke")
    >>> sorted(data)
    ['features', 'gram']
    """
    features, gram = intro_frames(profile, store=store)
    return (figures.intro_geometry(features, gram), {"features": features, "gram": gram},
            figures.intro_geometry_static(features, gram))


@figure(CHAPTER, "fig-basic")
def figure_basic(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-basic``: (chart, data) from
    :func:`~superposition_lib.experiments.toy_model.basic_frames`.

    Examples
    --------
    >>> chart, data, *static = figure_basic("smoke")
    >>> sorted(data)
    ['features', 'gram']
    """
    features, gram = basic_frames(profile, store=store)
    return figures.basic_results(features, gram), {"features": features, "gram": gram}
