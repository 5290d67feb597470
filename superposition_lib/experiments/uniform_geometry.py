"""Experiments of the chapter "The geometry of uniform superposition"
(``chapters/uniform-geometry.qmd``).

``uniform-geometry``
    n = 400 features of importance 1 in m = 30 dimensions (ReLU output), one model per density,
    1/(1 − S) from 1 to 10: :data:`INVERSE_DENSITIES` (log-spaced, denser between 2 and 5, where
    D* moves fastest).
``uniform-geometry-long``
    The same model at every third density of :data:`INVERSE_DENSITIES`, trained 50,000 steps:
    the paper's remark that longer training gives cleaner polytopes.
``uniform-geometry-seeds``
    The same model at every density of :data:`INVERSE_DENSITIES`, :data:`UNIFORM_SEEDS`
    independent seeds each: intervals on D* and on the plateau at 1/2.
``uniform-geometry-band``
    The same model, the paper's setting, on a finer grid over the band where D* falls from 1 to
    the plateau at 1/2 (:data:`BAND_INVERSE_DENSITIES`), :data:`BAND_SEEDS` seeds each: where
    the paper's figure has its tetrahedra (D_i = 3/4) and triangles (2/3), how many form.
``pentagon-nonuniform``
    n = 5 features of importance 1 in m = 2 dimensions; four features have density 0.05 and the
    fifth's density is 0.05 × :data:`PENTAGON_RATIOS` (0.1× to 10×). Every instance keeps all of
    its restarts, so the chapter can compare the best pentagon with the best pair of digons.

The ``paper`` profile trains 10,000 steps with batch 1024 at learning rate 1e-3; ``smoke`` trains
the same models for a few hundred small steps at learning rate 0.01 (and 3 restarts instead of
12 for the pentagon).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis import geometry, stats
from ..core import metrics
from ..core.config import ExperimentSpec
from ..core.metrics import REPRESENTED_NORM
from ..core.run import Run
from ..core.store import RunStore
from .registry import Experiment, load, register

__all__ = [
    "BAND_INVERSE_DENSITIES",
    "BAND_SEEDS",
    "CHAPTER",
    "FALL_D_STAR",
    "INVERSE_DENSITIES",
    "PENTAGON_BASE_DENSITY",
    "PENTAGON_RATIOS",
    "POLYTOPE_D",
    "REFERENCE_LINES",
    "UNIFORM_SEEDS",
    "band_summary",
    "d_star_summary",
    "fall_instances",
    "feature_frame",
    "findings",
    "instance_frame",
    "length_comparison",
    "pentagon_curves",
    "pentagon_frame",
    "plateau_seeds",
    "polytope_mix",
    "polytope_table",
    "seed_frame",
    "uniform_frames",
]

#: The chapter's file stem.
CHAPTER = "uniform-geometry"

#: 1/(1 − S) of the uniform sweep: 25 values from 1 to 10, log-spaced, with 13 of them
#: between 2 and 5.
INVERSE_DENSITIES = tuple(float(v) for v in np.concatenate([
    np.geomspace(1.0, 2.0, 6)[:-1], np.geomspace(2.0, 5.0, 14)[:-1], np.geomspace(5.0, 10.0, 7)]))

#: Density 1 − S of the four fixed features of the non-uniform pentagon experiment.
PENTAGON_BASE_DENSITY = 0.05

#: The fifth feature's density as a multiple of :data:`PENTAGON_BASE_DENSITY`.
PENTAGON_RATIOS = tuple(float(v) for v in np.geomspace(0.1, 10.0, 21))

#: D_i of regular polytopes: m/k for k features in m dimensions.
REFERENCE_LINES = {"tetrahedron": 3 / 4, "triangle": 2 / 3, "digon": 1 / 2,
                   "pentagon": 2 / 5, "square antiprism": 3 / 8}


#: Independent seeds per density in ``uniform-geometry-seeds``.
UNIFORM_SEEDS = 4

#: D* bounds of the fall from a dimension per feature towards the plateau at 1/2
#: (:func:`fall_instances`): below the upper one a model no longer gives every feature its own
#: dimension, above the lower one it is not yet on the plateau.
FALL_D_STAR = (0.55, 0.99)

#: 1/(1 − S) of ``uniform-geometry-band``: 10 values, log-spaced from 1.2 to 2.1, covering the
#: sweep's fall (:func:`fall_instances`), where its only tetrahedra and triangles are.
BAND_INVERSE_DENSITIES = tuple(float(v) for v in np.geomspace(1.2, 2.1, 10))

#: Independent seeds per density in ``uniform-geometry-band``.
BAND_SEEDS = 6


def _uniform_profiles(inverse_densities=INVERSE_DENSITIES, steps: int = 10_000,
                      seeds: int = 1, seed: int = 0) -> dict:
    # ``seeds`` > 1 repeats every density: one independently initialised model per seed.
    # ``seed`` is the generator seed; a different one keeps a variant's first model from sharing
    # the main run's initial W.
    paper = ExperimentSpec(model="relu_output", n_features=400, n_hidden=30,
                           feature_probability=tuple(1.0 / v for v in inverse_densities
                                                     for _ in range(seeds)),
                           importance=1.0, steps=steps, batch_size=1024, seed=seed)
    # smoke: the same models and densities (as every experiment's smoke profile), far fewer and
    # smaller steps at a 10x learning rate: seconds on one core.
    smoke = paper.replace(steps=200, batch_size=64, lr=1e-2, history_every=None)
    return {"paper": paper, "smoke": smoke}


def _pentagon_table(ratios) -> tuple:
    base = PENTAGON_BASE_DENSITY
    return tuple((base, base, base, base, float(min(1.0, base * r))) for r in ratios)


def _pentagon_profiles() -> dict:
    paper = ExperimentSpec(model="relu_output", n_features=5, n_hidden=2,
                           feature_probability=_pentagon_table(PENTAGON_RATIOS),
                           importance=1.0, steps=10_000, batch_size=1024, restarts=12, seed=0)
    smoke = paper.replace(steps=400, batch_size=128, lr=1e-2, restarts=3, history_every=None)
    return {"paper": paper, "smoke": smoke}


register(Experiment(
    "uniform-geometry", CHAPTER,
    "400 features in 30 dims, importance 1, 25 densities with 1/(1-S) from 1 to 10",
    _uniform_profiles()))
register(Experiment(
    "uniform-geometry-long", CHAPTER,
    "uniform-geometry at every third density trained 50,000 steps (are polytopes cleaner?)",
    _uniform_profiles(INVERSE_DENSITIES[::3], steps=50_000)))
register(Experiment(
    "uniform-geometry-seeds", CHAPTER,
    f"uniform-geometry with {UNIFORM_SEEDS} seeds at every density (intervals on D*)",
    _uniform_profiles(seeds=UNIFORM_SEEDS, seed=1)))
register(Experiment(
    "uniform-geometry-band", CHAPTER,
    f"uniform-geometry from 1/(1-S) = 1.2 to 2.1, {BAND_SEEDS} seeds at each of 10 densities "
    f"(tetrahedra and triangles)",
    _uniform_profiles(BAND_INVERSE_DENSITIES, seeds=BAND_SEEDS, seed=2)))
register(Experiment(
    "pentagon-nonuniform", CHAPTER,
    "5 features in 2 dims, four at density 0.05, the fifth from 0.1x to 10x; all restarts kept",
    _pentagon_profiles(), best_of=False))


def _data_store() -> RunStore:
    from pathlib import Path

    import superposition_lib

    return RunStore(Path(superposition_lib.__file__).resolve().parent.parent / "data")


def feature_frame(run: Run, **thresholds) -> pd.DataFrame:
    """One row per instance and feature: norm, D_i and polytope.

    Parameters
    ----------
    run : Run
        One model per instance, W of shape (instances, m, n), uniform density per instance.
    **thresholds
        ``norm_threshold`` / ``edge_threshold`` for
        :func:`~superposition_lib.analysis.geometry.polytopes`.

    Returns
    -------
    pandas.DataFrame
        Columns ``instance``, ``density`` (1 − S), ``inverse_density`` 1/(1 − S), ``feature``,
        ``norm`` ‖W_i‖, ``dimensionality`` D_i, ``represented``, ``component``, ``size``,
        ``span``, ``polytope``, ``tegum``.

    Examples
    --------
    >>> from superposition_lib.core.train import train
    >>> from superposition_lib.experiments import get
    >>> run = train(get("uniform-geometry").spec("smoke").replace(steps=5), progress=False)
    >>> df = feature_frame(run)
    >>> len(df), float(df["inverse_density"].iloc[0])
    (10000, 1.0)
    """
    k, m, n = run.W.shape
    density = run.feature_probability[:, 0]
    poly = geometry.polytopes(run.W, **thresholds)
    return pd.DataFrame({
        "instance": np.repeat(run.instance, n),
        "density": np.repeat(density, n),
        "inverse_density": np.repeat(1.0 / density, n),
        "feature": np.tile(np.arange(n), k),
        "norm": metrics.feature_norms(run.W).reshape(-1),
        "dimensionality": metrics.feature_dimensionality(run.W).reshape(-1),
        "represented": poly["represented"].to_numpy(),
        "component": poly["component"].to_numpy(),
        "size": poly["size"].to_numpy(),
        "span": poly["span"].to_numpy(),
        "polytope": poly["polytope"].to_numpy(),
        "tegum": poly["tegum"].to_numpy(),
    })


def instance_frame(run: Run, features: pd.DataFrame) -> pd.DataFrame:
    """One row per instance: D*, Σ D_i, the loss and counts.

    Parameters
    ----------
    run : Run
        The run behind ``features``.
    features : pandas.DataFrame
        :func:`feature_frame` of ``run``.

    Returns
    -------
    pandas.DataFrame
        Columns ``instance``, ``density``, ``inverse_density``, ``m``, ``d_star`` = m/‖W‖_F²,
        ``sum_d`` = Σ_i D_i, ``n_represented``, ``loss``, ``tegum``.

    Examples
    --------
    >>> from superposition_lib.core.train import train
    >>> from superposition_lib.experiments import get
    >>> run = train(get("uniform-geometry").spec("smoke").replace(steps=5), progress=False)
    >>> list(instance_frame(run, feature_frame(run)).columns[:5])
    ['instance', 'density', 'inverse_density', 'm', 'd_star']
    """
    g = features.groupby("instance", sort=True)
    density = run.feature_probability[:, 0]
    return pd.DataFrame({
        "instance": run.instance,
        "density": density,
        "inverse_density": 1.0 / density,
        "m": run.W.shape[1],
        "d_star": metrics.dimensions_per_feature(run.W),
        "sum_d": g["dimensionality"].sum().to_numpy(),
        "n_represented": g["represented"].sum().to_numpy(),
        "loss": run.loss,
        "tegum": g["tegum"].all().to_numpy(),
    })


def polytope_mix(features: pd.DataFrame) -> pd.DataFrame:
    """How many represented features sit in each kind of polytope, per density.

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`feature_frame` rows.

    Returns
    -------
    pandas.DataFrame
        Columns ``inverse_density``, ``polytope``, ``features`` (count), ``fraction`` (of the
        represented features at that density), ``polytopes`` (number of components), ``mean_d``
        (mean D_i of those features).

    Examples
    --------
    >>> f = pd.DataFrame({"inverse_density": 2.0, "represented": True, "component": [0, 0, 1],
    ...                   "polytope": ["digon", "digon", "dedicated"],
    ...                   "dimensionality": [0.5, 0.5, 1.0]})
    >>> polytope_mix(f)[["polytope", "features", "polytopes"]].values.tolist()
    [['dedicated', 1, 1], ['digon', 2, 1]]
    """
    rep = features[features["represented"]]
    g = rep.groupby(["inverse_density", "polytope"])
    mix = g.agg(features=("polytope", "size"), polytopes=("component", "nunique"),
                mean_d=("dimensionality", "mean")).reset_index()
    mix["fraction"] = mix["features"] / mix.groupby("inverse_density")["features"].transform("sum")
    return mix[["inverse_density", "polytope", "features", "fraction", "polytopes", "mean_d"]]


def uniform_frames(profile: str | None = None, *, store: RunStore | None = None,
                   progress: bool = False, experiment: str = "uniform-geometry"
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Instance and feature frames of the ``uniform-geometry`` sweep (or its long control).

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to ``$SUPERPOSITION_PROFILE``, else ``"paper"``.
    store : RunStore, optional
        Where runs are cached; the default store if omitted.
    progress : bool
        Show a progress bar if the run has to be trained.
    experiment : str
        ``"uniform-geometry"`` or ``"uniform-geometry-long"``.

    Returns
    -------
    instances, features : pandas.DataFrame
        :func:`instance_frame` and :func:`feature_frame`.

    Examples
    --------
    >>> instances, features = uniform_frames("paper", store=_data_store())
    >>> len(instances), len(features)
    (25, 10000)
    """
    if experiment not in ("uniform-geometry", "uniform-geometry-long"):
        raise ValueError(f"experiment must be 'uniform-geometry' or 'uniform-geometry-long'; "
                         f"got {experiment!r}")
    run = load(experiment, profile, store=store, progress=progress)
    features = feature_frame(run)
    return instance_frame(run, features), features


