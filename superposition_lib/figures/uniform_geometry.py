"""Figures of the chapter "The geometry of uniform superposition"
(``chapters/uniform-geometry.qmd``)."""

from __future__ import annotations

import json

import altair as alt
import pandas as pd

__all__ = [
    "pentagon_transition",
    "polytope_mix_chart",
    "uniform_dimensionality",
]

_POLYTOPES = ["dedicated", "isolated", "tetrahedron", "triangle", "digon", "pentagon",
              "square antiprism", "other"]
_POLYTOPE_SCALE = alt.Scale(domain=_POLYTOPES, range=["#1f1f1f", "#97bbf5", "#6cc5b0",
                                                      "#3ca951", "#4269d0", "#ff8ab7",
                                                      "#a463f2", "#9d9d9d"])
_REFERENCE = pd.DataFrame({"line": ["tetrahedron 3/4", "triangle 2/3", "digon 1/2",
                                    "pentagon 2/5", "square antiprism 3/8"],
                           "D": [3 / 4, 2 / 3, 1 / 2, 2 / 5, 3 / 8]})


def uniform_dimensionality(instances: pd.DataFrame, features: pd.DataFrame,
                           seeds: pd.DataFrame | None = None) -> alt.VConcatChart:
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
    seeds : pandas.DataFrame, optional
        :func:`~superposition_lib.experiments.uniform_geometry.d_star_summary` of more seeds
        (columns ``inverse_density``, ``seeds``, ``mean``, ``low``, ``high``, ``min``,
        ``max``): drawn as a grey band from the lowest to the highest D* of the seeds.

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
        x=x, y=alt.Y("D:Q", title="Dᵢ and D* (dimensions per feature)",
                     scale=alt.Scale(domain=[0, 1.05])),
        size=alt.Size("features:Q", title="features", scale=alt.Scale(range=[10, 400])),
        color=alt.Color("polytope:N", scale=_POLYTOPE_SCALE, title="polytope"),
        opacity=alt.condition(pick, alt.value(0.75), alt.value(0.05)),
        tooltip=[alt.Tooltip("inverse_density:Q", format=".3f", title="1/(1 − S)"),
                 alt.Tooltip("D:Q", format=".2f", title="Dᵢ"), "polytope:N",
                 alt.Tooltip("features:Q", title="features")],
    ).add_params(pick)
    rules = alt.Chart(_REFERENCE).mark_rule(strokeDash=[4, 4], color="#888").encode(
        y="D:Q", tooltip=["line:N"])
    # 2/5 and 3/8 are 0.025 apart, 8 px on this axis: their labels go above and below
    labels = [alt.Chart(_REFERENCE[_REFERENCE["D"].isin(keep)]).mark_text(
        align="left", dx=4, fontSize=10, color="#555", baseline=baseline).encode(
        y="D:Q", x=alt.value(width), text="line:N")
        for keep, baseline in (([3 / 4, 2 / 3, 1 / 2], "middle"), ([2 / 5], "bottom"),
                               ([3 / 8], "top"))]
    star_tip = [alt.Tooltip("inverse_density:Q", format=".3f", title="1/(1 − S)"),
                alt.Tooltip("d_star:Q", format=".3f", title="D*"),
                alt.Tooltip("n_represented:Q", title="represented"),
                alt.Tooltip("loss:Q", format=".4g")]
    star = alt.Chart(inst).mark_line(color="black", point=alt.OverlayMarkDef(color="black"),
                                     strokeWidth=2).encode(x=x, y="d_star:Q", tooltip=star_tip)
    layers = [rules, *labels, dots, star]
    if seeds is not None:
        band = alt.Chart(seeds.round(4)).mark_area(color="#9a9a9a", opacity=0.35).encode(
            x=x, y="min:Q", y2="max:Q",
            tooltip=[alt.Tooltip("inverse_density:Q", format=".3f", title="1/(1 − S)"),
                     alt.Tooltip("seeds:Q", title="seeds"),
                     alt.Tooltip("mean:Q", format=".3f", title="D*, seed mean"),
                     alt.Tooltip("low:Q", format=".3f", title="95% interval from"),
                     alt.Tooltip("high:Q", format=".3f", title="to"),
                     alt.Tooltip("min:Q", format=".3f", title="lowest seed"),
                     alt.Tooltip("max:Q", format=".3f", title="highest seed")])
        layers.insert(0, band)
    top = alt.layer(*layers).properties(width=width, height=320)
    sums = alt.Chart(inst).mark_line(point=True, color="#4269d0").encode(
        x=x, y=alt.Y("sum_d:Q", title="Σᵢ Dᵢ", scale=alt.Scale(zero=True)),
        tooltip=[alt.Tooltip("inverse_density:Q", format=".3f", title="1/(1 − S)"),
                 alt.Tooltip("sum_d:Q", format=".2f", title="Σᵢ Dᵢ"), "m:Q"])
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
    # one order for both panels, over the densities of both (the count panel has densities
    # without represented features, which the mix lacks)
    order = sorted(set(mix["1/(1 − S)"]) | set(inst["1/(1 − S)"]), key=float)
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
                 alt.Tooltip("mean_d:Q", format=".3f", title="mean Dᵢ")],
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
        against the varied feature's relative density (log x). Right: ‖W₄‖ and D₄ of the best
        model, and its angle to the nearest feature / 72° where it is represented.

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
                                                            title="‖W₄‖"),
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
    long["quantity"] = long["quantity"].map({"norm4": "‖W₄‖", "d4": "D₄",
                                             "angle / 72°": "angle / 72°"})
    long = long.dropna(subset=["value"])   # no angle for a dropped feature
    right = alt.Chart(long).mark_line(point=True).encode(
        x=x, y=alt.Y("value:Q", title="best model"),
        color=alt.Color("quantity:N", title="feature 4",
                        scale=alt.Scale(range=["#1f1f1f", "#efb118", "#3ca951"])),
        shape=alt.Shape("geometry:N", title="best geometry"),
        tooltip=[alt.Tooltip("ratio:Q", format=".3f"), "geometry:N", "quantity:N",
                 alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=330, height=260, title="the best model's varied feature")
    return alt.hconcat(left, right).resolve_scale(color="independent")
