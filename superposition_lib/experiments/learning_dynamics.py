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
``energy-search-…``
    The documented search for the paper's energy-level picture (features settle into digons,
    then jump): one experiment per setting of :data:`SEARCH` (n, m, learning rate and its
    schedule; a spec has one learning rate), each at the densities of
    :data:`SEARCH_DENSITIES` with :data:`SEARCH_SEEDS` seeds, 100,000 steps of batch 256 and
    about 200 log-spaced snapshots; :func:`search_frames` summarises every setting next to
    ``energy-levels``.

The ``smoke`` profiles keep n, m and the densities and train a few seeds for a few thousand
steps at a larger learning rate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import dynamics
from ..config import ExperimentSpec
from ..run import Run
from ..store import RunStore
from ..train import learning_rate
from . import Experiment, load, register
from .memo import remembered

__all__ = [
    "CHAPTER",
    "ENERGY_DENSITIES",
    "ENERGY_SEEDS",
    "SEARCH",
    "SEARCH_CONTRAST",
    "SEARCH_DENSITIES",
    "SEARCH_SEEDS",
    "PATH_STAGES",
    "SCALE",
    "SCALE_DENSITIES",
    "SCALE_SEEDS",
    "SCALE_RUNS",
    "SCALE_STATISTICS",
    "REPRESENTED_NORM",
    "SETTING_COLUMNS",
    "SETTLE_TOL",
    "STAGE_DENSITIES",
    "STAGE_INIT_DENSITIES",
    "STAGE_INIT_SCALES",
    "STAGE_INIT_SEEDS",
    "TOLERANCES",
    "STAGE_SEEDS",
    "density_frame",
    "energy_findings",
    "exemplar",
    "jump_frame",
    "model_frame",
    "path_frame",
    "path_shares",
    "late_digon_jumps",
    "scale_frames",
    "scale_results",
    "scale_statistics",
    "tolerance_frame",
    "search_design",
    "search_findings",
    "search_frame",
    "search_frames",
    "stage_findings",
    "stage_frame",
    "stage_geometry_frame",
    "stage_init_results",
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


#: Initial scales (factors on the Xavier standard deviation sqrt(2 / (m + n)) = 0.47) of
#: ``geometric-stages-init``; ``geometric-stages`` starts at about 0.23 of it (the notebook's
#: scale for its 50 models).
STAGE_INIT_SCALES = (0.03, 0.1, 0.3, 1.0)
#: Feature probabilities of ``geometric-stages-init``.
STAGE_INIT_DENSITIES = (0.05, 0.1, 0.2)
#: Seeds per setting of ``geometric-stages-init`` (paper profile).
STAGE_INIT_SEEDS = 20


def _stage_init_profiles() -> dict:
    grid = [(p, scale) for scale in STAGE_INIT_SCALES for p in STAGE_INIT_DENSITIES]
    common = {"model": "relu_output", "n_features": 6, "n_hidden": 3, "data": "correlated",
              "set_size": 3, "feature_probability": [p for p, _ in grid],
              "init_scale": [scale for _, scale in grid], "importance": 1.0, "seed": 0}
    paper = ExperimentSpec(**common, restarts=STAGE_INIT_SEEDS, steps=20_000, batch_size=1024,
                           lr=1e-3, snapshot_log=200, history_every=200, eval_samples=1 << 14)
    smoke = ExperimentSpec(**common, restarts=2, steps=1500, batch_size=256, lr=1e-2,
                           snapshot_log=60, history_every=50, eval_samples=1 << 12)
    return {"paper": paper, "smoke": smoke}


register(Experiment(
    "geometric-stages-init", CHAPTER,
    "the n = 6, m = 3 stage model from four initial scales (0.03-1 x Xavier) at densities "
    "0.05-0.2, 20 seeds each, 20k steps, 200 log-spaced snapshots",
    _stage_init_profiles(), best_of=False))


#: The energy-level experiments at the paper's scale: (experiment name, n, m). n = 400, m = 30
#: is the uniform-superposition setting of the paper (the book's ``uniform-geometry``), to which
#: the paper's energy-level figure points; n = 100, m = 10 sits between it and ``energy-levels``.
SCALE = (("energy-levels-n100", 100, 10), ("energy-levels-n400", 400, 30))
#: Feature probabilities of the paper-scale experiments: 0.22, where ``uniform-geometry`` after
#: 10,000 steps has the loss the paper's figure shows (0.0535-0.0531 per feature), and 0.3 and
#: 0.4, where every represented feature of ``uniform-geometry`` sits in a digon (D = 1/2).
SCALE_DENSITIES = (0.22, 0.3, 0.4)
#: Seeds per density of the paper-scale experiments (paper profile).
SCALE_SEEDS = 5


def _scale_profiles(n: int, m: int) -> dict:
    common = {"model": "relu_output", "n_features": n, "n_hidden": m,
              "feature_probability": SCALE_DENSITIES, "importance": 1.0, "seed": 0,
              "snapshot_weights": False}
    paper = ExperimentSpec(**common, restarts=SCALE_SEEDS, steps=100_000, batch_size=1024,
                           lr=1e-3, snapshot_log=200, history_every=500, eval_samples=1 << 16)
    smoke = ExperimentSpec(**common, restarts=2, steps=1500, batch_size=256, lr=1e-2,
                           snapshot_log=50, history_every=50, eval_samples=1 << 12)
    return {"paper": paper, "smoke": smoke}


for _name, _n, _m in SCALE:
    register(Experiment(
        _name, CHAPTER,
        f"energy levels at scale: {_n} features in {_m} dims, densities 0.22-0.4, "
        f"{SCALE_SEEDS} seeds, 100k steps of batch 1024, 200 log-spaced snapshots of D_i",
        _scale_profiles(_n, _m), best_of=False))


#: The documented search for the paper's energy-level picture: (experiment name, n, m, lr,
#: lr schedule). n = 2m is where every feature can end in a digon (m antipodal pairs fill the m
#: dimensions); n = 3m and n = 4m (with ``energy-levels``: n = 20, m = 5, lr 1e-3, constant)
#: have more features than digons can hold, so that features can swap in and out of them.
SEARCH = (
    ("energy-search-n10-lr3e-4", 10, 5, 3e-4, "constant"),
    ("energy-search-n10-lr1e-3", 10, 5, 1e-3, "constant"),
    ("energy-search-n10-lr3e-3", 10, 5, 3e-3, "constant"),
    ("energy-search-n10-lr3e-3-cosine", 10, 5, 3e-3, "cosine"),
    ("energy-search-n16-lr1e-3", 16, 8, 1e-3, "constant"),
    ("energy-search-n16-lr3e-3", 16, 8, 3e-3, "constant"),
    ("energy-search-n15-lr1e-3", 15, 5, 1e-3, "constant"),
    ("energy-search-n15-lr3e-3", 15, 5, 3e-3, "constant"),
    ("energy-search-n20-lr3e-3", 20, 5, 3e-3, "constant"),
)
#: Feature probabilities of the search experiments.
SEARCH_DENSITIES = (0.5, 0.3, 0.1, 0.03)
#: Seeds per density in the search experiments (paper profile).
SEARCH_SEEDS = 5


def _search_profiles(n: int, m: int, lr: float, schedule: str) -> dict:
    common = {"model": "relu_output", "n_features": n, "n_hidden": m,
              "feature_probability": SEARCH_DENSITIES, "importance": 1.0, "seed": 0,
              "lr_schedule": schedule}
    paper = ExperimentSpec(**common, restarts=SEARCH_SEEDS, steps=100_000, batch_size=256,
                           lr=lr, snapshot_log=200, history_every=1000, eval_samples=1 << 16)
    # 50x fewer steps at 10x the learning rate, so that the smoke runs still split and settle.
    smoke = ExperimentSpec(**common, restarts=2, steps=2000, batch_size=128, lr=round(10 * lr, 12),
                           snapshot_log=60, history_every=100, eval_samples=1 << 12)
    return {"paper": paper, "smoke": smoke}


for _name, _n, _m, _lr, _schedule in SEARCH:
    register(Experiment(
        _name, CHAPTER,
        f"energy-level search: {_n} features in {_m} dims, lr {_lr:g} {_schedule}, densities "
        f"0.5-0.03, {SEARCH_SEEDS} seeds, 100k steps, 200 log-spaced snapshots",
        _search_profiles(_n, _m, _lr, _schedule), best_of=False))


# ------------------------------------------------------------------------------------------
# Energy levels
# ------------------------------------------------------------------------------------------
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
        plus ``model``, ``density``, ``seed`` and ``from_digon``: whether the jumping feature
        had already settled into a digon, i.e. one of its non-initial
        :func:`~superposition_lib.dynamics.plateaus` at 1/2 ended by the jump's
        ``step_start`` (the paper's picture: features settle into digons, then jump later).

    Examples
    --------
    >>> import tempfile
    >>> run = load("energy-levels", "smoke", store=RunStore(tempfile.mkdtemp()))
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
        ``split_step`` (:func:`~superposition_lib.dynamics.split_step`; NaN if never),
        ``jumps``, ``first_jump`` and ``last_jump`` (steps; NaN without jumps), ``settled``
        (fraction of features whose final D_i is within :data:`SETTLE_TOL` of 0 or 1/2),
        ``features`` (n), ``digons`` (features at 1/2), ``digon_jumps`` (jumps of features
        that had already settled into a digon: ``from_digon`` in :func:`jump_frame`),
        ``jump_fraction`` and ``log_time_fraction``
        (:func:`~superposition_lib.dynamics.jump_loss_fraction` after the split; NaN without a
        split), ``first_level`` (the first step at which some feature starts a non-initial
        plateau) and ``jump_fraction_first``, ``log_time_fraction_first`` (the same fractions
        after ``first_level``: the split and everything after it), ``jumps_per_decade`` (jumps
        after the split per decade of steps from the split to the end; NaN without a split).

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
    dims = S.feature_dimensionality()
    rows = []
    for k in range(S.loss.shape[1]):
        D = dims[:, k]
        mine = jumps[jumps["model"] == k]
        split = dynamics.split_step(D, S.steps)
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


#: The quantities :func:`scale_statistics` summarises: (column of :func:`model_frame`, how).
SCALE_STATISTICS = {
    "jumps_per_decade": "mean jumps after the split per model per decade of steps",
    "with_jumps": "share of models with a jump after the split",
    "jump_fraction": "mean share of the loss decrease after the split inside jump windows",
    "log_time_fraction": "mean share of log-time after the split inside jump windows",
    "last_jump": "median step of a model's last jump (models with a jump)",
}


def scale_statistics(models: pd.DataFrame, by: str | list = "size", *, seed: int = 0
                     ) -> pd.DataFrame:
    """Jump statistics per group (e.g. model size) with bootstrap 95% intervals over seeds.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`model_frame` rows of one or more runs, with the ``by`` columns and ``seed``;
        the models of one seed (one per density) are resampled together.
    by : str or list of str
        Grouping columns.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        One row per group and quantity of :data:`SCALE_STATISTICS`: the ``by`` columns,
        ``quantity``, ``estimate``, ``low``, ``high`` (95% interval; Wilson's for the share
        ``with_jumps``) and ``models`` (the models it is computed from).

    Examples
    --------
    >>> m = pd.DataFrame({"size": 20, "seed": [0, 0, 1, 1], "jumps_per_decade": [0.0, 1.0,
    ...                   0.5, 0.5], "jump_fraction": [np.nan, 0.4, 0.2, 0.3],
    ...                   "log_time_fraction": [np.nan, 0.1, 0.1, 0.1],
    ...                   "last_jump": [np.nan, 1e4, 3e4, 2e4]})
    >>> t = scale_statistics(m).set_index("quantity")
    >>> float(t.loc["jumps_per_decade", "estimate"]), int(t.loc["with_jumps", "models"])
    (0.5, 4)
    """
    from ..stats import bootstrap_interval, wilson_interval

    rows = []
    for key, group in models.groupby(by, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        names = [by] if isinstance(by, str) else list(by)
        base = dict(zip(names, key))
        for quantity in SCALE_STATISTICS:
            if quantity == "with_jumps":  # among the models with a split
                rates = group["jumps_per_decade"].dropna()
                count = len(rates)
                est, low, high = (wilson_interval(int((rates > 0).sum()), count) if count
                                  else (np.nan, np.nan, np.nan))
            else:
                statistic = np.median if quantity == "last_jump" else np.mean
                est, low, high = bootstrap_interval(group[quantity], group["seed"],
                                                    statistic=statistic, seed=seed)
                count = int(group[quantity].notna().sum())
            rows.append({**base, "quantity": quantity, "estimate": est, "low": low,
                         "high": high, "models": count})
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
    >>> import tempfile
    >>> run = load("energy-levels", "smoke", store=RunStore(tempfile.mkdtemp()))
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


#: A feature is *represented* in :func:`scale_frames` when its norm ‖W_i‖ exceeds this at some
#: snapshot (unrepresented features sit near 0 and would bury the figure's lines).
REPRESENTED_NORM = 0.5


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
        ``D|i`` of its represented features (:data:`REPRESENTED_NORM`), for
        :func:`~superposition_lib.figures.learning_dynamics.energy_level_chart`; ``losses``:
        ``label``, ``step`` and ``excess`` per snapshot.

    Examples
    --------
    >>> import tempfile
    >>> run = load("energy-levels-n100", "smoke", store=RunStore(tempfile.mkdtemp()))
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


def level_name(level: float) -> str:
    """A level of dimensionality as a fraction, the way the chapter writes it.

    Parameters
    ----------
    level : float
        A level of :data:`~superposition_lib.dynamics.LEVELS` (or any number near a fraction
        with a denominator of at most 10).

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
# Energy levels at the paper's scale
# ------------------------------------------------------------------------------------------
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
        Values of ``tol`` for :func:`~superposition_lib.dynamics.energy_level_jumps`.

    Returns
    -------
    pandas.DataFrame
        One row per run size and tolerance: ``size`` (n), ``tol``, ``models``, ``jumps``
        (all), ``jumps_per_model`` and ``with_jumps`` (models with at least one).

    Examples
    --------
    >>> import tempfile
    >>> run = load("energy-levels-n100", "smoke", store=RunStore(tempfile.mkdtemp()))
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
    from ..stats import wilson_interval

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
    from ..stats import bootstrap_interval

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
        (``models``, ``jumps``, ``trajectories``, ``losses``), ``statistics``
        (:func:`scale_statistics` by size) and ``tolerances`` (:func:`tolerance_frame`).

    Examples
    --------
    >>> import tempfile
    >>> r = scale_results("smoke", store=RunStore(tempfile.mkdtemp()))
    >>> sorted(r["statistics"]["size"].unique().tolist())
    [20, 100, 400]
    """
    runs = {name: load(name, profile, store=store) for name in SCALE_RUNS}
    frames = scale_frames(list(runs.values()))
    return {"runs": runs, **frames, "statistics": scale_statistics(frames["models"]),
            "tolerances": tolerance_frame(list(runs.values()))}


# ------------------------------------------------------------------------------------------
# The energy-level search
# ------------------------------------------------------------------------------------------
#: The run the search is contrasted with: more features than digons can hold (n = 4m).
SEARCH_CONTRAST = "energy-levels"

#: What identifies a setting of the search (one experiment) in :func:`search_frames`.
SETTING_COLUMNS = ["setting", "n", "m", "lr", "schedule"]


def search_frame(models: pd.DataFrame, jumps: pd.DataFrame,
                 by: str | list = "setting") -> pd.DataFrame:
    """The search summary: per setting (or setting and density), do digons settle and jump?

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`model_frame` rows with the ``by`` columns (see :func:`search_frames`).
    jumps : pandas.DataFrame
        :func:`jump_frame` rows with the same ``by`` columns.
    by : str or list of str
        Grouping columns, e.g. ``"setting"`` or ``["setting", "density"]``.

    Returns
    -------
    pandas.DataFrame
        :func:`density_frame` grouped by ``by`` plus ``all_settled_share`` (the share of
        models whose every feature ends on 0 or 1/2: every represented feature a digon),
        ``digon_jumps_per_model``, ``median_loss_change`` (over the group's jumps; NaN
        without jumps), ``drop_share`` (share of its jumps that lower the loss),
        ``late_jumps`` (jumps after step 10,000) and ``last_jump`` (the step of the latest
        jump; NaN without jumps).

    Examples
    --------
    >>> models = pd.DataFrame({"setting": ["a", "a", "b"], "model": [0, 1, 0],
    ...                        "settled": [1.0, 0.9, 1.0], "features": 10,
    ...                        "digons": [10, 8, 10], "jumps": [2, 0, 0],
    ...                        "digon_jumps": [1, 0, 0], "jump_fraction": np.nan,
    ...                        "log_time_fraction": np.nan, "final_loss": 0.1})
    >>> jumps = pd.DataFrame({"setting": "a", "model": [0, 0], "from_digon": [True, False],
    ...                       "step": [300.0, 20_000.0], "loss_change": [-0.01, 0.002]})
    >>> t = search_frame(models, jumps)
    >>> t[["setting", "digon_share", "all_settled_share", "digon_jumps"]].values.tolist()
    [['a', 0.9, 0.5, 1], ['b', 1.0, 1.0, 0]]
    >>> t["median_loss_change"].tolist(), t["drop_share"].tolist()
    ([-0.004, nan], [0.5, nan])
    >>> t["late_jumps"].tolist(), t["last_jump"].tolist()
    ([1, 0], [20000.0, nan])
    """
    out = density_frame(models, by)
    out["all_settled_share"] = out["all_settled"] / out["models"]
    out["digon_jumps_per_model"] = out["digon_jumps"] / out["models"]
    g = jumps.groupby(by, sort=False)
    stats = pd.DataFrame({"median_loss_change": g["loss_change"].median(),
                          "drop_share": g["loss_change"].apply(lambda s: float((s < 0).mean())),
                          "late_jumps": g["step"].apply(lambda s: int((s > 10_000).sum())),
                          "last_jump": g["step"].max()})
    out = out.merge(stats.reset_index(), on=by, how="left")
    out["late_jumps"] = out["late_jumps"].fillna(0).astype(int)
    return out


def search_design(specs: Sequence[ExperimentSpec], settings: pd.DataFrame) -> dict:
    """What the search varies and what it keeps fixed, read from its specs.

    Parameters
    ----------
    specs : sequence of ExperimentSpec
        The specs of the search's experiments (:data:`SEARCH`, one profile), each named after
        its experiment.
    settings : pandas.DataFrame
        :func:`search_frames` ``settings``: ``setting``, ``models`` and ``wall_s`` per setting,
        :data:`SEARCH_CONTRAST` included.

    Returns
    -------
    dict
        ``experiments`` (how many); ``sizes`` (the (n, m) pairs, by n/m, then n), split into
        ``sizes_2m`` (n = 2m) and ``sizes_more`` (n > 2m); ``max_n`` and ``max_m``; ``lrs``
        (every learning rate, ascending); ``decays`` ((lr, schedule) of every setting whose
        rate is not constant); ``densities``, ``seeds`` (restarts per density),
        ``models_per_experiment``, ``steps``, ``batch_size``, ``seed`` and ``snapshots``
        (the number of snapshot steps), which every spec shares; ``models`` (every model of
        ``settings``, the contrast included) and ``training_minutes`` (the summed wall time
        of the search's runs, the contrast excluded).

    Raises
    ------
    ValueError
        If the specs differ in something the search keeps fixed.

    Examples
    --------
    >>> specs = [ExperimentSpec(name="a", n_features=10, n_hidden=5, lr=1e-3),
    ...          ExperimentSpec(name="b", n_features=15, n_hidden=5, lr=3e-3,
    ...                         lr_schedule="cosine")]
    >>> settings = pd.DataFrame({"setting": [SEARCH_CONTRAST, "a", "b"], "models": 2,
    ...                          "wall_s": [600.0, 60.0, 120.0]})
    >>> d = search_design(specs, settings)
    >>> d["sizes_2m"], d["sizes_more"], d["lrs"], d["decays"]
    ([(10, 5)], [(15, 5)], [0.001, 0.003], [(0.003, 'cosine')])
    >>> d["models"], d["training_minutes"]
    (6, 3.0)
    """
    def shared(field):
        values = {getattr(sp, field) for sp in specs}
        if len(values) != 1:
            raise ValueError(f"the search's specs differ in {field}: {sorted(values)}")
        return values.pop()

    fixed = {f: shared(f) for f in ("feature_probability", "restarts", "n_models", "steps",
                                    "batch_size", "seed", "snapshot_log", "snapshot_every")}
    sizes = sorted({(sp.n_features, sp.n_hidden) for sp in specs},
                   key=lambda nm: (nm[0] / nm[1], nm[0]))
    mine = settings["setting"].isin([sp.name for sp in specs])
    return {
        "experiments": len(specs),
        "sizes": sizes,
        "sizes_2m": [(n, m) for n, m in sizes if n == 2 * m],
        "sizes_more": [(n, m) for n, m in sizes if n > 2 * m],
        "max_n": max(n for n, _ in sizes),
        "max_m": max(m for _, m in sizes),
        "lrs": sorted({sp.lr for sp in specs}),
        "decays": [(sp.lr, sp.lr_schedule) for sp in specs if sp.lr_schedule != "constant"],
        "densities": fixed["feature_probability"],
        "seeds": fixed["restarts"],
        "models_per_experiment": fixed["n_models"],
        "steps": fixed["steps"],
        "batch_size": fixed["batch_size"],
        "seed": fixed["seed"],
        "snapshots": len(specs[0].snapshot_steps()),    # the same steps and schedule in all
        "models": int(settings["models"].sum()),
        "training_minutes": float(settings.loc[mine, "wall_s"].sum() / 60),
    }


def search_findings(models: pd.DataFrame, jumps: pd.DataFrame, settings: pd.DataFrame,
                    cells: pd.DataFrame) -> dict:
    """The numbers the chapter states about the search.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`model_frame` rows of every setting, with the :data:`SETTING_COLUMNS`.
    jumps : pandas.DataFrame
        :func:`jump_frame` rows of every setting, with the :data:`SETTING_COLUMNS`.
    settings : pandas.DataFrame
        :func:`search_frame` rows, one per setting, with the :data:`SETTING_COLUMNS` and
        ``lr_at_last_jump`` (see :func:`search_frames`).
    cells : pandas.DataFrame
        :func:`search_frame` rows per setting and density, with the :data:`SETTING_COLUMNS`.

    Returns
    -------
    dict
        ``settings`` and ``models`` (counts); ``jumps`` and ``digon_jumps`` (all jumps, and
        those of features already settled into a digon); ``digon_settings`` (the settings
        whose features end in digons in at least 90% of cases); ``digon_jump_settings``
        (setting → its jumps from a settled digon, for settings with any, most first);
        ``digon_jump_levels`` (``"a→b"`` → count over those jumps, levels as fractions);
        ``late_digon_jumps`` (those after step 10,000), ``late_digon_models`` (the models
        with one), ``late_digon_jump_settings`` (setting → its late ones, most first) and
        ``late_digon_jumps_elsewhere`` (the late ones outside :data:`SEARCH_CONTRAST`);
        ``last_digon_jump`` (the latest one's step; NaN without any), ``digon_features`` (the
        features, counted per model, with such a jump), ``digon_returns`` (those of them
        whose last jump ends in a digon again);

        ``at_2m`` (the settings with n = 2m: ``digon_share`` and ``all_settled_share`` as
        (min, max) over them, and ``unsettled_densities``, the densities, dense first, of
        their cells in which some model keeps a feature off 0 and 1/2) and ``above_2m``
        (``digon_share`` as (min, max) over the settings with n > 2m);

        ``late_jumps`` (jumps after step 10,000), ``late_jump_settings`` (setting → its late
        jumps, for settings with any, in settings order), ``late_models`` (models with a late
        jump), ``early_share`` (the share of all jumps at or before step 10,000) and
        ``last_jump`` (the latest jump's step);

        ``lr_pairing``: the constant-rate settings of the size searched at the most learning
        rates (the first such size on ties), which start from the same weights and see the
        same data, as ``n``, ``m``, ``settings`` (records of ``setting``, ``lr``, ``jumps``,
        ``last_jump``, by rising ``lr``) and ``delayed_by_smaller_lr`` (whether the last
        jump comes later at every smaller rate);

        ``cosine``: the first setting with a cosine schedule against the constant-rate
        setting of the same n, m and peak rate, as ``setting``, ``jumps``, ``last_jump``,
        ``lr_at_last_jump`` (the rate at its last jump as a share of the peak),
        ``constant_setting`` and ``constant_jumps`` (an empty dict without such a pair or
        without jumps);

        ``latest_jump``: the latest jump of the search (an empty dict without jumps) as
        ``setting``, ``model``, ``density``, ``seed``, ``step``, ``step_start``,
        ``step_end``, ``loss_change``, ``features`` (the jumps of that model ending at the
        same snapshot, counted per feature), ``transitions`` (``"a→b"`` → count over those
        jumps), ``levels_before`` (their starting levels, sorted), and the model's
        ``final_loss`` and ``jump_fraction`` (:func:`model_frame`).

    Examples
    --------
    >>> settings = pd.DataFrame({"setting": ["a", "b", "c"], "n": 10, "m": 5,
    ...                          "lr": [3e-3, 1e-3, 3e-3],
    ...                          "schedule": ["constant", "constant", "cosine"],
    ...                          "models": 1, "digon_share": [0.95, 0.5, 0.9],
    ...                          "all_settled_share": [1.0, 0.0, 1.0],
    ...                          "digon_jumps": [0, 3, 0], "jumps": [1, 3, 1],
    ...                          "late_jumps": [0, 2, 0], "last_jump": [300.0, 3e4, 200.0],
    ...                          "lr_at_last_jump": [1.0, 1.0, 0.99]})
    >>> cells = settings.assign(density=0.1)
    >>> models = pd.DataFrame({"setting": ["a", "b", "c"], "model": 0,
    ...                        "last_jump": [300.0, 3e4, 200.0], "final_loss": 0.05,
    ...                        "jump_fraction": 0.2})
    >>> jumps = pd.DataFrame({"setting": ["a", "b", "b", "b", "c"], "model": 0,
    ...                       "density": 0.1, "seed": 0, "feature": [0, 1, 1, 1, 0],
    ...                       "from_digon": [False, True, True, True, False],
    ...                       "step": [300.0, 500.0, 2e4, 3e4, 200.0],
    ...                       "step_start": [250, 400, 1.8e4, 2.7e4, 150],
    ...                       "step_end": [350, 600, 2.2e4, 3.3e4, 250],
    ...                       "level_before": 0.5, "level_after": [0.0, 0.0, 0.0, 0.4, 0.0],
    ...                       "loss_change": -1e-3})
    >>> f = search_findings(models, jumps, settings, cells)
    >>> f["digon_settings"], f["digon_jump_settings"], f["digon_jump_levels"]
    (['a', 'c'], {'b': 3}, {'1/2→0': 2, '1/2→2/5': 1})
    >>> f["late_digon_jumps"], f["late_digon_models"], f["last_digon_jump"]
    (2, 1, 30000.0)
    >>> f["digon_features"], f["digon_returns"]
    (1, 0)
    >>> f["at_2m"]["unsettled_densities"], f["late_jump_settings"], f["early_share"]
    ([0.1], {'b': 2}, 0.6)
    >>> [r["setting"] for r in f["lr_pairing"]["settings"]]
    ['b', 'a']
    >>> f["lr_pairing"]["delayed_by_smaller_lr"], f["cosine"]["constant_setting"]
    (True, 'a')
    >>> f["latest_jump"]["step"], f["latest_jump"]["transitions"]
    (30000.0, {'1/2→2/5': 1})
    """
    def transitions(j):
        before, after = (j[c].map(level_name).astype(str) for c in ("level_before", "level_after"))
        return (before + "→" + after).value_counts()

    def span(values):
        return float(values.min()), float(values.max())

    dj = jumps[jumps["from_digon"]]
    late_dj = dj[dj["step"] > 10_000]
    per = settings.set_index("setting")["digon_jumps"]
    levels = transitions(dj)
    latest = {}
    if len(jumps):
        r = jumps.loc[jumps["step"].idxmax()]
        same = jumps[(jumps["setting"] == r["setting"]) & (jumps["model"] == r["model"])
                     & (jumps["step_end"] == r["step_end"])]
        model = models[(models["setting"] == r["setting"])
                       & (models["model"] == r["model"])].iloc[0]
        latest = {"setting": r["setting"], "model": int(r["model"]),
                  "density": float(r["density"]), "seed": int(r["seed"]),
                  "step": float(r["step"]), "step_start": int(r["step_start"]),
                  "step_end": int(r["step_end"]), "loss_change": float(r["loss_change"]),
                  "features": int(same["feature"].nunique()),
                  "transitions": {k: int(v) for k, v in transitions(same).items()},
                  "levels_before": sorted(set(same["level_before"].map(level_name))),
                  "final_loss": float(model["final_loss"]),
                  "jump_fraction": float(model["jump_fraction"])}
    last = dj.sort_values("step").groupby(["setting", "model", "feature"])["level_after"].last()

    two_m = settings[settings["n"] == 2 * settings["m"]]
    cells_2m = cells[cells["n"] == 2 * cells["m"]]
    more = settings[settings["n"] > 2 * settings["m"]]
    constant = settings[settings["schedule"] == "constant"]
    rates = constant.groupby(["n", "m"], sort=False)["lr"].nunique()
    pairing = {}
    if len(rates):
        n, m = rates.idxmax()
        paired = constant[(constant["n"] == n) & (constant["m"] == m)].sort_values("lr")
        pairing = {"n": int(n), "m": int(m),
                   "settings": paired[["setting", "lr", "jumps", "last_jump"]]
                   .to_dict("records"),
                   "delayed_by_smaller_lr": bool(paired["last_jump"].is_monotonic_decreasing)}
    cosine = {}
    for c in settings[settings["schedule"] == "cosine"].head(1).itertuples():
        same = constant[(constant["n"] == c.n) & (constant["m"] == c.m)
                        & (constant["lr"] == c.lr)]
        if len(same) and not np.isnan(c.last_jump):
            cosine = {"setting": c.setting, "jumps": int(c.jumps),
                      "last_jump": float(c.last_jump),
                      "lr_at_last_jump": float(c.lr_at_last_jump),
                      "constant_setting": same["setting"].iloc[0],
                      "constant_jumps": int(same["jumps"].iloc[0])}
    late_jumps = int(settings["late_jumps"].sum())
    late_per = settings.set_index("setting")["late_jumps"]
    late_digon_per = late_dj["setting"].value_counts()
    return {
        "settings": len(settings),
        "models": int(settings["models"].sum()),
        "jumps": len(jumps),
        "digon_jumps": len(dj),
        "digon_settings": settings.loc[settings["digon_share"] >= 0.9, "setting"].tolist(),
        "digon_jump_settings": {k: int(v) for k, v in
                                per[per > 0].sort_values(ascending=False).items()},
        "digon_jump_levels": {k: int(v) for k, v in levels.items()},
        "late_digon_jumps": len(late_dj),
        "late_digon_models": len(late_dj[["setting", "model"]].drop_duplicates()),
        "late_digon_jump_settings": {k: int(v) for k, v in late_digon_per.items()},
        "late_digon_jumps_elsewhere": int((late_dj["setting"] != SEARCH_CONTRAST).sum()),
        "last_digon_jump": float(dj["step"].max()) if len(dj) else np.nan,
        "digon_features": len(last),
        "digon_returns": int(np.isclose(last, 0.5).sum()),
        "at_2m": {"digon_share": span(two_m["digon_share"]),
                  "all_settled_share": span(two_m["all_settled_share"]),
                  "unsettled_densities": sorted(set(cells_2m.loc[
                      cells_2m["all_settled_share"] < 1, "density"]), reverse=True)},
        "above_2m": {"digon_share": span(more["digon_share"])},
        "late_jumps": late_jumps,
        "late_jump_settings": {k: int(v) for k, v in late_per[late_per > 0].items()},
        "late_models": int((models["last_jump"] > 10_000).sum()),
        "early_share": 1 - late_jumps / len(jumps) if len(jumps) else np.nan,
        "last_jump": float(settings["last_jump"].max()),
        "lr_pairing": pairing,
        "cosine": cosine,
        "latest_jump": latest,
    }


@remembered(SEARCH_CONTRAST, *(s[0] for s in SEARCH))
def search_frames(profile: str | None = None, *, store: RunStore | None = None) -> dict:
    """Everything the chapter needs from the search: :data:`SEARCH` and its contrast.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to the current profile.
    store : RunStore, optional
        Where runs are cached.

    Returns
    -------
    dict
        ``models`` (:func:`model_frame`) and ``jumps`` (:func:`jump_frame`) of every setting
        (:data:`SEARCH_CONTRAST` first, then :data:`SEARCH`) with the columns
        :data:`SETTING_COLUMNS` (``setting`` is the experiment's name; ``n``, ``m``, ``lr``
        and ``schedule`` its spec's); ``settings`` (:func:`search_frame` per setting) and
        ``cells`` (per setting and density), both with the setting columns, ``settings``
        also with ``wall_s`` (the run's training time in seconds, from its manifest) and
        ``lr_at_last_jump`` (the learning rate at the setting's last jump as a share of its
        peak rate, :func:`~superposition_lib.train.learning_rate`; NaN without jumps);
        ``design`` (:func:`search_design` of :data:`SEARCH`) and ``findings``
        (:func:`search_findings`).

    Examples
    --------
    >>> import tempfile
    >>> f = search_frames("smoke", store=RunStore(tempfile.mkdtemp()))
    >>> f["settings"]["setting"].tolist() == [SEARCH_CONTRAST] + [s[0] for s in SEARCH]
    True
    >>> int(f["settings"]["jumps"].sum()) == len(f["jumps"]) == f["findings"]["jumps"]
    True
    """
    models, jumps, wall, specs = [], [], {}, {}
    for name in (SEARCH_CONTRAST, *(s[0] for s in SEARCH)):
        run = load(name, profile, store=store)
        wall[name], specs[name] = float(run.wall_time), run.spec
        j = jump_frame(run)
        m = model_frame(run, j)
        meta = {"setting": name, "n": run.spec.n_features, "m": run.spec.n_hidden,
                "lr": run.spec.lr, "schedule": run.spec.lr_schedule}
        for df in (m, j):
            for i, (col, value) in enumerate(meta.items()):
                df.insert(i, col, value)
        models.append(m)
        jumps.append(j)
    models = pd.concat(models, ignore_index=True)
    jumps = pd.concat(jumps, ignore_index=True)
    settings = models[SETTING_COLUMNS].drop_duplicates()
    by_setting = settings.merge(search_frame(models, jumps), on="setting")
    by_setting["wall_s"] = by_setting["setting"].map(wall)
    by_setting["lr_at_last_jump"] = [
        np.nan if np.isnan(step) else learning_rate(specs[name], int(step)) / specs[name].lr
        for name, step in zip(by_setting["setting"], by_setting["last_jump"])]
    cells = settings.merge(search_frame(models, jumps, ["setting", "density"]), on="setting")
    return {"models": models, "jumps": jumps, "settings": by_setting, "cells": cells,
            "design": search_design([specs[s[0]] for s in SEARCH], by_setting),
            "findings": search_findings(models, jumps, by_setting, cells)}


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
        ``density``, ``init_scale`` and ``seed``.

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
    from ..stats import wilson_interval

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
        ``stages`` has it), ``seed``, ``order`` (0, 1, …), :func:`~superposition_lib.dynamics.stage_trajectory` columns, ``path``
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
    >>> import tempfile
    >>> r = stage_init_results("smoke", store=RunStore(tempfile.mkdtemp()))
    >>> sorted(r["shares"]["init_scale"].unique().tolist()) == sorted(STAGE_INIT_SCALES)
    True
    """
    run = load("geometric-stages-init", profile, store=store)
    paths = path_frame(stage_frame(run))
    return {"run": run, "paths": paths, "shares": path_shares(paths)}
