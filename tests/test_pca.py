"""PCA baselines: weighted covariance, alignment, exact linear and no-superposition losses,
collapse detection, Fourier spectra of equivariant data."""

import numpy as np
import pytest
import torch

from superposition_lib.analysis import pca
from superposition_lib.core.config import ExperimentSpec
from superposition_lib.core.data import FeatureDistribution
from superposition_lib.core.models import forward, per_model_loss


def random_covariance(rng, n, batch=()):
    A = rng.normal(size=(*batch, n, n + 2))
    return A @ np.swapaxes(A, -1, -2) / n


def exact_linear_loss(W, b, covariance, mean, importance):
    """(1/n) Σ_i I_i E[(x_i − (WᵀWx + b)_i)²] for data of the given mean and covariance."""
    n = covariance.shape[-1]
    R = np.eye(n) - W.T @ W                      # residual map: x − WᵀWx
    bias_error = R @ mean - b
    second = R @ covariance @ R.T + np.outer(bias_error, bias_error)
    return float(np.diag(second) @ importance) / n


# ------------------------------------------------------------------------- covariance, PCs

def test_weighted_covariance_and_principal_components():
    rng = np.random.default_rng(0)
    cov = random_covariance(rng, 5, (3,))
    imp = rng.uniform(0.1, 2, size=(3, 5))
    weighted = pca.weighted_covariance(cov, imp)
    np.testing.assert_allclose(weighted, np.sqrt(imp)[:, :, None] * cov * np.sqrt(imp)[:, None])
    np.testing.assert_array_equal(pca.weighted_covariance(cov), cov)
    values, vectors = pca.principal_components(torch.as_tensor(cov), torch.as_tensor(imp))
    assert values.shape == (3, 5) and vectors.shape == (3, 5, 5)
    assert np.all(np.diff(values, axis=-1) <= 0)
    np.testing.assert_allclose(vectors @ (values[..., None] * np.swapaxes(vectors, 1, 2)),
                               weighted, atol=1e-12)
    np.testing.assert_allclose(np.swapaxes(vectors, 1, 2) @ vectors, np.broadcast_to(
        np.eye(5), (3, 5, 5)), atol=1e-12)
    biggest = np.take_along_axis(vectors, np.abs(vectors).argmax(1)[:, None], 1)
    assert np.all(biggest > 0)
    # importance broadcasts against a single covariance
    assert pca.weighted_covariance(cov[0], imp).shape == (3, 5, 5)
    with pytest.raises(ValueError, match="importance"):
        pca.weighted_covariance(cov, [1.0, 2.0])
    with pytest.raises(ValueError, match="importance"):
        pca.weighted_covariance(cov[0], [1, 1, 1, 1, -1])
    with pytest.raises(ValueError, match="covariance"):
        pca.principal_components(np.ones((2, 3)))


# ------------------------------------------------------------------------------ alignment

def test_pca_alignment_hand_computed():
    cov = np.diag([3.0, 2.0, 1.0])
    assert pca.pca_alignment([[1.0, 1.0, 0.0]], cov) == pytest.approx(0.5)
    assert pca.pca_alignment([[1.0, 1.0, 0.0]], cov, [1, 1, 4]) == pytest.approx(0.0)
    # m = 2 on the top two axes: inside; a third axis is outside
    assert pca.pca_alignment([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]], cov) == pytest.approx(1.0)
    W = [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]           # ‖W‖² = 3, of which e₁, e₂ carry 2
    assert pca.pca_alignment(W, cov) == pytest.approx(2 / 3)
    assert pca.pca_alignment(W, cov, components=1) == pytest.approx(1 / 3)
    # a correlated pair: its principal component is (a + b)/√2
    pair = np.array([[1.0, 0.6], [0.6, 1.0]])
    assert pca.pca_alignment([[1.0, 1.0]], pair) == pytest.approx(1.0)
    assert pca.pca_alignment([[1.0, -1.0]], pair) == pytest.approx(0.0, abs=1e-15)
    assert pca.pca_alignment([[1.0, 0.0]], pair) == pytest.approx(0.5)
    theta = 0.3                                      # cos² of the angle to (1, 1)/√2
    expected = np.cos(theta - np.pi / 4) ** 2
    assert pca.pca_alignment([[np.cos(theta), np.sin(theta)]], pair) == pytest.approx(expected)


