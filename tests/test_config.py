"""ExperimentSpec: validation with clear errors, normalisation and the cache key."""

import json
from pathlib import Path

import numpy as np
import pytest

from superposition_lib.config import FORMAT_VERSION, ExperimentSpec


@pytest.mark.parametrize("changes,field,allowed", [
    ({"model": "mlp"}, "model", "relu_output"),
    ({"n_features": -3}, "n_features", ">= 1"),
    ({"n_hidden": 0}, "n_hidden", ">= 1"),
    ({"n_features": 2.5}, "n_features", "integer"),
    ({"feature_probability": [0.5, 0.0]}, "feature_probability", "(0, 1]"),
    ({"feature_probability": [1.5]}, "feature_probability", "(0, 1]"),
    ({"feature_probability": [[0.5, 0.5]]}, "feature_probability", "n_features=5"),
    ({"importance": [1, 1, 1]}, "importance", "n_features=5"),
    ({"importance": [1, 1, 1, 1, -1]}, "importance", ">= 0"),
    ({"importance": [[1] * 5] * 3}, "importance", "one row per instance"),
    ({"data": "gaussian"}, "data", "sparse_uniform"),
    ({"data": "correlated"}, "set_size", "divides"),
    ({"data": "correlated", "set_size": 3}, "set_size", "does not divide"),
    ({"set_size": 2}, "set_size", "only used"),
    ({"data": "signed_uniform"}, "data", "absolute_value"),
    ({"steps": 0}, "steps", ">= 1"),
    ({"lr": -1e-3}, "lr", "positive"),
    ({"lr_schedule": "exp"}, "lr_schedule", "warmup_cosine"),
    ({"optimizer": "sgd"}, "optimizer", "adamw"),
    ({"init": "zeros"}, "init", "notebook"),
    ({"betas": (0.9, 1.5)}, "betas", "[0, 1)"),
    ({"snapshot_every": 10, "snapshot_log": 10}, "snapshot_every, snapshot_log", "at most one"),
    ({"restarts": 0}, "restarts", ">= 1"),
    ({"data": "correlated", "set_size": 5, "correlation": 1.5}, "correlation", "in [0, 1]"),
    ({"data": "correlated", "set_size": 5, "correlation": -0.1}, "correlation", "in [0, 1]"),
    ({"data": "correlated", "set_size": 5, "correlation": "high"}, "correlation", "in [0, 1]"),
    ({"data": "correlated", "set_size": 5, "correlation": [[0.5]]}, "correlation", "per instance"),
    ({"data": "correlated", "set_size": 5, "correlation": [0.5] * 3}, "correlation",
     "one value per instance (2)"),
    ({"correlation": 0.5}, "correlation", "only used with data='correlated'"),
    ({"data": "anticorrelated", "set_size": 5, "correlation": 0.5}, "correlation",
     "only used with data='correlated'"),
    ({"data": "correlated", "set_size": 5, "feature_probability": [[0.5] * 4 + [0.1]]},
     "feature_probability", "equal within each set of 5"),
    ({"data": "equivariant"}, "bump_width", "> 0"),
    ({"data": "equivariant", "bump_width": 0}, "bump_width", "> 0"),
    ({"data": "equivariant", "bump_width": float("inf")}, "bump_width", "> 0"),
    ({"data": "equivariant", "bump_width": [1.0, 2.0, 3.0]}, "bump_width",
     "one value per instance (2)"),
    ({"data": "equivariant", "bump_width": 1.0, "feature_probability": [[0.5] * 4 + [0.1]]},
     "feature_probability", "equal for every feature"),
    ({"data": "equivariant", "bump_width": 1.0, "n_features": 1}, "n_features", ">= 2"),
    ({"bump_width": 1.0}, "bump_width", "only used with data='equivariant'"),
])
def test_invalid_fields_name_the_field_and_allowed_values(changes, field, allowed):
    kwargs = dict(n_features=5, n_hidden=2, feature_probability=[1.0, 0.1])
    kwargs.update(changes)
    with pytest.raises(ValueError) as info:
        ExperimentSpec(**kwargs)
    message = str(info.value)
    assert message.startswith(field + ":"), message
    assert allowed in message, message


def test_shapes_and_normalisation():
    spec = ExperimentSpec(n_features=3, n_hidden=2, feature_probability=np.array([1.0, 0.5]),
                          importance=[1, 0.5, 0.25], restarts=3)
    assert spec.feature_probability == (1.0, 0.5)
    assert spec.n_instances == 2 and spec.n_models == 6
    assert spec.feature_probability_array().shape == (2, 3)
    np.testing.assert_allclose(spec.importance_array(), [[1, 0.5, 0.25]] * 2)
    per_feature = ExperimentSpec(n_features=2, n_hidden=1, feature_probability=[[0.1, 0.2]])
    assert per_feature.n_instances == 1
    np.testing.assert_allclose(per_feature.feature_probability_array(), [[0.1, 0.2]])
    per_instance_importance = ExperimentSpec(n_features=2, n_hidden=1, feature_probability=0.5,
                                             importance=[[1, 0.1], [1, 10]])
    assert per_instance_importance.n_instances == 2
    assert ExperimentSpec(model="absolute_value").data == "signed_uniform"


