"""PCA versus superposition: correlated-feature geometry, collapse, and the trade-off map."""

import json

import numpy as np
import pandas as pd
import pytest

from superposition_lib import experiments
from superposition_lib.analysis import pair_theory, pca
from superposition_lib.book import pca_vs_superposition as book_pt
from superposition_lib.book.registry import builders
from superposition_lib.core.store import RunStore
from superposition_lib.experiments import pca_vs_superposition as pt


@pytest.fixture(scope="module")
def store(smoke_store):
    return smoke_store


def test_every_experiment_has_a_cheaper_smoke_profile_on_the_same_grid():
    names = [e.name for e in experiments.list_experiments(pt.CHAPTER)]
    assert names == ["corr-pairs", "anticorr-pairs", "corr-hexagon", "indep-hexagon",
                     "corr-sets10", "collapse", "pca-map", "collapse-n6", "collapse-long",
                     "pca-map-long", "pair-map", "pca-map-fine"]
    for name in names:
        paper, smoke = (experiments.get(name).spec(p) for p in ("paper", "smoke"))
        assert (smoke.n_features, smoke.n_hidden) == (paper.n_features, paper.n_hidden)
        assert np.array_equal(smoke.feature_probability_array(),
                              paper.feature_probability_array())
        assert np.array_equal(smoke.correlation_array(), paper.correlation_array())
        assert (smoke.steps * smoke.batch_size * smoke.restarts
                < paper.steps * paper.batch_size * paper.restarts)
    grid = experiments.get("pca-map").spec("paper")
    assert grid.n_instances == len(pt.MAP_CORRELATIONS) * len(pt.MAP_DENSITIES) >= 144
    assert grid.restarts >= 3


def test_strategy_rule():
    s = np.sqrt(0.5)
    a = np.radians([0, 0, 90, 90, 180, 180, 270, 270])
    b = np.radians([0, 45, 90, 135, 180, 225, 270, 315])
    W = [[[s, s, 0, 0, 0, 0, 0, 0], [0, 0, s, s, 0, 0, 0, 0]],   # two pairs on two components
         [np.cos(a) * s, np.sin(a) * s],                          # four collapsed pairs: square
         [np.cos(b), np.sin(b)],                                  # octagon: nothing collapsed
         [[s, s, 1, 0, -s, -s, 0, 0], [0, 0, 0, 1, 0, 0, 0, 0]],  # two collapsed, one split
         [[1, 0, 0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0, 0, 0]]]    # two dedicated features
    assert pt.classify_strategy(W).tolist() == ["linear", "collapsed", "superposition",
                                                "mixture", "linear"]


def test_correlated_pairs_end_orthogonal_and_anticorrelated_pairs_antipodal(store):
    corr = pt.pair_frame(experiments.load("corr-pairs", "smoke", store=store))
    anti = pt.pair_frame(experiments.load("anticorr-pairs", "smoke", store=store))
    best_corr, best_anti = corr[corr["best"]], anti[anti["best"]]
    # the lowest-loss seed of every density: both pairs orthogonal / antipodal
    assert (best_corr["geometry"] == "orthogonal").all(), best_corr
    assert (best_corr["cosine"].abs() < 0.1).all()
    assert (best_anti["geometry"] == "antipodal").all(), best_anti
    assert (best_anti["cosine"] < -0.95).all()


def test_a_collapsed_pair_points_along_its_principal_component(store):
    run = experiments.load("collapse", "smoke", store=store).best()
    W = run.W.astype(float)
    collapsed = pca.collapsed_sets(W, 2)
    assert collapsed.sum() >= 3, collapsed
    cos = pt.pc_cosines(W)
    assert len(cos) == collapsed.sum()
    # the pairs are read along (a + b)/√2: nearly all within cosine 0.95, the typical one exactly
    assert (cos > 0.95).mean() >= 0.9 and np.median(cos) > 0.99, np.sort(cos)
    pc = np.array([1.0, 1.0]) / np.sqrt(2)
    k, s = np.argwhere(collapsed)[np.argmax(cos)]
    a, b = W[k, :, 2 * s], W[k, :, 2 * s + 1]
    top = np.linalg.eigh(np.array([[a @ a, a @ b], [a @ b, b @ b]]))[1][:, -1]
    assert abs(top @ pc) > 0.95          # the pair's block of WᵀW projects on (a + b)/√2
    f = pt.findings(pt.map_cells(pt.map_frame("smoke", store=store)),
                    pt.map_frame("smoke", store=store), pt.collapse_frame("smoke", store=store))
    assert f["pc_cos_best"] >= 0.9 and f["pc_pairs_best"] >= 3