def test_pca_alignment_is_one_at_the_linear_optimum_and_batched():
    rng = np.random.default_rng(1)
    cov = random_covariance(rng, 6, (4,))
    imp = rng.uniform(0.2, 1.0, size=(4, 6))
    W = pca.linear_optimal_W(cov, imp, m=3)
    assert W.shape == (4, 3, 6)
    np.testing.assert_allclose(pca.pca_alignment(W, cov, imp), 1.0, atol=1e-12)
    Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))     # any rotation of the optimum
    np.testing.assert_allclose(pca.pca_alignment(Q @ W * 0.7, cov, imp), 1.0, atol=1e-12)
    # W batched over (snapshots, instances) against per-instance covariances
    W_noisy = W + 0.3 * rng.normal(size=(5, 4, 3, 6))
    alignment = pca.pca_alignment(torch.as_tensor(W_noisy), cov, imp)
    assert alignment.shape == (5, 4) and np.all((alignment > 0) & (alignment < 1))
    for s in range(5):
        for i in range(4):
            single = pca.pca_alignment(W_noisy[s, i], cov[i], imp[i])
            assert single == pytest.approx(alignment[s, i])
    assert np.isnan(pca.pca_alignment(np.zeros((2, 6)), cov[0]))
    with pytest.raises(ValueError, match="features"):
        pca.pca_alignment(np.ones((2, 5)), cov[0])
    with pytest.raises(ValueError, match="components"):
        pca.pca_alignment(np.ones((2, 6)), cov[0], components=7)


def test_pca_alignment_counts_tied_eigenvalues_as_inside():
    iid = FeatureDistribution("sparse_uniform", np.full((1, 5), 0.3)).covariance()[0]
    rng = np.random.default_rng(2)
    assert pca.pca_alignment(rng.normal(size=(2, 5)), iid) == pytest.approx(1.0)
    # equivariant features: the frequency-1 pair is tied; with m = 1 both count
    ring = FeatureDistribution("equivariant", np.full((1, 8), 0.5), bump_width=2.0)
    j = np.arange(8)
    sine = np.sin(2 * np.pi * j / 8)[None]
    assert pca.pca_alignment(sine, ring.covariance()[0]) == pytest.approx(1.0)


# ---------------------------------------------------------------------------- exact losses

def test_linear_optimal_loss_hand_computed():
    assert pca.linear_optimal_loss(np.diag([3.0, 2.0, 1.0]), m=1) == pytest.approx(1.0)
    assert pca.linear_optimal_loss(np.diag([3.0, 2.0, 1.0]), m=3) == pytest.approx(0.0)
    assert pca.linear_optimal_loss(np.diag([3.0, 2.0, 1.0]), [1, 1, 4], m=1) == \
        pytest.approx((3 + 2) / 3)
    pair = [[1.0, 0.5], [0.5, 1.0]]                  # eigenvalues 1.5 and 0.5
    assert pca.linear_optimal_loss(pair, m=1) == pytest.approx(0.25)
    assert pca.no_superposition_loss(pair, m=1) == pytest.approx(0.5)
    assert pca.no_superposition_loss(pair, m=0) == pytest.approx(1.0)
    assert pca.no_superposition_loss(pair, m=5) == pytest.approx(0.0)


@pytest.mark.parametrize("uniform_importance", [True, False])
def test_linear_optimum_attains_the_pca_loss_when_importance_commutes(uniform_importance):
    rng = np.random.default_rng(3)
    n, m = 6, 2
    if uniform_importance:                           # any covariance
        cov, imp = random_covariance(rng, n), np.ones(n)
    else:                                            # independent features, unequal importance
        cov, imp = np.diag(rng.uniform(0.1, 1, n)), rng.uniform(0.1, 2, n)
    mean = rng.uniform(0, 1, n)
    W = pca.linear_optimal_W(cov, imp, m=m)
    b = (np.eye(n) - W.T @ W) @ mean                 # the optimal bias
    best = pca.linear_optimal_loss(cov, imp, m=m)
    assert exact_linear_loss(W, b, cov, mean, imp) == pytest.approx(best, rel=1e-12)
    if not uniform_importance:                       # Σ̃ diagonal: the top m of I_i Σ_ii
        assert best == pytest.approx(pca.no_superposition_loss(cov, imp, m=m), rel=1e-12)
    for _ in range(200):                             # no other tied W does better
        other = W + 0.2 * rng.normal(size=W.shape)
        b = (np.eye(n) - other.T @ other) @ mean
        assert exact_linear_loss(other, b, cov, mean, imp) >= best - 1e-12


