"""The closed-form losses of the n=2, m=1 candidate solutions, checked by Monte Carlo."""

import numpy as np
import pytest
import torch

from superposition_lib.data import FeatureDistribution
from superposition_lib.models import forward, per_model_loss
from superposition_lib.theory import (CANDIDATES, antipodal_error, candidate_losses,
                                      phase_boundaries, phase_diagram)

SAMPLES = 1 << 22


def monte_carlo_loss(W, b, p, r, samples=SAMPLES, seed=0):
    """The library's loss of a fixed model, estimated on samples (mean, standard error)."""
    dist = FeatureDistribution("sparse_uniform", [[p, p]])
    x = dist.sample(samples, torch.Generator().manual_seed(seed)).double()
    params = {"W": torch.as_tensor(W, dtype=torch.float64)[None],
              "b": torch.as_tensor(b, dtype=torch.float64)[None]}
    err = (forward(params, x, "relu_output") - x).square() * torch.tensor([1.0, r]).double()
    per_sample = err.mean(-1)[0]
    return float(per_sample.mean()), float(per_sample.std() / np.sqrt(samples))


@pytest.mark.parametrize("p", [1.0, 0.5, 0.2])  # sparser: too few collisions to see 1%
@pytest.mark.parametrize("r", [0.5, 3.0])
def test_closed_form_losses_match_monte_carlo_within_one_percent(p, r):
    theory = candidate_losses(p, r).iloc[0]
    biases = {"not_represented": [0.0, p / 2], "dedicated": [p / 2, 0.0],
              "superposition": [0.0, 0.0]}
    for name, W in CANDIDATES.items():
        mc, se = monte_carlo_loss(W, biases[name], p, r)
        assert abs(mc - theory[name]) <= 0.01 * theory[name], (name, mc, theory[name], se)
        assert se < 0.004 * mc  # the 1% check spans at least 2.5 standard errors


@pytest.mark.parametrize("p", [1.0, 0.2])
@pytest.mark.parametrize("beta", [0.1, 0.4])
def test_antipodal_error_with_a_negative_bias_matches_monte_carlo(p, beta):
    mc, _ = monte_carlo_loss(CANDIDATES["superposition"], [-beta, -beta], p, 1.0)
    assert mc == pytest.approx(float(antipodal_error(p, beta)), rel=0.01)


def test_zero_bias_is_optimal_for_the_antipodal_pair():
    beta = np.linspace(0, 1, 1001)
    for p in (1.0, 0.3, 0.05, 0.01):
        errors = antipodal_error(p, beta)
        assert np.all(np.diff(errors) >= -1e-15) and errors[0] == pytest.approx(p ** 2 / 6)


def test_boundaries_are_where_losses_are_equal():
    densities = np.geomspace(0.01, 1, 25)
    bounds = phase_boundaries(densities)
    for _, row in bounds.iterrows():
        for pair in ("not_represented|superposition", "dedicated|superposition"):
            r = row[pair]
            if np.isnan(r):
                continue
            a, b = pair.split("|")
            losses = candidate_losses(row["density"], r).iloc[0]
            assert losses[a] == pytest.approx(losses[b], rel=1e-9)


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
