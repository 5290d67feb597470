"""The chapter's experiments, with their specs for both profiles, registered on import.

The experiments of the chapter "Superposition as a phase change" (``chapters/phase-change.qmd``),
registered in this order when the module is imported:

``phase-change``
    n = 2 features in m = 1 dimension (ReLU output). Feature 0 has importance 1; the extra
    feature 1 has relative importance r, one of :data:`RELATIVE_IMPORTANCES` (30 values from
    0.1 to 10, log-spaced); both have density p, one of :data:`DENSITIES` (30 values from 1 to
    0.01, log-spaced). Every one of the 900 (r, p) cells trains :data:`SEEDS` models in one
    batched call; as in the paper, the highest-loss seed of each cell is dropped and the rest
    vote.
``phase-change-n3``
    n = 3 features in m = 2 dimensions: features 0 and 1 have importance 1, the extra feature 2
    has relative importance r, one of :data:`N3_IMPORTANCES` (20 values from 0.1 to 10,
    log-spaced); all three have density p, one of :data:`N3_DENSITIES` (20 values from 1 to
    0.01, log-spaced); :data:`SEEDS` models per cell, the highest-loss one dropped.
``phase-change-small-init``
    ``phase-change`` from initial weights :data:`SMALL_INIT_SCALE` times the usual scale: do
    the seeds stuck with one feature remain?

The ``paper`` profile trains 10,000 steps with batch 1024 at learning rate 1e-3 (the notebook's
defaults); ``smoke`` trains the same grid with 3 seeds for a few hundred steps at learning rate
0.01.

Examples
--------
>>> from superposition_lib import experiments
>>> spec = experiments.get("phase-change").spec("paper")
>>> len(spec.importance) == len(RELATIVE_IMPORTANCES) * len(DENSITIES)
True
"""

from __future__ import annotations

import numpy as np

from ...core.config import ExperimentSpec
from ..registry import Experiment, register

__all__ = [
    "CHAPTER",
    "DENSITIES",
    "GRIDS",
    "N3_DENSITIES",
    "N3_IMPORTANCES",
    "RELATIVE_IMPORTANCES",
    "SEEDS",
    "SMALL_INIT_SCALE",
]

#: The chapter's file stem.
CHAPTER = "phase-change"

#: Relative importance r of the extra feature (paper profile): 30 values, 0.1 to 10, log-spaced.
RELATIVE_IMPORTANCES = tuple(float(v) for v in np.geomspace(0.1, 10.0, 30))

#: Density 1 − S of both features (paper profile): 30 values, 1 to 0.01, log-spaced.
DENSITIES = tuple(float(v) for v in np.geomspace(1.0, 0.01, 30))

#: Models trained per cell (paper profile); the highest-loss one is dropped.
SEEDS = 10


def _grid_spec(importances, densities, seeds: int, n: int = 2, **training) -> ExperimentSpec:
    # n features in n - 1 dimensions: the last one is the extra feature
    r, p = np.meshgrid(np.asarray(importances), np.asarray(densities), indexing="ij")
    return ExperimentSpec(
        model="relu_output", n_features=n, n_hidden=n - 1,
        feature_probability=tuple((float(q),) * n for q in p.ravel()),
        importance=tuple((1.0,) * (n - 1) + (float(x),) for x in r.ravel()),
        restarts=seeds, seed=0, **training)


def _profiles(init_scale: float = 1.0, n: int = 2) -> dict:
    # 9,000 models: the final loss of each is estimated on at most 2^16 samples (enough to rank
    # the seeds of a cell), and the training loss is kept every 1,000 steps.
    grid = (RELATIVE_IMPORTANCES, DENSITIES) if n == 2 else (N3_IMPORTANCES, N3_DENSITIES)
    paper = _grid_spec(*grid, SEEDS, n, steps=10_000, batch_size=1024,
                       history_every=1000, eval_samples=1 << 16, init_scale=init_scale)
    smoke = _grid_spec(*grid, 3, n, steps=400, batch_size=256, lr=1e-2,
                       history_every=100, eval_samples=1 << 12, init_scale=init_scale)
    return {"paper": paper, "smoke": smoke}


#: Factor on the Xavier standard deviation (sqrt(2/3) ≈ 0.82 for n = 2, m = 1) in
#: ``phase-change-small-init``: the weights start near 0.08, where the importance and density
#: rather than the draw decide which feature grows first.
SMALL_INIT_SCALE = 0.1

register(Experiment(
    "phase-change", CHAPTER,
    "2 features in 1 dim: extra feature's importance 0.1-10 x density 1-0.01, 30 x 30, 10 seeds",
    _profiles(), best_of=False))
#: Relative importance r of the extra feature in ``phase-change-n3``: 20 values, 0.1 to 10.
N3_IMPORTANCES = tuple(float(v) for v in np.geomspace(0.1, 10.0, 20))

#: Density of the three features in ``phase-change-n3``: 20 values, 1 to 0.01.
N3_DENSITIES = tuple(float(v) for v in np.geomspace(1.0, 0.01, 20))

register(Experiment(
    "phase-change-n3", CHAPTER,
    "3 features in 2 dims: extra feature's importance 0.1-10 x density 1-0.01, 20 x 20, 10 seeds",
    _profiles(n=3), best_of=False))

#: The runs of the n = 2 grid: the paper's initialisation and the small one.
GRIDS = ("phase-change", "phase-change-small-init")

register(Experiment(
    "phase-change-small-init", CHAPTER,
    "phase-change with initial weights 10x smaller (std 0.08): do the stuck seeds remain?",
    _profiles(SMALL_INIT_SCALE), best_of=False))
