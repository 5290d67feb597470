"""Energy levels of one run (``energy-levels``): every model's jumps between levels of feature
dimensionality, per-model and per-density summaries, features per dimension over training, and
the numbers the chapter states about them.

Examples
--------
>>> level_name(2 / 5)
'2/5'
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...analysis import dynamics
from ...core.metrics import REPRESENTED_NORM
from ...core.run import Run
from ...core.store import RunStore
from ..memo import remembered
from ..registry import load

__all__ = [
    "SETTLE_TOL",
    "density_frame",
    "energy_findings",
    "energy_frames",
    "exemplar",
    "jump_frame",
    "level_name",
    "model_frame",
    "superposition_frame",
    "superposition_onset",
    "trajectory_frame",
]


#: A feature has *settled* on {0, 1/2} when its final D_i lies within this of 0 or 1/2.
SETTLE_TOL = 0.05


def jump_frame(run: Run) -> pd.DataFrame:
    """Every energy-level jump of every model of a run.

    Parameters
    ----------
    run : Run
        A run with snapshots (e.g. ``energy-levels``, every seed).

    Returns
    -------
    pandas.DataFrame
        :func:`~superposition_lib.analysis.dynamics.energy_level_jumps` columns (with the snapshot
        loss) plus ``model``, ``density``, ``seed`` and ``from_digon``: whether the jumping feature
        had already settled into a digon, i.e. one of its non-initial
        :func:`~superposition_lib.analysis.dynamics.plateaus` at 1/2 ended by the jump's
        ``step_start`` (the paper's picture: features settle into digons, then jump later).

    Examples
    --------
    >>> run = load("energy-levels", "smoke")
    >>> jumps = jump_frame(run)
    >>> {"model", "density", "step", "level_before", "loss_change", "from_digon"} <= set(jumps)
    True
    >>> bool(jumps.loc[jumps["level_before"] == 0.5, "from_digon"].all())
    True
    """
    S = run.snapshots
    dims = S.feature_dimensionality()
    frames = []
    for k in range(S.loss.shape[1]):
        D = dims[:, k]
        j = dynamics.energy_level_jumps(D, S.steps, S.loss[:, k])
        plat = dynamics.plateaus(D, S.steps)
        digon = plat[~plat["initial"] & np.isclose(plat["level"], 0.5)]
        first_digon_end = digon.groupby("feature")["step_end"].min()
        j["from_digon"] = (j["step_start"]
                           >= j["feature"].map(first_digon_end).fillna(np.inf)).astype(bool)
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
        ``split_step`` (:func:`~superposition_lib.analysis.dynamics.split_step` over the
        features represented at the end, final norm above
        :data:`~superposition_lib.core.metrics.REPRESENTED_NORM`; NaN if never),
        ``jumps``, ``first_jump`` and ``last_jump`` (steps; NaN without jumps), ``settled``
        (fraction of features whose final D_i is within :data:`SETTLE_TOL` of 0 or 1/2),
        ``features`` (n), ``digons`` (features at 1/2), ``digon_jumps`` (jumps of features
        that had already settled into a digon: ``from_digon`` in :func:`jump_frame`),
        ``jump_fraction`` and ``log_time_fraction``
        (:func:`~superposition_lib.analysis.dynamics.jump_loss_fraction` after the split; NaN
        without a split), ``first_level`` (the first step at which some feature starts a non-initial
        plateau) and ``jump_fraction_first``, ``log_time_fraction_first`` (the same fractions
        after ``first_level``: the split and everything after it), ``jumps_per_decade`` (jumps
        after the split per decade of steps from the split to the end; NaN without a split).

    Examples
    --------
    >>> run = load("energy-levels", "smoke")
    >>> len(model_frame(run)) == run.W.shape[0]
    True
    """
    if jumps is None:
        jumps = jump_frame(run)
    S = run.snapshots
    dims, norms = S.feature_dimensionality(), S.feature_norms()
    rows = []
    for k in range(S.loss.shape[1]):
        D = dims[:, k]
        mine = jumps[jumps["model"] == k]
        split = dynamics.split_step(D, S.steps, features=norms[-1, k] > REPRESENTED_NORM)
        frac = log_frac = frac_first = log_first = rate = np.nan
        if split is not None and split < S.steps[-1]:
            s = dynamics.jump_loss_fraction(mine, S.loss[:, k], S.steps, after=split)
            frac, log_frac = float(s.fraction), float(s.log_time_fraction)
            rate = int((mine["step"] > split).sum()) / np.log10(S.steps[-1] / split)
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
            "features": len(end),
            "digons": int(np.sum(np.abs(end - 0.5) <= SETTLE_TOL)),
            "digon_jumps": int(mine["from_digon"].sum()),
            "jump_fraction": frac, "log_time_fraction": log_frac,
            "first_level": np.nan if first_level is None else float(first_level),
            "jump_fraction_first": frac_first, "log_time_fraction_first": log_first,
            "jumps_per_decade": rate})
    return pd.DataFrame(rows)


