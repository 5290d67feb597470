"""Experiments of the chapter "Learning dynamics" (``chapters/learning-dynamics.qmd``).

``energy-levels``
    Uniform superposition: n = 20 features in m = 5 dimensions (ReLU output, importance 1), at
    the feature probabilities of :data:`ENERGY_DENSITIES`, :data:`ENERGY_SEEDS` seeds each, all
    in one batched call; 100,000 steps of batch 256 at learning rate 1e-3 with about 200
    log-spaced snapshots. Every model's feature dimensionalities D_i(t) are searched for
    energy-level jumps with :func:`~superposition_lib.dynamics.energy_level_jumps`.
``energy-levels-small-init``
    The same models from the paper notebook's small initialisation (``init="notebook"``) for
    20,000 steps: whether superposition (‖W‖_F²/m > 1) is used early in training.
``geometric-stages``
    n = 6 features in m = 3 dimensions, two correlated sets of 3 (features 0-2 and 3-5, each set
    present together), small initialisation (``init="notebook"``), at the feature probabilities
    of :data:`STAGE_DENSITIES`, :data:`STAGE_SEEDS` seeds each; every snapshot is classified
    into the paper's stages with :func:`~superposition_lib.dynamics.classify_stages`.

The ``smoke`` profiles keep n, m and the densities and train a few seeds for a few thousand
steps at a larger learning rate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import dynamics, metrics
from ..config import ExperimentSpec
from ..run import Run
from ..store import RunStore
from . import Experiment, load, register

__all__ = [
    "CHAPTER",
    "ENERGY_DENSITIES",
    "ENERGY_SEEDS",
    "FIGURES",
    "STAGE_DENSITIES",
    "SETTLE_TOL",
    "STAGE_SEEDS",
    "density_frame",
    "energy_findings",
    "exemplar",
    "jump_frame",
    "model_frame",
    "path_frame",
    "stage_findings",
    "stage_frame",
    "stage_geometry_frame",
    "superposition_frame",
    "superposition_onset",
    "trajectory_frame",
]

#: The chapter's file stem.
CHAPTER = "learning-dynamics"

#: Feature probabilities 1 − S of the energy-level experiment.
ENERGY_DENSITIES = (0.5, 0.3, 0.2, 0.1)
#: Seeds per density (paper profile).
ENERGY_SEEDS = 10
#: Feature probabilities of the geometric-stages experiment.
STAGE_DENSITIES = (0.05, 0.1)
#: Seeds per density (paper profile).
STAGE_SEEDS = 25

#: A feature has *settled* on {0, 1/2} when its final D_i lies within this of 0 or 1/2.
SETTLE_TOL = 0.05


def _energy_profiles() -> dict:
    common = {"model": "relu_output", "n_features": 20, "n_hidden": 5,
                  "feature_probability": ENERGY_DENSITIES, "importance": 1.0, "seed": 0}
    paper = ExperimentSpec(**common, restarts=ENERGY_SEEDS, steps=100_000, batch_size=256,
                           lr=1e-3, snapshot_log=200, history_every=1000, eval_samples=1 << 16)
    smoke = ExperimentSpec(**common, restarts=2, steps=2000, batch_size=128, lr=1e-2,
                           snapshot_log=60, history_every=100, eval_samples=1 << 12)
    return {"paper": paper, "smoke": smoke}


def _stage_profiles() -> dict:
    common = {"model": "relu_output", "n_features": 6, "n_hidden": 3, "data": "correlated", "set_size": 3,
                  "feature_probability": STAGE_DENSITIES, "importance": 1.0, "init": "notebook", "seed": 0}
    paper = ExperimentSpec(**common, restarts=STAGE_SEEDS, steps=20_000, batch_size=1024,
                           lr=1e-3, snapshot_log=200, history_every=200, eval_samples=1 << 16)
    smoke = ExperimentSpec(**common, restarts=3, steps=1500, batch_size=256, lr=1e-2,
                           snapshot_log=60, history_every=50, eval_samples=1 << 12)
    return {"paper": paper, "smoke": smoke}


register(Experiment(
    "energy-levels", CHAPTER,
    "20 features in 5 dims, densities 0.5-0.1, 10 seeds, 100k steps, 200 log-spaced snapshots",
    _energy_profiles(), best_of=False))
def _small_init_profiles() -> dict:
    # The energy-level models from the paper notebook's small initialisation, long enough to
    # see when ‖W‖_F²/m first exceeds 1 (learned superposition, not random overlap).
    energy = _energy_profiles()
    return {"paper": energy["paper"].replace(init="notebook", steps=20_000, snapshot_log=100,
                                             history_every=200),
            "smoke": energy["smoke"].replace(init="notebook")}


register(Experiment(
    "energy-levels-small-init", CHAPTER,
    "the energy-level models from a small initialisation, 20k steps, 100 log-spaced snapshots",
    _small_init_profiles(), best_of=False))
register(Experiment(
    "geometric-stages", CHAPTER,
    "6 features in 3 dims, two correlated sets of 3, small init, 2 densities x 25 seeds",
    _stage_profiles(), best_of=False))


# ------------------------------------------------------------------------------------------
# Energy levels
# ------------------------------------------------------------------------------------------
def _dims(run: Run, k: int) -> np.ndarray:
    return metrics.feature_dimensionality(run.snapshots.W[:, k])


def jump_frame(run: Run) -> pd.DataFrame:
    """Every energy-level jump of every model of a run.

    Parameters
    ----------
    run : Run
        A run with snapshots (e.g. ``energy-levels``, every seed).

    Returns
    -------
    pandas.DataFrame
        :func:`~superposition_lib.dynamics.energy_level_jumps` columns (with the snapshot loss)
        plus ``model``, ``density`` and ``seed``.

    Examples
    --------
    >>> import tempfile
    >>> run = load("energy-levels", "smoke", store=RunStore(tempfile.mkdtemp()))
    >>> {"model", "density", "step", "level_before", "loss_change"} <= set(jump_frame(run))
    True
    """
    S = run.snapshots
    frames = []
    for k in range(S.W.shape[1]):
        j = dynamics.energy_level_jumps(_dims(run, k), S.steps, S.loss[:, k])
        j.insert(0, "model", k)
        j.insert(1, "density", float(run.feature_probability[k, 0]))
        j.insert(2, "seed", int(run.restart[k]))
        frames.append(j)
    return pd.concat(frames, ignore_index=True)


def model_frame(run: Run, jumps: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per model: split step, jumps, settling on {0, 1/2} and the loss in jumps.

    Parameters
    ----------
    run : Run
        A run with snapshots.
    jumps : pandas.DataFrame, optional
        :func:`jump_frame` of the run (computed if omitted).

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``density``, ``seed``, ``final_loss`` (last snapshot),
        ``split_step`` (:func:`~superposition_lib.dynamics.split_step`; NaN if never),
        ``jumps``, ``first_jump`` and ``last_jump`` (steps; NaN without jumps), ``settled``
        (fraction of features whose final D_i is within :data:`SETTLE_TOL` of 0 or 1/2),
        ``digons`` (features at 1/2), ``jump_fraction`` and ``log_time_fraction``
        (:func:`~superposition_lib.dynamics.jump_loss_fraction` after the split; NaN without a
        split), ``first_level`` (the first step at which some feature starts a non-initial
        plateau) and ``jump_fraction_first``, ``log_time_fraction_first`` (the same fractions
        after ``first_level``: the split and everything after it).

    Examples
    --------
    >>> import tempfile
    >>> run = load("energy-levels", "smoke", store=RunStore(tempfile.mkdtemp()))
    >>> len(model_frame(run)) == run.W.shape[0]
    True
    """
    if jumps is None:
        jumps = jump_frame(run)
    S = run.snapshots
    rows = []
    for k in range(S.W.shape[1]):
        D = _dims(run, k)
        mine = jumps[jumps["model"] == k]
        split = dynamics.split_step(D, S.steps)
        frac = log_frac = frac_first = log_first = np.nan
        if split is not None and split < S.steps[-1]:
            s = dynamics.jump_loss_fraction(mine, S.loss[:, k], S.steps, after=split)
            frac, log_frac = float(s.fraction), float(s.log_time_fraction)
        plat = dynamics.plateaus(D, S.steps)
        plat = plat[~plat["initial"]]
        first_level = int(plat["step_start"].min()) if len(plat) else None
        if first_level is not None and first_level < S.steps[-1]:
            s = dynamics.jump_loss_fraction(mine, S.loss[:, k], S.steps, after=first_level)
            frac_first, log_first = float(s.fraction), float(s.log_time_fraction)
        end = D[-1]
        rows.append({
            "model": k, "density": float(run.feature_probability[k, 0]),
            "seed": int(run.restart[k]), "final_loss": float(S.loss[-1, k]),
            "split_step": np.nan if split is None else float(split),
            "jumps": len(mine),
            "first_jump": float(mine["step"].min()) if len(mine) else np.nan,
            "last_jump": float(mine["step"].max()) if len(mine) else np.nan,
            "settled": float(np.mean((np.abs(end) <= SETTLE_TOL)
                                     | (np.abs(end - 0.5) <= SETTLE_TOL))),
            "digons": int(np.sum(np.abs(end - 0.5) <= SETTLE_TOL)),
            "jump_fraction": frac, "log_time_fraction": log_frac,
            "first_level": np.nan if first_level is None else float(first_level),
            "jump_fraction_first": frac_first, "log_time_fraction_first": log_first})
    return pd.DataFrame(rows)


