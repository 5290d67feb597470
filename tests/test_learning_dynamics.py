"""The learning-dynamics experiments: profiles, frames, findings and charts."""

import json

import numpy as np
import pandas as pd
import pytest

from superposition_lib.analysis import dynamics
from superposition_lib.book import learning_dynamics as book
from superposition_lib.book.registry import builders
from superposition_lib.core.store import RunStore
from superposition_lib.experiments import get, load
from superposition_lib.experiments import learning_dynamics as ld
from superposition_lib.figures import learning_dynamics as fig

SEARCH_NAMES = tuple(s[0] for s in ld.SEARCH)
NAMES = ("energy-levels", "geometric-stages", *SEARCH_NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_smoke_profile_is_a_cheap_copy_of_the_paper_profile(name):
    paper, smoke = get(name).spec("paper"), get(name).spec("smoke")
    for field in ("n_features", "n_hidden", "feature_probability", "data", "set_size", "init"):
        assert getattr(smoke, field) == getattr(paper, field), field
    assert (smoke.steps * smoke.batch_size * smoke.restarts
            < paper.steps * paper.batch_size * paper.restarts / 50)
    assert paper.snapshot_log >= 200 and get(name).chapter == ld.CHAPTER


def test_paper_profiles_meet_the_issue():
    e, s = get("energy-levels").spec("paper"), get("geometric-stages").spec("paper")
    assert e.steps >= 100_000 and e.restarts >= 10 and len(e.feature_probability) >= 3
    assert (s.n_features, s.n_hidden, s.set_size, s.data) == (6, 3, 3, "correlated")
    assert s.restarts >= 20


def test_the_search_covers_what_the_issue_asks():
    specs = {name: get(name).spec("paper") for name in SEARCH_NAMES}
    for name, n, m, lr, schedule in ld.SEARCH:
        s = specs[name]
        assert (s.n_features, s.n_hidden, s.lr, s.lr_schedule) == (n, m, lr, schedule)
        assert s.steps >= 100_000 and s.restarts >= 5 and len(s.feature_probability) >= 3
        assert s.model == "relu_output" and s.importance == 1.0 and s.data == "sparse_uniform"
        # inside the fused C kernel (n <= 32, m <= 8), so the search trains in minutes
        assert s.n_features <= 32 and s.n_hidden <= 8
    sizes = {(s.n_features, s.n_hidden) for s in specs.values()}
    assert {(10, 5), (16, 8)} <= sizes                     # n = 2m: digons fill the dimensions
    assert {3e-4, 1e-3, 3e-3} <= {s.lr for s in specs.values()}
    assert {"constant", "cosine"} <= {s.lr_schedule for s in specs.values()}
    assert len({s.key() for s in specs.values()}) == len(specs)


@pytest.fixture(scope="module")
def store(smoke_store):
    return smoke_store


@pytest.fixture(scope="module")
def energy(store):
    return ld.energy_frames("smoke", store=store)


@pytest.fixture(scope="module")
def search(store):
    return ld.search_frames("smoke", store=store)


@pytest.fixture(scope="module")
def stages(store):
    return ld.stage_frames("smoke", store=store)


def test_smoke_features_split_towards_zero_and_a_half(energy):
    # at density 0.3-0.5 the smoke run already splits most features onto 0 or 1/2
    m = energy["models"]
    dense = m[m["density"] >= 0.3]
    assert dense["settled"].mean() >= 0.8, dense
    f = energy["findings"]
    assert f["models"] == len(m) == energy["run"].W.shape[0]
    assert f["jumps"] == len(energy["jumps"]) == m["jumps"].sum()


def test_jump_frame_matches_the_detector_model_by_model(energy):
    run = energy["run"]
    k = int(energy["models"].sort_values("jumps").iloc[-1]["model"])
    D = dynamics.feature_trajectories(run.snapshots.W[:, k], run.snapshots.steps)
    D = D.pivot(index="step", columns="feature", values="D").to_numpy()
    direct = dynamics.energy_level_jumps(D, run.snapshots.steps, run.snapshots.loss[:, k])
    mine = energy["jumps"][energy["jumps"]["model"] == k].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine[direct.columns], direct, check_dtype=False)


