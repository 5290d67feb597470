"""The figures of the chapter "Superposition in a privileged basis"
(``chapters/privileged-basis.qmd``).

Every ``figure_*`` function here builds one figure of the chapter: it asks
:mod:`~superposition_lib.experiments.privileged_basis` for the tidy frames and draws them with
:mod:`~superposition_lib.figures.privileged_basis`, returning ``(chart, data)`` or
``(chart, data, static)`` (see :func:`~superposition_lib.book.chapter_figures`).
Each registers itself under its figure's label (:func:`~superposition_lib.book.registry.figure`).

Examples
--------
>>> from superposition_lib.book.registry import builders
>>> sorted(builders(CHAPTER))
['fig-best-of-n', 'fig-dense-code', 'fig-neurons']
"""

from __future__ import annotations

from .. import figures
from ..core.store import RunStore
from ..experiments.privileged_basis import CHAPTER, privileged_results
from .registry import figure

__all__ = ["CHAPTER", "figure_best_of_n", "figure_dense_code", "figure_neurons"]


@figure(CHAPTER, "fig-neurons")
def figure_neurons(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-neurons``: (chart, data, static chart).

    Examples
    --------
    >>> chart, data, *static = figure_neurons("smoke")
    >>> sorted(data)
    ['weights']
    """
    w = privileged_results(profile, store=store)["weights"]
    return figures.neuron_bars(w), {"weights": w}, figures.neuron_bars_static(w)


@figure(CHAPTER, "fig-best-of-n")
def figure_best_of_n(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-best-of-n``: (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_best_of_n("smoke")
    >>> sorted(data)
    ['curves']
    """
    c = privileged_results(profile, store=store)["curves"]
    return figures.best_of_n_heatmap(c), {"curves": c}


@figure(CHAPTER, "fig-dense-code")
def figure_dense_code(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-dense-code``: the best n = 20 and n = 30 models, (chart, data,
    static chart).

    Examples
    --------
    >>> chart, data, *static = figure_dense_code("smoke")
    >>> sorted(data)
    ['weights']
    """
    w = privileged_results(profile, store=store)["code_weights"]
    w = w.assign(regime=[f"n = {n} · {r}" for n, r in zip(w["n"], w["regime"])])
    return (figures.neuron_bars(w, label="model (n = 20 then n = 30, dense to sparse)"),
            {"weights": w}, figures.neuron_bars_static(w, columns=7))
