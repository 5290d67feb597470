"""The figures of the chapter "The geometry of uniform superposition"
(``chapters/uniform-geometry.qmd``).

Every ``figure_*`` function here builds one figure of the chapter: it asks
:mod:`~superposition_lib.experiments.uniform_geometry` for the tidy frames and draws them with
:mod:`~superposition_lib.figures.uniform_geometry`, returning ``(chart, data)`` (see
:func:`~superposition_lib.book.chapter_figures`). Each registers itself under its figure's
label (:func:`~superposition_lib.book.registry.figure`).

Examples
--------
>>> from superposition_lib.book.registry import builders
>>> sorted(builders(CHAPTER))
['fig-dimensionality', 'fig-pentagon', 'fig-polytopes']
"""

from __future__ import annotations

from .. import figures
from ..core.store import RunStore
from ..experiments.uniform_geometry import (
    CHAPTER,
    d_star_summary,
    pentagon_frame,
    polytope_mix,
    seed_frame,
    uniform_frames,
)
from .registry import figure

__all__ = ["CHAPTER", "figure_dimensionality", "figure_pentagon", "figure_polytopes"]


@figure(CHAPTER, "fig-dimensionality")
def figure_dimensionality(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-dimensionality``: (chart, data) from
    :func:`~superposition_lib.experiments.uniform_geometry.uniform_frames`, with the D* of the
    seed run (:func:`~superposition_lib.experiments.uniform_geometry.d_star_summary`).

    Examples
    --------
    >>> chart, data, *static = figure_dimensionality("smoke")
    >>> sorted(data)
    ['features', 'instances', 'seeds']
    """
    instances, features = uniform_frames(profile, store=store)
    seeds = d_star_summary(seed_frame(profile, store=store))
    return (figures.uniform_dimensionality(instances, features, seeds),
            {"instances": instances, "features": features, "seeds": seeds})


@figure(CHAPTER, "fig-polytopes")
def figure_polytopes(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-polytopes``: (chart, data) from
    :func:`~superposition_lib.experiments.uniform_geometry.polytope_mix`.

    Examples
    --------
    >>> chart, data, *static = figure_polytopes("smoke")
    >>> sorted(data)
    ['instances', 'mix']
    """
    instances, features = uniform_frames(profile, store=store)
    mix = polytope_mix(features)
    return figures.polytope_mix_chart(mix, instances), {"mix": mix, "instances": instances}


@figure(CHAPTER, "fig-pentagon")
def figure_pentagon(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-pentagon``: (chart, data) from
    :func:`~superposition_lib.experiments.uniform_geometry.pentagon_frame`.

    Examples
    --------
    >>> chart, data, *static = figure_pentagon("smoke")
    >>> sorted(data)
    ['models']
    """
    pentagon = pentagon_frame(profile, store=store)
    return figures.pentagon_transition(pentagon), {"models": pentagon}