def test_trajectory_and_superposition_frames(energy):
    traj = energy["trajectory"]
    n = energy["run"].W.shape[-1]
    assert [c for c in traj if c.startswith("D|")] == [f"D|{i}" for i in range(n)]
    sup = energy["superposition"]
    assert (sup["q25"] <= sup["median"] + 1e-12).all()
    assert (sup["median"] <= sup["q75"] + 1e-12).all()
    # features per dimension grows from the small init to well above 1 at these densities
    first = sup.sort_values("step").groupby("density")["median"].first()
    last = sup.sort_values("step").groupby("density")["median"].last()
    assert (last > first).all() and (last > 1).all()


def test_stage_frames(stages):
    run = stages["run"]
    assert len(stages["stages"]) == run.snapshots.W.shape[0] * run.W.shape[0]
    assert set(stages["stages"]["stage"]) <= set(dynamics.STAGES)
    f = stages["findings"]
    assert sum(f["paths"].values()) == f["models"] == run.W.shape[0]
    assert stages["geometry"]["stage"].iloc[-1] == stages["stages"].query(
        "model == @stages['exemplar']")["stage"].iloc[-1]


def test_paper_order_counts_subsequences():
    paths = pd.DataFrame({"model": [0, 1, 2, 3], "density": 0.1, "stage": "x",
                          "step_start": 1, "final_stage": "antiprism",
                          "path": ["near_zero → opposite_sets → triangles → antiprism",
                                   "near_zero → antiprism", "near_zero → pca_axes → antiprism",
                                   "opposite_sets → triangles"]})
    paths["core_path"] = paths["path"]
    assert ld.stage_findings(paths)["paper_order"] == 2


@pytest.mark.parametrize("label", sorted(builders(book.CHAPTER)))
def test_figures_validate_and_stay_small(label, store):
    chart, data = builders(book.CHAPTER)[label]("smoke", store=store)
    spec = chart.to_dict(validate=True)
    assert len(json.dumps(spec)) < 1_500_000
    assert all(isinstance(v, pd.DataFrame) for v in data.values())


def test_charts_render(energy, stages):
    vlc = pytest.importorskip("vl_convert")
    jumps = energy["jumps"][energy["jumps"]["model"] == energy["exemplar"]]
    for chart in (fig.jump_chart(energy["trajectory"], jumps),
                  fig.stage_explorer(stages["geometry"],
                                     stages["paths"][stages["paths"]["model"]
                                                     == stages["exemplar"]])):
        svg = vlc.vegalite_to_svg(chart.to_json())
        assert svg.startswith("<svg") and "NaN" not in svg
    assert np.isfinite(energy["models"]["final_loss"]).all()


def test_small_init_superposition_appears_earlier_in_the_descent_for_sparser_features(tmp_path):
    """The chapter's claim about energy-levels-small-init, at smoke size."""
    from superposition_lib.experiments import load

    run = load("energy-levels-small-init", "smoke", store=RunStore(tmp_path))
    onset = ld.superposition_onset(run, ld.superposition_frame(run)).sort_values("density")
    assert (onset["start"] < 1).all()            # a small start: no overlap by construction
    assert onset["onset"].notna().all() and (onset["final"] > 1).all()
    assert onset["onset"].is_monotonic_increasing
    assert onset["loss_done"].is_monotonic_increasing


