"""The figures of the chapter "Learning dynamics" (``chapters/learning-dynamics.qmd``).

Every ``figure_*`` function here builds one figure of the chapter: it asks
:mod:`~superposition_lib.experiments.learning_dynamics` for the tidy frames and draws them with
:mod:`~superposition_lib.figures.learning_dynamics`, returning ``(chart, data)`` or
``(chart, data, static)`` (see :func:`~superposition_lib.book.chapter_figures`).
:data:`FIGURES` maps the chapter's figure labels to these functions.

Examples
--------
>>> sorted(FIGURES)[:3]
['fig-energy-levels', 'fig-energy-search', 'fig-jump-statistics']
"""

from __future__ import annotations

import numpy as np

from ..experiments import load
from ..experiments.learning_dynamics import (
    CHAPTER,
    energy_frames,
    scale_results,
    search_frames,
    stage_frames,
    stage_init_results,
    trajectory_frame,
)
from ..figures import learning_dynamics as fig
from ..core.store import RunStore

__all__ = ["CHAPTER", "FIGURES"]


def figure_energy_levels(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-energy-levels``: the paper-style figure for every model of the
    paper-scale runs, (chart, data).

    Examples
    --------
    >>> FIGURES["fig-energy-levels"] is figure_energy_levels
    True
    """
    r = scale_results(profile, store=store)
    shown = r["models"]["size"] > 20
    labels = set(r["models"].loc[shown, "label"])
    pick = {name: frame[frame["label"].isin(labels)]
            for name, frame in (("trajectories", r["trajectories"]), ("losses", r["losses"]),
                                ("jumps", r["jumps"]))}
    # From step 10 on (over the first decade the weights barely move) and every other
    # snapshot: the page carries 30 models, and every table stays under 5,000 rows.
    traj = pick["trajectories"].dropna(axis=1, how="all")
    steps = np.unique(traj["step"][traj["step"] >= 10])[::2]
    traj = traj[traj["step"].isin(steps)]
    losses = pick["losses"][pick["losses"]["step"].isin(steps)]
    return (fig.energy_level_chart(traj, losses, pick["jumps"]),
            {"trajectories": traj, "losses": losses, "jumps": pick["jumps"]})


def figure_scale_statistics(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-scale-statistics``: jump statistics by model size with their
    intervals, (chart, data).

    Examples
    --------
    >>> FIGURES["fig-scale-statistics"] is figure_scale_statistics
    True
    """
    stats = scale_results(profile, store=store)["statistics"]
    return fig.scale_statistics_chart(stats), {"statistics": stats}


def figure_jumps(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-jumps``: (chart, data).

    Examples
    --------
    >>> FIGURES["fig-jumps"] is figure_jumps
    True
    """
    e = energy_frames(profile, store=store)
    jumps = e["jumps"][e["jumps"]["model"] == e["exemplar"]]
    return (fig.jump_chart(e["trajectory"], jumps),
            {"trajectory": e["trajectory"], "jumps": jumps})


def figure_jump_statistics(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-jump-statistics``: (chart, data).

    Examples
    --------
    >>> FIGURES["fig-jump-statistics"] is figure_jump_statistics
    True
    """
    e = energy_frames(profile, store=store)
    return (fig.jump_statistics(e["models"], e["jumps"]),
            {"models": e["models"], "jumps": e["jumps"]})


def figure_superposition_over_training(profile: str | None = None, *,
                                       store: RunStore | None = None):
    """The chapter's ``fig-superposition-over-training``: (chart, data).

    Examples
    --------
    >>> FIGURES["fig-superposition-over-training"] is figure_superposition_over_training
    True
    """
    e = energy_frames(profile, store=store)
    return fig.superposition_over_training(e["superposition"]), {
        "superposition": e["superposition"]}


def figure_stage_init(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-stage-init``: the share of models visiting each stage, by initial
    scale and density, (chart, data).

    Examples
    --------
    >>> FIGURES["fig-stage-init"] is figure_stage_init
    True
    """
    shares = stage_init_results(profile, store=store)["shares"]
    return fig.path_share_chart(shares), {"shares": shares}


def figure_stages(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-stages``: (chart, data).

    Examples
    --------
    >>> FIGURES["fig-stages"] is figure_stages
    True
    """
    s = stage_frames(profile, store=store)
    bands = s["paths"][s["paths"]["model"] == s["exemplar"]]
    return fig.stage_explorer(s["geometry"], bands), {"geometry": s["geometry"],
                                                      "bands": bands}


def figure_stage_paths(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-stage-paths``: (chart, data).

    Examples
    --------
    >>> FIGURES["fig-stage-paths"] is figure_stage_paths
    True
    """
    s = stage_frames(profile, store=store)
    return fig.stage_paths(s["paths"]), {"paths": s["paths"]}


def figure_energy_search(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-energy-search``: (chart, data).

    Examples
    --------
    >>> FIGURES["fig-energy-search"] is figure_energy_search
    True
    """
    f = search_frames(profile, store=store)
    return fig.search_chart(f["cells"], f["jumps"]), {"cells": f["cells"], "jumps": f["jumps"]}


def figure_latest_jump(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-latest-jump``: the model of the search's latest jump, (chart, data).

    Examples
    --------
    >>> FIGURES["fig-latest-jump"] is figure_latest_jump
    True
    """
    f = search_frames(profile, store=store)
    late = f["findings"]["latest_jump"]
    run = load(late["setting"], profile, store=store)
    traj = trajectory_frame(run, late["model"])
    jumps = f["jumps"][(f["jumps"]["setting"] == late["setting"])
                       & (f["jumps"]["model"] == late["model"])]
    return fig.jump_chart(traj, jumps), {"trajectory": traj, "jumps": jumps}


#: The chapter's figures by label: functions ``(profile, store) -> (chart, data)``.
FIGURES = {"fig-energy-levels": figure_energy_levels,
           "fig-scale-statistics": figure_scale_statistics,
           "fig-energy-search": figure_energy_search, "fig-latest-jump": figure_latest_jump,
           "fig-jumps": figure_jumps, "fig-jump-statistics": figure_jump_statistics,
           "fig-superposition-over-training": figure_superposition_over_training,
           "fig-stages": figure_stages, "fig-stage-paths": figure_stage_paths,
           "fig-stage-init": figure_stage_init}
