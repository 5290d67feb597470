"""Figures of the chapter "Continuous equivariant features"
(``chapters/continuous-features.qmd``)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .grid import cell_heatmaps, cell_selections, metric_color, share_selections, split_cells

__all__ = [
    "ring_map",
    "width_profile",
]

#: Colours of the arrangements of
#: :func:`~superposition_lib.experiments.continuous_features.classify_ring`.
_RING_SCALE = alt.Scale(domain=["pca circle", "mixture", "polygon", "other"],
                        range=["#b9b9b9", "#a463f2", "#e4572e", "#efb118"])
_LIM = alt.Scale(domain=[-1.25, 1.25], nice=False)

#: Continuous metrics of the map: (column, title, colour scheme, domain).
_METRICS = [
    ("circle_share", "circle share (‖W‖² at frequency 1)", "greys", [0, 1]),
    ("features_per_dim", "features per dimension ‖W‖²/m", "viridis", None),
    ("loss_vs_pca", "loss / PCA (linear optimum)", "redblue", None),
    ("loss_vs_nosup", "loss / no superposition", "redblue", None),
]


def _ring_panel(geo: pd.DataFrame, shown: str, n: int, *, size: int = 170) -> alt.LayerChart:
    """One seed's ring of n features: joined in orientation order, tips coloured cyclically."""
    base = alt.Chart(geo).transform_filter(shown)
    color = alt.Color("feature:Q", scale=alt.Scale(scheme="sinebow", domain=[0, n]),
                      title="feature (orientation)")
    path = base.mark_line(color="#9a9a9a", strokeWidth=1).encode(
        x=alt.X("x:Q", scale=_LIM, title=None, axis=None),
        y=alt.Y("y:Q", scale=_LIM, title=None, axis=None), order="order:Q")
    spokes = base.transform_filter(f"datum.order < {n}").transform_calculate(zero="0").mark_rule(
        strokeWidth=1, opacity=0.35).encode(x="zero:Q", y="zero:Q", x2="x:Q", y2="y:Q",
                                            color=color)
    tips = base.transform_filter(f"datum.order < {n}").mark_point(filled=True, size=45).encode(
        x="x:Q", y="y:Q", color=color,
        tooltip=["feature:O", alt.Tooltip("x:Q", format=".3f"), alt.Tooltip("y:Q", format=".3f"),
                 alt.Tooltip("norm:Q", format=".3f")])
    return alt.layer(path, spokes, tips).properties(width=size, height=size)


def _ring_long(models: pd.DataFrame) -> pd.DataFrame:
    """One row per (cell, seed, feature), plus feature 0 again as order n to close the ring."""
    n = sum(1 for c in models.columns if c.startswith("w") and c.endswith("x"))
    long = [pd.DataFrame({"cell": models["cell"], "seed": models["seed"],
                          "loss_vs_pca": models["loss_vs_pca"], "ring": models["ring"],
                          "circle_share": models["circle_share"], "feature": i % n,
                          "order": i, "x": models[f"w{i % n}x"], "y": models[f"w{i % n}y"]})
            for i in range(n + 1)]
    geo = pd.concat(long, ignore_index=True)
    geo["norm"] = np.hypot(geo["x"], geo["y"])
    return geo.round(3)


