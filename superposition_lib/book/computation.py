"""The figures of the chapter "Computation in superposition" (``chapters/computation.qmd``).

Every ``figure_*`` function here builds one figure of the chapter: it asks
:mod:`~superposition_lib.experiments.computation` for the tidy frames and draws them with
:mod:`~superposition_lib.figures.privileged_basis`, returning ``(chart, data)`` or
``(chart, data, static)`` (see :func:`~superposition_lib.book.chapter_figures`).
Each registers itself under its figure's label (:func:`~superposition_lib.book.registry.figure`).

Examples
--------
>>> from superposition_lib.book.registry import builders
>>> sorted(builders(CHAPTER))
['fig-abs-counts', 'fig-abs-neurons', 'fig-abs-small']
"""

from __future__ import annotations

from .. import figures
from ..core.store import RunStore
from ..experiments.computation import CHAPTER, computation_results
from .registry import figure

__all__ = ["CHAPTER", "figure_abs_counts", "figure_abs_neurons", "figure_abs_small"]


@figure(CHAPTER, "fig-abs-small")
def figure_abs_small(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-abs-small``: (chart, data, static chart).

    Examples
    --------
    >>> chart, data, *static = figure_abs_small("smoke")
    >>> sorted(data)
    ['weights']
    """
    w = computation_results(profile, store=store)["small_weights"]
    return figures.neuron_bars(w), {"weights": w}, figures.neuron_bars_static(w, columns=3)


@figure(CHAPTER, "fig-abs-neurons")
def figure_abs_neurons(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-abs-neurons``: (chart, data, static chart).

    Examples
    --------
    >>> chart, data, *static = figure_abs_neurons("smoke")
    >>> sorted(data)
    ['weights']
    """
    w = computation_results(profile, store=store)["large_weights"]
    return figures.neuron_bars(w), {"weights": w}, figures.neuron_bars_static(w, columns=4)


@figure(CHAPTER, "fig-abs-counts")
def figure_abs_counts(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-abs-counts``: (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_abs_counts("smoke")
    >>> sorted(data)
    ['models']
    """
    m = computation_results(profile, store=store)["large_models"]
    return figures.neuron_counts(m), {"models": m}
