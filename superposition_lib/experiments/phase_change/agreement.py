"""How far the trained n = 2 grid agrees with the theory: the numbers the chapter states.

How far the cells' majority classes agree with the theory (overall, away from its boundaries,
and by the lowest-loss seed), and which seeds get stuck with one feature where the theory says
superposition, by the signs their weights started with.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...analysis import stats, theory

__all__ = [
    "findings",
    "stuck_summary",
]


def stuck_summary(cells: pd.DataFrame, models: pd.DataFrame) -> dict:
    """Which seeds get stuck with one feature where the theory says superposition, by how
    they started.

    With m = 1 an antipodal pair needs w₀ w₁ < 0, so a model whose two weights start with the
    same sign must carry one of them through zero to reach it.

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`~superposition_lib.experiments.phase_change.cell_frame` rows.
    models : pandas.DataFrame
        :func:`~superposition_lib.experiments.phase_change.model_frame` rows (with the initial
        weights).

    Returns
    -------
    dict
        Each rate as (rate, low, high), the Wilson 95% interval over the kept models of the
        cells the theory calls superposition: ``stuck`` (they represent one feature only),
        ``stuck_same_sign`` and ``stuck_opposite_sign`` (the same among models whose weights
        started with the same or opposite signs), ``same_sign_of_stuck`` (the stuck models
        that started with the same signs) and ``survivor_stronger`` (the stuck models whose
        surviving feature started with the larger weight, 1/2 if the start's magnitudes do
        not matter); ``models`` (their number) and ``agreement`` (share of cells where the
        kept seeds' majority agrees with the theory, and its range over the cells whose vote
        is not settled, :func:`~superposition_lib.analysis.stats.vote_range`).

    Examples
    --------
    >>> from superposition_lib.core.train import train
    >>> from superposition_lib.experiments import get
    >>> from superposition_lib.experiments.phase_change import cell_frame, model_frame
    >>> models = model_frame(train(get("phase-change").spec("smoke").replace(steps=20),
    ...                            progress=False))
    >>> s = stuck_summary(cell_frame(models), models)
    >>> s["stuck"][1] <= s["stuck"][0] <= s["stuck"][2]
    True
    """
    kept = models[models["kept"]].merge(cells[["cell", "theory"]], on="cell")
    sup = kept[kept["theory"] == "superposition"]
    stuck = sup["class"].isin(["not_represented", "dedicated"]).to_numpy()
    same = (sup["w0_init"] * sup["w1_init"] > 0).to_numpy()
    lead = (np.abs(sup["w1_init"]) > np.abs(sup["w0_init"])).to_numpy()
    survivor = (sup["class"] == "dedicated").to_numpy()

    def rate(hit, of):
        return stats.wilson_interval(int(np.sum(hit & of)), int(np.sum(of)))

    return {"models": int(len(sup)), "stuck": rate(stuck, np.ones_like(stuck)),
            "stuck_same_sign": rate(stuck, same), "stuck_opposite_sign": rate(stuck, ~same),
            "same_sign_of_stuck": rate(same, stuck),
            "survivor_stronger": rate(survivor == lead, stuck),
            "agreement": _agreement(cells, kept, "class")}


def _agreement(cells: pd.DataFrame, kept: pd.DataFrame, label: str) -> tuple:
    """:func:`~superposition_lib.analysis.stats.vote_range` of the cells' majority ``label`` against
    their ``theory``; ``kept`` holds the voting seeds, as many in every cell."""
    seeds = kept.groupby("cell").size()
    if seeds.nunique() != 1:
        raise ValueError(f"every cell needs as many kept seeds; got {sorted(seeds.unique())}")
    theory_of = cells.set_index("cell")["theory"]
    votes = (kept[label] == kept["cell"].map(theory_of)).groupby(kept["cell"]).sum()
    by_cell = cells.set_index("cell")
    return stats.vote_range(by_cell[label] == by_cell["theory"], votes.reindex(by_cell.index),
                            int(seeds.iloc[0]))


def _near_candidate(models: pd.DataFrame, tol: float = 0.1) -> float:
    """Fraction of models whose (|w₀|, |w₁|) lie within ``tol`` of a candidate's."""
    if "w0" not in models.columns:
        return np.nan
    w = np.abs(models[["w0", "w1"]].to_numpy())
    candidates = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    dist = np.abs(w[:, None, :] - candidates[None]).max(axis=2).min(axis=1)
    return float((dist < tol).mean())