def test_from_digon_marks_jumps_of_features_that_had_settled_into_a_digon(energy):
    run, jumps = energy["run"], energy["jumps"]
    S = run.snapshots
    for k in range(S.W.shape[1]):
        mine = jumps[jumps["model"] == k]
        plat = dynamics.plateaus(dynamics.feature_trajectories(S.W[:, k], S.steps).pivot(
            index="step", columns="feature", values="D").to_numpy(), S.steps)
        for r in mine.itertuples():
            ends = plat[(plat["feature"] == r.feature) & ~plat["initial"]
                        & (plat["level"] == 0.5)]["step_end"]
            assert r.from_digon == bool((ends <= r.step_start).any())
    assert not jumps.loc[jumps["level_before"] == 0.5, "from_digon"].eq(False).any()
    m = energy["models"].set_index("model")
    per_model = jumps.groupby("model")["from_digon"].sum()
    assert (m["digon_jumps"] == per_model.reindex(m.index, fill_value=0)).all()


def test_search_summary_agrees_with_the_jump_and_model_frames(search):
    models, jumps, settings = search["models"], search["jumps"], search["settings"]
    assert settings["setting"].tolist() == [ld.SEARCH_CONTRAST, *SEARCH_NAMES]
    for row in settings.itertuples():
        mine = jumps[jumps["setting"] == row.setting]
        ms = models[models["setting"] == row.setting]
        assert row.jumps == len(mine) == ms["jumps"].sum()
        assert row.digon_jumps == int(mine["from_digon"].sum())
        assert row.digon_share == pytest.approx(ms["digons"].sum() / (len(ms) * row.n))
        assert row.all_settled_share == pytest.approx((ms["settled"] == 1).mean())
        if len(mine):
            assert row.median_loss_change == pytest.approx(mine["loss_change"].median())
        else:
            assert np.isnan(row.median_loss_change)
    per_setting = search["cells"].groupby("setting", sort=False)
    for col in ("jumps", "models", "digon_jumps"):
        assert per_setting[col].sum().tolist() == settings[col].tolist(), col
    f = search["findings"]
    assert (f["digon_jumps"] == int(jumps["from_digon"].sum())
            == sum(f["digon_jump_settings"].values()))
    late = f["latest_jump"]
    assert late["step"] == jumps["step"].max() == settings["last_jump"].max()
    mine = jumps[(jumps["setting"] == late["setting"]) & (jumps["model"] == late["model"])]
    assert late["features"] == sum(late["transitions"].values()) >= 1
    assert late["step_end"] in set(mine["step_end"])


def test_digon_share_is_recomputed_from_the_weights(search, store):
    from superposition_lib.core import metrics
    from superposition_lib.experiments import load

    name = SEARCH_NAMES[0]
    run = load(name, "smoke", store=store)
    D = metrics.feature_dimensionality(run.snapshots.W[-1])             # (models, n)
    row = search["settings"].set_index("setting").loc[name]
    assert row["digon_share"] == pytest.approx(np.mean(np.abs(D - 0.5) <= ld.SETTLE_TOL))


def test_n_equals_2m_settles_into_digons_and_n_4m_cannot(search):
    """At n = 2m the digons hold every feature; at n = 4m at most half of them."""
    s = search["settings"].set_index("setting")
    two_m = s[s["n"] == 2 * s["m"]]
    assert len(two_m) >= 4 and (two_m["digon_share"] >= 0.9).all(), two_m["digon_share"]
    four_m = s[s["n"] == 4 * s["m"]]
    assert len(four_m) and (four_m["digon_share"] <= 0.5 + 1e-12).all()
    assert set(two_m.index) <= set(search["findings"]["digon_settings"])


def test_search_chart_renders(search):
    vlc = pytest.importorskip("vl_convert")
    chart = fig.search_chart(search["cells"], search["jumps"])
    spec = chart.to_dict(validate=True)
    assert [p["name"] for p in spec["params"] if "bind" in p] == ["metric"]
    svg = vlc.vegalite_to_svg(chart.to_json())
    assert svg.startswith("<svg") and "NaN" not in svg


