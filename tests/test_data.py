"""The feature distributions: the single-uniform trick, sets, covariances, random streams."""

import numpy as np
import pytest
import torch

from superposition_lib.core import kernels
from superposition_lib.core.data import FeatureDistribution, UniformStream

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


# ------------------------------------------------------------ correlation knob (c in [0, 1])

@pytest.mark.parametrize("c", [0.0, 0.3, 0.8])
def test_partly_correlated_sets_have_presence_correlation_c(c):
    p, k = np.array([0.6, 0.1]), 3
    dist = FeatureDistribution("correlated", np.repeat(p, 6).reshape(2, 6), set_size=k,
                               correlation=c)
    x = dist.sample(N, torch.Generator().manual_seed(5))
    active = (x != 0).double()
    density = active.mean(1).numpy()                           # every feature: p, for every c
    assert np.all(np.abs(density - p[:, None]) < 5 * np.sqrt(p * (1 - p) / N)[:, None])
    for model in range(2):
        a = active[model].numpy()
        within = np.corrcoef(a[:, 0], a[:, 2])[0, 1]           # members of one set
        across = np.corrcoef(a[:, 0], a[:, 3])[0, 1]           # members of different sets
        assert abs(within - c) < 6 / np.sqrt(N), (model, within)
        assert abs(across) < 6 / np.sqrt(N)
    values = x[x != 0].double()
    assert abs(float(values.mean()) - 0.5) < 0.003             # magnitudes Uniform(0, 1]
    assert float(values.max()) <= 1 and float(x.min()) >= 0


@pytest.mark.parametrize("c", [[0.0, 0.0], [0.4, 0.9], [1.0, 0.5]])
def test_partly_correlated_covariance_is_exact(c):
    p = np.array([[0.6] * 6, [0.1] * 6])
    dist = FeatureDistribution("correlated", p, set_size=2, correlation=c)
    x = dist.sample(N, np.random.default_rng(4)).double()
    centred = x - x.mean(1, keepdim=True)
    empirical = centred.transpose(1, 2) @ centred / N
    exact = dist.covariance()
    assert torch.allclose(empirical, exact, atol=4e-3)
    assert torch.allclose(x.mean(1), dist.mean(), atol=4e-3)
    # closed form: c p (1 − p) / 4 inside a set, p/3 − p²/4 on the diagonal, 0 across sets
    for model in range(2):
        q, cm = p[model, 0], c[model]
        assert exact[model, 0, 1].item() == pytest.approx(cm * q * (1 - q) / 4, abs=1e-7)
        assert exact[model, 0, 0].item() == pytest.approx(q / 3 - q * q / 4, abs=1e-7)
        assert exact[model, 1, 2].item() == 0


def test_zero_correlation_is_sparse_uniform_and_one_is_the_papers_set():
    p = np.full((1, 6), 0.3)
    u = torch.rand(1, 1000, 6, generator=torch.Generator().manual_seed(0))
    independent = FeatureDistribution("correlated", p, set_size=3, correlation=0.0)
    torch.testing.assert_close(independent.transform(u.clone()),
                               FeatureDistribution("sparse_uniform", p).transform(u.clone()),
                               rtol=0, atol=1e-6)
    paper = FeatureDistribution("correlated", p, set_size=3)
    assert torch.equal(FeatureDistribution("correlated", p, set_size=3, correlation=1.0)
                       .transform(u.clone()), paper.transform(u.clone()))
    torch.testing.assert_close(FeatureDistribution("correlated", p, set_size=3,
                                                   correlation=0.0).covariance(),
                               FeatureDistribution("sparse_uniform", p).covariance())