def density_frame(models: pd.DataFrame) -> pd.DataFrame:
    """The search table: per density, how the models end and how many jump.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`model_frame` rows.

    Returns
    -------
    pandas.DataFrame
        One row per density: ``models``, ``all_settled`` (models whose every feature ends
        within :data:`SETTLE_TOL` of 0 or 1/2), ``median_digons``, ``with_jumps`` (models with
        at least one jump), ``jumps`` (all jumps), ``median_jump_fraction`` and
        ``median_log_time_fraction`` (over models with a split), the same two from the first
        level reached (``median_jump_fraction_first``, ``median_log_time_fraction_first``,
        when ``models`` has them), ``median_loss``.

    Examples
    --------
    >>> m = pd.DataFrame({"density": [0.3, 0.3], "settled": [1.0, 0.9], "digons": [10, 9],
    ...                   "jumps": [2, 0], "jump_fraction": [0.5, 0.0],
    ...                   "log_time_fraction": [0.1, 0.0], "final_loss": [0.1, 0.2]})
    >>> density_frame(m)[["density", "all_settled", "with_jumps", "jumps"]].values.tolist()
    [[0.3, 1.0, 1.0, 2.0]]
    """
    g = models.groupby("density", sort=False)
    out = pd.DataFrame({
        "models": g.size(),
        "all_settled": g["settled"].apply(lambda s: int((s == 1).sum())),
        "median_digons": g["digons"].median(),
        "with_jumps": g["jumps"].apply(lambda s: int((s > 0).sum())),
        "jumps": g["jumps"].sum(),
        "median_jump_fraction": g["jump_fraction"].median(),
        "median_log_time_fraction": g["log_time_fraction"].median(),
        **({"median_jump_fraction_first": g["jump_fraction_first"].median(),
            "median_log_time_fraction_first": g["log_time_fraction_first"].median()}
           if "jump_fraction_first" in models else {}),
        "median_loss": g["final_loss"].median()}).reset_index()
    return out.sort_values("density", ascending=False).reset_index(drop=True)


