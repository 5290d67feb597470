"""Energy-level figures of the chapter "Learning dynamics": jumps between dimensionality levels.

Every feature's dimensionality over training with the jumps between levels
(:mod:`~superposition_lib.analysis.dynamics.jumps`), for one model and for many; jump statistics
over seeds and densities; where the loss falls by model size, next to its nulls; the search for
the paper's energy-level picture; and features per dimension over training. Steps are drawn on
a log axis.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ...analysis.dynamics import LEVELS

__all__ = [
    "SEARCH_METRICS",
    "SHARE_PANELS",
    "energy_level_chart",
    "jump_chart",
    "jump_statistics",
    "search_chart",
    "size_shares_chart",
    "superposition_over_training",
]

_LEVEL_NAMES = {0.0: "0", 1 / 3: "1/3", 2 / 5: "2/5", 1 / 2: "1/2", 2 / 3: "2/3", 3 / 4: "3/4",
                1.0: "1"}


def _log_step(title: str = "training step", domain=None) -> alt.X:
    scale = alt.Scale(type="log", nice=False) if domain is None else alt.Scale(
        type="log", nice=False, domain=list(domain))
    return alt.X("step:Q", title=title, scale=scale, axis=alt.Axis(format="~s"))


def jump_chart(trajectory: pd.DataFrame, jumps: pd.DataFrame) -> alt.VConcatChart:
    """One model's feature dimensionalities and loss over training, linked by a brush.

    Parameters
    ----------
    trajectory : pandas.DataFrame
        :func:`~superposition_lib.experiments.learning_dynamics.trajectory_frame`: ``step``,
        ``loss`` and one ``D|i`` column per feature.
    jumps : pandas.DataFrame
        The model's :func:`~superposition_lib.analysis.dynamics.energy_level_jumps` rows
        (``feature``, ``step``, ``step_start``, ``step_end``, ``level_before``, ``level_after``,
        ``loss_change``).

    Returns
    -------
    altair.VConcatChart
        Top: every feature's D_i against step (log x), with dashed guides at the levels 0, 1/3,
        2/5, 1/2 and 2/3 and a dot at every jump; below, the loss on the same steps. Dragging
        over the loss curve selects a range of steps: the features with a jump inside it are
        drawn thick and coloured, the rest fade. Tooltips name the feature, step and D_i.

    Examples
    --------
    >>> steps = np.array([1, 10, 100, 1000])
    >>> traj = pd.DataFrame({"step": steps, "loss": [0.3, 0.2, 0.15, 0.1],
    ...                      "D|0": [0.2, 0.4, 0.4, 0.5], "D|1": [0.2, 0.5, 0.5, 0.5]})
    >>> jumps = pd.DataFrame({"feature": [0], "step": [316.0], "step_start": [100],
    ...                       "step_end": [1000], "level_before": [0.4], "level_after": [0.5],
    ...                       "loss_change": [-0.05]})
    >>> len(jump_chart(traj, jumps).to_dict(validate=True)["vconcat"])
    2
    """
    traj = trajectory.round(5)
    dcols = [c for c in traj.columns if c.startswith("D|")]
    domain = (int(traj["step"].min()), int(traj["step"].max()))
    x = _log_step(domain=domain)
    brush = alt.selection_interval(name="window", encodings=["x"])
    lines = alt.Chart(traj).transform_fold(dcols, as_=["key", "D"]).transform_calculate(
        feature="toNumber(split(datum.key, '|')[1])").mark_line(
        color="#9a9a9a", strokeWidth=1, opacity=0.6, clip=True).encode(
        x=x, y=alt.Y("D:Q", title="feature dimensionality Dᵢ",
                     scale=alt.Scale(domain=[0, 1])),
        detail="feature:N",
        tooltip=[alt.Tooltip("feature:N"), alt.Tooltip("step:Q", format=","),
                 alt.Tooltip("D:Q", format=".3f", title="Dᵢ")])
    # The features that jump inside the brushed window: for every jump, the whole trajectory
    # of its feature, with the jump's step in the field the brush tests ("step") and the
    # trajectory's own step in "t".
    long = traj.melt(id_vars=["step"], value_vars=dcols, var_name="key", value_name="D")
    long["feature"] = long["key"].str.split("|").str[1].astype(int)
    j = jumps[["feature", "step", "level_before", "level_after", "loss_change"]].copy()
    j["jump"] = np.arange(len(j))
    hi = j.merge(long.rename(columns={"step": "t"})[["feature", "t", "D"]], on="feature")
    hi = hi.round(5)
    t_axis = alt.X("t:Q", title="training step", scale=alt.Scale(
        type="log", nice=False, domain=list(domain)), axis=alt.Axis(format="~s"))
    highlight = alt.Chart(hi).transform_filter(brush).mark_line(
        strokeWidth=2.5, clip=True).encode(
        x=t_axis, y=alt.Y("D:Q"), detail="jump:N",
        color=alt.Color("feature:N", title="jumps in the window", legend=None),
        tooltip=[alt.Tooltip("feature:N"), alt.Tooltip("step:Q", format=",.0f",
                                                       title="jump at step"),
                 alt.Tooltip("level_before:Q", format=".3f", title="level before"),
                 alt.Tooltip("level_after:Q", format=".3f", title="level after"),
                 alt.Tooltip("loss_change:Q", format=".2e", title="loss change")])
    jdots = jumps.assign(D=(jumps["level_before"] + jumps["level_after"]) / 2).round(5)
    dots = alt.Chart(jdots).mark_point(shape="diamond", size=60, filled=True, color="#1f1f1f",
                                       clip=True).encode(
        x=x, y="D:Q",
        tooltip=[alt.Tooltip("feature:N"), alt.Tooltip("step:Q", format=",.0f"),
                 alt.Tooltip("level_before:Q", format=".3f", title="level before"),
                 alt.Tooltip("level_after:Q", format=".3f", title="level after"),
                 alt.Tooltip("loss_change:Q", format=".2e", title="loss change")])
    guide_levels = [v for v in LEVELS if v <= 2 / 3]
    guides = alt.Chart(pd.DataFrame({"level": guide_levels,
                                     "name": [_LEVEL_NAMES[v] for v in guide_levels]})).mark_rule(
        strokeDash=[4, 4], color="#555", strokeWidth=0.8).encode(
        y="level:Q", tooltip=[alt.Tooltip("name:N", title="level")])
    top = alt.layer(guides, lines, highlight, dots).properties(
        width=640, height=300,
        title="every feature's dimensionality (drag over the loss below to pick a window)")
    loss = alt.Chart(traj).mark_line(color="#1f1f1f", clip=True).encode(
        x=x, y=alt.Y("loss:Q", title="loss", scale=alt.Scale(type="log")),
        tooltip=[alt.Tooltip("step:Q", format=","), alt.Tooltip("loss:Q", format=".4g")],
    ).add_params(brush).properties(width=640, height=150)
    return alt.vconcat(top, loss)


#: Guides of :func:`energy_level_chart`: the levels, and 1/√2, which the paper's figure marks.
_GUIDES = pd.DataFrame({"level": [*LEVELS, 2 ** -0.5],
                        "name": [*(_LEVEL_NAMES[v] for v in LEVELS), "1/√2"]})


def energy_level_chart(trajectories: pd.DataFrame, losses: pd.DataFrame,
                       jumps: pd.DataFrame) -> alt.VConcatChart:
    """The paper's energy-level figure for many models, one at a time: every represented
    feature's dimensionality over training and, under it, how far the loss is from its final
    value, with the jumps marked on both.

    Parameters
    ----------
    trajectories : pandas.DataFrame
        One row per model and snapshot: ``label`` (naming the model), ``step`` and one
        ``D|i`` column per represented feature i (missing where a model does not show that
        feature), as :func:`~superposition_lib.experiments.learning_dynamics.scale_frames` builds
        it.
    losses : pandas.DataFrame
        ``label``, ``step`` and ``excess``: the snapshot loss minus the model's final
        snapshot loss (positive; on a log axis a step of 1e-3 in a loss of 0.05 shows).
    jumps : pandas.DataFrame
        ``label``, ``feature``, ``step``, ``level_before``, ``level_after``, ``loss_change``
        and ``excess`` (the excess loss at the jump).

    Returns
    -------
    altair.VConcatChart
        A menu picks the model. Top: Dᵢ against step (log x) with dashed guides at the levels
        and at 1/√2, a diamond at every jump (between its two levels). Bottom: the excess loss
        (log y) with a tick at every jump. Dragging over the bottom panel selects a range of
        steps: the features with a jump inside it are drawn thick and coloured over the decade
        around the jump.

    Examples
    --------
    >>> traj = pd.DataFrame({"label": "a", "step": [1, 10, 100, 1000],
    ...                      "D|0": [0.2, 0.4, 0.4, 0.5], "D|1": [0.2, 0.5, 0.5, 0.5]})
    >>> losses = pd.DataFrame({"label": "a", "step": [1, 10, 100, 1000],
    ...                        "excess": [0.2, 0.1, 0.05, 1e-6]})
    >>> jumps = pd.DataFrame({"label": ["a"], "feature": [0], "step": [316.0],
    ...                       "level_before": [0.4], "level_after": [0.5],
    ...                       "loss_change": [-0.05], "excess": [0.02]})
    >>> spec = energy_level_chart(traj, losses, jumps).to_dict(validate=True)
    >>> len(spec["vconcat"]), [p["bind"]["options"] for p in spec["params"] if "bind" in p]
    (2, [['a']])
    """
    labels = list(dict.fromkeys(trajectories["label"]))
    pick = alt.param(name="model_pick", value=labels[0],
                     bind=alt.binding_select(options=labels, name="model "))
    chosen = alt.datum.label == pick
    traj = trajectories
    dcols = [c for c in traj.columns if c.startswith("D|")]
    domain = (int(traj["step"].min()), int(traj["step"].max()))
    x = _log_step(domain=domain)
    brush = alt.selection_interval(name="window", encodings=["x"])
    long = traj.melt(id_vars=["label", "step"], value_vars=dcols, var_name="key",
                     value_name="D").dropna(subset=["D"])
    long["feature"] = long["key"].str.split("|").str[1].astype(int)
    # The grey lines: per model and snapshot, its features' D as one array (a column per
    # feature of any model would be mostly empty, and named again in every row), to 0.01
    # (a pixel or two), flattened back into rows in the browser.
    grey = long.assign(D=long["D"].round(2)).sort_values(["label", "step", "feature"]).groupby(
        ["label", "step"], sort=False).agg(D=("D", list), feature=("feature", list)).reset_index()
    lines = alt.Chart(grey).transform_filter(chosen).transform_flatten(
        ["D", "feature"]).mark_line(
        color="#9a9a9a", strokeWidth=1, opacity=0.6, clip=True).encode(
        x=x, y=alt.Y("D:Q", title="feature dimensionality Dᵢ", scale=alt.Scale(domain=[0, 1])),
        detail="feature:N",
        tooltip=[alt.Tooltip("feature:N"), alt.Tooltip("step:Q", format=","),
                 alt.Tooltip("D:Q", format=".2f", title="Dᵢ")])
    # The features that jump inside the brushed window: for every jump, its feature's
    # trajectory over the decade around it, the jump's step in the field the brush tests
    # ("step"), the trajectory's own step in "t".
    j = jumps[["label", "feature", "step", "level_before", "level_after", "loss_change"]].copy()
    j["jump"] = np.arange(len(j))
    hi = j.merge(long.rename(columns={"step": "t"})[["label", "feature", "t", "D"]],
                 on=["label", "feature"])
    hi = hi[np.abs(np.log10(hi["t"] / hi["step"])) <= 0.5].round(4)  # a decade around it
    t_axis = alt.X("t:Q", title="training step", scale=alt.Scale(
        type="log", nice=False, domain=list(domain)), axis=alt.Axis(format="~s"))
    jump_tooltip = [alt.Tooltip("feature:N"),
                    alt.Tooltip("step:Q", format=",.0f", title="jump at step"),
                    alt.Tooltip("level_before:Q", format=".3f", title="level before"),
                    alt.Tooltip("level_after:Q", format=".3f", title="level after"),
                    alt.Tooltip("loss_change:Q", format=".2e", title="loss change")]
    highlight = alt.Chart(hi).transform_filter(chosen).transform_filter(brush).mark_line(
        strokeWidth=2.5, clip=True).encode(
        x=t_axis, y=alt.Y("D:Q"), detail="jump:N",
        color=alt.Color("feature:N", legend=None), tooltip=jump_tooltip)
    marks = jumps[["label", "feature", "step", "level_before", "level_after", "loss_change",
                   "excess"]].assign(D=(jumps["level_before"] + jumps["level_after"]) / 2)
    marks = marks.round(8)
    dots = alt.Chart(marks).transform_filter(chosen).mark_point(
        shape="diamond", size=60, filled=True, color="#1f1f1f", clip=True).encode(
        x=x, y="D:Q", tooltip=jump_tooltip)
    guides = alt.Chart(_GUIDES).mark_rule(strokeDash=[4, 4], color="#555",
                                          strokeWidth=0.8).encode(
        y="level:Q", tooltip=[alt.Tooltip("name:N", title="guide")])
    guide_names = alt.Chart(_GUIDES).mark_text(align="left", dx=3, fontSize=10,
                                               color="#555").encode(
        x=alt.value(640), y="level:Q", text="name:N")
    top = alt.layer(guides, guide_names, lines, highlight, dots).properties(
        width=640, height=300,
        title="every represented feature's dimensionality (drag below to pick a window)")
    excess = alt.Y("excess:Q", title="loss − final loss", scale=alt.Scale(type="log"),
                   axis=alt.Axis(format=".0e"))
    loss = alt.Chart(losses.round(8)).transform_filter(chosen).transform_filter(
        "datum.excess > 0").mark_line(
        color="#1f1f1f", clip=True).encode(
        x=x, y=excess, tooltip=[alt.Tooltip("step:Q", format=","),
                                alt.Tooltip("excess:Q", format=".3e", title="loss − final")])
    ticks = alt.Chart(marks).transform_filter(chosen).transform_filter(
        "datum.excess > 0").mark_point(
        shape="triangle-down", size=50, filled=True, color="#e4572e", clip=True).encode(
        x=x, y=excess, tooltip=jump_tooltip)
    bottom = alt.layer(loss, ticks).add_params(brush).properties(width=640, height=170)
    return alt.vconcat(top, bottom).add_params(pick)


#: The panels of :func:`size_shares_chart`: (title, {quantity: legend label}).
SHARE_PANELS = (
    ("share of the whole loss decrease", {"after_share_of_total": "after the split",
                                          "jump_share_total": "in jump windows after it"}),
    ("share of the decrease after the split", {"jump_share_after": "jump windows",
                                               "random_share_after": "random windows",
                                               "motion_share_after": "motion windows"}),
)
_SHARE_COLOURS = {"after the split": "#9a9a9a", "in jump windows after it": "#e4572e",
                  "jump windows": "#e4572e", "random windows": "#9a9a9a",
                  "motion windows": "#4c78a8"}


def size_shares_chart(models: pd.DataFrame, statistics: pd.DataFrame) -> alt.HConcatChart:
    """Where the loss falls, by model size and density: every model, and the means with their
    intervals over seeds.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`~superposition_lib.experiments.learning_dynamics.size_model_frame` rows
        (``size``, ``density``, ``seed`` and the quantities of :data:`SHARE_PANELS`).
    statistics : pandas.DataFrame
        :func:`~superposition_lib.experiments.learning_dynamics.size_statistics` by ``size``
        and ``density``.

    Returns
    -------
    altair.HConcatChart
        Left: per model, the share of the whole loss decrease that comes after the initial
        split, and the share inside jump windows after it. Right: the share of the decrease
        after the split inside the jump windows, inside the same windows placed at random, and
        inside windows where features move fastest without a jump. A dot per model, a bar for
        the 95% interval of the mean and a tick at the mean; hover for the numbers.

    Examples
    --------
    >>> quantities = [q for _, panel in SHARE_PANELS for q in panel]
    >>> models = pd.DataFrame({"size": [20, 400], "density": 0.3, "seed": [0, 0],
    ...                        **{q: [0.1, 0.2] for q in quantities}})
    >>> stats = pd.DataFrame({"size": [20, 400], "density": 0.3, "quantity": quantities[0],
    ...                       "estimate": [0.1, 0.2], "low": [0.05, 0.1], "high": [0.2, 0.3],
    ...                       "models": 1})
    >>> len(size_shares_chart(models, stats).to_dict(validate=True)["hconcat"])
    2
    """
    def group(frame):
        return [f"n = {n}, {p:g}" for n, p in zip(frame["size"], frame["density"])]

    order = sorted(dict.fromkeys(zip(models["size"], models["density"])))
    domain = [f"n = {n}, {p:g}" for n, p in order]
    panels = []
    for title, names in SHARE_PANELS:
        dots = models.melt(id_vars=["size", "density", "seed"], value_vars=list(names),
                           var_name="quantity", value_name="share").dropna(subset=["share"])
        dots["what"] = dots["quantity"].map(names)
        dots["group"] = group(dots)
        means = statistics[statistics["quantity"].isin(names)].copy()
        means["what"] = means["quantity"].map(names)
        means["group"] = group(means)
        colour = alt.Color("what:N", title=None, sort=list(names.values()), scale=alt.Scale(
            domain=list(names.values()), range=[_SHARE_COLOURS[v] for v in names.values()]),
            legend=alt.Legend(orient="bottom", columns=1))
        x = alt.X("group:N", title="features n, density", sort=domain,
                  axis=alt.Axis(labelAngle=-40))
        offset = alt.XOffset("what:N", sort=list(names.values()))
        # the shares after the split span [0, 1]; those of the whole decrease are a few
        # percent, on a scale of their own
        scale = (alt.Scale(domain=[0, 1.05], clamp=True) if title == SHARE_PANELS[1][0]
                 else alt.Scale(zero=True, nice=True))
        y = alt.Y("share:Q", title=title, scale=scale, axis=alt.Axis(format="~%"))
        points = alt.Chart(dots).mark_circle(size=22, opacity=0.55).encode(
            x=x, xOffset=offset, y=y, color=colour,
            tooltip=["group:N", "what:N", "seed:Q", alt.Tooltip("share:Q", format=".3f")])
        tip = ["group:N", "what:N", alt.Tooltip("estimate:Q", format=".3f", title="mean"),
               alt.Tooltip("low:Q", format=".3f", title="95% low"),
               alt.Tooltip("high:Q", format=".3f", title="95% high"), "models:Q"]
        bars = alt.Chart(means).mark_rule(strokeWidth=2.5, color="#1f1f1f").encode(
            x=x, xOffset=offset, y=alt.Y("low:Q", scale=scale), y2="high:Q", tooltip=tip)
        ticks = alt.Chart(means).mark_tick(thickness=2.5, size=12, color="#1f1f1f").encode(
            x=x, xOffset=offset, y=alt.Y("estimate:Q"), tooltip=tip)
        panels.append(alt.layer(points, bars, ticks).properties(width=330, height=260))
    return alt.hconcat(*panels).resolve_scale(color="independent")


def jump_statistics(models: pd.DataFrame, jumps: pd.DataFrame) -> alt.HConcatChart:
    """Jumps over seeds and densities: how many, when, how large, and their share of the loss.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`~superposition_lib.experiments.learning_dynamics.model_frame` rows.
    jumps : pandas.DataFrame
        :func:`~superposition_lib.experiments.learning_dynamics.jump_frame` rows.

    Returns
    -------
    altair.HConcatChart
        Left: jumps per model, one dot per seed, by density. Middle: every jump's step (log x)
        against its loss decrease (log y), coloured by density. Right: per model with a jump,
        the fraction of the loss decrease from the first level reached (``first_level``) to
        the end that happens inside jump windows, against the fraction of log-time the windows
        cover (the diagonal: no faster than elsewhere).

    Examples
    --------
    >>> models = pd.DataFrame({"model": [0, 1], "density": [0.3, 0.1], "seed": [0, 0],
    ...                        "jumps": [2, 0], "jump_fraction_first": [0.4, np.nan],
    ...                        "log_time_fraction_first": [0.1, np.nan],
    ...                        "first_level": [100, 90], "split_step": [500, np.nan],
    ...                        "final_loss": [0.1, 0.05]})
    >>> jumps = pd.DataFrame({"model": [0, 0], "density": [0.3, 0.3], "seed": 0,
    ...                       "feature": [1, 2], "step": [1000.0, 2000.0],
    ...                       "level_before": [0.4, 0.4], "level_after": [0.5, 0.5],
    ...                       "loss_change": [-0.01, 0.001]})
    >>> len(jump_statistics(models, jumps).to_dict(validate=True)["hconcat"])
    3
    """
    color = alt.Color("density:O", title="density", scale=alt.Scale(scheme="viridis"),
                      sort="descending")
    m = models[["model", "density", "seed", "jumps", "jump_fraction_first",
                "log_time_fraction_first", "first_level", "split_step", "final_loss"]].round(5)
    count = alt.Chart(m).mark_circle(size=60, opacity=0.7).encode(
        x=alt.X("density:O", title="density", sort="descending"),
        y=alt.Y("jumps:Q", title="jumps per model"),
        xOffset=alt.XOffset("jitter:Q"), color=color,
        tooltip=["model:N", "seed:N", "density:Q", "jumps:Q",
                 alt.Tooltip("split_step:Q", format=",", title="split done at step")],
    ).transform_calculate(jitter="random()").properties(width=160, height=260,
                                                        title="how many")
    j = jumps[["model", "density", "seed", "feature", "step", "level_before", "level_after",
               "loss_change"]].copy()
    j["drop"] = -j["loss_change"]
    j = j[j["drop"] > 0].round(7)
    when = alt.Chart(j).mark_circle(size=50, opacity=0.7).encode(
        x=_log_step("jump step"),
        y=alt.Y("drop:Q", title="loss decrease across the jump",
                scale=alt.Scale(type="log"), axis=alt.Axis(format=".0e")),
        color=color,
        tooltip=["model:N", "seed:N", "density:Q", "feature:N",
                 alt.Tooltip("step:Q", format=",.0f"),
                 alt.Tooltip("level_before:Q", format=".3f", title="level before"),
                 alt.Tooltip("level_after:Q", format=".3f", title="level after"),
                 alt.Tooltip("drop:Q", format=".2e", title="loss decrease")],
    ).properties(width=280, height=260, title="when, and how large (decreases only)")
    share = m.dropna(subset=["jump_fraction_first"])
    share = share[share["jumps"] > 0]
    frac = alt.Chart(share).mark_circle(size=60, opacity=0.7).encode(
        x=alt.X("log_time_fraction_first:Q", title="share of log-time in jump windows",
                scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("jump_fraction_first:Q", title="share of the loss decrease in jump windows",
                scale=alt.Scale(domain=[-0.2, 1], clamp=True)),
        color=color,
        tooltip=["model:N", "seed:N", "density:Q", "jumps:Q",
                 alt.Tooltip("first_level:Q", format=",", title="first level at step"),
                 alt.Tooltip("jump_fraction_first:Q", format=".2f", title="loss share"),
                 alt.Tooltip("log_time_fraction_first:Q", format=".2f",
                             title="log-time share")])
    diag = alt.Chart(pd.DataFrame({"a": [0.0, 1.0]})).mark_line(
        strokeDash=[4, 4], color="#888").encode(x="a:Q", y="a:Q")
    right = alt.layer(diag, frac).properties(width=240, height=260,
                                             title="how much of the loss")
    return alt.hconcat(count, when, right).resolve_scale(color="shared")


#: The metrics :func:`search_chart` can show, as (column, label).
SEARCH_METRICS = (
    ("digon_share", "share of features that end in a digon"),
    ("all_settled_share", "share of models with every feature on 0 or 1/2"),
    ("digon_jumps_per_model", "jumps from a settled digon, per model"),
    ("jumps_per_model", "jumps per model"),
    ("median_jump_fraction_first", "median share of the loss decrease in jump windows"),
)


def search_chart(cells: pd.DataFrame, jumps: pd.DataFrame) -> alt.HConcatChart:
    """The energy-level search: one cell per setting and density, and every jump.

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`~superposition_lib.experiments.learning_dynamics.search_frame` rows grouped
        by ``["setting", "density"]``, with ``n``, ``m``, ``lr``, ``schedule`` and the
        columns of :data:`SEARCH_METRICS` (``jumps_per_model`` is computed here).
    jumps : pandas.DataFrame
        :func:`~superposition_lib.experiments.learning_dynamics.jump_frame` rows with
        ``setting``.

    Returns
    -------
    altair.HConcatChart
        Left: a heat map of settings (rows, in the order given) by density (columns); a
        drop-down picks the metric that colours and labels the cells, and hovering a cell
        shows all of them. Right: every jump's step (log x) by setting, red if the feature
        had already settled into a digon, grey otherwise; clicking a cell on the left keeps
        only its jumps (click on empty space to show all again).

    Examples
    --------
    >>> cells = pd.DataFrame({"setting": ["a", "a"], "n": 10, "m": 5, "lr": 1e-3,
    ...                       "schedule": "constant", "density": [0.3, 0.1], "models": 2,
    ...                       "jumps": [1, 0], "digon_share": [1.0, 0.9],
    ...                       "all_settled_share": [1.0, 0.5],
    ...                       "digon_jumps_per_model": [0.5, 0.0],
    ...                       "median_jump_fraction_first": [0.2, np.nan]})
    >>> jumps = pd.DataFrame({"setting": ["a"], "density": [0.3], "model": 0, "feature": 3,
    ...                       "step": [2000.0], "level_before": [0.5], "level_after": [0.0],
    ...                       "loss_change": [-1e-3], "from_digon": [True]})
    >>> len(search_chart(cells, jumps).to_dict(validate=True)["hconcat"])
    2
    """
    order = list(dict.fromkeys(cells["setting"]))
    c = cells.assign(jumps_per_model=cells["jumps"] / cells["models"])
    keep = ["setting", "n", "m", "lr", "schedule", "density", "models", "jumps"]
    c = c[keep + [k for k, _ in SEARCH_METRICS if k not in keep]].round(4)
    metric = alt.param(name="metric", value=SEARCH_METRICS[0][0], bind=alt.binding_select(
        options=[k for k, _ in SEARCH_METRICS], labels=[v for _, v in SEARCH_METRICS],
        name="colour by "))
    cell = alt.selection_point(name="cell", fields=["setting", "density"])
    y = alt.Y("setting:N", sort=order, title=None)
    base = alt.Chart(c).transform_calculate(value="datum[metric]").transform_joinaggregate(
        top="max(value)").encode(
        x=alt.X("density:O", sort="descending", title="density"), y=y)
    tips = [alt.Tooltip("setting:N"), alt.Tooltip("n:Q"), alt.Tooltip("m:Q"),
            alt.Tooltip("lr:Q", format="g"), alt.Tooltip("schedule:N"),
            alt.Tooltip("density:Q"), alt.Tooltip("models:Q"), alt.Tooltip("jumps:Q")]
    tips += [alt.Tooltip(f"{k}:Q", format=".2f", title=v) for k, v in SEARCH_METRICS]
    heat = base.mark_rect(stroke="#fff").encode(
        color=alt.Color("value:Q", title="selected metric",
                        scale=alt.Scale(scheme="blues", zero=True)),
        opacity=alt.condition(cell, alt.value(1.0), alt.value(0.4)),
        tooltip=tips).add_params(metric, cell)
    text = base.mark_text(fontSize=10).encode(
        text=alt.Text("value:Q", format=".2f"),
        color=alt.condition("datum.value > 0.6 * datum.top", alt.value("#fff"),
                            alt.value("#222")))
    left = alt.layer(heat, text).properties(
        width=220, height=alt.Step(24), title="per setting and density (pick a metric)")
    j = jumps[["setting", "density", "model", "feature", "step", "level_before",
               "level_after", "loss_change", "from_digon"]].copy()
    j["origin"] = np.where(j["from_digon"], "from a settled digon", "other")
    j = j.drop(columns="from_digon").round(7)
    right = alt.Chart(j).transform_filter(cell).mark_point(
        filled=True, size=30, opacity=0.6).encode(
        x=_log_step("jump step"),
        y=alt.Y("setting:N", title=None, scale=alt.Scale(domain=order),
                axis=alt.Axis(labels=False, ticks=False, domain=False, grid=True,
                              bandPosition=0)),
        yOffset=alt.YOffset("jitter:Q", scale=alt.Scale(domain=[0, 1], range=[4, 20])),
        color=alt.Color("origin:N", title="jump", scale=alt.Scale(
            domain=["from a settled digon", "other"], range=["#e4572e", "#9a9a9a"])),
        tooltip=[alt.Tooltip("setting:N"), alt.Tooltip("density:Q"), alt.Tooltip("model:N"),
                 alt.Tooltip("feature:N"), alt.Tooltip("step:Q", format=",.0f"),
                 alt.Tooltip("level_before:Q", format=".3f", title="level before"),
                 alt.Tooltip("level_after:Q", format=".3f", title="level after"),
                 alt.Tooltip("loss_change:Q", format=".2e", title="loss change"),
                 alt.Tooltip("origin:N")],
    ).transform_calculate(jitter="random()").properties(
        width=360, height=alt.Step(24), title="every jump (click a cell to filter)")
    return alt.hconcat(left, right).resolve_scale(color="independent")


def superposition_over_training(superposition: pd.DataFrame) -> alt.LayerChart:
    """Features per dimension against step, per density (median and quartiles over seeds).

    Parameters
    ----------
    superposition : pandas.DataFrame
        :func:`~superposition_lib.experiments.learning_dynamics.superposition_frame`:
        ``density``, ``step``, ``median``, ``q25``, ``q75``, ``represented``.

    Returns
    -------
    altair.LayerChart
        Lines of the median ‖W‖_F²/m with an interquartile band, log x; a dashed rule at 1
        (as many features as dimensions: above it the model is in superposition).

    Examples
    --------
    >>> df = pd.DataFrame({"density": 0.3, "step": [1, 10, 100], "median": [0.1, 0.5, 2.0],
    ...                    "q25": [0.1, 0.4, 1.9], "q75": [0.1, 0.6, 2.1],
    ...                    "represented": [0.0, 0.2, 2.0]})
    >>> superposition_over_training(df).to_dict(validate=True)["layer"][0]["mark"]["type"]
    'rule'
    """
    df = superposition.round(5)
    color = alt.Color("density:O", title="density", scale=alt.Scale(scheme="viridis"),
                      sort="descending")
    x = _log_step()
    band = alt.Chart(df).mark_area(opacity=0.2).encode(
        x=x, y=alt.Y("q25:Q", title="features per dimension Σᵢ ‖Wᵢ‖² / m"), y2="q75:Q",
        color=color)
    line = alt.Chart(df).mark_line().encode(
        x=x, y="median:Q", color=color,
        tooltip=[alt.Tooltip("density:Q"), alt.Tooltip("step:Q", format=","),
                 alt.Tooltip("median:Q", format=".3f", title="median Σᵢ ‖Wᵢ‖² / m"),
                 alt.Tooltip("q25:Q", format=".3f"), alt.Tooltip("q75:Q", format=".3f"),
                 alt.Tooltip("represented:Q", format=".2f",
                             title="median features with ‖Wᵢ‖ > 0.5, per dimension")])
    one = alt.Chart(pd.DataFrame({"y": [1.0]})).mark_rule(strokeDash=[4, 4],
                                                          color="#555").encode(y="y:Q")
    return alt.layer(one, band, line).properties(width=560, height=300)
