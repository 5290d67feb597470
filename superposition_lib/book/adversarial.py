"""The figures of the chapter "Superposition and adversarial vulnerability" (``chapters/adversarial.qmd``).

Every ``figure_*`` function here builds one figure of the chapter: it asks
:mod:`~superposition_lib.experiments.adversarial` for the tidy frames and draws them with
:mod:`~superposition_lib.figures.adversarial`, returning ``(chart, data)`` or
``(chart, data, static)`` (see :func:`~superposition_lib.book.chapter_figures`).
:data:`FIGURES` maps the chapter's figure labels to these functions.

Examples
--------
>>> sorted(FIGURES)
['fig-adversarial-training', 'fig-vulnerability', 'fig-vulnerability-scatter']
"""

from __future__ import annotations

from .. import figures
from ..experiments.adversarial import CHAPTER, adversarial_results
from ..core.store import RunStore

__all__ = ["CHAPTER", "FIGURES"]


def figure_vulnerability(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-vulnerability``: (chart, data).

    Examples
    --------
    >>> FIGURES["fig-vulnerability"] is figure_vulnerability
    True
    """
    v = adversarial_results(profile, store=store)["vulnerability"]
    return figures.vulnerability_sweep(v), {"sweep": v}


def figure_vulnerability_scatter(profile: str | None = None, *,
                                 store: RunStore | None = None):
    """The chapter's ``fig-vulnerability-scatter``: (chart, data).

    Examples
    --------
    >>> FIGURES["fig-vulnerability-scatter"] is figure_vulnerability_scatter
    True
    """
    v = adversarial_results(profile, store=store)["vulnerability"]
    return figures.vulnerability_scatter(v), {"sweep": v}


def figure_adversarial_training(profile: str | None = None, *,
                                store: RunStore | None = None):
    """The chapter's ``fig-adversarial-training``: (chart, data).

    Examples
    --------
    >>> FIGURES["fig-adversarial-training"] is figure_adversarial_training
    True
    """
    t = adversarial_results(profile, store=store)["training"]
    t = t[t["steps"] == t["steps"].min()]     # the 10,000-step runs; the longer ones in a table
    return figures.adversarial_training(t), {"models": t}


#: The chapter's figures by label: functions ``(profile, store) -> (chart, data[, static])``.
FIGURES = {"fig-vulnerability": figure_vulnerability,
           "fig-vulnerability-scatter": figure_vulnerability_scatter,
           "fig-adversarial-training": figure_adversarial_training}
