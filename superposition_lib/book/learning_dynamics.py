"""The figures of the chapter "Learning dynamics" (``chapters/learning-dynamics.qmd``).

Every ``figure_*`` function here builds one figure of the chapter: it asks
:mod:`~superposition_lib.experiments.learning_dynamics` for the tidy frames and draws them with
:mod:`~superposition_lib.figures.learning_dynamics`, returning ``(chart, data)`` or
``(chart, data, static)`` (see :func:`~superposition_lib.book.chapter_figures`).
Each registers itself under its figure's label (:func:`~superposition_lib.book.registry.figure`).

Examples
--------
>>> from superposition_lib.book.registry import builders
>>> sorted(builders(CHAPTER))[:3]
['fig-energy-levels', 'fig-energy-search', 'fig-jump-statistics']
"""

from __future__ import annotations

import numpy as np

from ..core.store import RunStore
from ..experiments import load
from ..experiments.learning_dynamics import (
    CHAPTER,
    energy_frames,
    scale_results,
    search_frames,
    size_results,
    stage_frames,
    stage_init_results,
    trajectory_frame,
)
from ..figures import learning_dynamics as fig
from .registry import figure

__all__ = ["CHAPTER", "figure_energy_levels", "figure_energy_search", "figure_jump_statistics",
           "figure_jumps", "figure_latest_jump", "figure_size_shares", "figure_stage_init",
           "figure_stage_paths", "figure_stages", "figure_superposition_over_training"]


@figure(CHAPTER, "fig-energy-levels")
def figure_energy_levels(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-energy-levels``: the paper-style figure for every model of the
    paper-scale runs, (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_energy_levels("smoke")
    >>> sorted(data)
    ['jumps', 'losses', 'trajectories']
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


@figure(CHAPTER, "fig-size-shares")
def figure_size_shares(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-size-shares``: where the loss falls, by size and density, with the
    nulls, (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_size_shares("smoke")
    >>> sorted(data)
    ['models', 'statistics']
    """
    r = size_results(profile, store=store)
    columns = ["size", "density", "seed", *(q for _, names in fig.SHARE_PANELS for q in names)]
    models = r["models"][columns]
    stats = r["statistics"].dropna(subset=["density"])
    return fig.size_shares_chart(models, stats), {"models": models, "statistics": stats}


@figure(CHAPTER, "fig-jumps")
def figure_jumps(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-jumps``: (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_jumps("smoke")
    >>> sorted(data)
    ['jumps', 'trajectory']
    """
    e = energy_frames(profile, store=store)
    jumps = e["jumps"][e["jumps"]["model"] == e["exemplar"]]
    return (fig.jump_chart(e["trajectory"], jumps),
            {"trajectory": e["trajectory"], "jumps": jumps})


@figure(CHAPTER, "fig-jump-statistics")
def figure_jump_statistics(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-jump-statistics``: (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_jump_statistics("smoke")
    >>> sorted(data)
    ['jumps', 'models']
    """
    e = energy_frames(profile, store=store)
    return (fig.jump_statistics(e["models"], e["jumps"]),
            {"models": e["models"], "jumps": e["jumps"]})


@figure(CHAPTER, "fig-superposition-over-training")
def figure_superposition_over_training(profile: str | None = None, *,
                                       store: RunStore | None = None):
    """The chapter's ``fig-superposition-over-training``: (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_superposition_over_training("smoke")
    >>> sorted(data)
    ['superposition']
    """
    e = energy_frames(profile, store=store)
    return fig.superposition_over_training(e["superposition"]), {
        "superposition": e["superposition"]}


@figure(CHAPTER, "fig-stage-init")
def figure_stage_init(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-stage-init``: the share of models visiting each stage, by initial
    scale and density, (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_stage_init("smoke")
    >>> sorted(data)
    ['shares']
    """
    shares = stage_init_results(profile, store=store)["shares"]
    return fig.path_share_chart(shares), {"shares": shares}


@figure(CHAPTER, "fig-stages")
def figure_stages(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-stages``: (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_stages("smoke")
    >>> sorted(data)
    ['bands', 'geometry']
    """
    s = stage_frames(profile, store=store)
    bands = s["paths"][s["paths"]["model"] == s["exemplar"]]
    return fig.stage_explorer(s["geometry"], bands), {"geometry": s["geometry"],
                                                      "bands": bands}


@figure(CHAPTER, "fig-stage-paths")
def figure_stage_paths(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-stage-paths``: (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_stage_paths("smoke")
    >>> sorted(data)
    ['paths']
    """
    s = stage_frames(profile, store=store)
    return fig.stage_paths(s["paths"]), {"paths": s["paths"]}


@figure(CHAPTER, "fig-energy-search")
def figure_energy_search(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-energy-search``: (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_energy_search("smoke")
    >>> sorted(data)
    ['cells', 'jumps']
    """
    f = search_frames(profile, store=store)
    return fig.search_chart(f["cells"], f["jumps"]), {"cells": f["cells"], "jumps": f["jumps"]}


@figure(CHAPTER, "fig-latest-jump")
def figure_latest_jump(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-latest-jump``: the model of the search's latest jump, (chart, data).

    Examples
    --------
    >>> chart, data, *static = figure_latest_jump("smoke")
    >>> sorted(data)
    ['jumps', 'trajectory']
    """
    f = search_frames(profile, store=store)
    late = f["findings"]["latest_jump"]
    run = load(late["setting"], profile, store=store)
    traj = trajectory_frame(run, late["model"])
    jumps = f["jumps"][(f["jumps"]["setting"] == late["setting"])
                       & (f["jumps"]["model"] == late["model"])]
    return fig.jump_chart(traj, jumps), {"trajectory": traj, "jumps": jumps}
