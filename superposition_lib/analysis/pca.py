"""PCA baselines for toy models, and detection of collapsed correlated sets.

Elhage et al. (2022, section "Superposition with correlated features") observe that PCA and
superposition are complementary strategies: a correlated pair (a, b) squeezed into too little
capacity is represented by its principal component (a + b)/√2, and as density rises more sets
collapse, ending in a PCA-like solution. This module gives the reference points to measure that
trade-off against:

- the importance-weighted covariance Σ̃ of the data and its principal components
  (:func:`weighted_covariance`, :func:`principal_components`, :func:`fourier_spectrum`,
  :func:`spec_covariance`);
- how much of a model's W lies in the top principal subspace (:func:`pca_alignment`), and, for
  circulant data, in each Fourier frequency (:func:`fourier_weight_shares`);
- the exact optimal loss of the linear model, the PCA solution (:func:`linear_optimal_loss`,
  :func:`linear_optimal_W`), and the loss of the best ReLU-output model without superposition
  (:func:`no_superposition_loss`);
- whether each correlated set is represented by its mean direction (:func:`set_cosines`,
  :func:`collapsed_sets`).

For features per dimension ‖W‖_F²/m use
:func:`superposition_lib.core.metrics.features_per_dimension`.

Why the covariance (and not the second moment). The linear model x' = WᵀWx + b, with the loss of
:func:`superposition_lib.core.models.per_model_loss`, ``L = (1/n) Σ_i I_i E[(x_i − x'_i)²]``, has
the optimal bias b = (1 − WᵀW) E[x]; what remains is the error on the centred data, so only the
covariance Σ matters. Substituting y = D^{1/2} x with D = diag(I) turns the weighted loss into a
plain one on data of covariance ``Σ̃ = D^{1/2} Σ D^{1/2}`` (rows and columns weighted by √I_i).

Conventions: W has shape (..., m, n) (column ``W[..., :, i]`` is feature i's direction, row r is
hidden unit r's weights on the features); covariances have shape (..., n, n) and importances
(..., n), leading dimensions broadcast. Inputs may be NumPy arrays, anything array-like or torch
tensors; computation is in float64 and results are NumPy arrays.
"""

from __future__ import annotations

import numpy as np
import torch

from ..core.config import ExperimentSpec
from ..core.data import FeatureDistribution
from ..core.metrics import _as_float64

__all__ = [
    "collapsed_sets",
    "fourier_spectrum",
    "fourier_weight_shares",
    "linear_optimal_W",
    "linear_optimal_loss",
    "no_superposition_loss",
    "pca_alignment",
    "principal_components",
    "set_cosines",
    "spec_covariance",
    "weighted_covariance",
]


def _array(x, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().to(torch.float64).numpy()
    x = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x).all():
        raise ValueError(f"{name} must contain only finite values; found NaN or inf")
    return x


def _covariance(covariance) -> np.ndarray:
    cov = _array(covariance, "covariance")
    if cov.ndim < 2 or cov.shape[-1] != cov.shape[-2] or cov.shape[-1] == 0:
        raise ValueError(f"covariance must have shape (..., n, n) with n >= 1; got {cov.shape}")
    return cov


def weighted_covariance(covariance, importance=None) -> np.ndarray:
    """Importance-weighted covariance Σ̃_ij = √I_i Σ_ij √I_j.

    The linear model's loss (with its optimal bias) is ``(1/n) tr((1 − P) Σ̃ (1 − P))`` when
    P = WᵀW commutes with diag(I); see the module docstring.

    Parameters
    ----------
    covariance : array_like or torch.Tensor, shape (..., n, n)
        Covariance Σ of the features (e.g. :meth:`FeatureDistribution.covariance
        <superposition_lib.core.data.FeatureDistribution.covariance>`).
    importance : array_like or torch.Tensor, shape (..., n), optional
        Non-negative importance I_i of every feature; all ones if omitted.

    Returns
    -------
    numpy.ndarray, shape (..., n, n)
        Σ̃, broadcast over the leading dimensions of both inputs.

    Raises
    ------
    ValueError
        If the shapes disagree or an importance is negative.

    Examples
    --------
    >>> weighted_covariance([[1.0, 0.5], [0.5, 1.0]], importance=[4.0, 1.0])
    array([[4., 1.],
           [1., 1.]])
    """
    cov = _covariance(covariance)
    if importance is None:
        return cov
    imp = _array(importance, "importance")
    if imp.ndim < 1 or imp.shape[-1] != cov.shape[-1]:
        raise ValueError(f"importance must have shape (..., n) with n={cov.shape[-1]}; got "
                         f"{imp.shape}")
    if np.any(imp < 0):
        raise ValueError(f"importance must be >= 0; got min {imp.min():g}")
    root = np.sqrt(imp)
    return root[..., :, None] * cov * root[..., None, :]


