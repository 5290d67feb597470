"""Metrics on toy-model weights.

The quantities of Elhage et al., "Toy Models of Superposition", Transformer Circuits
Thread, 2022 (arXiv:2209.10652): feature norms, the Gram matrix WᵀW, per-feature
superposition, feature dimensionality D_i and dimensions per feature D*.

Conventions: for one model W has shape (m, n), with m hidden dimensions and n features;
column ``W[:, i]`` is feature i's direction W_i and Ŵ_i = W_i / ‖W_i‖. Every function
accepts a NumPy array, anything array-like, or a torch tensor of shape (..., m, n): leading
dimensions (instances, snapshots, ...) are batch dimensions. Computation is in float64 and
results are NumPy arrays (NumPy scalars when W is a single m × n matrix).
"""

from __future__ import annotations

import numpy as np
import torch

from .shapes import PerFeature, Weights

__all__ = [
    "feature_norms",
    "gram",
    "superposition",
    "feature_dimensionality",
    "dimensions_per_feature",
    "features_per_dimension",
    "n_represented",
    "REPRESENTED_NORM",
]

#: ‖W_i‖ above which a feature counts as *represented*, throughout the book: learned norms sit
#: near 1 or near 0 (Elhage et al., 2022, count "features represented" the same way).
REPRESENTED_NORM = 0.5


def _as_float64(W) -> np.ndarray:
    """Return W as a float64 NumPy array of shape (..., m, n), validated."""
    if isinstance(W, torch.Tensor):
        W = W.detach().cpu().to(torch.float64).numpy()
    W = np.asarray(W, dtype=np.float64)
    if W.ndim < 2 or W.shape[-2] == 0 or W.shape[-1] == 0:
        raise ValueError(
            f"W must have shape (..., m, n) with m >= 1 hidden dimensions and n >= 1 "
            f"features; got shape {W.shape}"
        )
    if not np.isfinite(W).all():
        raise ValueError("W must contain only finite values; found NaN or inf")
    return W


def _gram(W: np.ndarray) -> np.ndarray:
    return np.swapaxes(W, -1, -2) @ W


def _squared_projections(W: np.ndarray, eps: float):
    """Feature norms, the learned mask (norm > eps) and P_ij = (Ŵ_i · W_j)², shape (..., n, n)."""
    if not eps >= 0:  # also rejects NaN
        raise ValueError(f"eps must be a non-negative number; got {eps!r}")
    norms = np.linalg.norm(W, axis=-2)
    learned = norms > eps
    safe_norms = np.where(learned, norms, 1.0)
    return norms, learned, (_gram(W) / safe_norms[..., :, None]) ** 2


def feature_norms(W: Weights) -> PerFeature:
    """Length ‖W_i‖ of each feature's direction.

    A represented feature has norm ≈ 1, an unrepresented one ≈ 0.

    Parameters
    ----------
    W : array_like or torch.Tensor, shape (..., m, n)
        Weights; column ``W[..., :, i]`` is feature i's direction.

    Returns
    -------
    norms : numpy.ndarray, shape (..., n)
        Euclidean norm of every column.

    Examples
    --------
    >>> feature_norms([[3.0, 0.0], [4.0, 1.0]])
    array([5., 1.])
    """
    return np.linalg.norm(_as_float64(W), axis=-2)


def gram(W: Weights) -> np.ndarray:
    """Gram matrix WᵀW of the feature directions.

    Entry (i, j) is W_i · W_j: the diagonal holds squared norms, the off-diagonal entries
    the interference between features.

    Parameters
    ----------
    W : array_like or torch.Tensor, shape (..., m, n)
        Weights; column ``W[..., :, i]`` is feature i's direction.

    Returns
    -------
    G : numpy.ndarray, shape (..., n, n)
        ``G[..., i, j] = W_i · W_j``.

    Examples
    --------
    >>> gram([[1.0, -1.0]])
    array([[ 1., -1.],
           [-1.,  1.]])
    """
    return _gram(_as_float64(W))


def superposition(W: Weights, *, eps: float = 1e-6) -> np.ndarray:
    """Superposition of each feature, Σ_{j≠i} (Ŵ_i · W_j)².

    0 means feature i is orthogonal to every other feature; 1 or more means some group of
    other features activates direction W_i as strongly as feature i itself.

    Parameters
    ----------
    W : array_like or torch.Tensor, shape (..., m, n)
        Weights; column ``W[..., :, i]`` is feature i's direction.
    eps : float, default 1e-6
        Features with norm ≤ `eps` (no direction to project on) get superposition 0.

    Returns
    -------
    s : numpy.ndarray, shape (..., n)
        Superposition of every feature.

    Examples
    --------
    >>> superposition([[1.0, -1.0]])  # an antipodal pair in one dimension
    array([1., 1.])
    >>> superposition(np.eye(2))
    array([0., 0.])
    """
    W = _as_float64(W)
    _, learned, proj = _squared_projections(W, eps)
    off_diagonal = ~np.eye(W.shape[-1], dtype=bool)
    return np.where(learned, (proj * off_diagonal).sum(axis=-1), 0.0)