def test_search_design_is_read_from_the_specs(search, store):
    from superposition_lib.experiments import load

    specs = [get(name).spec("smoke") for name in SEARCH_NAMES]
    d, settings = search["design"], search["settings"]
    assert d == ld.search_design(specs, settings)
    assert d["experiments"] == len(ld.SEARCH)
    assert d["sizes_2m"] == [(10, 5), (16, 8)] and d["sizes_more"] == [(15, 5), (20, 5)]
    assert d["lrs"] == sorted({round(10 * s[3], 12) for s in ld.SEARCH})
    assert d["decays"] == [(s.lr, "cosine") for s in specs if s.lr_schedule == "cosine"]
    assert d["densities"] == ld.SEARCH_DENSITIES and d["seeds"] == specs[0].restarts
    assert d["snapshots"] == len(load(SEARCH_NAMES[-1], "smoke", store=store).snapshots.steps)
    assert d["models"] == settings["models"].sum() == len(search["models"])
    search_only = settings[settings["setting"] != ld.SEARCH_CONTRAST]
    assert d["training_minutes"] == pytest.approx(search_only["wall_s"].sum() / 60)
    with pytest.raises(ValueError, match="steps"):
        ld.search_design([specs[0], specs[1].replace(steps=specs[1].steps + 1)], settings)


def _settings(rows):
    """search_frame-like settings from (setting, n, m, lr, schedule, jumps, last_jump)."""
    df = pd.DataFrame(rows, columns=["setting", "n", "m", "lr", "schedule", "jumps",
                                     "last_jump"])
    return df.assign(models=1, digon_share=0.5, all_settled_share=1.0, digon_jumps=0,
                     late_jumps=0, lr_at_last_jump=[0.5 if s == "cosine" else 1.0
                                                    for s in df["schedule"]])


def test_lr_pairing_and_cosine_comparison_pick_the_matching_settings():
    settings = _settings([
        ("contrast", 20, 5, 1e-3, "constant", 4, 900.0),
        ("other-size", 20, 5, 3e-3, "constant", 2, 100.0),
        ("fast", 10, 5, 3e-3, "constant", 6, 200.0),
        ("fast-cosine", 10, 5, 3e-3, "cosine", 5, 150.0),
        ("slow", 10, 5, 3e-4, "constant", 3, 800.0),
        ("mid", 10, 5, 1e-3, "constant", 4, 500.0),
        ("other-size-cosine", 20, 5, 3e-3, "cosine", 1, 50.0),
    ])
    models = settings[["setting", "last_jump"]].assign(model=0, final_loss=0.1,
                                                         jump_fraction=0.2)
    jumps = pd.DataFrame({"setting": ["fast"], "model": 0, "density": 0.1, "seed": 0,
                          "feature": 0, "from_digon": False, "step": [200.0],
                          "step_start": [150], "step_end": [250], "level_before": 0.4,
                          "level_after": 0.5, "loss_change": -1e-3})
    f = ld.search_findings(models, jumps, settings, settings.assign(density=0.1))
    p = f["lr_pairing"]
    # the size with three constant rates, sorted by rate; the cosine run is not paired
    assert (p["n"], p["m"]) == (10, 5)
    assert [r["setting"] for r in p["settings"]] == ["slow", "mid", "fast"]
    assert [r["last_jump"] for r in p["settings"]] == [800.0, 500.0, 200.0]
    assert p["delayed_by_smaller_lr"]
    # the first cosine setting against the constant setting of the same n, m and rate
    c = f["cosine"]
    assert (c["setting"], c["constant_setting"]) == ("fast-cosine", "fast")
    assert (c["jumps"], c["constant_jumps"], c["lr_at_last_jump"]) == (5, 6, 0.5)
    settings.loc[settings["setting"] == "mid", "last_jump"] = 100.0
    f = ld.search_findings(models, jumps, settings, settings.assign(density=0.1))
    assert not f["lr_pairing"]["delayed_by_smaller_lr"]
    no_match = settings[settings["setting"] != "fast"]
    f = ld.search_findings(models, jumps, no_match, no_match.assign(density=0.1))
    assert f["cosine"] == {}                     # no constant run at 3e-3 of n = 10, m = 5