def principal_components(covariance, importance=None) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues and eigenvectors of the importance-weighted covariance Σ̃, largest first.

    Parameters
    ----------
    covariance : array_like or torch.Tensor, shape (..., n, n)
        Covariance Σ of the features.
    importance : array_like or torch.Tensor, shape (..., n), optional
        Importance of every feature; all ones if omitted.

    Returns
    -------
    eigenvalues : numpy.ndarray, shape (..., n)
        In decreasing order.
    components : numpy.ndarray, shape (..., n, n)
        Unit eigenvectors as columns: ``components[..., :, k]`` belongs to ``eigenvalues[..., k]``.
        Each is signed so that its entry of largest magnitude is positive. Within a degenerate
        eigenvalue the basis is arbitrary.

    Examples
    --------
    >>> values, vectors = principal_components([[1.0, 0.5], [0.5, 1.0]])
    >>> values
    array([1.5, 0.5])
    >>> np.round(vectors[:, 0] * np.sqrt(2), 6)     # the pair's principal component (a + b)/√2
    array([1., 1.])
    """
    values, vectors = np.linalg.eigh(weighted_covariance(covariance, importance))
    values, vectors = values[..., ::-1], vectors[..., ::-1]
    biggest = np.take_along_axis(vectors, np.abs(vectors).argmax(-2)[..., None, :], axis=-2)
    return values.copy(), vectors * np.where(biggest < 0, -1.0, 1.0)


def _top_subspace(covariance, importance, k: int, rtol: float) -> tuple[np.ndarray, np.ndarray]:
    """Principal components and a mask of those spanning the top-k subspace, ties included."""
    values, vectors = principal_components(covariance, importance)
    n = values.shape[-1]
    if not 1 <= k <= n:
        raise ValueError(f"the number of components must lie in [1, n={n}]; got {k}")
    scale = np.maximum(np.abs(values).max(-1, keepdims=True), np.finfo(float).tiny)
    cutoff = values[..., k - 1:k] - rtol * scale
    return vectors, values >= cutoff


def pca_alignment(W, covariance, importance=None, *, components: int | None = None,
                  rtol: float = 1e-9) -> np.ndarray:
    """Fraction of ‖W‖_F² that lies in the span of the top principal components.

    Every row of W (a hidden unit's weights on the n features) is projected on the span of the
    top ``components`` eigenvectors U of the importance-weighted covariance Σ̃; the result is
    ``‖W U‖_F² / ‖W‖_F²`` in [0, 1]. It is 1 for the linear model's optimum
    (:func:`linear_optimal_W`) and for any W whose rows lie in that span; a model in
    superposition spreads weight outside it. When eigenvalue ``components`` is tied with the
    next ones (within ``rtol`` times the largest eigenvalue) the top subspace is not unique, and
    the whole tied eigenspace counts as inside: e.g. for independent features of equal variance
    and importance every direction is a principal one and the alignment is 1.

    Parameters
    ----------
    W : array_like or torch.Tensor, shape (..., m, n)
        Weights; column ``W[..., :, i]`` is feature i's direction.
    covariance : array_like or torch.Tensor, shape (..., n, n)
        Covariance Σ of the features.
    importance : array_like or torch.Tensor, shape (..., n), optional
        Importance of every feature; all ones if omitted.
    components : int, optional
        Number of principal components spanning the subspace, in [1, n]; defaults to
        min(m, n).
    rtol : float
        Relative tolerance for ties between eigenvalues.

    Returns
    -------
    numpy.ndarray, shape (...)
        The fraction for every model (leading dimensions of W and the covariance broadcast);
        NaN for an all-zero W.

    Examples
    --------
    >>> cov = np.diag([3.0, 2.0, 1.0])
    >>> float(pca_alignment([[1.0, 1.0, 0.0]], cov))        # half of it along e₁
    0.5
    >>> float(pca_alignment([[1.0, 1.0, 0.0]], cov, importance=[1.0, 1.0, 4.0]))  # top: e₃
    0.0
    >>> W = np.eye(2)                   # the pair's features in orthogonal dimensions
    >>> round(float(pca_alignment(W, [[1.0, 0.5], [0.5, 1.0]], components=1)), 12)
    0.5
    """
    W = _as_float64(W)
    cov = _covariance(covariance)
    if W.shape[-1] != cov.shape[-1]:
        raise ValueError(f"W has n={W.shape[-1]} features but the covariance has "
                         f"{cov.shape[-1]}")
    k = min(W.shape[-2], W.shape[-1]) if components is None else components
    vectors, inside = _top_subspace(cov, importance, k, rtol)
    projected = np.sum(np.square(W @ vectors) * inside[..., None, :], axis=(-2, -1))
    total = np.sum(np.square(W), axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.minimum(projected / total, 1.0)


def linear_optimal_loss(covariance, importance=None, *, m: int) -> np.ndarray:
    """Exact optimal loss of the linear model x' = WᵀWx + b: the PCA solution.

    ``L* = (1/n) Σ_{k > m} λ_k(Σ̃)``: the importance-weighted variance the top m principal
    components of Σ̃ leave out, averaged over the n features as
    :func:`~superposition_lib.core.models.per_model_loss` averages. By Eckart–Young this is the
    minimum of ``(1/n) Σ_i I_i E[(x_i − x'_i)²]`` over every linear map of rank ≤ m with a bias.
    The tied model attains it with W = :func:`linear_optimal_W` (so WᵀW projects on the top
    subspace) whenever that subspace is invariant under diag(I): always for equal importances,
    and for independent features (Σ̃ diagonal). Otherwise (correlated features with unequal
    importances) it is a lower bound on the tied model's loss.

    Parameters
    ----------
    covariance : array_like or torch.Tensor, shape (..., n, n)
        Covariance Σ of the features.
    importance : array_like or torch.Tensor, shape (..., n), optional
        Importance of every feature; all ones if omitted.
    m : int
        Hidden dimension.

    Returns
    -------
    numpy.ndarray, shape (...)
        L* for every covariance.

    Examples
    --------
    >>> float(linear_optimal_loss(np.diag([3.0, 2.0, 1.0]), m=1))      # (2 + 1) / 3
    1.0
    >>> float(linear_optimal_loss([[1.0, 0.5], [0.5, 1.0]], m=1))      # 0.5 / 2
    0.25
    """
    values, _ = principal_components(covariance, importance)
    n = values.shape[-1]
    if not 0 <= m:
        raise ValueError(f"m must be >= 0; got {m}")
    return np.clip(values[..., m:], 0, None).sum(-1) / n


def linear_optimal_W(covariance, importance=None, *, m: int) -> np.ndarray:
    """Weights of the linear model's PCA solution: the top m principal components as rows.

    W = Uᵀ with U the top m unit eigenvectors of Σ̃ (see :func:`principal_components`), so
    WᵀW = UUᵀ is the orthogonal projection on the top principal subspace and
    :func:`pca_alignment` of W is 1. Its loss, with the optimal bias b = (1 − WᵀW) E[x], is
    :func:`linear_optimal_loss` under the conditions stated there. Any rotation Q W (Q
    orthogonal, m × m) is equally optimal.

    Parameters
    ----------
    covariance : array_like or torch.Tensor, shape (..., n, n)
        Covariance Σ of the features.
    importance : array_like or torch.Tensor, shape (..., n), optional
        Importance of every feature; all ones if omitted.
    m : int
        Hidden dimension, 1 ≤ m ≤ n.

    Returns
    -------
    numpy.ndarray, shape (..., m, n)

    Examples
    --------
    >>> W = linear_optimal_W([[1.0, 0.5], [0.5, 1.0]], m=1)
    >>> np.round(W * np.sqrt(2), 6)        # the pair collapsed on (a + b)/√2
    array([[1., 1.]])
    """
    _, vectors = principal_components(covariance, importance)
    n = vectors.shape[-1]
    if not 1 <= m <= n:
        raise ValueError(f"m must lie in [1, n={n}]; got {m}")
    return np.swapaxes(vectors[..., :m], -1, -2).copy()


def no_superposition_loss(covariance, importance=None, *, m: int) -> np.ndarray:
    """Loss of the best ReLU-output model that represents at most m features, without
    superposition.

    The model gives m features orthonormal directions of their own (W_i unit vectors, mutually
    orthogonal, the other columns 0). For non-negative data (every kind but
    ``signed_uniform``) such a feature is reproduced exactly: x'_i = ReLU(x_i + 0) = x_i. An
    unrepresented feature gets the constant output ReLU(b_i), best at b_i = E[x_i] ≥ 0, which
    leaves its variance Σ_ii. The best choice represents the m features of largest I_i Σ_ii,
    so::

        L_no-sup = (1/n) Σ_{i ∉ top m of I_i Σ_ii} I_i Σ_ii

    (averaged over features as :func:`~superposition_lib.core.models.per_model_loss` does).
    Correlations do not enter; for independent features it equals :func:`linear_optimal_loss`.
    A ReLU model below this loss gains from superposition or from sharing directions (PCA).

    Parameters
    ----------
    covariance : array_like or torch.Tensor, shape (..., n, n)
        Covariance Σ of the features (only the diagonal is used).
    importance : array_like or torch.Tensor, shape (..., n), optional
        Importance of every feature; all ones if omitted.
    m : int
        Hidden dimension (features that get a dedicated dimension), ≥ 0.

    Returns
    -------
    numpy.ndarray, shape (...)

    Examples
    --------
    >>> float(no_superposition_loss([[1.0, 0.5], [0.5, 1.0]], m=1))    # one variance of two
    0.5
    >>> float(no_superposition_loss(np.diag([3.0, 2.0, 1.0]), [1.0, 1.0, 4.0], m=1))  # (3+2)/3
    1.6666666666666667
    """
    if not 0 <= m:
        raise ValueError(f"m must be >= 0; got {m}")
    weighted = np.diagonal(weighted_covariance(covariance, importance), axis1=-2, axis2=-1)
    n = weighted.shape[-1]
    left_out = np.sort(weighted, axis=-1)[..., :max(n - m, 0)]
    return left_out.sum(-1) / n


def fourier_spectrum(covariance, *, atol: float = 1e-12) -> np.ndarray:
    """Eigenvalue of every Fourier frequency of a symmetric circulant covariance.

    A covariance that is invariant under cyclic shifts of the features (as for
    ``data="equivariant"``) has the Fourier modes as eigenvectors: frequency k has eigenvalue
    ``λ_k = Σ_δ Σ_{0δ} cos(2π k δ / n)``, with eigenvectors cos(2π k j / n) and sin(2π k j / n)
    (one eigenvector for k = 0 and, for even n, k = n/2; two otherwise).

    Parameters
    ----------
    covariance : array_like or torch.Tensor, shape (..., n, n)
        A symmetric circulant matrix: ``Σ[i, j]`` depends only on ``(j − i) mod n``.
    atol : float
        Tolerance of the circulant check.

    Returns
    -------
    numpy.ndarray, shape (..., n // 2 + 1)
        λ_k for k = 0 … ⌊n/2⌋.

    Raises
    ------
    ValueError
        If the matrix is not circulant.

    Examples
    --------
    >>> ring = np.array([[2.0, 1.0, 0.0, 1.0], [1.0, 2.0, 1.0, 0.0],
    ...                  [0.0, 1.0, 2.0, 1.0], [1.0, 0.0, 1.0, 2.0]])
    >>> fourier_spectrum(ring)
    array([4., 2., 0.])
    """
    cov = _covariance(covariance)
    n = cov.shape[-1]
    first = cov[..., :1, :]
    shifted = np.stack([np.roll(first[..., 0, :], i, axis=-1) for i in range(n)], axis=-2)
    if not np.allclose(cov, shifted, rtol=0, atol=atol * max(1.0, np.abs(cov).max())):
        raise ValueError("covariance is not circulant: entry (i, j) must depend only on "
                         "(j - i) mod n")
    return np.fft.rfft(first[..., 0, :], axis=-1).real


def fourier_weight_shares(W) -> np.ndarray:
    """Fraction of ‖W‖_F² at every Fourier frequency over the features.

    Every row of W (a hidden unit's weights on the n features, read as a signal around a circle)
    is split into the Fourier modes cos(2πkj/n), sin(2πkj/n) of :func:`fourier_spectrum`; the
    share of frequency k is the part of ‖W‖_F² in those modes. For circulant data whose top
    principal components are the frequency-k pair, the share of k is the PCA alignment with that
    pair.

    Parameters
    ----------
    W : array_like or torch.Tensor, shape (..., m, n)
        Weights; column ``W[..., :, i]`` is feature i's direction.

    Returns
    -------
    numpy.ndarray, shape (..., n // 2 + 1)
        Shares for k = 0 … ⌊n/2⌋, summing to 1 (NaN for an all-zero W).

    Examples
    --------
    >>> j = np.arange(8)
    >>> circle = np.stack([np.cos(2 * np.pi * j / 8), np.sin(2 * np.pi * j / 8)])
    >>> np.round(fourier_weight_shares(circle), 6)               # the frequency-1 pair
    array([0., 1., 0., 0., 0.])
    >>> np.round(fourier_weight_shares([[1.0, -1.0, 1.0, -1.0]]), 6)   # alternating: k = n/2
    array([0., 0., 1.])
    """
    W = _as_float64(W)
    n = W.shape[-1]
    power = np.square(np.abs(np.fft.rfft(W, axis=-1))).sum(-2)
    # Parseval: every k other than 0 and n/2 stands for the pair k and n − k
    power[..., 1:(n + 1) // 2] *= 2
    total = power.sum(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return power / total


def spec_covariance(spec: ExperimentSpec) -> np.ndarray:
    """Exact covariance of every instance's data distribution.

    Parameters
    ----------
    spec : ExperimentSpec
        Any spec; restarts share their instance's distribution.

    Returns
    -------
    numpy.ndarray, shape (instances, n, n)
        From :meth:`FeatureDistribution.covariance
        <superposition_lib.core.data.FeatureDistribution.covariance>` (for ``signed_uniform`` data,
        the covariance of the input x, not of the target ``|x|``).

    Examples
    --------
    >>> spec = ExperimentSpec(n_features=4, n_hidden=1, data="correlated", set_size=2,
    ...                       feature_probability=0.5, correlation=[0.0, 1.0])
    >>> np.round(spec_covariance(spec)[:, 0, 1], 6)     # c · p (1 − p) / 4
    array([0.    , 0.0625])
    """
    dist = FeatureDistribution(
        spec.data, spec.feature_probability_array(), spec.set_size,
        correlation=spec.correlation_array() if spec.data == "correlated" else None,
        bump_width=spec.bump_width_array())
    return dist.covariance().cpu().numpy()


def set_cosines(W, set_size: int) -> np.ndarray:
    """Cosine between every feature's direction and its set's mean direction.

    Features form sets of ``set_size`` consecutive features (as in ``data="correlated"``). The
    mean direction of a set s is that of Σ_{i ∈ s} W_i; for a pair it is the direction of
    (W_a + W_b)/√2, the pair's principal component when both are represented alike. A feature
    with W_i = 0, or in a set whose directions sum to 0 (e.g. an antipodal pair), gets 0.

    Parameters
    ----------
    W : array_like or torch.Tensor, shape (..., m, n)
        Weights; column ``W[..., :, i]`` is feature i's direction.
    set_size : int
        Features per set; must divide n.

    Returns
    -------
    numpy.ndarray, shape (..., n)
        cos(W_i, Σ_{j ∈ set(i)} W_j), in [−1, 1].

    Examples
    --------
    >>> np.round(set_cosines([[1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 0.0, 0.0]], 2), 4)
    array([0.7071, 0.7071, 1.    , 1.    ])
    """
    W = _as_float64(W)
    n = W.shape[-1]
    if isinstance(set_size, bool) or not isinstance(set_size, (int, np.integer)) \
            or set_size < 1 or n % set_size:
        raise ValueError(f"set_size must be an integer >= 1 that divides n={n}; got "
                         f"{set_size!r}")
    sets = W.reshape(*W.shape[:-1], n // set_size, set_size)              # (..., m, sets, k)
    total = sets.sum(-1, keepdims=True)                                   # (..., m, sets, 1)
    dot = (sets * total).sum(-3)                                          # (..., sets, k)
    norms = np.linalg.norm(sets, axis=-3) * np.linalg.norm(total, axis=-3)
    cos = np.divide(dot, norms, out=np.zeros_like(dot), where=norms > 1e-300)
    return np.clip(cos, -1.0, 1.0).reshape(*W.shape[:-2], n)


def collapsed_sets(W, set_size: int, *, threshold: float = 0.95,
                   min_norm: float = 0.1) -> np.ndarray:
    """Whether each correlated set is represented by its principal component.

    A set of ``set_size`` consecutive features is *collapsed* when at least two of its members
    are represented (‖W_i‖ > ``min_norm``) and every represented member points along the set's
    mean direction: cos(W_i, Σ_{j ∈ set} W_j) > ``threshold`` (see :func:`set_cosines`). For a
    pair this is W_a ∥ W_b ∥ (W_a + W_b)/√2, the paper's collapse onto the principal component;
    orthogonal members (cosine 1/√2 for a pair) or antipodal ones (cosine 0) are not collapsed.
    Members with ‖W_i‖ ≤ ``min_norm`` are ignored (a set of k fully collapsed features has norms
    ≈ 1/√k, so keep ``min_norm`` below that).

    Parameters
    ----------
    W : array_like or torch.Tensor, shape (..., m, n)
        Weights; column ``W[..., :, i]`` is feature i's direction.
    set_size : int
        Features per set, ≥ 2; must divide n.
    threshold : float, default 0.95
        Cosine above which a member counts as aligned with its set.
    min_norm : float, default 0.1
        Norm above which a member counts as represented.

    Returns
    -------
    numpy.ndarray of bool, shape (..., n // set_size)
        For every set.

    Examples
    --------
    >>> W = [[1.0, 0.0, 0.7, 0.7, 1.0, -1.0], [0.0, 1.0, 0.0, 0.1, 0.0, 0.0]]
    >>> collapsed_sets(W, 2)           # orthogonal pair, collapsed pair, antipodal pair
    array([False,  True, False])
    """
    if isinstance(set_size, (int, np.integer)) and not isinstance(set_size, bool) \
            and set_size < 2:
        raise ValueError(f"set_size must be >= 2; got {set_size}")
    W = _as_float64(W)
    cos = set_cosines(W, set_size)
    n = W.shape[-1]
    shape = (*cos.shape[:-1], n // set_size, set_size)
    represented = (np.linalg.norm(W, axis=-2) > min_norm).reshape(shape)
    aligned = (cos > threshold).reshape(shape)
    return (represented.sum(-1) >= 2) & np.all(aligned | ~represented, axis=-1)