def _encodings(spec: dict, channel: str) -> list[dict]:
    """Every ``channel`` encoding of a Vega-Lite spec, at any depth."""
    found = []
    if isinstance(spec, dict):
        enc = spec.get("encoding", {}).get(channel)
        if isinstance(enc, dict):
            found.append(enc)
        for value in spec.values():
            found += _encodings(value, channel)
    elif isinstance(spec, list):
        for value in spec:
            found += _encodings(value, channel)
    return found


def test_the_map_runs_under_smoke_with_its_references(store):
    models = pt.map_frame("smoke", store=store)
    cells = pt.map_cells(models)
    assert len(cells) == 144 and cells["correlation"].nunique() == 12
    assert set(models["strategy"]) <= set(pt.STRATEGIES)
    # exact references: the no-superposition loss is never below the PCA optimum, and the two
    # agree for independent features (c = 0)
    assert (models["no_superposition"] >= models["linear_optimal"] - 1e-12).all()
    indep = models[models["correlation"] == 0]
    assert np.allclose(indep["no_superposition"], indep["linear_optimal"])
    pairs_differ = (models["correlation"] > 0) & (models["density"] < 1)
    assert models.loc[pairs_differ, "pca_alignment"].between(0, 1).all()
    assert models.loc[~pairs_differ, "pca_alignment"].isna().all()
    f = pt.findings(cells, models, pt.collapse_frame("smoke", store=store))
    assert f["cells"] == 144 and sum(f["strategy_cells"].values()) == 144
    b = pt.boundary_frame(cells)
    assert len(b) == 12
    # where pairs are exchangeable with non-partners (c = 0, p = 1) neither the collapse count
    # nor the alignment is shown; the chance level is measured beside the count everywhere
    same = (cells["correlation"] == 0) | (cells["density"] == 1)
    assert cells.loc[same, ["collapsed", "pca_alignment"]].isna().all().all()
    assert cells.loc[~same, ["collapsed", "pca_alignment"]].notna().all().all()
    assert models["collapsed_chance"].between(0, 4).all()
    chart, data = builders(book_pt.CHAPTER)["fig-map"]("smoke", store=store)
    # no theory is drawn on the four-pair map (the two-pair theory has its own map); the
    # strategy heatmap's cells split by the seeds carry a dot, and the fitted model's band
    # (rects) and boundaries (rules) lie over it on scales of their own
    cells_layer, fit_layer = chart.to_dict()["vconcat"][0]["hconcat"][0]["layer"]
    assert [layer["mark"]["type"] for layer in cells_layer["layer"]] == ["rect", "point"]
    assert [layer["mark"]["type"] for layer in fit_layer["layer"]] == ["rect", "rule"]
    assert "boundary" not in data
    assert {"band", "agree", "p_linear_low"} <= set(data["fit"].columns)
    fine_chart, fine_data = builders(book_pt.CHAPTER)["fig-map-fine"]("smoke", store=store)
    assert len(json.dumps(fine_chart.to_dict(validate=True))) < 1e6
    assert len(fine_data["cells"]) == len(pt.FINE_CORRELATIONS) * len(pt.FINE_DENSITIES)
    pair_chart, pair_data = builders(book_pt.CHAPTER)["fig-pair-map"]("smoke", store=store)
    # the two-pair theory's boundary is drawn over the two-pair map, its own setting
    pair_layers = pair_chart.to_dict(validate=True)["layer"]
    assert [layer["mark"]["type"] for layer in pair_layers[0]["layer"]] == ["rect", "circle"]
    assert pair_layers[1]["mark"]["type"] == "line"
    assert pair_layers[1]["encoding"]["y"]["field"] == "c"
    # sparser features need more correlation to collapse, except next to density 1, where
    # the triangle holds the weakly correlated cells
    boundary = pair_data["boundary"]
    assert boundary.loc[boundary["p"] < 0.95, "c"].is_monotonic_increasing
    assert boundary["c"].between(0, 1).all()
    spec = json.dumps(chart.to_dict(validate=True))
    assert len(spec) < 1.5e6
    assert spec.count('"views"') == 2          # click and hover selections over the heatmaps
    # the geometry panels' legend lists the map's pairs and no others, and no shape legend
    pairs = experiments.get("pca-map").spec("smoke").n_features // 2
    sets = [enc["scale"]["domain"] for enc in _encodings(chart.to_dict(), "color")
            if enc.get("field") == "set"]
    assert sets and all(domain == list(range(pairs)) for domain in sets)
    assert all(enc.get("legend", {}) is None for enc in _encodings(chart.to_dict(), "shape"))