def test_linear_optimal_loss_is_a_lower_bound_with_unequal_importance():
    rng = np.random.default_rng(4)
    n, m = 5, 2
    cov, imp = random_covariance(rng, n), rng.uniform(0.1, 2, n)
    best = pca.linear_optimal_loss(cov, imp, m=m)
    mean = np.zeros(n)
    for _ in range(500):
        W = rng.normal(size=(m, n)) * rng.uniform(0.1, 1.5)
        assert exact_linear_loss(W, np.zeros(n), cov, mean, imp) >= best - 1e-12


@pytest.mark.parametrize("kind,extra", [("correlated", dict(set_size=2, correlation=0.6)),
                                        ("equivariant", dict(bump_width=1.5))])
def test_losses_match_monte_carlo_with_per_model_loss(kind, extra):
    """The formulas use per_model_loss's convention: sampled losses of the two baseline models
    (linear PCA solution, ReLU with dedicated dimensions) match them."""
    n, m, samples = 6, 2, 400_000
    p = np.full((1, n), 0.4)
    imp = np.array([[1.0, 0.9, 0.8, 0.7, 0.6, 0.5]]) if kind == "correlated" else np.ones((1, n))
    dist = FeatureDistribution(kind, p, **extra)
    cov, mean = dist.covariance().numpy(), dist.mean().numpy()
    x = dist.sample(samples, np.random.default_rng(5))
    importance = torch.as_tensor(imp, dtype=torch.float32)
    # linear: the PCA solution with its optimal bias (uniform importance or Σ̃ commuting)
    if kind == "equivariant":
        W = pca.linear_optimal_W(cov, imp, m=m)
        b = (np.eye(n) - W[0].T @ W[0]) @ mean[0]
        params = {"W": torch.as_tensor(W, dtype=torch.float32),
                  "b": torch.as_tensor(b[None], dtype=torch.float32)}
        sampled = per_model_loss(forward(params, x, "linear").double(), x.double(),
                                 importance.double())
        assert float(sampled[0]) == pytest.approx(pca.linear_optimal_loss(cov, imp, m=m)[0],
                                                  rel=0.01)
    # ReLU output, no superposition: the m features of largest I_i Σ_ii in their own dimension
    chosen = np.argsort(-imp[0] * np.diag(cov[0]))[:m]
    W = np.zeros((1, m, n))
    W[0, np.arange(m), chosen] = 1.0
    b = mean.copy()
    b[0, chosen] = 0.0
    params = {"W": torch.as_tensor(W, dtype=torch.float32),
              "b": torch.as_tensor(b, dtype=torch.float32)}
    sampled = per_model_loss(forward(params, x, "relu_output").double(), x.double(),
                             importance.double())
    assert float(sampled[0]) == pytest.approx(pca.no_superposition_loss(cov, imp, m=m)[0],
                                              rel=0.01)


def test_trained_linear_model_finds_the_pca_solution():
    spec = ExperimentSpec(model="linear", n_features=6, n_hidden=2, data="correlated",
                          set_size=2, feature_probability=0.5, correlation=[0.5, 1.0],
                          steps=500, batch_size=128, lr=2e-2, weight_decay=0.0)
    from superposition_lib.core.train import train
    run = train(spec, progress=False)
    cov = pca.spec_covariance(spec)
    assert cov.shape == (2, 6, 6)
    np.testing.assert_array_less(0.99, pca.pca_alignment(run.W, cov))
    best = pca.linear_optimal_loss(cov, m=2)
    assert np.all(run.loss > best - 4 * run.loss_se) and np.all(run.loss < best * 1.03)
    assert np.all(best < pca.no_superposition_loss(cov, m=2))   # PCA beats dedicated dims


# ------------------------------------------------------------------------- collapsed sets