def test_correlation_per_model_and_validation():
    dist = FeatureDistribution("correlated", np.full((2, 4), 0.5), set_size=2,
                               correlation=[0.0, 1.0])
    x = dist.sample(20_000, torch.Generator().manual_seed(0)).view(2, -1, 2, 2)
    together = ((x[..., 0] != 0) == (x[..., 1] != 0)).double().mean((1, 2))
    assert together[1] > 0.999 and abs(float(together[0]) - 0.5) < 0.02
    with pytest.raises(ValueError, match="correlation"):
        FeatureDistribution("correlated", np.full((1, 4), 0.5), set_size=2, correlation=1.5)
    with pytest.raises(ValueError, match="correlation"):
        FeatureDistribution("correlated", np.full((2, 4), 0.5), set_size=2,
                            correlation=[0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="correlation"):
        FeatureDistribution("sparse_uniform", np.full((1, 4), 0.5), correlation=0.5)


# ------------------------------------------------------------------- equivariant features

def _brute_autocorrelation(n, w, grid=400_000):
    theta = (np.arange(grid) + 0.5) / grid * n

    def g(centre):
        d = np.mod(theta - centre, n)
        return np.maximum(0, 1 - np.minimum(d, n - d) / w)
    return np.array([np.mean(g(0) * g(delta)) for delta in range(n)])


@pytest.mark.parametrize("n,w", [(8, 1.0), (8, 2.5), (7, 3.7), (6, 5.0), (10, 0.3), (5, 2.5)])
def test_bump_autocorrelation_is_exact(n, w):
    from superposition_lib.core.data import _bump_autocorrelation
    np.testing.assert_allclose(_bump_autocorrelation(n, w), _brute_autocorrelation(n, w),
                               rtol=0, atol=1e-9)


def test_equivariant_transform_is_the_documented_bump():
    n, p, w = 9, np.array([0.5, 1.0]), np.array([1.5, 6.0])
    u = torch.rand(2, 500, n, generator=torch.Generator().manual_seed(2))
    x = FeatureDistribution("equivariant", np.repeat(p, n).reshape(2, n),
                            bump_width=w).transform(u.clone()).numpy()
    u = u.double().numpy()
    amplitude = np.maximum(0, 1 - u[..., :1] / p[:, None, None])   # present iff u₀ < p
    theta = n * u[..., 1:2]
    d = np.abs(np.arange(n) - theta) % n
    d = np.minimum(d, n - d)
    expected = amplitude * np.maximum(0, 1 - d / w[:, None, None])
    np.testing.assert_allclose(x, expected, rtol=0, atol=2e-6)


def test_equivariant_samples_are_bumps():
    n, w, p = 12, 2.5, 0.4
    dist = FeatureDistribution("equivariant", np.full((1, n), p), bump_width=w)
    x = dist.sample(50_000, torch.Generator().manual_seed(0))[0].double()
    nonzero = x.abs().sum(1) > 0
    assert abs(float(nonzero.double().mean()) - p) < 5 * np.sqrt(p * (1 - p) / 50_000)
    active = x[nonzero]
    # at most 2w + 1 features, all within w of the peak (circularly), falling linearly
    assert int((active > 0).sum(1).max()) <= int(2 * w) + 1
    peak = active.argmax(1, keepdim=True)
    d = (torch.arange(n) - peak).remainder(n)
    d = torch.minimum(d, n - d).double()
    assert bool((active[d >= w] == 0).all())
    amplitude = active.max(1).values                   # ≈ a (the peak is within 1/2 of θ)
    assert float(amplitude.max()) <= 1 and float(active.min()) >= 0
    # orientation is uniform: every feature is the peak equally often
    counts = np.bincount(peak[:, 0].numpy(), minlength=n)
    expected = len(peak) / n
    assert ((counts - expected) ** 2 / expected).sum() < 40   # 11 dof, p < 1e-4


@pytest.mark.parametrize("generator", [torch.Generator().manual_seed(7),
                                       np.random.default_rng(7)], ids=["torch", "numpy"])
@pytest.mark.parametrize("w", [0.75, 2.0, 5.0, 9.0])         # 9 > n/2: every feature overlaps
def test_equivariant_covariance_is_exact_and_circulant(generator, w):
    n = 12
    dist = FeatureDistribution("equivariant", np.array([[0.6] * n, [0.1] * n]), bump_width=w)
    x = dist.sample(N, generator).double()
    centred = x - x.mean(1, keepdim=True)
    empirical = centred.transpose(1, 2) @ centred / N
    exact = dist.covariance()
    assert exact.shape == (2, n, n) and exact.dtype == torch.float64
    assert torch.allclose(empirical, exact, atol=4e-3)
    assert torch.allclose(x.mean(1), dist.mean(), atol=4e-3)
    assert torch.allclose(exact, exact.transpose(1, 2))
    for shift in range(1, n):                                  # circulant
        torch.testing.assert_close(torch.roll(exact, (shift, shift), (1, 2)), exact,
                                   rtol=0, atol=1e-15)
    mu = w / n if w <= n / 2 else 1 - n / (4 * w)
    torch.testing.assert_close(dist.mean(), torch.tensor([[0.3 * mu] * n, [0.05 * mu] * n],
                                                         dtype=torch.float64))


def _span_projector(vectors: np.ndarray) -> np.ndarray:
    q, _ = np.linalg.qr(vectors)
    return q @ q.T


def test_equivariant_principal_components_are_fourier_modes():
    """Frequency 1 (cos, sin) has the largest eigenvalue of the non-zero frequencies; frequency
    0 (the constant vector) is above it iff p < p* = 4 (K̂(0) − K̂(1)) / (3 n μ²), about 0.13 for
    n = 16, w = 2 (K̂ the DFT of the bump's autocorrelation, μ = w/n its mean)."""
    from superposition_lib.core.data import _bump_autocorrelation
    n, w = 16, 2.0
    K = np.fft.rfft(_bump_autocorrelation(n, w)).real
    p_star = 4 * (K[0] - K[1]) / (3 * n * (w / n) ** 2)
    assert 0.12 < p_star < 0.14
    j = np.arange(n)
    constant = np.ones((n, 1))
    freq1 = np.stack([np.cos(2 * np.pi * j / n), np.sin(2 * np.pi * j / n)], 1)
    dist = FeatureDistribution("equivariant", np.array([[0.5] * n, [0.05] * n]), bump_width=w)
    values, vectors = np.linalg.eigh(dist.covariance().numpy())
    values, vectors = values[:, ::-1], vectors[:, :, ::-1]
    # dense (p = 0.5 > p*): the top two eigenvectors span cos/sin of frequency 1
    assert values[0, 0] - values[0, 1] < 1e-12 and values[0, 1] - values[0, 2] > 1e-4
    np.testing.assert_allclose(_span_projector(vectors[0, :, :2]), _span_projector(freq1),
                               atol=1e-8)
    # sparse (p = 0.05 < p*): the constant first, then frequency 1
    np.testing.assert_allclose(_span_projector(vectors[1, :, :1]), _span_projector(constant),
                               atol=1e-8)
    np.testing.assert_allclose(_span_projector(vectors[1, :, 1:3]), _span_projector(freq1),
                               atol=1e-8)
    # eigenvalues fall with frequency over the low frequencies
    spectrum = np.fft.rfft(dist.covariance()[0, 0].numpy()).real
    assert np.all(np.diff(spectrum[1:5]) < 0)


def test_equivariant_validation():
    with pytest.raises(ValueError, match="bump_width"):
        FeatureDistribution("equivariant", np.full((1, 4), 0.5))
    with pytest.raises(ValueError, match="bump_width"):
        FeatureDistribution("equivariant", np.full((1, 4), 0.5), bump_width=0.0)
    with pytest.raises(ValueError, match="bump_width"):
        FeatureDistribution("sparse_uniform", np.full((1, 4), 0.5), bump_width=1.0)
    with pytest.raises(ValueError, match="feature_probability"):
        FeatureDistribution("equivariant", [[0.5, 0.5, 0.4]], bump_width=1.0)
    with pytest.raises(ValueError, match="n >= 2"):
        FeatureDistribution("equivariant", [[0.5]], bump_width=1.0)


# --------------------------------------------------------- the new kinds through the trainer

@pytest.mark.parametrize("changes", [
    dict(data="correlated", set_size=2, correlation=[0.0, 0.5]),
    dict(data="equivariant", bump_width=[1.0, 2.5]),
])
def test_new_kinds_train_and_draw_from_the_stream(changes):
    from superposition_lib.core.config import ExperimentSpec
    from superposition_lib.core.train import train
    spec = ExperimentSpec(n_features=6, n_hidden=2, feature_probability=[0.5, 0.2], steps=40,
                          batch_size=64, restarts=2, **changes)
    dist = FeatureDistribution.from_spec(spec)
    assert dist.n_models == 4
    expected = spec.correlation_array() if spec.data == "correlated" else spec.bump_width_array()
    actual = dist.correlation if spec.data == "correlated" else dist.bump_width
    np.testing.assert_array_equal(actual, np.repeat(expected, 2))
    x = dist.draw(UniformStream(3, (4, 64, 6)))
    assert x.shape == (4, 64, 6) and float(x.min()) >= 0 and float(x.max()) <= 1
    run = train(spec, progress=False)
    assert run.W.shape == (4, 2, 6) and np.all(np.isfinite(run.loss))
    again = train(spec, progress=False)                     # deterministic
    np.testing.assert_array_equal(run.W, again.W)


#: One distribution of every kind, two models each, with unequal probabilities and parameters.
EVERY_KIND = {
    "sparse_uniform": FeatureDistribution("sparse_uniform", [[0.3, 1.0, 0.01, 0.5], [0.1] * 4]),
    "signed_uniform": FeatureDistribution("signed_uniform", [[0.3, 1.0, 0.01, 0.5], [0.7] * 4]),
    "correlated": FeatureDistribution("correlated", [[0.3] * 2 + [0.7] * 2, [0.1] * 4],
                                      set_size=2, correlation=[0.5, 1.0]),
    "paper-correlated": FeatureDistribution("correlated", [[0.2] * 4, [0.9] * 4], set_size=2),
    "anticorrelated": FeatureDistribution("anticorrelated", [[0.3] * 3 + [0.9] * 3, [0.5] * 6],
                                          set_size=3),
    "equivariant": FeatureDistribution("equivariant", [[0.4] * 7, [0.9] * 7],
                                       bump_width=[1.5, 5.0]),
}


@pytest.mark.parametrize("kind", EVERY_KIND)
def test_target_second_moment_is_the_covariance_diagonal_plus_the_squared_mean(kind):
    """What it was computed from before (an (n, n) covariance per model), up to rounding."""
    dist = EVERY_KIND[kind]
    before = torch.diagonal(dist.covariance(), dim1=-2, dim2=-1) + dist.mean() ** 2
    torch.testing.assert_close(dist.target_second_moment(), before, rtol=1e-12, atol=0)
    x = dist.sample(200_000, torch.Generator().manual_seed(3))
    sampled = dist.target(x).double().square().mean(1)
    torch.testing.assert_close(sampled, dist.target_second_moment(), rtol=0.03, atol=2e-4)


@pytest.mark.parametrize("kind", EVERY_KIND)
def test_target_second_moment_of_many_features_needs_no_square_matrix(kind, monkeypatch):
    """50,000 features: an (n, n) matrix would be 20 GB; none is made."""
    def refused(*args, **kwargs):
        raise AssertionError("an (n, n) matrix was requested")

    monkeypatch.setattr(torch, "eye", refused)
    monkeypatch.setattr(FeatureDistribution, "covariance", refused)
    small = EVERY_KIND[kind]
    n = 50_000 - 50_000 % (small.set_size or 1)
    options = {"set_size": small.set_size, "bump_width": small.bump_width}
    if kind != "equivariant":
        options["correlation"] = small.correlation
    wide = FeatureDistribution(small.kind, np.full((2, n), 0.2), **options)
    second = wide.target_second_moment()
    if kind == "equivariant":  # K(0) = 2w / (3n) for w <= n/2: the triangle's mean square
        widths = torch.as_tensor(wide.bump_width).unsqueeze(-1)
        expected = 0.2 / 3 * 2 * widths / (3 * n)
    else:  # every feature alike: as on six of them
        six = FeatureDistribution(small.kind, np.full((2, 6), 0.2), **options)
        expected = six.target_second_moment()[:, :1]
    torch.testing.assert_close(second, expected.expand(2, n))