def test_the_other_figures_validate(store):
    for label in ("fig-pairs", "fig-sets10", "fig-collapse"):
        chart, data = builders(book_pt.CHAPTER)[label]("smoke", store=store)
        assert len(json.dumps(chart.to_dict(validate=True))) < 1.5e6
        assert all(isinstance(v, pd.DataFrame) and len(v) for v in data.values())


def test_hexagon_detection():
    a = np.arange(6) * 60.0
    hexagon = pd.DataFrame({"model": 0, "density": 0.1, "seed": 0, "best": True, "loss": 0.0,
                            "feature": range(6), "set": [0, 0, 1, 1, 2, 2], "norm": 1.0,
                            "angle": a})
    # three collapsed pairs on a triangle: six features, three directions
    triangle = hexagon.assign(model=1, angle=[0.0, 0.0, 120.0, 120.0, 240.0, 240.0])
    h = pt.hexagon_frame(pd.concat([hexagon, triangle]))
    assert h["hexagon"].tolist() == [True, False]
    assert h["directions"].tolist() == [6, 3] and h["merged_pairs"].tolist() == [0, 3]


def test_paper_the_best_three_pair_model_is_a_hexagon_but_at_the_densest_density():
    """The chapter: the lowest-loss correlated three-pair model is a hexagon at every density
    but the densest, where one pair merges onto one direction (five directions)."""
    g = pt.geometry_findings(profile="paper")
    hc = g["hexagon_corr_by_density"]
    densest = max(hc)
    assert all(hc[p]["best_hexagon"] for p in hc if p != densest)
    assert not hc[densest]["best_hexagon"]
    assert (hc[densest]["best_directions"], hc[densest]["best_merged"]) == (5, 1)


def test_paper_collapse_persists_with_four_pairs_not_three_whatever_the_training():
    """The chapter's controls: three pairs trained like the four-pair sweep collapse as the
    paper says (all pairs when dense, few when sparse); four pairs stay collapsed when sparse,
    after 4,000 steps of batch 256 and after 10,000 of batch 1024 alike."""
    from pathlib import Path

    data = RunStore(Path(__file__).parents[1] / "data")
    c = pt.collapse_comparison({name: pt.collapse_frame("paper", store=data, experiment=name)
                                for name in pt.COLLAPSE_RUNS})
    sparse = c[c["density"] <= 0.12].groupby("run")["share"].mean()
    assert sparse["collapse-n6"] < 0.3 < 0.6 < sparse["collapse"]
    assert abs(sparse["collapse-long"] - sparse["collapse"]) < 0.1
    n6 = c[c["run"] == "collapse-n6"]
    assert (n6.loc[n6["density"].between(0.5, 0.8), "best"] == 3).all()
    # the intervals over seeds separate three pairs from four at the sparse densities
    by = c[c["density"] <= 0.12].pivot(index="density", columns="run")
    assert (by["share_high"]["collapse-n6"] < by["share_low"]["collapse"]).mean() >= 0.8


