"""The book's experiments: registry, profiles, tidy frames and a claim the chapter makes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from superposition_lib import experiments
from superposition_lib.cli import main
from superposition_lib.core import metrics
from superposition_lib.core.store import RunStore
from superposition_lib.core.train import train
from superposition_lib.experiments import toy_model


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models train far faster on one thread than on two shared, busy cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return RunStore(tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="module")
def basic(store):
    """The n=20 sweep, smoke profile, as a feature frame (linear and ReLU)."""
    return toy_model.basic_frames("smoke", store=store)


def test_every_experiment_has_every_profile_and_smoke_is_smaller():
    assert experiments.list_experiments()
    for exp in experiments.list_experiments():
        paper, smoke = exp.spec("paper"), exp.spec("smoke")
        assert paper.name == smoke.name == exp.name
        assert smoke.steps * smoke.batch_size * smoke.restarts < \
            paper.steps * paper.batch_size * paper.restarts
        # the same grid of densities (seed runs repeat each density fewer times in smoke)
        assert (smoke.n_features, smoke.n_hidden, _grid(smoke)) == \
            (paper.n_features, paper.n_hidden, _grid(paper))
        assert paper.key() != smoke.key()


def _grid(spec) -> set:
    """The distinct per-instance densities of a spec (a single density for all instances, or
    one per instance)."""
    p = spec.feature_probability
    return {tuple(np.atleast_1d(q)) for q in (p if isinstance(p, tuple) else (p,))}


def test_paper_profile_matches_the_paper():
    intro = experiments.get("intro-relu").spec("paper")
    np.testing.assert_allclose(intro.feature_probability, 20.0 ** -np.linspace(0, 1, 10))
    np.testing.assert_allclose(intro.importance, 0.9 ** np.arange(5))
    basic = experiments.get("basic-relu").spec("paper")
    assert basic.feature_probability == (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)
    np.testing.assert_allclose(basic.importance, 0.7 ** np.arange(20))
    assert (basic.steps, basic.batch_size, basic.restarts) == (10_000, 1024, 4)


def test_profile_selection(monkeypatch):
    monkeypatch.delenv(experiments.ENV_PROFILE, raising=False)
    assert experiments.current_profile() == "paper"
    monkeypatch.setenv(experiments.ENV_PROFILE, "smoke")
    assert experiments.current_profile() == "smoke"
    assert experiments.get("basic-relu").spec() == experiments.get("basic-relu").spec("smoke")
    assert experiments.current_profile("paper") == "paper"  # an argument wins
    monkeypatch.setenv(experiments.ENV_PROFILE, "huge")
    with pytest.raises(ValueError, match="SUPERPOSITION_PROFILE"):
        experiments.current_profile()


def test_unknown_experiment_names_the_registered_ones():
    with pytest.raises(ValueError, match="intro-relu"):
        experiments.get("nope")


def test_feature_and_gram_frames_on_a_tiny_run():
    spec = experiments.get("intro-relu").spec("smoke").replace(steps=30, restarts=2)
    run = train(spec, progress=False).best()
    f = toy_model.feature_frame(run)
    k, _, n = run.W.shape
    assert len(f) == k * n and set(f["model"]) == {"ReLU"}
    one = f[f["instance"] == 3].sort_values("feature")
    np.testing.assert_allclose(one["norm"], np.linalg.norm(run.W[3], axis=0))
    np.testing.assert_allclose(one["superposition"], metrics.superposition(run.W[3]))
    np.testing.assert_allclose(one["bias"], run.b[3])
    np.testing.assert_allclose(one[["w0", "w1"]].to_numpy().T, run.W[3])
    np.testing.assert_allclose(one["density"], spec.feature_probability[3])
    g = toy_model.gram_frame(run)
    assert len(g) == k * n * n
    G = g[g["instance"] == 3].pivot(index="i", columns="j", values="value").to_numpy()
    np.testing.assert_allclose(G, run.W[3].T @ run.W[3], atol=1e-6)


def test_linear_model_represents_exactly_the_top_m_features(basic):
    """The chapter's claim, on smoke-profile data: the linear model never uses superposition."""
    features, _ = basic
    m = experiments.get("basic-linear").spec("smoke").n_hidden
    lin = features[features["model"] == "linear"]
    for density, g in lin.groupby("density"):
        g = g.sort_values("feature")
        # the chapter's definition: represented means ||W_i|| > 0.5
        assert (g["represented"].to_numpy() == (g["feature"].to_numpy() < m)).all(), density
        assert (g["norm"].to_numpy()[:m] > 0.8).all(), density
        assert (g["superposition"].to_numpy()[:m] < 0.2).all(), density


