"""The geometric stages of the n = 6, m = 3 model with two correlated sets
(``geometric-stages``, and ``geometric-stages-init`` from four initial scales): every snapshot's
stage, every model's path through the stages, and the numbers the chapter states.

Examples
--------
>>> PATH_STAGES[0]
'opposite_sets'
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...analysis import dynamics
from ...core.run import Run
from ...core.store import RunStore
from ..memo import remembered
from ..registry import load

__all__ = [
    "PATH_STAGES",
    "path_frame",
    "path_shares",
    "stage_findings",
    "stage_frame",
    "stage_frames",
    "stage_geometry_frame",
    "stage_init_results",
]


def stage_frame(run: Run) -> pd.DataFrame:
    """Stage measurements and stage of every model at every snapshot.

    Parameters
    ----------
    run : Run
        The ``geometric-stages`` run (n = 6, m = 3), every seed.

    Returns
    -------
    pandas.DataFrame
        :func:`~superposition_lib.analysis.dynamics.stage_measurements` columns plus ``loss``,
        ``density``, ``init_scale`` and ``seed``.

    Examples
    --------
    >>> run = load("geometric-stages", "smoke")
    >>> df = stage_frame(run)
    >>> len(df) == run.snapshots.W.shape[0] * run.W.shape[0]
    True
    """
    S = run.snapshots
    df = dynamics.stage_measurements(S.W, S.steps)
    models = df["model"].to_numpy()
    df["loss"] = S.loss.reshape(-1)
    df["density"] = run.feature_probability[models, 0]
    df["init_scale"] = run.spec.init_scale_array()[run.instance[models]]
    df["seed"] = run.restart[models]
    return df


#: The stages whose visits :func:`path_shares` counts.
PATH_STAGES = ("opposite_sets", "pca_axes", "triangles", "antiprism")


def path_shares(paths: pd.DataFrame, by=("density", "init_scale")) -> pd.DataFrame:
    """Per setting, the share of models whose path visits each stage, and that end in the
    antiprism, with Wilson 95% intervals.

    Parameters
    ----------
    paths : pandas.DataFrame
        :func:`path_frame` rows (with the ``by`` columns, e.g. from :func:`stage_frame`).
    by : sequence of str
        Columns that define a setting.

    Returns
    -------
    pandas.DataFrame
        One row per setting and outcome: the ``by`` columns, ``outcome`` (``"visits <stage>"``
        for the stages of :data:`PATH_STAGES`, ``"ends in antiprism"``), ``models``, ``count``,
        ``share``, ``low``, ``high``.

    Examples
    --------
    >>> p = pd.DataFrame({"model": [0, 0, 1], "density": 0.1, "init_scale": 1.0,
    ...                   "stage": ["pca_axes", "antiprism", "opposite_sets"],
    ...                   "final_stage": ["antiprism", "antiprism", "opposite_sets"]})
    >>> t = path_shares(p).set_index("outcome")
    >>> int(t.loc["visits pca_axes", "count"]), float(t.loc["ends in antiprism", "share"])
    (1, 0.5)
    """
    from ...analysis.stats import wilson_interval

    rows = []
    by = list(by)
    for key, group in paths.groupby(by, sort=True):
        per_model = group.groupby("model")
        visited = per_model["stage"].agg(set)
        outcomes = {f"visits {stage}": visited.map(lambda v, s=stage: s in v)
                    for stage in PATH_STAGES}
        outcomes["ends in antiprism"] = per_model["final_stage"].first() == "antiprism"
        for outcome, hit in outcomes.items():
            share, low, high = wilson_interval(int(hit.sum()), len(hit))
            rows.append({**dict(zip(by, key)), "outcome": outcome, "models": len(hit),
                         "count": int(hit.sum()), "share": share, "low": low, "high": high})
    return pd.DataFrame(rows)


def path_frame(stages: pd.DataFrame) -> pd.DataFrame:
    """The sequence of stages every model goes through, with when it enters each.

    Parameters
    ----------
    stages : pandas.DataFrame
        :func:`stage_frame` rows.

    Returns
    -------
    pandas.DataFrame
        One row per (model, stage visited): ``model``, ``density``, ``init_scale`` (when
        ``stages`` has it), ``seed``, ``order`` (0, 1, …),
        :func:`~superposition_lib.analysis.dynamics.stage_trajectory` columns, ``path``
        (the whole sequence joined with " → "), ``core_path`` (the same without ``"other"``,
        the passages between named stages, repeats joined) and ``final_stage`` (the last
        snapshot's).

    Examples
    --------
    >>> st = pd.DataFrame({"model": 0, "density": 0.1, "seed": 0, "step": np.arange(8),
    ...                    "stage": ["near_zero"] * 4 + ["opposite_sets"] * 4})
    >>> path_frame(st)["path"].iloc[0]
    'near_zero → opposite_sets'
    >>> st["stage"] = ["near_zero"] * 3 + ["other"] * 3 + ["near_zero"] * 2
    >>> path_frame(st)[["path", "core_path"]].iloc[0].tolist()
    ['near_zero → other', 'near_zero']
    """
    frames = []
    for k, g in stages.sort_values(["model", "step"]).groupby("model", sort=True):
        t = dynamics.stage_trajectory(g["stage"].to_numpy(), g["step"].to_numpy())
        t.insert(0, "model", int(k))
        t.insert(1, "density", float(g["density"].iloc[0]))
        t.insert(2, "seed", int(g["seed"].iloc[0]))
        t.insert(3, "order", np.arange(len(t)))
        if "init_scale" in g:
            t.insert(2, "init_scale", float(g["init_scale"].iloc[0]))
        t["path"] = " → ".join(t["stage"])
        core = [st for st in t["stage"] if st != "other"]
        core = [st for i, st in enumerate(core) if i == 0 or core[i - 1] != st]
        t["core_path"] = " → ".join(core) or "other"
        t["final_stage"] = g["stage"].iloc[-1]
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


def stage_geometry_frame(run: Run, model: int) -> pd.DataFrame:
    """One model's WᵀW and weight vectors at every snapshot, as a wide table.

    Parameters
    ----------
    run : Run
        The ``geometric-stages`` run.
    model : int
        Index along the model axis.

    Returns
    -------
    pandas.DataFrame
        One row per snapshot: ``snapshot``, ``step``, ``loss``, ``stage``, ``G|i|j``
        (WᵀW entries) and ``W|d|i`` (coordinate d of W_i).

    Examples
    --------
    >>> run = load("geometric-stages", "smoke")
    >>> df = stage_geometry_frame(run, 0)
    >>> sum(c.startswith("G|") for c in df), sum(c.startswith("W|") for c in df)
    (36, 18)
    """
    S = run.snapshots
    W = S.W[:, model].astype(np.float64)                              # (snapshots, m, n)
    G = np.swapaxes(W, 1, 2) @ W
    df = pd.DataFrame({"snapshot": np.arange(len(S.steps)), "step": S.steps,
                       "loss": S.loss[:, model],
                       "stage": dynamics.classify_stages(W)})
    m, n = W.shape[1:]
    cols = {f"G|{i}|{j}": G[:, i, j] for i in range(n) for j in range(n)}
    cols.update({f"W|{d}|{i}": W[:, d, i] for d in range(m) for i in range(n)})
    return pd.concat([df, pd.DataFrame(cols)], axis=1)


def stage_findings(paths: pd.DataFrame) -> dict:
    """The numbers the chapter states about the stages.

    Parameters
    ----------
    paths : pandas.DataFrame
        :func:`path_frame` rows.

    Returns
    -------
    dict
        ``models``; ``paths`` (core path → models, most common first; see
        :func:`path_frame`); ``full_paths`` (the same with ``"other"`` kept);
        ``paths_by_density`` (density → core path → models); ``final`` (final stage →
        models); ``reached`` (stage → models that visit it); ``entry_median`` (stage → median
        step at which models first enter it); ``paper_order`` (models whose core path is a
        subsequence of near_zero → opposite_sets → triangles → antiprism ending in antiprism);
        ``paper_full`` (models whose core path is exactly near_zero → opposite_sets → triangles
        → antiprism).

    Examples
    --------
    >>> p = pd.DataFrame({"model": [0, 0, 1], "density": 0.1,
    ...                   "stage": ["opposite_sets", "antiprism", "opposite_sets"],
    ...                   "step_start": [1, 10, 1],
    ...                   "path": ["opposite_sets → antiprism"] * 2 + ["opposite_sets"],
    ...                   "final_stage": ["antiprism"] * 2 + ["opposite_sets"]})
    >>> p["core_path"] = p["path"]
    >>> f = stage_findings(p)
    >>> f["paths"], f["paper_order"]
    ({'opposite_sets → antiprism': 1, 'opposite_sets': 1}, 1)
    """
    per_model = paths.drop_duplicates("model")
    first = paths.drop_duplicates(["model", "stage"])
    order = ["near_zero", "opposite_sets", "triangles", "antiprism"]

    def paper_like(path: str) -> bool:
        seq = path.split(" → ")
        idx = [order.index(s) if s in order else -1 for s in seq]
        return min(idx) >= 0 and idx == sorted(idx) and seq[-1] == "antiprism"

    return {
        "models": len(per_model),
        "paths": {k: int(v) for k, v in per_model["core_path"].value_counts().items()},
        "full_paths": {k: int(v) for k, v in per_model["path"].value_counts().items()},
        "paths_by_density": {float(d): {k: int(v) for k, v in
                                        g["core_path"].value_counts().items()}
                             for d, g in per_model.groupby("density")},
        "final": {k: int(v) for k, v in per_model["final_stage"].value_counts().items()},
        "reached": {k: int(v) for k, v in first["stage"].value_counts().items()},
        "entry_median": {k: float(v) for k, v in first.groupby("stage")["step_start"]
                         .median().items()},
        "paper_order": int(per_model["core_path"].map(paper_like).sum()),
        "paper_full": int((per_model["core_path"] == " → ".join(order)).sum()),
    }


@remembered("geometric-stages")
def stage_frames(profile: str | None = None, *, store: RunStore | None = None) -> dict:
    """Everything the chapter needs from ``geometric-stages``.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to the current profile.
    store : RunStore, optional
        Where runs are cached.

    Returns
    -------
    dict
        ``run``, ``stages`` (:func:`stage_frame`), ``paths`` (:func:`path_frame`),
        ``exemplar`` (a model whose core path is the most common one with at least three
        stages that ends in antiprism, else the most common core path), ``geometry``
        (:func:`stage_geometry_frame` of it) and ``findings`` (:func:`stage_findings`).

    Examples
    --------
    >>> f = stage_frames("smoke")
    >>> f["findings"]["models"] == f["run"].W.shape[0]
    True
    """
    run = load("geometric-stages", profile, store=store)
    stages = stage_frame(run)
    paths = path_frame(stages)
    find = stage_findings(paths)
    per_model = paths.drop_duplicates("model")
    ranked = list(find["paths"])
    full = [p for p in ranked if p.endswith("antiprism") and p.count("→") >= 2] or ranked
    k = int(per_model[per_model["core_path"] == full[0]]["model"].iloc[0])
    return {"run": run, "stages": stages, "paths": paths, "exemplar": k,
            "geometry": stage_geometry_frame(run, k), "findings": find}


@remembered("geometric-stages-init")
def stage_init_results(profile: str | None = None, *, store: RunStore | None = None) -> dict:
    """The ``geometric-stages-init`` experiment: which stages the models visit, by initial
    scale and density.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to the current profile.
    store : RunStore, optional
        Where runs are cached.

    Returns
    -------
    dict
        ``run``, ``paths`` (:func:`path_frame`) and ``shares`` (:func:`path_shares` by density
        and initial scale).

    Examples
    --------
    >>> from superposition_lib.experiments.learning_dynamics.specs import STAGE_INIT_SCALES
    >>> r = stage_init_results("smoke")
    >>> sorted(r["shares"]["init_scale"].unique().tolist()) == sorted(STAGE_INIT_SCALES)
    True
    """
    run = load("geometric-stages-init", profile, store=store)
    paths = path_frame(stage_frame(run))
    return {"run": run, "paths": paths, "shares": path_shares(paths)}
