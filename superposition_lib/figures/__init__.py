"""Altair figures of the book: one house theme, one function per figure, offline export.

Every figure function takes tidy :class:`pandas.DataFrame` objects (as produced by the
``superposition_lib.experiments`` modules) and returns an Altair chart. This package never
imports the experiments: :mod:`superposition_lib.book`, the layer above both, computes each
figure's frames and draws them. Each chapter's figures live in a submodule of the same name
(:mod:`~superposition_lib.figures.toy_model`,
:mod:`~superposition_lib.figures.uniform_geometry`,
:mod:`~superposition_lib.figures.phase_change`,
:mod:`~superposition_lib.figures.pca_vs_superposition`,
:mod:`~superposition_lib.figures.learning_dynamics`,
:mod:`~superposition_lib.figures.continuous_features`,
:mod:`~superposition_lib.figures.privileged_basis`,
:mod:`~superposition_lib.figures.adversarial`) and are re-exported here. This module holds what
they share. Charts need no network:

- :func:`setup` (called once at the top of every chapter) enables the house theme and a renderer
  that writes ``<div id=…></div><script>vegaEmbed(…)</script>`` and loads vl-convert's Vega
  JavaScript bundle once per page (per kernel) from :data:`BUNDLE_SRC`, a file of the site that
  :func:`superposition_lib.book.export_chapter_figures` writes, so a rendered Quarto page draws
  its charts without a CDN (the bundle is one file for all pages, not 0.9 MB inlined into each);
- :func:`export` writes a figure as standalone offline HTML, SVG, PNG, its Vega-Lite JSON and its
  data as CSV, so it can be cited and re-plotted.

Examples
--------
>>> import pandas as pd
>>> features = pd.DataFrame({"model": "ReLU", "instance": 0, "density": 1.0, "feature": [0, 1],
...                          "importance": [1.0, 0.9], "norm": [1.0, 0.0],
...                          "superposition": [0.0, 0.0], "bias": [0.0, 0.5]})
>>> gram = pd.DataFrame({"model": "ReLU", "instance": 0, "density": 1.0, "i": [0, 0, 1, 1],
...                      "j": [0, 1, 0, 1], "value": [1.0, 0.0, 0.0, 0.0]})
>>> chart = basic_results(features, gram)
>>> chart.to_dict(validate=True)["$schema"].startswith("https://vega.github.io/schema/vega-lite")
True
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path

import altair as alt
import pandas as pd

from ..core.files import write_text_atomic

__all__ = [
    "BUNDLE",
    "BUNDLE_SRC",
    "FIGURE_STYLE",
    "RENDERER",
    "SPACED_LEGEND",
    "THEME",
    "adversarial_training",
    "basic_results",
    "best_of_n_heatmap",
    "candidate_diagram",
    "cell_heatmaps",
    "cell_selections",
    "chart_svg",
    "collapse_curve",
    "direction_grid",
    "export",
    "gram_heatmaps",
    "intro_geometry",
    "intro_geometry_static",
    "jump_chart",
    "jump_statistics",
    "metric_color",
    "neuron_bars",
    "neuron_bars_static",
    "neuron_counts",
    "pentagon_transition",
    "phase_diagram",
    "polytope_mix_chart",
    "raw_html",
    "renderer",
    "ring_map",
    "setup",
    "share_selections",
    "split_cells",
    "stage_explorer",
    "stage_paths",
    "superposition_over_training",
    "theme",
    "tradeoff_map",
    "uniform_dimensionality",
    "vulnerability_scatter",
    "vulnerability_sweep",
    "width_profile",
    "write_bundle",
]

#: Name of the registered house theme.
THEME = "superposition"
#: Name of the registered offline renderer.
RENDERER = "superposition_offline"
#: File name of the Vega JavaScript bundle (vega, vega-lite and vega-embed) written by
#: :func:`write_bundle` into the root of the figure downloads.
BUNDLE = "vega-bundle.js"
#: Where a chapter page loads the bundle from, relative to the page: the book's pages live in
#: ``chapters/`` and its downloads in ``chapters/figures/`` (Quarto's pre-render step).
BUNDLE_SRC = f"figures/{BUNDLE}"
#: Style of every chart's box: never wider than its column; a wider chart (on a phone) scrolls
#: inside its own box instead of widening the page.
FIGURE_STYLE = "max-width:100%;overflow-x:auto"
#: Legend of categories named by identifiers: their names with spaces for underscores
#: ("not_represented" shows as "not represented"); the data keep the identifiers.
SPACED_LEGEND = alt.Legend(labelExpr="replace(datum.label, /_/g, ' ')")

_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"


def theme() -> dict:
    """The house theme: fonts, sizes and a quiet frame, as a Vega-Lite config.

    Examples
    --------
    >>> theme()["config"]["view"]["stroke"] is None
    True
    """
    return {"config": {
        "font": _FONT,
        "view": {"stroke": None, "continuousWidth": 300, "continuousHeight": 220},
        # labels closer than 3 px are thinned out (a browser's text boxes are taller than Vega's
        # estimate), and so are the labels of a crowded discrete axis (every other one kept)
        "axis": {"labelFontSize": 11, "titleFontSize": 12, "titleFontWeight": "normal",
                 "gridColor": "#e8e8e8", "domainColor": "#888", "tickColor": "#888",
                 "labelSeparation": 3},
        "axisDiscrete": {"labelOverlap": "parity"},
        "header": {"labelFontSize": 12, "titleFontSize": 12},
        # legend text is never cut short with an ellipsis (a long title is split into lines)
        "legend": {"labelFontSize": 11, "titleFontSize": 12, "titleFontWeight": "normal",
                   "labelLimit": 0, "titleLimit": 0},
        "title": {"fontSize": 14, "fontWeight": "normal", "anchor": "start"},
        "range": {"category": ["#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951",
                               "#ff8ab7", "#a463f2", "#97bbf5", "#9c6b4e", "#9498a0"]},
    }}


alt.theme.register(THEME, enable=False)(theme)

_bundle_done = False


def renderer(spec: dict, **metadata) -> dict:
    """Altair renderer emitting a ``div`` and a ``vegaEmbed`` call, with no network.

    The first chart of a kernel (a page) also loads the Vega JavaScript bundle from
    :data:`BUNDLE_SRC` (see :func:`write_bundle`), which defines ``vegaEmbed``; later charts
    reuse it. The HTML comes as a Pandoc raw HTML block inside a ``text/markdown`` output:
    Quarto adds require.js and jQuery from CDNs to every page with a ``text/html`` output
    (for Jupyter widgets), which a page of this book neither needs nor may load offline.

    Parameters
    ----------
    spec : dict
        A Vega-Lite specification.
    **metadata
        Renderer options passed by Altair (unused).

    Returns
    -------
    dict
        A MIME bundle with one ``text/markdown`` entry (see :func:`raw_html`).

    Examples
    --------
    >>> out = renderer({"mark": "point"})["text/markdown"]
    >>> out.startswith("```{=html}") and "vegaEmbed(" in out and out.count("<div id=") == 1
    True
    """
    global _bundle_done
    div = f"vis-{uuid.uuid4().hex[:12]}"
    parts = []
    if not _bundle_done:
        parts.append(f'<script type="text/javascript" src="{BUNDLE_SRC}"></script>')
        _bundle_done = True
    payload = json.dumps(spec).replace("</", "<\\/")
    parts.append(f'<div id="{div}" class="superposition-figure" style="{FIGURE_STYLE}"></div>')
    parts.append(
        '<script type="text/javascript">(function(){'
        f'var el=document.getElementById("{div}");\n'
        f'var spec={payload};\n'
        'function draw(){window.vegaEmbed(el,spec,{"renderer":"svg","actions":{"export":true,'
        '"source":false,"compiled":false,"editor":false}}).catch(function(e){'
        'el.textContent="Chart error: "+e;console.error(e);});}'
        'if(window.vegaEmbed){draw();}else{window.addEventListener("load",draw);}'
        '})();</script>')
    return {"text/markdown": raw_html("\n".join(parts))}


def raw_html(html: str) -> str:
    """``html`` as a Pandoc raw HTML block, fenced by more backticks than it holds in a row.

    Parameters
    ----------
    html : str
        The HTML to pass through Pandoc untouched.

    Returns
    -------
    str
        The fenced block, ready for a ``text/markdown`` output.

    Examples
    --------
    >>> print(raw_html("<b>x</b>"))
    ```{=html}
    <b>x</b>
    ```
    >>> raw_html("<pre>````</pre>").startswith("`````{=html}")
    True
    """
    longest = max((len(run) for run in re.findall(r"`+", html)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{{=html}}\n{html}\n{fence}"


alt.renderers.register(RENDERER, renderer)


def setup(*, bundle: bool = True) -> None:
    """Enable the house theme and the offline renderer; call once at the top of a chapter.

    Parameters
    ----------
    bundle : bool
        Whether the next chart should load the Vega JavaScript bundle (True: a new page).

    Examples
    --------
    >>> setup()
    >>> alt.renderers.active == RENDERER and alt.theme.active == THEME
    True
    """
    global _bundle_done
    alt.theme.enable(THEME)
    alt.renderers.enable(RENDERER)
    _bundle_done = not bundle


def write_bundle(out_dir: str | os.PathLike) -> Path:
    """Write the Vega JavaScript bundle that chapter pages load (:data:`BUNDLE`).

    Parameters
    ----------
    out_dir : path
        Directory to write into (created if needed); the site's ``chapters/figures/``.

    Returns
    -------
    Path
        ``out_dir / BUNDLE``; rewritten only when its content changed.

    Examples
    --------
    >>> import tempfile
    >>> path = write_bundle(tempfile.mkdtemp())
    >>> path.name, "vegaEmbed" in path.read_text(encoding="utf-8")
    ('vega-bundle.js', True)
    """
    import vl_convert as vlc

    path = Path(out_dir) / BUNDLE
    text = vlc.javascript_bundle()
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_text_atomic(path, text)
    return path


# ------------------------------------------------------------------------------ export
def share_selections(chart: alt.TopLevelMixin, views: list[str],
                     *selections: alt.Parameter) -> alt.TopLevelMixin:
    """Make point selections shared by several views of a compound chart.

    A selection defined on one view of a concatenated chart lives only there; to let a click or
    hover in any of several views (e.g. linked heatmaps of the same cells) drive it, it must be
    a top-level parameter that lists those views. Each view must be named (``name=`` in
    ``properties``) and must not add the selection itself.

    Parameters
    ----------
    chart : altair.TopLevelMixin
        The compound chart; its ``params`` are replaced.
    views : list of str
        Names of the views the selections listen on.
    *selections : altair.Parameter
        Selections from ``alt.selection_point`` (their ``value`` is kept).

    Returns
    -------
    altair.TopLevelMixin
        ``chart``, modified in place.

    Examples
    --------
    >>> pick = alt.selection_point(name="pick", fields=["cell"])
    >>> df = pd.DataFrame({"cell": [0, 1]})
    >>> a = alt.Chart(df).mark_point().encode(x="cell:O").properties(name="a")
    >>> b = alt.Chart(df).mark_point().encode(y="cell:O").properties(name="b")
    >>> spec = share_selections(alt.hconcat(a, b), ["a", "b"], pick).to_dict()
    >>> spec["params"][0]["name"], spec["params"][0]["views"]
    ('pick', ['a', 'b'])
    """
    chart.params = [
        alt.TopLevelSelectionParameter(
            name=s.name, select=s.param.select, views=views,
            **({} if s.param.value is alt.Undefined else {"value": s.param.value}))
        for s in selections]
    return chart


def metric_color(field: str, scheme: str, domain=None, *,
                 ratio_ticks=(0.2, 0.5, 1, 2, 5)) -> alt.Color:
    """Colour encoding of a continuous per-cell metric, with its legend on the right.

    Parameters
    ----------
    field : str
        A quantitative column.
    scheme : str
        A Vega colour scheme; ``"redblue"`` marks a ratio to a reference, drawn on a log scale
        symmetric around 1 with blue below 1 (a gain over the reference).
    domain : list of float, optional
        Fixed domain (ignored for ratios).
    ratio_ticks : tuple of float
        Legend values of a ratio; the first and last are its clamped domain.

    Returns
    -------
    altair.Color

    Examples
    --------
    >>> metric_color("loss_vs_pca", "redblue").to_dict()["scale"]["type"]
    'log'
    """
    if scheme == "redblue":
        scale = alt.Scale(type="log", scheme="redblue", reverse=True, domainMid=1.0,
                          domain=[ratio_ticks[0], ratio_ticks[-1]], clamp=True)
        legend = alt.Legend(orient="right", gradientLength=110, values=list(ratio_ticks))
    else:
        scale = alt.Scale(scheme=scheme, **({"domain": domain} if domain else {}))
        legend = alt.Legend(orient="right", gradientLength=110)
    return alt.Color(f"{field}:Q", scale=scale, title=None, legend=legend)


def cell_selections(name: str, first: int) -> tuple[alt.Parameter, alt.Parameter, str]:
    """The click and hover selections of a grid of cells, and which cell a linked view shows.

    Parameters
    ----------
    name : str
        Prefix of the selections' names (unique within the page).
    first : int
        The cell selected before any click.

    Returns
    -------
    pick : altair.Parameter
        Click selection of a ``cell`` (kept when the pointer leaves).
    hover : altair.Parameter
        Hover selection of a ``cell`` (empty when the pointer is off the grid).
    shown : str
        A Vega expression for ``transform_filter``: true for the hovered cell while the
        pointer is on the grid, else for the clicked one.

    Examples
    --------
    >>> pick, hover, shown = cell_selections("demo", 3)
    >>> pick.name, hover.name, "demo_hover_store" in shown
    ('demo_pick', 'demo_hover', True)
    """
    pick = alt.selection_point(name=f"{name}_pick", fields=["cell"], on="click", clear=False,
                               value=[{"cell": first}])
    hover = alt.selection_point(name=f"{name}_hover", fields=["cell"], on="pointerover",
                                clear="pointerout", empty=False)
    shown = (f"length(data('{name}_hover_store')) ? vlSelectionTest('{name}_hover_store', datum)"
             f" : vlSelectionTest('{name}_pick_store', datum)")
    return pick, hover, shown


def cell_heatmaps(data: pd.DataFrame, panels, *, x: alt.X, y: alt.Y, tooltip: list,
                  pick: alt.Parameter, name: str, width: int, height: int
                  ) -> tuple[list[alt.Chart], list[str]]:
    """Heatmaps of the same grid cells, one per colour, with the picked cell outlined.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per cell.
    panels : list of (altair.Color, str)
        Each heatmap's colour encoding and title.
    x, y : altair.X, altair.Y
        The grid's axes.
    tooltip : list
        Tooltip fields, shared by all heatmaps.
    pick : altair.Parameter
        A point selection of cells; the selected cell is outlined. Add it (and any other
        selection on the heatmaps) with :func:`share_selections`.
    name : str
        Prefix of the views' names.
    width, height : int
        Size of every heatmap.

    Returns
    -------
    charts : list of altair.Chart
    views : list of str
        The charts' names, for :func:`share_selections`.

    Examples
    --------
    >>> df = pd.DataFrame({"cell": [0, 1], "a": [0, 1], "v": [0.5, 2.0]})
    >>> pick = alt.selection_point(name="p", fields=["cell"])
    >>> charts, views = cell_heatmaps(df, [(metric_color("v", "redblue"), "ratio")],
    ...     x=alt.X("a:O"), y=alt.Y("cell:O"), tooltip=["v:Q"], pick=pick, name="demo",
    ...     width=100, height=80)
    >>> views
    ['demo_0']
    """
    charts, views = [], []
    for color, title in panels:
        views.append(f"{name}_{len(views)}")
        charts.append(alt.Chart(data).mark_rect().encode(
            x=x, y=y, color=color, tooltip=tooltip,
            stroke=alt.condition(pick, alt.value("#1f1f1f"), alt.value(None)),
            strokeWidth=alt.condition(pick, alt.value(2.5), alt.value(0)),
        ).properties(width=width, height=height, title=title, name=views[-1]))
    return charts, views


def split_cells(data: pd.DataFrame, *, x: alt.X, y: alt.Y, tooltip: list) -> alt.Chart:
    """A dot on every grid cell whose seeds split their vote (column ``share`` < 1), to layer
    over a heatmap of majority votes drawn with the same ``x`` and ``y``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per cell, with ``share`` (the majority's fraction of the seeds).
    x, y : altair.X, altair.Y
        The heatmap's axes.
    tooltip : list
        Tooltip fields (the heatmap's, so hovering a dot shows the cell).

    Returns
    -------
    altair.Chart

    Examples
    --------
    >>> df = pd.DataFrame({"a": [0, 1], "b": [0, 0], "share": [1.0, 2 / 3]})
    >>> split_cells(df, x=alt.X("a:O"), y=alt.Y("b:O"), tooltip=["share:Q"]).mark.type
    'point'
    """
    return alt.Chart(data).transform_filter("datum.share < 1").mark_point(
        shape="circle", size=16, filled=True, color="#1f1f1f", opacity=0.8).encode(
        x=x, y=y, tooltip=tooltip)


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


def export(chart: alt.TopLevelMixin, data: pd.DataFrame | Mapping[str, pd.DataFrame], name: str,
           out_dir: str | os.PathLike, *, static: alt.TopLevelMixin | None = None) -> list[Path]:
    """Write a figure as offline HTML, SVG, PNG, Vega-Lite JSON and its data as CSV.

    Every file is drawn with the house theme (:func:`theme`), as the book shows the figure.

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
    paths = [out / f"{name}.html", out / f"{name}.svg", out / f"{name}.png",
             out / f"{name}.vl.json"]
    with alt.theme.enable(THEME):  # the downloads look like the book's figures
        spec = chart.to_json()
        static_spec = spec if static is None else static.to_json()
        chart.save(str(paths[0]), inline=True, embed_options={"renderer": "svg"})
    vl = _vl_version()
    paths[1].write_text(vlc.vegalite_to_svg(static_spec, vl_version=vl), encoding="utf-8")
    paths[2].write_bytes(vlc.vegalite_to_png(static_spec, vl_version=vl, scale=2))
    paths[3].write_text(spec, encoding="utf-8")
    frames = {"": data} if isinstance(data, pd.DataFrame) else dict(data)
    for key, df in frames.items():
        path = out / (f"{name}-{key}.csv" if key else f"{name}.csv")
        df.to_csv(path, index=False)
        paths.append(path)
    return paths


# The chapters' figures (imported last: some import share_selections from this module).
from .adversarial import adversarial_training, vulnerability_scatter, vulnerability_sweep
from .continuous_features import ring_map, width_profile
from .learning_dynamics import (
    jump_chart,
    jump_statistics,
    stage_explorer,
    stage_paths,
    superposition_over_training,
)
from .pca_vs_superposition import collapse_curve, direction_grid, gram_heatmaps, tradeoff_map
from .phase_change import candidate_diagram, phase_diagram
from .privileged_basis import (best_of_n_heatmap, neuron_bars, neuron_bars_static,
                               neuron_counts)
from .toy_model import basic_results, intro_geometry, intro_geometry_static
from .uniform_geometry import (
    pentagon_transition,
    polytope_mix_chart,
    uniform_dimensionality,
)