def exemplar(models: pd.DataFrame) -> int:
    """The model the chapter shows: every feature settled on {0, 1/2}, then the most jumps.

    Ties go to the lower loss; if no model settled completely, the most settled one counts.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`model_frame` rows.

    Returns
    -------
    int
        Its ``model`` index.

    Examples
    --------
    >>> m = pd.DataFrame({"model": [0, 1, 2], "settled": [1.0, 1.0, 0.9], "jumps": [1, 3, 5],
    ...                   "final_loss": [0.1, 0.2, 0.1]})
    >>> exemplar(m)
    1
    """
    best = models[models["settled"] == models["settled"].max()]
    best = best.sort_values(["jumps", "final_loss"], ascending=[False, True])
    return int(best["model"].iloc[0])


def trajectory_frame(run: Run, model: int) -> pd.DataFrame:
    """One model's trajectories as a wide table: one row per snapshot.

    Parameters
    ----------
    run : Run
        A run with snapshots.
    model : int
        Index along the model axis.

    Returns
    -------
    pandas.DataFrame
        Columns ``step`` (snapshots at step 0 dropped), ``loss`` and ``D|i`` for every
        feature i (the chart folds them back).

    Examples
    --------
    >>> import tempfile
    >>> run = load("energy-levels", "smoke", store=RunStore(tempfile.mkdtemp()))
    >>> df = trajectory_frame(run, 0)
    >>> df.shape[1] == 2 + run.W.shape[-1], bool((df["step"] > 0).all())
    (True, True)
    """
    S = run.snapshots
    keep = S.steps > 0
    D = _dims(run, model)[keep]
    df = pd.DataFrame({"step": S.steps[keep], "loss": S.loss[keep, model]})
    for i in range(D.shape[1]):
        df[f"D|{i}"] = D[:, i]
    return df


