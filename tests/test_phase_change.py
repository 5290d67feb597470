"""The phase-change experiment: the classification rule, seed dropping, and agreement with
theory."""


import numpy as np
import pandas as pd
import pytest

from superposition_lib.core.run import Run
from superposition_lib.core.store import RunStore
from superposition_lib.experiments import load
from superposition_lib.experiments import phase_change as pc


def test_classify_follows_the_documented_rule():
    W = [[[1.0, 0.5]], [[1.0, -0.51]], [[0.5, 0.9]], [[-0.9, 0.8]], [[0.9, 0.8]], [[0.0, 0.0]]]
    assert pc.classify(W).tolist() == ["not_represented", "superposition", "dedicated",
                                       "superposition", "other", "not_represented"]


def _fake_run(W, loss, cells=1, seeds=3):
    from superposition_lib.core.config import ExperimentSpec

    spec = ExperimentSpec(n_features=2, n_hidden=1, feature_probability=[[0.1, 0.1]] * cells,
                          importance=[[1.0, 2.0]] * cells, restarts=seeds, steps=1)
    models = cells * seeds
    return Run(spec=spec, W=np.asarray(W, np.float32).reshape(models, 1, 2),
               b=np.zeros((models, 2), np.float32), loss=np.asarray(loss, float),
               loss_se=np.zeros(models), eval_samples=1, history_steps=np.zeros(0, int),
               history_loss=np.zeros((0, models)), snapshots=None, models=np.arange(models))


def test_the_worst_seed_is_dropped_and_the_majority_wins():
    run = _fake_run([[1, -1], [0, 1], [1, -1]], [0.2, 0.9, 0.3])
    models = pc.model_frame(run)
    assert models["kept"].tolist() == [True, False, True]
    cells = pc.cell_frame(models)
    assert cells["class"].tolist() == ["superposition"] and cells["share"].tolist() == [1.0]
    # a tie among kept seeds goes to the class with the lower mean loss
    tie = pc.cell_frame(pc.model_frame(_fake_run([[1, 0], [0, 1], [1, -1]], [0.5, 0.4, 0.9])))
    assert tie["class"].tolist() == ["dedicated"] and tie["share"].tolist() == [0.5]


@pytest.fixture(scope="module")
def smoke(smoke_store):
    return pc.phase_frames("smoke", store=smoke_store)


def test_smoke_grid_mostly_agrees_with_theory_away_from_boundaries(smoke):
    models, cells = smoke
    f = pc.findings(cells, models)
    assert f["cells"] == 900 and set(cells["theory"]) == {"not_represented", "dedicated",
                                                         "superposition"}
    # the chapter's claim at smoke size: the trained classes follow the theory
    assert f["agreement_interior"] >= 0.85, f
    assert f["agreement"] >= 0.8, f
    # dense features: the more important feature gets the dimension, as the theory says
    dense = cells[cells["density"] == 1.0]
    assert (dense["class"] == dense["theory"]).mean() >= 0.8


def test_theory_frames_for_the_charts():
    grid = pc.theory_frame(np.geomspace(0.1, 10, 5), np.geomspace(1, 0.01, 5), n_features=3)
    assert {"r_lo", "r_hi", "p_lo", "p_hi", "loss", "solution"} <= set(grid.columns)
    assert (grid["r_lo"] < grid["relative_importance"]).all()
    assert (grid["relative_importance"] < grid["r_hi"]).all()
    lines = pc.theory_boundaries(np.geomspace(0.01, 1, 50))
    assert set(lines["boundary"]) == {"not_represented|dedicated",
                                      "not_represented|superposition",
                                      "dedicated|superposition"}
    f = pc.findings(pd.DataFrame({"class": ["dedicated"], "theory": ["dedicated"],
                                  "agree": [True], "near_boundary": [False], "share": [1.0],
                                  "loss": [1.0], "theory_loss": [1.0]}),
                    pd.DataFrame({"class": ["dedicated"], "kept": [True]}))
    assert 0.6 < f["n2_threshold"] < 0.65


# ------------------------------------------------------------------------------------------
# The committed paper runs: the claims of the chapter's "Stuck seeds" and n = 3 paragraphs
# ------------------------------------------------------------------------------------------
DATA = RunStore(pc.__file__.rsplit("superposition_lib", 1)[0] + "data")