def test_paper_map_strategies_survive_longer_training_with_larger_batches():
    from pathlib import Path

    data = RunStore(Path(__file__).parents[1] / "data")
    cells = pt.map_cells(pt.map_frame("paper", store=data))
    control = pt.map_cells(pt.map_frame("paper", store=data, experiment="pca-map-long"))
    mc = pt.map_control(cells, control, experiments.get("pca-map").spec().restarts)
    assert mc["cells"] == 36 and mc["agree"][0] >= 0.85, mc
    assert 0.5 <= mc["unanimous"][0] < 1 and mc["settled"] >= 0.75, mc


def test_paper_map_regions():
    """The chapter's "The regions": where each strategy lies on the map's grid."""
    from pathlib import Path

    data = RunStore(Path(__file__).parents[1] / "data")
    models = pt.map_frame("paper", store=data)
    cells = pt.map_cells(models)
    f = pt.findings(cells, models, pt.collapse_frame("paper", store=data))
    assert f["linear_all_above"] > 0.5                         # the dense columns are linear
    assert 0.1 < f["collapsed_min_correlation"] < 0.4
    assert f["superposition_max_correlation"] <= 0.2
    assert 0.01 < f["collapsed_densities"][0] < f["collapsed_densities"][1] < 0.5
    assert f["mixture_all_below"] >= 0.01
    assert f["corr_alignment"] > 0.5 and f["corr_fpd_density"] < -0.5
    assert f["beats_pca"] > 0.9


def test_strategy_fit_recovers_a_known_boundary_within_its_interval():
    """Models drawn from a known model of the strategy: the fitted edge of the linear regime
    lies near the true one (density 10^-0.5 at every correlation), and its bootstrap interval
    covers it; the band lies along the boundary and nowhere else."""
    rng = np.random.default_rng(1)
    beta = np.zeros((6, 4))
    beta[:2, 1] = [4, 8]                      # linear: log-odds 4 + 8 log10 p (0 at 10^-0.5)
    beta[[0, 2], 2] = [-4, 8]                 # collapsed above c = 0.5 (against mixture)
    beta[0, 3] = -1.5                         # superposition less common everywhere
    truth = pt.StrategyFit(beta, beta[None], 0, 0, {}, 0.0, 0.0, 0.0, 0.0)
    p = np.repeat(np.geomspace(1, 0.01, 25), 30)
    c = np.tile(np.linspace(0, 1, 30), 25)
    pick = (truth.probabilities(p, c).cumsum(1) < rng.uniform(size=(len(p), 1))).sum(1)
    models = pd.DataFrame({"density": p, "correlation": c,
                           "strategy": np.asarray(pt.FIT_STRATEGIES)[pick]})
    fit = pt.fit_strategy(models, refits=100)
    assert fit.failed <= 10 and fit.aic < fit.aic_linear + 20
    edge = pt.fitted_edges(fit, [0.0, 0.25]).set_index("strategy")
    lin = edge.loc["linear"]
    assert (np.abs(np.log10(lin["sparsest"]) + 0.5) < 0.1).all(), lin
    assert ((lin["sparsest_low"] < 10 ** -0.5) & (10 ** -0.5 < lin["sparsest_high"])).all(), lin
    far = pt.strategy_surface(fit, [1.0, 0.01, 0.01], [0.25, 0.0, 1.0])
    assert far["strategy"].tolist() == ["linear", "mixture", "collapsed"]
    assert not far["band"].any()
    near = pt.strategy_surface(fit, [10 ** -0.5], [0.25])
    assert near["band"].all() and 0.2 < near["p_linear"].iloc[0] < 0.8