def test_relu_model_represents_more_features_when_sparse(basic):
    features, _ = basic
    relu = features[features["model"] == "ReLU"]
    counts = relu.groupby("density")["represented"].sum()
    m = experiments.get("basic-relu").spec("smoke").n_hidden
    assert counts.loc[1.0] <= m < counts.loc[0.001]


def test_findings_are_plain_numbers(store, basic):
    intro, _ = toy_model.intro_frames("smoke", store=store)
    f = toy_model.findings(intro, basic[0])
    assert f["linear_top_m"] == f["basic_n_densities"] == 7
    assert f["dense_unrepresented_bias"] > 0 > f["sparse_mean_bias"]
    assert all(isinstance(v, (int, float, list)) for v in f.values())


def test_cli_run_and_figures_export(store, tmp_path, capsys):
    root = str(store.root)
    assert main(["run", "basic-linear", "--profile", "smoke", "--store", root,
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "basic-linear" in out and "cached" in out  # trained by the `basic` fixture
    assert main(["run", "--profile", "smoke", "--store", root]) == 2
    assert main(["run", "nope", "--profile", "smoke", "--store", root]) == 2
    assert main(["figures", "export", "--chapter", "nope", "--store", root]) == 2
    assert main(["figures", "export", "--chapter", "toy-model", "--profile", "smoke",
                 "--store", root, "--out", str(tmp_path)]) == 0
    names = {p.name for p in (tmp_path / "toy-model").iterdir()}
    assert {"fig-basic.html", "fig-basic.png", "fig-basic.svg", "fig-basic.vl.json",
            "fig-basic-features.csv", "fig-intro-gram.csv"} <= names
    pd.read_csv(tmp_path / "toy-model" / "fig-basic-features.csv")


# ------------------------------------------------------------------------------------------
# The committed paper runs: the toy-model chapter's counts over seeds and restarts
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def paper_counts():
    from pathlib import Path

    return toy_model.count_frames("paper", store=RunStore(Path(__file__).parents[1] / "data"))


def test_paper_sixteen_restarts_escape_the_intro_local_minimum(paper_counts):
    best4, best16 = paper_counts["intro_best4"], paper_counts["intro_best16"]
    d_mid = sorted(best4["density"].unique(), reverse=True)[2]
    assert round(d_mid, 3) == 0.514
    mid4 = best4[best4["density"] == d_mid].set_index("seed")
    mid16 = best16[best16["density"] == d_mid].set_index("seed")
    assert (mid16["features"] == "0 1 2 3").all()
    wrong = mid4["features"] != "0 1 2 3"
    assert wrong.sum() >= 2
    assert (mid4.loc[wrong, "loss"] > mid16.loc[wrong[wrong].index, "loss"] * 1.01).all()


def test_paper_counts_over_seeds_match_the_paper_except_at_the_sparsest(paper_counts):
    c = paper_counts["basic"].set_index("density")
    assert c.loc[1.0, "mean"] == 5 and 7 <= c.loc[0.3, "mean"] <= 8 and c.loc[0.1, "mean"] == 9
    assert c.loc[0.001, "high"] < 16  # not "nearly all 20" at norm > 0.5 ...
    assert paper_counts["basic_01"].set_index("density").loc[0.001, "min"] >= 17  # ... at 0.1
    long = paper_counts["long"].set_index("density")
    assert abs(long.loc[0.001, "mean"] - c.loc[0.001, "mean"]) <= 2
    n80 = paper_counts["n80"].set_index("density")
    assert (paper_counts["n80_linear"]["mean"] == 20).all()
    assert n80.loc[1.0, "mean"] == 20 and n80["mean"].is_monotonic_increasing  # densest first
    assert n80.loc[0.001, "mean"] > 3 * 20


def test_paper_most_important_feature_keeps_its_own_direction_at_0_1_but_not_the_figure_seed(
        paper_counts):
    first = paper_counts["first_orthogonal"].set_index("density")
    assert first.loc[0.1, "orthogonal"] >= 0.75 * first.loc[0.1, "seeds"]
    assert first.loc[0.03, "orthogonal"] <= 1
    from superposition_lib import experiments

    shown = toy_model.feature_frame(experiments.load("basic-linear", "paper"),
                                    experiments.load("basic-relu", "paper"))
    row = shown[(shown["model"] == "ReLU") & (shown["feature"] == 0) & (shown["density"] == 0.1)]
    assert row["superposition"].item() > 0.5


def test_a_dropped_first_feature_does_not_count_as_having_its_own_direction():
    seeds = pd.DataFrame({"density": [0.1, 0.1], "first_superposition": [0.0, 0.0],
                          "first_norm": [1.0, 0.0]})
    assert toy_model.first_feature_orthogonal(seeds)["orthogonal"].tolist() == [1]
