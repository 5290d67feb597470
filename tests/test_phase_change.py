"""The phase-change experiment: the classification rule, seed dropping, and agreement with theory."""

import tempfile

import numpy as np
import pandas as pd
import pytest

from superposition_lib.experiments import phase_change as pc
from superposition_lib.run import Run
from superposition_lib.store import RunStore


def test_classify_follows_the_documented_rule():
    W = [[[1.0, 0.5]], [[1.0, -0.51]], [[0.5, 0.9]], [[-0.9, 0.8]], [[0.9, 0.8]], [[0.0, 0.0]]]
    assert pc.classify(W).tolist() == ["not_represented", "superposition", "dedicated",
                                       "superposition", "other", "not_represented"]


def _fake_run(W, loss, cells=1, seeds=3):
    from superposition_lib.config import ExperimentSpec

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
def smoke():
    store = RunStore(tempfile.mkdtemp())
    return pc.phase_frames("smoke", store=store)


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