def seed_frame(profile: str | None = None, *, store: RunStore | None = None) -> pd.DataFrame:
    """D* of every model of ``uniform-geometry-seeds``.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to ``$SUPERPOSITION_PROFILE``, else ``"paper"``.
    store : RunStore, optional
        Where runs are cached; the default store if omitted.

    Returns
    -------
    pandas.DataFrame
        One row per model: ``density``, ``inverse_density``, ``seed`` (0, 1, … within its
        density), ``d_star`` = m/‖W‖_F² and ``loss``.

    Examples
    --------
    >>> seeds = seed_frame("smoke")
    >>> len(seeds) == UNIFORM_SEEDS * len(INVERSE_DENSITIES), seeds["seed"].nunique()
    (True, 4)
    """
    run = load("uniform-geometry-seeds", profile, store=store)
    density = run.feature_probability[:, 0]
    df = pd.DataFrame({"density": density, "inverse_density": 1.0 / density,
                       "d_star": metrics.dimensions_per_feature(run.W), "loss": run.loss})
    df.insert(2, "seed", df.groupby("density").cumcount())
    return df


def d_star_summary(seeds: pd.DataFrame) -> pd.DataFrame:
    """D* per density over seeds.

    Parameters
    ----------
    seeds : pandas.DataFrame
        :func:`seed_frame` rows.

    Returns
    -------
    pandas.DataFrame
        One row per density, densest first: ``inverse_density``, ``seeds``, ``mean`` with its
        95% bootstrap interval ``low``, ``high``, and ``min``, ``max`` over the seeds.

    Examples
    --------
    >>> seeds = pd.DataFrame({"inverse_density": [1.0, 1.0, 3.0, 3.0],
    ...                       "d_star": [1.0, 1.0, 0.5, 0.6]})
    >>> d_star_summary(seeds)[["inverse_density", "mean", "min", "max"]].values.tolist()
    [[1.0, 1.0, 1.0, 1.0], [3.0, 0.55, 0.5, 0.6]]
    """
    rows = []
    for inv, g in seeds.groupby("inverse_density"):
        mean, low, high = stats.bootstrap_interval(g["d_star"].to_numpy())
        rows.append({"inverse_density": float(inv), "seeds": len(g), "mean": mean, "low": low,
                     "high": high, "min": float(g["d_star"].min()),
                     "max": float(g["d_star"].max())})
    return pd.DataFrame(rows)


