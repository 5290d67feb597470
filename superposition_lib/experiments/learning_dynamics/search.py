"""The documented search for the paper's energy-level picture (features settle into digons,
then jump): the settings of :data:`~superposition_lib.experiments.learning_dynamics.specs.SEARCH`
next to :data:`SEARCH_CONTRAST`, what the search varies, and the numbers the chapter states.

Examples
--------
>>> SEARCH_CONTRAST
'energy-levels'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ...core.config import ExperimentSpec
from ...core.schedule import learning_rate
from ...core.store import RunStore
from ..memo import remembered
from ..registry import load
from .energy import density_frame, jump_frame, level_name, model_frame
from .specs import SEARCH

__all__ = [
    "SEARCH_CONTRAST",
    "SETTING_COLUMNS",
    "search_design",
    "search_findings",
    "search_frame",
    "search_frames",
]


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
        peak rate, :func:`~superposition_lib.core.schedule.learning_rate`; NaN without jumps);
        ``design`` (:func:`search_design` of :data:`SEARCH`) and ``findings``
        (:func:`search_findings`).

    Examples
    --------
    >>> f = search_frames("smoke")
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
