"""Learning dynamics: level jumps in synthetic and trained trajectories, geometric stages."""

import itertools

import numpy as np
import pandas as pd
import pytest

from superposition_lib.analysis import dynamics
from superposition_lib.core import metrics
from superposition_lib.core.config import ExperimentSpec
from superposition_lib.core.train import train

STEPS = np.unique(np.geomspace(1, 100_000, 260).round().astype(np.int64))  # ~200 distinct


def _logistic_path(steps, segments, width=0.03):
    """A trajectory that moves between values at given steps, smoothly in log-step.

    ``segments`` is [(value, None), (value, step), ...]: start at the first value, move to each
    next value around its step (a logistic of ``width`` decades).
    """
    u = np.log10(steps)
    path = np.full(len(steps), float(segments[0][0]))
    for (before, _), (after, at) in itertools.pairwise(segments):
        path += (after - before) / (1 + np.exp(-(u - np.log10(at)) / width))
    return path


# Known jumps: (feature, level before, level after, step). Feature 5 only makes its initial
# split (from an off-level start), which is not a jump; feature 2 never moves.
TRUE_JUMPS = [(0, 0.5, 0.0, 3_000), (1, 0.0, 0.5, 3_000), (3, 0.5, 2 / 3, 20_000),
              (3, 2 / 3, 0.5, 60_000), (4, 0.5, 1 / 3, 400)]


def _synthetic(noise=0.008, seed=0):
    """(D, loss): six features that split near step 30, then jump as in TRUE_JUMPS.

    The loss falls smoothly in log-time and by 0.05 more at every jump.
    """
    rng = np.random.default_rng(seed)
    start = rng.uniform(0.1, 0.9, 6)           # random dimensionalities before the split
    first = [0.5, 0.0, 0.5, 0.5, 0.5, 0.0]
    D = np.empty((len(STEPS), 6))
    for f in range(6):
        segments = [(start[f], None), (first[f], 30)]
        segments += [(after, at) for g, _, after, at in TRUE_JUMPS if g == f]
        D[:, f] = _logistic_path(STEPS, segments)
    D += rng.normal(0, noise, D.shape)
    u = np.log10(STEPS)
    loss = 1.0 - 0.05 * u
    for _, _, _, at in TRUE_JUMPS:
        loss -= 0.05 / (1 + np.exp(-(u - np.log10(at)) / 0.03))
    return D, loss


# ------------------------------------------------------------------------------------------
# Levels, plateaus and jumps
# ------------------------------------------------------------------------------------------
TOLERANCES = (0.02, 0.03, 0.04)


def _digon_model(late, seed, noise=0.01):
    """(D, steps): 10 features that split from random values near step 100, to 1/2 or 0 where
    they settle, or onto the trajectory ``late`` gives them (a dict: feature -> path)."""
    rng = np.random.default_rng(seed)
    split = 1 / (1 + np.exp(-(np.log10(STEPS) - 2) / 0.03))
    D = np.empty((len(STEPS), 10))
    for f in range(10):
        start, after = rng.uniform(0.1, 0.9), late.get(f, 0.5 * (f % 2))
        D[:, f] = start + (after - start) * split
    return D + rng.normal(0, noise, D.shape), STEPS


@pytest.mark.parametrize("tol", TOLERANCES)
def test_drifts_hovering_noise_and_settled_digons_are_never_jumps(tol):
    u = np.log10(STEPS)
    # hovering between 1/3 and 2/5 in 0.35-0.39, as the "jumps" the old detector counted
    # there (median change 0.023): smoothly, and flipping between 0.358 and 0.382
    hover_slow = 0.37 + 0.02 * np.sin(2 * np.pi * u / 1.5)
    hover_fast = 0.37 + 0.012 * np.sign(np.sin(2 * np.pi * u / 0.4))
    # a slow drift from 1/2 to 1/3 over three decades, and one from 0.25 to 2/3
    drift_down = np.interp(u, [2.5, 5], [0.5, 1 / 3])
    drift_up = np.interp(u, [2.5, 5], [0.25, 2 / 3])
    for seed in range(5):
        D, steps = _digon_model({1: hover_slow, 3: hover_fast, 5: drift_down, 7: drift_up},
                                seed)
        jumps = dynamics.energy_level_jumps(D, steps, tol=tol)
        assert len(jumps) == 0, (seed, jumps)
        settled, _ = _digon_model({}, seed, noise=0.015)
        assert len(dynamics.energy_level_jumps(settled, steps, tol=tol)) == 0


