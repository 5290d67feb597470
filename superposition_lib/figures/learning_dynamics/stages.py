"""Geometric-stage figures of the chapter "Learning dynamics": the n = 6, m = 3 model.

One model explored snapshot by snapshot (WᵀW, its vectors and its stages over training), the
paths of stages the models take (:func:`~superposition_lib.analysis.dynamics.stage_trajectory`),
and how often a path visits a stage against the initial scale. Stages are coloured as the
paper's A-D in a sequential order, the extra ones in greys.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ...analysis.dynamics import STAGES
from ..theme import SPACED_LEGEND

__all__ = [
    "path_share_chart",
    "stage_explorer",
    "stage_paths",
]

#: Colours of the stages: the paper's A-D in a sequential order, the extra ones in greys.
_STAGE_SCALE = alt.Scale(domain=list(STAGES),
                         range=["#c8c8c8", "#4269d0", "#efb118", "#e4572e", "#97bbf5",
                                "#6f6f6f"])
_SET_SCALE = alt.Scale(domain=["set 0 (features 0-2)", "set 1 (features 3-5)"],
                       range=["#4269d0", "#e4572e"])


def path_share_chart(shares: pd.DataFrame) -> alt.HConcatChart:
    """The share of models whose path visits a stage, against the initial scale, per density.

    Parameters
    ----------
    shares : pandas.DataFrame
        :func:`~superposition_lib.experiments.learning_dynamics.path_shares` by ``density`` and
        ``init_scale``.

    Returns
    -------
    altair.HConcatChart
        One panel per outcome (visits opposite sets, visits the PCA axes, ends in the
        antiprism): the share against the initial scale (log x), a line per density, with the
        Wilson 95% intervals as bars; hover for the counts.

    Examples
    --------
    >>> sh = pd.DataFrame({"density": 0.1, "init_scale": [0.1, 1.0],
    ...                    "outcome": "visits pca_axes", "models": 20, "count": [15, 5],
    ...                    "share": [0.75, 0.25], "low": [0.5, 0.1], "high": [0.9, 0.5]})
    >>> len(path_share_chart(sh).to_dict(validate=True)["hconcat"])
    1
    """
    color = alt.Color("density:O", title="density", scale=alt.Scale(scheme="viridis"),
                      sort="descending")
    x = alt.X("init_scale:Q", title="initial scale (× Xavier)",
              scale=alt.Scale(type="log"), axis=alt.Axis(format="~g"))
    tooltip = ["density:Q", alt.Tooltip("init_scale:Q", title="initial scale"), "count:Q",
               "models:Q", alt.Tooltip("share:Q", format=".0%"),
               alt.Tooltip("low:Q", format=".0%", title="95% low"),
               alt.Tooltip("high:Q", format=".0%", title="95% high")]
    panels = []
    for outcome in dict.fromkeys(shares["outcome"]):
        if outcome in ("visits triangles", "visits antiprism"):
            continue
        data = shares[shares["outcome"] == outcome].round(4)
        y = alt.Y("share:Q", title=outcome.replace("_", " "), scale=alt.Scale(domain=[0, 1]),
                  axis=alt.Axis(format="%"))
        base = alt.Chart(data)
        panels.append(alt.layer(
            base.mark_rule(opacity=0.6).encode(x=x, y="low:Q", y2="high:Q", color=color,
                                               tooltip=tooltip),
            base.mark_line(point=True).encode(x=x, y=y, color=color, tooltip=tooltip),
        ).properties(width=140, height=200))
    return alt.hconcat(*panels).resolve_scale(color="shared")


def stage_explorer(geometry: pd.DataFrame, bands: pd.DataFrame) -> alt.VConcatChart:
    """One n = 6, m = 3 model over training: WᵀW, the vectors on the coordinate planes, stages.

    Parameters
    ----------
    geometry : pandas.DataFrame
        :func:`~superposition_lib.experiments.learning_dynamics.stage_geometry_frame`:
        ``snapshot``, ``step``, ``loss``, ``stage``, ``G|i|j`` and ``W|d|i`` columns.
    bands : pandas.DataFrame
        The model's stage path (:func:`~superposition_lib.analysis.dynamics.stage_trajectory` rows:
        ``stage``, ``step_start``, ``step_end``).

    Returns
    -------
    altair.VConcatChart
        A slider picks a snapshot. Top: WᵀW as a heatmap, and the six vectors W_i projected on
        the planes (x₁, x₂), (x₁, x₃) and (x₂, x₃), coloured by set. Below: the loss against
        step (log x) over coloured bands of the stages, with a rule at the selected snapshot.

    Examples
    --------
    >>> g = pd.DataFrame({"snapshot": [0, 1], "step": [0, 10], "loss": [0.2, 0.1],
    ...                   "stage": ["near_zero", "opposite_sets"]})
    >>> for i in range(6):
    ...     for j in range(6):
    ...         g[f"G|{i}|{j}"] = [0.0, 1.0]
    ...     for d in range(3):
    ...         g[f"W|{d}|{i}"] = [0.0, 0.5]
    >>> bands = pd.DataFrame({"stage": ["opposite_sets"], "step_start": [10], "step_end": [10]})
    >>> len(stage_explorer(g, bands).to_dict(validate=True)["vconcat"])
    2
    """
    geo = geometry.copy()
    geo["step_plot"] = geo["step"].clip(lower=1)
    geo = geo.round(4)
    last = int(geo["snapshot"].max())
    slider = alt.param(name="snap", value=last, bind=alt.binding_range(
        min=0, max=last, step=1, name="snapshot "))
    sel = alt.datum.snapshot == slider
    gcols = [c for c in geo.columns if c.startswith("G|")]
    heat = alt.Chart(geo).transform_filter(sel).transform_fold(
        gcols, as_=["key", "value"]).transform_calculate(
        i="toNumber(split(datum.key, '|')[1])", j="toNumber(split(datum.key, '|')[2])"
    ).mark_rect().encode(
        x=alt.X("j:O", title="feature j"), y=alt.Y("i:O", title="feature i"),
        color=alt.Color("value:Q", title="WᵀW", scale=alt.Scale(
            scheme="redblue", domain=[-1.2, 1.2], reverse=True, clamp=True)),
        tooltip=["i:O", "j:O", alt.Tooltip("value:Q", format=".3f", title="Wᵢ·Wⱼ"),
                 alt.Tooltip("step:Q", format=","), "stage:N"],
    ).properties(width=170, height=170, title="WᵀW")
    wcols = [c for c in geo.columns if c.startswith("W|")]
    # one row per (snapshot, feature): the three coordinates side by side
    vec = geo[["snapshot", "step", "stage", *wcols]].melt(
        id_vars=["snapshot", "step", "stage"], var_name="key", value_name="v")
    parts = vec["key"].str.split("|", expand=True)
    vec["d"], vec["feature"] = parts[1].astype(int), parts[2].astype(int)
    vec = vec.pivot_table(index=["snapshot", "step", "stage", "feature"], columns="d",
                          values="v").reset_index()
    vec.columns = [f"x{c + 1}" if isinstance(c, (int, np.integer)) else c for c in vec.columns]
    vec["set"] = np.where(vec["feature"] < 3, _SET_SCALE.domain[0], _SET_SCALE.domain[1])
    vec = vec.round(4)
    lim = float(max(1.0, np.abs(vec[["x1", "x2", "x3"]].to_numpy()).max())) * 1.05
    planes = []
    for a, b in (("x1", "x2"), ("x1", "x3"), ("x2", "x3")):
        base = alt.Chart(vec).transform_filter(sel)
        legend = alt.Legend(orient="bottom") if a == "x2" else None
        enc = {"x": alt.X(f"{a}:Q", title=a, scale=alt.Scale(domain=[-lim, lim])),
                   "y": alt.Y(f"{b}:Q", title=b, scale=alt.Scale(domain=[-lim, lim])),
                   "color": alt.Color("set:N", scale=_SET_SCALE, title=None, legend=legend)}
        tip = ["feature:N", alt.Tooltip("x1:Q", format=".3f"),
               alt.Tooltip("x2:Q", format=".3f"), alt.Tooltip("x3:Q", format=".3f")]
        spokes = base.transform_calculate(o="0").transform_fold(
            ["o", "o"], as_=["k", "zero"]).mark_rule(opacity=0.5).encode(
            x=alt.X(f"{a}:Q", scale=alt.Scale(domain=[-lim, lim])), x2="zero:Q",
            y=alt.Y(f"{b}:Q", scale=alt.Scale(domain=[-lim, lim])), y2="zero:Q",
            color=enc["color"])
        pts = base.mark_text(fontSize=12, fontWeight="bold").encode(
            text="feature:N", tooltip=tip, **enc)
        planes.append(alt.layer(spokes, pts).properties(width=150, height=150,
                                                        title=f"on the ({a}, {b}) plane"))
    b = bands[["stage", "step_start", "step_end"]].copy()
    b["step_start"] = b["step_start"].clip(lower=1)
    x = alt.X("step_plot:Q", title="training step", scale=alt.Scale(
        type="log", nice=False, domain=[1, int(geo["step"].max())]),
        axis=alt.Axis(format="~s"))
    rects = alt.Chart(b).mark_rect(opacity=0.35).encode(
        x=alt.X("step_start:Q", scale=alt.Scale(type="log")), x2="step_end:Q",
        color=alt.Color("stage:N", scale=_STAGE_SCALE, title="stage", legend=SPACED_LEGEND),
        tooltip=["stage:N", alt.Tooltip("step_start:Q", format=","),
                 alt.Tooltip("step_end:Q", format=",")])
    loss = alt.Chart(geo[geo["step"] > 0]).mark_line(color="#1f1f1f").encode(
        x=x, y=alt.Y("loss:Q", title="loss", scale=alt.Scale(type="log")),
        tooltip=["snapshot:Q", alt.Tooltip("step:Q", format=","),
                 alt.Tooltip("loss:Q", format=".4g"), "stage:N"])
    rule = alt.Chart(geo).transform_filter(sel).mark_rule(color="#e4572e",
                                                          strokeWidth=2).encode(
        x="step_plot:Q", tooltip=["snapshot:Q", alt.Tooltip("step:Q", format=","), "stage:N"])
    bottom = alt.layer(rects, loss, rule).properties(
        width=700, height=160, title="loss, stages (bands) and the selected snapshot (rule)")
    top = alt.hconcat(heat, *planes).resolve_scale(color="independent")
    return alt.vconcat(top, bottom).add_params(slider).resolve_scale(color="independent")


def stage_paths(paths: pd.DataFrame) -> alt.HConcatChart:
    """Which sequences of stages the models go through, how often, and when.

    Parameters
    ----------
    paths : pandas.DataFrame
        :func:`~superposition_lib.experiments.learning_dynamics.path_frame` rows.

    Returns
    -------
    altair.HConcatChart
        Left: models per path (``core_path``: the stages without the ``"other"`` passages
        between them; bars stacked by density). Right: for every model, a row of stage bands
        over step (log x), grouped by path; tooltips give the steps and the full path.

    Examples
    --------
    >>> p = pd.DataFrame({"model": [0, 0], "density": 0.1, "seed": 0, "order": [0, 1],
    ...                   "stage": ["near_zero", "opposite_sets"], "step_start": [1, 100],
    ...                   "step_end": [50, 1000], "n_snapshots": [5, 5],
    ...                   "path": "near_zero → opposite_sets", "final_stage": "opposite_sets"})
    >>> len(stage_paths(p).to_dict(validate=True)["hconcat"])
    2
    """
    p = paths.copy()
    if "core_path" not in p:
        p["core_path"] = p["path"]
    p["step_start"] = p["step_start"].clip(lower=1)
    per_model = p.drop_duplicates("model")
    order = per_model["core_path"].value_counts().index.tolist()
    counts = per_model.groupby(["core_path", "density"]).size().rename("models").reset_index()
    counts = counts.rename(columns={"core_path": "path"})
    bars = alt.Chart(counts).mark_bar().encode(
        y=alt.Y("path:N", sort=order, title=None, axis=alt.Axis(labelLimit=360)),
        x=alt.X("models:Q", title="models"),
        color=alt.Color("density:O", title="density", scale=alt.Scale(scheme="viridis")),
        tooltip=["path:N", "density:Q", "models:Q"]).properties(width=180, height=alt.Step(18),
                                                                 title="paths")
    rank = {k: i for i, k in enumerate(order)}
    p["path_rank"] = p["core_path"].map(rank)
    row_of = p.drop_duplicates("model").sort_values(["path_rank", "model"])["model"]
    p["row"] = p["model"].map({m: i for i, m in enumerate(row_of)})
    p = p.round(4)
    strips = alt.Chart(p).mark_rect().encode(
        x=alt.X("step_start:Q", title="training step", scale=alt.Scale(type="log", nice=False),
                axis=alt.Axis(format="~s")),
        x2="step_end:Q",
        y=alt.Y("row:O", title="model (grouped by path)", axis=None),
        color=alt.Color("stage:N", scale=_STAGE_SCALE, title="stage", legend=SPACED_LEGEND),
        tooltip=["model:N", "density:Q", "seed:N", alt.Tooltip("path:N", title="full path"),
                 "stage:N",
                 alt.Tooltip("step_start:Q", format=",", title="from step"),
                 alt.Tooltip("step_end:Q", format=",", title="to step")],
    ).properties(width=380, height=alt.Step(6), title="every model's stages over training")
    return alt.hconcat(bars, strips).resolve_scale(color="independent")
