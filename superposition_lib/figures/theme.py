"""The book's house theme for Altair charts: fonts, sizes, colours and shared encodings."""

from __future__ import annotations

import altair as alt

__all__ = ["FIGURE_STYLE", "SPACED_LEGEND", "THEME", "theme"]

#: Name of the registered house theme.
THEME = "superposition"
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
