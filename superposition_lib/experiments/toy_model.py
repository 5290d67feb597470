"""Experiments of the chapter "The toy model" (``chapters/toy-model.qmd``).

Two sweeps of Elhage et al. (2022), each for the linear model x' = WᵀWx + b and the ReLU-output
model x' = ReLU(WᵀWx + b):

``intro-relu``, ``intro-linear``
    n = 5 features in m = 2 dimensions, importance 0.9^i, the notebook's ten densities
    1 − S = 20^−t for t in linspace(0, 1, 10).
``basic-relu``, ``basic-linear``
    n = 20 features in m = 5 dimensions, importance 0.7^i, densities
    1 − S ∈ {1, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001}.

The ``paper`` profile trains 10,000 steps with batch 1024 (the notebook's settings) and keeps the
best of 16 (intro) or 4 (n = 20) restarts of every ReLU instance; ``smoke`` trains 600 steps
with batch 256 at learning rate 0.01 (seconds on one core).

Seeds and controls: ``intro-relu-seeds`` (8 seeds per density, 16 restarts each, to compare the
best of 4 with the best of 16), ``basic-relu-seeds`` (8 seeds per density, each the best of 4),
``basic-relu-long`` (the three sparsest densities, 50,000 steps) and ``basic-relu-n80`` /
``basic-linear-n80`` (the paper's n = 80, m = 20 variant, importance 0.9^i).

Tidy-frame functions turn runs into the DataFrames the figures draw:
:func:`feature_frame` (one row per model, instance and feature) and :func:`gram_frame`
(WᵀW in long form).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis import stats
from ..core import metrics
from ..core.config import ExperimentSpec
from ..core.metrics import REPRESENTED_NORM
from ..core.run import Run
from ..core.store import RunStore
from .registry import Experiment, load, register

__all__ = [
    "BASIC_DENSITIES",
    "CHAPTER",
    "INTRO_DENSITIES",
    "LONG_DENSITIES",
    "MODEL_LABELS",
    "ORTHOGONAL_TOL",
    "PAPER_BASIC_COUNTS",
    "SEEDS",
    "basic_frames",
    "count_frames",
    "count_summary",
    "feature_frame",
    "first_feature_orthogonal",
    "findings",
    "gram_frame",
    "intro_frames",
    "seed_frame",
]

#: The chapter's file stem.
CHAPTER = "toy-model"

#: The notebook's ten densities 1 − S = 20^−t, t in linspace(0, 1, 10).
INTRO_DENSITIES = tuple(float(p) for p in 20.0 ** -np.linspace(0, 1, 10))

#: The basic results' densities 1 − S.
BASIC_DENSITIES = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)

#: Display names of the models.
MODEL_LABELS = {"linear": "linear", "relu_output": "ReLU"}


def _importance(base: float, n: int) -> tuple[float, ...]:
    return tuple(float(base ** i) for i in range(n))


def _profiles(model: str, n: int, m: int, base: float, densities, restarts: int) -> dict:
    paper = ExperimentSpec(model=model, n_features=n, n_hidden=m, feature_probability=densities,
                           importance=_importance(base, n), steps=10_000, batch_size=1024,
                           restarts=restarts, seed=0)
    # smoke: seconds on one CPU core; a 10x learning rate lets 600 steps converge far enough that
    # the chapter's qualitative claims (e.g. linear = top m features) hold.
    smoke = paper.replace(steps=600, batch_size=256, lr=1e-2, restarts=1, history_every=None)
    return {"paper": paper, "smoke": smoke}


# 16 restarts for the intro's ReLU models: at 1 - S = 0.514 the best of 4 keeps the wrong
# fourth feature in half of the seeds (intro-relu-seeds), the best of 16 in none
for _model, _suffix, _restarts in (("relu_output", "relu", 16), ("linear", "linear", 1)):
    _label = MODEL_LABELS[_model]
    register(Experiment(
        f"intro-{_suffix}", CHAPTER,
        f"5 features in 2 dims, {_label} model, importance 0.9^i, 10 densities 20^-t",
        _profiles(_model, 5, 2, 0.9, INTRO_DENSITIES, _restarts)))
for _model, _suffix, _restarts in (("relu_output", "relu", 4), ("linear", "linear", 1)):
    _label = MODEL_LABELS[_model]
    register(Experiment(
        f"basic-{_suffix}", CHAPTER,
        f"20 features in 5 dims, {_label} model, importance 0.7^i, 1-S from 1 to 0.001",
        _profiles(_model, 20, 5, 0.7, BASIC_DENSITIES, _restarts)))


#: Independent seeds per density in the seed runs (``*-seeds``, ``basic-*-n80``).
SEEDS = 8


def _seed_profiles(model: str, n: int, m: int, base: float, densities, seeds: int,
                   restarts: int) -> dict:
    # every density ``seeds`` times: one instance per seed, each the best of ``restarts``
    def repeated(k: int) -> tuple[float, ...]:
        return tuple(float(p) for p in densities for _ in range(k))

    paper = _profiles(model, n, m, base, repeated(seeds), restarts)["paper"]
    # smoke: two seeds of two restarts (one of one for n = 80, whose models are 16x larger)
    small = n <= 20
    smoke = paper.replace(feature_probability=repeated(2 if small else 1),
                          steps=600 if small else 300, batch_size=256, lr=1e-2,
                          restarts=min(restarts, 2 if small else 1), history_every=None)
    return {"paper": paper, "smoke": smoke}


register(Experiment(
    "intro-relu-seeds", CHAPTER,
    "intro-relu with 8 seeds per density, 16 restarts each (best of 4 and of 16 compared)",
    _seed_profiles("relu_output", 5, 2, 0.9, INTRO_DENSITIES, SEEDS, 16), best_of=False))
register(Experiment(
    "basic-relu-seeds", CHAPTER,
    "basic-relu with 8 seeds per density, each the best of 4 restarts",
    _seed_profiles("relu_output", 20, 5, 0.7, BASIC_DENSITIES, SEEDS, 4)))
#: The sparse densities of ``basic-relu-long``, the training-length control.
LONG_DENSITIES = (0.01, 0.003, 0.001)

_long = _seed_profiles("relu_output", 20, 5, 0.7, LONG_DENSITIES, 4, 4)
register(Experiment(
    "basic-relu-long", CHAPTER,
    "basic-relu at the three sparsest densities trained 50,000 steps, 4 seeds x best of 4",
    {"paper": _long["paper"].replace(steps=50_000), "smoke": _long["smoke"]}))
for _model, _suffix, _seeds, _restarts in (("relu_output", "relu", 4, 4),
                                            ("linear", "linear", 1, 1)):
    register(Experiment(
        f"basic-{_suffix}-n80", CHAPTER,
        f"80 features in 20 dims, {MODEL_LABELS[_model]} model, importance 0.9^i, 1-S from 1 "
        f"to 0.001, {_seeds} seed(s) per density",
        _seed_profiles(_model, 80, 20, 0.9, BASIC_DENSITIES, _seeds, _restarts)))


#: The n = 20, m = 5 ReLU model's represented features as we read them off the paper's
#: "basic results" figure (it prints no numbers): 1 − S -> count.
PAPER_BASIC_COUNTS = {1.0: "5", 0.3: "7", 0.1: "9", 0.001: "nearly all 20"}


def seed_frame(run: Run, restarts: int | None = None,
               threshold: float = REPRESENTED_NORM) -> pd.DataFrame:
    """One row per seed (instance): the lowest-loss of its restarts and what it represents.

    Parameters
    ----------
    run : Run
        A run with every restart (``intro-relu-seeds``) or one model per instance.
    restarts : int, optional
        Choose among the first ``restarts`` restarts only (default: all of them).
    threshold : float
        Norm above which a feature counts as represented.

    Returns
    -------
    pandas.DataFrame
        Columns ``density``, ``seed`` (the instance), ``loss``, ``represented`` (features with
        ‖W_i‖ > ``threshold``), ``features`` (their indices, e.g. ``"0 1 2 3"``) and
        ``first_superposition`` (:func:`~superposition_lib.core.metrics.superposition` of feature 0,
        the most important: 0 when it has a direction of its own, or none) and ``first_norm``
        (its ‖W_0‖).

    Examples
    --------
    >>> run = load("intro-relu-seeds", "smoke")
    >>> df = seed_frame(run, restarts=2)
    >>> len(df) == run.spec.n_instances, bool(df["represented"].between(0, 5).all())
    (True, True)
    """
    if restarts is not None:
        run = run.select(np.flatnonzero(run.restart < restarts))
    best = run.best()
    norms = metrics.feature_norms(best.W)
    return pd.DataFrame({"density": best.feature_probability[:, 0], "seed": best.instance,
                         "loss": best.loss, "represented": (norms > threshold).sum(1),
                         "features": [" ".join(map(str, np.flatnonzero(v > threshold)))
                                      for v in norms],
                         "first_superposition": metrics.superposition(best.W)[:, 0],
                         "first_norm": norms[:, 0]})


#: Superposition Σ_{j≠0} (Ŵ_0 · W_j)² below which feature 0 counts as orthogonal to the rest.
ORTHOGONAL_TOL = 0.05


def first_feature_orthogonal(seeds: pd.DataFrame) -> pd.DataFrame:
    """In how many seeds the most important feature has a direction of its own, per density.

    Parameters
    ----------
    seeds : pandas.DataFrame
        :func:`seed_frame` rows.

    Returns
    -------
    pandas.DataFrame
        One row per density, densest first: ``density``, ``seeds``, ``orthogonal`` (seeds whose
        feature 0 is represented, ‖W_0‖ > 0.5, with superposition below
        :data:`ORTHOGONAL_TOL`), and ``share``, ``low``,
        ``high`` (its Wilson interval).

    Examples
    --------
    >>> seeds = pd.DataFrame({"density": [0.1, 0.1, 0.1, 0.03],
    ...                       "first_superposition": [0.0, 0.0, 0.9, 1.0],
    ...                       "first_norm": [1.0, 1.0, 1.0, 1.0]})
    >>> first_feature_orthogonal(seeds)[["density", "seeds", "orthogonal"]].values.tolist()
    [[0.1, 3.0, 2.0], [0.03, 1.0, 0.0]]
    """
    rows = []
    for density, group in seeds.groupby("density", sort=False):
        # a dropped feature 0 has superposition 0 too: count only a represented one
        own = ((group["first_superposition"] < ORTHOGONAL_TOL)
               & (group["first_norm"] > REPRESENTED_NORM))
        k = int(own.sum())
        share, low, high = stats.wilson_interval(k, len(group))
        rows.append({"density": density, "seeds": len(group), "orthogonal": k,
                     "share": share, "low": low, "high": high})
    return pd.DataFrame(rows).sort_values("density", ascending=False, ignore_index=True)


def count_summary(seeds: pd.DataFrame) -> pd.DataFrame:
    """Represented features per density over seeds, with a bootstrap interval.

    Parameters
    ----------
    seeds : pandas.DataFrame
        :func:`seed_frame` rows.

    Returns
    -------
    pandas.DataFrame
        One row per density, densest first: ``density``, ``seeds``, ``mean``, ``low``,
        ``high`` (95% bootstrap interval of the mean,
        :func:`~superposition_lib.analysis.stats.bootstrap_interval`), ``min`` and ``max``.

    Examples
    --------
    >>> seeds = pd.DataFrame({"density": [1.0, 1.0, 0.1, 0.1], "represented": [5, 5, 9, 10]})
    >>> count_summary(seeds)[["density", "mean", "min", "max"]].values.tolist()
    [[1.0, 5.0, 5.0, 5.0], [0.1, 9.5, 9.0, 10.0]]
    """
    rows = []
    for density, group in seeds.groupby("density", sort=False):
        values = group["represented"].to_numpy(dtype=float)
        mean, low, high = stats.bootstrap_interval(values)
        rows.append({"density": density, "seeds": len(values), "mean": mean, "low": low,
                     "high": high, "min": values.min(), "max": values.max()})
    return pd.DataFrame(rows).sort_values("density", ascending=False, ignore_index=True)


def count_frames(profile: str | None = None, *, store: RunStore | None = None) -> dict:
    """Represented features of the n = 20, m = 5 and n = 80, m = 20 ReLU models over seeds,
    and the intro's best of 4 against the best of 16 restarts.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to the current profile.
    store : RunStore, optional
        Where runs are cached.

    Returns
    -------
    dict
        ``basic`` (:func:`count_summary` of ``basic-relu-seeds``), ``basic_01`` (the same
        counting ‖W_i‖ > 0.1), ``long`` (of
        ``basic-relu-long``), ``n80`` and ``n80_linear`` (of ``basic-relu-n80`` and
        ``basic-linear-n80``); ``intro_best4`` and ``intro_best16`` (:func:`seed_frame` of
        ``intro-relu-seeds`` with the first 4 and all 16 restarts); ``first_orthogonal``
        (:func:`first_feature_orthogonal` of ``basic-relu-seeds``).

    Examples
    --------
    >>> c = count_frames("smoke")
    >>> c["basic"]["density"].tolist() == list(BASIC_DENSITIES)
    True
    """
    def summary(name: str, threshold: float = REPRESENTED_NORM) -> pd.DataFrame:
        return count_summary(seed_frame(load(name, profile, store=store), threshold=threshold))

    intro = load("intro-relu-seeds", profile, store=store)
    basic = seed_frame(load("basic-relu-seeds", profile, store=store))
    return {"basic": count_summary(basic), "basic_01": summary("basic-relu-seeds", 0.1),
            "first_orthogonal": first_feature_orthogonal(basic),
            "long": summary("basic-relu-long"),
            "n80": summary("basic-relu-n80"), "n80_linear": summary("basic-linear-n80"),
            "intro_best4": seed_frame(intro, restarts=4), "intro_best16": seed_frame(intro)}


def feature_frame(*runs: Run) -> pd.DataFrame:
    """One row per model kind, instance and feature: the geometry of every feature.

    Parameters
    ----------
    *runs : Run
        Trained runs with one model per instance (e.g. from :meth:`Run.best`), W of shape
        (instances, m, n).

    Returns
    -------
    pandas.DataFrame
        Columns ``model`` ("linear" or "ReLU"), ``instance``, ``density`` (1 − S),
        ``feature``, ``importance``, ``norm`` ‖W_i‖, ``superposition`` Σ_{j≠i}(Ŵ_i·W_j)²,
        ``dimensionality`` D_i, ``bias`` b_i, ``represented`` (‖W_i‖ > 0.5), and ``w0``,
        ``w1``, … (the coordinates of W_i, one column per hidden dimension).

    Examples
    --------
    >>> from superposition_lib.experiments import get
    >>> from superposition_lib.core.train import train
    >>> run = train(get("intro-relu").spec("smoke").replace(steps=20), progress=False)
    >>> df = feature_frame(run)
    >>> df.shape[0], list(df.columns[:5])
    (50, ['model', 'instance', 'density', 'feature', 'importance'])
    """
    frames = []
    for run in runs:
        k, m, n = run.W.shape
        feature = np.tile(np.arange(n), k)
        df = pd.DataFrame({
            "model": MODEL_LABELS.get(run.spec.model, run.spec.model),
            "instance": np.repeat(run.instance, n),
            "density": run.feature_probability.reshape(-1),
            "feature": feature,
            "importance": run.importance.reshape(-1),
            "norm": metrics.feature_norms(run.W).reshape(-1),
            "superposition": metrics.superposition(run.W).reshape(-1),
            "dimensionality": metrics.feature_dimensionality(run.W).reshape(-1),
            "bias": run.b.reshape(-1),
        })
        df["represented"] = df["norm"] > REPRESENTED_NORM
        for d in range(m):
            df[f"w{d}"] = run.W[:, d, :].reshape(-1)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def gram_frame(*runs: Run) -> pd.DataFrame:
    """WᵀW of every model in long form.

    Parameters
    ----------
    *runs : Run
        Trained runs, W of shape (instances, m, n).

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``instance``, ``density``, ``i``, ``j``, ``value`` = W_i · W_j;
        n² rows per model.

    Examples
    --------
    >>> from superposition_lib.experiments import get
    >>> from superposition_lib.core.train import train
    >>> run = train(get("intro-linear").spec("smoke").replace(steps=20), progress=False)
    >>> g = gram_frame(run)
    >>> len(g), list(g.columns)
    (250, ['model', 'instance', 'density', 'i', 'j', 'value'])
    """
    frames = []
    for run in runs:
        k, _, n = run.W.shape
        G = metrics.gram(run.W)
        frames.append(pd.DataFrame({
            "model": MODEL_LABELS.get(run.spec.model, run.spec.model),
            "instance": np.repeat(run.instance, n * n),
            "density": np.repeat(run.feature_probability[:, 0], n * n),
            "i": np.tile(np.repeat(np.arange(n), n), k),
            "j": np.tile(np.arange(n), n * k),
            "value": G.reshape(-1),
        }))
    return pd.concat(frames, ignore_index=True)


def intro_frames(profile: str | None = None, *, store: RunStore | None = None,
                 progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Feature and WᵀW frames of the intro sweep, linear model first.

    Loads (or trains) ``intro-linear`` and ``intro-relu``.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to ``$SUPERPOSITION_PROFILE``, else ``"paper"``.
    store : RunStore, optional
        Where runs are cached; the default store if omitted.
    progress : bool
        Show a progress bar if a run has to be trained.

    Returns
    -------
    features, gram : pandas.DataFrame
        :func:`feature_frame` and :func:`gram_frame` of both runs.

    Examples
    --------
    The committed ``paper`` runs (in the repository's ``data/``) load in a moment:

    >>> from pathlib import Path
    >>> import superposition_lib
    >>> data = RunStore(Path(superposition_lib.__file__).resolve().parent.parent / "data")
    >>> features, gram = intro_frames("paper", store=data)
    >>> sorted(features["model"].unique()), len(gram)
    (['ReLU', 'linear'], 500)
    >>> features.groupby("model")["represented"].sum().to_dict()  # over all 10 densities
    {'ReLU': 40, 'linear': 20}
    """
    return _frames("intro", profile, store, progress)


