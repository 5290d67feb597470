"""The computation experiments (absolute value): profiles, frames and charts (smoke)."""


import numpy as np
import pandas as pd
import pytest

from superposition_lib import experiments
from superposition_lib.analysis import neurons
from superposition_lib.book import computation as book
from superposition_lib.book.registry import builders
from superposition_lib.experiments import computation as cp


@pytest.fixture(scope="module")
def store(smoke_store):
    return smoke_store


@pytest.fixture(scope="module")
def smoke(store):
    return cp.computation_results("smoke", store=store)


def test_profiles_follow_the_paper():
    large = experiments.get("abs-value").spec("paper")
    assert (large.model, large.n_features, large.n_hidden) == ("absolute_value", 100, 40)
    assert large.importance_array()[0, :3].tolist() == pytest.approx([1.0, 0.8, 0.64])
    assert sorted(set(large.feature_probability_array()[:, 0])) == sorted(cp.DENSITIES)
    small = experiments.get("abs-value-n3").spec("paper")
    assert (small.n_features, small.n_hidden) == (3, 6)


def test_model_frame_counts_halves(smoke):
    run, models = smoke["small"], smoke["small_models"]
    W1h, W2h = neurons.signed_halves(run.W), np.concatenate([run.W_out, run.W_out], axis=1)
    assert models["regime"].tolist() == neurons.regime(W1h, W2h)
    assert (models["both_halves"] <= models["represented"] / 2).all()
    assert (models["own_neurons"] <= models["both_halves"]).all()


def test_asymmetric_pairs_finds_a_weak_in_strong_out_neuron():
    # neuron 0 reads x0 > 0 strongly (1.0) and x1 > 0 weakly (0.25), and writes the weak one
    # strongly: W2[1, 0] = 4 against W2[0, 0] = 1
    W1 = np.array([[[1.0, 0.25], [0.0, 0.0]]])
    W2 = np.array([[[1.0, 0.0], [4.0, 0.0]]])
    motifs = cp.asymmetric_pairs(W1, W2)
    assert motifs[["model", "neuron", "strong", "weak"]].values.tolist() == [[0, 0, 0, 1]]
    assert motifs["input_ratio"].iloc[0] == pytest.approx(4.0)
    assert cp.asymmetric_pairs(np.array([[[1.0, 1.0], [0.0, 0.0]]]),
                               np.array([[[1.0, 0.0], [1.0, 0.0]]])).empty
    # the negative halves count too: -x1 read weakly through a negative weight
    neg = cp.asymmetric_pairs(np.array([[[1.0, -0.25]]]), np.array([[[1.0], [4.0]]]))
    assert neg[["strong", "weak"]].values.tolist() == [[0, 3]]
    with pytest.raises(ValueError, match="ratio: must be > 1"):
        cp.asymmetric_pairs(W1, W2, ratio=1.0)


def test_motif_ablation_finds_the_inhibitor_and_silencing_it_hurts_the_weak_feature():
    """A hand-built motif: neuron 0 reads x0 > 0 strongly and x1 > 0 weakly and writes feature
    1 strongly; neuron 1 reads x0 > 0 and writes -feature 1 (the inhibitor), cancelling the
    spurious output on feature 1 exactly: 4 ReLU(x0 + x1/4) - 4 ReLU(x0) = x1 for x0, x1 > 0;
    neuron 2 computes ReLU(-x0)."""
    from dataclasses import replace

    from superposition_lib import train
    from superposition_lib.core.config import ExperimentSpec

    spec = ExperimentSpec(model="absolute_value", n_features=2, n_hidden=3,
                          feature_probability=0.3, steps=1)
    run = train(spec, progress=False)
    W1 = np.array([[[1.0, 0.25], [1.0, 0.0], [-1.0, 0.0]]])          # (1, m, n)
    W2 = np.array([[[1.0, 0.0, 1.0], [4.0, -4.0, 0.0]]])             # (1, n, m)
    run = replace(run, W=W1, W_out=W2, b=np.zeros((1, 2)))
    motifs = cp.asymmetric_pairs(run.W, run.W_out)
    assert motifs[["neuron", "strong", "weak"]].values.tolist() == [[0, 0, 1]]
    a = cp.motif_ablation(run, motifs, samples=2048).iloc[0]
    assert a["inhibitor"] == 1 and a["inhibition"] == pytest.approx(-4.0)
    assert a["weak_rise"] > 1 and a["rise"] > 0 and a["rise_se"] > 0
    assert np.isfinite(a["control_weak_rise"])
    assert cp.motif_ablation(run, motifs.iloc[:0]).empty


def test_weight_frame_keeps_the_top_weights_and_sums_the_rest(smoke):
    run, models = smoke["large"], smoke["large_models"]
    best = models[models["best"]].sort_values("density", ascending=False)
    w = cp.weight_frame(run, best, top=3)
    first = w[w["step"] == 0]
    W = run.W[best["model"].iloc[0]]
    scaled = W / np.abs(W).max(axis=1, keepdims=True)
    sums = first.groupby("neuron")["weight"].sum().reindex(range(W.shape[0]), fill_value=0)
    assert sums.to_numpy() == pytest.approx(scaled.sum(axis=1), abs=1e-5)
    assert (first[first["feature"] >= 0].groupby("neuron").size() <= 3).all()


@pytest.mark.parametrize("label", sorted(builders(book.CHAPTER)))
def test_figures_validate(label, store):
    out = builders(book.CHAPTER)[label]("smoke", store=store)
    for chart in (out[0], *out[2:]):
        chart.to_dict(validate=True)
    assert all(isinstance(df, pd.DataFrame) and len(df) for df in out[1].values())


@pytest.fixture(scope="module")
def paper():
    return cp.computation_results("paper")


