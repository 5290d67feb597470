"""The feature distributions: the single-uniform trick, sets, covariances, random streams."""

import numpy as np
import pytest
import torch

from superposition_lib import kernels
from superposition_lib.data import FeatureDistribution, UniformStream

N = 400_000  # samples per check; standard errors below are computed for this size


def two_draw_sparse_uniform(p: np.ndarray, batch: int, generator: torch.Generator):
    """The notebook's definition: magnitude and presence from two independent uniforms."""
    shape = (len(p), batch, 1)
    magnitude = torch.rand(shape, generator=generator)
    present = torch.rand(shape, generator=generator) < torch.as_tensor(p).view(-1, 1, 1)
    return torch.where(present, magnitude, 0.0)


def moments(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-model density, mean and second moment of the non-zero values."""
    x = x.double()
    present = x != 0
    count = present.sum((1, 2))
    return ((count / x[0].numel()).numpy(), (x.sum((1, 2)) / count).numpy(),
            (x.square().sum((1, 2)) / count).numpy())


def test_single_uniform_matches_two_draw_definition():
    p = np.array([1.0, 0.5, 0.1, 0.02])
    single = FeatureDistribution("sparse_uniform", p[:, None]).sample(
        N, torch.Generator().manual_seed(1))
    double = two_draw_sparse_uniform(p, N, torch.Generator().manual_seed(2))
    (d1, m1, s1), (d2, m2, s2) = moments(single), moments(double)
    se_density = np.sqrt(p * (1 - p) / N)
    assert np.all(np.abs(d1 - p) <= 5 * se_density + 1e-12)
    assert np.all(np.abs(d1 - d2) <= 7 * se_density + 1e-12)
    se_mean = np.sqrt(1 / 12 / (p * N))  # Var U(0,1) = 1/12
    assert np.all(np.abs(m1 - 0.5) < 5 * se_mean) and np.all(np.abs(m1 - m2) < 7 * se_mean)
    se_sq = np.sqrt(4 / 45 / (p * N))  # Var U² = 1/5 − 1/9
    assert np.all(np.abs(s1 - 1 / 3) < 5 * se_sq) and np.all(np.abs(s1 - s2) < 7 * se_sq)
    assert single.min() >= 0 and single.max() <= 1


def test_magnitudes_are_uniform_histogram():
    x = FeatureDistribution("sparse_uniform", [[0.3]]).sample(N, np.random.default_rng(0))
    values = x[x > 0].numpy()
    counts, _ = np.histogram(values, bins=10, range=(0, 1))
    expected = len(values) / 10
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 30  # 9 degrees of freedom: p < 0.001


def test_correlated_sets_share_presence_and_nothing_else():
    p = 0.3
    x = FeatureDistribution("correlated", np.full((1, 6), p), set_size=3).sample(
        N, torch.Generator().manual_seed(0))[0]
    active = (x != 0).view(N, 2, 3)
    # inside a set, all members are active together (a magnitude of exactly 0 has probability 0)
    assert torch.equal(active.all(-1), active.any(-1))
    set_active = active[..., 0].double()
    assert abs(float(set_active.mean()) - p) < 5 * np.sqrt(p * (1 - p) / N)
    # the two sets are independent
    corr = np.corrcoef(set_active[:, 0].numpy(), set_active[:, 1].numpy())[0, 1]
    assert abs(corr) < 5 / np.sqrt(N)
    values = x[x != 0]
    assert abs(float(values.mean()) - 0.5) < 0.005


def test_anticorrelated_sets_have_at_most_one_member():
    p, k = 0.4, 4
    x = FeatureDistribution("anticorrelated", np.full((1, 8), p), set_size=k).sample(
        N, torch.Generator().manual_seed(0))[0].view(N, 2, k)
    active = x != 0
    assert int(active.sum(-1).max()) == 1
    set_active = active.any(-1).double().mean(0).numpy()
    assert np.all(np.abs(set_active - p) < 5 * np.sqrt(p * (1 - p) / N))
    member = active.double().mean(0).numpy()  # each member equally often: p / k
    assert np.all(np.abs(member - p / k) < 5 * np.sqrt(p / k / N))
    assert abs(float(x[active].mean()) - 0.5) < 0.005


def test_signed_uniform_is_symmetric_and_target_is_abs():
    dist = FeatureDistribution("signed_uniform", [[0.5, 0.5]])
    x = dist.sample(N, torch.Generator().manual_seed(0))
    values = x[x != 0]
    assert abs(float((x != 0).double().mean()) - 0.5) < 0.005
    assert abs(float(values.mean())) < 0.005
    assert float(values.min()) >= -1 and float(values.max()) <= 1
    assert abs(float((values > 0).double().mean()) - 0.5) < 0.005
    assert torch.equal(dist.target(x), x.abs())


@pytest.mark.parametrize("kind,set_size", [("sparse_uniform", None), ("correlated", 2),
                                           ("anticorrelated", 3), ("signed_uniform", None)])
def test_exact_covariance_matches_samples(kind, set_size):
    p = np.array([[0.6] * 6, [0.1] * 6])
    dist = FeatureDistribution(kind, p, set_size=set_size)
    x = dist.sample(N, torch.Generator().manual_seed(3)).double()
    centred = x - x.mean(1, keepdim=True)
    empirical = centred.transpose(1, 2) @ centred / N
    exact = dist.covariance()
    assert exact.shape == (2, 6, 6)
    assert torch.allclose(empirical, exact, atol=4e-3)
    assert torch.allclose(x.mean(1), dist.mean(), atol=4e-3)
    assert torch.allclose(exact, exact.transpose(1, 2))


def test_set_probabilities_must_agree_within_sets():
    with pytest.raises(ValueError, match="feature_probability"):
        FeatureDistribution("correlated", [[0.5, 0.4, 0.5, 0.5]], set_size=2)


def test_uniform_stream_is_reproducible_and_resumable():
    shape = (3, 5, 4)
    a, b = UniformStream(7, shape), UniformStream(7, shape)
    first = a.next().clone()
    assert torch.equal(first, b.next())
    state = a.state()
    second = a.next().clone()
    assert not torch.equal(first, second)
    b.set_state(state)
    assert torch.equal(b.next(), second)
    assert not torch.equal(UniformStream(8, shape).next(), first)
    assert 0 <= float(second.min()) and float(second.max()) < 1


def test_uniform_stream_does_not_depend_on_threading(monkeypatch):
    shape = (2, 300, 200)  # large enough to be split over two threads
    threaded = UniformStream(3, shape)
    assert threaded.buffer.size >= kernels.PARALLEL_MIN
    draws = [threaded.next().clone() for _ in range(2)]
    monkeypatch.setattr(kernels, "PARALLEL_MIN", 10 ** 9)
    serial = UniformStream(3, shape)
    for draw in draws:
        assert torch.equal(serial.next(), draw)


@pytest.mark.parametrize("shape", [(2, 300, 200), (3, 7, 5)])  # threaded and not
def test_fused_sparse_uniform_draw_equals_transform_of_uniforms(shape):
    p = np.linspace(0.05, 1, shape[0] * shape[2]).reshape(shape[0], shape[2])
    dist = FeatureDistribution("sparse_uniform", p)
    fused = [dist.draw(UniformStream(11, shape)).clone()]
    stream = UniformStream(11, shape)
    unfused = dist.transform(stream.next())
    torch.testing.assert_close(fused[0], unfused, rtol=0, atol=2e-7)
    assert torch.equal(fused[0] > 0, unfused > 0)