def plateau_seeds(seeds: pd.DataFrame, tol: float = 0.05) -> pd.DataFrame:
    """The plateau of D* at 1/2 in every seed: where abs(D* − 1/2) < ``tol``.

    Parameters
    ----------
    seeds : pandas.DataFrame
        :func:`seed_frame` rows.
    tol : float
        Distance from 1/2 within which D* counts as on the plateau.

    Returns
    -------
    pandas.DataFrame
        One row per seed: ``seed``, ``densities`` (on the plateau), ``low`` and ``high`` (the
        lowest and highest 1/(1 − S) on it; NaN if none).

    Examples
    --------
    >>> seeds = pd.DataFrame({"seed": [0, 0, 0, 1, 1, 1], "inverse_density": [2, 3, 4] * 2,
    ...                       "d_star": [0.6, 0.52, 0.47, 0.53, 0.5, 0.4]})
    >>> plateau_seeds(seeds)[["densities", "low", "high"]].values.tolist()
    [[2.0, 3.0, 4.0], [2.0, 2.0, 3.0]]
    """
    rows = []
    for seed, g in seeds.groupby("seed"):
        on = g.loc[np.abs(g["d_star"] - 0.5) < tol, "inverse_density"]
        rows.append({"seed": seed, "densities": len(on),
                     "low": float(on.min()) if len(on) else np.nan,
                     "high": float(on.max()) if len(on) else np.nan})
    return pd.DataFrame(rows)


