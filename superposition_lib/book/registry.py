"""The book's figures by label: every chapter's builders register themselves with
:func:`figure`, and the pages, the downloads and the command line all read them here.

A builder is called as ``build(profile=..., store=...)`` and returns ``(chart, data)`` or
``(chart, data, static)``: ``data`` maps a short name to the tidy DataFrame behind the chart,
and ``static`` is what SVG and PNG exports show instead of the interactive chart.

Examples
--------
>>> import superposition_lib.book
>>> FIGURES["fig-intro"].chapter
'toy-model'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["BUILDER_SECTIONS", "FIGURES", "Figure", "builders", "chapter_figures", "figure"]


@dataclass(frozen=True)
class Figure:
    """One figure of the book.

    Attributes
    ----------
    label : str
        Its Quarto label, e.g. ``"fig-intro"`` (also the stem of its download files).
    chapter : str
        The chapter's file stem, e.g. ``"toy-model"``.
    build : callable
        ``build(profile=None, *, store=None) -> (chart, data[, static])``.

    Examples
    --------
    >>> import superposition_lib.book
    >>> FIGURES["fig-basic"].label
    'fig-basic'
    """

    label: str
    chapter: str
    build: Callable


#: Every registered figure by label, in registration order (the chapters' order).
FIGURES: dict[str, Figure] = {}

#: What every builder takes and returns; :func:`figure` adds it to the builder's docstring, before
#: its Examples, so that each builder's page documents its signature without a copy in the source.
BUILDER_SECTIONS = """Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"`` (default ``$SUPERPOSITION_PROFILE``, else ``"paper"``).
    store : RunStore, optional
        Where the runs are loaded from (default: the profile's store,
        :func:`~superposition_lib.experiments.registry.default_store`).

    Returns
    -------
    tuple
        ``(chart, data)`` or ``(chart, data, static)``: the Altair chart, the tidy DataFrames
        behind it by name, and what SVG and PNG downloads show instead of an interactive chart.

    """


def figure(chapter: str, label: str) -> Callable[[Callable], Callable]:
    """Register the decorated function as the builder of figure ``label`` of ``chapter``.

    Parameters
    ----------
    chapter : str
        The chapter's file stem.
    label : str
        The figure's label, unique in the book.

    Returns
    -------
    callable
        A decorator returning the function unchanged.

    Raises
    ------
    ValueError
        If another builder already has the label.

    Examples
    --------
    >>> import superposition_lib.book
    >>> @figure("toy-model", "fig-demo")
    ... def figure_demo(profile=None, *, store=None):
    ...     return None, {}
    >>> @figure("toy-model", "fig-intro")  # doctest: +ELLIPSIS
    ... def figure_demo(profile=None, *, store=None):
    ...     return None, {}
    Traceback (most recent call last):
    ...
    ValueError: figure 'fig-intro' is already built by ...toy_model.figure_intro
    >>> FIGURES.pop("fig-demo").build.__name__
    'figure_demo'
    """
    def register(build: Callable) -> Callable:
        if build.__doc__ and "    Parameters\n" not in build.__doc__:
            build.__doc__ = build.__doc__.replace("Examples\n    --------",
                                                  BUILDER_SECTIONS + "Examples\n    --------", 1)
        known = FIGURES.get(label)
        name = f"{build.__module__}.{build.__qualname__}"
        if known is not None and f"{known.build.__module__}.{known.build.__qualname__}" != name:
            raise ValueError(f"figure {label!r} is already built by "
                             f"{known.build.__module__}.{known.build.__qualname__}")
        FIGURES[label] = Figure(label, chapter, build)
        return build
    return register


def chapter_figures(chapter: str | None = None) -> dict[str, dict[str, Callable]]:
    """Every chapter's figures (or one chapter's): chapter stem -> {label -> builder}.

    Parameters
    ----------
    chapter : str, optional
        A chapter's file stem; all chapters with figures if omitted.

    Returns
    -------
    dict of str to dict of str to callable

    Examples
    --------
    >>> import superposition_lib.book
    >>> sorted(chapter_figures("toy-model")["toy-model"])
    ['fig-basic', 'fig-intro']
    """
    out: dict[str, dict[str, Callable]] = {}
    for fig in FIGURES.values():
        if chapter in (None, fig.chapter):
            out.setdefault(fig.chapter, {})[fig.label] = fig.build
    return out


def builders(chapter: str) -> dict[str, Callable]:
    """One chapter's figures: label -> builder, in the chapter's order.

    Parameters
    ----------
    chapter : str
        A chapter's file stem.

    Returns
    -------
    dict of str to callable
        Empty for a chapter without figures.

    Examples
    --------
    >>> import superposition_lib.book
    >>> list(builders("phase-change"))
    ['fig-phase-n2', 'fig-phase-n3']
    """
    return chapter_figures(chapter).get(chapter, {})
