"""The exact losses of the arrangements of correlated pairs, checked by Monte Carlo on the
library's own correlated data."""

import numpy as np
import pytest
import torch

from superposition_lib.analysis import pair_theory as pt
from superposition_lib.analysis.theory import antipodal_minimum
from superposition_lib.core.data import FeatureDistribution
from superposition_lib.core.models import forward

SAMPLES = 1 << 21


def monte_carlo_errors(W, b, p, c, seed=0):
    """Squared error per feature of a fixed ReLU-output model: (means, standard errors)."""
    dist = FeatureDistribution("correlated", [[p] * 4], set_size=2, correlation=c)
    x = dist.sample(SAMPLES, torch.Generator().manual_seed(seed)).double()
    params = {"W": torch.as_tensor(W, dtype=torch.float64)[None],
              "b": torch.as_tensor(b, dtype=torch.float64)[None]}
    err = (forward(params, x, "relu_output") - x).square()[0]
    return err.mean(0).numpy(), (err.std(0) / np.sqrt(SAMPLES)).numpy()


def optimum_model(name, p, c):
    """An arrangement's weights and biases at the optimum pt.arrangement_optimum found."""
    opt = pt.arrangement_optimum(name, [p], [c]).iloc[0]
    roles = pt._LAYOUTS[name][1]
    return (pt.arrangement_weights(name, opt["scale"], opt["tilt"]),
            np.array([opt[f"bias{r}"] for r in roles]), opt["loss"])


@pytest.mark.parametrize("p, c", [(0.7, 0.2), (0.3, 0.6), (0.05, 0.9), (1.0, 0.0)])
def test_exact_errors_of_any_model_match_monte_carlo(p, c):
    rng = np.random.default_rng(int(p * 100))
    W, b = rng.normal(size=(2, 4)) * 0.8, rng.normal(size=4) * 0.2
    exact = pt.expected_errors(W, b, p, c)
    mc, se = monte_carlo_errors(W, b, p, c)
    assert np.all(np.abs(exact - mc) <= 4 * se), (exact, mc, se)
    assert np.all(se < 0.01 * mc)                # so an error of 4% would be caught


@pytest.mark.parametrize("name", pt.ARRANGEMENTS)
@pytest.mark.parametrize("p, c", [(1.0, 0.5), (0.6, 0.1), (0.3, 0.9)])
def test_arrangement_optima_match_monte_carlo(name, p, c):
    W, b, loss = optimum_model(name, p, c)
    mc, se = monte_carlo_errors(W, b, p, c)
    assert abs(mc.mean() - loss) <= 4 * np.sqrt((se ** 2).sum()) / 4, (mc.mean(), loss)
    np.testing.assert_allclose(pt.expected_errors(W, b, p, c).mean(), loss, rtol=1e-8)


def test_exact_errors_survive_tiny_interference():
    # interference of 1e-9: the float alternating sums would cancel to noise
    W = np.array([[1.0, 1e-9, -1.0, 0.0], [0.0, 1.0, 0.0, -1.0]])
    exact = pt.expected_errors(W, np.full(4, 0.02), 0.3, 0.5)
    clean = pt.expected_errors(np.round(W), np.full(4, 0.02), 0.3, 0.5)
    np.testing.assert_allclose(exact, clean, rtol=1e-6)


def test_collapsed_optimum_is_the_closed_form_conditional_mean():
    opt = pt.arrangement_optimum("collapsed", [0.8, 0.3, 0.05], [0.0, 0.6, 1.0])
    np.testing.assert_allclose(opt["loss"], pt.collapsed_error([0.8, 0.3, 0.05],
                                                               [0.0, 0.6, 1.0]), rtol=1e-9)
    np.testing.assert_allclose(opt["scale"], 0.5, atol=1e-6)