@pytest.mark.parametrize("tol", TOLERANCES)
def test_a_real_late_jump_is_counted_exactly_once(tol):
    for seed in range(5):
        late = _logistic_path(STEPS, [(0.5, None), (0.0, 30_000)])
        D, steps = _digon_model({0: late}, seed)
        jumps = dynamics.energy_level_jumps(D, steps, tol=tol)
        assert len(jumps) == 1, (seed, jumps)
        jump = jumps.iloc[0]
        assert (jump.feature, jump.level_before, jump.level_after) == (0, 0.5, 0.0)
        assert 20_000 < jump.step < 45_000


def test_hysteresis_keeps_a_level_through_noise_at_its_edge():
    D = 0.5 + np.array([0.0, 0.025, 0.035, 0.02, 0.05, 0.03, 0.07, 0.0])
    np.testing.assert_array_equal(dynamics.track_levels(D, levels=[0.0, 0.5, 1.0]),
                                  [1, 1, 1, 1, 1, 1, -1, 1])
    # entering another level wins over staying on the current one
    np.testing.assert_array_equal(
        dynamics.track_levels([1 / 3, 0.38, 0.39], levels=[1 / 3, 2 / 5], tol=0.03),
        [0, 1, 1])
    with pytest.raises(ValueError, match="leave must be a number >= tol"):
        dynamics.track_levels([0.5], tol=0.03, leave=0.01)


def test_jump_detector_recovers_known_jumps_in_noisy_trajectories():
    for seed in range(5):
        D, loss = _synthetic(seed=seed)
        jumps = dynamics.energy_level_jumps(D, STEPS, loss)
        found = sorted(zip(jumps.feature, jumps.level_before.round(4),
                           jumps.level_after.round(4)))
        expected = sorted((f, round(a, 4), round(b, 4)) for f, a, b, _ in TRUE_JUMPS)
        assert found == expected, (seed, jumps)
        for row in jumps.itertuples():
            true_step = next(at for f, a, b, at in TRUE_JUMPS
                             if f == row.feature and round(a, 4) == round(row.level_before, 4))
            assert row.step_start < true_step < row.step_end
            assert np.log10(row.step_end / row.step_start) < 0.3     # a sharp window
            assert abs(np.log10(row.step / true_step)) < 0.1
        assert list(jumps.step) == sorted(jumps.step)


def test_no_jumps_on_noise_alone():
    rng = np.random.default_rng(1)
    # white noise over [0, 1]: never long enough on one level to make plateaus
    noise = rng.uniform(0, 1, (len(STEPS), 20))
    assert len(dynamics.plateaus(noise, STEPS)) == 0
    assert len(dynamics.energy_level_jumps(noise, STEPS)) == 0
    # features that stay on their levels with noise: one plateau each, no jump
    levels = rng.choice([0.0, 0.5, 2 / 3], 20)
    steady = levels + rng.normal(0, 0.008, (len(STEPS), 20))
    table = dynamics.plateaus(steady, STEPS)
    assert set(table.feature) == set(range(20))
    np.testing.assert_allclose(table.level, levels[table.feature])
    assert len(dynamics.energy_level_jumps(steady, STEPS, steady.mean(1))) == 0


def test_a_brief_excursion_is_not_a_jump():
    D = np.full((len(STEPS), 3), 0.5)
    D[STEPS < 30, 1:] = 0.2                         # training starts moving at step 30
    D[(STEPS > 1000) & (STEPS < 1100), 0] = 0.0     # two snapshots: too short for a plateau
    assert len(dynamics.energy_level_jumps(D, STEPS)) == 0
    table = dynamics.plateaus(D, STEPS)
    first = table[table.feature == 0]
    assert list(first.initial) == [True, False] and list(first.level) == [0.5, 0.5]
    assert first.step_end.iloc[0] < 30 <= first.step_start.iloc[1]
    assert first.step_end.iloc[1] == STEPS[-1]      # merged across the excursion


def test_no_jump_out_of_the_initial_state():
    D = np.where(STEPS < 3000, 0.5, 0.0)            # sits at 1/2 from initialisation
    table = dynamics.plateaus(D, STEPS)
    assert list(table.initial) == [True, False]
    assert len(dynamics.energy_level_jumps(D, STEPS)) == 0
    jumps = dynamics.energy_level_jumps(D, STEPS, initial_state=False)
    assert list(jumps.level_before) == [0.5] and list(jumps.level_after) == [0.0]


