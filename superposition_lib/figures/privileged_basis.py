"""Figures of the chapters "Superposition in a privileged basis" and "Computation in
superposition" (``chapters/privileged-basis.qmd``, ``chapters/computation.qmd``)."""

from __future__ import annotations

import altair as alt
import pandas as pd

__all__ = ["best_of_n_heatmap", "neuron_bars", "neuron_bars_static", "neuron_counts"]

_TIP = [alt.Tooltip("neuron_label:N", title="neuron"), alt.Tooltip("feature:O"),
        alt.Tooltip("weight:Q", format=".3f", title="weight Wₖᵢ"),
        alt.Tooltip("importance:Q", format=".3f"), alt.Tooltip("1−S:N"),
        alt.Tooltip("regime:N", title="model regime")]


def _prepared(weights: pd.DataFrame) -> pd.DataFrame:
    df = weights.copy()
    df["1−S"] = df["density"].map(lambda d: f"{d:.3g}")
    df["neuron_label"] = "neuron " + df["neuron"].astype(str)
    df["weight"] = df["weight"].round(4)
    df["importance"] = df["importance"].round(4)
    return df


#: Most features a legend lists one by one; more get a colour gradient (Vega truncates long
#: symbol legends with a console warning).
MAX_SYMBOLS = 20


def _bars(base: alt.Chart, features: list, *, width: int, height: int) -> alt.Chart:
    """Stacked bars of one model's weights per neuron: positive above the axis, negative below."""
    title = "feature (0 most important)"
    color = (alt.Color("feature:O", scale=alt.Scale(scheme="viridis", domain=features),
                       title=title) if len(features) <= MAX_SYMBOLS else
             alt.Color("feature:Q", scale=alt.Scale(scheme="viridis"), title=title))
    return base.mark_bar(stroke="white", strokeWidth=0.5).encode(
        x=alt.X("position:O", title="neuron (ordered by the most important feature it carries)",
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("sum(weight):Q", title="weight Wₖᵢ (stacked; negative below the axis)"),
        color=color,
        order=alt.Order("feature:O"),
        tooltip=_TIP,
    ).properties(width=width, height=height)


def neuron_bars(weights: pd.DataFrame, *, label: str = "density step (0 = dense)"
                ) -> alt.Chart:
    """The paper's privileged-basis view: per neuron, a stacked bar of its weight from every
    feature, with a slider over the models (e.g. one per density).

    Parameters
    ----------
    weights : pandas.DataFrame
        One row per model, neuron and feature: ``step`` (the slider's value, 0, 1, …),
        ``density``, ``regime``, ``position`` (1-based display position of the neuron),
        ``neuron``, ``feature``, ``weight``, ``importance``.
    label : str
        The slider's label.

    Returns
    -------
    altair.LayerChart
        Bars of the selected model with its density and regime as a title line.

    Examples
    --------
    >>> w = pd.DataFrame({"step": 0, "density": 1.0, "regime": "monosemantic",
    ...                   "position": [1, 1, 2, 2], "neuron": [0, 0, 1, 1],
    ...                   "feature": [0, 1, 0, 1], "weight": [1.0, -0.2, 0.0, 0.9],
    ...                   "importance": [1.0, 0.75, 1.0, 0.75]})
    >>> "params" in neuron_bars(w).to_dict(validate=True)
    True
    """
    df = _prepared(weights)
    features = sorted(df["feature"].unique().tolist())
    step = alt.param(name="model_step", value=0, bind=alt.binding_range(
        min=0, max=int(df["step"].max()), step=1, name=label + " "))
    base = alt.Chart(df).transform_filter(alt.datum.step == step)
    bars = _bars(base, features, width=420, height=280)
    caption = base.transform_aggregate(d="max(density)", r="max(regime)").transform_calculate(
        t="'1 − S = ' + format(datum.d, '.3g') + ' · ' + datum.r").mark_text(
        align="left", baseline="top", fontSize=12).encode(
        x=alt.value(4), y=alt.value(4), text="t:N")
    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color="#444").encode(y="y:Q")
    return alt.layer(bars, zero, caption).add_params(step)