def test_strategy_fit_refuses_bad_input():
    with pytest.raises(ValueError, match="strategy: values must be in"):
        pt.fit_strategy(pd.DataFrame({"density": [0.1], "correlation": [0.0],
                                      "strategy": ["hexagon"]}))
    rng = np.random.default_rng(0)
    p = np.repeat(np.geomspace(1, 0.01, 10), 40)
    others = rng.choice(["collapsed", "mixture", "superposition"], len(p))
    separated = pd.DataFrame({"density": p, "correlation": rng.uniform(0, 1, len(p)),
                              "strategy": np.where(p > 0.3, "linear", others)})
    with pytest.raises(ValueError, match="separated"):
        pt.fit_strategy(separated, refits=2)
    with pytest.raises(ValueError, match="needs models; none of"):
        pt.fit_strategy(separated[separated["strategy"] != "superposition"], refits=2)
    with pytest.raises(ValueError, match="density: values must lie in"):
        pt.design([0.0], [0.5])


def test_paper_strategy_fit_locates_the_boundaries():
    """The chapter's "Where the boundaries run": the finer grid and the fitted model. The
    quadratic surface beats the linear one, the linear regime ends between densities 0.5 and
    0.66 at every correlation and latest at c = 0, within a few percent; the collapsed region's
    sparse edge falls with correlation from about 0.26 at c = 0.25 to about 0.03 at c = 1;
    superposition is the most probable strategy only below c = 0.2; the confidence band covers
    a small part of the map, and the fit names the majority of nearly every unanimous cell."""
    from pathlib import Path

    data = RunStore(Path(__file__).parents[1] / "data")
    r = pt.map_fit("paper", store=data)
    fit = r["fit"]
    assert fit.models == len(r["models"]) >= 4000 and fit.failed <= 0.05 * pt.FIT_REFITS
    assert fit.aic < fit.aic_linear - 100 and fit.pseudo_r2 > 0.6
    fine = pt.map_cells(pt.map_frame("paper", store=data, experiment="pca-map-fine"))
    cells = pt.map_cells(pt.map_frame("paper", store=data))
    f = pt.fit_findings(fit, fine, cells)
    e = f["edges"]
    lin = e.loc["linear"]
    assert lin["sparsest"].between(0.5, 0.66).all(), lin
    assert lin["sparsest"].idxmax() == 0.0
    assert f["linear_widest"] < 1.06
    col = e.loc["collapsed"].dropna(subset=["sparsest"])
    assert col.index.min() <= 0.25 and col["sparsest"].is_monotonic_decreasing, col
    assert 0.2 < col.loc[0.25, "sparsest"] < 0.3 and 0.02 < col.loc[1.0, "sparsest"] < 0.04
    assert f["collapsed_widest"] < 1.25
    sup = e.loc["superposition"]
    assert sup["missing"].loc[sup.index >= 0.25].eq(1).all()
    assert sup.loc[0.0, "sparsest"] == pytest.approx(0.01)
    # intervals several times narrower, in log density, than the map's column spacing
    assert f["grid_factor"] == pytest.approx(pt.MAP_DENSITIES[0] / pt.MAP_DENSITIES[1])
    assert np.log(f["grid_factor"]) / np.log(f["collapsed_widest"]) > 2
    assert np.log(f["grid_factor"]) / np.log(f["linear_widest"]) > 8
    assert f["names_unanimous"] > 0.95 and f["names_fine"] > 0.9 and f["names_map"] > 0.9
    assert f["split_misnamed"] > 0.6             # the misnamed cells: mostly split ones
    assert f["band"] < 0.15


def test_theory_findings_the_chapter_states():
    """The chapter's account of the two-pair theory: where c* reaches 1 and bottoms out, where
    the triangle takes over, by how little it wins at density 1, the unit-norm price and the
    tilt of correlated orthogonal members."""
    f = pt.theory_findings()
    sparser, denser = f["c_one"]
    assert 0.2 < sparser < denser < 0.3
    assert 0.85 < f["lowest"][0] < 0.95 and f["lowest"][1] < 0.05
    assert f["densest"][1] > 0.3                        # widening next to density 1
    assert 0.6 < f["triangle_from"] < 0.7
    p = np.linspace(0.55, 0.75, 41)
    best = pair_theory.pair_losses(p, 0.0)["best"].to_numpy()
    assert (best[p >= f["triangle_from"]] == "triangle").all()
    assert (best[p < f["triangle_from"]] == "orthogonal").all()
    assert 0.001 < f["triangle_gain"] < 0.002
    assert f["unit_norm"] > 1.6 / 24
    assert 92 < f["tilt"][1] < 98