def test_slow_transitions_are_not_jumps():
    # splits to 1/2 at step 30, then drifts to 2/3 (no level between them) over decades
    u = np.log10(STEPS)
    split = 0.4 / (1 + np.exp(-(u - np.log10(30)) / 0.03))          # 0.1 -> 0.5 at step 30
    drift = (1 / 6) / (1 + np.exp(-(u - 3.5) / 0.5))                # 0.5 -> 2/3 over decades
    slow = 0.1 + split + drift
    assert list(dynamics.plateaus(slow, STEPS).level.round(3)) == [0.5, 0.667]
    assert len(dynamics.energy_level_jumps(slow, STEPS)) == 0
    assert len(dynamics.energy_level_jumps(slow, STEPS, max_transition=5)) == 1


def test_loss_columns_are_the_loss_at_the_window_edges():
    D, loss = _synthetic()
    jumps = dynamics.energy_level_jumps(D, STEPS, loss)
    position = {s: i for i, s in enumerate(STEPS)}
    for row in jumps.itertuples():
        assert row.loss_before == loss[position[row.step_start]]
        assert row.loss_after == loss[position[row.step_end]]
        assert row.loss_change == pytest.approx(row.loss_after - row.loss_before)
        assert row.loss_change < -0.03          # most of each synthetic drop of 0.05
    # a loss on other steps (e.g. the training history) is interpolated in log-step
    dense = np.arange(1, 100_001, 7)
    dense_loss = 1.0 - 0.05 * np.log10(dense)
    jumps = dynamics.energy_level_jumps(D, STEPS, dense_loss, loss_steps=dense)
    np.testing.assert_allclose(jumps.loss_before, 1.0 - 0.05 * np.log10(jumps.step_start),
                               atol=1e-5)
    np.testing.assert_allclose(jumps.loss_change,
                               -0.05 * np.log10(jumps.step_end / jumps.step_start), atol=1e-5)
    assert list(dynamics.energy_level_jumps(D, STEPS).columns) == [
        "feature", "step_start", "step_end", "step", "level_before", "level_after"]


def test_jump_loss_fraction():
    D, loss = _synthetic()
    jumps = dynamics.energy_level_jumps(D, STEPS, loss)
    after = dynamics.split_step(D, STEPS)
    assert 30 < after < 200                     # the split happens around step 30
    summary = dynamics.jump_loss_fraction(jumps, loss, STEPS, after=after)
    assert summary.windows == 4                 # features 0 and 1 jump together
    total = loss[STEPS == after][0] - loss[-1]
    assert summary.total_decrease == pytest.approx(total)
    # the windows hold most of the five drops of 0.05 (D leaves a level's tolerance band a
    # little after the drop starts) and a little of the smooth decline of 0.05 per decade
    assert 0.8 * 0.25 < summary.jump_decrease < 0.25 + 0.05 * 4 * 0.3
    assert summary.fraction == pytest.approx(summary.jump_decrease / total)
    assert 0 < summary.log_time_fraction < 0.25
    # a loss that falls steadily in log-time gives fraction = log-time fraction
    smooth = 1.0 - 0.05 * np.log10(STEPS)
    summary = dynamics.jump_loss_fraction(jumps, smooth, STEPS, after=after)
    assert summary.fraction == pytest.approx(summary.log_time_fraction, rel=1e-6)
    none = dynamics.jump_loss_fraction(jumps.iloc[:0], loss, STEPS)
    assert none.fraction == 0 and none.windows == 0
    with pytest.raises(ValueError, match="after"):
        dynamics.jump_loss_fraction(jumps, loss, STEPS, after=STEPS[-1])


def test_the_split_can_count_only_the_represented_features():
    """A model that drops most features: counted over all of them, the dropped ones decide
    when the split ends; counted over the represented ones, these do."""
    kept = _logistic_path(STEPS, [(0.3, None), (0.5, 3_000)])
    dropped = _logistic_path(STEPS, [(0.3, None), (0.0, 50)])
    D = np.stack([kept] * 2 + [dropped] * 18, 1)
    assert dynamics.split_step(D, STEPS) < 200
    represented = np.arange(20) < 2
    assert 3_000 < dynamics.split_step(D, STEPS, features=represented) < 10_000
    assert dynamics.split_step(D, STEPS, features=[0, 1]) == \
        dynamics.split_step(D, STEPS, features=represented)
    assert dynamics.split_step(D, STEPS, features=np.zeros(20, bool)) is None


