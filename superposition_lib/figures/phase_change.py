"""Figures of the chapter "Superposition as a phase change" (``chapters/phase-change.qmd``)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .theme import SPACED_LEGEND

__all__ = [
    "candidate_diagram",
    "phase_diagram",
]

#: Colours of the extra feature's classes, as in the paper: grey, blue, red (and black).
_PHASE_SCALE = alt.Scale(domain=["not_represented", "dedicated", "superposition", "other"],
                         range=["#b9b9b9", "#4269d0", "#e4572e", "#1f1f1f"])
#: Colours of the n = 3 candidates: the extra feature's class hue, lighter for the variants.
_CANDIDATE_SCALE = alt.Scale(
    domain=["not_represented", "dedicated", "dedicated_pair", "antipodal", "triangle", "other"],
    range=["#b9b9b9", "#4269d0", "#97bbf5", "#e4572e", "#efb118", "#1f1f1f"])


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
        Top: theory and experiment as heatmaps over (density, r), and the cells where they
        disagree (the others faded), with the theoretical boundaries drawn over all three and
        tooltips per cell. Clicking a cell of the trained diagram
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
           alt.Tooltip("norm_extra:Q", format=".3f", title="mean ‖W₁‖"),
           alt.Tooltip("superposition_extra:Q", format=".3f", title="mean superposition"),
           alt.Tooltip("loss:Q", format=".3g", title="mean loss (trained)"),
           alt.Tooltip("theory_loss:Q", format=".3g", title="loss (theory)")]

    def heat(field: str, title: str, selects: bool = False,
             only_disagreements: bool = False) -> alt.LayerChart:
        rect = alt.Chart(df).mark_rect(clip=True).encode(
            x=x, x2="p_hi:Q", y=y, y2="r_hi:Q",
            color=alt.Color(f"{field}:N", scale=_PHASE_SCALE, title="extra feature",
                            legend=SPACED_LEGEND),
            stroke=alt.condition(pick, alt.value("#1f1f1f"), alt.value(None)),
            strokeWidth=alt.condition(pick, alt.value(2), alt.value(0)),
            tooltip=tip)
        if only_disagreements:
            rect = rect.encode(opacity=alt.condition("datum.agree", alt.value(0.08),
                                                     alt.value(1)))
        rect = rect.add_params(pick) if selects else rect
        return alt.layer(rect, _boundary_lines(boundaries)).properties(
            width=240, height=240, title=title)

    top = alt.hconcat(heat("theory", "theory: the cheapest candidate"),
                      heat("class", "trained: majority of kept seeds (click)", selects=True),
                      heat("class", "where they disagree (trained class)",
                           only_disagreements=True))
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
    ).properties(width=780, height=110,
                 title="the selected cell: every seed's weights and biases (1 = the extra "
                       "feature)")
    zero = alt.Chart(pd.DataFrame({"value": [0.0]})).mark_rule(color="#888").encode(x="value:Q")
    return alt.vconcat(top, alt.layer(detail, zero)).resolve_scale(color="independent")


def candidate_diagram(theory_cells: pd.DataFrame, boundaries: pd.DataFrame,
                      trained: pd.DataFrame | None = None) -> alt.LayerChart | alt.HConcatChart:
    """The phase diagram of n = 3, m = 2, coloured by the cheapest candidate, and beside it
    the trained models' majority candidate.

    Parameters
    ----------
    theory_cells : pandas.DataFrame
        :func:`~superposition_lib.experiments.phase_change.theory_frame` with ``n_features=3``.
    boundaries : pandas.DataFrame
        :func:`~superposition_lib.experiments.phase_change.theory_boundaries` with
        ``n_features=3``.
    trained : pandas.DataFrame, optional
        The cells of :func:`~superposition_lib.experiments.phase_change.n3_frames`.

    Returns
    -------
    altair.LayerChart or altair.HConcatChart
        Heatmap over (density, r) with the boundaries; tooltips give every candidate's loss
        (theory) or the vote (trained).

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
    place = [alt.Tooltip("relative_importance:Q", format=".3f", title="r"),
             alt.Tooltip("density:Q", format=".3f", title="density")]
    tip = [*place, alt.Tooltip("solution:N", title="cheapest"),
           alt.Tooltip("extra:N", title="extra"),
           *[alt.Tooltip(f"{c}:Q", format=".3g", title=f"loss: {c.replace('_', ' ')}")
             for c in names]]
    width = 340 if trained is None else 270
    panel = _candidate_panel(df, "solution", tip, boundaries, "n = 3, m = 2: theory", width)
    if trained is None:
        return panel
    cells = trained[["density", "relative_importance", "candidate", "share", "best_candidate",
                     "theory", "loss", "theory_loss", "r_lo", "r_hi", "p_lo", "p_hi"]].round(7)
    tip = [*place, alt.Tooltip("candidate:N", title="trained (majority)"),
           alt.Tooltip("share:Q", format=".0%", title="share of kept seeds"),
           alt.Tooltip("best_candidate:N", title="lowest-loss seed"),
           alt.Tooltip("theory:N", title="theory"),
           alt.Tooltip("loss:Q", format=".4g", title="mean loss"),
           alt.Tooltip("theory_loss:Q", format=".4g", title="cheapest candidate's loss")]
    return alt.hconcat(panel, _candidate_panel(cells, "candidate", tip, boundaries,
                                               "trained (majority of kept seeds)", width))


def _candidate_panel(df: pd.DataFrame, field: str, tip: list, boundaries: pd.DataFrame,
                     title: str, width: int) -> alt.LayerChart:
    x, y = _phase_axes()
    rect = alt.Chart(df).mark_rect(clip=True).encode(
        x=x, x2="p_hi:Q", y=y, y2="r_hi:Q",
        color=alt.Color(f"{field}:N", scale=_CANDIDATE_SCALE, title="candidate",
                        legend=SPACED_LEGEND), tooltip=tip)
    return alt.layer(rect, _boundary_lines(boundaries)).properties(
        width=width, height=280, title=title)
