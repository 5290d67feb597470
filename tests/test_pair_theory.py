"""The closed-form losses of the arrangements of correlated pairs, checked by Monte Carlo on
the library's own correlated data."""

import numpy as np
import pytest
import torch

from superposition_lib import pair_theory as pt
from superposition_lib.data import FeatureDistribution
from superposition_lib.models import forward
from superposition_lib.theory import antipodal_error, optimal_bias

SAMPLES = 1 << 21

#: Weights of the arrangements (pairs (0, 1) and (2, 3)); the collapsed one at s = 1/2.
_H = np.sqrt(0.5)
WEIGHTS = {"orthogonal": [[1, 0, -1, 0], [0, 1, 0, -1]],
           "antipodal": [[1, -1, 0, 0], [0, 0, 1, -1]],
           "collapsed": [[_H, _H, 0, 0], [0, 0, _H, _H]]}


def monte_carlo_loss(W, b, p, c, seed=0):
    """Mean squared error per feature of a fixed ReLU-output model (mean, standard error)."""
    dist = FeatureDistribution("correlated", [[p] * 4], set_size=2, correlation=c)
    x = dist.sample(SAMPLES, torch.Generator().manual_seed(seed)).double()
    params = {"W": torch.as_tensor(W, dtype=torch.float64)[None],
              "b": torch.as_tensor(b, dtype=torch.float64)[None]}
    err = (forward(params, x, "relu_output") - x).square()[0].mean(1)
    return float(err.mean()), float(err.std() / np.sqrt(SAMPLES))


def _bias(name, p, c):
    """The optimal biases of an arrangement, found by minimising its closed-form error."""
    if name == "collapsed":
        return np.zeros(4)
    q2 = pt.pair_probabilities(p, c)[2] if name == "antipodal" else p ** 2
    grid = np.linspace(0, 1, 20001)
    return np.full(4, grid[np.argmin(antipodal_error(p, grid, both=q2))])


@pytest.mark.parametrize("p, c", [(1.0, 0.5), (0.5, 0.0), (0.5, 1.0), (0.3, 0.6), (0.2, 0.9)])
def test_closed_form_losses_match_monte_carlo_within_four_standard_errors(p, c):
    theory = pt.pair_losses(p, c).iloc[0]
    for name, W in WEIGHTS.items():
        mc, se = monte_carlo_loss(np.array(W, float), _bias(name, p, c), p, c)
        assert abs(mc - theory[name]) <= 4 * se, (name, mc, theory[name], se)
        assert se < 0.005 * mc                 # so an error of 2% would be caught


def test_collapsed_reading_cannot_beat_the_conditional_mean():
    # E[x_a | x_a + x_b] = (x_a + x_b)/2: no other scale or bias does better on the same data
    p, c = 0.3, 0.6
    best, _ = monte_carlo_loss(np.array(WEIGHTS["collapsed"]), np.zeros(4), p, c)
    for scale, bias in ((0.45, 0.0), (0.55, 0.0), (0.5, -0.02), (0.5, 0.02)):
        W = np.array(WEIGHTS["collapsed"]) * np.sqrt(2 * scale)
        other, _ = monte_carlo_loss(W, np.full(4, bias), p, c)
        assert other > best


def test_antipodal_error_with_independent_partner_is_the_phase_change_formula():
    p, b = np.array([0.7, 0.2]), np.array([0.3, 0.01])
    np.testing.assert_allclose(antipodal_error(p, b, both=p ** 2), antipodal_error(p, b))
    assert np.allclose(pt.pair_losses(p, 0.0)["antipodal"], pt.pair_losses(p, 0.0)["orthogonal"])
    assert np.allclose(pt.pair_losses(p, 0.0)["orthogonal"],
                       antipodal_error(p, optimal_bias("antipodal", p)))


def test_correlated_pairs_prefer_orthogonal_members_and_dense_pairs_collapse():
    grid = pt.pair_phase_map(np.geomspace(0.99, 0.01, 15), np.linspace(0, 1, 11))
    assert (grid["orthogonal"] <= grid["antipodal"] + 1e-12).all()
    assert (grid.loc[grid["c"] > 0, "orthogonal"] < grid.loc[grid["c"] > 0, "antipodal"]).all()
    # the no-superposition reference equals the collapsed pair at c = 0 and loses for c > 0
    np.testing.assert_allclose(grid.loc[grid["c"] == 0, "single"],
                               grid.loc[grid["c"] == 0, "collapsed"])
    assert (grid.loc[grid["c"] > 0, "collapsed"] < grid.loc[grid["c"] > 0, "single"]).all()
    assert set(grid.loc[grid["p"] < 0.1, "best"]) == {"orthogonal"}
    assert set(grid.loc[grid["p"] > 0.6, "best"]) == {"collapsed"}


def test_boundary_is_where_collapsed_and_orthogonal_cost_the_same():
    b = pt.collapse_boundary([0.6, 0.5, 0.4, 0.35])
    inside = b[(b["c"] > 0) & (b["c"] < 1)]
    assert len(inside) >= 2
    losses = pt.pair_losses(inside["p"], inside["c"])
    np.testing.assert_allclose(losses["collapsed"], losses["orthogonal"], rtol=1e-9)
    assert b["c"].is_monotonic_increasing                # sparser: more correlation needed
    above = pt.pair_losses(inside["p"], np.minimum(inside["c"] + 0.05, 1.0))
    assert (above["best"] == "collapsed").all()


@pytest.mark.parametrize("field, kwargs", [("p", {"p": 0.0, "c": 0.5}),
                                           ("c", {"p": 0.5, "c": 1.5})])
def test_bad_density_or_correlation_names_the_field(field, kwargs):
    with pytest.raises(ValueError, match=f"^{field}: values must lie in"):
        pt.pair_probabilities(**kwargs)
