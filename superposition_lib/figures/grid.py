"""Building blocks shared by the chapters' charts: linked selections, colour scales and grids
of heatmap cells."""

from __future__ import annotations

import altair as alt
import pandas as pd

__all__ = ["cell_heatmaps", "cell_selections", "metric_color", "share_selections", "split_cells"]


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