def feature_dimensionality(W: Weights, *, eps: float = 1e-6) -> PerFeature:
    """Feature dimensionality D_i = ‖W_i‖² / Σ_j (Ŵ_i · W_j)², the sum including j = i.

    The fraction of a hidden dimension feature i gets: 1 for a feature orthogonal to all
    others, m/k for each vertex of a uniform polytope of k unit vectors in m dimensions
    (antipodal pair 1/2, triangle 2/3, pentagon 2/5, tetrahedron 3/4, square antiprism 3/8),
    0 for an unlearned feature. It lies in [0, 1], is unchanged by a global rescaling of W,
    and Σ_i D_i ≤ m with equality for tight frames.

    Parameters
    ----------
    W : array_like or torch.Tensor, shape (..., m, n)
        Weights; column ``W[..., :, i]`` is feature i's direction.
    eps : float, default 1e-6
        Features with norm ≤ `eps` count as unlearned and get D_i = 0.

    Returns
    -------
    D : numpy.ndarray, shape (..., n)
        Dimensionality of every feature.

    Examples
    --------
    >>> feature_dimensionality([[1.0, -1.0]])  # an antipodal pair (digon)
    array([0.5, 0.5])
    >>> feature_dimensionality([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])  # third is unlearned
    array([1., 1., 0.])
    >>> angles = 2 * np.pi * np.arange(3) / 3
    >>> np.round(feature_dimensionality([np.cos(angles), np.sin(angles)]), 4)  # triangle
    array([0.6667, 0.6667, 0.6667])
    """
    W = _as_float64(W)
    norms, learned, proj = _squared_projections(W, eps)
    denominator = np.where(learned, proj.sum(axis=-1), 1.0)
    return np.where(learned, norms**2 / denominator, 0.0)


def dimensions_per_feature(W: Weights) -> np.ndarray:
    """Dimensions per feature D* = m / ‖W‖_F².

    ‖W‖_F² = Σ_i ‖W_i‖² approximates the number of represented features, so D* is the
    number of hidden dimensions per represented feature.

    Parameters
    ----------
    W : array_like or torch.Tensor, shape (..., m, n)
        Weights; column ``W[..., :, i]`` is feature i's direction.

    Returns
    -------
    D_star : numpy.ndarray, shape (...)
        D* of every model; ``inf`` for an all-zero W.

    Examples
    --------
    >>> float(dimensions_per_feature([[1.0, -1.0]]))
    0.5
    >>> dimensions_per_feature(np.stack([np.eye(2), np.zeros((2, 2))]))
    array([ 1., inf])
    """
    W = _as_float64(W)
    with np.errstate(divide="ignore"):
        return W.shape[-2] / np.sum(W**2, axis=(-2, -1))


def features_per_dimension(W: Weights) -> np.ndarray:
    """Features per dimension ‖W‖_F² / m, the reciprocal of D*.

    The quantity the paper tracks in its adversarial-vulnerability section.

    Parameters
    ----------
    W : array_like or torch.Tensor, shape (..., m, n)
        Weights; column ``W[..., :, i]`` is feature i's direction.

    Returns
    -------
    f : numpy.ndarray, shape (...)
        ‖W‖_F² / m of every model.

    Examples
    --------
    >>> angles = 2 * np.pi * np.arange(5) / 5
    >>> float(features_per_dimension([np.cos(angles), np.sin(angles)]))  # pentagon
    2.5
    """
    W = _as_float64(W)
    return np.sum(W**2, axis=(-2, -1)) / W.shape[-2]


def n_represented(W: Weights, threshold: float = REPRESENTED_NORM) -> np.ndarray:
    """Number of represented features: those with ‖W_i‖ > `threshold`.

    Parameters
    ----------
    W : array_like or torch.Tensor, shape (..., m, n)
        Weights; column ``W[..., :, i]`` is feature i's direction.
    threshold : float, default :data:`REPRESENTED_NORM`
        Norm above which a feature counts as represented (learned norms are ≈ 1 or ≈ 0).

    Returns
    -------
    count : numpy.ndarray of int, shape (...)
        Represented features in every model.

    Examples
    --------
    >>> W = np.stack([np.diag([1.0, 0.9]), np.diag([1.0, 0.1])])
    >>> n_represented(W)
    array([2, 1])
    """
    return np.sum(feature_norms(W) > threshold, axis=-1)