@pytest.fixture(scope="module")
def paper_grids():
    return {name: pc.phase_frames("paper", store=DATA, experiment=name) for name in pc.GRIDS}


@pytest.fixture(scope="module")
def paper_stuck(paper_grids):
    return {name: pc.stuck_summary(cells, models)
            for name, (models, cells) in paper_grids.items()}


def test_paper_single_feature_seeds_are_local_minima(paper_grids):
    f = pc.findings(*paper_grids["phase-change"][::-1])
    assert f["mixed_cells"] > 100 and f["superposition_lower"] > 0.95, f


@pytest.mark.parametrize("name", pc.GRIDS)
def test_paper_stuck_seeds_are_the_same_sign_starts_not_the_unequal_ones(paper_stuck, name):
    s = paper_stuck[name]
    # same-sign starts get stuck far more often than opposite-sign ones (intervals apart)
    assert s["stuck_same_sign"][1] > 0.35 and s["stuck_opposite_sign"][2] < 0.07, s
    assert s["same_sign_of_stuck"][1] > 0.85, s
    # which feature survives is about a coin flip on the initial magnitudes
    assert 0.45 < s["survivor_stronger"][0] < 0.6, s
    share, low, high = s["agreement"]
    assert low <= share <= high


def test_paper_small_initial_weights_do_not_remove_stuck_seeds(paper_stuck):
    small, xavier = paper_stuck["phase-change-small-init"], paper_stuck["phase-change"]
    assert small["stuck"][1] > 0.15 and small["stuck"][1] >= xavier["stuck"][1], (small, xavier)
    assert small["agreement"][0] <= xavier["agreement"][0]


@pytest.fixture(scope="module")
def paper_n3():
    return pc.n3_frames("paper", store=DATA)


def test_classify_n3_ignores_rotations_and_the_order_of_features_0_and_1():
    from superposition_lib.analysis import theory

    angle = 0.7
    R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    for name, c in theory.CANDIDATES[3].items():
        W = np.asarray(c.W, dtype=float)
        assert pc.classify_n3([R @ W, (R @ W)[:, [1, 0, 2]], -W])[0] == name
        assert set(pc.classify_n3([R @ W, (R @ W)[:, [1, 0, 2]], -W])) == {name}
    assert pc.classify_n3(0.6 * np.asarray(theory.CANDIDATES[3]["triangle"].W)) == "other"


def test_paper_n3_trained_diagram_follows_the_theory_with_its_three_departures(paper_n3):
    models, cells = paper_n3
    f = pc.n3_trained_findings(cells, models)
    t = f["by_theory"]
    assert f["agreement_best"][0] >= 0.8 and f["agreement"][1] <= f["agreement"][0]
    # the antipodal arrangement is a local minimum where the theory pairs features 0 and 1
    assert t.loc["dedicated_pair", "majority"] < 0.6 < t.loc["dedicated_pair", "best"]
    # dense, r > 1: no majority drops an importance-1 feature; 0 and 1 share one direction
    assert t.loc["dedicated", "majority"] == 0 and t.loc["dedicated", "best_ratio"] <= 1.0
    run_W = load("phase-change-n3", "paper", store=DATA).W
    kept = models[models["kept"]].merge(cells[["cell", "theory"]], on="cell")
    W = run_W[models.index[models["kept"]][kept["theory"].to_numpy() == "dedicated"]]
    norms = np.linalg.norm(W, axis=1)
    cos01 = np.abs((W[:, :, 0] * W[:, :, 1]).sum(1)) / (norms[:, 0] * norms[:, 1])
    assert np.median(cos01) > 0.99 and np.median(norms[:, 2]) > 0.95
    assert abs(np.median(norms[:, 0] ** 2 + norms[:, 1] ** 2) - 1) < 0.1
    # the triangle: no majority, and the lowest-loss seeds beat the regular one
    assert f["triangle_cells"] >= 1 and f["triangle_trained"] == 0
    assert t.loc["triangle", "best_ratio"] < 0.99
    assert t.loc["antipodal", "below"] > 0
