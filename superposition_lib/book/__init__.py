"""The book's figures: the layer that joins experiments and charts.

The library's layers run one way. :mod:`~superposition_lib.experiments` names the book's
experiments and turns their runs into tidy DataFrames; :mod:`~superposition_lib.figures` draws
DataFrames as Altair charts; neither imports the other. This package, above both, holds one
module per chapter (named like the chapter, e.g. :mod:`~superposition_lib.book.learning_dynamics`)
whose ``figure_*`` functions compute a figure's frames and draw it, each registered under the
figure's label (:mod:`~superposition_lib.book.registry`); the chapter's page and its downloads
call the same builder. :func:`chapter_figures` collects them and :func:`export_chapter_figures`
writes every figure's downloads (what ``superposition figures export`` and the book's
pre-render step run).
:mod:`~superposition_lib.book.citation` and :mod:`~superposition_lib.book.site` serve the site
around the chapters (the preface's BibTeX entry; the API reference in the site's search). A
chapter cell reads::

    from superposition_lib.book import learning_dynamics as book
    chart, data = book.figure_jumps()          # (Altair chart, {name: tidy DataFrame})

Examples
--------
>>> list(chapter_figures())[:3]
['toy-model', 'uniform-geometry', 'phase-change']
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path

from .. import experiments, figures
from ..core.store import MissingRunError
from ..experiments.chapters import CHAPTERS, module_name
from .registry import chapter_figures

# Every chapter's figures register themselves when its module is imported.
for _chapter in CHAPTERS:
    importlib.import_module(f"{__name__}.{module_name(_chapter)}")

__all__ = ["FIGURES_ENV", "chapter_figures", "export_chapter_figures"]

#: Environment variable overriding where :func:`export_chapter_figures` writes by default.
FIGURES_ENV = "SUPERPOSITION_FIGURES"


def export_chapter_figures(chapter: str | None = None, *, out_dir: str | os.PathLike | None = None,
                           profile: str | None = None, store=None,
                           train: bool | None = None,
                           on_figure: Callable[[str, str, list[Path]], None] | None = None,
                           ) -> dict[str, list[Path]]:
    """Export every figure of a chapter (or of all chapters) with
    :func:`~superposition_lib.figures.export`.

    Parameters
    ----------
    chapter : str, optional
        A chapter's file stem (e.g. ``"toy-model"``); all chapters if omitted.
    out_dir : path, optional
        Root directory; files go to ``out_dir/CHAPTER/``. Defaults to ``$SUPERPOSITION_FIGURES``,
        else ``chapters/figures``.
    profile : str, optional
        Experiment profile (default ``$SUPERPOSITION_PROFILE``, else ``paper``).
    store : RunStore, optional
        Where runs are loaded from (default
        :func:`~superposition_lib.experiments.default_store` of the profile: the book's
        ``data/`` for ``paper``, the user's cache for ``smoke``).
    train : bool, optional
        Whether the chapters' missing runs may be trained first. The default, None, trains only
        ``smoke`` runs, as :func:`superposition_lib.experiments.load` does: the book's
        pre-render step exports the ``paper`` figures from the committed runs alone.
    on_figure : callable, optional
        Called as ``on_figure(chapter, label, paths)`` after each figure is written (progress:
        the whole export takes minutes).

    Returns
    -------
    dict of str to list of Path
        Files written per figure label, and the Vega bundle
        (:func:`~superposition_lib.figures.write_bundle`) under
        :data:`~superposition_lib.figures.BUNDLE`.

    Raises
    ------
    ValueError
        For an unknown chapter.
    superposition_lib.core.store.MissingRunError
        Before anything is built, if runs of the chapters are missing and may not be trained;
        the message names every missing experiment and the command that trains them.

    Examples
    --------
    >>> export_chapter_figures("nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown chapter 'nope'; chapters with figures are toy-model, ...
    """
    registry = chapter_figures()
    if chapter is not None and chapter not in registry:
        raise ValueError(f"unknown chapter {chapter!r}; chapters with figures are "
                         f"{', '.join(registry)}")
    profile = experiments.current_profile(profile)
    store = experiments.default_store(profile) if store is None else store
    needed = [e for ch in registry if chapter in (None, ch)
              for e in experiments.list_experiments(ch)]
    absent = experiments.missing(needed, profile, store)
    if absent and not (profile == "smoke" if train is None else train):
        raise MissingRunError(experiments.missing_message(absent, profile, store))
    for exp in absent:
        experiments.load(exp.name, profile, store=store, progress=True, train=True)
    root = Path(out_dir or os.environ.get(FIGURES_ENV) or "chapters/figures")
    written = {figures.BUNDLE: [figures.write_bundle(root)]}
    for ch, figs in registry.items():
        if chapter is not None and ch != chapter:
            continue
        for label, build in figs.items():
            chart, data, *static = build(profile=profile, store=store)
            written[label] = figures.export(chart, data, label, root / ch,
                                            static=static[0] if static else None)
            if on_figure is not None:
                on_figure(ch, label, written[label])
    return written
