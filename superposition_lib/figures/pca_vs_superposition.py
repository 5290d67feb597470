"""Figures of the chapter "PCA versus superposition" (``chapters/pca-vs-superposition.qmd``)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .grid import cell_heatmaps, cell_selections, metric_color, share_selections, split_cells

__all__ = [
    "collapse_curve",
    "direction_grid",
    "fine_map_chart",
    "gram_heatmaps",
    "overlay_grid",
    "pair_map_chart",
    "tradeoff_map",
]

#: Colours of the strategies of
#: :func:`~superposition_lib.experiments.pca_vs_superposition.classify_strategy`.
_STRATEGY_SCALE = alt.Scale(domain=["linear", "collapsed", "mixture", "superposition"],
                            range=["#b9b9b9", "#4269d0", "#a463f2", "#e4572e"])
#: Colours of the two-pair arrangements of
#: :data:`~superposition_lib.analysis.pair_theory.ARRANGEMENTS` and of the models in none.
_ARRANGEMENT_SCALE = alt.Scale(
    domain=["orthogonal", "antipodal", "collapsed", "triangle", "other"],
    range=["#e4572e", "#f2c14e", "#4269d0", "#6cc5b0", "#b9b9b9"])
#: Colours of the correlated sets, in order.
_SET_COLOURS = ["#4269d0", "#e4572e", "#3ca951", "#efb118", "#a463f2", "#6cc5b0"]
_LIM = alt.Scale(domain=[-1.2, 1.2], nice=False)


def _set_scale(data: pd.DataFrame) -> alt.Scale:
    """The colour scale of the sets in ``data`` (column ``set``), and of no others."""
    sets = sorted(int(v) for v in pd.unique(data["set"]))
    return alt.Scale(domain=sets, range=[_SET_COLOURS[k % len(_SET_COLOURS)] for k in sets])


def _arrows(data, scale: alt.Scale, *, size: int = 120) -> alt.LayerChart:
    """Feature directions as segments from the origin, coloured by set (x, y, set, feature)
    with ``scale`` (:func:`_set_scale` of the whole figure's data); the tip's shape (circle,
    square) tells the members of a pair apart without a legend of its own (the figures' titles
    and captions say so)."""
    base = alt.Chart(data).transform_calculate(zero="0")
    rule = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("zero:Q", scale=_LIM, title=None, axis=None),
        y=alt.Y("zero:Q", scale=_LIM, title=None, axis=None),
        x2="x:Q", y2="y:Q",
        color=alt.Color("set:N", scale=scale, title="set (pair)"))
    tip = base.mark_point(filled=True, size=40).encode(
        x="x:Q", y="y:Q", color=alt.Color("set:N", scale=scale),
        shape=alt.Shape("member:N", legend=None,
                        scale=alt.Scale(domain=["a", "b"], range=["circle", "square"])),
        tooltip=["feature:O", "set:O", alt.Tooltip("x:Q", format=".3f"),
                 alt.Tooltip("y:Q", format=".3f"), alt.Tooltip("norm:Q", format=".3f")])
    return alt.layer(rule, tip).properties(width=size, height=size)


def direction_grid(directions: pd.DataFrame) -> alt.VConcatChart:
    """Feature directions W_i of the m = 2 correlated-feature experiments, one panel each.

    Parameters
    ----------
    directions : pandas.DataFrame
        :func:`~superposition_lib.experiments.pca_vs_superposition.direction_frame` rows of several
        runs, with an added column ``experiment``.

    Returns
    -------
    altair.VConcatChart
        One row per experiment, one panel per density; a slider picks the seed (−1: the
        lowest-loss seed of each panel). Segments from the origin to W_i are coloured by set;
        the tip's shape tells the two members of a pair apart.

    Examples
    --------
    >>> d = pd.DataFrame({"experiment": "corr-pairs", "density": 0.1, "seed": 0, "best": True,
    ...                   "loss": 0.01, "feature": [0, 1], "set": 0, "x": [1.0, 0.0],
    ...                   "y": [0.0, 1.0], "norm": 1.0})
    >>> spec = direction_grid(d).to_dict(validate=True)
    >>> len(spec["vconcat"])
    1
    """
    df = directions[["experiment", "density", "seed", "best", "loss", "feature", "set", "x",
                     "y", "norm"]].copy()
    df["member"] = np.where(df["feature"] % 2 == 0, "a", "b")
    df = df.round(4)
    scale = _set_scale(df)
    seeds = int(df["seed"].max())
    seed = alt.param(name="seed", value=-1, bind=alt.binding_range(
        min=-1, max=seeds, step=1, name="seed (−1 = lowest loss) "))
    rows = []
    for name in df["experiment"].unique():
        panels = []
        for p in sorted(df[df["experiment"] == name]["density"].unique(), reverse=True):
            sub = df[(df["experiment"] == name) & (df["density"] == p)]
            chart = _arrows(sub, scale).transform_filter(
                "(seed < 0 && datum.best) || datum.seed == seed").properties(
                title=f"{name}, density {p:g}")
            panels.append(chart)
        rows.append(alt.hconcat(*panels))
    return alt.vconcat(*rows).add_params(seed)


def gram_heatmaps(gram: pd.DataFrame) -> alt.FacetChart:
    """WᵀW of the lowest-loss model at every density, as heatmaps (−1 … 1).

    Parameters
    ----------
    gram : pandas.DataFrame
        :func:`~superposition_lib.experiments.pca_vs_superposition.gram_frame` rows (``density``,
        ``i``, ``j``, ``value``).

    Returns
    -------
    altair.FacetChart
        One heatmap per density, diverging colours.

    Examples
    --------
    >>> g = pd.DataFrame({"density": 0.1, "i": [0, 0, 1, 1], "j": [0, 1, 0, 1],
    ...                   "value": [1.0, 0.0, 0.0, 1.0]})
    >>> gram_heatmaps(g).to_dict(validate=True)["spec"]["mark"]["type"]
    'rect'
    """
    df = gram.round(3)
    return alt.Chart(df).mark_rect().encode(
        x=alt.X("j:O", title="feature j"), y=alt.Y("i:O", title="feature i"),
        color=alt.Color("value:Q", title="WᵀW", scale=alt.Scale(
            scheme="redblue", domain=[-1, 1], reverse=True)),
        tooltip=["i:O", "j:O", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=220, height=220).facet(
        column=alt.Column("density:O", title="density", sort="descending",
                          header=alt.Header(format="~g", formatType="number")))


def collapse_curve(models: pd.DataFrame) -> alt.LayerChart:
    """Collapsed correlated sets against density: the best seed, every seed, and the mean.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`~superposition_lib.experiments.pca_vs_superposition.collapse_frame` rows
        (``density``, ``seed``, ``best``, ``collapsed``, ``loss``, ``strategy``).

    Returns
    -------
    altair.LayerChart
        Density on a log x axis (dense on the left); black line and points: the lowest-loss
        seed of each density; grey dots: every seed (slightly offset); dashed: the seed mean.

    Examples
    --------
    >>> m = pd.DataFrame({"density": [1.0, 1.0, 0.1, 0.1], "seed": [0, 1, 0, 1],
    ...                   "best": [True, False, False, True], "collapsed": [2, 1, 0, 0],
    ...                   "loss": 0.1, "strategy": "linear"})
    >>> collapse_curve(m).to_dict(validate=True)["layer"][0]["mark"]["type"]
    'point'
    """
    df = models[["density", "seed", "best", "collapsed", "loss", "strategy"]].copy()
    k = max(int(df["seed"].max()) + 1, 1)
    df["offset"] = (df["seed"] - (k - 1) / 2) * 0.06
    df = df.round(6)
    x = alt.X("density:Q", title="density 1 − S",
              scale=alt.Scale(type="log", reverse=True, nice=False),
              axis=alt.Axis(values=[1, 0.3, 0.1, 0.03, 0.01], format="~g"))
    y = alt.Y("y:Q", title="correlated pairs collapsed on (a + b)/√2",
              scale=alt.Scale(domain=[-0.3, 4.3]), axis=alt.Axis(values=[0, 1, 2, 3, 4]))
    tip = ["density:Q", "seed:O", "collapsed:Q", "strategy:N", alt.Tooltip("loss:Q",
                                                                          format=".4g")]
    dots = alt.Chart(df).transform_calculate(y="datum.collapsed + datum.offset").mark_point(
        filled=True, size=25, color="#b0b0b0").encode(x=x, y=y, tooltip=tip)
    best = df[df["best"]]
    line = alt.Chart(best).transform_calculate(y="datum.collapsed").mark_line(
        color="#1f1f1f", point=alt.OverlayMarkDef(size=55, color="#1f1f1f")).encode(
        x=x, y=y, tooltip=tip)
    mean = alt.Chart(df).transform_aggregate(y="mean(collapsed)", groupby=["density"]).mark_line(
        color="#4269d0", strokeDash=[4, 3]).encode(x=x, y=y, tooltip=[
            "density:Q", alt.Tooltip("y:Q", format=".2f", title="mean over seeds")])
    return alt.layer(dots, mean, line).properties(
        width=520, height=240,
        title="black: lowest-loss seed · dashed blue: mean over seeds · grey: every seed")


_METRICS = (
    ("pca_alignment", "PCA alignment (share of ‖W‖² in the top-2 subspace)", "blues", [0, 1]),
    ("features_per_dim", "features per dimension ‖W‖²/m", "oranges", None),
    ("collapsed", "pairs collapsed on (a + b)/√2 (seed mean)", "purples", [0, 4]),
    ("loss_vs_pca", "loss / linear optimum (PCA)", "redblue", None),
    ("loss_vs_nosup", "loss / no-superposition baseline", "redblue", None),
)


#: Seeds' geometry panels per row under :func:`tradeoff_map`'s heatmaps.
_SEEDS_PER_ROW = 4


def _boundary_line(boundary: pd.DataFrame, cells: pd.DataFrame, width: int, height: int
                   ) -> alt.Chart:
    """The curve (p, c) drawn over a heatmap of ``cells`` (:func:`_band_scales`, hidden
    axes)."""
    step_x, xs, ys = _band_scales(cells)
    line = boundary.assign(col=np.log(cells["density"].max() / boundary["p"]) / step_x).round(4)
    x = alt.X("col:Q", axis=None, scale=xs)
    y = alt.Y("c:Q", axis=None, scale=ys)
    return alt.Chart(line).mark_line(color="#1f1f1f", strokeWidth=2.5, strokeDash=[6, 3],
                                     clip=True).encode(
        x=x, y=y, order="col:Q",
        tooltip=[alt.Tooltip("p:Q", format=".3g", title="density"),
                 alt.Tooltip("c:Q", format=".3f", title="theory boundary c*")]
    ).properties(width=width, height=height)


def _band_scales(cells: pd.DataFrame) -> tuple[float, alt.Scale, alt.Scale]:
    """(log-density step, x scale, y scale) of quantitative marks laid over a
    heatmap of ``cells``: its density columns are equally spaced in log density and its
    correlation rows in c, so x is the column index (0 the densest) and y is c, each scale
    spanning the heatmap's bands exactly."""
    dens = np.sort(cells["density"].unique())[::-1]
    cors = np.sort(cells["correlation"].unique())
    step_x = np.log(dens[0] / dens[1]) if len(dens) > 1 else 1.0
    step_y = cors[1] - cors[0] if len(cors) > 1 else 1.0
    return (step_x,
            alt.Scale(domain=[-0.5, len(dens) - 0.5], nice=False, zero=False),
            alt.Scale(domain=[cors[0] - step_y / 2, cors[-1] + step_y / 2], nice=False,
                      zero=False))


def overlay_grid(cells: pd.DataFrame, per_cell: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The points on which a fitted model is drawn over a heatmap of ``cells``.

    Parameters
    ----------
    cells : pandas.DataFrame
        The heatmap's cells (``density`` log-spaced, ``correlation`` evenly spaced).
    per_cell : int
        Points per heatmap cell along each axis.

    Returns
    -------
    density, correlation : numpy.ndarray, shape (points,)
        A regular grid in (log density, correlation), ``per_cell`` times as fine as the
        heatmap's, from the centre of its densest column (density at most 1) to the right edge
        of its sparsest, and from its lowest to its highest correlation.

    Examples
    --------
    >>> cells = pd.DataFrame({"density": [1.0, 0.1], "correlation": [0.0, 1.0]})
    >>> d, c = overlay_grid(cells, per_cell=2)
    >>> len(d), float(d.max()), float(c.max())
    (12, 1.0, 1.0)
    """
    dens = np.sort(cells["density"].unique())[::-1]
    cors = np.sort(cells["correlation"].unique())
    step_x = np.log(dens[0] / dens[1]) if len(dens) > 1 else 1.0
    cols = np.arange(0, (len(dens) - 1) * per_cell + per_cell // 2 + 1) / per_cell
    rows = np.linspace(cors[0], cors[-1], (len(cors) - 1) * per_cell + 1)
    col, c = np.meshgrid(cols, rows)
    return dens[0] * np.exp(-col.ravel() * step_x), c.ravel()


def _fit_overlay(surface: pd.DataFrame, cells: pd.DataFrame, width: int, height: int
                 ) -> alt.LayerChart:
    """The fitted strategy model drawn over a heatmap of ``cells``: its boundaries (black, where
    the most probable strategy changes between neighbouring points of ``surface``) and their
    confidence band (the points of ``surface`` with ``band``, washed white).

    ``surface`` is :func:`~superposition_lib.experiments.pca_vs_superposition.strategy_surface`
    on a regular grid in (log density, correlation)."""
    step_x, xs, ys = _band_scales(cells)
    top = cells["density"].max()
    df = surface.copy()
    df["col"] = np.log(top / df["density"]) / step_x
    cols, rows = np.sort(df["col"].unique()), np.sort(df["correlation"].unique())
    dx, dy = cols[1] - cols[0], rows[1] - rows[0]
    df["x0"], df["x1"] = df["col"] - dx / 2, df["col"] + dx / 2
    df["y0"], df["y1"] = df["correlation"] - dy / 2, df["correlation"] + dy / 2
    grid = df.pivot(index="correlation", columns="col", values="strategy").to_numpy()
    segments = []
    for i, j in zip(*np.nonzero(grid[:, 1:] != grid[:, :-1])):     # left | right neighbours
        x = (cols[j] + cols[j + 1]) / 2
        segments.append((x, rows[i] - dy / 2, x, rows[i] + dy / 2))
    for i, j in zip(*np.nonzero(grid[1:] != grid[:-1])):           # lower | upper neighbours
        y = (rows[i] + rows[i + 1]) / 2
        segments.append((cols[j] - dx / 2, y, cols[j] + dx / 2, y))
    edges = pd.DataFrame(segments, columns=["x0", "y0", "x1", "y1"]).round(4)
    x = alt.X("x0:Q", axis=None, scale=xs)
    y = alt.Y("y0:Q", axis=None, scale=ys)
    tip = [alt.Tooltip("correlation:Q", format=".3f", title="c"),
           alt.Tooltip("density:Q", format=".3g", title="density"),
           alt.Tooltip("strategy:N", title="fit: most probable"),
           alt.Tooltip("agree:Q", format=".0%", title="refits agreeing"),
           *[alt.Tooltip(f"{name}:N", title=f"P({s}) (95% interval)")
             for s, name in (("linear", "lin"), ("collapsed", "col"), ("mixture", "mix"),
                             ("superposition", "sup"))]]
    band = df[df["band"]].copy()
    for s, name in (("linear", "lin"), ("collapsed", "col"), ("mixture", "mix"),
                    ("superposition", "sup")):
        band[name] = [f"{v:.2f} ({lo:.2f}–{hi:.2f})" for v, lo, hi in zip(
            band[f"p_{s}"], band[f"p_{s}_low"], band[f"p_{s}_high"])]
    keep = ["x0", "x1", "y0", "y1", "correlation", "density", "strategy", "agree",
            "lin", "col", "mix", "sup"]
    wash = alt.Chart(band[keep].round(4)).mark_rect(color="white", opacity=0.6,
                                                    clip=True).encode(
        x=x, x2="x1:Q", y=y, y2="y1:Q", tooltip=tip)
    lines = alt.Chart(edges).mark_rule(color="#1f1f1f", strokeWidth=1.5, clip=True).encode(
        x=x, x2="x1:Q", y=y, y2="y1:Q")
    return alt.layer(wash, lines).properties(width=width, height=height)


def fine_map_chart(cells: pd.DataFrame, surface: pd.DataFrame) -> alt.LayerChart:
    """The finer grid of the map (``pca-map-fine``) with the fitted strategy model over it.

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`~superposition_lib.experiments.pca_vs_superposition.map_cells` of
        ``pca-map-fine``.
    surface : pandas.DataFrame
        :func:`~superposition_lib.experiments.pca_vs_superposition.strategy_surface` on a
        regular grid in (log density, correlation) over the same span.

    Returns
    -------
    altair.LayerChart
        The cells' majority strategies over density (x, dense on the left) and correlation
        (y), the fit's boundaries (black) and their 95% confidence band (washed white); hover
        a cell for its seeds, or the band for the fitted probabilities.

    Examples
    --------
    >>> cells = pd.DataFrame({"density": [0.5, 0.5, 0.1, 0.1], "correlation": [0.0, 1.0] * 2,
    ...     "strategy": ["linear", "linear", "superposition", "collapsed"], "share": 1.0})
    >>> d, c = np.meshgrid(np.geomspace(0.6, 0.08, 8), np.linspace(0, 1, 6))
    >>> surface = pd.DataFrame({"density": d.ravel(), "correlation": c.ravel(),
    ...     "strategy": np.where(d.ravel() > 0.2, "linear", "collapsed"), "agree": 1.0,
    ...     "band": False, **{f"p_{s}{e}": 0.5 for s in ("linear", "collapsed", "mixture",
    ...     "superposition") for e in ("", "_low", "_high")}})
    >>> len(fine_map_chart(cells, surface).to_dict(validate=True)["layer"])
    2
    """
    df = cells[["density", "correlation", "strategy", "share"]].copy()
    df["density_label"] = df["density"].map(lambda v: f"{v:.3g}")
    order_p = df.sort_values("density", ascending=False)["density_label"].unique().tolist()
    df = df.round(4)
    x = alt.X("density_label:O", title="density 1 − S", sort=order_p,
              axis=alt.Axis(labelOverlap=True))
    y = alt.Y("correlation:O", title="correlation c", sort="descending",
              axis=alt.Axis(format=".2f", labelOverlap=True))
    tip = [alt.Tooltip("correlation:Q", format=".3f", title="c"),
           alt.Tooltip("density:Q", format=".3g", title="density"),
           alt.Tooltip("strategy:N", title="strategy (majority)"),
           alt.Tooltip("share:Q", format=".0%", title="seeds in it")]
    width, height = 520, 360
    heat = alt.Chart(df).mark_rect().encode(
        x=x, y=y, tooltip=tip,
        color=alt.Color("strategy:N", scale=_STRATEGY_SCALE, title="strategy (majority)")
    ).properties(width=width, height=height)
    return alt.layer(heat, _fit_overlay(surface, df, width, height)
                     ).resolve_scale(x="independent", y="independent")


def pair_map_chart(cells: pd.DataFrame, boundary: pd.DataFrame) -> alt.LayerChart:
    """The two-pair map: every cell's lowest-loss arrangement, against the two-pair theory.

    Parameters
    ----------
    cells : pandas.DataFrame
        One row per cell: ``density``, ``correlation``, ``arrangement`` (of the lowest-loss
        seed), ``theory`` (the theory's cheapest arrangement), ``decided`` and ``ratio`` (the
        seed's exact loss over the theory's), as in
        :func:`~superposition_lib.experiments.pca_vs_superposition.pair_map_findings`'
        ``ratio``.
    boundary : pandas.DataFrame
        The theory's collapse boundary, columns ``p`` and ``c``
        (:func:`~superposition_lib.experiments.pca_vs_superposition.theory_boundary`).

    Returns
    -------
    altair.LayerChart
        A heatmap over density (x, dense on the left) and correlation (y) coloured by the
        arrangement, a black dot on every decided cell whose arrangement is not the theory's,
        and the boundary as a dashed line, above which the theory's cheapest arrangement is
        collapse; hover a cell for its numbers.

    Examples
    --------
    >>> cells = pd.DataFrame({"density": [0.5, 0.5, 0.1, 0.1], "correlation": [0.0, 1.0] * 2,
    ...     "arrangement": ["orthogonal", "collapsed", "orthogonal", "other"],
    ...     "theory": ["orthogonal", "collapsed", "orthogonal", "orthogonal"],
    ...     "decided": True, "ratio": 1.0})
    >>> boundary = pd.DataFrame({"p": [0.5, 0.1], "c": [0.4, 0.9]})
    >>> len(pair_map_chart(cells, boundary).to_dict(validate=True)["layer"])
    2
    """
    df = cells[["density", "correlation", "arrangement", "theory", "decided", "ratio"]].copy()
    df["density_label"] = df["density"].map(lambda v: f"{v:.3g}")
    df["differs"] = df["decided"] & (df["arrangement"] != df["theory"])
    df = df.round(4)
    order_p = df.sort_values("density", ascending=False)["density_label"].unique().tolist()
    x = alt.X("density_label:O", title="density 1 − S", sort=order_p)
    y = alt.Y("correlation:O", title="correlation c", sort="descending",
              axis=alt.Axis(format=".2f"))
    tip = [alt.Tooltip("correlation:Q", format=".3f", title="c"),
           alt.Tooltip("density:Q", format=".3g", title="density"),
           alt.Tooltip("arrangement:N", title="lowest-loss seed"),
           alt.Tooltip("theory:N", title="theory's cheapest"),
           alt.Tooltip("decided:N", title="theory decided"),
           alt.Tooltip("ratio:Q", format=".4f", title="loss / theory's")]
    width, height = 460, 300
    heat = alt.Chart(df).mark_rect().encode(
        x=x, y=y, tooltip=tip,
        color=alt.Color("arrangement:N", scale=_ARRANGEMENT_SCALE,
                        title="lowest-loss seed")).properties(width=width, height=height)
    dots = alt.Chart(df[df["differs"]]).mark_circle(color="#1f1f1f", size=30).encode(
        x=x, y=y, tooltip=tip)
    # the line has quantitative scales of its own, laid over the heatmap's bands
    return alt.layer(alt.layer(heat, dots), _boundary_line(boundary, df, width, height)
                     ).resolve_scale(x="independent", y="independent")


def tradeoff_map(cells: pd.DataFrame, models: pd.DataFrame,
                 surface: pd.DataFrame | None = None) -> alt.VConcatChart:
    """The PCA ↔ superposition map over (density, correlation), linked to a cell's geometry.

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`~superposition_lib.experiments.pca_vs_superposition.map_cells` rows.
    models : pandas.DataFrame
        :func:`~superposition_lib.experiments.pca_vs_superposition.map_frame` rows of the same cells
        (with the direction columns ``w0x``, ``w0y``, …).
    surface : pandas.DataFrame, optional
        :func:`~superposition_lib.experiments.pca_vs_superposition.strategy_surface` on
        :func:`overlay_grid` of ``cells``: the fitted model's boundaries and their confidence
        band, drawn over the strategy heatmap.

    Returns
    -------
    altair.VConcatChart
        Six heatmaps (strategy, PCA alignment, features per dimension, collapsed pairs, loss
        relative to the PCA optimum and to the no-superposition baseline) over density (x) and
        correlation (y), with tooltips per cell; a dot marks the strategy cells whose seeds
        split, and the fitted boundaries (black) with their confidence band (washed white) where
        ``surface`` is given. Clicking a cell in any heatmap selects it
        (outlined everywhere); below, every seed's feature directions in the cell under the
        pointer, or in the selected cell when the pointer is off the heatmaps.

    Examples
    --------
    >>> cells = pd.DataFrame({"cell": [0, 1], "correlation": [0.0, 1.0], "density": 0.1,
    ...     "strategy": ["superposition", "linear"], "share": 1.0, "best_strategy": "linear",
    ...     "pca_alignment": [np.nan, 1.0], "features_per_dim": [2.0, 1.0],
    ...     "collapsed": [0.0, 2.0], "loss_vs_pca": [0.5, 1.0], "loss_vs_nosup": [0.4, 0.9],
    ...     "linear_optimal": 0.1, "no_superposition": 0.2})
    >>> models = pd.DataFrame({"cell": [0, 1], "seed": 0, "loss": 0.05,
    ...     "strategy": ["superposition", "linear"], "collapsed": [0, 2],
    ...     **{f"w{i}{c}": 0.5 for i in range(8) for c in "xy"}})
    >>> len(tradeoff_map(cells, models).to_dict(validate=True)["vconcat"])
    3
    """
    keep = ["cell", "correlation", "density", "strategy", "share", "best_strategy",
            *[m[0] for m in _METRICS], "linear_optimal", "no_superposition"]
    df = cells[keep].copy()
    df["density_label"] = df["density"].map(lambda v: f"{v:.3g}")
    df = df.round(4)
    order_p = df.sort_values("density", ascending=False)["density_label"].unique().tolist()
    first = int(df.loc[(np.abs(df["correlation"] - 1.0)
                        + np.abs(np.log(df["density"] / 0.1))).idxmin(), "cell"])
    pick, hover, shown = cell_selections("map", first)
    x = alt.X("density_label:O", title="density 1 − S", sort=order_p)
    y = alt.Y("correlation:O", title="correlation c", sort="descending",
              axis=alt.Axis(format=".2f"))
    tip = [alt.Tooltip("correlation:Q", format=".3f", title="c"),
           alt.Tooltip("density:Q", format=".3g", title="density"),
           alt.Tooltip("strategy:N", title="strategy (majority)"),
           alt.Tooltip("share:Q", format=".0%", title="seeds in it"),
           alt.Tooltip("best_strategy:N", title="lowest-loss seed"),
           *[alt.Tooltip(f"{m[0]}:Q", format=".3f", title=m[0].replace("_", " "))
             for m in _METRICS],
           alt.Tooltip("linear_optimal:Q", format=".4g", title="PCA loss"),
           alt.Tooltip("no_superposition:Q", format=".4g", title="no-superposition loss")]

    panels = [(alt.Color("strategy:N", scale=_STRATEGY_SCALE, title="strategy"),
               "strategy (majority of seeds)"),
              *((metric_color(field, scheme, domain), title)
                for field, title, scheme, domain in _METRICS)]
    charts, views = cell_heatmaps(df, panels, x=x, y=y, tooltip=tip, pick=pick,
                                  name="map_heat", width=230, height=190)
    # the strategy is a vote of a few seeds: mark the cells where they split
    charts[0] = alt.layer(charts[0], split_cells(df, x=x, y=y, tooltip=tip))
    if surface is not None:
        charts[0] = alt.layer(charts[0], _fit_overlay(surface, df, 230, 190)
                              ).resolve_scale(x="independent", y="independent")
    top = alt.hconcat(*charts[:3]).resolve_scale(color="independent")
    mid = alt.hconcat(*charts[3:]).resolve_scale(color="independent")

    # the selected cell's geometry: one row per (cell, seed, feature)
    n = sum(1 for c in models.columns if c.startswith("w") and c.endswith("x"))
    long = []
    for i in range(n):
        long.append(pd.DataFrame({
            "cell": models["cell"], "seed": models["seed"], "loss": models["loss"],
            "strategy": models["strategy"], "collapsed": models["collapsed"], "feature": i,
            "set": i // 2, "member": "ab"[i % 2], "x": models[f"w{i}x"],
            "y": models[f"w{i}y"]}))
    geo = pd.concat(long, ignore_index=True)
    geo["norm"] = np.hypot(geo["x"], geo["y"])
    geo[["x", "y", "norm"]] = geo[["x", "y", "norm"]].round(3)
    scale = _set_scale(geo)
    panels = []
    for s in sorted(geo["seed"].unique()):
        sub = geo[geo["seed"] == s]
        arrows = _arrows(sub, scale, size=170).transform_filter(shown)
        label = alt.Chart(sub[sub["feature"] == 0]).transform_filter(shown).mark_text(
            align="left", baseline="top", fontSize=11, dx=2, dy=2).encode(
            x=alt.value(0), y=alt.value(0),
            text=alt.Text("caption:N")).transform_calculate(
            caption=("datum.strategy + ', ' + datum.collapsed + ' collapsed, loss ' + "
                     "format(datum.loss, '.3g')"))
        panels.append(alt.layer(arrows, label).properties(title=f"seed {s}"))
    # at most four seeds side by side, so that eight fit the page column
    bottom = alt.vconcat(*(alt.hconcat(*panels[i:i + _SEEDS_PER_ROW])
                           for i in range(0, len(panels), _SEEDS_PER_ROW))).properties(
        title="the cell under the pointer (else the clicked one): every seed's directions Wᵢ "
              "(colour: pair; circle/square: its two members)")
    # a click or hover in any of the six heatmaps counts
    chart = alt.vconcat(top, mid, bottom).resolve_scale(color="independent")
    return share_selections(chart, views, pick, hover)
