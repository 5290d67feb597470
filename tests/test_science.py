"""Small, fast scientific regression tests: the paper's headline geometry reproduces.

Elhage et al. (2022), "Toy Models of Superposition": with 5 features in 2 dimensions and
importance 0.9^i, dense data gives the top 2 features orthogonal dimensions and drops the rest,
while sparse data (density 0.05-0.1) gives a pentagon; the linear model always learns exactly the
top m features; uniform superposition at density ≈ 1/3 sits at D* ≈ 1/2 (antipodal pairs).
"""

import numpy as np
import pytest

from superposition_lib.core import metrics
from superposition_lib.core.config import ExperimentSpec
from superposition_lib.core.train import train

pytestmark = pytest.mark.slow

INTRO = dict(n_features=5, n_hidden=2, importance=[0.9 ** i for i in range(5)], steps=6000)


def is_pentagon(W: np.ndarray) -> bool:
    """All 5 features represented (norm > 0.8) with adjacent angles of 72° ± 10°."""
    if np.any(metrics.feature_norms(W) <= 0.8):
        return False
    angles = np.sort(np.degrees(np.arctan2(W[1], W[0])))
    gaps = np.diff(np.concatenate([angles, [angles[0] + 360]]))
    return bool(np.all(np.abs(gaps - 72) <= 10))


@pytest.fixture(scope="module")
def intro_run():
    # batches of 256, not the default 1024, in under half the time: for seeds 0-3 the same
    # pentagon counts as with 1024 but one (7 of 8 for seed 0 at density 0.05, against 8) and
    # dense tails <= 0.12 (< 0.2 asserted); 6000 steps stay: 3000-4000 leave tails near 0.2
    spec = ExperimentSpec(**INTRO, feature_probability=[1.0, 0.1, 0.05], restarts=8,
                          batch_size=256)
    return train(spec, progress=False)


def test_dense_data_represents_exactly_top_two_orthogonally(intro_run):
    best = intro_run.best()
    W = best.W[0]
    norms = metrics.feature_norms(W)
    assert np.all(norms[:2] > 0.9) and np.all(norms[2:] < 0.2), norms
    cosine = W[:, 0] @ W[:, 1] / (norms[0] * norms[1])
    assert abs(cosine) < 0.1
    assert metrics.n_represented(W) == 2


@pytest.mark.parametrize("instance", [1, 2])  # densities 0.1 and 0.05
def test_sparse_data_forms_a_pentagon_in_most_seeds(intro_run, instance):
    seeds = intro_run.W[intro_run.instance == instance]
    pentagons = sum(is_pentagon(W) for W in seeds)
    assert pentagons >= 5, f"{pentagons} of {len(seeds)} seeds formed a pentagon"
    assert is_pentagon(intro_run.best().W[instance])
    np.testing.assert_allclose(metrics.feature_dimensionality(intro_run.best().W[instance]),
                               0.4, atol=0.03)


def test_linear_model_learns_exactly_the_top_m_features():
    spec = ExperimentSpec(model="linear", n_features=20, n_hidden=5, steps=5000,
                          importance=[0.7 ** i for i in range(20)],
                          feature_probability=[1.0, 0.1, 0.01])
    norms = metrics.feature_norms(train(spec, progress=False).W)
    assert np.all(norms[:, :5] > 0.9), norms[:, :5]
    assert np.all(norms[:, 5:] < 0.1), norms[:, 5:].max()


def test_uniform_superposition_at_one_third_density_is_antipodal_pairs():
    # batches of 256, not the default 1024: D* = 0.518-0.519 in seeds 0-2, as 0.518 with 1024
    # (seed 0), in a third of the time
    spec = ExperimentSpec(n_features=100, n_hidden=10, feature_probability=[1 / 3], steps=8000,
                          batch_size=256)
    d_star = float(metrics.dimensions_per_feature(train(spec, progress=False).W)[0])
    assert d_star == pytest.approx(0.5, abs=0.05)
