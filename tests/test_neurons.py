"""Neuron codes of privileged-basis models, on constructed weights."""

from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from superposition_lib.analysis import neurons


def _code(sets, m):
    """W (1, m, n) in which feature i is read equally by the neurons in sets[i]."""
    W = np.zeros((1, m, len(sets)))
    for i, ks in enumerate(sets):
        if ks:
            W[0, list(ks), i] = 1 / np.sqrt(len(ks))
    return W


def test_dedicated_neurons_are_monosemantic():
    W = _code([(0,), (1,), (2,)], 5)
    df = neurons.model_codes(W)
    assert df.loc[0, "regime"] == "monosemantic"
    assert df.loc[0, ["represented", "monosemantic", "unused"]].tolist() == [3, 3, 2]


def test_every_pair_of_five_neurons_is_a_pair_code():
    W = _code(list(combinations(range(5), 2)), 5)
    df = neurons.model_codes(W)
    assert df.loc[0, "regime"] == "pair code" and df.loc[0, "distinct_codes"]
    assert df.loc[0, "code_2"] == 10 and df.loc[0, "features_per_neuron"] == 4


def test_two_features_on_each_neuron():
    W = _code([(k,) for k in range(5)] * 2, 5)
    assert neurons.regime(W) == ["two features per neuron"]
    assert not neurons.model_codes(W).loc[0, "distinct_codes"]


def test_a_monosemantic_neuron_next_to_shared_ones_is_mixed():
    assert neurons.regime(_code([(0,), (1,), (1,)], 3)) == ["mixed"]


def test_triples_are_a_distributed_code_and_unequal_codes_are_mixed():
    assert neurons.regime(_code(list(combinations(range(5), 3)), 5)) == ["distributed code"]
    assert neurons.regime(_code([(0, 1), (2,), (2,), (0, 1, 2)], 3)) == [
        "polysemantic, mixed code"]


def test_negative_weights_never_carry_a_feature():
    W = _code([(0,), (1,)], 2)
    W[0, 1, 0] = -3.0                    # neuron 1 is inhibited by feature 0, not carrying it
    assert neurons.carries(W)[0].astype(int).tolist() == [[1, 0], [0, 1]]
    assert neurons.feature_gain(W)[0].tolist() == pytest.approx([1.0, 1.0])


def test_small_weights_are_not_represented_and_nothing_is_none():
    assert neurons.regime(np.full((1, 3, 4), 0.1)) == ["none"]


def test_thresholds_and_shapes_are_checked():
    with pytest.raises(ValueError, match="min_share"):
        neurons.carries(np.ones((1, 2, 2)), min_share=0)
    with pytest.raises(ValueError, match="min_gain"):
        neurons.carries(np.ones((1, 2, 2)), min_gain=-1)
    with pytest.raises(ValueError, match=r"W: must have shape \(models, m, n\)"):
        neurons.regime(np.ones((2, 2)))


def test_top_represented_counts_leading_features():
    W = _code([(0,), (1,), (), (2,)], 3)
    df = neurons.model_codes(W, importance=[1.0, 0.9, 0.8, 0.7])
    assert df.loc[0, "top_represented"] == 2
    assert neurons.model_codes(_code([(0,), (1,)], 2), [1.0, 0.5]).loc[0, "top_represented"] == 2


def test_neuron_order_follows_the_most_important_feature_carried():
    W = _code([(3,), (1,), (0,), (0,)], 4)        # neuron 2 unused
    assert neurons.neuron_order(W)[0].tolist() == [3, 1, 0, 2]


def test_best_of_n_distribution_matches_sampling():
    rng = np.random.default_rng(0)
    loss = rng.random(12)
    labels = rng.choice(["a", "b", "c"], 12)
    exact = neurons.best_of_n_distribution(loss, labels, [1, 4, 12]).set_index(["n", "label"])
    for n in (1, 4):
        picks = [labels[s[np.argmin(loss[s])]] for s in
                 (rng.choice(12, n, replace=False) for _ in range(20000))]
        for label in "abc":
            assert exact.loc[(n, label), "probability"] == pytest.approx(
                np.mean(np.array(picks) == label), abs=0.015)
    best = labels[np.argmin(loss)]
    assert exact.loc[(12, best), "probability"] == pytest.approx(1.0)


def test_best_of_n_distribution_rejects_bad_n():
    with pytest.raises(ValueError, match=r"n_values: every N must be an integer in \[1, 3\]"):
        neurons.best_of_n_distribution([1, 2, 3], ["a", "b", "c"], [4])


def test_signed_halves_split_the_absolute_value_weights():
    W1 = np.array([[[0.8, -0.2], [-0.9, 0.4]]])
    halves = neurons.signed_halves(W1)
    assert halves.shape == (1, 2, 4)
    assert neurons.carries(halves)[0].astype(int).tolist() == [[1, 0, 0, 0], [0, 0, 1, 0]]


def test_untied_output_weights_reduce_to_the_tied_case_and_are_checked():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(3, 4, 6))
    tied = neurons.model_codes(W)
    untied = neurons.model_codes(W, W_out=np.swapaxes(W, 1, 2))
    pd.testing.assert_frame_equal(tied, untied)
    with pytest.raises(ValueError, match=r"W_out: must have shape \(models, n, m\)"):
        neurons.carries(W, W_out=W)


def test_a_feature_read_weakly_and_written_strongly_still_counts():
    # input weight 0.25, output weight 4: contribution 1, as a tied weight of 1 would give
    W = np.array([[[0.25]]])
    assert neurons.feature_gain(W, W_out=[[[4.0]]]).tolist() == [[1.0]]
    assert neurons.regime(W, [[[4.0]]]) == ["monosemantic"]


@pytest.mark.parametrize("sets, name", [
    ([(0,), (1,), (2,), (), ()], "all monosemantic"),          # two features dropped
    ([(0,), (1,), (2,), (3,), (4,), (3, 4)], "3 features in 2 neurons"),
    ([(0,), (1,), (2, 3), (2, 4), (3, 4), (2,), (3,), (4,)], "6 features in 3 neurons"),
    ([tuple(p) for p in combinations(range(5), 2)], "pair code"),
    ([(), ()], "none"),
])
def test_paper_regime_counts_the_features_on_polysemantic_neurons(sets, name):
    """The paper's names: the polysemantic neurons and the features they carry, whatever the
    monosemantic neurons hold; the pair code and an empty model keep their names."""
    df = neurons.model_codes(_code(sets, 5))
    assert df.loc[0, "paper_regime"] == name
    assert df.loc[0, "superposed"] == (0 if name in ("all monosemantic", "none")
                                       else int(name.split()[0]) if name[0].isdigit() else 10)
