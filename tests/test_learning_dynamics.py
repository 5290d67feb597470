"""The learning-dynamics experiments: profiles, frames, findings and charts."""

import json
import tempfile

import numpy as np
import pandas as pd
import pytest

from superposition_lib import dynamics
from superposition_lib.experiments import get
from superposition_lib.experiments import learning_dynamics as ld
from superposition_lib.figures import learning_dynamics as fig
from superposition_lib.store import RunStore

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
def store():
    return RunStore(tempfile.mkdtemp())


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
    assert (sup["q25"] <= sup["median"] + 1e-12).all() and (sup["median"] <= sup["q75"] + 1e-12).all()
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
                          "path": ["near_zero → pca → triangles → antiprism",
                                   "near_zero → antiprism", "near_zero → two_axes → antiprism",
                                   "pca → triangles"]})
    paths["core_path"] = paths["path"]
    assert ld.stage_findings(paths)["paper_order"] == 2


@pytest.mark.parametrize("label", sorted(ld.FIGURES))
def test_figures_validate_and_stay_small(label, store):
    chart, data = ld.FIGURES[label]("smoke", store=store)
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
    from superposition_lib.store import RunStore

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
    from superposition_lib import metrics
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
