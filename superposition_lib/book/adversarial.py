"""The figures of the chapter "Superposition and adversarial vulnerability"
(``chapters/adversarial.qmd``).

Every ``figure_*`` function here builds one figure of the chapter: it asks
:mod:`~superposition_lib.experiments.adversarial` for the tidy frames and draws them with
:mod:`~superposition_lib.figures.adversarial`, returning ``(chart, data)`` or
``(chart, data, static)`` (see :func:`~superposition_lib.book.chapter_figures`).
Each registers itself under its figure's label (:func:`~superposition_lib.book.registry.figure`).

Examples
--------
>>> from superposition_lib.book.registry import builders
>>> sorted(builders(CHAPTER))
['fig-adversarial-training', 'fig-vulnerability', 'fig-vulnerability-scatter']
"""

from __future__ import annotations

from .. import figures
from ..core.store import RunStore
from ..experiments.adversarial import CHAPTER, adversarial_results
from .registry import figure

__all__ = ["CHAPTER", "figure_adversarial_training", "figure_vulnerability",
           "figure_vulnerability_scatter"]


@figure(CHAPTER, "fig-vulnerability")
def figure_vulnerability(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-vulnerability``: (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_vulnerability("smoke")
    >>> sorted(data)
    ['sweep']
    """
    v = adversarial_results(profile, store=store)["vulnerability"]
    return figures.vulnerability_sweep(v), {"sweep": v}


@figure(CHAPTER, "fig-vulnerability-scatter")
def figure_vulnerability_scatter(profile: str | None = None, *,
                                 store: RunStore | None = None):
    """The chapter's ``fig-vulnerability-scatter``: (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_vulnerability_scatter("smoke")
    >>> sorted(data)
    ['sweep']
    """
    v = adversarial_results(profile, store=store)["vulnerability"]
    return figures.vulnerability_scatter(v), {"sweep": v}


@figure(CHAPTER, "fig-adversarial-training")
def figure_adversarial_training(profile: str | None = None, *,
                                store: RunStore | None = None):
    """The chapter's ``fig-adversarial-training``: (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_adversarial_training("smoke")
    >>> sorted(data)
    ['models']
    """
    t = adversarial_results(profile, store=store)["training"]
    t = t[t["steps"] == t["steps"].min()]     # the 10,000-step runs; the longer ones in a table
    return figures.adversarial_training(t), {"models": t}