def test_loss_in_jump_windows_beats_its_nulls_only_when_the_loss_steps_there():
    D, loss = _synthetic()
    jumps = dynamics.energy_level_jumps(D, STEPS, loss)
    after = dynamics.split_step(D, STEPS)
    null = dynamics.random_window_share(jumps, loss, STEPS, after=after, draws=300, seed=1)
    assert null.windows == 4 and null.observed > 0.5
    assert null.null_low <= null.null_mean <= null.null_high < null.observed
    assert null.above < 0.05
    again = dynamics.random_window_share(jumps, loss, STEPS, after=after, draws=300, seed=1)
    assert again.equals(null)                     # seeded
    motion = dynamics.motion_window_share(D, STEPS, jumps, loss, after=after)
    assert 0 <= motion < null.observed
    # a loss that falls steadily in log-time: the windows are no better than random ones (a
    # little better than their mean, as random windows that overlap merge and cover less)
    smooth = 1.0 - 0.05 * np.log10(STEPS)
    flat = dynamics.random_window_share(jumps, smooth, STEPS, after=after, draws=300)
    assert flat.null_low <= flat.observed <= flat.null_high
    assert flat.observed == pytest.approx(flat.null_mean, rel=0.1) and flat.above > 0.2
    empty = dynamics.random_window_share(jumps.iloc[:0], loss, STEPS, after=after)
    assert empty.windows == 0 and np.isnan(empty.observed)
    assert np.isnan(dynamics.motion_window_share(D, STEPS, jumps.iloc[:0], loss, after=after))


def test_a_swap_through_one_over_root_two_is_told_from_a_rise_into_a_digon():
    swap = _logistic_path(STEPS, [(0.3, None), (0.5, 30), (0.707, 5_000), (0.5, 8_000)])
    rise = _logistic_path(STEPS, [(0.3, None), (0.0, 30), (0.707, 5_000), (0.5, 8_000)])
    settled = _logistic_path(STEPS, [(0.3, None), (0.5, 30)])
    edge = _logistic_path(STEPS, [(1.0, None), (0.75, 30)])   # from above: never near 1/√2
    edge[np.searchsorted(STEPS, 2_000)] = 0.72               # noise at the edge of 3/4
    visits = dynamics.level_visits(np.stack([swap, rise, settled, edge], 1), STEPS)
    assert visits["feature"].tolist() == [0, 1]
    assert visits["swap"].tolist() == [True, False]
    assert visits["level_before"].tolist() == [0.5, 0.0]
    assert visits["level_after"].tolist() == [0.5, 0.5]
    assert (visits["step_start"] > 4_000).all() and (visits["step_end"] < 9_000).all()
    assert dynamics.TRANSIENT_LEVEL == pytest.approx(2 ** -0.5)


def test_digon_formations_mark_each_new_maximum_once():
    early = _logistic_path(STEPS, [(0.3, None), (0.5, 30)])
    late = _logistic_path(STEPS, [(0.02, None), (0.5, 50_000)])
    leaves = _logistic_path(STEPS, [(0.3, None), (0.5, 30), (0.0, 1_000)])
    D = np.stack([early, early, leaves, leaves, late, late], 1)
    f = dynamics.digon_formations(D, STEPS)
    # two digons at the split, one lost at step 1,000 and one regained at 50,000: only the
    # split's count is a new maximum, as the late digon only restores it
    assert f["digons"].tolist() == [2] and f["new"].tolist() == [2]
    D = np.stack([early, early, late, late], 1)
    f = dynamics.digon_formations(D, STEPS)
    assert f["digons"].tolist() == [1, 2]
    assert 40_000 < f["step"].iloc[-1] < 80_000 and f["D_before"].iloc[-1] < 0.1
    assert dynamics.digon_formations(np.zeros((len(STEPS), 3)), STEPS).empty


def test_assign_levels_and_input_validation():
    np.testing.assert_array_equal(dynamics.assign_levels([[0.0, 0.41], [0.7, 0.36]]),
                                  [[0, 2], [-1, 1]])
    np.testing.assert_array_equal(dynamics.assign_levels([0.6], levels=[0.5, 1.0], tol=0.1),
                                  [0])
    with pytest.raises(ValueError, match="increasing"):
        dynamics.plateaus(np.zeros((3, 2)), [0, 2, 1])
    with pytest.raises(ValueError, match="steps"):
        dynamics.plateaus(np.zeros((3, 2)), [1, 2])
    with pytest.raises(ValueError, match="loss"):
        dynamics.energy_level_jumps(np.zeros((3, 2)), [1, 2, 3], loss=[1.0, 2.0])


