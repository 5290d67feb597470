"""Experiments of the chapter "Superposition in a privileged basis"
(``chapters/privileged-basis.qmd``).

The ReLU-hidden-layer model x' = ReLU(Wᵀ ReLU(Wx) + b) of Elhage et al. (2022), section
"Superposition in a Privileged Basis": the hidden ReLU makes the m neurons a privileged basis, so
one can ask which features each neuron reads.

``privileged-basis``
    n = 10 features, m = 5 neurons, importance 0.75^i (the paper's setting), 16 densities
    1 − S = 10^(−k/5), k = 0..15 (1 down to 0.001), 128 restarts each. The paper shows the
    lowest-loss of 1,000 models per density; the chapter measures how the best model changes
    with the number of restarts N, so that N = 128 is justified by data rather than assumed.
``privileged-basis-paper``
    The same model at the densities the paper names for its regimes (:data:`PAPER_REGIMES`:
    the edges 0.5, 0.2, 0.15, 0.12, 0.08, 0.05, 0.04 and 0.3, 0.065, 0.02 inside them) with the
    paper's 1,000 restarts, so that its table is compared at its own densities and restart count.
``privileged-basis-n20``, ``privileged-basis-n30``
    n = 20 and 30 features in m = 5 neurons, importance 1, 7 densities 10^(−k/2), k = 0..6,
    64 restarts each: the paper's untested remark that, with more features, sparsity ends in a
    dense code (every feature on several neurons, every neuron shared by many features).
    Importance 1 because with 0.75^i feature 29 weighs 2e-4 and whether it is represented
    would be a question of importance, not of room.
``privileged-basis-n20-long``, ``privileged-basis-n30-long``
    The longer-training control of the dense-code question: the three sparsest of those
    densities (0.01, 0.0032, 0.001), 16 restarts, 50,000 steps instead of 10,000.

The ``paper`` profile trains 10,000 steps with batch 1024 (the notebook's settings); ``smoke``
trains 400 steps of batch 256 at learning rate 0.01 with 2 restarts (seconds).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis import neurons
from ..core.config import ExperimentSpec
from ..core.run import Run
from ..core.store import RunStore
from .memo import remembered
from .registry import Experiment, load, register

__all__ = [
    "CHAPTER",
    "CODE_DENSITIES",
    "DENSITIES",
    "LONG_DENSITIES",
    "LONG_RESTARTS",
    "LONG_STEPS",
    "PAPER_DENSITIES",
    "PAPER_REGIMES",
    "PAPER_RESTARTS",
    "RESTARTS",
    "best_of_n_frame",
    "long_weights",
    "model_frame",
    "n_values",
    "paper_comparison",
    "paper_regime_at",
    "privileged_results",
    "regime_ranges",
    "regime_shares",
    "weight_frame",
]

#: The chapter's file stem.
CHAPTER = "privileged-basis"

#: Densities 1 − S of ``privileged-basis``: 10^(−k/5), k = 0..15.
DENSITIES = tuple(float(10 ** (-k / 5)) for k in range(16))

#: Densities of the larger-n runs: 10^(−k/2), k = 0..6.
CODE_DENSITIES = tuple(float(10 ** (-k / 2)) for k in range(7))

#: Restarts per density of the paper profile: ``privileged-basis`` and the larger-n runs.
RESTARTS = {10: 128, 20: 64, 30: 64}

#: The paper's regimes of the n = 10, m = 5 model, densest first: (name, lowest 1 − S, highest
#: 1 − S) as the paper gives them (None: no bound on that side). Elhage et al. (2022), section
#: "Superposition in a Privileged Basis": "approximately 0.5 ≤ 1 − S", "approximately
#: 0.2 ≤ 1 − S ≤ 0.5", "1 − S = 0.15", "1 − S = 0.12", "0.05 ≤ 1 − S ≤ 0.08", "1 − S ≤ 0.04".
PAPER_REGIMES = (
    ("all monosemantic", 0.5, None),
    ("3 features in 2 neurons", 0.2, 0.5),
    ("5 features in 3 neurons", 0.15, 0.15),
    ("6 features in 4 neurons", 0.12, 0.12),
    ("8 features in 5 neurons", 0.05, 0.08),
    ("pair code", None, 0.04),
)

#: Densities of ``privileged-basis-paper``: the edges of :data:`PAPER_REGIMES` and a point
#: inside each of its wider ranges.
PAPER_DENSITIES = (0.5, 0.3, 0.2, 0.15, 0.12, 0.08, 0.065, 0.05, 0.04, 0.02)

#: Restarts per density of ``privileged-basis-paper``: the paper's "we trained 1000 models".
PAPER_RESTARTS = 1000

#: Densities of the dense-code control ``privileged-basis-n20-long`` and ``-n30-long``.
LONG_DENSITIES = CODE_DENSITIES[-3:]
#: Training steps of the dense-code control (five times the notebook's 10,000).
LONG_STEPS = 50_000
#: Restarts per density of the dense-code control.
LONG_RESTARTS = 16


def _profiles(n: int, importance_base: float, densities: tuple, restarts: int,
              steps: int = 10_000) -> dict:
    paper = ExperimentSpec(
        model="relu_hidden", n_features=n, n_hidden=5, feature_probability=densities,
        importance=tuple(float(importance_base ** i) for i in range(n)), steps=steps,
        batch_size=1024, restarts=restarts, seed=0, history_every=steps // 20)
    smoke = paper.replace(steps=400, batch_size=256, lr=1e-2, restarts=2, history_every=None,
                          eval_samples=8192)
    return {"paper": paper, "smoke": smoke}


register(Experiment(
    "privileged-basis", CHAPTER,
    "ReLU hidden layer, 10 features, 5 neurons, importance 0.75^i, 16 densities, 128 seeds",
    _profiles(10, 0.75, DENSITIES, RESTARTS[10]), best_of=False))
register(Experiment(
    "privileged-basis-paper", CHAPTER,
    "ReLU hidden layer, 10 features, 5 neurons, importance 0.75^i, the paper's 10 named "
    "densities, 1,000 seeds",
    _profiles(10, 0.75, PAPER_DENSITIES, PAPER_RESTARTS), best_of=False))
for _n in (20, 30):
    register(Experiment(
        f"privileged-basis-n{_n}", CHAPTER,
        f"ReLU hidden layer, {_n} features, 5 neurons, importance 1, 7 densities, 64 seeds",
        _profiles(_n, 1.0, CODE_DENSITIES, RESTARTS[_n]), best_of=False))
    register(Experiment(
        f"privileged-basis-n{_n}-long", CHAPTER,
        f"ReLU hidden layer, {_n} features, 5 neurons, importance 1, 3 sparse densities, "
        f"16 seeds, 50,000 steps",
        _profiles(_n, 1.0, LONG_DENSITIES, LONG_RESTARTS, LONG_STEPS), best_of=False))

def n_values(restarts: int) -> list[int]:
    """Powers of two from 1 up to ``restarts``, and ``restarts`` itself.

    Parameters
    ----------
    restarts : int

    Returns
    -------
    list of int

    Examples
    --------
    >>> n_values(128)[-3:], n_values(6)
    ([32, 64, 128], [1, 2, 4, 6])
    """
    out = [2 ** k for k in range(restarts.bit_length()) if 2 ** k <= restarts]
    return out if out[-1] == restarts else [*out, restarts]


def model_frame(run: Run, W: np.ndarray | None = None, W_out: np.ndarray | None = None
                ) -> pd.DataFrame:
    """One row per model of a run: its density, restart, final loss and neuron code.

    Parameters
    ----------
    run : Run
        A run whose hidden layer is a privileged basis, features in importance order.
    W, W_out : numpy.ndarray, optional
        The weights to classify, shapes (models, m, f) and (models, f, m), e.g. the
        absolute-value model's half-features; default ``run.W`` with tied output weights
        (and then ``top_represented`` from the run's importances).

    Returns
    -------
    pandas.DataFrame
        ``model``, ``instance``, ``restart``, ``density``, ``loss``, ``loss_se`` (its
        standard error), the columns of
        :func:`~superposition_lib.analysis.neurons.model_codes` and ``best`` (the lowest-loss
        restart of its instance).

    Examples
    --------
    >>> run = load("privileged-basis", "smoke")
    >>> df = model_frame(run)
    >>> len(df) == run.W.shape[0], int(df["best"].sum()) == run.spec.n_instances
    (True, True)
    """
    codes = (neurons.model_codes(run.W, run.importance) if W is None
             else neurons.model_codes(W, W_out=W_out))
    df = pd.DataFrame({"model": np.arange(run.W.shape[0]), "instance": run.instance,
                       "restart": run.restart, "density": run.feature_probability[:, 0],
                       "loss": run.loss, "loss_se": run.loss_se})
    df = pd.concat([df, codes], axis=1)
    best = df.loc[df.groupby("instance")["loss"].idxmin(), "model"]
    df["best"] = df["model"].isin(best)
    return df


def long_weights(models: pd.DataFrame, weights: np.ndarray, order: np.ndarray,
                 importance: np.ndarray, features: np.ndarray | None = None) -> pd.DataFrame:
    """Weight matrices of some models in long form, for
    :func:`~superposition_lib.figures.neuron_bars`.

    Parameters
    ----------
    models : pandas.DataFrame
        One row per model (``density``, ``regime``), in slider order.
    weights : numpy.ndarray, shape (models, m, f)
        What each neuron's bar stacks, one column per feature (or group of features).
    order : numpy.ndarray of int, shape (models, m)
        Each model's neurons from left to right.
    importance : numpy.ndarray, shape (models, f)
    features : numpy.ndarray, shape (f,), optional
        The label of each column; default 0, 1, …

    Returns
    -------
    pandas.DataFrame
        ``step`` (0, 1, … in the order of ``models``), ``density``, ``regime``, ``position``
        (1-based), ``neuron``, ``feature``, ``weight``, ``importance``: m × f rows per model.

    Examples
    --------
    >>> m = pd.DataFrame({"density": [1.0], "regime": ["mixed"]})
    >>> w = long_weights(m, np.array([[[1.0, 0.0], [0.5, 2.0]]]), np.array([[1, 0]]),
    ...                  np.array([[1.0, 0.75]]))
    >>> w[["position", "neuron", "feature", "weight"]].values.tolist()[:2]
    [[2.0, 0.0, 0.0, 1.0], [2.0, 0.0, 1.0, 0.0]]
    """
    k, m, f = weights.shape
    features = np.arange(f) if features is None else np.asarray(features)
    frames = []
    for step, (row, perm) in enumerate(zip(models.itertuples(index=False), order)):
        frames.append(pd.DataFrame({
            "step": step, "density": row.density, "regime": row.regime,
            "position": np.repeat(np.argsort(perm) + 1, f), "neuron": np.repeat(np.arange(m), f),
            "feature": np.tile(features, m), "weight": weights[step].reshape(-1),
            "importance": np.tile(importance[step], m)}))
    return pd.concat(frames, ignore_index=True)


def weight_frame(run: Run, models: pd.DataFrame) -> pd.DataFrame:
    """The weights of some models in long form (:func:`long_weights`), neurons in
    :func:`~superposition_lib.analysis.neurons.neuron_order`.

    Parameters
    ----------
    run : Run
    models : pandas.DataFrame
        Rows of :func:`model_frame` (``model``, ``density``, ``regime``), in slider order.

    Returns
    -------
    pandas.DataFrame
        :func:`long_weights` of W: m × n rows per model.

    Examples
    --------
    >>> run = load("privileged-basis", "smoke")
    >>> best = model_frame(run).query("best")
    >>> len(weight_frame(run, best)) == len(best) * run.spec.n_hidden * run.spec.n_features
    True
    """
    keep = models["model"].to_numpy()
    W = run.W[keep]
    return long_weights(models, W, neurons.neuron_order(W), run.importance[keep])


def best_of_n_frame(models: pd.DataFrame) -> pd.DataFrame:
    """Per density and N, the probability that the best of N random restarts has the regime of
    the best of all (:func:`~superposition_lib.analysis.neurons.best_of_n_distribution`).

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`model_frame` of one run.

    Returns
    -------
    pandas.DataFrame
        ``density``, ``n``, ``regime`` (of the best of all restarts), ``agreement``.

    Examples
    --------
    >>> m = pd.DataFrame({"density": 1.0, "loss": [0.1, 0.2, 0.3], "best": [True, False, False],
    ...                   "regime": ["mixed", "monosemantic", "mixed"]})
    >>> best_of_n_frame(m)["agreement"].round(3).tolist()
    [0.667, 0.667, 1.0]
    """
    rows = []
    for density, group in models.groupby("density", sort=False):
        best = group.loc[group["best"], "regime"].iloc[0]
        dist = neurons.best_of_n_distribution(group["loss"], group["regime"],
                                              n_values(len(group)))
        for n, d in dist.groupby("n"):
            rows.append({"density": density, "n": int(n), "regime": best,
                         "agreement": float(d.loc[d["label"] == best, "probability"].sum())})
    return pd.DataFrame(rows)


def regime_ranges(best: pd.DataFrame) -> pd.DataFrame:
    """The density ranges over which the best models keep one regime, dense to sparse.

    Parameters
    ----------
    best : pandas.DataFrame
        One row per density (``density``, ``regime``), e.g. the ``best`` rows of
        :func:`model_frame`.

    Returns
    -------
    pandas.DataFrame
        One row per run of equal regimes: ``regime``, ``densest``, ``sparsest`` (1 − S) and
        ``densities`` (how many grid points).

    Examples
    --------
    >>> b = pd.DataFrame({"density": [1.0, 0.3, 0.1, 0.03],
    ...                   "regime": ["monosemantic", "mixed", "mixed", "pair code"]})
    >>> regime_ranges(b)[["regime", "densities"]].values.tolist()
    [['monosemantic', 1], ['mixed', 2], ['pair code', 1]]
    """
    b = best.sort_values("density", ascending=False).reset_index(drop=True)
    run_id = (b["regime"] != b["regime"].shift()).cumsum()
    return (b.groupby(run_id, sort=True)
            .agg(regime=("regime", "first"), densest=("density", "max"),
                 sparsest=("density", "min"), densities=("density", "size"))
            .reset_index(drop=True))


def regime_shares(models: pd.DataFrame) -> pd.DataFrame:
    """Per density and regime, the share of all restarts in that regime, with its Wilson 95%
    interval: how rare a regime is among single models, whatever the best one is.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`model_frame` rows (``density``, ``regime``).

    Returns
    -------
    pandas.DataFrame
        ``density``, ``regime``, ``count``, ``restarts``, ``share``, ``low``, ``high``: every
        regime of :data:`~superposition_lib.analysis.neurons.REGIMES` at every density (count 0
        included), dense first.

    Examples
    --------
    >>> m = pd.DataFrame({"density": 1.0, "regime": ["mixed", "mixed", "pair code"]})
    >>> t = regime_shares(m).set_index("regime")
    >>> int(t.loc["mixed", "count"]), round(float(t.loc["pair code", "share"]), 3)
    (2, 0.333)
    """
    from ..analysis.stats import wilson_interval

    rows = []
    for density, group in models.groupby("density", sort=False):
        counts = group["regime"].value_counts()
        for name in neurons.REGIMES:
            k = int(counts.get(name, 0))
            share, low, high = wilson_interval(k, len(group))
            rows.append({"density": density, "regime": name, "count": k,
                         "restarts": len(group), "share": share, "low": low, "high": high})
    return (pd.DataFrame(rows).sort_values(["density"], ascending=False, kind="stable")
            .reset_index(drop=True))


def paper_regime_at(density: float) -> str:
    """The regime the paper names at a density (:data:`PAPER_REGIMES`), as
    :func:`~superposition_lib.analysis.neurons.paper_regime` writes it.

    Parameters
    ----------
    density : float
        1 − S.

    Returns
    -------
    str
        The name; two names joined by " or " where the paper's ranges meet (1 − S = 0.5); ""
        where the paper names none (between its single densities 0.15, 0.12 and the range
        0.05–0.08).

    Examples
    --------
    >>> [paper_regime_at(d) for d in (1.0, 0.5, 0.12, 0.1, 0.01)]  # doctest: +NORMALIZE_WHITESPACE
    ['all monosemantic', 'all monosemantic or 3 features in 2 neurons',
     '6 features in 4 neurons', '', 'pair code']
    """
    tol = 1e-9
    return " or ".join(name for name, low, high in PAPER_REGIMES
                       if (low is None or density >= low - tol)
                       and (high is None or density <= high + tol))


def paper_comparison(models: pd.DataFrame) -> pd.DataFrame:
    """Per density, the paper's regime next to the book's: the lowest-loss restart's, and how
    many restarts have the paper's.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`model_frame` rows (``density``, ``loss``, ``loss_se``, ``paper_regime``,
        ``best``).

    Returns
    -------
    pandas.DataFrame
        One row per density, dense first: ``density``, ``paper`` (:func:`paper_regime_at`),
        ``best`` (the best restart's paper regime), ``agrees`` (whether it is the paper's; NA
        where the paper names none), ``count``, ``restarts``, ``share``, ``low``, ``high``
        (restarts in the paper's regime, with the Wilson 95% interval), and ``gap`` and
        ``gap_se``: how much the lowest loss in the paper's regime exceeds the best, relative to
        the best and in standard errors of the difference (NaN where no restart has it).

    Examples
    --------
    >>> m = pd.DataFrame({"density": [0.12, 0.12, 0.1], "best": [True, False, True],
    ...                   "loss": [1.0, 1.1, 2.0], "loss_se": [0.03, 0.04, 0.1],
    ...                   "paper_regime": ["pair code", "6 features in 4 neurons", "pair code"]})
    >>> c = paper_comparison(m)
    >>> c[["paper", "agrees", "count"]].values.tolist()
    [['6 features in 4 neurons', False, 1], ['', <NA>, 0]]
    >>> round(float(c["gap"][0]), 3), round(float(c["gap_se"][0]), 3)   # 0.1 / 0.05
    (0.1, 2.0)
    """
    from ..analysis.stats import wilson_interval

    rows = []
    for density, group in models.groupby("density", sort=False):
        paper = paper_regime_at(density)
        names = paper.split(" or ") if paper else []
        top = group.loc[group["best"]].iloc[0]
        theirs = group[group["paper_regime"].isin(names)]
        count = len(theirs)
        share, low, high = wilson_interval(count, len(group))
        gap = gap_se = np.nan
        if count:
            runner = theirs.loc[theirs["loss"].idxmin()]
            gap = runner["loss"] / top["loss"] - 1
            gap_se = ((runner["loss"] - top["loss"])
                      / max(np.hypot(runner["loss_se"], top["loss_se"]), 1e-300))
        rows.append({"density": density, "paper": paper, "best": top["paper_regime"],
                     "agrees": (top["paper_regime"] in names) if names else pd.NA,
                     "count": count, "restarts": len(group), "share": share, "low": low,
                     "high": high, "gap": gap, "gap_se": gap_se})
    out = pd.DataFrame(rows).sort_values("density", ascending=False, kind="stable")
    out["agrees"] = out["agrees"].astype("boolean")
    return out.reset_index(drop=True)


@remembered("privileged-basis", "privileged-basis-paper", "privileged-basis-n20",
            "privileged-basis-n30", "privileged-basis-n20-long", "privileged-basis-n30-long")
def privileged_results(profile: str | None = None, *, store: RunStore | None = None) -> dict:
    """Everything the chapter shows, from the three runs.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``.
    store : RunStore, optional

    Returns
    -------
    dict
        ``run`` (``privileged-basis``), ``models`` (:func:`model_frame`), ``best`` (its best
        rows, dense first), ``weights`` (:func:`weight_frame` of the best), ``curves``
        (:func:`best_of_n_frame`), ``ranges`` and ``paper_ranges`` (:func:`regime_ranges` by
        :func:`~superposition_lib.analysis.neurons.regime` and by the paper's names), ``shares``
        (:func:`regime_shares`), ``comparison`` (:func:`paper_comparison` of the grid);
        ``paper_models`` and ``paper_comparison`` (the same for ``privileged-basis-paper``),
        ``paper_curves`` (its :func:`best_of_n_frame` by the paper's regime names); for the
        larger-n runs ``code_models`` (model frames with ``n``) and ``code_weights`` (their best
        models, one slider step per n and density), and ``long_models`` (the model frames of
        their 50,000-step control, with ``n``).

    Examples
    --------
    >>> from pathlib import Path
    >>> import superposition_lib
    >>> data = RunStore(Path(superposition_lib.__file__).resolve().parent.parent / "data")
    >>> R = privileged_results("paper", store=data)
    >>> R["ranges"]["regime"].iloc[[0, -1]].tolist()
    ['monosemantic', 'pair code']
    """
    run = load("privileged-basis", profile, store=store)
    models = model_frame(run)
    paper_models = model_frame(load("privileged-basis-paper", profile, store=store))
    long_models = pd.concat([model_frame(load(f"privileged-basis-n{n}-long", profile, store=store))
                             .assign(n=n) for n in (20, 30)], ignore_index=True)
    best = models[models["best"]].sort_values("density", ascending=False)
    code_models, code_best, code_weights = [], [], []
    for n in (20, 30):
        r = load(f"privileged-basis-n{n}", profile, store=store)
        mf = model_frame(r).assign(n=n)
        b = mf[mf["best"]].sort_values("density", ascending=False)
        w = weight_frame(r, b).assign(n=n)
        w["step"] += sum(len(x) for x in code_best)
        code_models.append(mf)
        code_best.append(b)
        code_weights.append(w)
    return {"run": run, "models": models, "best": best, "weights": weight_frame(run, best),
            "curves": best_of_n_frame(models), "ranges": regime_ranges(best),
            "paper_ranges": regime_ranges(best.assign(regime=best["paper_regime"])),
            "shares": regime_shares(models), "comparison": paper_comparison(models),
            "paper_models": paper_models, "paper_comparison": paper_comparison(paper_models),
            "paper_curves": best_of_n_frame(paper_models.assign(
                regime=paper_models["paper_regime"])),
            "long_models": long_models,
            "code_models": pd.concat(code_models, ignore_index=True),
            "code_weights": pd.concat(code_weights, ignore_index=True)}
