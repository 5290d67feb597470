"""Figures of the chapter "The toy model" (``chapters/toy-model.qmd``)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

__all__ = [
    "basic_results",
    "intro_geometry",
    "intro_geometry_static",
]

#: Diverging scale for WᵀW: blue negative, white zero, red positive (as in the paper).
_GRAM_SCALE = alt.Scale(scheme="redblue", domain=[-1, 1], reverse=True)
#: Superposition: black (none) to yellow (a lot), as in the paper.
_SUPERPOSITION_SCALE = alt.Scale(domain=[0, 1], range=["#1f1f1f", "#f2c14e"], clamp=True)


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
           alt.Tooltip("norm:Q", format=".3f", title="‖Wᵢ‖"),
           alt.Tooltip("superposition:Q", format=".3f"),
           alt.Tooltip("bias:Q", format=".3f", title="bᵢ"),
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
            width=220, height=220, title=f"{model}: feature directions Wᵢ")
        g = gram[gram["model"] == model]
        heat = alt.Chart(g).transform_filter(alt.datum.instance == step).mark_rect().encode(
            x=alt.X("j:O", title="feature j"), y=alt.Y("i:O", title="feature i"),
            color=alt.Color("value:Q", scale=_GRAM_SCALE, title="WᵀW"),
            tooltip=[alt.Tooltip("i:O"), alt.Tooltip("j:O"),
                     alt.Tooltip("value:Q", format=".3f", title="Wᵢ · Wⱼ"),
                     alt.Tooltip("density:Q", format=".4f", title="1 − S")],
        ).properties(width=220, height=220, title=f"{model}: WᵀW")
        columns.append(alt.vconcat(top, heat).resolve_scale(color="independent"))
    return alt.hconcat(*columns).add_params(step).resolve_scale(color="independent")


def intro_geometry_static(features: pd.DataFrame, gram: pd.DataFrame) -> alt.VConcatChart:
    """Static companion of :func:`intro_geometry`: every density at once, for SVG and PNG.

    Parameters
    ----------
    features : pandas.DataFrame
        As for :func:`intro_geometry` (columns ``model``, ``density``, ``feature``,
        ``importance``, ``w0``, ``w1``).
    gram : pandas.DataFrame
        As for :func:`intro_geometry` (columns ``model``, ``density``, ``i``, ``j``,
        ``value``).

    Returns
    -------
    altair.VConcatChart
        For each model kind (linear, then ReLU), a row of feature directions and below it a
        row of WᵀW heatmaps, one column per density (dense on the left), as the interactive
        figure's caption describes.

    Examples
    --------
    >>> f = pd.DataFrame({"model": "ReLU", "instance": 0, "density": 1.0, "feature": [0, 1],
    ...                   "importance": [1.0, 0.9], "w0": [1.0, 0.0], "w1": [0.0, 1.0]})
    >>> g = pd.DataFrame({"model": "ReLU", "density": 1.0, "i": [0, 0, 1, 1],
    ...                   "j": [0, 1, 0, 1], "value": [1.0, 0.0, 0.0, 1.0]})
    >>> [len(row["vconcat"]) for row in intro_geometry_static(f, g).to_dict()["vconcat"]]
    [2]
    """
    label = lambda d: f"{d:.3f}"  # noqa: E731
    feats = features[["model", "density", "feature", "importance", "w0", "w1"]].round(4)
    feats = feats.assign(origin=0.0, **{"1−S": feats["density"].map(label)})
    grams = gram[["model", "density", "i", "j", "value"]].round(4)
    grams = grams.assign(**{"1−S": grams["density"].map(label)})
    lim = float(max(1.2, np.abs(feats[["w0", "w1"]].to_numpy()).max() * 1.1))
    scale = alt.Scale(domain=[-lim, lim])
    order = sorted(feats["1−S"].unique(), key=float, reverse=True)
    column = alt.Column("1−S:N", title="density 1 − S", sort=order)
    color = alt.Color("importance:Q", scale=alt.Scale(scheme="viridis", reverse=True))
    rows = []
    for model in [k for k in ("linear", "ReLU") if k in set(feats["model"])]:
        base = alt.Chart().encode(color=color)
        arrows = base.mark_rule(strokeWidth=2).encode(
            x=alt.X("origin:Q", scale=scale, title=None),
            y=alt.Y("origin:Q", scale=scale, title=None), x2="w0:Q", y2="w1:Q")
        heads = base.mark_circle(size=40, opacity=1).encode(
            x=alt.X("w0:Q", scale=scale), y=alt.Y("w1:Q", scale=scale))
        directions = alt.layer(arrows, heads, data=feats[feats["model"] == model]).properties(
            width=110, height=110).facet(column=column, title=f"{model}: feature directions Wᵢ")
        heat = alt.Chart(grams[grams["model"] == model]).mark_rect().encode(
            x=alt.X("j:O", title=None), y=alt.Y("i:O", title=None),
            color=alt.Color("value:Q", scale=_GRAM_SCALE, title="WᵀW")).properties(
            width=110, height=110).facet(column=column, title=f"{model}: WᵀW")
        rows.append(alt.vconcat(directions, heat).resolve_scale(color="independent"))
    return alt.vconcat(*rows).resolve_scale(color="independent")


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
    def keep(df):
        return df[(df["model"] != "linear") | np.isclose(df["density"], linear_density)]

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
                 alt.Tooltip("value:Q", format=".3f", title="Wᵢ · Wⱼ")],
    ).properties(width=width, height=width).facet(column=col)
    feat_tip = [alt.Tooltip("panel:N", title="model"), alt.Tooltip("feature:O"),
                alt.Tooltip("importance:Q", format=".3f"),
                alt.Tooltip("norm:Q", format=".3f", title="‖Wᵢ‖"),
                alt.Tooltip("superposition:Q", format=".3f"),
                alt.Tooltip("bias:Q", format=".3f", title="bᵢ")]
    bias = alt.Chart(feats).mark_bar().encode(
        y=alt.Y("feature:O", title="feature", axis=alt.Axis(labelFontSize=8)),
        x=alt.X("bias:Q", title="bᵢ"),
        color=alt.condition(alt.datum.bias < 0, alt.value("#4269d0"), alt.value("#ff725c")),
        tooltip=feat_tip,
    ).properties(width=width, height=width).facet(column=col)
    norms = alt.Chart(feats).mark_bar().encode(
        y=alt.Y("feature:O", title="feature", axis=alt.Axis(labelFontSize=8)),
        x=alt.X("norm:Q", title="‖Wᵢ‖", scale=alt.Scale(domain=[0, 1.2], clamp=True)),
        color=alt.Color("superposition:Q", scale=_SUPERPOSITION_SCALE,
                        title="superposition"),
        tooltip=feat_tip,
    ).properties(width=width, height=width).facet(column=col)
    return alt.vconcat(heat, bias, norms).resolve_scale(color="independent")


# ------------------------------------------------------------------ uniform superposition
#: Polytope names in display order, with their colours.