def test_set_cosines_and_collapsed_sets():
    s = 1 / np.sqrt(2)
    W = np.array([[1.0, 0.0, s, s, 1.0, -1.0, 0.0, 0.8],
                  [0.0, 1.0, 0.0, 0.05, 0.0, 0.0, 0.0, 0.0]])
    cos = pca.set_cosines(W, 2)
    np.testing.assert_allclose(cos[:2], s)                   # orthogonal pair
    assert np.all(cos[2:4] > 0.99)                           # (a + b)/√2: collapsed
    np.testing.assert_allclose(cos[4:6], 0.0)                # antipodal pair: no mean direction
    np.testing.assert_allclose(cos[6:], [0.0, 1.0])          # one member unrepresented
    np.testing.assert_array_equal(pca.collapsed_sets(W, 2), [False, True, False, False])
    np.testing.assert_array_equal(pca.collapsed_sets(W, 2, threshold=0.9999),
                                  [False, False, False, False])
    # sets of three: the PCA solution of a fully correlated set collapses it, norms 1/√3
    triple = np.array([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, -0.5, -0.5]]) / np.sqrt(3)
    np.testing.assert_array_equal(pca.collapsed_sets(triple, 3), [True, False])
    # a member below min_norm is ignored, but two represented members are needed
    np.testing.assert_array_equal(pca.collapsed_sets([[1.0, 1.0, 0.05]], 3), [True])
    np.testing.assert_array_equal(pca.collapsed_sets([[1.0, 0.05, 0.05]], 3), [False])
    # batched
    stack = np.stack([W, -W, np.zeros_like(W)])
    out = pca.collapsed_sets(torch.as_tensor(stack), 2)
    assert out.shape == (3, 4) and out.dtype == bool
    np.testing.assert_array_equal(out[1], out[0])
    assert not out[2].any()
    with pytest.raises(ValueError, match="set_size"):
        pca.set_cosines(W, 3)
    with pytest.raises(ValueError, match="set_size"):
        pca.collapsed_sets(W, 1)


def test_linear_optimum_of_correlated_pairs_collapses_them():
    """Sparse fully correlated pairs with too little capacity: PCA keeps one direction per
    pair, (a + b)/√2, so every pair it represents is collapsed."""
    dist = FeatureDistribution("correlated", np.full((1, 4), 0.3), set_size=2)
    W = pca.linear_optimal_W(dist.covariance(), m=2)
    np.testing.assert_array_equal(pca.collapsed_sets(W, 2, min_norm=0.5), [[True, True]])
    independent = FeatureDistribution("correlated", np.full((1, 4), 0.3), set_size=2,
                                      correlation=0.0)
    np.testing.assert_allclose(pca.linear_optimal_loss(independent.covariance(), m=2),
                               pca.no_superposition_loss(independent.covariance(), m=2))


# ---------------------------------------------------------------------- Fourier spectrum

def test_fourier_spectrum_gives_the_eigenvalues_of_circulant_covariances():
    dist = FeatureDistribution("equivariant", np.array([[0.5] * 9, [0.05] * 9]),
                               bump_width=[1.0, 2.0])
    cov = dist.covariance().numpy()
    spectrum = pca.fourier_spectrum(cov)
    assert spectrum.shape == (2, 5)
    with_multiplicity = np.concatenate([spectrum[:, :1], spectrum[:, 1:], spectrum[:, 1:]], 1)
    np.testing.assert_allclose(np.sort(with_multiplicity, 1)[:, ::-1],
                               pca.principal_components(cov)[0], atol=1e-12)
    assert np.all(spectrum[:, 1:] >= -1e-15)        # the bump's power spectrum
    with pytest.raises(ValueError, match="circulant"):
        pca.fourier_spectrum(np.diag([1.0, 2.0, 3.0]))


def test_spec_covariance_matches_the_distribution():
    spec = ExperimentSpec(n_features=8, n_hidden=2, data="equivariant", bump_width=[1.0, 3.0],
                          feature_probability=0.2, restarts=3)
    cov = pca.spec_covariance(spec)
    assert cov.shape == (2, 8, 8)
    per_model = FeatureDistribution.from_spec(spec).covariance().numpy()
    np.testing.assert_array_equal(cov, per_model[::3])