def test_paper_pair_map_follows_the_two_pair_theory():
    """The chapter's "A theory for two pairs": trained two-pair models take the theory's
    cheapest arrangement where it is decided and lose what it says (exactly computed), beat it
    only in dense weakly correlated cells; four pairs collapse beyond its boundary."""
    from pathlib import Path

    data = RunStore(Path(__file__).parents[1] / "data")
    pm = pt.pair_map_frame("paper", store=data)
    pf = pt.pair_map_findings(pm)
    assert pf["decided"] >= 120 and pf["best"][1] >= 0.9 and pf["majority"][0] >= 0.9, pf
    classes = pf["classes"]
    assert classes.loc["collapsed", "decided"] >= 10
    assert classes.loc["collapsed", "decided_agree"] >= 0.9
    assert classes.loc["orthogonal", "decided_low"] >= 0.9
    # the chapter: antipodal is never the theory's cheapest, and no triangle cell is decided
    assert classes.loc["antipodal", "cells"] == 0 and classes.loc["triangle", "decided"] == 0
    # "next to density 1", and "most of this agreement is the orthogonal pairs"
    ratio = pf["ratio"]
    assert (ratio.loc[ratio["theory"] == "triangle", "density"] > 0.5).all()
    assert classes.loc["orthogonal", "cells"] > 0.75 * classes["decided"].sum()
    ratio = pf["ratio"]
    # no trained model beats the theory by more than 2%, and those beating it by more than
    # 0.1% sit at dense, weakly correlated cells
    assert ratio["ratio"].min() > 0.98
    beats = ratio[ratio["ratio"] < 0.999]
    assert 1 <= len(beats) <= 3 and (beats["density"] > 0.6).all()
    assert (beats["correlation"] < 0.2).all()
    assert (ratio["ratio"].quantile([0.1, 0.9]) - 1).abs().max() < 0.002
    above = ratio[ratio["ratio"] > 1.001].sort_values("ratio")
    assert (above["density"].iloc[:-1] < 0.02).all() and above["ratio"].iloc[-1] > 1.1
    worst = pm[pm["cell"] == above.index[-1]]
    assert (worst["arrangement"] == "other").all()
    # the beating models are irregular, outside the four arrangements
    assert (beats["arrangement"] == "other").all()
    # antipodal members at c > 0 are a local minimum: every such model loses more than the best
    antipodal = pm[(pm["correlation"] > 0) & (pm["arrangement"] == "antipodal")]
    assert len(antipodal) > 0 and (antipodal["exact_loss"] > 1.1 * antipodal["theory_loss"]).all()
    four = pt.theory_cells(pt.map_cells(pt.map_frame("paper", store=data)))
    linear = four[four["strategy"] == "linear"]
    assert set(linear["theory"]) == {"collapsed", "triangle"}
    triangle = linear[linear["theory"] == "triangle"]
    # the density-1 column and the densest independent cell below it
    off_column = triangle[triangle["density"] < 1]
    assert len(off_column) == 1 and off_column["correlation"].item() == 0
    assert off_column["density"].item() == four.loc[four["density"] < 1, "density"].max()
    assert (four.loc[four["strategy"] == "collapsed", "theory"] == "orthogonal").mean() > 0.5


def test_paper_collapse_counts_are_chance_only_where_pairs_are_exchangeable():
    from pathlib import Path

    data = RunStore(Path(__file__).parents[1] / "data")
    for frame in (pt.map_frame("paper", store=data), pt.collapse_frame("paper", store=data)):
        cc = pt.collapse_chance(frame).set_index("group")
        same = cc.loc["exchangeable"]
        assert same["collapsed_low"] <= same["chance_high"]
        assert same["chance_low"] <= same["collapsed_high"]
        beyond = cc.loc["beyond linear"]
        assert beyond["collapsed_low"] > 10 * beyond["chance_high"], cc
