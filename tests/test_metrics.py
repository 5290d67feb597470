"""Tests for superposition_lib.core.metrics: exact polytope values and invariances."""

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from superposition_lib.core.metrics import (
    dimensions_per_feature,
    feature_dimensionality,
    feature_norms,
    features_per_dimension,
    gram,
    n_represented,
    superposition,
)

EPS = 1e-6

# ---------------------------------------------------------------------------
# Constructed configurations, shape (m, n) with unit-norm columns.


def polygon(k: int) -> np.ndarray:
    """k unit vectors at equal angles in m = 2."""
    angles = 2 * np.pi * np.arange(k) / k
    return np.stack([np.cos(angles), np.sin(angles)])


def tetrahedron() -> np.ndarray:
    return np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float).T / np.sqrt(3)


def square_antiprism() -> np.ndarray:
    """Two squares rotated by 45° at heights ±1/√3: a unit-norm tight frame in m = 3."""
    r, h = np.sqrt(2 / 3), np.sqrt(1 / 3)
    top = 2 * np.pi * np.arange(4) / 4
    bottom = top + np.pi / 4
    angles = np.concatenate([top, bottom])
    z = np.concatenate([np.full(4, h), np.full(4, -h)])
    return np.stack([r * np.cos(angles), r * np.sin(angles), z])


def tegum_triangle_digon() -> np.ndarray:
    """A triangle in hidden dims 0-1 and an antipodal pair in dim 2, m = 3, n = 5."""
    W = np.zeros((3, 5))
    W[:2, :3] = polygon(3)
    W[2, 3:] = [1.0, -1.0]
    return W


TIGHT_FRAMES = {  # name: (W, expected D_i for every feature)
    "digon m=1": (np.array([[1.0, -1.0]]), 1 / 2),
    "triangle": (polygon(3), 2 / 3),
    "square m=2": (polygon(4), 1 / 2),
    "pentagon": (polygon(5), 2 / 5),
    "tetrahedron": (tetrahedron(), 3 / 4),
    "square antiprism": (square_antiprism(), 3 / 8),
    "orthonormal m=4": (np.eye(4), 1.0),
}


@pytest.mark.parametrize("name", list(TIGHT_FRAMES))
def test_uniform_polytope_dimensionality(name):
    W, expected = TIGHT_FRAMES[name]
    np.testing.assert_allclose(feature_dimensionality(W), expected, rtol=1e-12)


@pytest.mark.parametrize("name", list(TIGHT_FRAMES))
def test_tight_frame_dimensionalities_sum_to_m(name):
    W, _ = TIGHT_FRAMES[name]
    m, n = W.shape
    assert feature_dimensionality(W).sum() == pytest.approx(m, rel=1e-12)
    # unit-norm columns: ‖W‖_F² = n, so D* = m / n, the common D_i
    assert dimensions_per_feature(W) == pytest.approx(m / n, rel=1e-12)
    assert features_per_dimension(W) == pytest.approx(n / m, rel=1e-12)


def test_digon_in_two_dimensions():
    W = np.array([[0.6, -0.6], [0.8, -0.8]])
    np.testing.assert_allclose(feature_dimensionality(W), [0.5, 0.5], rtol=1e-12)
    np.testing.assert_allclose(superposition(W), [1.0, 1.0], rtol=1e-12)


def test_tegum_product():
    W = tegum_triangle_digon()
    D = feature_dimensionality(W)
    np.testing.assert_allclose(D, [2 / 3, 2 / 3, 2 / 3, 1 / 2, 1 / 2], rtol=1e-12)
    assert D.sum() == pytest.approx(3.0, rel=1e-12)


def test_unlearned_features_get_zero():
    W = np.zeros((3, 4))
    W[:, :2] = np.eye(3)[:, :2]
    W[:2, 2] = 5e-7 / np.sqrt(2)  # norm 5e-7 < eps, at 45° to features 0 and 1
    # feature 3 is exactly zero
    np.testing.assert_allclose(feature_dimensionality(W), [1.0, 1.0, 0.0, 0.0], rtol=1e-9)
    np.testing.assert_array_equal(feature_dimensionality(W)[2:], [0.0, 0.0])
    # taken literally, feature 2's superposition would be cos²45° + cos²45° = 1
    np.testing.assert_array_equal(superposition(W)[2:], [0.0, 0.0])
    np.testing.assert_allclose(superposition(W)[:2], 0.0, atol=1e-12)