def test_search_findings_agree_with_the_frames(search):
    from superposition_lib.core.schedule import learning_rate

    f, settings, jumps, cells = (search["findings"], search["settings"], search["jumps"],
                                 search["cells"])
    late = jumps[jumps["step"] > 10_000]
    assert f["late_jumps"] == len(late) == sum(f["late_jump_settings"].values())
    assert f["late_models"] == len(late[["setting", "model"]].drop_duplicates())
    assert f["early_share"] == pytest.approx(1 - len(late) / len(jumps))
    two_m = settings[settings["n"] == 2 * settings["m"]]
    assert f["at_2m"]["digon_share"] == (two_m["digon_share"].min(),
                                         two_m["digon_share"].max())
    cells_2m = cells[cells["n"] == 2 * cells["m"]]
    for p in f["at_2m"]["unsettled_densities"]:
        assert (cells_2m.loc[cells_2m["density"] == p, "all_settled_share"] < 1).any()
    for row in settings.itertuples():
        spec = get(row.setting).spec("smoke")
        if np.isnan(row.last_jump):
            assert np.isnan(row.lr_at_last_jump)
        else:
            assert row.lr_at_last_jump == learning_rate(spec, int(row.last_jump)) / spec.lr
            assert (row.lr_at_last_jump == 1) == (spec.lr_schedule == "constant")
    pairs = f["lr_pairing"]["settings"]
    assert [r["lr"] for r in pairs] == sorted(r["lr"] for r in pairs) and len(pairs) == 3
    assert {r["setting"] for r in pairs} == {s[0] for s in ld.SEARCH
                                             if s[1:3] == (10, 5) and s[4] == "constant"}
    lj = f["latest_jump"]
    model = search["models"].query("setting == @lj['setting'] and model == @lj['model']")
    assert lj["final_loss"] == model["final_loss"].iloc[0]


def test_energy_findings_agree_with_the_frames(energy):
    f, models, jumps = energy["findings"], energy["models"], energy["jumps"]
    dens = energy["densities"]
    assert f["unsettled_densities"] == dens.loc[dens["all_settled"] == 0, "density"].tolist()
    assert f["unsettled_jumps"] == int(jumps["density"].isin(f["unsettled_densities"]).sum())
    assert 0 <= f["unsettled_between"] <= f["unsettled_jumps"]
    assert f["last_jump"] == jumps["step"].max()
    assert f["end_over_last_jump"] == pytest.approx(f["last_step"] / jumps["step"].max())
    assert f["median_split_step"] == pytest.approx(models["split_step"].median())
    assert len(f["late_jump_records"]) == int((jumps["step"] > 10_000).sum())
    for p, v in f["fpd_path"].items():
        assert v["dip"] == (v["min"] < v["first"] - 0.05 and v["min_step"] < f["last_step"])


def test_energy_findings_count_unsettled_densities_and_late_jumps():
    models = pd.DataFrame({"model": [0, 1, 2], "density": [0.5, 0.2, 0.2],
                           "jumps": [1, 1, 1], "settled": [1.0, 0.9, 0.95],
                           "split_step": 100.0, "final_loss": 0.1, "jump_fraction": 0.1,
                           "log_time_fraction": 0.1})
    jumps = pd.DataFrame({"model": [0, 1, 2], "feature": [1, 2, 3], "density": [0.5, 0.2, 0.2],
                          "step": [300.0, 400.0, 12_000.0], "loss_change": -1e-3,
                          "level_before": [0.5, 1 / 3, 0.5], "level_after": [0.0, 0.4, 0.5],
                          "from_digon": [False, False, True]})
    sup = pd.DataFrame({"density": 0.2, "step": [1, 100, 100_000], "median": [1.0, 0.97, 2.0]})
    f = ld.energy_findings(models, jumps, sup)
    assert f["unsettled_densities"] == [0.2] and f["unsettled_jumps"] == 2
    assert f["unsettled_between"] == 1
    assert [r["model"] for r in f["late_jump_records"]] == [2] and f["late_digon_jumps"] == 1
    assert f["last_jump"] == 12_000.0 and f["end_over_last_jump"] == pytest.approx(100 / 12)
    assert not f["fpd_path"][0.2]["dip"]          # 0.97 is within 0.05 of the start