def ring_map(cells: pd.DataFrame, models: pd.DataFrame) -> alt.VConcatChart:
    """The equivariant map over (bump width, density), linked to a cell's rings.

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`~superposition_lib.experiments.continuous_features.map_cells` rows.
    models : pandas.DataFrame
        :func:`~superposition_lib.experiments.continuous_features.map_frame` rows of the same cells
        (with the direction columns ``w0x``, ``w0y``, …).

    Returns
    -------
    altair.VConcatChart
        Five heatmaps (arrangement, circle share, features per dimension, loss relative to the
        PCA optimum and to the no-superposition baseline) over width (x) and density (y), with
        tooltips per cell; a dot marks the arrangement cells whose seeds do not all agree.
        Clicking a cell in any heatmap selects it (outlined everywhere);
        below, every seed's ring in the cell under the pointer, or in the selected cell when the
        pointer is off the heatmaps: each feature's direction W_i coloured by its orientation,
        consecutive orientations joined by a grey line (the PCA circle is a regular n-gon
        walked once around).

    Examples
    --------
    >>> cells = pd.DataFrame({"cell": [0, 1], "width": [0.5, 2.0], "density": 0.1,
    ...     "ring": ["polygon", "pca circle"], "share": 1.0, "best_ring": "pca circle",
    ...     "circle_share": [0.2, 1.0], "pca_alignment": 1.0, "features_per_dim": [3.0, 4.0],
    ...     "represented": [5, 16], "merged": [0, 0], "loss_vs_pca": [0.8, 0.4],
    ...     "loss_vs_nosup": [0.8, 0.3], "top_components": "frequency 1",
    ...     "linear_optimal": 0.1, "no_superposition": 0.2})
    >>> models = pd.DataFrame({"cell": [0, 1], "seed": 0, "loss_vs_pca": 0.5,
    ...     "ring": ["polygon", "pca circle"], "circle_share": [0.2, 1.0],
    ...     **{f"w{i}{c}": 0.5 for i in range(16) for c in "xy"}})
    >>> len(ring_map(cells, models).to_dict(validate=True)["vconcat"])
    3
    """
    keep = ["cell", "width", "density", "ring", "share", "best_ring", "pca_alignment",
            "represented", "merged", "top_components", "linear_optimal", "no_superposition",
            *[m[0] for m in _METRICS]]
    df = cells[keep].copy()
    df["density_label"] = df["density"].map(lambda v: f"{v:.3g}")
    df["width_label"] = df["width"].map(lambda v: f"{v:g}")
    order_p = df.sort_values("density", ascending=False)["density_label"].unique().tolist()
    order_w = df.sort_values("width")["width_label"].unique().tolist()
    df = df.round(4)
    first = int(df.loc[(np.abs(np.log(df["width"] / 1.0))
                        + np.abs(np.log(df["density"] / 0.1))).idxmin(), "cell"])
    pick, hover, shown = cell_selections("ring", first)
    x = alt.X("width_label:O", title="bump half-width w (features)", sort=order_w)
    y = alt.Y("density_label:O", title="density p", sort=order_p)
    tip = [alt.Tooltip("width:Q", format=".3g", title="w"),
           alt.Tooltip("density:Q", format=".3g", title="p"),
           alt.Tooltip("ring:N", title="arrangement (majority)"),
           alt.Tooltip("share:Q", format=".0%", title="seeds in it"),
           alt.Tooltip("best_ring:N", title="lowest-loss seed"),
           *[alt.Tooltip(f"{m[0]}:Q", format=".3f", title=m[0].replace("_", " "))
             for m in _METRICS],
           alt.Tooltip("pca_alignment:Q", format=".3f", title="PCA alignment (top 2, ties)"),
           alt.Tooltip("represented:Q", format=".1f", title="represented (seed mean)"),
           alt.Tooltip("merged:Q", format=".1f", title="merged (seed mean)"),
           alt.Tooltip("top_components:N", title="top principal components"),
           alt.Tooltip("linear_optimal:Q", format=".4g", title="PCA loss"),
           alt.Tooltip("no_superposition:Q", format=".4g", title="no-superposition loss")]
    panels = [(alt.Color("ring:N", scale=_RING_SCALE, title="arrangement"),
               "arrangement (majority of seeds)"),
              *((metric_color(field, scheme, domain, ratio_ticks=(0.03, 0.1, 0.3, 1, 3)),
                 title) for field, title, scheme, domain in _METRICS)]
    charts, views = cell_heatmaps(df, panels, x=x, y=y, tooltip=tip, pick=pick,
                                  name="ring_heat", width=260, height=130)
    # the arrangement is a vote of a few seeds: mark the cells where they split
    charts[0] = alt.layer(charts[0], split_cells(df, x=x, y=y, tooltip=tip))
    top = alt.hconcat(*charts[:3]).resolve_scale(color="independent")
    mid = alt.hconcat(*charts[3:]).resolve_scale(color="independent")

    geo = _ring_long(models)
    panels = []
    for s in sorted(geo["seed"].unique()):
        sub = geo[geo["seed"] == s]
        label = alt.Chart(sub[sub["order"] == 0]).transform_filter(shown).mark_text(
            align="left", baseline="top", fontSize=11, dx=2, dy=2).encode(
            x=alt.value(0), y=alt.value(0), text=alt.Text("caption:N")).transform_calculate(
            caption=("datum.ring + ', circle ' + format(datum.circle_share, '.2f') + "
                     "', loss/PCA ' + format(datum.loss_vs_pca, '.2f')"))
        panels.append(alt.layer(_ring_panel(sub, shown, int(geo["feature"].max()) + 1), label)
                      .properties(title=f"seed {s}"))
    bottom = alt.hconcat(*panels).properties(
        title="the cell under the pointer (else the clicked one): every seed's directions Wᵢ, "
              "coloured by orientation; the grey line joins neighbouring orientations")
    chart = alt.vconcat(top, mid, bottom).resolve_scale(color="independent")
    return share_selections(chart, views, pick, hover)