def test_feature_trajectories_is_tidy():
    W = np.random.default_rng(0).normal(size=(4, 2, 5))
    frame = dynamics.feature_trajectories(W, [0, 1, 10, 100])
    assert list(frame.columns) == ["step", "feature", "norm", "D", "level"]
    assert len(frame) == 20
    np.testing.assert_allclose(frame.D.to_numpy().reshape(4, 5),
                               metrics.feature_dimensionality(W))


# ------------------------------------------------------------------------------------------
# Geometric stages (n=6, m=3, two correlated sets)
# ------------------------------------------------------------------------------------------
def _rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


def _shuffle_within_sets(W, rng):
    order = np.r_[rng.permutation(3), 3 + rng.permutation(3)]
    return W[:, order]


TRIANGLE = np.vstack([np.cos(2 * np.pi * np.arange(3) / 3), np.sin(2 * np.pi * np.arange(3) / 3),
                      np.zeros(3)])


def _lifted(h):
    """The triangle lifted to height h off its plane (unit vectors): a cone around the z-axis."""
    T = TRIANGLE.copy()
    T[2] = h
    return T / np.linalg.norm(T, axis=0)


def _turn(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _geometries(rng, noise=0.03):
    """Constructed W (3 × 6) of each stage, randomly rotated, reordered and perturbed."""
    u, v = np.eye(3)[0], np.eye(3)[1]
    mirror = np.diag([1.0, 1.0, -1.0])
    frame = _lifted(1 / np.sqrt(2))       # three orthogonal directions: an octahedron's face
    base = {
        "near_zero": 0.02 * rng.normal(size=(3, 6)),
        "opposite_sets": np.outer(u, [0.6, 0.5, 0.55, -0.6, -0.5, -0.55]),
        "pca_axes": np.hstack([np.outer(u, [0.6, 0.5, 0.55]), np.outer(v, [0.5, 0.6, 0.6])]),
        "triangles": np.hstack([TRIANGLE, -TRIANGLE]),                  # coplanar: a hexagon
        "triangles_apart": np.hstack([TRIANGLE, _rotation(np.random.default_rng(99)) @ TRIANGLE]),
        "prism": np.hstack([frame, mirror @ frame]),                    # faces not yet turned
        "narrow_cones_turning": np.hstack([_lifted(1.5), _turn(0.3) @ mirror @ _lifted(1.5)]),
        "flat_antiprism": np.hstack([_lifted(0.3), -_lifted(0.3)]),     # nearly a hexagon
        "antiprism": np.hstack([np.eye(3), -np.eye(3)]),                # the octahedron
        "antiprism_flatter": np.hstack([_lifted(0.5), -_lifted(0.5)]),
        "collapsed_and_triangle": np.hstack([np.outer(u, [1.0, 0.9, 1.1]), TRIANGLE]),
        "random": rng.normal(size=(3, 6)),
    }
    out = {}
    for name, W in base.items():
        W = _rotation(rng) @ _shuffle_within_sets(W, rng)
        if name != "near_zero":
            W = W + noise * rng.normal(size=W.shape) * np.linalg.norm(W, axis=0).mean()
        out[name] = W
    return out


EXPECTED_STAGE = {"near_zero": "near_zero", "opposite_sets": "opposite_sets",
                  "pca_axes": "pca_axes",
                  "triangles": "triangles", "triangles_apart": "triangles", "prism": "triangles",
                  "narrow_cones_turning": "triangles", "flat_antiprism": "triangles",
                  "antiprism": "antiprism", "antiprism_flatter": "antiprism",
                  "collapsed_and_triangle": "other", "random": "other"}


def test_stage_classifier_labels_constructed_geometries():
    for seed in range(20):
        rng = np.random.default_rng(seed)
        geometries = _geometries(rng)
        names = list(geometries)
        stages = dynamics.classify_stages(np.stack([geometries[k] for k in names]))
        assert dict(zip(names, stages)) == {k: EXPECTED_STAGE[k] for k in names}, seed


def test_random_weights_are_other():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(2000, 3, 6))
    stages = dynamics.classify_stages(W)
    assert np.mean(stages == "other") > 0.99, pd.Series(stages).value_counts()


