"""Altair figures of the book: one house theme, one function per figure, offline export.

Every figure function takes tidy :class:`pandas.DataFrame` objects (as produced by the
``superposition_lib.experiments`` modules) and returns an Altair chart. Charts need no network:

- :func:`setup` (called once at the top of every chapter) enables the house theme and a renderer
  that writes ``<div id=…></div><script>vegaEmbed(…)</script>`` and includes vl-convert's Vega
  JavaScript bundle once per page (per kernel), so a rendered Quarto page draws its charts from
  the page itself, not from a CDN;
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
import uuid
from collections.abc import Mapping
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd

__all__ = [
    "FIGURES_ENV",
    "RENDERER",
    "THEME",
    "basic_results",
    "candidate_diagram",
    "chart_svg",
    "export",
    "export_chapter_figures",
    "intro_geometry",
    "pentagon_transition",
    "phase_diagram",
    "polytope_mix_chart",
    "renderer",
    "setup",
    "theme",
    "uniform_dimensionality",
]

#: Name of the registered house theme.
THEME = "superposition"
#: Name of the registered offline renderer.
RENDERER = "superposition_offline"
#: Environment variable overriding where :func:`export_chapter_figures` writes by default.
FIGURES_ENV = "SUPERPOSITION_FIGURES"

_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
#: Diverging scale for WᵀW: blue negative, white zero, red positive (as in the paper).
_GRAM_SCALE = alt.Scale(scheme="redblue", domain=[-1, 1], reverse=True)
#: Superposition: black (none) to yellow (a lot), as in the paper.
_SUPERPOSITION_SCALE = alt.Scale(domain=[0, 1], range=["#1f1f1f", "#f2c14e"], clamp=True)


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
        "axis": {"labelFontSize": 11, "titleFontSize": 12, "titleFontWeight": "normal",
                 "gridColor": "#e8e8e8", "domainColor": "#888", "tickColor": "#888"},
        "header": {"labelFontSize": 12, "titleFontSize": 12},
        "legend": {"labelFontSize": 11, "titleFontSize": 12, "titleFontWeight": "normal"},
        "title": {"fontSize": 14, "fontWeight": "normal", "anchor": "start"},
        "range": {"category": ["#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951",
                               "#ff8ab7", "#a463f2", "#97bbf5", "#9c6b4e", "#9498a0"]},
    }}


alt.theme.register(THEME, enable=False)(theme)

_bundle_done = False


def renderer(spec: dict, **metadata) -> dict:
    """Altair renderer emitting a ``div`` and a ``vegaEmbed`` call, with no network.

    The first chart of a kernel (a page) also carries vl-convert's JavaScript bundle, which
    defines ``vegaEmbed``; later charts reuse it.

    Parameters
    ----------
    spec : dict
        A Vega-Lite specification.
    **metadata
        Renderer options passed by Altair (unused).

    Returns
    -------
    dict
        A MIME bundle with a ``text/html`` entry.

    Examples
    --------
    >>> out = renderer({"mark": "point"})["text/html"]
    >>> "vegaEmbed(" in out and out.count("<div id=") == 1
    True
    """
    global _bundle_done
    div = f"vis-{uuid.uuid4().hex[:12]}"
    parts = []
    if not _bundle_done:
        import vl_convert as vlc

        parts.append(f'<script type="text/javascript">{vlc.javascript_bundle()}</script>')
        _bundle_done = True
    payload = json.dumps(spec).replace("</", "<\\/")
    parts.append(f'<div id="{div}" class="superposition-figure"></div>')
    parts.append(
        '<script type="text/javascript">(function(){'
        f'var el=document.getElementById("{div}");\n'
        f'var spec={payload};\n'
        'function draw(){window.vegaEmbed(el,spec,{"renderer":"svg","actions":{"export":true,'
        '"source":false,"compiled":false,"editor":false}}).catch(function(e){'
        'el.textContent="Chart error: "+e;console.error(e);});}'
        'if(window.vegaEmbed){draw();}else{window.addEventListener("load",draw);}'
        '})();</script>')
    return {"text/html": "\n".join(parts)}


alt.renderers.register(RENDERER, renderer)


def setup(*, bundle: bool = True) -> None:
    """Enable the house theme and the offline renderer; call once at the top of a chapter.

    Parameters
    ----------
    bundle : bool
        Whether the next chart should include the Vega JavaScript bundle (True: a new page).

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