# ------------------------------------------------------------------------------------------
# Energy levels at the paper's scale, and which path the stage model takes
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [name for name, *_ in ld.SCALE] + ["geometric-stages-init"])
def test_new_smoke_profiles_are_cheap_copies(name):
    paper, smoke = get(name).spec("paper"), get(name).spec("smoke")
    for field in ("n_features", "n_hidden", "feature_probability", "data", "init_scale",
                  "snapshot_weights"):
        assert getattr(smoke, field) == getattr(paper, field), field
    assert (smoke.steps * smoke.batch_size * smoke.restarts
            < paper.steps * paper.batch_size * paper.restarts / 50)


def test_paper_scale_profiles_meet_the_issue():
    sizes = {(get(name).spec("paper").n_features, get(name).spec("paper").n_hidden)
             for name, *_ in ld.SCALE}
    assert sizes == {(400, 30), (100, 10)}
    for name, *_ in ld.SCALE:
        spec = get(name).spec("paper")
        assert spec.steps >= 100_000 and spec.restarts >= 5 and spec.snapshot_log >= 200
        assert all(0.2 <= p <= 0.4 for p in spec.feature_probability)
        assert not spec.snapshot_weights  # D_i and norms only: the weights would not fit
    stages = get("geometric-stages-init").spec("paper")
    assert stages.restarts >= 20 and len(set(stages.init_scale)) >= 3
    assert len(set(stages.feature_probability)) >= 3


@pytest.fixture(scope="module")
def scale():
    return ld.scale_results("paper")


def test_paper_only_the_densest_energy_models_shed_superposition_first():
    """The chapter's early path: at the densest density the median features per dimension
    first falls by more than 0.05 and then rises past its start; at every other density it
    never falls that far and ends higher."""
    from pathlib import Path

    data = RunStore(Path(__file__).parents[1] / "data")
    path = ld.energy_frames("paper", store=data)["findings"]["fpd_path"]
    assert [p for p in path if path[p]["dip"]] == [max(path)], path
    assert all(v["last"] > v["first"] for v in path.values()), path


def test_small_initial_weights_pass_through_the_pca_axes_and_xavier_ones_do_not():
    """The chapter's linear-first explanation, on the committed paper run: at every density the
    share of models visiting the PCA axes is larger from the smallest initial scale than from
    Xavier's, with Wilson intervals that do not overlap."""
    shares = ld.stage_init_results("paper")["shares"]
    pca = shares[shares["outcome"] == "visits pca_axes"]
    small = pca[pca["init_scale"] == min(ld.STAGE_INIT_SCALES)].set_index("density")
    large = pca[pca["init_scale"] == max(ld.STAGE_INIT_SCALES)].set_index("density")
    assert (small["low"] > large["high"]).all(), pd.concat([small, large])
    assert (small["models"] >= 20).all()


def test_settled_digons_do_not_jump_late_at_the_paper_scale(scale):
    """The closing claim: after step 10,000 no feature of n = 100 or n = 400 leaves a digon it
    had settled into."""
    late = ld.late_digon_jumps(scale["models"], scale["jumps"]).set_index("size")
    assert late.loc[400, "jumps"] == 0 and late.loc[100, "jumps"] == 0
    assert late.loc[400, "models"] == 15


def test_jump_counts_grow_with_size_at_every_tolerance(scale):
    """The chapter: the ordering of jumps per model by size is the same at the tolerances
    0.02, 0.03 and 0.04 (the counts themselves grow with the tolerance)."""
    per = scale["tolerances"].pivot(index="tol", columns="size", values="jumps_per_model")
    assert sorted(per.index) == list(ld.TOLERANCES)
    for tol, row in per.iterrows():
        assert row[20] < row[100] < row[400], (tol, row)
    assert (per.loc[0.04] > per.loc[0.02]).all()