def test_key_depends_on_everything_that_matters_and_nothing_else():
    base = ExperimentSpec(n_features=5, n_hidden=2, feature_probability=[1.0, 0.1])
    assert base.key() == ExperimentSpec(n_features=5, n_hidden=2,
                                        feature_probability=[1.0, 0.1]).key()
    assert base.key() == base.replace(name="a label").key()
    for change in [dict(seed=1), dict(steps=9999), dict(lr=2e-3), dict(model="linear"),
                   dict(feature_probability=[1.0, 0.11]), dict(importance=[1, 1, 1, 1, 0.5]),
                   dict(init="notebook"), dict(restarts=2), dict(snapshot_log=10),
                   dict(batch_size=512), dict(weight_decay=0.0)]:
        assert base.replace(**change).key() != base.key(), change


def test_key_includes_format_version(monkeypatch):
    spec = ExperimentSpec()
    before = spec.key()
    monkeypatch.setattr("superposition_lib.config.FORMAT_VERSION", FORMAT_VERSION + 1)
    assert spec.key() != before


def test_dict_round_trip():
    spec = ExperimentSpec(model="relu_hidden", n_features=4, n_hidden=2,
                          feature_probability=[[0.5, 0.5, 0.1, 0.1]], importance=[1, 2, 3, 4],
                          snapshot_log=20, name="x")
    again = ExperimentSpec.from_dict(spec.to_dict())
    assert again == spec and again.key() == spec.key()
    with pytest.raises(ValueError, match="unknown ExperimentSpec fields"):
        ExperimentSpec.from_dict({**spec.to_dict(), "colour": "red"})


def test_snapshot_and_history_steps():
    spec = ExperimentSpec(steps=1000, snapshot_log=50, history_every=300)
    steps = spec.snapshot_steps()
    assert steps[0] == 0 and steps[-1] == 1000
    assert np.all(np.diff(steps) > 0) and 30 < len(steps) <= 51
    ratios = steps[2:] / steps[1:-1]
    assert ratios.max() / ratios.min() < 12  # roughly geometric once past the integers
    np.testing.assert_array_equal(spec.history_steps(), [300, 600, 900, 1000])
    assert len(ExperimentSpec(steps=10).snapshot_steps()) == 0


def _nudged(value, ulps):
    """``value`` with every float but 0 and 1 (edges of the allowed ranges, which no SIMD path
    changes) moved by ``ulps()`` units in the last place."""
    if isinstance(value, float) and value not in (0.0, 1.0):
        k = ulps()
        for _ in range(abs(k)):
            value = float(np.nextafter(value, np.inf if k > 0 else -np.inf))
        return value
    if isinstance(value, dict):
        return {k: _nudged(v, ulps) for k, v in value.items()}
    if isinstance(value, list):
        return [_nudged(v, ulps) for v in value]
    return value


def _registered_specs():
    from superposition_lib import experiments
    return [(e.name, p, e.spec(p)) for e in experiments.list_experiments()
            for p in experiments.PROFILES]


@pytest.mark.parametrize("name,profile,spec", _registered_specs(), ids=lambda v: str(v)[:24])
def test_keys_survive_last_bit_differences(name, profile, spec):
    """What numpy's SIMD paths change (the last bits of np.geomspace and friends) never changes
    a key: every float of every registered spec moved by up to 4 ulps, up, down or mixed."""
    rng = np.random.default_rng(0)
    for ulps in (lambda: 1, lambda: -1, lambda: 4, lambda: -4,
                 lambda: int(rng.integers(-4, 5))):
        moved = ExperimentSpec.from_dict(_nudged(spec.to_dict(), ulps))
        assert moved.key() == spec.key(), (name, profile)


def test_key_changes_with_a_relative_change_of_1e9():
    base = ExperimentSpec(n_features=5, n_hidden=2, feature_probability=[1.0, 0.1],
                          importance=[0.9 ** i for i in range(5)], data="sparse_uniform")
    d = base.to_dict()
    for path in (("lr",), ("eps",), ("weight_decay",), ("feature_probability", 1),
                 ("importance", 4), ("betas", 1), ("warmup_fraction",)):
        changed = json.loads(json.dumps(d))
        holder = changed
        for part in path[:-1]:
            holder = holder[part]
        holder[path[-1]] *= 1 + 1e-9
        assert ExperimentSpec.from_dict(changed).key() != base.key(), path