def density_frame(models: pd.DataFrame, by: str | list = "density") -> pd.DataFrame:
    """The search table: per density (or other groups), how the models end and how many jump.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`model_frame` rows.
    by : str or list of str
        Columns of ``models`` to group by; ``"density"`` (the default) sorts the rows from
        dense to sparse, other groupings keep the order in which groups first appear.

    Returns
    -------
    pandas.DataFrame
        One row per group: the ``by`` columns, ``models``, ``all_settled`` (models whose
        every feature ends within :data:`SETTLE_TOL` of 0 or 1/2), ``median_digons``,
        ``with_jumps`` (models with at least one jump), ``jumps`` (all jumps),
        ``median_jump_fraction`` and ``median_log_time_fraction`` (over models with a split),
        the same two from the first level reached (``median_jump_fraction_first``,
        ``median_log_time_fraction_first``, when ``models`` has them), ``median_loss``; when
        ``models`` has ``features`` also ``digon_share`` (the share of all features that end
        in a digon), and when it has ``digon_jumps`` also ``digon_jumps`` (jumps of features
        already settled into a digon) and ``with_digon_jumps`` (models with one).

    Examples
    --------
    >>> m = pd.DataFrame({"density": [0.3, 0.3], "settled": [1.0, 0.9], "digons": [10, 9],
    ...                   "jumps": [2, 0], "jump_fraction": [0.5, 0.0],
    ...                   "log_time_fraction": [0.1, 0.0], "final_loss": [0.1, 0.2]})
    >>> density_frame(m)[["density", "all_settled", "with_jumps", "jumps"]].values.tolist()
    [[0.3, 1.0, 1.0, 2.0]]
    >>> m["features"], m["setting"] = 10, ["a", "b"]
    >>> density_frame(m, "setting")[["setting", "digon_share"]].values.tolist()
    [['a', 1.0], ['b', 0.9]]
    """
    g = models.groupby(by, sort=False)
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
        **({"digon_share": g["digons"].sum() / g["features"].sum()}
           if "features" in models else {}),
        **({"digon_jumps": g["digon_jumps"].sum(),
            "with_digon_jumps": g["digon_jumps"].apply(lambda s: int((s > 0).sum()))}
           if "digon_jumps" in models else {}),
        "median_loss": g["final_loss"].median()}).reset_index()
    if by != "density":
        return out
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
    >>> run = load("energy-levels", "smoke")
    >>> df = trajectory_frame(run, 0)
    >>> df.shape[1] == 2 + run.W.shape[-1], bool((df["step"] > 0).all())
    (True, True)
    """
    S = run.snapshots
    keep = S.steps > 0
    D = S.select([model]).feature_dimensionality()[keep, 0]
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
    >>> from superposition_lib.experiments.learning_dynamics.specs import ENERGY_DENSITIES
    >>> run = load("energy-levels", "smoke")
    >>> sorted(superposition_frame(run)["density"].unique()) == sorted(ENERGY_DENSITIES)
    True
    """
    S = run.snapshots
    m = S.W.shape[-2]
    norms = np.linalg.norm(S.W, axis=-2)                              # (snapshots, models, n)
    fpd = (norms ** 2).sum(-1) / m
    rep = (norms > REPRESENTED_NORM).sum(-1) / m
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
    >>> from superposition_lib.experiments.learning_dynamics.specs import ENERGY_DENSITIES
    >>> run = load("energy-levels-small-init", "smoke")
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


