"""Figures of the chapter "Superposition and adversarial vulnerability"."""

from __future__ import annotations

import altair as alt
import pandas as pd

__all__ = ["adversarial_training", "vulnerability_scatter", "vulnerability_sweep"]

_X_DENSITY = alt.X("inverse_density:Q", scale=alt.Scale(type="log"),
                   title="1 / (1 − S) (log; sparser to the right)")
_SWEEP_TOOLTIP = [
    alt.Tooltip("inverse_density:Q", format=".3g", title="1/(1 − S)"),
    alt.Tooltip("features_per_dimension:Q", format=".3f", title="features per dimension"),
    alt.Tooltip("vulnerability:Q", format=".3f", title="relative vulnerability"),
    alt.Tooltip("vulnerability_se:Q", format=".2g", title="± (s.e.)"),
    alt.Tooltip("pgd_vulnerability:Q", format=".3f", title="gradient attack"),
]
#: The measures of :func:`vulnerability_sweep`, with their colours.
_MEASURES = {"vulnerability": ("relative vulnerability, optimal attack", "#d62728"),
             "pgd_vulnerability": ("relative vulnerability, gradient attack", "#ff9896"),
             "features_per_dimension": ("features per dimension", "#1f77b4")}


def vulnerability_sweep(sweep: pd.DataFrame) -> alt.LayerChart:
    """Relative vulnerability and features per dimension against 1/(1 − S): the paper's figure.

    Parameters
    ----------
    sweep : pandas.DataFrame
        One row per model: ``inverse_density``, ``vulnerability``, ``vulnerability_se``,
        ``pgd_vulnerability``, ``features_per_dimension``.

    Returns
    -------
    altair.LayerChart

    Examples
    --------
    >>> s = pd.DataFrame({"inverse_density": [1.0, 10.0], "vulnerability": [1.0, 8.0],
    ...                   "vulnerability_se": [0.01, 0.1], "pgd_vulnerability": [1.0, 12.0],
    ...                   "features_per_dimension": [1.0, 4.5]})
    >>> len(vulnerability_sweep(s).to_dict(validate=True)["layer"])
    3
    """
    long = sweep.melt(id_vars=["inverse_density", "vulnerability_se"],
                      value_vars=list(_MEASURES), var_name="key", value_name="value")
    long["measure"] = long["key"].map({k: v[0] for k, v in _MEASURES.items()})
    colour = alt.Color("measure:N", title=None, legend=alt.Legend(orient="top-left"),
                       scale=alt.Scale(domain=[v[0] for v in _MEASURES.values()],
                                       range=[v[1] for v in _MEASURES.values()]))
    y = alt.Y("value:Q", title="relative vulnerability / features per dimension")
    lines = alt.Chart(long).mark_line(point=True).encode(
        x=_X_DENSITY, y=y, color=colour,
        tooltip=[alt.Tooltip("measure:N"),
                 alt.Tooltip("inverse_density:Q", format=".3g", title="1/(1 − S)"),
                 alt.Tooltip("value:Q", format=".3f")])
    band = alt.Chart(sweep).transform_calculate(
        low="datum.vulnerability - 2 * datum.vulnerability_se",
        high="datum.vulnerability + 2 * datum.vulnerability_se").mark_errorbar(
        color="#d62728").encode(x=_X_DENSITY, y=alt.Y("low:Q", title=""), y2="high:Q")
    ones = alt.Chart(pd.DataFrame({"value": [1.0]})).mark_rule(
        strokeDash=[4, 4], color="#888").encode(y="value:Q")
    return alt.layer(lines, band, ones).properties(width=560, height=300)