def test_numbers_of_any_python_or_numpy_type_hash_alike():
    plain = ExperimentSpec(n_features=5, n_hidden=2, feature_probability=[1.0, 0.5], lr=1.0,
                           weight_decay=0.0, steps=100, seed=3)
    numpy = ExperimentSpec(n_features=np.int64(5), n_hidden=np.int32(2),
                           feature_probability=np.array([1, 0.5]), lr=np.float64(1),
                           weight_decay=0, steps=np.int64(100), seed=np.uint8(3))
    assert numpy == plain and numpy.key() == plain.key()
    assert type(numpy.n_features) is int and type(numpy.lr) is float
    json.dumps(numpy.to_dict())  # no numpy scalar is left behind


def test_every_registered_paper_run_is_committed_and_loads():
    """A stale data/ fails here, not in a reader's render (which would otherwise retrain)."""
    from superposition_lib import experiments
    from superposition_lib.store import RunStore

    store = RunStore(Path(__file__).resolve().parents[1] / "data")
    for exp in experiments.list_experiments():
        spec = exp.spec("paper")
        assert spec in store, f"{exp.name}: no committed paper run {spec.key()} in data/"
        run = store.load(spec)
        assert run.W.shape[0] == spec.n_models, exp.name


def test_committed_manifests_round_trip_to_their_keys():
    """Every committed run's stored spec rebuilds a spec with the same key and dictionary (what
    the run store compares when it loads)."""
    runs = Path(__file__).resolve().parents[1] / "data" / "runs"
    manifests = sorted(runs.glob("*/manifest.json"))
    assert manifests
    for path in manifests:
        stored = json.loads(path.read_text())["spec"]
        spec = ExperimentSpec.from_dict(stored)
        assert spec.key() == path.parent.name
        assert spec.to_dict() == stored


def test_correlation_and_bump_width_fields():
    base = ExperimentSpec(n_features=6, n_hidden=2, data="correlated", set_size=3,
                          feature_probability=[0.5, 0.1])
    assert base.correlation == 1.0
    np.testing.assert_array_equal(base.correlation_array(), [1.0, 1.0])
    assert base.bump_width is None and base.bump_width_array() is None
    # the default is the paper's correlated set: an explicit 1.0 is the same spec and key
    assert base.replace(correlation=1.0) == base
    assert base.replace(correlation=1).key() == base.key()
    assert "correlation" not in base.to_dict()
    half = base.replace(correlation=0.5)
    assert half.key() != base.key() and half.to_dict()["correlation"] == 0.5
    per_instance = base.replace(correlation=np.array([0.0, 0.25]))
    assert per_instance.correlation == (0.0, 0.25)
    assert per_instance.key() not in (base.key(), half.key())
    for spec in (half, per_instance):
        again = ExperimentSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
        assert again == spec and again.key() == spec.key()
    ring = ExperimentSpec(n_features=8, n_hidden=2, data="equivariant", bump_width=2,
                          feature_probability=[0.3, 0.1])
    assert ring.bump_width == 2.0 and ring.correlation == 1.0
    np.testing.assert_array_equal(ring.bump_width_array(), [2.0, 2.0])
    assert ring.replace(bump_width=2.5).key() != ring.key()
    assert ExperimentSpec.from_dict(ring.to_dict()) == ring
    assert "correlation" not in ring.to_dict() and ring.to_dict()["bump_width"] == 2.0


def test_per_instance_correlation_and_bump_width_set_the_number_of_instances():
    sweep = ExperimentSpec(n_features=4, n_hidden=1, data="correlated", set_size=2,
                           feature_probability=0.2, correlation=[0.0, 0.5, 1.0], restarts=2)
    assert sweep.n_instances == 3 and sweep.n_models == 6
    assert sweep.feature_probability_array().shape == (3, 4)
    assert sweep.importance_array().shape == (3, 4)
    ring = ExperimentSpec(n_features=8, n_hidden=2, data="equivariant",
                          feature_probability=0.1, bump_width=[1, 2])
    assert ring.n_instances == 2 and ring.bump_width == (1.0, 2.0)
    with pytest.raises(ValueError, match="^correlation: a list needs one value per instance"):
        ExperimentSpec(n_features=4, data="correlated", set_size=2, feature_probability=0.2,
                       importance=[[1] * 4] * 2, correlation=[0.0, 0.5, 1.0])


def test_keys_are_the_same_with_numpys_wide_vector_paths_disabled():
    """The registered specs' floats differ in their last bits between numpy's AVX-512 and
    narrower code paths (np.geomspace); their keys do not. On a CPU without AVX-512 both
    processes take the same path and the test is a plain repeat."""
    import os
    import subprocess
    import sys

    script = ("import json; from superposition_lib import experiments as e; "
              "print(json.dumps({x.name: [x.spec(p).key() for p in e.PROFILES] "
              "for x in e.list_experiments()}))")
    keys = []
    for disabled in ("", "AVX512_ICL X86_V4"):
        env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": disabled}
        result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                                text=True, timeout=120, check=True)
        keys.append(json.loads(result.stdout.strip().splitlines()[-1]))
    assert keys[0] == keys[1]
