"""Intervals over seeds: coverage of the bootstrap, clusters, and the Wilson interval."""

import numpy as np
import pytest

from superposition_lib.analysis.stats import bootstrap_interval, wilson_interval


def test_bootstrap_interval_covers_the_true_mean_about_as_often_as_it_says():
    rng = np.random.default_rng(1)
    hits = 0
    for trial in range(300):
        values = rng.exponential(1.0, size=40)
        _, low, high = bootstrap_interval(values, resamples=500, seed=trial)
        hits += low <= 1.0 <= high
    assert 0.88 <= hits / 300 <= 0.99  # percentile intervals undercover a little at n = 40


def test_resampling_clusters_widens_the_interval_when_models_of_a_seed_agree():
    rng = np.random.default_rng(2)
    seed_effect = rng.normal(0, 1, 10)
    values = np.repeat(seed_effect, 4) + rng.normal(0, 0.1, 40)  # 10 seeds x 4 densities
    seeds = np.repeat(np.arange(10), 4)
    _, lo_models, hi_models = bootstrap_interval(values)
    _, lo_seeds, hi_seeds = bootstrap_interval(values, clusters=seeds)
    assert hi_seeds - lo_seeds > 1.5 * (hi_models - lo_models)


def test_nans_are_left_out_and_an_empty_sample_gives_nans():
    assert bootstrap_interval([1.0, np.nan, 1.0])[1:] == (1.0, 1.0)
    assert all(np.isnan(bootstrap_interval([np.nan, np.nan])))


def test_wilson_interval_matches_its_closed_form_and_stays_in_the_unit_interval():
    p, low, high = wilson_interval(10, 10)
    assert p == 1.0 and high == 1.0 and low == pytest.approx(0.7225, abs=1e-4)
    assert wilson_interval(50, 100)[1:] == pytest.approx((0.4038, 0.5962), abs=1e-4)


@pytest.mark.parametrize("call, message", [
    (lambda: bootstrap_interval([1.0, 2.0], clusters=[0]), "clusters: need one label"),
    (lambda: bootstrap_interval([1.0], resamples=0), "resamples: must be an integer >= 1"),
    (lambda: bootstrap_interval([1.0], confidence=1.0), r"confidence: must lie in \(0, 1\)"),
    (lambda: wilson_interval(3, 2), r"k: must be an integer in \[0, n\]"),
    (lambda: wilson_interval(0, 0), "n: must be an integer >= 1"),
])
def test_bad_arguments_name_the_field(call, message):
    with pytest.raises(ValueError, match=message):
        call()