def _pentagon_geometry(poly: pd.DataFrame) -> str:
    rep = poly[poly["represented"]]
    names = rep.drop_duplicates("component")["polytope"].tolist()
    if names == ["pentagon"]:
        return "pentagon"
    if sorted(names) == ["digon", "digon"] and not poly["represented"].iloc[4]:
        return "two digons"
    return "other"


def pentagon_frame(profile: str | None = None, *, store: RunStore | None = None,
                   progress: bool = False) -> pd.DataFrame:
    """Every restart of the non-uniform pentagon experiment.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``.
    store : RunStore, optional
        Where runs are cached.
    progress : bool
        Show a progress bar if the run has to be trained.

    Returns
    -------
    pandas.DataFrame
        One row per model (instance × restart): ``instance``, ``restart``, ``ratio`` (the fifth
        feature's density over the others'), ``density5``, ``loss``, ``geometry``
        (``"pentagon"``, ``"two digons"`` with feature 4 dropped, or ``"other"``), ``norm4``
        and ``d4`` (‖W_4‖ and D_4 of the varied feature), ``angle4`` (the angle in degrees
        between the varied feature and its nearest neighbour, 72 in a regular pentagon; NaN
        where the feature is dropped,
        ‖W_4‖ < :data:`~superposition_lib.core.metrics.REPRESENTED_NORM`),
        ``best`` (lowest loss of its instance).

    Examples
    --------
    >>> df = pentagon_frame("paper", store=_data_store())
    >>> best = df[df["best"]].sort_values("ratio")  # best of 12 restarts per density
    >>> len(df), best["geometry"].iloc[0], best["geometry"].iloc[-1]
    (252, 'two digons', 'pentagon')
    """
    run = load("pentagon-nonuniform", profile, store=store, progress=progress)
    p = run.feature_probability
    poly = geometry.polytopes(run.W)
    geo = [_pentagon_geometry(g) for _, g in poly.groupby("model", sort=True)]
    unit = run.W / np.maximum(np.linalg.norm(run.W, axis=1, keepdims=True), 1e-12)
    cos = np.einsum("kd,kdj->kj", unit[:, :, 4], unit[:, :, :4])
    angle = np.degrees(np.arccos(np.clip(cos.max(axis=1), -1, 1)))
    norm4 = metrics.feature_norms(run.W)[:, 4]
    angle[norm4 < REPRESENTED_NORM] = np.nan          # a dropped feature's direction means nothing
    df = pd.DataFrame({
        "instance": run.instance, "restart": run.restart,
        "ratio": p[:, 4] / p[:, 0], "density5": p[:, 4], "loss": run.loss, "geometry": geo,
        "norm4": norm4,
        "d4": metrics.feature_dimensionality(run.W)[:, 4], "angle4": angle})
    df["best"] = df["loss"] == df.groupby("instance")["loss"].transform("min")
    return df