def test_jumps_after_the_split_join_digons_and_hardly_ever_leave_one(scale):
    """The chapter: at every size most jumps after the initial split end in a digon (at
    n = 400, where there are enough jumps, the whole interval is above one half); of the jumps
    after the split under a tenth start from a digon, and none at n = 100 or n = 400."""
    d = ld.jump_directions(scale["models"], scale["jumps"]).set_index("size")
    assert list(d.index) == [20, 100, 400]
    assert (d["jumps"] > 0).all() and (d["into_digon"] > 0.5).all(), d
    assert d.loc[400, "into_low"] > 0.5 and d.loc[400, "jumps"] >= 20, d
    assert d["out_of_digon"].sum() < 0.1 * d["jumps"].sum(), d
    assert d.loc[[100, 400], "out_of_digon"].sum() == 0, d
    after = ld.jumps_after_split(scale["models"], scale["jumps"])
    counts = ld.transition_counts(scale["models"], scale["jumps"], top=100)
    assert counts.groupby("size")["jumps"].sum().tolist() == d["jumps"].tolist()
    assert len(after) == d["jumps"].sum()


def test_jump_directions_resample_the_jumps_of_a_seed_together():
    """A seed whose jumps all end in a digon and one whose jumps never do: the interval of
    the share spans both clusters' values, not a per-jump binomial interval."""
    models = pd.DataFrame({"size": 20, "model": [0, 1], "seed": [0, 1],
                           "split_step": [10.0, 10.0]})
    jumps = pd.DataFrame({"size": 20, "model": [0] * 9 + [1], "step": 100.0,
                          "level_before": 0.0, "level_after": [0.5] * 9 + [1 / 3]})
    d = ld.jump_directions(models, jumps).iloc[0]
    assert d["into_digon"] == pytest.approx(0.9)
    assert d["into_low"] == pytest.approx(0.0) and d["into_high"] == pytest.approx(1.0)


def test_paper_the_chapters_sentences_on_the_energy_runs_hold():
    """The sentences of the chapter about `energy-levels`, the search and the small
    initialisation, on the committed runs: a smaller learning rate delays the last jump; the
    cosine run jumps as its constant-rate twin while its rate is still near the peak; the
    exemplar's split completes; the jump windows hold more of the loss than of the log-time,
    but under half of it; the sparser the features, the earlier superposition starts."""
    f = ld.search_frames("paper")["findings"]
    assert f["lr_pairing"]["delayed_by_smaller_lr"]
    cosine = f["cosine"]
    assert cosine["jumps"] == cosine["constant_jumps"] and cosine["lr_at_last_jump"] > 0.99
    e = ld.energy_frames("paper")
    assert np.isfinite(e["models"].set_index("model").loc[e["exemplar"], "split_step"])
    fe = e["findings"]
    assert fe["median_log_time_fraction_first"] < fe["median_jump_fraction_first"] < 0.5
    small = load("energy-levels-small-init", "paper")
    onset = ld.superposition_onset(small, ld.superposition_frame(small)).sort_values("density")
    assert onset["onset"].notna().all()
    assert onset["onset"].is_monotonic_increasing and onset["loss_done"].is_monotonic_increasing


# -- three sizes trained alike, the nulls, the swap and the late digon (paper runs) ------------