def test_paper_three_features_get_two_neurons_each(paper):
    best = paper["small_models"].query("best")
    assert (best["own_neurons"] == 3).all() and (best["monosemantic"] == 6).all()


def test_paper_polysemantic_neurons_appear_with_sparsity(paper):
    """The chapter: fewer than one polysemantic neuron per model down to 1 - S = 0.3, at least
    ten from 0.1 on; the asymmetric motif only where neurons are polysemantic."""
    by = paper["large_models"].groupby("density").agg(
        poly=("polysemantic", "mean"), motifs=("asymmetric", "sum"))
    dense, sparse = by[by.index >= 0.3], by[by.index <= 0.1]
    m = paper["large"].spec.n_hidden
    # "a third to two thirds of the neurons are polysemantic"
    assert (dense["poly"] < 1).all() and sparse["poly"].between(m / 3, 2 * m / 3).all()
    assert (dense["motifs"] == 0).all() and sparse["motifs"].sum() > 0


def test_paper_important_features_do_not_stay_monosemantic(paper):
    """The chapter's disagreement with the paper: the 10 most important features all have
    their own two neurons at 1 - S = 1, at most 20% of them at 0.1 and sparser."""
    top = cp.importance_frame(paper["features"], 10)["top_own"]
    assert top.loc[1.0] == 1.0
    assert (top[top.index <= 0.1] <= 0.2).all()


def test_paper_sparse_models_compute_one_half_of_most_features(paper):
    by = paper["large_models"].groupby("density")[["one_half", "both_halves"]].mean()
    sparse = by[by.index <= 0.1]
    assert (sparse["one_half"] > 2 * sparse["both_halves"]).all()
    assert (by.loc[1.0, "one_half"] == 0)
    no_mono = {"one neuron per feature", "two features per neuron", "pair code",
               "distributed code", "polysemantic, mixed code"}
    assert not set(paper["large_models"]["regime"]) & no_mono


def test_paper_longer_training_keeps_most_important_features_without_own_neurons(paper):
    """The chapter's training-length control: at 50,000 steps at most half of the 10 most
    important features have neurons of their own at each of the three sparsest densities."""
    ctl = paper["control"]
    assert sorted(set(ctl["steps"])) == [10_000, 50_000]
    assert sorted(set(ctl["density"])) == sorted(cp.LONG_DENSITIES)
    assert (ctl.loc[ctl["steps"] == 50_000, "top_own"] <= 0.5).all()
    assert (ctl.loc[ctl["steps"] == 10_000, "top_own"] <= 0.5).all()


def test_paper_the_motifs_inhibitor_guards_the_weak_feature(paper):
    """The chapter's "The motif's inhibitory neuron, silenced": silencing it raises the weak
    feature's error many times more than silencing other neurons, in nearly every motif, while
    the whole loss rises no more than for the controls."""
    a = paper["ablation"]
    assert len(a) == len(paper["motifs"]) >= 10
    inh = a[a["inhibitor"] >= 0]
    assert len(inh) >= 0.9 * len(a)
    assert inh["weak_rise"].median() > 10 * inh["control_weak_rise"].median()
    assert (inh["weak_rise"] > inh["control_weak_rise"]).mean() >= 0.9
    assert inh["rise"].median() < 2 * inh["control_rise"].median()
    assert ((inh["rise"] > inh["control_rise"]).mean() < 0.75)


def test_paper_convergence_run_the_chapter_reads(paper):
    """The chapter's "Trained to convergence": the dense models converge, none at 1 − S = 0.1
    and 0.03, where the loss still falls and the top features' share on their own neurons has
    grown since 10,000 steps; at the three sparsest densities that share stays low."""
    s = paper["converged"].set_index("density")
    assert (s["seeds"] == cp.CONVERGE_SEEDS).all()
    assert (s.loc[[1.0, 0.3], "converged"] == cp.CONVERGE_SEEDS).all()
    assert (s.loc[[0.1, 0.03], "converged"] == 0).all()
    assert (s.loc[[0.1, 0.03], "loss_change"] > 0.1).all()
    short = cp.importance_frame(paper["features"])["top_own"]
    for d in (0.1, 0.03):
        assert s.loc[d, "top_own_low"] > short.loc[d], (d, s.loc[d], short.loc[d])
    assert (s.loc[[0.01, 0.003, 0.001], "top_own"] < 0.3).all()
    assert (s.loc[[1.0, 0.3], "top_own"] == 1).all()


def test_convergence_frame_needs_snapshots_at_80_percent(smoke):
    with pytest.raises(ValueError, match="needs weight snapshots at 80%"):
        cp.convergence_frame(smoke["large"])


def test_paper_longer_convergence_run_the_chapter_reads(paper):
    """The chapter's "Three times longer": at 150,000 steps some but not all models at
    1 - S = 0.1 and 0.03 converge; the top-10 share on own neurons rises at 0.1 and falls at
    0.03, and at both its interval overlaps the one after 50,000 steps."""
    long = paper["converged_long"].set_index("density")
    short = paper["converged"].set_index("density")
    assert (long["seeds"] == cp.CONVERGE_SEEDS).all()
    assert ((long["converged"] > 0) & (long["converged"] < long["seeds"])).all()
    assert long["converged"].sum() < long["seeds"].sum() / 2     # "the loss of most models"
    assert long["loss_change"].max() > 0.1
    assert long.loc[0.1, "top_own"] > short.loc[0.1, "top_own"]
    assert long.loc[0.03, "top_own"] < short.loc[0.03, "top_own"]
    for d in (0.1, 0.03):
        assert long.loc[d, "top_own_low"] < short.loc[d, "top_own_high"]
        assert short.loc[d, "top_own_low"] < long.loc[d, "top_own_high"]