def vulnerability_scatter(sweep: pd.DataFrame) -> alt.LayerChart:
    """Relative vulnerability against features per dimension, one point per model.

    Parameters
    ----------
    sweep : pandas.DataFrame
        As for :func:`vulnerability_sweep`.

    Returns
    -------
    altair.LayerChart

    Examples
    --------
    >>> s = pd.DataFrame({"inverse_density": [1.0, 10.0], "vulnerability": [1.0, 8.0],
    ...                   "vulnerability_se": [0.01, 0.1], "pgd_vulnerability": [1.0, 12.0],
    ...                   "features_per_dimension": [1.0, 4.5]})
    >>> len(vulnerability_scatter(s).to_dict(validate=True)["layer"])
    2
    """
    points = alt.Chart(sweep).mark_circle(size=70, opacity=0.85).encode(
        x=alt.X("features_per_dimension:Q", title="features per dimension Σᵢ ‖Wᵢ‖² / m"),
        y=alt.Y("vulnerability:Q", title="relative vulnerability (optimal attack)"),
        color=alt.Color("inverse_density:Q", scale=alt.Scale(type="log", scheme="viridis"),
                        title="1/(1 − S)"),
        tooltip=_SWEEP_TOOLTIP)
    bars = alt.Chart(sweep).transform_calculate(
        low="datum.vulnerability - 2 * datum.vulnerability_se",
        high="datum.vulnerability + 2 * datum.vulnerability_se").mark_errorbar(
        color="#666").encode(x="features_per_dimension:Q", y=alt.Y("low:Q", title=""),
                             y2="high:Q")
    return alt.layer(bars, points).properties(width=420, height=300)


def adversarial_training(models: pd.DataFrame) -> alt.HConcatChart:
    """Features per dimension, the weighted mean dimensionality and the clean loss against
    the training attack's norm.

    One dot per seed, a line through the means, one colour per training attack; dashed rules
    at one feature per dimension, at the dimensionality threshold and at the plain clean loss.

    Parameters
    ----------
    models : pandas.DataFrame
        One row per model: ``attack``, ``attack_norm``, ``seed``, ``features_per_dimension``,
        ``learned``, ``represented``, ``dimensionality``, ``loss_ratio``, ``vulnerability``.

    Returns
    -------
    altair.HConcatChart

    Examples
    --------
    >>> m = pd.DataFrame({"attack": "random", "attack_norm": [0.0, 1.0], "seed": 0,
    ...                   "features_per_dimension": [4.0, 0.9], "learned": [40, 10],
    ...                   "represented": [40, 9], "dimensionality": [0.25, 0.97],
    ...                   "loss_ratio": [1.0, 1.3], "vulnerability": [9.0, 0.5]})
    >>> len(adversarial_training(m).to_dict(validate=True)["hconcat"])
    3
    """
    x = alt.X("attack_norm:Q", title="training attack norm / mean input norm")
    colour = alt.Color("attack:N", title="training attack",
                       scale=alt.Scale(domain=["random", "strongest"],
                                       range=["#4269d0", "#ff725c"]))
    tooltip = [alt.Tooltip("attack:N"), alt.Tooltip("attack_norm:Q", title="attack norm"),
               alt.Tooltip("seed:O"),
               alt.Tooltip("features_per_dimension:Q", format=".3f",
                           title="features per dimension"),
               alt.Tooltip("learned:Q", title="features with ‖Wᵢ‖ > 0.1"),
               alt.Tooltip("represented:Q", title="features with ‖Wᵢ‖ > 0.5"),
               alt.Tooltip("dimensionality:Q", format=".3f", title="mean Dᵢ weighted by ‖Wᵢ‖²"),
               alt.Tooltip("loss_ratio:Q", format=".3f", title="clean loss / plain"),
               alt.Tooltip("vulnerability:Q", format=".3f", title="relative vulnerability")]

    def panel(field: str, title: str, rule: float):
        base = alt.Chart(models)
        dots = base.mark_circle(size=40, opacity=0.55).encode(
            x=x, y=alt.Y(f"{field}:Q", title=title), color=colour, tooltip=tooltip)
        means = base.mark_line().encode(x=x, y=f"mean({field}):Q", color=colour)
        guide = alt.Chart(pd.DataFrame({"y": [rule]})).mark_rule(
            strokeDash=[4, 4], color="#888").encode(y="y:Q")
        return alt.layer(dots, means, guide).properties(width=215, height=230)

    return alt.hconcat(panel("features_per_dimension", "features per dimension", 1.0),
                       panel("dimensionality", "mean Dᵢ weighted by ‖Wᵢ‖²", 0.9),
                       panel("loss_ratio", "clean loss / without attack", 1.0))