def findings(cells: pd.DataFrame, models: pd.DataFrame) -> dict:
    """The numbers the chapter states.

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`~superposition_lib.experiments.phase_change.cell_frame` rows.
    models : pandas.DataFrame
        :func:`~superposition_lib.experiments.phase_change.model_frame` rows.

    Returns
    -------
    dict
        ``cells``, ``agreement`` (fraction of cells where the classes agree),
        ``agreement_best`` (the same with the lowest-loss seed's class),
        ``best_disagree_near_boundary`` (fraction of those disagreements next to a boundary),
        ``agreement_interior`` (among cells not next to a theoretical boundary),
        ``disagree_near_boundary`` (fraction of disagreeing cells next to a boundary),
        ``confusion`` (theory class -> experiment class -> cells), ``unanimous`` (fraction of
        cells whose kept seeds all agree), ``other_models`` (models of class "other"),
        ``near_candidate`` (fraction of kept models with ``|w₀|`` and ``|w₁|`` both within 0.1
        of one candidate's, [1, 0], [0, 1] or [1, 1]),
        ``loss_ratio`` (median over cells of kept mean loss / theoretical loss) and
        ``n2_threshold`` (the highest density at which superposition wins for some r, from
        :func:`~superposition_lib.analysis.theory.phase_boundaries` on a fine grid); and, when both
        frames carry ``cell``: ``kept_matching`` (fraction of kept models in their cell's
        theoretical class), ``stuck`` (fraction of kept models in theoretically superposed cells
        that represent only one feature), ``mixed_cells`` (such cells with seeds of both kinds)
        and ``superposition_lower`` (fraction of mixed cells where the superposed seeds have the
        lower mean loss).

    Examples
    --------
    >>> cells = pd.DataFrame({"class": ["dedicated", "superposition"],
    ...                       "theory": ["dedicated", "not_represented"],
    ...                       "agree": [True, False], "near_boundary": [False, True],
    ...                       "share": [1.0, 0.6], "loss": [1.0, 1.0], "theory_loss": [1.0, 0.5]})
    >>> models = pd.DataFrame({"class": ["dedicated", "other"], "kept": True})
    >>> f = findings(cells, models)
    >>> f["agreement"], f["disagree_near_boundary"], f["other_models"]
    (0.5, 1.0, 1)
    """
    disagree = cells[~cells["agree"]]
    kept = models[models["kept"]]
    if "cell" in kept.columns and "theory" in cells.columns:
        kept = kept.merge(cells[["cell", "theory"]], on="cell")
        sup = kept[kept["theory"] == "superposition"]
        by_class = sup.groupby(["cell", "class"])["loss"].mean().unstack()
        single = by_class.reindex(columns=["not_represented", "dedicated"]).min(axis=1)
        mixed = by_class.reindex(columns=["superposition"]).join(single.rename("single"))
        mixed = mixed.dropna()
        local = {"kept_matching": float((kept["class"] == kept["theory"]).mean()),
                 "stuck": float(sup["class"].isin(["not_represented", "dedicated"]).mean()),
                 "mixed_cells": int(len(mixed)),
                 "superposition_lower": (float((mixed["superposition"] < mixed["single"]).mean())
                                         if len(mixed) else np.nan)}
    else:
        local = {"kept_matching": np.nan, "stuck": np.nan, "mixed_cells": 0,
                 "superposition_lower": np.nan}
    interior = cells[~cells["near_boundary"]]
    confusion = pd.crosstab(cells["theory"], cells["class"])
    fine = np.geomspace(0.01, 1.0, 2001)
    wins = theory.phase_boundaries(fine)["not_represented|superposition"].notna().to_numpy()
    return {
        "cells": int(len(cells)),
        "agreement": float(cells["agree"].mean()),
        "agreement_best": (float((cells["best_class"] == cells["theory"]).mean())
                           if "best_class" in cells.columns else np.nan),
        "best_disagree_near_boundary": (
            float(cells[cells["best_class"] != cells["theory"]]["near_boundary"].mean())
            if "best_class" in cells.columns and (cells["best_class"] != cells["theory"]).any()
            else np.nan),
        "agreement_interior": float(interior["agree"].mean()) if len(interior) else np.nan,
        "disagree_near_boundary": (float(disagree["near_boundary"].mean()) if len(disagree)
                                   else np.nan),
        "confusion": {t: {c: int(v) for c, v in row.items() if v}
                      for t, row in confusion.iterrows()},
        "unanimous": float((cells["share"] == 1).mean()),
        "other_models": int((models[models["kept"]]["class"] == "other").sum()),
        "near_candidate": _near_candidate(models[models["kept"]]),
        "loss_ratio": float(np.median(cells["loss"] / cells["theory_loss"])),
        "n2_threshold": float(fine[wins].max()) if wins.any() else np.nan,
        **local,
    }
