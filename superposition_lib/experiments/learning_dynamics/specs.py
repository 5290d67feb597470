"""The experiments of the chapter "Learning dynamics" (``chapters/learning-dynamics.qmd``):
their specs for both profiles, registered (in this order) when the module is imported.

``energy-levels``
    Uniform superposition: n = 20 features in m = 5 dimensions (ReLU output, importance 1), at
    the feature probabilities of :data:`ENERGY_DENSITIES`, :data:`ENERGY_SEEDS` seeds each, all
    in one batched call; 100,000 steps of batch 256 at learning rate 1e-3 with about 200
    log-spaced snapshots. Every model's feature dimensionalities D_i(t) are searched for
    energy-level jumps with :func:`~superposition_lib.analysis.dynamics.energy_level_jumps`.
``energy-levels-small-init``
    The same models from the paper notebook's small initialisation (``init="notebook"``) for
    20,000 steps: whether superposition (‖W‖_F²/m > 1) is used early in training.
``geometric-stages``
    n = 6 features in m = 3 dimensions, two correlated sets of 3 (features 0-2 and 3-5, each set
    present together), small initialisation (``init="notebook"``), at the feature probabilities
    of :data:`STAGE_DENSITIES`, :data:`STAGE_SEEDS` seeds each; every snapshot is classified
    into the paper's stages with :func:`~superposition_lib.analysis.dynamics.classify_stages`.
``energy-levels-sizes-n20``, ``-n100``, ``-n400``
    The three sizes of :data:`SIZES` trained alike (batch 1024, learning rate 1e-3, 100,000
    steps, about 200 log-spaced snapshots of D_i) at the shared feature probabilities of
    :data:`SIZE_DENSITIES` with :data:`SIZE_SEEDS` seeds each, so that sizes are compared at
    the same densities.
``energy-swap-…``
    The search for the paper's digon → 1/√2 → digon swap at n = 400, m = 30 and feature
    probability :data:`SWAP_DENSITY`: one experiment per training choice of :data:`SWAP`
    (a larger learning rate, a cosine decay of the learning rate, a smaller batch trained
    three times as many steps), :data:`SWAP_SEEDS` seeds each.
``energy-search-…``
    The documented search for the paper's energy-level picture (features settle into digons,
    then jump): one experiment per setting of :data:`SEARCH` (n, m, learning rate and its
    schedule; a spec has one learning rate), each at the densities of
    :data:`SEARCH_DENSITIES` with :data:`SEARCH_SEEDS` seeds, 100,000 steps of batch 256 and
    about 200 log-spaced snapshots;
    :func:`~superposition_lib.experiments.learning_dynamics.search.search_frames` summarises
    every setting next to ``energy-levels``.

The ``smoke`` profiles keep n, m and the densities and train a few seeds for a few thousand
steps at a larger learning rate.

Examples
--------
>>> from superposition_lib import experiments
>>> experiments.get("energy-levels").spec("paper").feature_probability == ENERGY_DENSITIES
True
"""

from __future__ import annotations

from ...core.config import ExperimentSpec
from ..registry import Experiment, register

__all__ = [
    "CHAPTER",
    "ENERGY_DENSITIES",
    "ENERGY_SEEDS",
    "SCALE",
    "SCALE_DENSITIES",
    "SCALE_SEEDS",
    "SEARCH",
    "SEARCH_DENSITIES",
    "SEARCH_SEEDS",
    "SIZES",
    "SIZE_DENSITIES",
    "SIZE_SEEDS",
    "STAGE_DENSITIES",
    "STAGE_INIT_DENSITIES",
    "STAGE_INIT_SCALES",
    "STAGE_INIT_SEEDS",
    "STAGE_SEEDS",
    "SWAP",
    "SWAP_DENSITY",
    "SWAP_SEEDS",
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


def _energy_profiles() -> dict:
    common = {"model": "relu_output", "n_features": 20, "n_hidden": 5,
                  "feature_probability": ENERGY_DENSITIES, "importance": 1.0, "seed": 0}
    paper = ExperimentSpec(**common, restarts=ENERGY_SEEDS, steps=100_000, batch_size=256,
                           lr=1e-3, snapshot_log=200, history_every=1000, eval_samples=1 << 16)
    smoke = ExperimentSpec(**common, restarts=2, steps=2000, batch_size=128, lr=1e-2,
                           snapshot_log=60, history_every=100, eval_samples=1 << 12)
    return {"paper": paper, "smoke": smoke}


def _stage_profiles() -> dict:
    common = {"model": "relu_output", "n_features": 6, "n_hidden": 3, "data": "correlated",
              "set_size": 3, "feature_probability": STAGE_DENSITIES, "importance": 1.0,
              "init": "notebook", "seed": 0}
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


#: The energy-level experiments compared across sizes: (experiment name, n, m), the sizes of
#: ``energy-levels``, ``energy-levels-n100`` and ``energy-levels-n400``, here all trained with
#: the same batch, learning rate, steps and densities.
SIZES = (("energy-levels-sizes-n20", 20, 5), ("energy-levels-sizes-n100", 100, 10),
         ("energy-levels-sizes-n400", 400, 30))
#: Feature probabilities shared by the sizes: 0.3 and 0.4, where every represented feature of
#: ``energy-levels-n400`` ends in a digon.
SIZE_DENSITIES = (0.3, 0.4)
#: Seeds per density and size (paper profile).
SIZE_SEEDS = 10

for _name, _n, _m in SIZES:
    _profiles = _scale_profiles(_n, _m)
    register(Experiment(
        _name, CHAPTER,
        f"energy levels across sizes: {_n} features in {_m} dims, densities 0.3 and 0.4, "
        f"{SIZE_SEEDS} seeds, 100k steps of batch 1024, 200 log-spaced snapshots of D_i",
        {"paper": _profiles["paper"].replace(feature_probability=SIZE_DENSITIES,
                                             restarts=SIZE_SEEDS),
         "smoke": _profiles["smoke"].replace(feature_probability=SIZE_DENSITIES)},
        best_of=False))

#: Feature probability of the swap search: where the late 30th digon of ``energy-levels-n400``
#: forms in all five seeds.
SWAP_DENSITY = 0.3
#: Seeds per swap-search experiment (paper profile).
SWAP_SEEDS = 5
#: The training choices searched for the paper's digon → 1/√2 → digon swap at n = 400, m = 30:
#: (experiment name, batch size, learning rate, lr schedule, steps). The reference is
#: ``energy-levels-sizes-n400`` at the same density (batch 1024, lr 1e-3, constant, 100k).
SWAP = (
    ("energy-swap-lr3e-3", 1024, 3e-3, "constant", 100_000),
    ("energy-swap-cosine", 1024, 1e-3, "cosine", 100_000),
    ("energy-swap-batch256-long", 256, 1e-3, "constant", 300_000),
)

for _name, _batch, _lr, _schedule, _steps in SWAP:
    _profiles = _scale_profiles(400, 30)
    register(Experiment(
        _name, CHAPTER,
        f"swap search: 400 features in 30 dims at density {SWAP_DENSITY}, batch {_batch}, "
        f"lr {_lr:g} {_schedule}, {_steps // 1000}k steps, {SWAP_SEEDS} seeds",
        {"paper": _profiles["paper"].replace(
            feature_probability=SWAP_DENSITY, restarts=SWAP_SEEDS, batch_size=_batch, lr=_lr,
            lr_schedule=_schedule, steps=_steps),
         "smoke": _profiles["smoke"].replace(feature_probability=SWAP_DENSITY,
                                             lr_schedule=_schedule)},
        best_of=False))