def test_eps_controls_what_counts_as_learned():
    W = np.diag([1.0, 1e-3])  # small but orthogonal: a full dimension of its own
    np.testing.assert_allclose(feature_dimensionality(W), [1.0, 1.0])
    np.testing.assert_allclose(feature_dimensionality(W, eps=1e-2), [1.0, 0.0])
    np.testing.assert_allclose(feature_dimensionality(W, eps=0.0), [1.0, 1.0])
    np.testing.assert_array_equal(feature_dimensionality(np.zeros((2, 2)), eps=0.0), [0.0, 0.0])


def test_unequal_norms_by_hand():
    # W_0 = (1, 0), W_1 = (1, 1): Ŵ_0·W_1 = 1, Ŵ_1·W_0 = 1/√2
    W = np.array([[1.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(superposition(W), [1.0, 0.5], rtol=1e-12)
    np.testing.assert_allclose(feature_dimensionality(W), [1 / 2, 2 / 2.5], rtol=1e-12)
    assert float(dimensions_per_feature(W)) == pytest.approx(2 / 3)


def test_superposition_zero_for_orthonormal():
    Q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(5, 5)))
    np.testing.assert_allclose(superposition(Q[:, :3]), 0.0, atol=1e-12)


def test_superposition_of_pentagon_from_cosines():
    cosines = np.cos(2 * np.pi * np.arange(1, 5) / 5)  # angles to the 4 other vertices
    expected = np.sum(cosines**2)
    assert expected == pytest.approx(1.5)
    np.testing.assert_allclose(superposition(polygon(5)), expected, rtol=1e-12)
    # scaling the whole pentagon by c scales Σ_{j≠i}(Ŵ_i·W_j)² by c²
    np.testing.assert_allclose(superposition(3.0 * polygon(5)), 9 * expected, rtol=1e-12)


def test_norms_and_gram():
    W = np.array([[3.0, 0.0, 1.0], [4.0, 2.0, 0.0]])
    np.testing.assert_allclose(feature_norms(W), [5.0, 2.0, 1.0])
    np.testing.assert_allclose(gram(W), W.T @ W)
    assert gram(np.zeros((2, 4, 3, 5))).shape == (2, 4, 5, 5)


def test_n_represented():
    W = np.diag([1.0, 0.6, 0.4, 0.0])
    assert n_represented(W) == 2
    assert n_represented(W, threshold=0.3) == 3
    assert n_represented(W, threshold=0.6) == 1  # strictly greater than the threshold
    assert n_represented(np.stack([W, np.eye(4)])).tolist() == [2, 4]
    assert np.issubdtype(n_represented(W).dtype, np.integer)


def test_dimensions_per_feature_of_zero_weights_is_inf():
    assert dimensions_per_feature(np.zeros((2, 3))) == np.inf
    assert features_per_dimension(np.zeros((2, 3))) == 0.0


@pytest.mark.parametrize(
    "bad",
    [
        np.ones(3),
        np.float64(1.0),
        np.ones((0, 3)),
        np.ones((2, 0)),
        np.array([[1.0, np.nan]]),
        np.array([[1.0], [np.inf]]),
        torch.tensor([[1.0, float("nan")]]),
    ],
    ids=["1-D", "scalar", "m=0", "n=0", "nan", "inf", "torch-nan"],
)
@pytest.mark.parametrize(
    "fn",
    [
        feature_norms,
        gram,
        superposition,
        feature_dimensionality,
        dimensions_per_feature,
        features_per_dimension,
        n_represented,
    ],
)
def test_bad_input_raises(fn, bad):
    with pytest.raises(ValueError, match="W must"):
        fn(bad)


@pytest.mark.parametrize("fn", [superposition, feature_dimensionality])
@pytest.mark.parametrize("eps", [-1e-6, float("nan")])
def test_bad_eps_raises(fn, eps):
    with pytest.raises(ValueError, match="eps"):
        fn(np.eye(2), eps=eps)


# ---------------------------------------------------------------------------
# Properties.

PER_FEATURE = [feature_norms, superposition, feature_dimensionality]
PER_MODEL = [dimensions_per_feature, features_per_dimension, n_represented]

finite = st.floats(-3, 3, allow_nan=False, allow_subnormal=False)


@st.composite
def weights(draw, batch_dims=0):
    """W with shape (*batch, m, n), no column norm close to the eps boundary."""
    batch = draw(st.lists(st.integers(1, 3), min_size=batch_dims, max_size=batch_dims))
    m, n = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    W = draw(arrays(np.float64, (*batch, m, n), elements=finite))
    norms = np.linalg.norm(W, axis=-2)
    assume(np.all((norms == 0) | (norms > 1e-3)))
    return W


def random_orthogonal(m: int, seed: int) -> np.ndarray:
    Q, R = np.linalg.qr(np.random.default_rng(seed).normal(size=(m, m)))
    return Q * np.sign(np.diag(R))


@settings(max_examples=60, deadline=None)
@given(W=weights(), seed=st.integers(0, 2**32 - 1))
def test_invariant_under_rotation_of_hidden_space(W, seed):
    QW = random_orthogonal(W.shape[0], seed) @ W
    for fn in PER_FEATURE + [dimensions_per_feature, features_per_dimension]:
        np.testing.assert_allclose(fn(QW), fn(W), rtol=1e-9, atol=1e-9, err_msg=fn.__name__)


@settings(max_examples=60, deadline=None)
@given(W=weights(), c=st.floats(0.1, 10) | st.floats(-10, -0.1))
def test_dimensionality_invariant_under_global_scale(W, c):
    np.testing.assert_allclose(feature_dimensionality(c * W), feature_dimensionality(W), rtol=1e-9)
    np.testing.assert_allclose(superposition(c * W), c**2 * superposition(W), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dimensions_per_feature(c * W), dimensions_per_feature(W) / c**2)


@settings(max_examples=60, deadline=None)
@given(W=weights(), seed=st.integers(0, 2**32 - 1))
def test_equivariant_under_feature_permutation_and_sign(W, seed):
    rng = np.random.default_rng(seed)
    perm = rng.permutation(W.shape[1])
    signs = rng.choice([-1.0, 1.0], size=W.shape[1])
    W2 = W[:, perm] * signs
    for fn in PER_FEATURE:
        np.testing.assert_allclose(fn(W2), fn(W)[perm], rtol=1e-12, atol=1e-12, err_msg=fn.__name__)


@settings(max_examples=60, deadline=None)
@given(W=weights())
def test_dimensionality_bounds(W):
    # 0 ≤ D_i ≤ 1 and Σ_i D_i ≤ rank(W) ≤ m
    D = feature_dimensionality(W)
    assert np.all(D >= 0) and np.all(D <= 1 + 1e-12)
    assert D.sum() <= np.linalg.matrix_rank(W) + 1e-9
    assert np.all(superposition(W) >= 0)


@settings(max_examples=40, deadline=None)
@given(W=weights(batch_dims=2))
def test_batch_dims_match_per_element(W):
    for fn in PER_FEATURE + PER_MODEL + [gram]:
        batched = fn(W)
        assert batched.shape[:2] == W.shape[:2], fn.__name__
        for a in range(W.shape[0]):
            for b in range(W.shape[1]):
                np.testing.assert_allclose(
                    batched[a, b], fn(W[a, b]), rtol=1e-12, atol=1e-15, err_msg=fn.__name__
                )


@settings(max_examples=30, deadline=None)
@given(W=weights(batch_dims=1), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_torch_input_matches_numpy(W, dtype):
    tensor = torch.tensor(W, dtype=dtype, requires_grad=True)
    as_numpy = tensor.detach().numpy()  # same (possibly float32-rounded) values
    for fn in PER_FEATURE + PER_MODEL + [gram]:
        result = fn(tensor)
        assert isinstance(result, np.ndarray) and result.dtype != np.float32, fn.__name__
        np.testing.assert_array_equal(result, fn(as_numpy), err_msg=fn.__name__)