def superposition_frame(run: Run) -> pd.DataFrame:
    """Features per dimension against step, per density: median and quartiles over seeds.

    Features per dimension is ‖W‖_F² / m (the inverse of the paper's dimensions per feature
    D*); ``represented`` counts the features with ‖W_i‖ > 0.5 per dimension.

    Parameters
    ----------
    run : Run
        A run with snapshots.

    Returns
    -------
    pandas.DataFrame
        One row per (density, positive snapshot step): ``density``, ``step``, ``median``,
        ``q25``, ``q75`` (of ‖W‖_F² / m over seeds) and ``represented`` (median over seeds).

    Examples
    --------
    >>> import tempfile
    >>> run = load("energy-levels", "smoke", store=RunStore(tempfile.mkdtemp()))
    >>> sorted(superposition_frame(run)["density"].unique()) == sorted(ENERGY_DENSITIES)
    True
    """
    S = run.snapshots
    m = S.W.shape[-2]
    norms = np.linalg.norm(S.W, axis=-2)                              # (snapshots, models, n)
    fpd = (norms ** 2).sum(-1) / m
    rep = (norms > 0.5).sum(-1) / m
    dens = run.feature_probability[:, 0]
    rows = []
    for p in np.unique(dens):
        cols = dens == p
        q = np.quantile(fpd[:, cols], [0.25, 0.5, 0.75], axis=1)
        rows.append(pd.DataFrame({"density": float(p), "step": S.steps, "q25": q[0],
                                  "median": q[1], "q75": q[2],
                                  "represented": np.median(rep[:, cols], axis=1)}))
    df = pd.concat(rows, ignore_index=True)
    return df[df["step"] > 0].reset_index(drop=True)


def superposition_onset(run: Run, superposition: pd.DataFrame) -> pd.DataFrame:
    """When the median model of each density first stores more features than dimensions.

    Parameters
    ----------
    run : Run
        A run with snapshots (e.g. ``energy-levels-small-init``).
    superposition : pandas.DataFrame
        :func:`superposition_frame` of ``run``.

    Returns
    -------
    pandas.DataFrame
        One row per density: ``density``, ``start`` (median ‖W‖_F²/m at the first positive
        snapshot), ``onset`` (first snapshot step at which the median exceeds 1; NaN if never),
        ``final`` (median at the last snapshot) and ``loss_done`` (median over the density's
        models of the share of the loss decrease, first to last snapshot, already made at
        ``onset``).

    Examples
    --------
    >>> import tempfile
    >>> run = load("energy-levels-small-init", "smoke", store=RunStore(tempfile.mkdtemp()))
    >>> onset = superposition_onset(run, superposition_frame(run))
    >>> bool((onset["start"] < 1).all()), len(onset) == len(ENERGY_DENSITIES)
    (True, True)
    """
    S = run.snapshots
    dens = run.feature_probability[:, 0]
    rows = []
    for p, g in superposition.groupby("density"):
        above = g[g["median"] > 1]
        onset = float(above["step"].min()) if len(above) else np.nan
        cols = np.isclose(dens, p)
        loss = S.loss[:, cols]                                     # (snapshots, models)
        done = np.nan
        if len(above):
            k = int(np.searchsorted(S.steps, onset))
            drop = loss[0] - loss[-1]
            done = float(np.median((loss[0] - loss[k]) / np.where(drop > 0, drop, np.nan)))
        rows.append({"density": float(p), "start": float(g["median"].iloc[0]), "onset": onset,
                     "final": float(g["median"].iloc[-1]), "loss_done": done})
    return pd.DataFrame(rows)