def neuron_bars_static(weights: pd.DataFrame, columns: int = 8) -> alt.FacetChart:
    """Static companion of :func:`neuron_bars`: every model at once, for SVG and PNG.

    Parameters
    ----------
    weights : pandas.DataFrame
        As for :func:`neuron_bars`.
    columns : int
        Small multiples per row.

    Returns
    -------
    altair.FacetChart

    Examples
    --------
    >>> w = pd.DataFrame({"step": [0, 1], "density": [1.0, 0.1], "regime": "mixed",
    ...                   "position": 1, "neuron": 0, "feature": 0, "weight": [1.0, 0.5],
    ...                   "importance": 1.0})
    >>> "facet" in neuron_bars_static(w).to_dict(validate=True)
    True
    """
    df = _prepared(weights)
    df["model"] = df["1−S"].map(lambda d: f"1 − S = {d}") + " · " + df["regime"]
    order = df.sort_values("step")["model"].drop_duplicates().tolist()
    features = sorted(df["feature"].unique().tolist())
    return _bars(alt.Chart(df), features, width=110, height=110).facet(
        facet=alt.Facet("model:N", sort=order, title=None), columns=columns)


def best_of_n_heatmap(curves: pd.DataFrame) -> alt.LayerChart:
    """How often the best of N restarts has the regime of the best of all, per density and N.

    Parameters
    ----------
    curves : pandas.DataFrame
        ``density``, ``n`` and ``agreement`` (the probability that the lowest-loss model of N
        random restarts has the regime of the lowest-loss model of all of them), and
        ``regime`` (that regime).

    Returns
    -------
    altair.LayerChart
        A heat map: N across, density down (dense on top), coloured and labelled by agreement.

    Examples
    --------
    >>> c = pd.DataFrame({"density": [1.0, 1.0], "n": [1, 2], "agreement": [0.5, 0.75],
    ...                   "regime": "mixed"})
    >>> [layer["mark"]["type"] for layer in best_of_n_heatmap(c).to_dict(validate=True)["layer"]]
    ['rect', 'text']
    """
    df = curves.copy()
    df["1−S"] = df["density"].map(lambda d: f"{d:.3g}")
    df["agreement"] = df["agreement"].round(3)
    order = df.sort_values("density", ascending=False)["1−S"].drop_duplicates().tolist()
    base = alt.Chart(df).encode(
        x=alt.X("n:O", title="restarts N"),
        y=alt.Y("1−S:N", sort=order, title="density 1 − S"))
    heat = base.mark_rect().encode(
        color=alt.Color("agreement:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]),
                        title=["P(best of N has the", "regime of the best of all)"]),
        tooltip=[alt.Tooltip("1−S:N"), alt.Tooltip("n:O", title="N"),
                 alt.Tooltip("agreement:Q", format=".3f", title="probability"),
                 alt.Tooltip("regime:N", title="regime of the best of all")])
    text = base.mark_text(fontSize=10).encode(
        text=alt.Text("agreement:Q", format=".2f"),
        color=alt.condition(alt.datum.agreement > 0.6, alt.value("white"), alt.value("black")))
    return (heat + text).properties(width=360, height=16 * df["1−S"].nunique())


def neuron_counts(models: pd.DataFrame) -> alt.LayerChart:
    """Monosemantic, polysemantic and unused neurons against the density, one dot per seed and
    a line through the means.

    Parameters
    ----------
    models : pandas.DataFrame
        One row per model: ``density``, ``restart``, ``monosemantic``, ``polysemantic``,
        ``unused``.

    Returns
    -------
    altair.LayerChart

    Examples
    --------
    >>> m = pd.DataFrame({"density": [1.0, 0.1], "restart": 0, "monosemantic": [5, 1],
    ...                   "polysemantic": [0, 4], "unused": [0, 0]})
    >>> len(neuron_counts(m).to_dict(validate=True)["layer"])
    2
    """
    long = models.melt(id_vars=["density", "restart"],
                       value_vars=["monosemantic", "polysemantic", "unused"],
                       var_name="neurons", value_name="count")
    colour = alt.Color("neurons:N", scale=alt.Scale(
        domain=["monosemantic", "polysemantic", "unused"],
        range=["#1f77b4", "#d62728", "#999999"]), title="neurons")
    x = alt.X("density:Q", scale=alt.Scale(type="log", reverse=True),
              title="density 1 − S (log; sparser to the right)")
    dots = alt.Chart(long).mark_circle(size=40, opacity=0.5).encode(
        x=x, y=alt.Y("count:Q", title="neurons"), color=colour,
        tooltip=[alt.Tooltip("density:Q", format=".3g", title="1 − S"),
                 alt.Tooltip("restart:O", title="seed"), alt.Tooltip("neurons:N"),
                 alt.Tooltip("count:Q")])
    means = alt.Chart(long).mark_line(point=False).encode(
        x=x, y="mean(count):Q", color=colour)
    return alt.layer(dots, means).properties(width=420, height=240)