def width_profile(cells: pd.DataFrame) -> alt.HConcatChart:
    """Circle share and loss against bump width, one line per density.

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`~superposition_lib.experiments.continuous_features.map_cells` rows.

    Returns
    -------
    altair.HConcatChart
        Left: the lowest-loss seed's circle share against w (log x); right: its loss relative
        to the PCA optimum (log y). Colour: density; clicking a legend entry highlights one
        density; tooltips per point.

    Examples
    --------
    >>> cells = pd.DataFrame({"width": [0.5, 2.0, 0.5, 2.0], "density": [1, 1, 0.1, 0.1],
    ...     "best_circle_share": [0.2, 1.0, 0.3, 0.9], "best_loss_vs_pca": [0.8, 0.4, 0.8, 0.4],
    ...     "best_ring": ["polygon", "pca circle", "polygon", "pca circle"]})
    >>> len(width_profile(cells).to_dict(validate=True)["hconcat"])
    2
    """
    df = cells[["width", "density", "best_circle_share", "best_loss_vs_pca",
                "best_ring"]].round(4)
    df["density_label"] = cells["density"].map(lambda v: f"{v:.3g}")
    order = df.sort_values("density", ascending=False)["density_label"].unique().tolist()
    pick = alt.selection_point(name="profile_density", fields=["density_label"], bind="legend")
    color = alt.Color("density_label:O", scale=alt.Scale(scheme="viridis"), sort=order,
                      title="density p")
    x = alt.X("width:Q", title="bump half-width w (features)", scale=alt.Scale(
        type="log", nice=False, domain=[df["width"].min() / 1.1, df["width"].max() * 1.1]))
    tip = [alt.Tooltip("width:Q", format=".3g", title="w"),
           alt.Tooltip("density:Q", format=".3g", title="p"),
           alt.Tooltip("best_ring:N", title="arrangement"),
           alt.Tooltip("best_circle_share:Q", format=".3f", title="circle share"),
           alt.Tooltip("best_loss_vs_pca:Q", format=".3f", title="loss / PCA")]

    def panel(field, title, yscale):
        base = alt.Chart(df).encode(
            x=x, y=alt.Y(f"{field}:Q", title=title, scale=yscale), color=color,
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15)), tooltip=tip)
        return (base.mark_line() + base.mark_point(filled=True, size=35)).properties(
            width=300, height=220)

    left = panel("best_circle_share", "circle share (lowest-loss seed)",
                 alt.Scale(domain=[0, 1]))
    right = panel("best_loss_vs_pca", "loss / PCA optimum (lowest-loss seed)",
                  alt.Scale(type="log"))
    return alt.hconcat(left.add_params(pick), right)