# ------------------------------------------------------------------------------ figures
def _fmt_density(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["1−S"] = df["density"].map(lambda d: f"{d:.3g}")
    return df


def intro_geometry(features: pd.DataFrame, gram: pd.DataFrame) -> alt.Chart:
    """Five features in two dimensions across densities: W_i as arrows and WᵀW, with a slider.

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`~superposition_lib.experiments.toy_model.feature_frame` of m = 2 models: columns
        ``model``, ``instance``, ``density``, ``feature``, ``importance``, ``norm``,
        ``superposition``, ``bias``, ``w0``, ``w1``.
    gram : pandas.DataFrame
        :func:`~superposition_lib.experiments.toy_model.gram_frame` of the same runs.

    Returns
    -------
    altair.VConcatChart
        One column per model kind (linear, ReLU): feature directions on top, WᵀW below; a
        slider picks the density (instance 0 is the densest).

    Examples
    --------
    >>> f = pd.DataFrame({"model": "ReLU", "instance": [0, 0], "density": 1.0, "feature": [0, 1],
    ...                   "importance": [1.0, 0.9], "norm": [1.0, 1.0], "superposition": 0.0,
    ...                   "bias": 0.0, "w0": [1.0, 0.0], "w1": [0.0, 1.0]})
    >>> g = pd.DataFrame({"model": "ReLU", "instance": 0, "density": 1.0, "i": [0, 0, 1, 1],
    ...                   "j": [0, 1, 0, 1], "value": [1.0, 0.0, 0.0, 1.0]})
    >>> chart = intro_geometry(f, g)
    >>> "params" in chart.to_dict(validate=True)
    True
    """
    n_inst = int(features["instance"].max()) + 1
    step = alt.param(name="density_step", value=0, bind=alt.binding_range(
        min=0, max=n_inst - 1, step=1, name="density step (0 = dense, 1 − S = 20^−t) "))
    feats = _fmt_density(features).round(4)
    gram = gram.round(4)
    feats["origin"] = 0.0
    lim = float(max(1.2, np.abs(feats[["w0", "w1"]].to_numpy()).max() * 1.1))
    scale = alt.Scale(domain=[-lim, lim])
    imp_scale = alt.Scale(scheme="viridis", reverse=True)
    tip = [alt.Tooltip("model:N"), alt.Tooltip("feature:O"),
           alt.Tooltip("importance:Q", format=".3f"), alt.Tooltip("1−S:N"),
           alt.Tooltip("norm:Q", format=".3f", title="‖W_i‖"),
           alt.Tooltip("superposition:Q", format=".3f"),
           alt.Tooltip("bias:Q", format=".3f", title="b_i"),
           alt.Tooltip("w0:Q", format=".3f"), alt.Tooltip("w1:Q", format=".3f")]
    models = [m for m in ("linear", "ReLU") if m in set(feats["model"])]
    columns = []
    for model in models:
        sel = feats[feats["model"] == model]
        base = alt.Chart(sel).transform_filter(alt.datum.instance == step)
        arrows = base.mark_rule(strokeWidth=2).encode(
            x=alt.X("origin:Q", scale=scale, title="hidden dim 1"),
            y=alt.Y("origin:Q", scale=scale, title="hidden dim 2"),
            x2="w0:Q", y2="w1:Q",
            color=alt.Color("importance:Q", scale=imp_scale, title="importance"),
            tooltip=tip)
        heads = base.mark_circle(size=80, opacity=1).encode(
            x=alt.X("w0:Q", scale=scale), y=alt.Y("w1:Q", scale=scale),
            color=alt.Color("importance:Q", scale=imp_scale), tooltip=tip)
        label = base.transform_aggregate(d="max(density)").mark_text(
            align="left", baseline="top", fontSize=12, dx=4, dy=4).encode(
            x=alt.value(0), y=alt.value(0),
            text=alt.Text("d:Q", format=".3f"))
        label = label.transform_calculate(t="'1 − S = ' + format(datum.d, '.3f')").encode(
            text="t:N")
        top = (arrows + heads + label).properties(
            width=220, height=220, title=f"{model}: feature directions W_i")
        g = gram[gram["model"] == model]
        heat = alt.Chart(g).transform_filter(alt.datum.instance == step).mark_rect().encode(
            x=alt.X("j:O", title="feature j"), y=alt.Y("i:O", title="feature i"),
            color=alt.Color("value:Q", scale=_GRAM_SCALE, title="WᵀW"),
            tooltip=[alt.Tooltip("i:O"), alt.Tooltip("j:O"),
                     alt.Tooltip("value:Q", format=".3f", title="W_i · W_j"),
                     alt.Tooltip("density:Q", format=".4f", title="1 − S")],
        ).properties(width=220, height=220, title=f"{model}: WᵀW")
        columns.append(alt.vconcat(top, heat).resolve_scale(color="independent"))
    return alt.hconcat(*columns).add_params(step).resolve_scale(color="independent")


def intro_geometry_static(features: pd.DataFrame) -> alt.FacetChart:
    """Static companion of :func:`intro_geometry`: every density at once, for SVG and PNG.

    Parameters
    ----------
    features : pandas.DataFrame
        As for :func:`intro_geometry` (columns ``model``, ``density``, ``feature``,
        ``importance``, ``w0``, ``w1``).

    Returns
    -------
    altair.FacetChart
        Small multiples of the feature directions: one row per model kind, one column per
        density (dense on the left).

    Examples
    --------
    >>> f = pd.DataFrame({"model": "ReLU", "instance": 0, "density": 1.0, "feature": [0, 1],
    ...                   "importance": [1.0, 0.9], "w0": [1.0, 0.0], "w1": [0.0, 1.0]})
    >>> "facet" in intro_geometry_static(f).to_dict(validate=True)
    True
    """
    feats = features[["model", "density", "feature", "importance", "w0", "w1"]].round(4)
    feats = feats.assign(origin=0.0, **{"1−S": feats["density"].map(lambda d: f"{d:.3f}")})
    lim = float(max(1.2, np.abs(feats[["w0", "w1"]].to_numpy()).max() * 1.1))
    scale = alt.Scale(domain=[-lim, lim])
    color = alt.Color("importance:Q", scale=alt.Scale(scheme="viridis", reverse=True))
    base = alt.Chart().encode(color=color)
    arrows = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("origin:Q", scale=scale, title=None), y=alt.Y("origin:Q", scale=scale, title=None),
        x2="w0:Q", y2="w1:Q")
    heads = base.mark_circle(size=40, opacity=1).encode(
        x=alt.X("w0:Q", scale=scale), y=alt.Y("w1:Q", scale=scale))
    order = sorted(feats["1−S"].unique(), key=float, reverse=True)
    return alt.layer(arrows, heads, data=feats).properties(width=110, height=110).facet(
        row=alt.Row("model:N", title=None, sort=["linear", "ReLU"]),
        column=alt.Column("1−S:N", title="density 1 − S", sort=order))


