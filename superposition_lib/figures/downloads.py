"""A figure's downloads: standalone offline HTML, SVG, PNG, Vega-Lite JSON and its data as CSV."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import altair as alt
import pandas as pd

from .theme import THEME

__all__ = ["FORMATS", "chart_svg", "csv_names", "export"]

#: The files :func:`export` writes for a figure besides its data: what a reader calls each, and
#: the suffix after the figure's name.
FORMATS = {"PNG": ".png", "SVG": ".svg", "Vega-Lite spec": ".vl.json",
           "standalone page": ".html"}


def chart_svg(chart: alt.TopLevelMixin) -> str:
    """Render a chart to SVG with vl-convert (no browser, no network).

    Parameters
    ----------
    chart : altair.TopLevelMixin

    Returns
    -------
    str
        The SVG document.

    Examples
    --------
    >>> chart_svg(alt.Chart(pd.DataFrame({"x": [1]})).mark_point().encode(x="x:Q"))[:4]
    '<svg'
    """
    import vl_convert as vlc

    return vlc.vegalite_to_svg(chart.to_json(), vl_version=_vl_version())


def _vl_version() -> str:
    major, minor = alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]
    return f"{major}.{minor}"


def csv_names(name: str, data) -> dict[str, str]:
    """The CSV file :func:`export` writes for each frame of a figure's data.

    Parameters
    ----------
    name : str
        The figure's file stem, e.g. ``"fig-intro"``.
    data : DataFrame or mapping of str to DataFrame
        The data (only the keys of a mapping are read).

    Returns
    -------
    dict of str to str
        Key (``""`` for a single DataFrame) -> file name.

    Examples
    --------
    >>> csv_names("fig-intro", {"features": None, "gram": None})
    {'features': 'fig-intro-features.csv', 'gram': 'fig-intro-gram.csv'}
    >>> csv_names("fig-basic", pd.DataFrame())
    {'': 'fig-basic.csv'}
    """
    keys = [""] if isinstance(data, pd.DataFrame) else list(data)
    return {key: f"{name}-{key}.csv" if key else f"{name}.csv" for key in keys}


def export(chart: alt.TopLevelMixin, data: pd.DataFrame | Mapping[str, pd.DataFrame], name: str,
           out_dir: str | os.PathLike, *, static: alt.TopLevelMixin | None = None) -> list[Path]:
    """Write a figure as offline HTML, SVG, PNG, Vega-Lite JSON and its data as CSV.

    Every file is drawn with the house theme
    (:func:`~superposition_lib.figures.theme.theme`), as the book shows the figure.

    Parameters
    ----------
    chart : altair chart
        The figure.
    data : DataFrame or mapping of str to DataFrame
        The tidy data behind it; a mapping writes one CSV per entry (``NAME-KEY.csv``).
    name : str
        File stem, e.g. ``"fig-intro"``.
    out_dir : path
        Directory to write into (created if needed).
    static : altair chart, optional
        What SVG and PNG show instead of ``chart`` (e.g. small multiples of every slider
        position, which a static image of an interactive chart cannot show).

    Returns
    -------
    list of Path
        The files written: ``NAME.html`` (standalone, with the Vega JavaScript inlined),
        ``NAME.svg``, ``NAME.png``, ``NAME.vl.json`` and the CSV file(s).

    Examples
    --------
    >>> import tempfile
    >>> df = pd.DataFrame({"x": [0, 1], "y": [1, 0]})
    >>> paths = export(alt.Chart(df).mark_line().encode(x="x:Q", y="y:Q"), df, "demo",
    ...                tempfile.mkdtemp())
    >>> sorted(p.suffix for p in paths)
    ['.csv', '.html', '.json', '.png', '.svg']
    """
    import vl_convert as vlc

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}{FORMATS[kind]}"
             for kind in ("standalone page", "SVG", "PNG", "Vega-Lite spec")]
    with alt.theme.enable(THEME):  # the downloads look like the book's figures
        spec = chart.to_json()
        static_spec = spec if static is None else static.to_json()
        chart.save(str(paths[0]), inline=True, embed_options={"renderer": "svg"})
    vl = _vl_version()
    paths[1].write_text(vlc.vegalite_to_svg(static_spec, vl_version=vl), encoding="utf-8")
    paths[2].write_bytes(vlc.vegalite_to_png(static_spec, vl_version=vl, scale=2))
    paths[3].write_text(spec, encoding="utf-8")
    frames = {"": data} if isinstance(data, pd.DataFrame) else dict(data)
    for key, file in csv_names(name, data).items():
        path = out / file
        frames[key].to_csv(path, index=False)
        paths.append(path)
    return paths
