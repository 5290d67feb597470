"""The figures of the chapter "Computation in superposition" (``chapters/computation.qmd``).

Every ``figure_*`` function here builds one figure of the chapter: it asks
:mod:`~superposition_lib.experiments.computation` for the tidy frames and draws them with
:mod:`~superposition_lib.figures.privileged_basis`, returning ``(chart, data)`` or
``(chart, data, static)`` (see :func:`~superposition_lib.book.chapter_figures`).
:data:`FIGURES` maps the chapter's figure labels to these functions.

Examples
--------
>>> sorted(FIGURES)
['fig-abs-counts', 'fig-abs-neurons', 'fig-abs-small']
"""

from __future__ import annotations

from .. import figures
from ..experiments.computation import CHAPTER, computation_results
from ..core.store import RunStore

__all__ = ["CHAPTER", "FIGURES"]


def figure_abs_small(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-abs-small``: (chart, data, static chart).

    Examples
    --------
    >>> FIGURES["fig-abs-small"] is figure_abs_small
    True
    """
    w = computation_results(profile, store=store)["small_weights"]
    return figures.neuron_bars(w), {"weights": w}, figures.neuron_bars_static(w, columns=3)


def figure_abs_neurons(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-abs-neurons``: (chart, data, static chart).

    Examples
    --------
    >>> FIGURES["fig-abs-neurons"] is figure_abs_neurons
    True
    """
    w = computation_results(profile, store=store)["large_weights"]
    return figures.neuron_bars(w), {"weights": w}, figures.neuron_bars_static(w, columns=4)


def figure_abs_counts(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-abs-counts``: (chart, data).

    Examples
    --------
    >>> FIGURES["fig-abs-counts"] is figure_abs_counts
    True
    """
    m = computation_results(profile, store=store)["large_models"]
    return figures.neuron_counts(m), {"models": m}


#: The chapter's figures by label: functions ``(profile, store) -> (chart, data[, static])``.
FIGURES = {"fig-abs-small": figure_abs_small, "fig-abs-neurons": figure_abs_neurons,
           "fig-abs-counts": figure_abs_counts}