def level_name(level: float) -> str:
    """A level of dimensionality as a fraction, the way the chapter writes it.

    Parameters
    ----------
    level : float
        A level of :data:`~superposition_lib.analysis.dynamics.LEVELS` (or any number near a
        fraction with a denominator of at most 10).

    Returns
    -------
    str

    Examples
    --------
    >>> level_name(0.4), level_name(0.5), level_name(0.0)
    ('2/5', '1/2', '0')
    """
    from fractions import Fraction

    return str(Fraction(float(level)).limit_denominator(10))


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
        ``first_step``, ``min_step`` and ``dip``: whether the minimum lies more than 0.05
        below the start, before the end), ``last_step``, ``median_split_step`` and
        ``median_final_loss`` (over all models), ``unsettled_densities`` (the densities, dense
        first, at which no model ends with every feature on {0, 1/2}), ``unsettled_jumps``
        (the jumps at those densities) and ``unsettled_between`` (those of them between the
        levels 1/3 and 2/5), ``last_jump`` (the latest jump's step; NaN without jumps),
        ``end_over_last_jump`` (``last_step`` over it), ``late_jump_records`` (the jumps
        after step 10,000 as records of ``model``, ``feature``, ``density``, ``step``,
        ``level_before``, ``level_after``, ``loss_change`` and ``from_digon``) and
        ``late_digon_jumps`` (those of them from a settled digon).

    Examples
    --------
    >>> models = pd.DataFrame({"model": [0, 1], "density": [0.3, 0.1], "jumps": [1, 1],
    ...                        "settled": [1.0, 0.9], "split_step": [400.0, 600.0],
    ...                        "final_loss": [0.1, 0.2], "jump_fraction": [0.4, np.nan],
    ...                        "log_time_fraction": [0.1, 0.0]})
    >>> jumps = pd.DataFrame({"model": [0, 1], "feature": 3, "density": [0.3, 0.1],
    ...                       "step": [500.0, 20_000.0], "loss_change": [-0.01, 0.001],
    ...                       "level_before": [0.4, 1 / 3], "level_after": [0.5, 0.4],
    ...                       "from_digon": False})
    >>> sup = pd.DataFrame({"density": 0.3, "step": [100, 1000, 10000, 100_000],
    ...                     "median": [1.0, 0.5, 1.2, 1.5]})
    >>> f = energy_findings(models, jumps, sup)
    >>> f["jumps"], f["transitions"], f["fpd_at"][0.3][1000], f["fpd_path"][0.3]["dip"]
    (2, {'2/5→1/2': 1, '1/3→2/5': 1}, 0.5, True)
    >>> f["unsettled_densities"], f["unsettled_jumps"], f["unsettled_between"]
    ([0.1], 1, 1)
    >>> f["last_jump"], f["end_over_last_jump"], f["late_jump_records"][0]["model"]
    (20000.0, 5.0, 1)
    """
    with_jump = models[(models["jumps"] > 0) & models["jump_fraction"].notna()]
    with_first = (models[(models["jumps"] > 0) & models["jump_fraction_first"].notna()]
                  if "jump_fraction_first" in models else models.iloc[:0])
    after_split = (jumps.merge(models[["model", "split_step"]], on="model")
                   if "model" in jumps and "model" in models else None)
    trans = (jumps["level_before"].map(level_name) + "→" + jumps["level_after"].map(level_name)
             ).value_counts()
    last = int(superposition["step"].max()) if len(superposition) else 0
    fpd, cross = {}, {}
    for p, g in superposition.groupby("density"):
        g = g.set_index("step")["median"]
        low = int(np.argmin(g.to_numpy()))
        cross[float(p)] = {"first": float(g.iloc[0]), "first_step": int(g.index[0]),
                           "min": float(g.iloc[low]), "min_step": int(g.index[low]),
                           "last": float(g.iloc[-1]),
                           "dip": bool(g.iloc[low] < g.iloc[0] - 0.05 and g.index[low] < last)}
        fpd[float(p)] = {int(s): float(g.iloc[np.argmin(np.abs(np.log(g.index / s)))])
                         for s in (100, 1000, 10_000, last) if s > 0 and s <= last}
    steps = jumps["step"]
    all_settled = models.groupby("density")["settled"].apply(lambda s: int((s == 1).sum()))
    unsettled = sorted(all_settled.index[all_settled == 0], reverse=True)
    at_unsettled = jumps[jumps["density"].isin(unsettled)]
    thirds = [0.333, 0.4]                         # the levels 1/3 and 2/5, rounded
    between = (at_unsettled["level_before"].round(3).isin(thirds)
               & at_unsettled["level_after"].round(3).isin(thirds))
    late = jumps.loc[steps > 10_000, ["model", "feature", "density", "step", "level_before",
                                      "level_after", "loss_change", "from_digon"]]
    last_jump = float(steps.max()) if len(steps) else np.nan
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
        "median_split_step": float(models["split_step"].median()),
        "median_final_loss": float(models["final_loss"].median()),
        "unsettled_densities": [float(p) for p in unsettled],
        "unsettled_jumps": len(at_unsettled),
        "unsettled_between": int(between.sum()),
        "last_jump": last_jump,
        "end_over_last_jump": last / last_jump,
        "late_jump_records": late.to_dict("records"),
        "late_digon_jumps": int(late["from_digon"].sum()),
    }


@remembered("energy-levels")
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
    >>> f = energy_frames("smoke")
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
