"""The figures of the chapter "Superposition in a privileged basis" (``chapters/privileged-basis.qmd``).

Every ``figure_*`` function here builds one figure of the chapter: it asks
:mod:`~superposition_lib.experiments.privileged_basis` for the tidy frames and draws them with
:mod:`~superposition_lib.figures.privileged_basis`, returning ``(chart, data)`` or
``(chart, data, static)`` (see :func:`~superposition_lib.book.chapter_figures`).
:data:`FIGURES` maps the chapter's figure labels to these functions.

Examples
--------
>>> sorted(FIGURES)
['fig-best-of-n', 'fig-dense-code', 'fig-neurons']
"""

from __future__ import annotations

from .. import figures
from ..experiments.privileged_basis import CHAPTER, privileged_results
from ..core.store import RunStore

__all__ = ["CHAPTER", "FIGURES"]


def figure_neurons(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-neurons``: (chart, data, static chart).

    Examples
    --------
    >>> FIGURES["fig-neurons"] is figure_neurons
    True
    """
    w = privileged_results(profile, store=store)["weights"]
    return figures.neuron_bars(w), {"weights": w}, figures.neuron_bars_static(w)


def figure_best_of_n(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-best-of-n``: (chart, data).

    Examples
    --------
    >>> FIGURES["fig-best-of-n"] is figure_best_of_n
    True
    """
    c = privileged_results(profile, store=store)["curves"]
    return figures.best_of_n_heatmap(c), {"curves": c}


def figure_dense_code(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-dense-code``: the best n = 20 and n = 30 models, (chart, data,
    static chart).

    Examples
    --------
    >>> FIGURES["fig-dense-code"] is figure_dense_code
    True
    """
    w = privileged_results(profile, store=store)["code_weights"]
    w = w.assign(regime=[f"n = {n} · {r}" for n, r in zip(w["n"], w["regime"])])
    return (figures.neuron_bars(w, label="model (n = 20 then n = 30, dense to sparse)"),
            {"weights": w}, figures.neuron_bars_static(w, columns=7))


#: The chapter's figures by label: functions ``(profile, store) -> (chart, data[, static])``.
FIGURES = {"fig-neurons": figure_neurons, "fig-best-of-n": figure_best_of_n,
           "fig-dense-code": figure_dense_code}
