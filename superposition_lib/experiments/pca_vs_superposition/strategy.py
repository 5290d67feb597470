"""How a model of correlated pairs uses its dimensions, and its per-model measurements.

How a model uses its capacity (:func:`classify_strategy`): every pair is *collapsed*
(:func:`~superposition_lib.analysis.pca.collapsed_sets`: both members represented and along their
sum (a + b)/√2), *split* (both represented, not collapsed), *single* (one member represented) or
*dropped*. Then the model is

- ``"linear"`` if it holds at most :data:`PCA_FPD` = 1.25 features per dimension ‖W‖_F²/m:
  no room for superposition, the linear model's regime (WᵀW close to a rank-m projection, which
  is what the linear optimum looks like: the PCA solution for c > 0, and any projection at
  c = 0, where no direction is principal);
- otherwise ``"collapsed"`` if at least one pair is collapsed and none is split: every
  represented pair is read along its principal component, and those components share the m
  dimensions in superposition;
- ``"mixture"`` if some pairs are collapsed and others split;
- ``"superposition"`` if no pair is collapsed (features in superposition, none merged).

A cell of the map takes the majority class of its seeds (ties go to the class of lower mean
loss). Losses are compared with two exact references from :mod:`~superposition_lib.analysis.pca`:
the linear model's optimum (the PCA solution,
:func:`~superposition_lib.analysis.pca.linear_optimal_loss`) and the best ReLU model without
superposition
(:func:`~superposition_lib.analysis.pca.no_superposition_loss`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...analysis import pca
from ...core import metrics
from ...core.metrics import REPRESENTED_NORM
from ...core.run import Run

__all__ = [
    "PCA_FPD",
    "STRATEGIES",
    "classify_strategy",
    "pc_cosines",
]

#: The strategies of :func:`classify_strategy`.
STRATEGIES = ("linear", "collapsed", "mixture", "superposition")

#: Features per dimension ‖W‖_F²/m up to which a model counts as ``"linear"``.
PCA_FPD = 1.25



def _pair_states(W, set_size: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(collapsed, represented-count) per set, shapes (..., sets)."""
    W = np.asarray(W, dtype=float)
    n = W.shape[-1]
    collapsed = pca.collapsed_sets(W, set_size)
    rep = (np.linalg.norm(W, axis=-2) > REPRESENTED_NORM).reshape(*W.shape[:-2], n // set_size,
                                                                  set_size).sum(-1)
    return collapsed, rep


def classify_strategy(W, set_size: int = 2) -> np.ndarray:
    """How each model uses its m dimensions (the rule in the module doc).

    Parameters
    ----------
    W : array_like, shape (..., m, n)
        Weights; features form sets of ``set_size`` consecutive features.
    set_size : int
        Features per correlated set.

    Returns
    -------
    numpy.ndarray of str, shape (...)
        One of :data:`STRATEGIES` per model.

    Examples
    --------
    >>> s = np.sqrt(0.5)
    >>> pca_W = [[s, s, 0, 0], [0, 0, s, s]]          # each pair on its own component
    >>> a = np.radians([0, 0, 90, 90, 180, 180, 270, 270])
    >>> square = [np.cos(a) * s, np.sin(a) * s]       # four collapsed pairs in two dimensions
    >>> sup_W = [[1, 0, -1, 0], [0, 1, 0, -1]]        # four features in two dimensions
    >>> mix_W = [[s, s, 1, 0, -s, -s], [0, 0, 0, 1, 0, 0]]   # collapsed, split, collapsed
    >>> [classify_strategy(W).item() for W in (pca_W, square, sup_W, mix_W)]
    ['linear', 'collapsed', 'superposition', 'mixture']
    """
    W = np.asarray(W, dtype=float)
    collapsed, rep = _pair_states(W, set_size)
    n_coll = collapsed.sum(-1)
    split = ((rep >= 2) & ~collapsed).sum(-1)
    fpd = metrics.features_per_dimension(W)
    return np.select(
        [fpd <= PCA_FPD, (n_coll >= 1) & (split == 0), n_coll >= 1],
        ["linear", "collapsed", "mixture"], "superposition")



