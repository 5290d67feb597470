"""The figures of the chapter "The geometry of uniform superposition"
(``chapters/uniform-geometry.qmd``).

Every ``figure_*`` function here builds one figure of the chapter: it asks
:mod:`~superposition_lib.experiments.uniform_geometry` for the tidy frames and draws them with
:mod:`~superposition_lib.figures.uniform_geometry`, returning ``(chart, data)`` (see
:func:`~superposition_lib.book.chapter_figures`). :data:`FIGURES` maps the chapter's figure
labels to these functions.

Examples
--------
>>> sorted(FIGURES)
['fig-dimensionality', 'fig-pentagon', 'fig-polytopes']
"""

from __future__ import annotations

from .. import figures
from ..experiments.uniform_geometry import (
    CHAPTER,
    d_star_summary,
    pentagon_frame,
    polytope_mix,
    seed_frame,
    uniform_frames,
)
from ..core.store import RunStore

__all__ = ["CHAPTER", "FIGURES"]


def figure_dimensionality(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-dimensionality``: (chart, data) from
    :func:`~superposition_lib.experiments.uniform_geometry.uniform_frames`, with the D* of the
    seed run (:func:`~superposition_lib.experiments.uniform_geometry.d_star_summary`).

    Examples
    --------
    >>> FIGURES["fig-dimensionality"] is figure_dimensionality
    True
    """
    instances, features = uniform_frames(profile, store=store)
    seeds = d_star_summary(seed_frame(profile, store=store))
    return (figures.uniform_dimensionality(instances, features, seeds),
            {"instances": instances, "features": features, "seeds": seeds})


def figure_polytopes(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-polytopes``: (chart, data) from
    :func:`~superposition_lib.experiments.uniform_geometry.polytope_mix`.

    Examples
    --------
    >>> FIGURES["fig-polytopes"] is figure_polytopes
    True
    """
    instances, features = uniform_frames(profile, store=store)
    mix = polytope_mix(features)
    return figures.polytope_mix_chart(mix, instances), {"mix": mix, "instances": instances}


def figure_pentagon(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-pentagon``: (chart, data) from
    :func:`~superposition_lib.experiments.uniform_geometry.pentagon_frame`.

    Examples
    --------
    >>> FIGURES["fig-pentagon"] is figure_pentagon
    True
    """
    pentagon = pentagon_frame(profile, store=store)
    return figures.pentagon_transition(pentagon), {"models": pentagon}


#: The chapter's figures by label: functions ``(profile, store) -> (chart, data)``.
FIGURES = {"fig-dimensionality": figure_dimensionality, "fig-polytopes": figure_polytopes,
           "fig-pentagon": figure_pentagon}