def test_paper_sizes_are_trained_alike():
    specs = [get(name).spec("paper") for name in ld.SIZE_RUNS]
    assert [(s.n_features, s.n_hidden) for s in specs] == [(20, 5), (100, 10), (400, 30)]
    assert len({(s.steps, s.batch_size, s.lr, s.lr_schedule, s.feature_probability,
                 s.restarts, s.snapshot_log) for s in specs}) == 1
    assert specs[0].restarts >= 10 and len(ld.SIZE_DENSITIES) >= 2
    reference = specs[-1]
    for name, batch, lr, schedule, steps in ld.SWAP:
        spec = get(name).spec("paper")
        assert (spec.n_features, spec.n_hidden) == (400, 30)
        assert spec.feature_probability == ld.SWAP_DENSITY in reference.feature_probability
        assert (spec.batch_size, spec.lr, spec.lr_schedule, spec.steps) == \
            (batch, lr, schedule, steps)


@pytest.fixture(scope="module")
def sizes():
    return ld.size_results("paper")


def _size_stats(sizes):
    st = sizes["statistics"].dropna(subset=["density"])
    return st.set_index(["size", "density", "quantity"])


def test_paper_the_split_carries_almost_all_of_the_learning(sizes):
    """The chapter: after the initial split comes only a few percent of the loss decrease at
    every size and density, and the jumps after the split carry less still; at n = 20 most
    models never jump after their split."""
    st = _size_stats(sizes)
    assert (st.xs("after_share_of_total", level="quantity")["high"] < 0.07).all(), st
    assert (st.xs("jump_share_total", level="quantity")["high"] < 0.06).all(), st
    assert (st.xs("jump_share_total", level="quantity")["models"] >= 10).all()
    small = sizes["models"][sizes["models"]["size"] == 20]
    assert (small["jumps_after"] == 0).mean() > 0.5


def test_paper_jump_windows_carry_more_than_both_nulls(sizes):
    """The chapter: at n = 100 and n = 400 (density 0.3) the jump windows after the split carry
    more of the decrease than the same windows at random or where features move without a
    jump, with intervals that do not overlap."""
    st = _size_stats(sizes)
    for n in (100, 400):
        jump = st.loc[(n, 0.3, "jump_share_after")]
        assert jump["estimate"] > 0.5, n                       # most of what is left
        for null in ("random_share_after", "motion_share_after"):
            assert jump["low"] > st.loc[(n, 0.3, null), "high"], (n, null)
            assert jump["estimate"] > 2 * st.loc[(n, 0.3, null), "estimate"], (n, null)


def test_paper_one_early_swap_and_a_late_digon_from_the_left_out_features(sizes):
    """The chapter: one swap through 1/√2 in all the runs, right after its model's split; the
    passages through 1/√2 mostly end in digons and hardly ever start from one; in most
    reference models (n = 400, density 0.3) the last digon forms after step 10,000 out of
    features near D = 0, with a larger loss drop than elsewhere; a larger learning rate and a
    smaller batch bring it forward, and the cosine decay stops it."""
    ev = sizes["events"].set_index(["experiment", "density"])
    swaps = sizes["swaps"]
    assert len(swaps) == ev["swaps"].sum() == 1
    share, low, high = sizes["swap_share"]
    assert share == pytest.approx(1 / ev["models"].sum()) and low < share < high < 0.1
    assert (swaps["step_start"] < 3 * swaps["split_step"]).all()
    assert (swaps["step_start"] < ld.LATE_STEP).all()
    assert ev["visits_into_digon"].sum() >= 0.6 * ev["visits"].sum()
    assert ev["visits_from_digon"].sum() <= 0.1 * ev["visits"].sum()
    ref = ev.loc[(ld.SWAP_RUNS[0], ld.SWAP_DENSITY)]
    assert ref["models"] >= 10 and ref["late"] >= 0.8 * ref["models"]
    assert ref["full"] == ref["models"]
    assert ref["late_from"] < 0.05 and ref["late_drop"] > max(ref["drop_elsewhere"], 0)
    for name in ("energy-swap-lr3e-3", "energy-swap-batch256-long"):     # "moves"
        assert ev.loc[(name, ld.SWAP_DENSITY), "step_high"] < ref["step_low"], name
    cosine = ev.loc[("energy-swap-cosine", ld.SWAP_DENSITY)]
    assert cosine["full"] == 0