def pc_cosines(W) -> np.ndarray:
    """For every collapsed pair: the cosine between how it is read and (a + b)/√2.

    A collapsed pair (:func:`~superposition_lib.analysis.pca.collapsed_sets`) has one hidden
    direction u = (W_a + W_b)/‖W_a + W_b‖; along it the model reads u·x = (u·W_a) a + (u·W_b) b.
    This is the pair's principal component (a + b)/√2 when the two weights are equal.

    Parameters
    ----------
    W : array_like, shape (..., m, n)
        Weights; features form consecutive pairs.

    Returns
    -------
    numpy.ndarray, shape (k,)
        cos((u·W_a, u·W_b), (1, 1)) for the k collapsed pairs of all models.

    Examples
    --------
    >>> np.round(pc_cosines([[0.7, 0.7, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]), 6)
    array([1.])
    >>> np.round(pc_cosines([[0.6, 0.3], [0.0, 0.0]]), 3)       # unequal weights
    array([0.949])
    """
    W = np.asarray(W, dtype=float)
    W = W.reshape(-1, *W.shape[-2:])
    out = []
    for k, s in zip(*np.nonzero(pca.collapsed_sets(W, 2))):
        a, b = W[k, :, 2 * s], W[k, :, 2 * s + 1]
        u = (a + b) / np.linalg.norm(a + b)
        read = np.array([u @ a, u @ b])
        out.append(read.sum() / np.sqrt(2) / np.linalg.norm(read))
    return np.array(out)


def _exchangeable(correlation, density) -> np.ndarray:
    """Where the members of a pair are indistinguishable from features of different pairs:
    c = 0, or p = 1 (every feature always present), so the pair's covariance c·p(1 − p)/4 is 0."""
    return (np.asarray(correlation) == 0) | (np.asarray(density) >= 1)


def _model_metrics(run: Run) -> pd.DataFrame:
    W = run.W.astype(float)
    cov = pca.spec_covariance(run.spec)[run.instance]
    m = W.shape[1]
    collapsed, rep = _pair_states(W)
    # the chance level: the same count with every a_i paired with the next pair's b
    n = W.shape[2]
    repaired = np.roll(np.arange(n).reshape(-1, 2), -1, axis=0)[:, 1]
    cross = np.stack([np.arange(0, n, 2), repaired], axis=1).ravel()
    chance = _pair_states(W[..., cross])[0] if n >= 4 else np.zeros_like(collapsed)
    lin = pca.linear_optimal_loss(cov, m=m)
    nosup = pca.no_superposition_loss(cov, m=m)
    corr = run.spec.correlation_array()[run.instance]
    align = pca.pca_alignment(W, cov, components=m)
    # where a pair's covariance c·p(1 − p)/4 vanishes every direction is principal (the
    # covariance is a multiple of the identity): the alignment is 1 by definition and says
    # nothing, so it is left out
    align = np.where(_exchangeable(corr, run.feature_probability[:, 0]), np.nan, align)
    return pd.DataFrame({
        "model": np.arange(len(W)), "cell": run.instance, "seed": run.restart,
        "correlation": corr, "density": run.feature_probability[:, 0],
        "loss": run.loss, "linear_optimal": lin, "no_superposition": nosup,
        "loss_vs_pca": run.loss / lin, "loss_vs_nosup": run.loss / nosup,
        "pca_alignment": align, "features_per_dim": metrics.features_per_dimension(W),
        "collapsed": collapsed.sum(-1), "collapsed_chance": chance.sum(-1),
        "split": ((rep >= 2) & ~collapsed).sum(-1),
        "represented": (np.linalg.norm(W, axis=1) > REPRESENTED_NORM).sum(-1),
        "strategy": classify_strategy(W)})
