"""The figures of the chapter "PCA versus superposition" (``chapters/pca-vs-superposition.qmd``).

Every ``figure_*`` function here builds one figure of the chapter: it asks
:mod:`~superposition_lib.experiments.pca_vs_superposition` for the tidy frames and draws them with
:mod:`~superposition_lib.figures.pca_vs_superposition`, returning ``(chart, data)`` (see
:func:`~superposition_lib.book.chapter_figures`). :data:`FIGURES` maps the chapter's figure
labels to these functions.

Examples
--------
>>> sorted(FIGURES)
['fig-collapse', 'fig-map', 'fig-pairs', 'fig-sets10']
"""

from __future__ import annotations

import pandas as pd

from ..experiments import load
from ..experiments.pca_vs_superposition import (
    CHAPTER,
    collapse_frame,
    direction_frame,
    gram_frame,
    map_cells,
    map_frame,
    theory_boundary,
)
from ..figures import pca_vs_superposition as fig
from ..core.store import RunStore

__all__ = ["CHAPTER", "FIGURES"]


def figure_pairs(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-pairs``: (chart, data) from
    :func:`~superposition_lib.experiments.pca_vs_superposition.direction_frame` of the four small
    geometry experiments.

    Examples
    --------
    >>> FIGURES["fig-pairs"] is figure_pairs
    True
    """
    frames = []
    for name, size in (("corr-pairs", 2), ("anticorr-pairs", 2), ("corr-hexagon", 2),
                       ("indep-hexagon", None)):
        d = direction_frame(load(name, profile, store=store), size)
        d.insert(0, "experiment", name)
        frames.append(d)
    directions = pd.concat(frames, ignore_index=True)
    return fig.direction_grid(directions), {"directions": directions}


def figure_sets10(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-sets10``: (chart, data) from
    :func:`~superposition_lib.experiments.pca_vs_superposition.gram_frame` of ``corr-sets10``.

    Examples
    --------
    >>> FIGURES["fig-sets10"] is figure_sets10
    True
    """
    gram = gram_frame(load("corr-sets10", profile, store=store))
    return fig.gram_heatmaps(gram), {"gram": gram}


def figure_collapse(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-collapse``: (chart, data) from
    :func:`~superposition_lib.experiments.pca_vs_superposition.collapse_frame`.

    Examples
    --------
    >>> FIGURES["fig-collapse"] is figure_collapse
    True
    """
    df = collapse_frame(profile, store=store)
    return fig.collapse_curve(df), {"models": df}


def figure_map(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-map``: (chart, data) from
    :func:`~superposition_lib.experiments.pca_vs_superposition.map_frame`, with the two-pair theory's
    :func:`~superposition_lib.experiments.pca_vs_superposition.theory_boundary` where it exists.

    Examples
    --------
    >>> FIGURES["fig-map"] is figure_map
    True
    """
    models = map_frame(profile, store=store)
    cells = map_cells(models)
    boundary = theory_boundary().dropna()          # NaN: collapse never the cheapest
    return (fig.tradeoff_map(cells, models, boundary),
            {"cells": cells, "models": models, "boundary": boundary})


#: The chapter's figures by label: functions ``(profile, store) -> (chart, data)``.
FIGURES = {"fig-pairs": figure_pairs, "fig-sets10": figure_sets10,
           "fig-collapse": figure_collapse, "fig-map": figure_map}