def energy_findings(models: pd.DataFrame, jumps: pd.DataFrame,
                    superposition: pd.DataFrame) -> dict:
    """The numbers the chapter states about energy levels.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`model_frame` rows.
    jumps : pandas.DataFrame
        :func:`jump_frame` rows.
    superposition : pandas.DataFrame
        :func:`superposition_frame` rows.

    Returns
    -------
    dict
        ``models``, ``jumps``, ``models_with_jumps``, ``settled_models`` (every feature on
        {0, 1/2} at the end), ``median_jump_step``, ``jump_step_q10``, ``jump_step_q90``,
        ``late_jumps`` (jumps after step 10,000), ``median_loss_change`` and
        ``drop_share`` (fraction of jumps with a loss decrease), ``median_jump_fraction`` and
        ``median_log_time_fraction`` (over models with a split and a jump),
        ``median_jump_fraction_first`` and ``median_log_time_fraction_first`` (the same from
        the first level reached, see :func:`model_frame`), ``jumps_after_split`` (jumps after
        their model's split step; needs ``model`` columns),
        ``transitions`` (``"a→b"`` → count, levels as fractions), ``fpd_at`` (density →
        {step: median features per dimension} at steps 100, 1,000, 10,000 and the end),
        ``fpd_path`` (density → ``first``, ``min``, ``last``: the median features per
        dimension at the first positive snapshot, its minimum and at the end, with
        ``first_step`` and ``min_step``) and
        ``last_step``.

    Examples
    --------
    >>> models = pd.DataFrame({"jumps": [1, 0], "settled": [1.0, 1.0],
    ...                        "jump_fraction": [0.4, np.nan], "log_time_fraction": [0.1, 0.0]})
    >>> jumps = pd.DataFrame({"step": [500.0], "loss_change": [-0.01],
    ...                       "level_before": [0.4], "level_after": [0.5]})
    >>> sup = pd.DataFrame({"density": 0.3, "step": [100, 1000, 10000], "median": 1.0})
    >>> f = energy_findings(models, jumps, sup)
    >>> f["jumps"], f["transitions"], f["fpd_at"][0.3][1000]
    (1, {'2/5→1/2': 1}, 1.0)
    """
    from fractions import Fraction

    def name(v):
        return str(Fraction(float(v)).limit_denominator(10))

    with_jump = models[(models["jumps"] > 0) & models["jump_fraction"].notna()]
    with_first = (models[(models["jumps"] > 0) & models["jump_fraction_first"].notna()]
                  if "jump_fraction_first" in models else models.iloc[:0])
    after_split = (jumps.merge(models[["model", "split_step"]], on="model")
                   if "model" in jumps and "model" in models else None)
    trans = (jumps["level_before"].map(name) + "→" + jumps["level_after"].map(name)
             ).value_counts()
    last = int(superposition["step"].max()) if len(superposition) else 0
    fpd, cross = {}, {}
    for p, g in superposition.groupby("density"):
        g = g.set_index("step")["median"]
        low = int(np.argmin(g.to_numpy()))
        cross[float(p)] = {"first": float(g.iloc[0]), "first_step": int(g.index[0]),
                           "min": float(g.iloc[low]), "min_step": int(g.index[low]),
                           "last": float(g.iloc[-1])}
        fpd[float(p)] = {int(s): float(g.iloc[np.argmin(np.abs(np.log(g.index / s)))])
                         for s in (100, 1000, 10_000, last) if s > 0 and s <= last}
    steps = jumps["step"]
    return {
        "models": len(models),
        "jumps": len(jumps),
        "models_with_jumps": int((models["jumps"] > 0).sum()),
        "settled_models": int((models["settled"] == 1).sum()),
        "median_jump_step": float(steps.median()) if len(steps) else np.nan,
        "jump_step_q10": float(steps.quantile(0.1)) if len(steps) else np.nan,
        "jump_step_q90": float(steps.quantile(0.9)) if len(steps) else np.nan,
        "late_jumps": int((steps > 10_000).sum()),
        "median_loss_change": (float(jumps["loss_change"].median()) if len(jumps)
                               else np.nan),
        "drop_share": float((jumps["loss_change"] < 0).mean()) if len(jumps) else np.nan,
        "median_jump_fraction": (float(with_jump["jump_fraction"].median()) if len(with_jump)
                                 else np.nan),
        "median_log_time_fraction": (float(with_jump["log_time_fraction"].median())
                                     if len(with_jump) else np.nan),
        "median_jump_fraction_first": (float(with_first["jump_fraction_first"].median())
                                       if len(with_first) else np.nan),
        "median_log_time_fraction_first": (
            float(with_first["log_time_fraction_first"].median()) if len(with_first)
            else np.nan),
        "jumps_after_split": (int((after_split["step"] > after_split["split_step"]).sum())
                              if after_split is not None else 0),
        "transitions": {k: int(v) for k, v in trans.items()},
        "fpd_at": fpd,
        "fpd_path": cross,
        "last_step": last,
    }


