"""The closed-form losses of the candidate solutions, checked by Monte Carlo."""

import numpy as np
import pytest
import torch

from superposition_lib.analysis.theory import (
    CANDIDATES,
    antipodal_error,
    candidate_losses,
    feature_variance,
    optimal_bias,
    phase_boundaries,
    phase_diagram,
    triangle_error,
)
from superposition_lib.core.data import FeatureDistribution
from superposition_lib.core.models import forward

SAMPLES = 1 << 22


def monte_carlo_errors(W, b, p, samples=SAMPLES, seed=0):
    """Per-feature mean squared error of a fixed ReLU-output model (mean, standard error)."""
    n = W.shape[1]
    dist = FeatureDistribution("sparse_uniform", [[p] * n])
    x = dist.sample(samples, torch.Generator().manual_seed(seed)).double()
    params = {"W": torch.as_tensor(W, dtype=torch.float64)[None],
              "b": torch.as_tensor(b, dtype=torch.float64)[None]}
    err = (forward(params, x, "relu_output") - x).square()[0]
    return err.mean(0).numpy(), (err.std(0) / np.sqrt(samples)).numpy()


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("p", [1.0, 0.5, 0.2])  # sparser: too few collisions to see 1%
def test_closed_form_losses_match_monte_carlo_within_one_percent(n, p):
    for r in (0.5, 3.0):
        theory = candidate_losses(p, r, n_features=n).iloc[0]
        for name, c in CANDIDATES[n].items():
            mean, se = monte_carlo_errors(c.W, c.biases(p)[0], p)
            importance = np.r_[np.ones(n - 1), r]
            mc = float((importance * mean).sum() / n)
            mc_se = float(np.sqrt(((importance * se) ** 2).sum()) / n)
            assert abs(mc - theory[name]) <= 0.01 * theory[name], (name, r, mc, theory[name])
            assert mc_se < 0.004 * mc  # the 1% check spans at least 2.5 standard errors


@pytest.mark.parametrize("p", [1.0, 0.3])
@pytest.mark.parametrize("bias", [0.0, 0.2, 0.45])
def test_error_formulas_at_any_bias_match_monte_carlo(p, bias):
    pair, _ = monte_carlo_errors(CANDIDATES[2]["superposition"].W, [bias, bias], p)
    assert pair[0] == pytest.approx(float(antipodal_error(p, bias)), rel=0.01)
    tri, _ = monte_carlo_errors(CANDIDATES[3]["triangle"].W, [bias] * 3, p)
    assert tri[0] == pytest.approx(float(triangle_error(p, bias)), rel=0.01)


def test_optimal_biases_minimise_the_errors():
    b = np.linspace(0, 1, 20001)
    for p in (1.0, 0.6, 0.3, 0.05, 0.01):
        for kind, error, high in (("antipodal", antipodal_error, 1.0),
                                  ("triangle", triangle_error, 0.5)):
            grid = error(p, b[b <= high])
            best = float(optimal_bias(kind, [p])[0])
            assert 0 < best < high
            assert float(error(p, best)) <= grid.min() + 1e-12
    # a negative bias only makes things worse: the output is already <= the target
    assert optimal_bias("absent", [0.4]).tolist() == [0.2]


def test_bad_bias_or_model_size_names_the_field():
    with pytest.raises(ValueError, match="bias"):
        triangle_error(0.5, 0.7)
    with pytest.raises(ValueError, match="n_features"):
        candidate_losses(0.5, 1.0, n_features=4)
    with pytest.raises(ValueError, match="kind"):
        optimal_bias("hexagon", [0.5])


@pytest.mark.parametrize("n", [2, 3])
def test_boundaries_are_where_the_two_cheapest_losses_are_equal(n):
    bounds = phase_boundaries(np.geomspace(0.01, 1, 40), n_features=n)
    found = 0
    for _, row in bounds.iterrows():
        for pair in bounds.columns[1:]:
            r = row[pair]
            if np.isnan(r):
                continue
            found += 1
            a, b = pair.split("|")
            losses = candidate_losses(row["density"], r, n_features=n).iloc[0]
            names = list(CANDIDATES[n])
            assert losses[a] == pytest.approx(losses[b], rel=1e-9)
            assert losses[a] <= losses[names].min() * (1 + 1e-9)
            # just below and above r the two candidates take turns
            lo = candidate_losses(row["density"], r * 0.99, n_features=n).iloc[0]["solution"]
            hi = candidate_losses(row["density"], r * 1.01, n_features=n).iloc[0]["solution"]
            assert {lo, hi} == {a, b}
    assert found >= 40


def test_n2_boundaries_reduce_to_the_zero_bias_formulas_when_sparse():
    # the optimal bias is O(p^2), so as p -> 0 the boundaries approach 2p/(4-5p) and 2/p - 5/2
    p = 0.01
    row = phase_boundaries([p]).iloc[0]
    assert row["not_represented|superposition"] == pytest.approx(2 * p / (4 - 5 * p), rel=1e-3)
    assert row["dedicated|superposition"] == pytest.approx(2 / p - 2.5, rel=1e-3)
    assert row["not_represented|dedicated"] != row["not_represented|dedicated"]  # NaN
    assert phase_boundaries([1.0]).iloc[0]["not_represented|dedicated"] == 1.0
    assert feature_variance(1.0) == pytest.approx(1 / 12)


def test_phase_diagram_has_the_papers_three_regions():
    grid = phase_diagram(np.geomspace(0.01, 1, 30), np.geomspace(0.1, 10, 30))
    dense = grid[grid.density == 1.0]
    # dense features: never superposition; the more important feature gets the dimension
    assert set(dense.solution) == {"not_represented", "dedicated"}
    assert set(dense[dense.relative_importance < 1].solution) == {"not_represented"}
    assert set(dense[dense.relative_importance > 1].solution) == {"dedicated"}
    # sparse features of comparable importance: superposition
    sparse_equal = grid[(grid.density == 0.01) & grid.relative_importance.between(0.5, 2)]
    assert set(sparse_equal.solution) == {"superposition"}
    # superposition grows with sparsity: the fraction of r values where it wins
    share = grid.groupby("density").solution.apply(lambda s: (s == "superposition").mean())
    assert share.sort_index(ascending=False).is_monotonic_increasing


def test_n3_diagram_uses_every_candidate_and_superposition_needs_sparsity():
    grid = phase_diagram(np.geomspace(0.01, 1, 30), np.geomspace(0.1, 10, 30), n_features=3)
    assert set(grid.solution) == set(CANDIDATES[3])
    assert set(grid[grid.density == 1.0].extra) == {"not_represented", "dedicated"}
    share = grid.groupby("density").extra.apply(lambda s: (s == "superposition").mean())
    assert share.sort_index(ascending=False).is_monotonic_increasing
