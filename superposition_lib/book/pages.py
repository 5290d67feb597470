"""What the chapters' pages share: their tables, their intervals and their downloads blocks.

A chapter page draws every figure with its registered builder
(:mod:`~superposition_lib.book.registry`) and, below it, lists the files
``superposition figures export`` writes from the same builder (:func:`downloads`); its tables
are pipe tables (:func:`markdown_table`) and its estimates read "value (low–high)"
(:func:`interval`). A chapter cell reads::

    from superposition_lib.book import pages, toy_model as book

    chart, data, *_ = book.figure_intro()      # the figure's cell shows its chart
    chart

    # the next cell (echo: false) lists the files exported from the same builder
    Markdown(pages.downloads("fig-intro", data, runs=["intro-linear", "intro-relu"]))

Examples
--------
>>> print(markdown_table(pd.DataFrame({"1 − S": ["0.1", "0.01"], "models": [3, 4]})))
|   1 − S |   models |
|--------:|---------:|
|    0.1  |        3 |
|    0.01 |        4 |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ..figures.downloads import FORMATS, csv_names
from .registry import FIGURES

__all__ = ["downloads", "interval", "markdown_table"]

#: The files of a figure besides its data, as the downloads block names them, in its order.
def markdown_table(df: pd.DataFrame, *, index: bool = False, as_text: bool = False,
                   **options) -> str:
    """A DataFrame as a Markdown pipe table (:meth:`pandas.DataFrame.to_markdown`), the form
    every table of the book takes (a chapter cell outputs ``Markdown(markdown_table(df))``).

    Parameters
    ----------
    df : DataFrame
        The table, its columns as headers.
    index : bool
        Whether the index is a column of the table (default: not).
    as_text : bool
        Print every cell as the text it holds, with no column alignment. By default a cell
        such as ``"0.50"`` is read as a number, printed ``0.5`` and aligned right.
    **options
        Passed on to ``tabulate.tabulate``, e.g. ``floatfmt=".3f"`` or
        ``missingval="–"``.

    Returns
    -------
    str
        The pipe table, without a trailing newline.

    Examples
    --------
    >>> df = pd.DataFrame({"density": ["0.10", "0.01"], "share": ["12%", "3%"]})
    >>> print(markdown_table(df, as_text=True))
    | density | share |
    |-----------|---------|
    | 0.10 | 12% |
    | 0.01 | 3% |
    """
    if as_text:
        options = {"disable_numparse": True, "stralign": None, **options}
    return df.to_markdown(index=index, **options)


def interval(value: float, low: float, high: float, fmt: str = "{:.2f}", *,
             label: str = "") -> str:
    """An estimate with its interval as the chapters write it: ``0.42 (0.40–0.44)``.

    Parameters
    ----------
    value, low, high : float
        The estimate and its interval's ends.
    fmt : str
        Format of each number, e.g. ``"{:.0%}"`` for a share or ``"{:,.0f}"`` for a step.
    label : str
        Words before the interval inside the brackets, e.g. ``"95% interval"``.

    Returns
    -------
    str

    Examples
    --------
    >>> interval(0.4213, 0.4011, 0.4432)
    '0.42 (0.40–0.44)'
    >>> interval(0.5, 0.31, 0.69, "{:.0%}")
    '50% (31%–69%)'
    >>> interval(0.62, 0.6, 0.65, label="95% interval")
    '0.62 (95% interval 0.60–0.65)'
    """
    ends = f"{fmt.format(low)}–{fmt.format(high)}"
    return f"{fmt.format(value)} ({f'{label} ' if label else ''}{ends})"


def downloads(label: str, data: pd.DataFrame | Mapping[str, object], *,
              runs: Sequence[str] | None = None,
              names: Mapping[str, str] | None = None) -> str:
    """The Markdown of a figure's "Downloads for @fig-…" block: a link to every file
    ``superposition figures export`` writes for it (:func:`superposition_lib.figures.export`),
    relative to the chapter's page, and how to regenerate them.

    Parameters
    ----------
    label : str
        The figure's label, registered with :func:`~superposition_lib.book.registry.figure`;
        its chapter names the folder ``figures/CHAPTER/``.
    data : DataFrame or mapping of str to DataFrame
        The figure's data as its builder returns it: one CSV per key (``LABEL-KEY.csv``), or
        ``LABEL.csv`` for a single DataFrame. Only the keys are read.
    runs : sequence of str, optional
        The experiments the figure draws. Given, the block ends with the commands that train
        them and export the chapter's figures (only the export if the sequence is empty);
        omitted, it names no command (the chapter says it once for all its figures).
    names : mapping of str to str, optional
        What a data link calls a key, where the key is not what a reader should see (e.g.
        ``{"gram": "WᵀW"}``). A figure with several frames names each; one with a single frame
        is "data (CSV)" unless ``names`` names it.

    Returns
    -------
    str
        Markdown, one link per line, ``·`` between them.

    Raises
    ------
    KeyError
        If no builder is registered under ``label``.

    Examples
    --------
    >>> print(downloads("fig-intro", {"features": None, "gram": None},
    ...                 runs=["intro-linear", "intro-relu"], names={"gram": "WᵀW"}))
    Downloads for @fig-intro:
    [data (features, CSV)](figures/toy-model/fig-intro-features.csv) ·
    [data (WᵀW, CSV)](figures/toy-model/fig-intro-gram.csv) ·
    [PNG](figures/toy-model/fig-intro.png) ·
    [SVG](figures/toy-model/fig-intro.svg) ·
    [Vega-Lite spec](figures/toy-model/fig-intro.vl.json) ·
    [standalone page](figures/toy-model/fig-intro.html).
    Regenerate with `superposition run intro-linear intro-relu --profile paper` and
    `superposition figures export --chapter toy-model`.
    >>> print(downloads("fig-basic", pd.DataFrame()).splitlines()[1])
    [data (CSV)](figures/toy-model/fig-basic.csv) ·
    """
    if label not in FIGURES:
        raise KeyError(f"no figure {label!r} is registered")
    chapter = FIGURES[label].chapter
    folder = f"figures/{chapter}/"
    files = csv_names(label, data)
    named = {**{key: key for key in files if len(files) > 1}, **(names or {})}
    links = [(f"data ({named[key]}, CSV)" if key in named else "data (CSV)", folder + file)
             for key, file in files.items()]
    links += [(kind, f"{folder}{label}{suffix}") for kind, suffix in FORMATS.items()]
    lines = [f"Downloads for @{label}:",
             *(f"[{text}]({path})" + (" ·" if i < len(links) - 1 else ".")
               for i, (text, path) in enumerate(links))]
    export = f"`superposition figures export --chapter {chapter}`"
    if runs:
        lines += [f"Regenerate with `superposition run {' '.join(runs)} --profile paper` and",
                  f"{export}."]
    elif runs is not None:
        lines.append(f"Regenerate with {export}.")
    return "\n".join(lines)