def pentagon_curves(pentagon: pd.DataFrame) -> pd.DataFrame:
    """The lowest loss each geometry reaches at each density ratio.

    Parameters
    ----------
    pentagon : pandas.DataFrame
        :func:`pentagon_frame` rows.

    Returns
    -------
    pandas.DataFrame
        Columns ``ratio``, ``geometry``, ``loss`` (the best restart with that geometry),
        ``restarts`` (how many restarts found it), ``best`` (whether it is the overall best).

    Examples
    --------
    >>> df = pd.DataFrame({"instance": 0, "ratio": 1.0, "geometry": ["pentagon", "pentagon"],
    ...                    "loss": [0.2, 0.1], "best": [False, True]})
    >>> pentagon_curves(df)[["geometry", "loss", "restarts"]].values.tolist()
    [['pentagon', 0.1, 2]]
    """
    g = pentagon.groupby(["ratio", "geometry"])
    out = g.agg(loss=("loss", "min"), restarts=("loss", "size"),
                best=("best", "any")).reset_index()
    return out


def length_comparison(short: pd.DataFrame, long: pd.DataFrame, *, tol: float = 0.03
                      ) -> pd.DataFrame:
    """The same densities trained 10,000 and 50,000 steps: are the polytopes cleaner?

    Parameters
    ----------
    short, long : pandas.DataFrame
        :func:`feature_frame` of ``uniform-geometry`` and ``uniform-geometry-long``; only the
        densities of ``long`` are compared.
    tol : float
        Distance from a polytope's regular D_i that counts as on it.

    Returns
    -------
    pandas.DataFrame
        One row per run (``steps``) and kind of component: ``features`` (represented features
        in it over the compared densities) and ``on_line`` (share within ``tol`` of the regular
        D_i, :func:`polytope_table`); plus a row ``"all"`` whose ``on_line`` is the share of
        all represented features on their own component's line and ``features`` their number.

    Examples
    --------
    >>> f = pd.DataFrame({"instance": 0, "inverse_density": 2.0, "represented": True,
    ...                   "component": [0, 0], "polytope": "digon",
    ...                   "dimensionality": [0.5, 0.45]})
    >>> c = length_comparison(f, f.assign(dimensionality=0.5))
    >>> c.loc[c["polytope"] == "all", "on_line"].tolist()
    [0.5, 1.0]
    """
    keep = short["inverse_density"].round(6).isin(long["inverse_density"].round(6))
    rows = []
    for steps, frame in (("10,000", short[keep]), ("50,000", long)):
        rep = frame[frame["represented"]]
        table = polytope_table(rep, tol=tol).reset_index()
        regular = rep["polytope"].map(POLYTOPE_D)
        on = (np.abs(rep["dimensionality"] - regular) < tol).sum()
        rows.append(table.assign(steps=steps)[["steps", "polytope", "features", "on_line"]])
        rows.append(pd.DataFrame({"steps": [steps], "polytope": ["all"],
                                  "features": [len(rep)], "on_line": [on / max(len(rep), 1)]}))
    return pd.concat(rows, ignore_index=True)


