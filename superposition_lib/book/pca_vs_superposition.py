"""The figures of the chapter "PCA versus superposition" (``chapters/pca-vs-superposition.qmd``).

Every ``figure_*`` function here builds one figure of the chapter: it asks
:mod:`~superposition_lib.experiments.pca_vs_superposition` for the tidy frames and draws them with
:mod:`~superposition_lib.figures.pca_vs_superposition`, returning ``(chart, data)`` (see
:func:`~superposition_lib.book.chapter_figures`). Each registers itself under its figure's
label (:func:`~superposition_lib.book.registry.figure`).

Examples
--------
>>> from superposition_lib.book.registry import builders
>>> sorted(builders(CHAPTER))
['fig-collapse', 'fig-map', 'fig-map-fine', 'fig-pair-map', 'fig-pairs', 'fig-sets10']
"""

from __future__ import annotations

import pandas as pd

from ..core.store import RunStore
from ..experiments import load
from ..experiments.pca_vs_superposition import (
    CHAPTER,
    collapse_frame,
    direction_frame,
    gram_frame,
    map_cells,
    map_fit,
    map_frame,
    pair_map_findings,
    pair_map_frame,
    strategy_surface,
    theory_boundary,
)
from ..figures import pca_vs_superposition as fig
from .registry import figure

__all__ = ["CHAPTER", "figure_collapse", "figure_map", "figure_map_fine", "figure_pair_map",
           "figure_pairs", "figure_sets10"]


@figure(CHAPTER, "fig-pairs")
def figure_pairs(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-pairs``: (chart, data) from
    :func:`~superposition_lib.experiments.pca_vs_superposition.direction_frame` of the four small
    geometry experiments.

    Examples
    --------
    >>> chart, data, *static = figure_pairs("smoke")
    >>> sorted(data)
    ['directions']
    """
    frames = []
    for name, size in (("corr-pairs", 2), ("anticorr-pairs", 2), ("corr-hexagon", 2),
                       ("indep-hexagon", None)):
        d = direction_frame(load(name, profile, store=store), size)
        d.insert(0, "experiment", name)
        frames.append(d)
    directions = pd.concat(frames, ignore_index=True)
    return fig.direction_grid(directions), {"directions": directions}


@figure(CHAPTER, "fig-sets10")
def figure_sets10(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-sets10``: (chart, data) from
    :func:`~superposition_lib.experiments.pca_vs_superposition.gram_frame` of ``corr-sets10``.

    Examples
    --------
    >>> chart, data, *static = figure_sets10("smoke")
    >>> sorted(data)
    ['gram']
    """
    gram = gram_frame(load("corr-sets10", profile, store=store))
    return fig.gram_heatmaps(gram), {"gram": gram}


@figure(CHAPTER, "fig-collapse")
def figure_collapse(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-collapse``: (chart, data) from
    :func:`~superposition_lib.experiments.pca_vs_superposition.collapse_frame`.

    Examples
    --------
    >>> chart, data, *static = figure_collapse("smoke")
    >>> sorted(data)
    ['models']
    """
    df = collapse_frame(profile, store=store)
    return fig.collapse_curve(df), {"models": df}


@figure(CHAPTER, "fig-map")
def figure_map(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-map``: (chart, data) from
    :func:`~superposition_lib.experiments.pca_vs_superposition.map_frame`.

    Examples
    --------
    >>> chart, data, *static = figure_map("smoke")
    >>> sorted(data)
    ['cells', 'fit', 'models']
    """
    models = map_frame(profile, store=store)
    cells = map_cells(models)
    surface = strategy_surface(map_fit(profile, store=store)["fit"], *fig.overlay_grid(cells))
    return (fig.tradeoff_map(cells, models, surface),
            {"cells": cells, "models": models, "fit": surface})


@figure(CHAPTER, "fig-map-fine")
def figure_map_fine(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-map-fine``: (chart, data) from the cells of ``pca-map-fine`` and the
    fitted strategy model
    (:func:`~superposition_lib.experiments.pca_vs_superposition.map_fit`).

    Examples
    --------
    >>> chart, data, *static = figure_map_fine("smoke")
    >>> sorted(data)
    ['cells', 'fit']
    """
    cells = map_cells(map_frame(profile, store=store, experiment="pca-map-fine"))
    surface = strategy_surface(map_fit(profile, store=store)["fit"],
                               *fig.overlay_grid(cells, per_cell=3))
    return fig.fine_map_chart(cells, surface), {"cells": cells, "fit": surface}


@figure(CHAPTER, "fig-pair-map")
def figure_pair_map(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-pair-map``: the two-pair map against the two-pair theory, drawn with
    the theory's :func:`~superposition_lib.experiments.pca_vs_superposition.theory_boundary`
    where it exists, (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_pair_map("smoke")
    >>> sorted(data)
    ['boundary', 'cells']
    """
    cells = pair_map_findings(pair_map_frame(profile, store=store))["ratio"]
    boundary = theory_boundary().dropna()          # NaN: collapse never the cheapest
    return fig.pair_map_chart(cells, boundary), {"cells": cells, "boundary": boundary}