def energy_frames(profile: str | None = None, *, store: RunStore | None = None) -> dict:
    """Everything the chapter needs from ``energy-levels``.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to the current profile.
    store : RunStore, optional
        Where runs are cached.

    Returns
    -------
    dict
        ``run``, ``jumps`` (:func:`jump_frame`), ``models`` (:func:`model_frame`),
        ``densities`` (:func:`density_frame`), ``superposition``
        (:func:`superposition_frame`), ``exemplar`` (:func:`exemplar`), ``trajectory``
        (:func:`trajectory_frame` of the exemplar) and ``findings`` (:func:`energy_findings`).

    Examples
    --------
    >>> import tempfile
    >>> f = energy_frames("smoke", store=RunStore(tempfile.mkdtemp()))
    >>> f["findings"]["models"] == len(f["models"])
    True
    """
    run = load("energy-levels", profile, store=store)
    jumps = jump_frame(run)
    models = model_frame(run, jumps)
    sup = superposition_frame(run)
    k = exemplar(models)
    return {"run": run, "jumps": jumps, "models": models, "densities": density_frame(models),
            "superposition": sup, "exemplar": k, "trajectory": trajectory_frame(run, k),
            "findings": energy_findings(models, jumps, sup)}


# ------------------------------------------------------------------------------------------
# Geometric stages
# ------------------------------------------------------------------------------------------
def stage_frame(run: Run) -> pd.DataFrame:
    """Stage measurements and stage of every model at every snapshot.

    Parameters
    ----------
    run : Run
        The ``geometric-stages`` run (n = 6, m = 3), every seed.

    Returns
    -------
    pandas.DataFrame
        :func:`~superposition_lib.dynamics.stage_measurements` columns plus ``loss``,
        ``density`` and ``seed``.

    Examples
    --------
    >>> import tempfile
    >>> run = load("geometric-stages", "smoke", store=RunStore(tempfile.mkdtemp()))
    >>> df = stage_frame(run)
    >>> len(df) == run.snapshots.W.shape[0] * run.W.shape[0]
    True
    """
    S = run.snapshots
    df = dynamics.stage_measurements(S.W, S.steps)
    df["loss"] = S.loss.reshape(-1)
    df["density"] = run.feature_probability[df["model"].to_numpy(), 0]
    df["seed"] = run.restart[df["model"].to_numpy()]
    return df