#: The D_i a vertex of each kind of component has when the polytope is regular.
POLYTOPE_D = {"dedicated": 1.0, **REFERENCE_LINES}


def fall_instances(instances: pd.DataFrame) -> pd.DataFrame:
    """The models of a sweep whose D* lies strictly between the bounds of :data:`FALL_D_STAR`:
    where D* falls from 1 towards the plateau at 1/2, and where the paper's figure has its
    tetrahedra and triangles.

    Parameters
    ----------
    instances : pandas.DataFrame
        :func:`instance_frame` rows (``d_star``, ``inverse_density``).

    Returns
    -------
    pandas.DataFrame
        Those rows, densest first.

    Examples
    --------
    >>> i = pd.DataFrame({"inverse_density": [1.0, 1.5, 2.0, 3.0], "d_star": [1.0, 0.9, 0.6, 0.5]})
    >>> fall_instances(i)["inverse_density"].tolist()
    [1.5, 2.0]
    """
    low, high = FALL_D_STAR
    fall = instances[(instances["d_star"] > low) & (instances["d_star"] < high)]
    return fall.sort_values("inverse_density")


def band_summary(run: Run, features: pd.DataFrame, *, tol: float = 0.03) -> pd.DataFrame:
    """Tetrahedra and triangles per model of a run with several seeds per density (such as
    ``uniform-geometry-band``), per density, with intervals over the seeds.

    Parameters
    ----------
    run : Run
        One model per instance.
    features : pandas.DataFrame
        :func:`feature_frame` of ``run``.
    tol : float
        Distance from 3/4 or 2/3 at which a feature's D_i counts as on that line.

    Returns
    -------
    pandas.DataFrame
        One row per density, dense first: ``inverse_density``, ``models``, ``d_star`` (median
        over the seeds), and for ``tetrahedra`` and ``triangles`` (components of that kind,
        :func:`~superposition_lib.analysis.geometry.polytopes`) the mean per model with its
        bootstrap 95% interval over the seeds (``…_low``, ``…_high``); ``on_3_4`` and
        ``on_2_3``, the represented features whose D_i lies within ``tol`` of 3/4 and 2/3 (all
        seeds together), and ``represented`` (all seeds together).

    Examples
    --------
    >>> run = load("uniform-geometry-band", "smoke")
    >>> b = band_summary(run, feature_frame(run))
    >>> len(b) == len(BAND_INVERSE_DENSITIES), bool((b["models"] == BAND_SEEDS).all())
    (True, True)
    """
    features = features.assign(model=np.repeat(np.arange(len(run.models)), run.W.shape[2]))
    d_star = pd.Series(metrics.dimensions_per_feature(run.W), index=np.arange(len(run.models)))
    rows = []
    for inverse, g in features.groupby("inverse_density", sort=True):
        models = np.unique(g["model"])
        comps = g[g["represented"]].drop_duplicates(["model", "component"])
        row = {"inverse_density": inverse, "models": len(models),
               "d_star": float(d_star.loc[models].median())}
        for kind, name in (("tetrahedra", "tetrahedron"), ("triangles", "triangle")):
            per_model = comps[comps["polytope"] == name].groupby("model").size()
            mean, low, high = stats.bootstrap_interval(per_model.reindex(models, fill_value=0))
            row.update({kind: mean, f"{kind}_low": low, f"{kind}_high": high})
        d = g.loc[g["represented"], "dimensionality"]
        row.update({"on_3_4": int((np.abs(d - 3 / 4) < tol).sum()),
                    "on_2_3": int((np.abs(d - 2 / 3) < tol).sum()), "represented": len(d)})
        rows.append(row)
    return pd.DataFrame(rows)


