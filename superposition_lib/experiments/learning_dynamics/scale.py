"""Energy levels across model sizes: ``energy-levels`` (n = 20) next to the paper-scale runs of
:data:`~superposition_lib.experiments.learning_dynamics.specs.SCALE` (n = 100 and n = 400): the
paper-style figure's tables, the jump detector's tolerance, and where the jumps after the
initial split go. The sizes compared at the same densities and against null models are in
:mod:`~superposition_lib.experiments.learning_dynamics.sizes`.

Examples
--------
>>> SCALE_RUNS
('energy-levels', 'energy-levels-n100', 'energy-levels-n400')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ...analysis import dynamics
from ...core.metrics import REPRESENTED_NORM
from ...core.run import Run
from ...core.store import RunStore
from ..memo import remembered
from ..registry import load
from .energy import jump_frame, level_name, model_frame
from .specs import SCALE

__all__ = [
    "SCALE_RUNS",
    "TOLERANCES",
    "jump_directions",
    "jumps_after_split",
    "late_digon_jumps",
    "scale_frames",
    "scale_results",
    "tolerance_frame",
    "transition_counts",
]


def scale_frames(runs: Sequence[Run]) -> dict[str, pd.DataFrame]:
    """The tables of the paper-style energy-level figure and statistics for several runs.

    Parameters
    ----------
    runs : sequence of Run
        Runs with snapshots (e.g. ``energy-levels``, ``energy-levels-n100``,
        ``energy-levels-n400``; compact snapshots suffice).

    Returns
    -------
    dict
        ``models``: :func:`model_frame` rows of every run with ``size`` (n), ``m`` and
        ``label`` (``"n=400 · density 0.3 · seed 2"``); ``jumps``: :func:`jump_frame` rows with
        ``size``, ``label`` and ``excess`` (the snapshot loss at the jump minus the model's
        final snapshot loss); ``trajectories``: per model and snapshot (step 0 dropped) the
        ``D|i`` of its represented features
        (:data:`~superposition_lib.core.metrics.REPRESENTED_NORM`), for
        :func:`~superposition_lib.figures.learning_dynamics.energy_level_chart`; ``losses``:
        ``label``, ``step`` and ``excess`` per snapshot.

    Examples
    --------
    >>> run = load("energy-levels-n100", "smoke")
    >>> f = scale_frames([run])
    >>> sorted(f), len(f["models"]) == run.spec.n_models
    (['jumps', 'losses', 'models', 'trajectories'], True)
    """
    models, jumps, trajectories, losses = [], [], [], []
    for run in runs:
        S = run.snapshots
        n, m = run.spec.n_features, run.spec.n_hidden
        j = jump_frame(run)
        rows = model_frame(run, j)
        label = {k: f"n={n} · density {p:g} · seed {seed}" for k, p, seed in
                 zip(rows["model"], rows["density"], rows["seed"])}
        keep = S.steps > 0
        steps = S.steps[keep]
        D, norms = S.feature_dimensionality()[keep], S.feature_norms()[keep]
        for k in rows["model"]:
            excess = S.loss[keep, k] - S.loss[-1, k]
            losses.append(pd.DataFrame({"label": label[k], "step": steps, "excess": excess}))
            shown = np.flatnonzero(norms[:, k].max(0) > REPRESENTED_NORM)
            wide = pd.DataFrame(D[:, k][:, shown], columns=[f"D|{i}" for i in shown])
            wide.insert(0, "step", steps)
            wide.insert(0, "label", label[k])
            trajectories.append(wide)
        j["excess"] = [np.interp(np.log10(step), np.log10(steps), S.loss[keep, k])
                       - S.loss[-1, k] for k, step in zip(j["model"], j["step"])]
        for frame in (rows, j):
            frame.insert(0, "size", n)
            frame.insert(1, "m", m)
            frame.insert(2, "label", frame["model"].map(label))
        models.append(rows)
        jumps.append(j)
    trajectories = pd.concat(trajectories, ignore_index=True)
    dcols = sorted((c for c in trajectories if c.startswith("D|")),
                   key=lambda c: int(c.split("|")[1]))
    return {"models": pd.concat(models, ignore_index=True),
            "jumps": pd.concat(jumps, ignore_index=True),
            "trajectories": trajectories[["label", "step", *dcols]],
            "losses": pd.concat(losses, ignore_index=True)}


#: The experiments compared by size in :func:`scale_results`: n = 20 (``energy-levels``) and
#: the paper-scale runs of :data:`SCALE`.
SCALE_RUNS = ("energy-levels", *(name for name, _, _ in SCALE))


#: Tolerances at which :func:`tolerance_frame` counts jumps (``leave`` is twice each).
TOLERANCES = (0.02, 0.03, 0.04)


def tolerance_frame(runs: Sequence[Run], tolerances: Sequence[float] = TOLERANCES
                    ) -> pd.DataFrame:
    """How the jump counts depend on the detector's tolerance.

    Parameters
    ----------
    runs : sequence of Run
        Runs with snapshots.
    tolerances : sequence of float
        Values of ``tol`` for :func:`~superposition_lib.analysis.dynamics.energy_level_jumps`.

    Returns
    -------
    pandas.DataFrame
        One row per run size and tolerance: ``size`` (n), ``tol``, ``models``, ``jumps``
        (all), ``jumps_per_model`` and ``with_jumps`` (models with at least one).

    Examples
    --------
    >>> run = load("energy-levels-n100", "smoke")
    >>> tolerance_frame([run], (0.03,))[["size", "tol", "models"]].values.tolist()
    [[100.0, 0.03, 6.0]]
    """
    rows = []
    for run in runs:
        S = run.snapshots
        D = S.feature_dimensionality()
        for tol in tolerances:
            counts = [len(dynamics.energy_level_jumps(D[:, k], S.steps, tol=tol))
                      for k in range(D.shape[1])]
            rows.append({"size": run.spec.n_features, "tol": tol, "models": len(counts),
                         "jumps": int(sum(counts)), "jumps_per_model": float(np.mean(counts)),
                         "with_jumps": int(np.count_nonzero(counts))})
    return pd.DataFrame(rows)


def late_digon_jumps(models: pd.DataFrame, jumps: pd.DataFrame, after: int = 10_000
                     ) -> pd.DataFrame:
    """Per size, the jumps of features that had settled into a digon, after a given step: the
    paper's picture (features settle into digons, then jump later).

    Parameters
    ----------
    models, jumps : pandas.DataFrame
        :func:`scale_frames` tables (``size``, ``label``; ``jumps`` also ``from_digon`` and
        ``step``).
    after : int
        Only jumps at later steps count.

    Returns
    -------
    pandas.DataFrame
        One row per size: ``size``, ``jumps``, ``models_with`` (models with such a jump),
        ``models``, and the Wilson 95% interval of their share (``share``, ``low``, ``high``).

    Examples
    --------
    >>> m = pd.DataFrame({"size": [20, 20], "label": ["a", "b"]})
    >>> j = pd.DataFrame({"size": [20, 20], "label": ["a", "a"], "from_digon": [True, False],
    ...                   "step": [2e4, 3e4]})
    >>> late_digon_jumps(m, j)[["size", "jumps", "models_with", "models"]].values.tolist()
    [[20, 1, 1, 2]]
    """
    from ...analysis.stats import wilson_interval

    late = jumps[jumps["from_digon"] & (jumps["step"] > after)]
    rows = []
    for size, group in models.groupby("size", sort=True):
        mine = late[late["size"] == size]
        k = int(mine["label"].nunique())
        share, low, high = wilson_interval(k, len(group))
        rows.append({"size": int(size), "jumps": len(mine), "models_with": k,
                     "models": len(group), "share": share, "low": low, "high": high})
    return pd.DataFrame(rows)


def jumps_after_split(models: pd.DataFrame, jumps: pd.DataFrame) -> pd.DataFrame:
    """The jumps that come after their model's initial split, with their transition named.

    Parameters
    ----------
    models, jumps : pandas.DataFrame
        :func:`scale_frames` tables (``size``, ``model``; ``models`` also ``split_step``).

    Returns
    -------
    pandas.DataFrame
        The rows of ``jumps`` whose step is after the model's ``split_step`` (models without a
        split have none), with ``transition`` (``"1/3 → 1/2"``).

    Examples
    --------
    >>> m = pd.DataFrame({"size": 20, "model": [0, 1], "split_step": [100.0, np.nan]})
    >>> j = pd.DataFrame({"size": 20, "model": [0, 0, 1], "step": [50.0, 500.0, 500.0],
    ...                   "level_before": [0.4, 1 / 3, 0.4], "level_after": [1 / 3, 0.5, 0.5]})
    >>> jumps_after_split(m, j)["transition"].tolist()
    ['1/3 → 1/2']
    """
    split = models.set_index(["size", "model"])["split_step"]
    at = split.reindex(pd.MultiIndex.from_arrays([jumps["size"], jumps["model"]])).to_numpy()
    after = jumps[jumps["step"].to_numpy() > at].copy()
    after["transition"] = [f"{level_name(a)} → {level_name(b)}"
                           for a, b in zip(after["level_before"], after["level_after"])]
    return after


def jump_directions(models: pd.DataFrame, jumps: pd.DataFrame, *, seed: int = 0
                    ) -> pd.DataFrame:
    """Per size, where the jumps after the initial split go: into a digon, or out of one.

    The paper's picture has features that sit in digons (D_i = 1/2) and later leave them;
    the opposite direction is features on other levels (0, 1/3, 2/5) that later join a digon.

    Parameters
    ----------
    models, jumps : pandas.DataFrame
        :func:`scale_frames` tables (``size``, ``model``, ``seed``, ``split_step``; ``jumps``
        also ``step``, ``level_before``, ``level_after``).
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        One row per size: ``size``, ``jumps`` (after the split), ``into_digon`` (the share of
        them that end at 1/2) with its 95% cluster-bootstrap interval over seeds
        (``into_low``, ``into_high``; the jumps of one seed are resampled together), and
        ``out_of_digon`` (how many start at 1/2).

    Examples
    --------
    >>> m = pd.DataFrame({"size": 20, "model": [0, 1], "seed": [0, 1],
    ...                   "split_step": [100.0, 100.0]})
    >>> j = pd.DataFrame({"size": 20, "model": [0, 1], "step": [500.0, 800.0],
    ...                   "level_before": [1 / 3, 0.5], "level_after": [0.5, 0.4]})
    >>> jump_directions(m, j)[["jumps", "into_digon", "out_of_digon"]].values.tolist()
    [[2.0, 0.5, 1.0]]
    """
    from ...analysis.stats import bootstrap_interval

    after = jumps_after_split(models, jumps)
    seeds = models.set_index(["size", "model"])["seed"]
    rows = []
    for size in sorted(models["size"].unique()):
        mine = after[after["size"] == size]
        into = np.isclose(mine["level_after"], 0.5).astype(float)
        clusters = seeds.reindex(pd.MultiIndex.from_arrays([mine["size"], mine["model"]]))
        est, low, high = (bootstrap_interval(into, clusters.to_numpy(), seed=seed) if len(mine)
                          else (np.nan, np.nan, np.nan))
        rows.append({"size": int(size), "jumps": len(mine), "into_digon": est,
                     "into_low": low, "into_high": high,
                     "out_of_digon": int(np.isclose(mine["level_before"], 0.5).sum())})
    return pd.DataFrame(rows)


def transition_counts(models: pd.DataFrame, jumps: pd.DataFrame, top: int = 4
                      ) -> pd.DataFrame:
    """Per size, the most common transitions of the jumps after the initial split.

    Parameters
    ----------
    models, jumps : pandas.DataFrame
        :func:`scale_frames` tables.
    top : int
        Transitions kept per size (the most frequent; ties by name).

    Returns
    -------
    pandas.DataFrame
        ``size``, ``transition`` (``"1/3 → 1/2"``), ``jumps``, ``share`` (of the size's jumps
        after the split).

    Examples
    --------
    >>> m = pd.DataFrame({"size": 20, "model": [0], "split_step": [10.0]})
    >>> j = pd.DataFrame({"size": 20, "model": 0, "step": [50.0, 60.0, 70.0],
    ...                   "level_before": [0.0, 0.0, 1 / 3], "level_after": [0.5, 0.5, 0.5]})
    >>> transition_counts(m, j, top=1)[["transition", "jumps"]].values.tolist()
    [['0 → 1/2', 2]]
    """
    after = jumps_after_split(models, jumps)
    counts = (after.groupby(["size", "transition"]).size().rename("jumps").reset_index()
              .sort_values(["size", "jumps", "transition"], ascending=[True, False, True]))
    counts["share"] = counts["jumps"] / counts.groupby("size")["jumps"].transform("sum")
    return counts.groupby("size").head(top).reset_index(drop=True)


@remembered(*SCALE_RUNS)
def scale_results(profile: str | None = None, *, store: RunStore | None = None) -> dict:
    """Everything the chapter needs to compare energy levels across model sizes.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to the current profile.
    store : RunStore, optional
        Where runs are cached.

    Returns
    -------
    dict
        ``runs`` (name → Run for :data:`SCALE_RUNS`), the tables of :func:`scale_frames`
        (``models``, ``jumps``, ``trajectories``, ``losses``) and ``tolerances``
        (:func:`tolerance_frame`).

    Examples
    --------
    >>> r = scale_results("smoke")
    >>> sorted(r["models"]["size"].unique().tolist())
    [20, 100, 400]
    """
    runs = {name: load(name, profile, store=store) for name in SCALE_RUNS}
    frames = scale_frames(list(runs.values()))
    return {"runs": runs, **frames, "tolerances": tolerance_frame(list(runs.values()))}