def _panel(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["panel"] = np.where(df["model"] == "linear", "linear, 1−S = " +
                           df["density"].map(lambda d: f"{d:.3g}"),
                           "ReLU, 1−S = " + df["density"].map(lambda d: f"{d:.3g}"))
    return df


def basic_results(features: pd.DataFrame, gram: pd.DataFrame, *,
                  linear_density: float = 1.0) -> alt.VConcatChart:
    """n features in m dims across densities: WᵀW, bias b and ‖W_i‖ coloured by superposition.

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`~superposition_lib.experiments.toy_model.feature_frame` rows (columns ``model``,
        ``instance``, ``density``, ``feature``, ``importance``, ``norm``, ``superposition``,
        ``bias``); the linear model is shown only at ``linear_density`` (its solution does not
        depend on the density), the ReLU model at every density.
    gram : pandas.DataFrame
        :func:`~superposition_lib.experiments.toy_model.gram_frame` of the same runs.
    linear_density : float
        Density of the linear model to show.

    Returns
    -------
    altair.VConcatChart
        Three rows of small multiples (one column per model and density): WᵀW heatmaps, b, and
        ‖W_i‖ bars coloured by superposition; tooltips give the numbers.

    Examples
    --------
    >>> f = pd.DataFrame({"model": ["linear", "ReLU"], "instance": 0, "density": 1.0,
    ...                   "feature": 0, "importance": 1.0, "norm": 1.0, "superposition": 0.0,
    ...                   "bias": 0.0})
    >>> g = pd.DataFrame({"model": ["linear", "ReLU"], "instance": 0, "density": 1.0, "i": 0,
    ...                   "j": 0, "value": 1.0})
    >>> len(basic_results(f, g).to_dict()["vconcat"])
    3
    """
    keep = lambda df: df[(df["model"] != "linear")
                         | np.isclose(df["density"], linear_density)]
    feats = _panel(keep(features))[["panel", "model", "density", "feature", "importance", "norm",
                                    "superposition", "bias"]].round(4)
    g = _panel(keep(gram))[["panel", "model", "density", "i", "j", "value"]].round(4)
    order = (feats.assign(lin=feats["model"] != "linear")
             .sort_values(["lin", "density"], ascending=[True, False])["panel"]
             .drop_duplicates().tolist())
    col = alt.Column("panel:N", sort=order, title=None,
                     header=alt.Header(labelFontSize=11, labelAngle=0, labelOrient="top"))
    width = 110
    heat = alt.Chart(g).mark_rect().encode(
        x=alt.X("j:O", title=None, axis=alt.Axis(labels=False, ticks=False)),
        y=alt.Y("i:O", title="feature", axis=alt.Axis(labelFontSize=8)),
        color=alt.Color("value:Q", scale=_GRAM_SCALE, title="WᵀW"),
        tooltip=[alt.Tooltip("panel:N", title="model"), "i:O", "j:O",
                 alt.Tooltip("value:Q", format=".3f", title="W_i · W_j")],
    ).properties(width=width, height=width).facet(column=col)
    feat_tip = [alt.Tooltip("panel:N", title="model"), alt.Tooltip("feature:O"),
                alt.Tooltip("importance:Q", format=".3f"),
                alt.Tooltip("norm:Q", format=".3f", title="‖W_i‖"),
                alt.Tooltip("superposition:Q", format=".3f"),
                alt.Tooltip("bias:Q", format=".3f", title="b_i")]
    bias = alt.Chart(feats).mark_bar().encode(
        y=alt.Y("feature:O", title="feature", axis=alt.Axis(labelFontSize=8)),
        x=alt.X("bias:Q", title="b_i"),
        color=alt.condition(alt.datum.bias < 0, alt.value("#4269d0"), alt.value("#ff725c")),
        tooltip=feat_tip,
    ).properties(width=width, height=width).facet(column=col)
    norms = alt.Chart(feats).mark_bar().encode(
        y=alt.Y("feature:O", title="feature", axis=alt.Axis(labelFontSize=8)),
        x=alt.X("norm:Q", title="‖W_i‖", scale=alt.Scale(domain=[0, 1.2], clamp=True)),
        color=alt.Color("superposition:Q", scale=_SUPERPOSITION_SCALE,
                        title="superposition"),
        tooltip=feat_tip,
    ).properties(width=width, height=width).facet(column=col)
    return alt.vconcat(heat, bias, norms).resolve_scale(color="independent")


# ------------------------------------------------------------------ uniform superposition
#: Polytope names in display order, with their colours.
_POLYTOPES = ["dedicated", "tetrahedron", "triangle", "digon", "pentagon", "square antiprism",
              "other"]
_POLYTOPE_SCALE = alt.Scale(domain=_POLYTOPES, range=["#1f1f1f", "#6cc5b0", "#3ca951",
                                                      "#4269d0", "#ff8ab7", "#a463f2",
                                                      "#9d9d9d"])
_REFERENCE = pd.DataFrame({"line": ["tetrahedron 3/4", "triangle 2/3", "digon 1/2",
                                    "pentagon 2/5", "square antiprism 3/8"],
                           "D": [3 / 4, 2 / 3, 1 / 2, 2 / 5, 3 / 8]})


def uniform_dimensionality(instances: pd.DataFrame, features: pd.DataFrame) -> alt.VConcatChart:
    """D* and every feature's D_i against 1/(1 − S), with reference lines; Σ D_i against m below.

    Parameters
    ----------
    instances : pandas.DataFrame
        :func:`~superposition_lib.experiments.uniform_geometry.instance_frame` (columns
        ``inverse_density``, ``d_star``, ``sum_d``, ``m``, ``n_represented``, ``loss``).
    features : pandas.DataFrame
        :func:`~superposition_lib.experiments.uniform_geometry.feature_frame` (columns
        ``inverse_density``, ``dimensionality``, ``represented``, ``polytope``); represented
        features are binned to D_i rounded to 0.01 so the chart stays small.

    Returns
    -------
    altair.VConcatChart
        Top: circles (area = number of features, colour = polytope; click the legend to isolate
        one) and the D* line, reference rules at 3/4, 2/3, 1/2, 2/5, 3/8. Bottom: Σ D_i with a
        rule at m. Tooltips give the numbers.

    Examples
    --------
    >>> inst = pd.DataFrame({"inverse_density": [1.0, 4.0], "d_star": [1.0, 0.5],
    ...                      "sum_d": [30.0, 29.0], "m": 30, "n_represented": [30, 60],
    ...                      "loss": [0.1, 0.05]})
    >>> feat = pd.DataFrame({"inverse_density": [1.0, 4.0], "dimensionality": [1.0, 0.5],
    ...                      "represented": True, "polytope": ["dedicated", "digon"]})
    >>> len(uniform_dimensionality(inst, feat).to_dict(validate=True)["vconcat"])
    2
    """
    rep = features[features["represented"]].copy()
    rep["D"] = rep["dimensionality"].round(2)
    pts = (rep.groupby(["inverse_density", "D", "polytope"]).size()
           .rename("features").reset_index())
    inst = instances.round(4)
    x = alt.X("inverse_density:Q", title="1/(1 − S)",
              scale=alt.Scale(type="log", domain=[1, 10], nice=False),
              axis=alt.Axis(values=[1, 1.5, 2, 3, 4, 5, 7, 10]))
    pick = alt.selection_point(fields=["polytope"], bind="legend")
    width = 560
    dots = alt.Chart(pts).mark_circle(opacity=0.7).encode(
        x=x, y=alt.Y("D:Q", title="D_i and D* (dimensions per feature)",
                     scale=alt.Scale(domain=[0, 1.05])),
        size=alt.Size("features:Q", title="features", scale=alt.Scale(range=[10, 400])),
        color=alt.Color("polytope:N", scale=_POLYTOPE_SCALE, title="polytope"),
        opacity=alt.condition(pick, alt.value(0.75), alt.value(0.05)),
        tooltip=[alt.Tooltip("inverse_density:Q", format=".3f", title="1/(1 − S)"),
                 alt.Tooltip("D:Q", format=".2f", title="D_i"), "polytope:N",
                 alt.Tooltip("features:Q", title="features")],
    ).add_params(pick)
    rules = alt.Chart(_REFERENCE).mark_rule(strokeDash=[4, 4], color="#888").encode(
        y="D:Q", tooltip=["line:N"])
    labels = alt.Chart(_REFERENCE).mark_text(align="left", dx=4, fontSize=10,
                                             color="#555").encode(
        y="D:Q", x=alt.value(width), text="line:N")
    star_tip = [alt.Tooltip("inverse_density:Q", format=".3f", title="1/(1 − S)"),
                alt.Tooltip("d_star:Q", format=".3f", title="D*"),
                alt.Tooltip("n_represented:Q", title="represented"),
                alt.Tooltip("loss:Q", format=".4g")]
    star = alt.Chart(inst).mark_line(color="black", point=alt.OverlayMarkDef(color="black"),
                                     strokeWidth=2).encode(x=x, y="d_star:Q", tooltip=star_tip)
    top = alt.layer(rules, labels, dots, star).properties(width=width, height=320)
    sums = alt.Chart(inst).mark_line(point=True, color="#4269d0").encode(
        x=x, y=alt.Y("sum_d:Q", title="Σ D_i", scale=alt.Scale(zero=True)),
        tooltip=[alt.Tooltip("inverse_density:Q", format=".3f", title="1/(1 − S)"),
                 alt.Tooltip("sum_d:Q", format=".2f", title="Σ D_i"), "m:Q"])
    m_rule = alt.Chart(inst).mark_rule(strokeDash=[4, 4], color="#ff725c").encode(
        y=alt.Y("max(m):Q"), tooltip=[alt.Tooltip("max(m):Q", title="m")])
    bottom = alt.layer(m_rule, sums).properties(width=width, height=120)
    return alt.vconcat(top, bottom)


def polytope_mix_chart(mix: pd.DataFrame, instances: pd.DataFrame) -> alt.VConcatChart:
    """How the represented features divide among polytopes as sparsity grows.

    Parameters
    ----------
    mix : pandas.DataFrame
        :func:`~superposition_lib.experiments.uniform_geometry.polytope_mix` (columns
        ``inverse_density``, ``polytope``, ``features``, ``fraction``, ``polytopes``,
        ``mean_d``).
    instances : pandas.DataFrame
        :func:`~superposition_lib.experiments.uniform_geometry.instance_frame`, for the count of
        represented features below.

    Returns
    -------
    altair.VConcatChart
        Stacked bars (one per density) of the fraction of represented features in each kind of
        polytope; below, the number of represented features. Hover for counts and mean D_i;
        click the legend to isolate a polytope.

    Examples
    --------
    >>> mix = pd.DataFrame({"inverse_density": [1.0, 4.0], "polytope": ["dedicated", "digon"],
    ...                     "features": [30, 60], "fraction": [1.0, 1.0], "polytopes": [30, 30],
    ...                     "mean_d": [1.0, 0.5]})
    >>> inst = pd.DataFrame({"inverse_density": [1.0, 4.0], "n_represented": [30, 60]})
    >>> "vconcat" in polytope_mix_chart(mix, inst).to_dict(validate=True)
    True
    """
    mix = mix.copy().round(4)
    mix["1/(1 − S)"] = mix["inverse_density"].map(lambda v: f"{v:.2f}")
    inst = instances.copy()
    inst["1/(1 − S)"] = inst["inverse_density"].map(lambda v: f"{v:.2f}")
    order = sorted(mix["1/(1 − S)"].unique(), key=float)
    pick = alt.selection_point(fields=["polytope"], bind="legend")
    x = alt.X("1/(1 − S):O", sort=order, title="1/(1 − S)")
    bars = alt.Chart(mix).mark_bar().encode(
        x=x, y=alt.Y("fraction:Q", title="fraction of represented features", stack="zero"),
        color=alt.Color("polytope:N", scale=_POLYTOPE_SCALE, sort=_POLYTOPES, title="polytope"),
        order=alt.Order("order:Q"),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15)),
        tooltip=["1/(1 − S):N", "polytope:N", alt.Tooltip("features:Q", title="features"),
                 alt.Tooltip("polytopes:Q", title="polytopes"),
                 alt.Tooltip("fraction:Q", format=".1%"),
                 alt.Tooltip("mean_d:Q", format=".3f", title="mean D_i")],
    ).transform_calculate(
        order=f"indexof({json.dumps(_POLYTOPES)}, datum.polytope)"
    ).add_params(pick).properties(width=560, height=260)
    count = alt.Chart(inst).mark_line(point=True, color="black").encode(
        x=alt.X("1/(1 − S):O", sort=order, title="1/(1 − S)"),
        y=alt.Y("n_represented:Q", title="represented"),
        tooltip=["1/(1 − S):N", alt.Tooltip("n_represented:Q", title="represented features")],
    ).properties(width=560, height=100)
    return alt.vconcat(bars, count)


