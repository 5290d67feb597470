"""Continuous equivariant features: Fourier shares, ring arrangements, the width x density map."""


import numpy as np
import pytest
import torch

from superposition_lib import ExperimentSpec, experiments, train
from superposition_lib.analysis import pca
from superposition_lib.core.data import FeatureDistribution
from superposition_lib.core.evaluation import evaluate
from superposition_lib.core.store import RunStore
from superposition_lib.experiments import continuous_features as eq


@pytest.fixture(scope="module")
def store(smoke_store):
    return smoke_store


def _ring(k: int, n: int = 16, scale: float = 0.7) -> np.ndarray:
    j = np.arange(n)
    return scale * np.stack([np.cos(2 * np.pi * k * j / n), np.sin(2 * np.pi * k * j / n)])


def test_fourier_shares_match_projections_on_an_explicit_fourier_basis():
    n = 12
    j = np.arange(n)
    basis = {0: [np.ones(n) / np.sqrt(n)], n // 2: [np.cos(np.pi * j) / np.sqrt(n)]}
    for k in range(1, n // 2):
        basis[k] = [np.cos(2 * np.pi * k * j / n) * np.sqrt(2 / n),
                    np.sin(2 * np.pi * k * j / n) * np.sqrt(2 / n)]
    W = np.random.default_rng(0).normal(size=(3, 4, n))
    shares = pca.fourier_weight_shares(W)
    total = np.square(W).sum((-2, -1))
    for k, vectors in basis.items():
        by_hand = sum(np.square(W @ v).sum(-1) for v in vectors) / total
        np.testing.assert_allclose(shares[:, k], by_hand, rtol=1e-12)
    np.testing.assert_allclose(shares.sum(-1), 1.0)


def test_the_circle_share_is_the_pca_alignment_when_frequency_1_is_on_top():
    # p above p*: the top two principal components are the frequency-1 pair
    cov = FeatureDistribution("equivariant", [[0.5] * 16], bump_width=2.0).covariance()[0]
    assert eq._top_component(cov.numpy()[None])[0] == "frequency 1"
    W = np.random.default_rng(1).normal(size=(5, 2, 16))
    np.testing.assert_allclose(pca.fourier_weight_shares(W)[:, 1],
                               pca.pca_alignment(W, cov), rtol=1e-9)


def test_top_components_below_p_star_and_for_mutually_exclusive_features():
    def top(p, w):
        cov = FeatureDistribution("equivariant", [[p] * 16], bump_width=w).covariance()
        return eq._top_component(cov.numpy())[0]
    assert top(0.01, 2.0) == "constant, then frequency 1"     # p* ≈ 0.13 for n = 16, w = 2
    assert top(0.5, 0.5) == "all tied"                         # a bump touches one feature


def test_ring_arrangements_of_constructed_geometries():
    circle, double = _ring(1), _ring(2)
    assert eq.classify_ring(circle) == "pca circle"
    # the circle walked twice: neighbours 45° apart, features j and j + 8 coincide
    assert eq.merged_features(double) == 16 and eq.classify_ring(double) == "mixture"
    a = 2 * np.pi * np.arange(5) / 5
    pentagon = np.zeros((2, 16))
    pentagon[:, [0, 3, 6, 10, 13]] = [np.cos(a), np.sin(a)]
    assert eq.merged_features(pentagon) == 0 and eq.classify_ring(pentagon) == "polygon"
    # a chain of close directions is one group: 0°, 8°, 16° (merge angle 180°/16 = 11.25°)
    chain = np.zeros((2, 16))
    chain[:, :3] = [np.cos(np.radians([0, 8, 16])), np.sin(np.radians([0, 8, 16]))]
    assert eq.merged_features(chain) == 3
    apart = chain.copy()
    apart[:, 1] = 0                                   # 0° and 16°: two directions
    assert eq.merged_features(apart) == 0
    # the PCA circle of 32 orientations (11.25° apart) has no merged features, and a circle
    # with one half faded is neither the PCA circle nor a polygon
    assert eq.merged_features(_ring(1, n=32)) == 0
    faded = circle.copy()
    faded[:, 8:] *= 0.3
    assert eq.classify_ring(faded) == "other"
    # weights below the norm threshold are not represented, so they merge with nothing
    assert eq.merged_features(0.1 * double) == 0


def test_the_loss_is_density_times_the_active_loss_when_no_bias_is_positive():
    # a sample is either zero or one bump: with b <= 0 a zero sample costs nothing
    W = torch.as_tensor(_ring(1, scale=0.8), dtype=torch.float32)[None].repeat(2, 1, 1)
    params = {"W": W, "b": torch.full((2, 16), -0.2)}
    dist = FeatureDistribution("equivariant", [[1.0] * 16, [0.1] * 16], bump_width=[2.0, 2.0])
    loss, se, _ = evaluate(params, dist, torch.ones(2, 16), "relu_output",
                           np.random.default_rng(0), relative_se=2e-3)
    assert abs(loss[1] / loss[0] - 0.1) < 4 * np.hypot(se[1] / loss[0],
                                                       0.1 * se[0] / loss[0])


def _best_of_two(n: int, widths: list[float]):
    spec = ExperimentSpec(model="relu_output", n_features=n, n_hidden=2, data="equivariant",
                          feature_probability=0.1, bump_width=widths, restarts=2, steps=3000,
                          batch_size=256, lr=3e-3, lr_schedule="cosine", seed=0,
                          eval_samples=1 << 14)
    run = train(spec, progress=False).best()
    return run, pca.fourier_weight_shares(run.W)[:, 1], pca.linear_optimal_loss(
        pca.spec_covariance(spec), m=2)


@pytest.mark.slow
def test_bump_width_decides_between_polygon_mixture_and_pca_circle():
    # the chapter's three arrangements, at a density where the map's rows agree
    run, shares, linear = _best_of_two(16, [0.5, 1.0, 4.0])
    polygon, mixture, circle = run.W
    assert eq.classify_ring(polygon) == "polygon" and shares[0] < 0.5
    assert (np.linalg.norm(polygon, axis=0) > 0.5).sum() == 5           # a pentagon
    assert eq.classify_ring(mixture) == "mixture" and eq.merged_features(mixture) >= 2
    assert eq.classify_ring(circle) == "pca circle" and shares[2] > 0.95
    assert run.loss[2] < 0.2 * linear[2]


@pytest.mark.slow
def test_the_circle_needs_a_share_of_the_ring_not_a_number_of_features():
    # w = 2 is a circle on 16 orientations but a mixture on 32, and the loss relative to PCA
    # is far lower at w = n/4 = 8
    run16, shares16, _ = _best_of_two(16, [2.0])
    run32, shares32, linear32 = _best_of_two(32, [0.5, 2.0, 8.0])
    assert eq.classify_ring(run16.W[0]) == "pca circle"
    assert [eq.classify_ring(W).item() for W in run32.W] == ["polygon", "mixture", "pca circle"]
    assert shares32[1] < 0.9 < shares32[2]
    ratio = run32.loss / linear32
    assert ratio[2] < 0.2 and ratio[2] < 0.25 * ratio[1]


def test_the_map_runs_under_smoke_on_the_paper_grid(store):
    paper, smoke = (experiments.get("equivariant-map").spec(p) for p in ("paper", "smoke"))
    assert np.array_equal(smoke.bump_width_array(), paper.bump_width_array())
    assert np.array_equal(smoke.feature_probability_array(), paper.feature_probability_array())
    assert paper.n_instances == len(eq.MAP_WIDTHS) * len(eq.MAP_DENSITIES) >= 72
    assert paper.restarts >= 4
    models = eq.map_frame("smoke", store=store)
    cells = eq.map_cells(models)
    assert len(cells) == paper.n_instances
    assert set(cells["ring"]) <= set(eq.RINGS)
    np.testing.assert_allclose(models["loss_vs_pca"], models["loss"] / models["linear_optimal"])
    assert (models["circle_share"].between(0, 1)).all()


@pytest.mark.slow
def test_at_low_density_larger_batches_restore_the_polygons():
    # p = 0.01: a batch of 256 holds 2.6 bumps on average, one of 2,560 holds 25.6
    def rings(batch):
        spec = ExperimentSpec(model="relu_output", n_features=16, n_hidden=2,
                              data="equivariant", feature_probability=0.01,
                              bump_width=[0.5, 0.6], restarts=2, steps=3000, batch_size=batch,
                              lr=3e-3, lr_schedule="cosine", seed=0, eval_samples=1 << 14)
        return list(eq.classify_ring(train(spec, progress=False).W))
    assert rings(256).count("polygon") <= 1
    assert rings(2560).count("polygon") >= 3


def test_neighbour_correlation_sets_the_polygon_boundary_independently_of_n():
    # the chapter's explanation of why polygons end at the same w at both sizes
    def corr(n, w, p=0.16):
        cov = FeatureDistribution("equivariant", [[p] * n], bump_width=w).covariance()[0]
        return float(cov[0, 1] / cov[0, 0])
    assert corr(16, 0.5) < 0                              # mutually exclusive features
    widths = [0.5, 0.7, 0.85, 1.0, 2.0]
    assert np.all(np.diff([corr(16, w) for w in widths]) > 0)
    for w in widths[:4]:
        assert abs(corr(16, w) - corr(32, w)) < 0.01
    assert abs(corr(16, 0.7, p=0.01) - corr(16, 0.7, p=0.4)) < 0.05   # hardly depends on p


def test_constant_mode_density_needs_a_width_above_one_half():
    with pytest.raises(ValueError, match="width"):
        eq.constant_mode_density(16, 0.5)


def test_paper_a_third_dimension_takes_the_second_harmonic_not_the_constant_mode():
    """The chapter's "Three dimensions" claims, on the committed runs."""
    from pathlib import Path

    dims = eq.dimension_frame("paper", store=RunStore(Path(__file__).parents[1] / "data"))
    d2 = dims[dims["m"] == 2].set_index("width")
    d3 = dims[dims["m"] == 3].set_index("width")
    wide = d3[d3["pca_share_0"] > 0.3]
    assert wide.index.min() <= 1.2 and (d3.loc[d3.index >= 1.2, "pca_share_0"] > 0.3).all()
    middle = wide[wide.index < wide.index.max()]
    assert (middle["share_0"] < 0.05).all()
    assert (middle["share_2_low"] > 0.2).sum() >= 3
    widest = d3.loc[d3.index.max()]
    assert 0.15 < widest["share_0"] < 0.35 and widest["loss_vs_pca"] > 0.9
    assert d3["loss_vs_pca"].min() < d2["loss_vs_pca"].min()