def _frames(sweep: str, profile: str | None, store: RunStore | None, progress: bool
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Feature and WᵀW frames of ``{sweep}-linear`` and ``{sweep}-relu``, linear first."""
    runs = [load(f"{sweep}-{model}", profile, store=store, progress=progress)
            for model in ("linear", "relu")]
    return feature_frame(*runs), gram_frame(*runs)


def basic_frames(profile: str | None = None, *, store: RunStore | None = None,
                 progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Feature and WᵀW frames of the n=20, m=5 sweep, linear model first.

    Loads (or trains) ``basic-linear`` and ``basic-relu``.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to ``$SUPERPOSITION_PROFILE``, else ``"paper"``.
    store : RunStore, optional
        Where runs are cached; the default store if omitted.
    progress : bool
        Show a progress bar if a run has to be trained.

    Returns
    -------
    features, gram : pandas.DataFrame
        :func:`feature_frame` and :func:`gram_frame` of both runs.

    Examples
    --------
    >>> from pathlib import Path
    >>> import superposition_lib
    >>> data = RunStore(Path(superposition_lib.__file__).resolve().parent.parent / "data")
    >>> features, gram = basic_frames("paper", store=data)
    >>> len(features), len(gram)
    (280, 5600)
    >>> relu = features[features["model"] == "ReLU"]
    >>> relu.groupby("density")["represented"].sum().sort_index(ascending=False).tolist()
    [5, 7, 10, 10, 13, 14, 14]
    """
    return _frames("basic", profile, store, progress)


def findings(intro: pd.DataFrame, basic: pd.DataFrame, m_basic: int = 5) -> dict:
    """The numbers the chapter's conclusion states, computed from the feature frames.

    Parameters
    ----------
    intro, basic : pandas.DataFrame
        :func:`feature_frame` of the intro sweep and of the n=20 sweep (both model kinds).
    m_basic : int
        Hidden dimension of the n=20 models.

    Returns
    -------
    dict
        ``linear_top_m``: at how many of the basic densities the linear model represents exactly
        the top ``m_basic`` features (‖W_i‖ > 0.5 for i < m, < 0.5 otherwise);
        ``basic_n_densities``; ``relu_represented_dense`` / ``relu_represented_sparse``:
        features the ReLU model represents at the densest and sparsest basic density;
        ``intro_relu_represented`` / ``intro_linear_represented``: per intro density (ordered
        dense to sparse) the number of represented features; ``intro_sparsest_density``;
        ``dense_unrepresented_bias``: mean bias of the features the dense ReLU model does
        not represent; ``sparse_mean_bias``: mean bias of the sparsest ReLU model;
        ``max_superposition_dense`` / ``max_superposition_sparse``: largest superposition of a
        represented feature of the densest / sparsest ReLU basic model (the direction of an
        unrepresented, near-zero W_i is noise, so its superposition means nothing).

    Examples
    --------
    >>> from pathlib import Path
    >>> import superposition_lib
    >>> data = RunStore(Path(superposition_lib.__file__).resolve().parent.parent / "data")
    >>> f = findings(intro_frames("paper", store=data)[0], basic_frames("paper", store=data)[0])
    >>> f["linear_top_m"], f["basic_n_densities"], f["intro_relu_represented"]
    (7, 7, [2, 2, 4, 4, 4, 4, 5, 5, 5, 5])
    """
    def represented(df):
        return df.groupby("density", sort=False)["represented"].sum()

    lin = basic[basic["model"] == "linear"]
    top = lin["feature"] < m_basic
    exact = (lin["represented"] == top).groupby(lin["density"]).all()
    relu = basic[basic["model"] == "ReLU"]
    dense_d, sparse_d = relu["density"].max(), relu["density"].min()
    dense, sparse = relu[relu["density"] == dense_d], relu[relu["density"] == sparse_d]
    intro_relu = intro[intro["model"] == "ReLU"].sort_values("density", ascending=False)
    intro_lin = intro[intro["model"] == "linear"].sort_values("density", ascending=False)
    unrep = dense[~dense["represented"]]
    return {
        "linear_top_m": int(exact.sum()),
        "basic_n_densities": int(exact.size),
        "relu_represented_dense": int(dense["represented"].sum()),
        "relu_represented_sparse": int(sparse["represented"].sum()),
        "intro_relu_represented": [int(v) for v in represented(intro_relu).to_numpy()],
        "intro_linear_represented": [int(v) for v in represented(intro_lin).to_numpy()],
        "intro_sparsest_density": float(intro_relu["density"].min()),
        "dense_unrepresented_bias": float(unrep["bias"].mean()) if len(unrep) else float("nan"),
        "sparse_mean_bias": float(sparse["bias"].mean()),
        "max_superposition_dense": float(dense.loc[dense["represented"], "superposition"].max()),
        "max_superposition_sparse": float(sparse.loc[sparse["represented"],
                                                     "superposition"].max()),
    }