def polytope_table(features: pd.DataFrame, *, tol: float = 0.03) -> pd.DataFrame:
    """Each kind of component and how close its features sit to its regular D_i.

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`feature_frame` rows of represented features (``polytope``, ``component``,
        ``instance``, ``dimensionality``).
    tol : float
        Distance from the regular value that counts as on it.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``polytope``: ``components``, ``features``, ``regular`` (D_i of a regular
        polytope's vertex, NaN for ``"isolated"`` and ``"other"``), ``median_d``, ``low_d`` and
        ``high_d`` (the 5th and 95th percentiles) and ``on_line`` (share of its features within
        ``tol`` of ``regular``).

    Examples
    --------
    >>> f = pd.DataFrame({"instance": 0, "component": [0, 0, 1], "dimensionality": [0.5, 0.49,
    ...                   0.7], "polytope": ["digon", "digon", "isolated"]})
    >>> polytope_table(f).loc["digon", ["components", "features", "on_line"]].tolist()
    [1.0, 2.0, 1.0]
    """
    rows = {}
    for name, g in features.groupby("polytope"):
        regular = POLYTOPE_D.get(name, np.nan)
        d = g["dimensionality"].to_numpy()
        rows[name] = {"components": len(g.drop_duplicates(["instance", "component"])),
                      "features": len(g), "regular": regular, "median_d": float(np.median(d)),
                      "low_d": float(np.quantile(d, 0.05)), "high_d": float(np.quantile(d, 0.95)),
                      "on_line": (float((np.abs(d - regular) < tol).mean())
                                  if np.isfinite(regular) else np.nan)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("polytope")


def findings(instances: pd.DataFrame, features: pd.DataFrame,
             pentagon: pd.DataFrame | None = None, *, tol: float = 0.03) -> dict:
    """The numbers the chapter states, computed from the frames.

    Parameters
    ----------
    instances, features : pandas.DataFrame
        :func:`uniform_frames`.
    pentagon : pandas.DataFrame, optional
        :func:`pentagon_frame`; the ``pentagon_*`` entries are omitted without it.
    tol : float
        A feature is *on* a reference line when abs(D_i − line) < ``tol``.

    Returns
    -------
    dict
        ``d_star_dense`` (D* at the densest point) and ``d_star_sparse`` (at the sparsest);
        ``dense_max_norm`` and ``dense_represented``: the largest ‖W_i‖ and the number of
        represented features at the densest point; ``sparse_other``: the fraction of
        represented features at the sparsest point that are in no named polytope;
        ``named_range``: for each named polytope, the lowest and highest 1/(1 − S) where one
        occurs;
        ``half_plateau``: (number of densities, lowest and highest 1/(1 − S)) with
        abs(D* − 1/2) < 0.05; ``on_lines``: fraction of represented features within ``tol`` of
        one of :data:`REFERENCE_LINES` or of 1; ``line_counts``: features near each line;
        ``sum_d_over_m``: (min, max) of Σ D_i / m; ``polytopes``: components of each kind over
        the whole sweep; ``tegum_fraction``: fraction of models whose polytopes are a tegum
        product; ``line_components``: for each line, the features near it by the polytope
        their component is; ``polytope_d``: :func:`polytope_table` of the represented
        features. With ``pentagon``: ``pentagon_switch`` (lowest ratio at which the best model
        is a pentagon), ``pentagon_last_digons`` (highest ratio at which it is two digons),
        ``pentagon_half_digons`` (highest ratio at which at least half of the restarts end as
        two digons), ``pentagon_digon_share`` (ratio -> share of restarts ending as two digons),
        ``pentagon_cross`` (ratio where the best pentagon's and the best two digons' losses
        cross, interpolated in log ratio; NaN if they never do), ``pentagon_angle`` (the varied
        feature's angle to its nearest neighbour in the best pentagon at the lowest and at the
        highest ratio where one exists).

    Examples
    --------
    >>> instances, features = uniform_frames("paper", store=_data_store())
    >>> f = findings(instances, features)
    >>> round(f["d_star_dense"], 2)
    1.0
    """
    inst = instances.sort_values("inverse_density")
    rep = features[features["represented"]]
    lines = {**REFERENCE_LINES, "dedicated": 1.0}
    near = {name: int((np.abs(rep["dimensionality"] - v) < tol).sum()) for name, v in lines.items()}
    half = inst[np.abs(inst["d_star"] - 0.5) < 0.05]
    comps = rep.drop_duplicates(["instance", "component"])["polytope"].value_counts()
    dense = features[features["inverse_density"] == inst["inverse_density"].iloc[0]]
    sparse = rep[rep["inverse_density"] == inst["inverse_density"].iloc[-1]]
    named = rep[~rep["polytope"].isin(["other", "dedicated", "isolated"])]
    out = {
        "d_star_dense": float(inst["d_star"].iloc[0]),
        "dense_max_norm": float(dense["norm"].max()),
        "dense_represented": int(dense["represented"].sum()),
        "sparse_other": float((sparse["polytope"] == "other").mean()) if len(sparse) else np.nan,
        "named_range": {str(k): (float(g.min()), float(g.max()))
                        for k, g in named.groupby("polytope")["inverse_density"]},
        "d_star_sparse": float(inst["d_star"].iloc[-1]),
        "half_plateau": (len(half), float(half["inverse_density"].min()) if len(half) else np.nan,
                         float(half["inverse_density"].max()) if len(half) else np.nan),
        "on_lines": float(sum(near.values()) / max(len(rep), 1)),
        "line_counts": near,
        "n_represented": int(len(rep)),
        "sum_d_over_m": (float((inst["sum_d"] / inst["m"]).min()),
                         float((inst["sum_d"] / inst["m"]).max())),
        "polytopes": {str(k): int(v) for k, v in comps.items()},
        "tegum_fraction": float(inst["tegum"].mean()),
        "line_components": {
            name: {str(k): int(v) for k, v in rep.loc[np.abs(rep["dimensionality"] - v) < tol,
                                                        "polytope"].value_counts().items()}
            for name, v in lines.items()},
        "polytope_d": polytope_table(rep, tol=tol),
    }
    if pentagon is not None:
        best = pentagon[pentagon["best"]].sort_values("ratio")
        pent = best[best["geometry"] == "pentagon"]
        digons = best[best["geometry"] == "two digons"]
        out["pentagon_switch"] = float(pent["ratio"].min()) if len(pent) else np.nan
        share = (pentagon["geometry"] == "two digons").groupby(pentagon["ratio"]).mean()
        out["pentagon_half_digons"] = (float(share[share >= 0.5].index.max())
                                       if (share >= 0.5).any() else np.nan)
        out["pentagon_digon_share"] = {float(k): float(v) for k, v in share.items()}
        out["pentagon_last_digons"] = float(digons["ratio"].max()) if len(digons) else np.nan
        curves = pentagon_curves(pentagon).pivot(index="ratio", columns="geometry", values="loss")
        cross = np.nan
        if {"pentagon", "two digons"} <= set(curves.columns):
            diff = (curves["pentagon"] - curves["two digons"]).dropna()
            sign = np.sign(diff.to_numpy())
            idx = np.flatnonzero(sign[:-1] * sign[1:] < 0)
            if len(idx):
                i = idx[0]
                x0, x1 = np.log(diff.index[i]), np.log(diff.index[i + 1])
                y0, y1 = diff.iloc[i], diff.iloc[i + 1]
                cross = float(np.exp(x0 - y0 * (x1 - x0) / (y1 - y0)))
        out["pentagon_cross"] = cross
        out["pentagon_angle"] = ((float(pent["angle4"].iloc[0]), float(pent["angle4"].iloc[-1]))
                                 if len(pent) else (np.nan, np.nan))
    return out
