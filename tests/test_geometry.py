"""Polytope identification on constructed configurations, where the answer is exact."""

from __future__ import annotations

import numpy as np
import pytest

from superposition_lib.analysis import geometry
from superposition_lib.core import metrics


def regular_polygon(k: int) -> np.ndarray:
    a = 2 * np.pi * np.arange(k) / k
    return np.vstack([np.cos(a), np.sin(a)])


TETRAHEDRON = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float).T / np.sqrt(3)


def square_antiprism(h: float = 1 / np.sqrt(3)):  # a tight frame: D_i = 3/8 -> np.ndarray:
    r = np.sqrt(1 - h * h)
    top = [(r * np.cos(t), r * np.sin(t), h) for t in np.pi / 2 * np.arange(4)]
    bottom = [(r * np.cos(t), r * np.sin(t), -h) for t in np.pi / 2 * np.arange(4) + np.pi / 4]
    return np.array(top + bottom).T


def embed(blocks, m=None, rng=None):
    """Place blocks (d_b × k_b) in mutually orthogonal coordinate subspaces, optionally rotated."""
    m = m or sum(b.shape[0] for b in blocks)
    n = sum(b.shape[1] for b in blocks)
    W = np.zeros((m, n))
    r = c = 0
    for b in blocks:
        W[r:r + b.shape[0], c:c + b.shape[1]] = b
        r, c = r + b.shape[0], c + b.shape[1]
    if rng is not None:
        Q, _ = np.linalg.qr(rng.normal(size=(m, m)))
        W = Q @ W
    return W


CASES = {
    "digon": np.array([[1.0, -1.0]]),
    "triangle": regular_polygon(3),
    "tetrahedron": TETRAHEDRON,
    "pentagon": regular_polygon(5),
    "square antiprism": square_antiprism(),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_regular_polytope_is_named_and_has_its_dimensionality(name):
    V = CASES[name]
    df = geometry.polytopes(V)
    assert set(df["polytope"]) == {name}
    assert df["component"].nunique() == 1
    m, k = V.shape
    assert np.allclose(metrics.feature_dimensionality(V), m / k, atol=1e-9)


def test_tegum_product_of_all_polytopes_in_a_rotated_basis():
    rng = np.random.default_rng(0)
    blocks = [CASES[k] for k in CASES] + [np.ones((1, 1))]
    W = embed(blocks, rng=rng)
    W = np.hstack([W, 0.01 * rng.normal(size=(W.shape[0], 3))])  # three unrepresented features
    df = geometry.polytopes(W)
    names = df.drop_duplicates("component").query("component >= 0")["polytope"].tolist()
    assert names == [*CASES, "dedicated"]
    assert df["tegum"].all()
    assert (df["polytope"] == "not represented").sum() == 3
    assert df.loc[~df["represented"], "component"].eq(-1).all()


def test_unnamed_shapes_are_other():
    df = geometry.polytopes(regular_polygon(6))  # a hexagon: 6 features in 2 dims
    assert set(df["polytope"]) == {"other"} and df["size"].eq(6).all()
    assert geometry.name_polytope(regular_polygon(4)) == "other"  # 4 in 2 dims, one component


def test_a_deformed_pentagon_is_still_a_pentagon_and_noise_is_tolerated():
    rng = np.random.default_rng(1)
    a = np.radians([0, 60, 140, 220, 300])
    V = np.vstack([np.cos(a), np.sin(a), 0.02 * rng.normal(size=5)])
    assert geometry.name_polytope(V) == "pentagon"


def test_two_orthogonal_digons_are_two_components_and_batches_work():
    W = embed([CASES["digon"], CASES["digon"]])
    batch = np.stack([W, np.eye(2, 4)])
    df = geometry.polytopes(batch)
    first = df[df["model"] == 0]
    assert first["polytope"].tolist() == ["digon"] * 4
    assert first["component"].tolist() == [0, 0, 1, 1]
    second = df[df["model"] == 1]
    assert second["polytope"].tolist() == ["dedicated", "dedicated", "not represented",
                                           "not represented"]


def test_thresholds_are_honoured_and_shapes_checked():
    W = np.array([[1.0, 0.15], [0.0, 0.99]])
    assert geometry.feature_graph(W, edge_threshold=0.1).sum() == 2
    assert geometry.feature_graph(W, edge_threshold=0.2).sum() == 0
    assert not geometry.feature_graph(W, norm_threshold=2.0).any()
    with pytest.raises(ValueError):
        geometry.feature_graph(np.zeros((2, 2, 2)))