def pentagon_transition(pentagon: pd.DataFrame) -> alt.HConcatChart:
    """Non-uniform pentagon: every restart's loss by geometry, and how the best model deforms.

    Parameters
    ----------
    pentagon : pandas.DataFrame
        :func:`~superposition_lib.experiments.uniform_geometry.pentagon_frame` (columns
        ``ratio``, ``loss``, ``geometry``, ``best``, ``norm4``, ``d4``, ``angle4``,
        ``restart``).

    Returns
    -------
    altair.HConcatChart
        Left: the loss of every restart (dots) and the lowest loss of each geometry (lines)
        against the varied feature's relative density (log x). Right: ‖W_4‖ and D_4 of the best
        model, and its angle to the nearest feature / 72°.

    Examples
    --------
    >>> df = pd.DataFrame({"ratio": [0.1, 0.1, 10.0], "loss": [0.02, 0.03, 0.05],
    ...                    "geometry": ["two digons", "pentagon", "pentagon"],
    ...                    "best": [True, False, True], "norm4": [0.0, 1.0, 1.0],
    ...                    "d4": [0.0, 0.4, 0.6], "angle4": [90.0, 60.0, 80.0],
    ...                    "restart": [0, 1, 0]})
    >>> len(pentagon_transition(df).to_dict(validate=True)["hconcat"])
    2
    """
    df = pentagon.copy()
    df = df[["ratio", "restart", "loss", "geometry", "best", "norm4", "d4", "angle4"]].round(5)
    x = alt.X("ratio:Q", title="density of feature 4 / density of the others",
              scale=alt.Scale(type="log"))
    colour = alt.Color("geometry:N", title="geometry",
                       scale=alt.Scale(domain=["pentagon", "two digons", "other"],
                                       range=["#ff8ab7", "#4269d0", "#9d9d9d"]))
    tip = [alt.Tooltip("ratio:Q", format=".3f"), "restart:O", "geometry:N",
           alt.Tooltip("loss:Q", format=".5f"), alt.Tooltip("norm4:Q", format=".3f",
                                                            title="‖W_4‖"),
           alt.Tooltip("angle4:Q", format=".1f", title="angle to nearest (°)")]
    dots = alt.Chart(df).mark_circle(size=25, opacity=0.4).encode(
        x=x, y=alt.Y("loss:Q", title="loss", scale=alt.Scale(zero=False)), color=colour,
        tooltip=tip)
    lines = alt.Chart(df).transform_filter(alt.datum.geometry != "other").mark_line(
        point=True).encode(x=x, y="min(loss):Q", color=colour,
                           tooltip=["geometry:N", alt.Tooltip("min(loss):Q", format=".5f",
                                                              title="best loss")])
    left = alt.layer(dots, lines).properties(width=330, height=260,
                                             title="loss of every restart; lines: best of each")
    best = df[df["best"]].copy()
    best["angle / 72°"] = best["angle4"] / 72.0
    long = best.melt(id_vars=["ratio", "geometry"], value_vars=["norm4", "d4", "angle / 72°"],
                     var_name="quantity", value_name="value")
    long["quantity"] = long["quantity"].map({"norm4": "‖W_4‖", "d4": "D_4",
                                             "angle / 72°": "angle / 72°"})
    right = alt.Chart(long).mark_line(point=True).encode(
        x=x, y=alt.Y("value:Q", title="best model"),
        color=alt.Color("quantity:N", title="feature 4",
                        scale=alt.Scale(range=["#1f1f1f", "#efb118", "#3ca951"])),
        shape=alt.Shape("geometry:N", title="best geometry"),
        tooltip=[alt.Tooltip("ratio:Q", format=".3f"), "geometry:N", "quantity:N",
                 alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=330, height=260, title="the best model's varied feature")
    return alt.hconcat(left, right).resolve_scale(color="independent")


#: Colours of the extra feature's classes, as in the paper: grey, blue, red (and black).
_PHASE_SCALE = alt.Scale(domain=["not_represented", "dedicated", "superposition", "other"],
                         range=["#b9b9b9", "#4269d0", "#e4572e", "#1f1f1f"])
#: Colours of the n = 3 candidates: the extra feature's class hue, lighter for the variants.
_CANDIDATE_SCALE = alt.Scale(
    domain=["not_represented", "dedicated", "dedicated_pair", "antipodal", "triangle"],
    range=["#b9b9b9", "#4269d0", "#97bbf5", "#e4572e", "#efb118"])


def _phase_axes():
    x = alt.X("p_lo:Q", title="density 1 − S",
              scale=alt.Scale(type="log", domain=[1.0, 0.01], nice=False), axis=alt.Axis(
                  values=[1, 0.3, 0.1, 0.03, 0.01], format="~g"))
    y = alt.Y("r_lo:Q", title="relative importance r of the extra feature",
              scale=alt.Scale(type="log", domain=[0.1, 10], nice=False),
              axis=alt.Axis(values=[0.1, 0.3, 1, 3, 10], format="~g"))
    return x, y


def _boundary_lines(boundaries: pd.DataFrame) -> alt.Chart:
    b = boundaries[boundaries["relative_importance"].between(0.1, 10)].round(5)
    return alt.Chart(b).mark_line(color="#1f1f1f", strokeWidth=1.5, clip=True).encode(
        x=alt.X("density:Q", scale=alt.Scale(type="log")),
        y=alt.Y("relative_importance:Q", scale=alt.Scale(type="log")),
        detail="boundary:N", order="density:Q",
        tooltip=["boundary:N", alt.Tooltip("density:Q", format=".3f"),
                 alt.Tooltip("relative_importance:Q", format=".3f", title="r")])


def phase_diagram(cells: pd.DataFrame, models: pd.DataFrame,
                  boundaries: pd.DataFrame) -> alt.VConcatChart:
    """n = 2, m = 1: the theoretical and the trained phase diagrams, and one cell's models.

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`~superposition_lib.experiments.phase_change.cell_frame` rows (columns ``cell``,
        ``relative_importance``, ``density``, ``class``, ``share``, ``best_class``,
        ``norm_extra``,
        ``superposition_extra``, ``loss``, ``theory``, ``theory_loss``, ``agree`` and the edges
        ``r_lo``, ``r_hi``, ``p_lo``, ``p_hi``).
    models : pandas.DataFrame
        :func:`~superposition_lib.experiments.phase_change.model_frame` rows of the same cells.
    boundaries : pandas.DataFrame
        :func:`~superposition_lib.experiments.phase_change.theory_boundaries` (long form).

    Returns
    -------
    altair.VConcatChart
        Top: theory and experiment as heatmaps over (density, r), with the theoretical
        boundaries drawn over both and tooltips per cell. Clicking a cell of the trained diagram
        selects it (outlined in both); below, every seed's w₀, w₁, b₀ and b₁ in that cell (the
        dropped seed in grey).

    Examples
    --------
    >>> cells = pd.DataFrame({"cell": [0, 1], "relative_importance": [1.0, 1.0],
    ...                       "density": [1.0, 0.1], "class": ["dedicated", "superposition"],
    ...                       "share": 1.0, "best_class": ["dedicated", "superposition"],
    ...                       "norm_extra": [1.0, 1.0],
    ...                       "superposition_extra": [0.0, 1.0], "loss": 0.01,
    ...                       "theory": ["dedicated", "superposition"], "theory_loss": 0.01,
    ...                       "agree": True, "r_lo": 0.8, "r_hi": 1.2, "p_lo": [1.2, 0.12],
    ...                       "p_hi": [0.8, 0.08]})
    >>> models = pd.DataFrame({"cell": [0, 1], "seed": 0, "w0": [0.0, 1.0], "w1": [1.0, -1.0],
    ...                        "b0": 0.0, "b1": 0.0, "loss": 0.01, "kept": True,
    ...                        "class": ["dedicated", "superposition"]})
    >>> b = pd.DataFrame({"density": [1.0, 0.1], "relative_importance": [1.0, 1.0],
    ...                   "boundary": "not_represented|dedicated"})
    >>> len(phase_diagram(cells, models, b).to_dict(validate=True)["vconcat"])
    2
    """
    keep = ["cell", "relative_importance", "density", "class", "share", "best_class", "norm_extra",
            "superposition_extra", "loss", "theory", "theory_loss", "agree",
            "r_lo", "r_hi", "p_lo", "p_hi"]
    df = cells[keep].round(4)
    # selected at first: the cell nearest r = 1, density 0.1
    first = int(df.loc[(np.log(df["relative_importance"]).abs()
                        + np.log(df["density"] / 0.1).abs()).idxmin(), "cell"])
    pick = alt.selection_point(name="cell_pick", fields=["cell"], on="click", clear=False,
                               value=[{"cell": first}])
    x, y = _phase_axes()
    tip = [alt.Tooltip("relative_importance:Q", format=".3f", title="r"),
           alt.Tooltip("density:Q", format=".3f", title="density"),
           alt.Tooltip("theory:N", title="theory"), alt.Tooltip("class:N", title="trained"),
           alt.Tooltip("share:Q", format=".0%", title="kept seeds in class"),
           alt.Tooltip("best_class:N", title="lowest-loss seed"),
           alt.Tooltip("norm_extra:Q", format=".3f", title="mean ‖W_1‖"),
           alt.Tooltip("superposition_extra:Q", format=".3f", title="mean superposition"),
           alt.Tooltip("loss:Q", format=".3g", title="mean loss (trained)"),
           alt.Tooltip("theory_loss:Q", format=".3g", title="loss (theory)")]

    def heat(field: str, title: str, selects: bool) -> alt.LayerChart:
        rect = alt.Chart(df).mark_rect(clip=True).encode(
            x=x, x2="p_hi:Q", y=y, y2="r_hi:Q",
            color=alt.Color(f"{field}:N", scale=_PHASE_SCALE, title="extra feature"),
            stroke=alt.condition(pick, alt.value("#1f1f1f"), alt.value(None)),
            strokeWidth=alt.condition(pick, alt.value(2), alt.value(0)),
            tooltip=tip)
        rect = rect.add_params(pick) if selects else rect
        return alt.layer(rect, _boundary_lines(boundaries)).properties(
            width=300, height=260, title=title)

    top = alt.hconcat(heat("theory", "theory: the cheapest candidate", False),
                      heat("class", "trained: majority of the kept seeds (click a cell)", True))
    # One row per cell with a column per (parameter, seed), folded back in the browser: a
    # tenth of the size of one row per (model, parameter).
    names = ["w0", "w1", "b0", "b1"]
    wide = models.pivot(index="cell", columns="seed", values=names).round(3)
    wide.columns = [f"{p}|{seed}" for p, seed in wide.columns]
    dropped = models[~models["kept"]].set_index("cell")["seed"].rename("dropped")
    wide = wide.join(dropped).reset_index()
    subscript = "replace(replace(datum.label, '0', '₀'), '1', '₁')"
    detail = alt.Chart(wide).transform_filter(pick).transform_fold(
        [c for c in wide.columns if "|" in c], as_=["key", "value"]).transform_calculate(
        parameter="split(datum.key, '|')[0]", seed="toNumber(split(datum.key, '|')[1])",
        kept="datum.seed != datum.dropped").mark_point(size=70, filled=True).encode(
        x=alt.X("value:Q", title="value", scale=alt.Scale(domain=[-1.5, 1.5], clamp=True)),
        y=alt.Y("parameter:N", title=None, sort=names, axis=alt.Axis(labelExpr=subscript)),
        color=alt.Color("kept:N", title="seed", scale=alt.Scale(
            domain=[True, False], range=["#1f1f1f", "#c8c8c8"]),
            legend=alt.Legend(labelExpr="datum.value ? 'kept' : 'dropped (highest loss)'")),
        tooltip=["seed:O", "parameter:N", alt.Tooltip("value:Q", format=".3f"), "kept:N"],
    ).properties(width=640, height=110,
                 title="the selected cell: every seed's weights and biases (1 = the extra "
                       "feature)")
    zero = alt.Chart(pd.DataFrame({"value": [0.0]})).mark_rule(color="#888").encode(x="value:Q")
    return alt.vconcat(top, alt.layer(detail, zero)).resolve_scale(color="independent")


def candidate_diagram(theory_cells: pd.DataFrame, boundaries: pd.DataFrame) -> alt.LayerChart:
    """The theoretical phase diagram of n = 3, m = 2, coloured by the cheapest candidate.

    Parameters
    ----------
    theory_cells : pandas.DataFrame
        :func:`~superposition_lib.experiments.phase_change.theory_frame` with ``n_features=3``.
    boundaries : pandas.DataFrame
        :func:`~superposition_lib.experiments.phase_change.theory_boundaries` with
        ``n_features=3``.

    Returns
    -------
    altair.LayerChart
        Heatmap over (density, r) with the boundaries; tooltips give every candidate's loss.

    Examples
    --------
    >>> from superposition_lib.experiments.phase_change import theory_boundaries, theory_frame
    >>> chart = candidate_diagram(theory_frame([0.1, 10], [1, 0.01], n_features=3),
    ...                           theory_boundaries([1.0, 0.01], n_features=3))
    >>> chart.to_dict(validate=True)["layer"][0]["mark"]["type"]
    'rect'
    """
    names = [c for c in _CANDIDATE_SCALE.domain if c in theory_cells.columns]
    df = theory_cells[["density", "relative_importance", "solution", "extra", *names,
                       "r_lo", "r_hi", "p_lo", "p_hi"]].round(7)
    x, y = _phase_axes()
    tip = [alt.Tooltip("relative_importance:Q", format=".3f", title="r"),
           alt.Tooltip("density:Q", format=".3f", title="density"),
           alt.Tooltip("solution:N", title="cheapest"), alt.Tooltip("extra:N", title="extra"),
           *[alt.Tooltip(f"{c}:Q", format=".3g", title=f"loss: {c}") for c in names]]
    rect = alt.Chart(df).mark_rect(clip=True).encode(
        x=x, x2="p_hi:Q", y=y, y2="r_hi:Q",
        color=alt.Color("solution:N", scale=_CANDIDATE_SCALE, title="cheapest candidate"),
        tooltip=tip)
    return alt.layer(rect, _boundary_lines(boundaries)).properties(
        width=340, height=280, title="n = 3, m = 2: theory")


# ------------------------------------------------------------------------------ export
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
    spec = chart.to_json()
    static_spec = spec if static is None else static.to_json()
    paths = [out / f"{name}.html", out / f"{name}.svg", out / f"{name}.png",
             out / f"{name}.vl.json"]
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


def export_chapter_figures(chapter: str | None = None, *, out_dir: str | os.PathLike | None = None,
                           profile: str | None = None, store=None) -> dict[str, list[Path]]:
    """Export every figure of a chapter (or of all chapters) with :func:`export`.

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
        Where runs are loaded from (and trained into when missing).

    Returns
    -------
    dict of str to list of Path
        Files written per figure label.

    Raises
    ------
    ValueError
        For an unknown chapter.

    Examples
    --------
    >>> export_chapter_figures("nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown chapter 'nope'; chapters with figures are toy-model, ...
    """
    from .experiments import chapter_figures

    registry = chapter_figures()
    if chapter is not None and chapter not in registry:
        raise ValueError(f"unknown chapter {chapter!r}; chapters with figures are "
                         f"{', '.join(registry)}")
    root = Path(out_dir or os.environ.get(FIGURES_ENV) or "chapters/figures")
    written = {}
    for ch, figs in registry.items():
        if chapter is not None and ch != chapter:
            continue
        for label, build in figs.items():
            chart, data, *static = build(profile=profile, store=store)
            written[label] = export(chart, data, label, root / ch,
                                    static=static[0] if static else None)
    return written