def test_a_free_scale_makes_dense_superposition_cheaper_than_unit_norm():
    p = np.array([1.0, 0.6, 0.3, 0.01])
    free = pt.arrangement_optimum("orthogonal", p, 0.0)
    unit = antipodal_minimum(p)
    assert (free["loss"] <= unit + 1e-12).all()
    assert free["loss"].iloc[0] == pytest.approx(1 / 24, rel=1e-7)   # s = b = 1/2 at p = 1
    assert unit[0] / free["loss"].iloc[0] > 1.6
    assert free["loss"].iloc[-1] == pytest.approx(unit[-1], rel=1e-3)  # sparse: s -> 1


def test_orthogonal_members_tilt_apart_only_when_correlated():
    opt = pt.arrangement_optimum("orthogonal", [0.19, 0.19], [0.0, 1.0])
    assert opt["tilt"].iloc[0] == 90.0
    assert 91.0 < opt["tilt"].iloc[1] < 95.0
    upright = pt.arrangement_optimum("orthogonal", [0.19], [0.0])["loss"].iloc[0]
    assert opt["loss"].iloc[1] < upright * 0.999        # the tilt pays at c = 1


def test_the_phase_diagram_of_two_pairs():
    grid = pt.pair_phase_map(np.geomspace(0.99, 0.01, 12), np.linspace(0, 1, 11))
    c0, cpos = grid[grid["c"] == 0], grid[grid["c"] > 0]
    np.testing.assert_allclose(c0["orthogonal"], c0["antipodal"], rtol=1e-9)
    assert (cpos["orthogonal"] < cpos["antipodal"]).all()
    # the no-superposition reference equals the collapsed pair at c = 0 and loses for c > 0
    np.testing.assert_allclose(c0["single"], c0["collapsed"])
    assert (cpos["collapsed"] < cpos["single"]).all()
    assert set(grid.loc[grid["p"] < 0.25, "best"]) == {"orthogonal"}
    assert set(grid.loc[(grid["p"] > 0.7) & (grid["c"] >= 0.1), "best"]) == {"collapsed"}
    assert set(grid.loc[(grid["p"] > 0.7) & (grid["c"] == 0), "best"]) == {"triangle"}
    assert "antipodal" not in set(grid["best"])


def test_at_density_one_the_triangle_wins_by_a_hair():
    dense = pt.pair_losses([1.0], [0.3]).iloc[0]
    for name in ("orthogonal", "antipodal", "collapsed", "single"):
        assert dense[name] == pytest.approx(1 / 24, rel=1e-7)
    assert 0.998 * dense["collapsed"] < dense["triangle"] < 0.999 * dense["collapsed"]
    assert dense["best"] == "triangle"


def test_boundary_is_where_collapse_becomes_the_cheapest():
    b = pt.collapse_boundary([0.9, 0.6, 0.5, 0.4, 0.35, 0.1])
    assert np.isnan(b["c"].iloc[-1])                     # sparse: orthogonal at any c
    inside = b.dropna()
    assert len(inside) == 5 and inside["c"].iloc[1:].is_monotonic_increasing
    below = pt.pair_losses(inside["p"], inside["c"] - 2e-3)
    above = pt.pair_losses(inside["p"], np.minimum(inside["c"] + 2e-3, 1.0))
    assert (below["best"] != "collapsed").all() and (above["best"] == "collapsed").all()
    assert pt.pair_losses([0.9], [b["c"].iloc[0] - 2e-3])["best"].item() == "triangle"


@pytest.mark.parametrize("field, kwargs", [("p", {"p": 0.0, "c": 0.5}),
                                           ("c", {"p": 0.5, "c": 1.5})])
def test_bad_density_or_correlation_names_the_field(field, kwargs):
    with pytest.raises(ValueError, match=f"^{field}: values must lie in"):
        pt.pair_probabilities(**kwargs)


def test_bad_arrangement_or_shapes_name_the_field():
    with pytest.raises(ValueError, match="^name: must be one of"):
        pt.arrangement_optimum("square", [0.5], [0.5])
    with pytest.raises(ValueError, match="^W: shape must be"):
        pt.expected_errors(np.ones((2, 3)), np.zeros(3), 0.5, 0.5)
