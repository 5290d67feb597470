"""Experiments of the chapter "Computation in superposition" (``chapters/computation.qmd``).

The absolute-value model y' = ReLU(W₂ ReLU(W₁x) + b) of Elhage et al. (2022), section
"Computation in Superposition": inputs x_i are 0 with probability S, else Uniform[−1, 1], the
target is abs(x), and W₁ (m × n) and W₂ (n × m) are untied, so the model must compute with its
neurons, not only store features.

``abs-value-n3``
    n = 3 features, m = 6 neurons, importance 1, densities 1, 0.3 and 0.1, best of 8 restarts:
    room for every feature to get a ReLU(x_i) and a ReLU(−x_i) neuron, the paper's "no
    superposition" solution.
``abs-value``
    n = 100 features, m = 40 neurons, importance 0.8^i, densities 1, 0.3, 0.1, 0.03, 0.01,
    0.003, 0.001 (the paper's; the same as the basic results), 3 restarts each, all kept: the
    chapter's counts come with intervals over the 3 seeds.
``abs-value-long``
    The control for training length: the three sparsest densities for 5 times as many steps
    (50,000), 2 seeds each; at 1 − S = 0.001 a feature is present in about one sample of a
    batch of 1024, so 10,000 steps give each feature few gradient signals.
``abs-value-converge``
    ``abs-value`` at all seven densities for :data:`CONVERGE_STEPS` steps with
    :data:`CONVERGE_SEEDS` new seeds each, its weights kept every fifth of training: whether a
    model has converged is read from the last 20% of its training (:func:`convergence_frame`).
``abs-value-converge-long``
    ``abs-value-converge`` at the two densities where none of its models converged
    (:data:`CONVERGE_LONG_DENSITIES`), :data:`CONVERGE_LONG_STEPS` steps, weights every fifth
    of training as well.

The ``paper`` profile trains 10,000 steps with batch 1024; ``smoke`` trains 300 steps of batch
256 at learning rate 0.01 (seconds).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from ..analysis import neurons, stats
from ..core.config import ExperimentSpec
from ..core.data import FeatureDistribution
from ..core.models import forward
from ..core.run import Run
from ..core.store import RunStore
from . import privileged_basis
from .memo import remembered
from .registry import Experiment, current_profile, load, register

__all__ = [
    "ABLATION_SAMPLES",
    "ASYMMETRY",
    "CHAPTER",
    "CONVERGE_LONG_DENSITIES",
    "CONVERGE_LONG_STEPS",
    "CONVERGE_LOSS",
    "CONVERGE_SEEDS",
    "CONVERGE_STEPS",
    "DENSITIES",
    "LONG_DENSITIES",
    "SMALL_DENSITIES",
    "asymmetric_pairs",
    "computation_results",
    "convergence_frame",
    "converged_summary",
    "control_frame",
    "feature_frame",
    "importance_frame",
    "model_frame",
    "motif_ablation",
    "weight_frame",
]

#: The chapter's file stem.
CHAPTER = "computation"

#: Densities 1 − S of ``abs-value`` (the paper's).
DENSITIES = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)

#: Densities of ``abs-value-n3``.
SMALL_DENSITIES = (1.0, 0.3, 0.1)


def _profiles(n: int, m: int, importance_base: float, densities: tuple, restarts: int
              ) -> dict:
    paper = ExperimentSpec(
        model="absolute_value", n_features=n, n_hidden=m, feature_probability=densities,
        importance=tuple(float(importance_base ** i) for i in range(n)), steps=10_000,
        batch_size=1024, restarts=restarts, seed=0, history_every=500)
    smoke = paper.replace(steps=300, batch_size=256, lr=1e-2, restarts=min(restarts, 2),
                          history_every=None,
                          eval_samples=8192)
    return {"paper": paper, "smoke": smoke}


register(Experiment(
    "abs-value-n3", CHAPTER,
    "absolute value, 3 features, 6 neurons, densities 1-0.1, best of 8 restarts",
    _profiles(3, 6, 1.0, SMALL_DENSITIES, 8)))
#: Densities of the training-length control ``abs-value-long``.
LONG_DENSITIES = (0.01, 0.003, 0.001)

register(Experiment(
    "abs-value", CHAPTER,
    "absolute value, 100 features, 40 neurons, importance 0.8^i, 1-S from 1 to 0.001, 3 seeds",
    _profiles(100, 40, 0.8, DENSITIES, 3), best_of=False))
#: Largest relative change of the loss over the last 20% of training for a converged model.
CONVERGE_LOSS = 0.01

#: Seeds of ``abs-value-converge`` and ``abs-value-converge-long``.
CONVERGE_SEEDS = 5

#: Steps of ``abs-value-converge``.
CONVERGE_STEPS = 50_000

#: Densities of ``abs-value-converge-long``: those where no ``abs-value-converge`` model
#: converged in 50,000 steps.
CONVERGE_LONG_DENSITIES = (0.1, 0.03)

#: Steps of ``abs-value-converge-long``.
CONVERGE_LONG_STEPS = 150_000


def _converge_profiles(densities: tuple, steps: int) -> dict:
    # weights every fifth of training: the last snapshot before the end is at 80%, where
    # convergence_frame compares
    paper = _profiles(100, 40, 0.8, densities, CONVERGE_SEEDS)["paper"]
    smoke = _profiles(100, 40, 0.8, densities, 2)["smoke"]
    return {"paper": paper.replace(steps=steps, seed=1, snapshot_every=steps // 5),
            "smoke": smoke.replace(steps=600, seed=1, snapshot_every=600 // 5)}


register(Experiment(
    "abs-value-converge", CHAPTER,
    "absolute value, 100 features, 40 neurons, the paper's densities, 50k steps, 5 seeds, "
    "weights every 10k steps",
    _converge_profiles(DENSITIES, CONVERGE_STEPS), best_of=False))
register(Experiment(
    "abs-value-converge-long", CHAPTER,
    "abs-value-converge at 1-S = 0.1 and 0.03, 150k steps, 5 seeds, weights every 30k steps",
    _converge_profiles(CONVERGE_LONG_DENSITIES, CONVERGE_LONG_STEPS), best_of=False))
register(Experiment(
    "abs-value-long", CHAPTER,
    "absolute value, 100 features, 40 neurons, the three sparsest densities, 50k steps, 2 seeds",
    {profile: spec.replace(steps=(5 if profile == "paper" else 1) * spec.steps,
                           feature_probability=LONG_DENSITIES)
     for profile, spec in _profiles(100, 40, 0.8, DENSITIES, 2).items()}, best_of=False))


#: Least input-weight ratio, and least inverse output-weight ratio, of an asymmetric pair.
ASYMMETRY = 2.0


def _halves(W1: np.ndarray, W2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """W₁ (models, m, n) and W₂ (models, n, m) as 2n half-features: (models, m, 2n) and
    (models, 2n, m)."""
    return neurons.signed_halves(W1), np.concatenate([W2, W2], axis=1)


def model_frame(run: Run) -> pd.DataFrame:
    """One row per model: its neuron code over the 2n half-features x_i > 0 and x_i < 0.

    Parameters
    ----------
    run : Run
        An absolute-value run: W (models, m, n) is W₁ and W_out (models, n, m) is W₂.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``instance``, ``restart``, ``density``, ``loss``, the columns of
        :func:`~superposition_lib.analysis.neurons.model_codes` over the half-features (so
        ``represented`` counts halves), ``both_halves`` (features whose two halves are both
        represented), ``one_half`` (features with exactly one half represented: the model
        outputs ReLU(x_i) or ReLU(−x_i), half of abs(x_i)), ``own_neurons`` (features whose two
        halves each have a monosemantic
        neuron: the ReLU(x_i), ReLU(−x_i) solution), ``asymmetric`` (neurons in the
        asymmetric motif, :func:`asymmetric_pairs`) and ``best``.

    Examples
    --------
    >>> run = load("abs-value-n3", "smoke")
    >>> df = model_frame(run)
    >>> len(df) == run.W.shape[0], int(df["represented"].max()) <= 6
    (True, True)
    """
    W1h, W2h = _halves(run.W, run.W_out)
    n = run.W.shape[2]
    c = neurons.carries(W1h, W_out=W2h)
    represented = neurons.feature_gain(W1h, W2h) >= neurons.MIN_GAIN         # (models, 2n)
    mono = c & (c.sum(axis=2, keepdims=True) == 1)                            # (models, m, 2n)
    own = mono.any(axis=1)
    df = privileged_basis.model_frame(run, W1h, W2h)
    df["both_halves"] = (represented[:, :n] & represented[:, n:]).sum(axis=1)
    df["one_half"] = (represented[:, :n] ^ represented[:, n:]).sum(axis=1)
    df["own_neurons"] = (own[:, :n] & own[:, n:]).sum(axis=1)
    df["asymmetric"] = asymmetric_pairs(run.W, run.W_out).groupby("model").size().reindex(
        df["model"], fill_value=0).to_numpy()
    return df


def feature_frame(run: Run) -> pd.DataFrame:
    """One row per model and feature: how each half of the feature is carried.

    Parameters
    ----------
    run : Run
        An absolute-value run.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``density``, ``restart``, ``feature``, ``importance``, and per half
        (``pos_``, ``neg_``): ``gain`` (:func:`~superposition_lib.analysis.neurons.feature_gain`),
        ``neurons`` (how many neurons carry it) and ``own`` (whether a monosemantic neuron
        carries it); and for the whole feature ``computed`` (both halves represented: the
        model outputs abs(x_i)) and ``own`` (both halves on monosemantic neurons of their own).

    Examples
    --------
    >>> run = load("abs-value-n3", "smoke")
    >>> len(feature_frame(run)) == run.W.shape[0] * 3
    True
    """
    W1h, W2h = _halves(run.W, run.W_out)
    k, m, n = run.W.shape
    c = neurons.carries(W1h, W_out=W2h)
    own = (c & (c.sum(axis=2, keepdims=True) == 1)).any(axis=1)
    gain = neurons.feature_gain(W1h, W2h)
    df = pd.DataFrame({"model": np.repeat(np.arange(k), n),
                       "density": np.repeat(run.feature_probability[:, 0], n),
                       "restart": np.repeat(run.restart, n),
                       "feature": np.tile(np.arange(n), k),
                       "importance": run.importance.reshape(-1)})
    for name, half in (("pos", slice(0, n)), ("neg", slice(n, 2 * n))):
        df[f"{name}_gain"] = gain[:, half].reshape(-1)
        df[f"{name}_neurons"] = c.sum(axis=1)[:, half].reshape(-1)
        df[f"{name}_own"] = own[:, half].reshape(-1)
    df["computed"] = (df["pos_gain"] >= neurons.MIN_GAIN) & (df["neg_gain"] >= neurons.MIN_GAIN)
    df["own"] = df["pos_own"] & df["neg_own"]
    return df


def importance_frame(features: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """Per density, for the ``top`` most important features and for the others: the share
    computed with both halves and the share on neurons of their own.

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`feature_frame` rows (features in importance order).
    top : int
        How many of the most important features form the first group.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``density`` (dense first), columns ``top_computed``, ``top_own``,
        ``rest_computed``, ``rest_own``.

    Examples
    --------
    >>> f = pd.DataFrame({"density": 1.0, "feature": [0, 1, 2], "computed": [True, True, False],
    ...                   "own": [True, False, False]})
    >>> importance_frame(f, top=2).iloc[0].tolist()
    [1.0, 0.5, 0.0, 0.0]
    """
    group = np.where(features["feature"] < top, "top", "rest")
    wide = (features.assign(group=group).groupby(["density", "group"])[["computed", "own"]]
            .mean().unstack("group"))
    wide.columns = [f"{g}_{q}" for q, g in wide.columns]
    return (wide.reindex(columns=["top_computed", "top_own", "rest_computed", "rest_own"])
            .sort_index(ascending=False))


def asymmetric_pairs(W1: np.ndarray, W2: np.ndarray, ratio: float = ASYMMETRY
                     ) -> pd.DataFrame:
    """Neurons that carry exactly two half-features, one read strongly and written weakly,
    the other read weakly and written strongly: our reading of the paper's asymmetric
    superposition motif.

    For such a neuron k with halves a (larger input weight) and b: abs(W₁_ka) / abs(W₁_kb) >= ratio
    and W₂_bk / W₂_ak >= ratio, so both halves reach the output with comparable gain while a
    strong a drives a large spurious output on b (which the output ReLU and bias must cut).

    Parameters
    ----------
    W1 : array_like, shape (models, m, n)
        Input weights.
    W2 : array_like, shape (models, n, m)
        Output weights.
    ratio : float
        Least input ratio and least inverse output ratio, > 1.

    Returns
    -------
    pandas.DataFrame
        One row per motif: ``model``, ``neuron``, ``strong`` and ``weak`` (half-feature
        indices: i for x_i > 0, n + i for x_i < 0), ``input_ratio``, ``output_ratio``.

    Raises
    ------
    ValueError
        If ``ratio`` is not above 1.

    Examples
    --------
    Neuron 0 reads x₀ > 0 with weight 1 and x₁ > 0 with weight 0.25, and writes feature 1
    four times as strongly as feature 0:

    >>> W1 = np.array([[[1.0, 0.25], [0.0, 0.0]]])
    >>> W2 = np.array([[[1.0, 0.0], [4.0, 0.0]]])
    >>> asymmetric_pairs(W1, W2)[["neuron", "strong", "weak"]].values.tolist()
    [[0, 0, 1]]
    """
    if not ratio > 1:
        raise ValueError(f"ratio: must be > 1; got {ratio!r}")
    W1h, W2h = _halves(np.asarray(W1, dtype=float), np.asarray(W2, dtype=float))
    c = neurons.carries(W1h, W_out=W2h)
    rows = []
    for model, neuron in zip(*np.nonzero(c.sum(axis=2) == 2)):
        a, b = np.flatnonzero(c[model, neuron])
        if W1h[model, neuron, a] < W1h[model, neuron, b]:
            a, b = b, a
        r_in = W1h[model, neuron, a] / W1h[model, neuron, b]
        r_out = W2h[model, b, neuron] / max(W2h[model, a, neuron], 1e-12)
        if r_in >= ratio and r_out >= ratio:
            rows.append({"model": int(model), "neuron": int(neuron), "strong": int(a),
                         "weak": int(b), "input_ratio": float(r_in),
                         "output_ratio": float(r_out)})
    return pd.DataFrame(rows, columns=["model", "neuron", "strong", "weak", "input_ratio",
                                       "output_ratio"])


def _errors(run: Run, model: int, W1: np.ndarray, x: torch.Tensor, target: torch.Tensor
            ) -> np.ndarray:
    """Every sample's weighted squared error per feature, I_j (y'_j − target_j)², of one model
    of the run with input weights ``W1`` (m, n), on its inputs ``x`` and targets ``target``
    (samples, n): shape (samples, n)."""
    pick = slice(model, model + 1)
    params = {"W": torch.as_tensor(W1[None], dtype=torch.float32),
              "W_out": torch.as_tensor(run.W_out[pick], dtype=torch.float32),
              "b": torch.as_tensor(run.b[pick], dtype=torch.float32)}
    importance = torch.as_tensor(run.importance[pick], dtype=torch.float32)[:, None, :]
    with torch.no_grad():
        out = forward(params, x[None], run.spec.model)
    return ((out - target).square() * importance)[0].double().numpy()


def motif_ablation(run: Run, motifs: pd.DataFrame, *, samples: int = 8192, controls: int = 5,
                   seed: int = 0) -> pd.DataFrame:
    """Silence the inhibitory neuron of every asymmetric motif and measure what the loss loses.

    In a motif (:func:`asymmetric_pairs`) neuron k reads half-feature a strongly and b weakly,
    so a present a drives a spurious output on b's feature. Its *inhibitory neuron* is the
    other neuron that reads a (positive weight on half a) and writes negatively to b's feature,
    the most strongly (the most negative product of the two weights): it cancels that spurious
    output. Silencing a neuron sets its row of W₁ to 0. Losses are measured on the same fresh
    samples as the intact model's (paired), against silencing, as controls, other neurons of
    the same model drawn at random among those that carry a feature.

    Parameters
    ----------
    run : Run
        An absolute-value run (W is W₁ (models, m, n), W_out is W₂ (models, n, m)).
    motifs : pandas.DataFrame
        :func:`asymmetric_pairs` of the run.
    samples : int
        Fresh inputs per model.
    controls : int
        Control neurons per motif (fewer if the model has fewer).
    seed : int
        Seed of the inputs and of the control draw.

    Returns
    -------
    pandas.DataFrame
        One row per motif: ``model``, ``neuron``, ``strong``, ``weak``, ``inhibitor`` (−1 if
        no neuron inhibits the motif), ``inhibition`` (the product W₁ · W₂ of its path from a
        to b's output), ``loss`` (the intact model's mean loss); the relative rise of the loss
        when the inhibitor is silenced, ``rise``, with its standard error over the paired
        samples, ``rise_se``; the same for the motif's own neuron, ``motif_rise``, and the mean
        over the control neurons, ``control_rise``; and the relative rise of the weak
        feature's own error term, ``weak_rise`` (inhibitor silenced) and
        ``control_weak_rise`` (the controls' mean).

    Examples
    --------
    >>> run = load("abs-value", "smoke")
    >>> m = asymmetric_pairs(run.W, run.W_out)
    >>> list(motif_ablation(run, m, samples=64).columns[:5])
    ['model', 'neuron', 'strong', 'weak', 'inhibitor']
    """
    columns = ["model", "neuron", "strong", "weak", "inhibitor", "inhibition", "loss", "rise",
               "rise_se", "motif_rise", "control_rise", "weak_rise", "control_weak_rise"]
    if not len(motifs):
        return pd.DataFrame(columns=columns)
    W1h, W2h = _halves(run.W, run.W_out)
    n = run.W.shape[2]
    used = neurons.carries(W1h, W_out=W2h).any(axis=2)                    # (models, m)
    rng = np.random.default_rng(seed)
    dist = FeatureDistribution.from_spec(run.spec)
    x = dist.sample(samples, rng)[run.models]
    target = dist.target(x)                                                # |x|
    clean = {int(k): _errors(run, int(k), run.W[k], x[k], target[k])      # (samples, n) each
             for k in np.unique(motifs["model"])}

    def rise(model: int, neuron: int, feature: int) -> tuple[float, float, float]:
        """(relative rise of the loss, its standard error, relative rise of one feature's
        error) when ``neuron`` of ``model`` is silenced."""
        W1 = run.W[model].copy()
        W1[neuron] = 0.0
        errors = _errors(run, model, W1, x[model], target[model])
        base = clean[model]
        d = errors.mean(-1) - base.mean(-1)
        total = base.mean()
        return (float(d.mean() / total), float(d.std(ddof=1) / np.sqrt(samples) / total),
                float(errors[:, feature].mean() / max(base[:, feature].mean(), 1e-30) - 1))

    rows = []
    for r in motifs.itertuples():
        weak_feature = r.weak % n
        path = W1h[r.model, :, r.strong] * W2h[r.model, r.weak, :]          # (m,)
        path[r.neuron] = 0.0
        inhibitor = int(np.argmin(path)) if path.min() < 0 else -1
        row = {"model": r.model, "neuron": r.neuron, "strong": r.strong, "weak": r.weak,
               "inhibitor": inhibitor,
               "inhibition": float(path.min()) if inhibitor >= 0 else 0.0,
               "loss": float(clean[r.model].mean())}
        if inhibitor >= 0:
            row["rise"], row["rise_se"], row["weak_rise"] = rise(r.model, inhibitor,
                                                                 weak_feature)
        else:
            row["rise"] = row["rise_se"] = row["weak_rise"] = np.nan
        row["motif_rise"] = rise(r.model, r.neuron, weak_feature)[0]
        others = np.flatnonzero(used[r.model])
        others = others[(others != r.neuron) & (others != inhibitor)]
        pick = rng.choice(others, min(controls, len(others)), replace=False)
        control = [rise(r.model, k, weak_feature) for k in pick]
        row["control_rise"] = float(np.mean([c[0] for c in control])) if control else np.nan
        row["control_weak_rise"] = float(np.mean([c[2] for c in control])) if control else np.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def weight_frame(run: Run, models: pd.DataFrame, *, top: int = 8) -> pd.DataFrame:
    """W₁ of some models in long form, each neuron rescaled so its largest weight magnitude is 1
    (the paper's view), neurons ordered by the most important feature one of whose halves they
    carry (:func:`~superposition_lib.analysis.neurons.neuron_order`).

    Parameters
    ----------
    run : Run
    models : pandas.DataFrame
        Rows of :func:`model_frame` (``model``, ``density``, ``regime``), in slider order.
    top : int
        Each neuron's ``top`` largest weights (in magnitude) are kept; the rest are summed per
        sign into one bar of feature −1 ("all others"), which bounds the figure's data at
        (top + 2) rows per neuron.

    Returns
    -------
    pandas.DataFrame
        As :func:`~superposition_lib.experiments.privileged_basis.weight_frame`, with
        ``weight`` the rescaled W₁ (importance NaN for the feature −1 rows).

    Examples
    --------
    >>> run = load("abs-value", "smoke")
    >>> w = weight_frame(run, model_frame(run).query("best"), top=3)
    >>> int(w.groupby(["step", "neuron"]).size().max()) <= 3 + 2
    True
    """
    W1h, W2h = _halves(run.W, run.W_out)
    keep = models["model"].to_numpy()
    n = run.W.shape[2]
    by_feature = np.arange(2 * n).reshape(2, n).T.reshape(-1)     # 0+, 0−, 1+, 1−, …
    order = neurons.neuron_order(W1h[keep][:, :, by_feature], W2h[keep][:, by_feature])
    W = run.W[keep]                                                   # (models, m, n)
    scale = np.abs(W).max(axis=2, keepdims=True)
    scaled = np.divide(W, scale, out=np.zeros_like(W), where=scale > 0)
    rank = np.argsort(np.argsort(-np.abs(scaled), axis=2, kind="stable"), axis=2)
    shown = np.where(rank < top, scaled, 0.0)
    rest = scaled - shown
    bars = np.concatenate([shown, np.clip(rest, 0, None).sum(2, keepdims=True),
                           np.clip(rest, None, 0).sum(2, keepdims=True)], axis=2)
    importance = np.concatenate([run.importance[keep], np.full((len(keep), 2), np.nan)], 1)
    long = privileged_basis.long_weights(models, bars, order, importance,
                                         np.r_[np.arange(n), -1, -1])
    return long[long["weight"] != 0].reset_index(drop=True)


def convergence_frame(run: Run) -> pd.DataFrame:
    """Whether every model of a run has converged: its loss and its neuron code unchanged over
    the last 20% of training.

    The run's weight snapshot at 80% of its steps is compared with its final weights: the loss
    on the snapshots' fixed evaluation batch (the same samples at both, so the change is not
    sampling noise) and the classification of :func:`model_frame` (the regime, the features
    computed with both halves and those with neurons of their own).

    Parameters
    ----------
    run : Run
        An absolute-value run with weight snapshots, one of them at 80% of its steps
        (``abs-value-converge``).

    Returns
    -------
    pandas.DataFrame
        The final :func:`model_frame` rows, plus ``loss_change`` (the relative change of the
        snapshot loss from 80% to 100% of training), ``code_change`` (whether the regime or
        the counts ``both_halves`` and ``own_neurons`` differ between the two) and
        ``converged`` (``|loss_change|`` at most :data:`CONVERGE_LOSS` and no code change).

    Raises
    ------
    ValueError
        If the run has no weight snapshot at 80% of its steps.

    Examples
    --------
    >>> df = convergence_frame(load("abs-value-converge", "smoke"))
    >>> {"loss_change", "code_change", "converged"} <= set(df.columns)
    True
    """
    snaps = run.snapshots
    at = np.flatnonzero(snaps.steps == round(0.8 * run.spec.steps))
    if snaps.W is None or len(at) == 0 or snaps.steps[-1] != run.spec.steps:
        raise ValueError("run: needs weight snapshots at 80% and at 100% of its steps; "
                         f"has steps {snaps.steps.tolist()}")
    k = int(at[0])
    final = model_frame(run)
    before = model_frame(replace(run, W=snaps.W[k], W_out=snaps.W_out[k], b=snaps.b[k]))
    final["loss_change"] = snaps.loss[-1] / snaps.loss[k] - 1
    final["code_change"] = ((final["regime"].to_numpy() != before["regime"].to_numpy())
                            | (final["both_halves"].to_numpy() != before["both_halves"].to_numpy())
                            | (final["own_neurons"].to_numpy() != before["own_neurons"].to_numpy()))
    final["converged"] = (final["loss_change"].abs() <= CONVERGE_LOSS) & ~final["code_change"]
    return final


def converged_summary(run: Run, top: int = 10) -> pd.DataFrame:
    """Per density, how many seeds converged and the chapter's numbers over the seeds, with
    bootstrap intervals.

    Parameters
    ----------
    run : Run
        As for :func:`convergence_frame`.
    top : int
        How many of the most important features count as "top".

    Returns
    -------
    pandas.DataFrame
        One row per density, dense first: ``density``, ``seeds``, ``converged`` (seeds that
        meet :func:`convergence_frame`'s criterion), ``loss_change`` (the largest relative loss
        change over the last 20% of training, in absolute value), and for ``polysemantic``
        (neurons), ``both_halves`` (features computed), ``top_computed`` and ``top_own`` (shares
        of the ``top`` most important features computed with both halves and on neurons of
        their own) the mean over seeds with its 95% bootstrap interval (columns ``<name>``,
        ``<name>_low``, ``<name>_high``).

    Examples
    --------
    >>> s = converged_summary(load("abs-value-converge", "smoke"))
    >>> s["seeds"].tolist() == [2] * len(DENSITIES)
    True
    """
    models = convergence_frame(run)
    features = feature_frame(run)
    per_model = (features[features["feature"] < top].groupby("model")[["computed", "own"]]
                 .mean().rename(columns={"computed": "top_computed", "own": "top_own"}))
    models = models.join(per_model, on="model")
    rows = []
    for density, g in models.groupby("density", sort=False):
        row = {"density": float(density), "seeds": len(g), "converged": int(g["converged"].sum()),
               "loss_change": float(g["loss_change"].abs().max())}
        for name in ("polysemantic", "both_halves", "top_computed", "top_own"):
            row[name], row[f"{name}_low"], row[f"{name}_high"] = stats.bootstrap_interval(
                g[name].to_numpy(dtype=float))
        rows.append(row)
    return pd.DataFrame(rows).sort_values("density", ascending=False).reset_index(drop=True)


def control_frame(runs: dict, top: int = 10) -> pd.DataFrame:
    """The training-length control: per run and density, the means over seeds of the numbers
    the chapter compares.

    Parameters
    ----------
    runs : dict of str to Run
        Absolute-value runs by name (e.g. 10,000 and 50,000 steps); only the densities common
        to all of them are kept.
    top : int
        How many of the most important features count as "top".

    Returns
    -------
    pandas.DataFrame
        ``run``, ``steps``, ``density``, ``seeds``, ``loss``, ``polysemantic``,
        ``both_halves``, ``one_half``, ``top_computed`` and ``top_own`` (shares of the ``top``
        most important features with both halves represented, and with both halves on
        monosemantic neurons of their own).

    Examples
    --------
    >>> import tempfile
    >>> store = RunStore(tempfile.mkdtemp())
    >>> runs = {name: load(name, "smoke", store=store) for name in ("abs-value", "abs-value-long")}
    >>> sorted(set(control_frame(runs)["density"])) == sorted(LONG_DENSITIES)
    True
    """
    frames = []
    for name, run in runs.items():
        models = model_frame(run)
        tops = importance_frame(feature_frame(run), top)[["top_computed", "top_own"]]
        by = models.groupby("density").agg(
            seeds=("restart", "nunique"), loss=("loss", "mean"),
            polysemantic=("polysemantic", "mean"), both_halves=("both_halves", "mean"),
            one_half=("one_half", "mean"))
        frames.append(by.join(tops).reset_index().assign(run=name, steps=run.spec.steps))
    out = pd.concat(frames, ignore_index=True)
    common = set.intersection(*(set(f["density"]) for f in frames))
    out = out[out["density"].isin(common)]
    return (out[["run", "steps", "density", "seeds", "loss", "polysemantic", "both_halves",
                 "one_half", "top_computed", "top_own"]]
            .sort_values(["density", "steps"], ascending=[False, True]).reset_index(drop=True))


#: Fresh inputs per model of :func:`motif_ablation` in :func:`computation_results`, by profile.
ABLATION_SAMPLES = {"paper": 8192, "smoke": 256}


@remembered("abs-value-n3", "abs-value", "abs-value-long", "abs-value-converge",
            "abs-value-converge-long")
def computation_results(profile: str | None = None, *, store: RunStore | None = None) -> dict:
    """Everything the chapter shows, from ``abs-value-n3``, ``abs-value`` and its controls.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``.
    store : RunStore, optional

    Returns
    -------
    dict
        ``small`` and ``large`` (the runs), ``small_models`` and ``large_models``
        (:func:`model_frame`), ``small_weights`` and ``large_weights`` (:func:`weight_frame`
        of the lowest-loss model per density, dense first), ``features``
        (:func:`feature_frame` of ``abs-value``), ``motifs`` (:func:`asymmetric_pairs` of
        ``abs-value``), ``ablation`` (:func:`motif_ablation` of them), ``control``
        (:func:`control_frame` of ``abs-value`` and ``abs-value-long``), ``converge`` (the
        ``abs-value-converge`` run) and ``converged`` (its :func:`converged_summary`),
        ``converge_long`` and ``converged_long`` (the same for ``abs-value-converge-long``).

    Examples
    --------
    The committed ``paper`` runs (in the repository's ``data/``) load in seconds:

    >>> from pathlib import Path
    >>> import superposition_lib
    >>> data = RunStore(Path(superposition_lib.__file__).resolve().parent.parent / "data")
    >>> C = computation_results("paper", store=data)
    >>> C["small_models"].query("best")["own_neurons"].tolist()
    [3, 3, 3]
    """
    out = {}
    for key, name in (("small", "abs-value-n3"), ("large", "abs-value")):
        run = load(name, profile, store=store)
        models = model_frame(run)
        best = models[models["best"]].sort_values("density", ascending=False)
        out.update({key: run, f"{key}_models": models,
                    f"{key}_weights": weight_frame(run, best)})
    out["features"] = feature_frame(out["large"])
    out["motifs"] = asymmetric_pairs(out["large"].W, out["large"].W_out)
    out["ablation"] = motif_ablation(out["large"], out["motifs"],
                                     samples=ABLATION_SAMPLES[current_profile(profile)])
    long = load("abs-value-long", profile, store=store)
    out["control"] = control_frame({"abs-value": out["large"], "abs-value-long": long})
    out["converge"] = load("abs-value-converge", profile, store=store)
    out["converged"] = converged_summary(out["converge"])
    out["converge_long"] = load("abs-value-converge-long", profile, store=store)
    out["converged_long"] = converged_summary(out["converge_long"])
    return out