def path_frame(stages: pd.DataFrame) -> pd.DataFrame:
    """The sequence of stages every model goes through, with when it enters each.

    Parameters
    ----------
    stages : pandas.DataFrame
        :func:`stage_frame` rows.

    Returns
    -------
    pandas.DataFrame
        One row per (model, stage visited): ``model``, ``density``, ``seed``, ``order``
        (0, 1, …), :func:`~superposition_lib.dynamics.stage_trajectory` columns, ``path``
        (the whole sequence joined with " → "), ``core_path`` (the same without ``"other"``,
        the passages between named stages, repeats joined) and ``final_stage`` (the last
        snapshot's).

    Examples
    --------
    >>> st = pd.DataFrame({"model": 0, "density": 0.1, "seed": 0, "step": np.arange(8),
    ...                    "stage": ["near_zero"] * 4 + ["pca"] * 4})
    >>> path_frame(st)["path"].iloc[0]
    'near_zero → pca'
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
    >>> import tempfile
    >>> run = load("geometric-stages", "smoke", store=RunStore(tempfile.mkdtemp()))
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
        ``paths_by_density`` (density → core path → models); ``final`` (final stage → models); ``reached`` (stage →
        models that visit it); ``entry_median`` (stage → median step at which models first
        enter it); ``paper_order`` (models whose core path is a subsequence of near_zero → pca
        → triangles → antiprism ending in antiprism); ``paper_full`` (models whose core path is
        exactly near_zero → pca → triangles → antiprism).

    Examples
    --------
    >>> p = pd.DataFrame({"model": [0, 0, 1], "density": 0.1, "stage": ["pca", "antiprism",
    ...                   "pca"], "step_start": [1, 10, 1], "path": ["pca → antiprism"] * 2
    ...                   + ["pca"], "final_stage": ["antiprism"] * 2 + ["pca"]})
    >>> p["core_path"] = p["path"]
    >>> f = stage_findings(p)
    >>> f["paths"], f["paper_order"]
    ({'pca → antiprism': 1, 'pca': 1}, 1)
    """
    per_model = paths.drop_duplicates("model")
    first = paths.drop_duplicates(["model", "stage"])
    order = ["near_zero", "pca", "triangles", "antiprism"]

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
        stages that ends in antiprism, else the most common core path), ``geometry`` (:func:`stage_geometry_frame` of it) and
        ``findings`` (:func:`stage_findings`).

    Examples
    --------
    >>> import tempfile
    >>> f = stage_frames("smoke", store=RunStore(tempfile.mkdtemp()))
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


# ------------------------------------------------------------------------------------------
# Figures
# ------------------------------------------------------------------------------------------
def figure_jumps(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-jumps``: (chart, data).

    Examples
    --------
    >>> FIGURES["fig-jumps"] is figure_jumps
    True
    """
    from ..figures import learning_dynamics as fig

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
    from ..figures import learning_dynamics as fig

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
    from ..figures import learning_dynamics as fig

    e = energy_frames(profile, store=store)
    return fig.superposition_over_training(e["superposition"]), {
        "superposition": e["superposition"]}


def figure_stages(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-stages``: (chart, data).

    Examples
    --------
    >>> FIGURES["fig-stages"] is figure_stages
    True
    """
    from ..figures import learning_dynamics as fig

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
    from ..figures import learning_dynamics as fig

    s = stage_frames(profile, store=store)
    return fig.stage_paths(s["paths"]), {"paths": s["paths"]}


#: The chapter's figures by label: functions ``(profile, store) -> (chart, data)``.
FIGURES = {"fig-jumps": figure_jumps, "fig-jump-statistics": figure_jump_statistics,
           "fig-superposition-over-training": figure_superposition_over_training,
           "fig-stages": figure_stages, "fig-stage-paths": figure_stage_paths}