def test_stage_measurements_table():
    rng = np.random.default_rng(0)
    octahedron = np.hstack([np.eye(3), -np.eye(3)])
    row = dynamics.stage_measurements(_rotation(rng) @ octahedron).iloc[0]
    assert row.effective_rank == pytest.approx(3)
    assert row.antipodal_cos == pytest.approx(-1)
    assert row.within_cos_0 == pytest.approx(0, abs=1e-12)
    hexagon = dynamics.stage_measurements(np.hstack([TRIANGLE, -TRIANGLE])).iloc[0]
    assert hexagon.effective_rank == pytest.approx(2)
    assert hexagon.within_cos_0 == pytest.approx(-0.5)
    assert hexagon.antipodal_cos == pytest.approx(-1)
    assert hexagon.stage == "triangles"
    W = rng.normal(size=(5, 2, 3, 6))                # (snapshots, models, m, n)
    table = dynamics.stage_measurements(W, steps=[0, 1, 2, 4, 8])
    assert list(table.columns[:3]) == ["snapshot", "model", "step"]
    assert len(table) == 10 and list(table.step[:4]) == [0, 0, 1, 1]
    assert list(table.stage) == list(dynamics.classify_stages(W).reshape(-1))
    assert dynamics.classify_stages(W).shape == (5, 2)
    # other set definitions
    swapped = octahedron[:, [0, 3, 1, 4, 2, 5]]
    assert dynamics.classify_stages(swapped, sets=[(0, 2, 4), (1, 3, 5)]) == "antiprism"
    with pytest.raises(ValueError, match="sets"):
        dynamics.classify_stages(octahedron, sets=[(0, 1), (1, 2)])


def test_stage_trajectory_collapses_repeats_and_blips():
    stages = (["near_zero"] * 10 + ["other"] * 2 + ["opposite_sets"] * 20 + ["triangles"]
              + ["opposite_sets"] * 5 + ["other"] * 4 + ["triangles"] * 8 + ["antiprism"] * 30)
    steps = np.arange(len(stages)) * 10
    path = dynamics.stage_trajectory(stages, steps)
    assert list(path.stage) == ["near_zero", "opposite_sets", "other", "triangles", "antiprism"]
    assert path.step_start[1] == 120 and path.step_end[1] == 370
    assert path.n_snapshots[1] == 25
    assert list(dynamics.stage_trajectory(stages, steps, min_points=5).stage) == [
        "near_zero", "opposite_sets", "triangles", "antiprism"]
    assert len(dynamics.stage_trajectory([], [])) == 0


# ------------------------------------------------------------------------------------------
# A real (smoke-size) training run
# ------------------------------------------------------------------------------------------
def test_trained_uniform_features_split_to_antipodal_pairs_or_zero():
    """Equal importance and sparsity: features settle on D = 1/2 (digons) or 0.

    At feature probability 0.3, n=40 and m=10 every feature ends within 0.05 of 0 or 1/2, with
    exactly 2m = 20 at 1/2 (checked for seeds 0-3, and for n=20, m=5); the trajectories pass
    through intermediate values first, a few features linger near 1/3 or 2/5, and a few reach
    their final level only in the last few hundred steps.
    """
    spec = ExperimentSpec(n_features=40, n_hidden=10, feature_probability=[0.3], steps=3000,
                          batch_size=1024, snapshot_log=100, seed=0)
    run = train(spec, progress=False)
    steps = run.snapshots.steps
    D = metrics.feature_dimensionality(run.snapshots.W[:, 0])       # (snapshots, n)
    final = dynamics.assign_levels(D[-1], levels=[0.0, 0.5], tol=0.05)
    assert np.mean(final >= 0) >= 0.9, np.round(D[-1], 2)
    assert 2 * spec.n_hidden - 2 <= np.sum(final == 1) <= 2 * spec.n_hidden
    assert D[-1].sum() == pytest.approx(spec.n_hidden, abs=0.5)      # a tight packing
    table = dynamics.plateaus(D, steps)
    last = table.groupby("feature").tail(1)                         # a few are still moving
    settled = last.level.isin([0.0, 0.5]) & (last.step_end == steps[-1])
    assert settled.sum() >= 0.85 * spec.n_features, last
    after = dynamics.split_step(D, steps, fraction=0.8)
    assert after is not None and 100 < after < spec.steps
    jumps = dynamics.energy_level_jumps(D, steps, run.snapshots.loss[:, 0])
    assert set(jumps.columns) >= {"loss_before", "loss_after", "loss_change"}
    summary = dynamics.jump_loss_fraction(jumps, run.snapshots.loss[:, 0], steps, after=after)
    assert summary.total_decrease > 0 and 0 <= summary.log_time_fraction < 1
