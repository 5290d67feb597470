"""ExperimentSpec: validation with clear errors, normalisation and the cache key."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from superposition_lib.core.config import FORMAT_VERSION, ExperimentSpec
from superposition_lib.core.fields import (
    FLOAT32_RANGE,
    INITS,
    LR_SCHEDULES,
    MIN_FEATURE_PROBABILITY,
    MODELS,
    OPTIMIZERS,
    QUIET_LR,
    DegenerateSpecWarning,
)

#: What every error about a probability says it allows.
PROBABILITIES = "[2**-24 ≈ 6e-08, 1]"


@pytest.mark.parametrize("changes,field,allowed", [
    ({"model": "mlp"}, "model", "relu_output"),
    ({"n_features": -3}, "n_features", ">= 1"),
    ({"n_hidden": 0}, "n_hidden", ">= 1"),
    ({"n_features": 2.5}, "n_features", "integer"),
    ({"feature_probability": [0.5, 0.0]}, "feature_probability", PROBABILITIES),
    ({"feature_probability": [1.5]}, "feature_probability", PROBABILITIES),
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
    # odd input: strings, bools, None, ragged or deep or empty lists, non-finite numbers
    ({"feature_probability": "0.5"}, "feature_probability", "got '0.5'"),
    ({"feature_probability": ["0.5"]}, "feature_probability", "got '0.5' in ['0.5']"),
    ({"feature_probability": True}, "feature_probability", PROBABILITIES),
    ({"feature_probability": [True, 0.5]}, "feature_probability", "got True in"),
    ({"feature_probability": np.array([True, False])}, "feature_probability", "got True in"),
    ({"feature_probability": None}, "feature_probability", "got None"),
    ({"feature_probability": [[0.5] * 5, [0.1]]}, "feature_probability", "ragged list"),
    ({"feature_probability": [0.5, [0.5] * 5]}, "feature_probability", "ragged list"),
    ({"feature_probability": [[[0.5] * 5]]}, "feature_probability", "nested more than 2 deep"),
    ({"feature_probability": []}, "feature_probability", "an empty list"),
    ({"feature_probability": [[]]}, "feature_probability", "an empty list"),
    ({"feature_probability": [0.5, float("nan")]}, "feature_probability", "got nan in"),
    ({"feature_probability": np.float64("inf")}, "feature_probability", PROBABILITIES),
    ({"importance": [[1, 2], [1]]}, "importance", "ragged list"),
    ({"importance": ["1"] * 5}, "importance", "got '1' in"),
    ({"importance": np.array(["1"] * 5)}, "importance", ">= 0"),
    ({"importance": [1, 1, 1, 1, True]}, "importance", "got True in"),
    ({"importance": []}, "importance", "an empty list"),
    ({"importance": float("inf")}, "importance", ">= 0"),
    ({"importance": np.float32(-1)}, "importance", ">= 0"),
    ({"data": "correlated", "set_size": 5, "correlation": [0.5, "1"]}, "correlation",
     "got '1' in"),
    ({"data": "correlated", "set_size": 5, "correlation": True}, "correlation", "in [0, 1]"),
    ({"data": "correlated", "set_size": 5, "correlation": None}, "correlation", "got None"),
    ({"data": "correlated", "set_size": 5, "correlation": float("nan")}, "correlation",
     "in [0, 1]"),
    ({"data": "equivariant", "bump_width": "2"}, "bump_width", "> 0"),
    ({"data": "equivariant", "bump_width": []}, "bump_width", "an empty list"),
    ({"data": "equivariant", "bump_width": [True, 2.0]}, "bump_width", "got True in"),
    ({"model": 3}, "model", "got 3; allowed values are linear"),
    ({"model": None}, "model", "got None; allowed values are linear"),
    ({"model": np.array(["linear"])}, "model", "allowed values are linear"),
    ({"data": 3}, "data", "allowed values are sparse_uniform"),
    ({"lr_schedule": None}, "lr_schedule", "allowed values are constant"),
    ({"optimizer": ["adam"]}, "optimizer", "got ['adam']; allowed values are adamw"),
    ({"init": 1.0}, "init", "allowed values are xavier"),
    ({"name": 3}, "name", "must be a string; got 3"),
    ({"name": None}, "name", "must be a string"),
    ({"betas": 0.9}, "betas", "two numbers in [0, 1); got 0.9"),
    ({"betas": "ab"}, "betas", "two numbers in [0, 1); got 'ab'"),
    ({"betas": (0.9, 0.99, 0.999)}, "betas", "two numbers in [0, 1)"),
    ({"betas": ("0.9", "0.99")}, "betas", "got '0.9' in"),
    ({"betas": (True, 0.9)}, "betas", "got True in"),
    ({"betas": (0.9, float("nan"))}, "betas", "got nan in"),
    ({"betas": [[0.9, 0.99]]}, "betas", "nested more than 1 deep"),
    ({"betas": None}, "betas", "two numbers in [0, 1)"),
    ({"warmup_fraction": "x"}, "warmup_fraction", "a number in [0, 1); got 'x'"),
    ({"warmup_fraction": 1.0}, "warmup_fraction", "[0, 1)"),
    ({"data": "correlated", "set_size": True}, "set_size", "got True; must be an integer >= 2"),
    ({"set_size": True}, "set_size", "only used"),
    ({"snapshot_log": 2.0}, "snapshot_log", "got 2.0; must be an integer >= 1 or None"),
    ({"snapshot_every": "x", "snapshot_log": 3}, "snapshot_every", "integer >= 1 or None"),
    ({"eval_samples": True}, "eval_samples", "integer >= 1 or None"),
    ({"history_every": np.int64(0)}, "history_every", "integer >= 1 or None"),
    ({"weight_decay": float("inf")}, "weight_decay",
     "a finite number >= 0 (0 or in float32's range [1.2e-38, 3.4e+38]); got inf"),
    ({"weight_decay": np.float32("nan")}, "weight_decay", "finite"),
    ({"eps": 0}, "eps", "(Adam divides by it in float32); got 0"),
    ({"lr": "1e-3"}, "lr", ("a positive finite number in float32's range [1.2e-38, 3.4e+38] "
                            "(training's precision: a smaller lr is 0 or subnormal there, and "
                            "no weight would change); got '1e-3'")),
    ({"lr": np.bool_(True)}, "lr", "positive finite number"),
    ({"lr": None}, "lr", "; got None"),
    ({"lr": 10 ** 400}, "lr", "positive finite number"),
    ({"n_features": "5"}, "n_features", "got '5'; must be an integer >= 1"),
    ({"n_hidden": True}, "n_hidden", "integer >= 1"),
    ({"steps": np.float64(5)}, "steps", "integer >= 1"),
    ({"batch_size": None}, "batch_size", "integer >= 1"),
    ({"seed": -1}, "seed", "integer >= 0"),
    ({"seed": np.bool_(False)}, "seed", "integer >= 0"),
    ({"restarts": float("nan")}, "restarts", "integer >= 1"),
    # values that training, which reads them in float32, would see as inf or 0
    ({"importance": 1e300}, "importance", "float32's range [1.2e-38, 3.4e+38]), a list"),
    ({"importance": [1, 1, 1, 1, np.float64(3.5e38)]}, "importance",
     "got np.float64(3.5e+38) in"),
    ({"importance": [1, 1, 1, 1, 1e-40]}, "importance", "(0 or in float32's range"),
    ({"feature_probability": 1e-300}, "feature_probability", PROBABILITIES),
    ({"feature_probability": [0.5, 5e-8]}, "feature_probability", "24-bit resolution"),
    ({"lr": 1e-300}, "lr", "no weight would change); got 1e-300"),
    ({"lr": 1e-39}, "lr", "float32's range [1.2e-38, 3.4e+38]"),
    ({"lr": 1e39}, "lr", "float32's range [1.2e-38, 3.4e+38]"),
    ({"eps": 1e-300}, "eps", "float32's range [1.2e-38, 3.4e+38]"),
    ({"weight_decay": 1e-300}, "weight_decay", "(0 or in float32's range"),
    ({"init_scale": 1e-300}, "init_scale", "a number > 0 (in float32's range"),
    ({"init_scale": 1e300}, "init_scale", "float32's range"),
    ({"data": "equivariant", "bump_width": 1e-300}, "bump_width", "float32's range"),
    ({"data": "correlated", "set_size": 5, "correlation": 1e-300}, "correlation",
     "(0 or at least float32's smallest normal 1.2e-38)"),
    ({"attack": "random", "attack_norm": 1e300}, "attack_norm", "(0 or in float32's range"),
    # specs that can never train
    ({"importance": 0}, "importance", ("all 0 for instance 0 (of 2): its loss is 0 whatever "
                                       "the model, so there is nothing to learn; give every "
                                       "instance at least one importance > 0")),
    ({"importance": [[1] * 5, [0] * 5]}, "importance", "all 0 for instance 1 (of 2)"),
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
    monkeypatch.setattr("superposition_lib.core.config.FORMAT_VERSION", FORMAT_VERSION + 1)
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


_POSITIVE = st.floats(FLOAT32_RANGE[0], 1e3)  # in float32: neither 0 nor subnormal
_IMPORTANCE = st.just(0.0) | _POSITIVE
_UNIT = st.floats(0, 1, exclude_max=True)


@st.composite
def _valid_fields(draw, quiet: bool = True):
    """Keyword arguments of a valid spec, as plain Python numbers, lists and strings; with
    ``quiet``, one that does not warn (DegenerateSpecWarning)."""
    n, instances = draw(st.integers(1, 6)), draw(st.integers(1, 3))
    steps, batch_size = draw(st.integers(1, 10**6)), draw(st.integers(1, 4096))
    # quiet: every feature expected in at least one of the steps × batch_size samples
    probability = st.floats(max(MIN_FEATURE_PROBABILITY, min(1.0, 2 / (steps * batch_size)))
                            if quiet else MIN_FEATURE_PROBABILITY, 1)
    row = st.lists(_IMPORTANCE, min_size=n, max_size=n).filter(any)
    snapshot = draw(st.sampled_from(["snapshot_every", "snapshot_log", None]))
    fields = dict(
        model=draw(st.sampled_from(MODELS[:3])), n_features=n, n_hidden=draw(st.integers(1, 6)),
        feature_probability=draw(
            probability | st.lists(probability, min_size=instances, max_size=instances)
            | st.lists(st.lists(probability, min_size=n, max_size=n), min_size=instances,
                       max_size=instances)),
        importance=draw(_POSITIVE | row | st.lists(row, min_size=instances, max_size=instances)),
        steps=steps, batch_size=batch_size,
        restarts=draw(st.integers(1, 8)), seed=draw(st.integers(0, 2**31 - 1)),
        lr=draw(st.floats(QUIET_LR if quiet else FLOAT32_RANGE[0], 1e3)), eps=draw(_POSITIVE),
        weight_decay=draw(_IMPORTANCE),
        betas=draw(st.tuples(_UNIT, _UNIT)), warmup_fraction=draw(_UNIT),
        lr_schedule=draw(st.sampled_from(LR_SCHEDULES)),
        optimizer=draw(st.sampled_from(OPTIMIZERS)), init=draw(st.sampled_from(INITS)),
        history_every=draw(st.none() | st.integers(1, 100)), name=draw(st.text(max_size=3)))
    if snapshot:
        fields[snapshot] = draw(st.integers(1, 100))
    return fields


def _numpy_form(value, draw):
    """``value`` with each number as an equal numpy scalar (float32 only where exact) or kept,
    and each list as a numpy array or kept."""
    if isinstance(value, (list, tuple)):
        if draw(st.booleans()):
            return np.array(value)
        return type(value)(_numpy_form(v, draw) for v in value)
    if isinstance(value, int):
        return draw(st.sampled_from([value, np.int64(value)]))
    if isinstance(value, float):
        exact = [np.float32(value)] if float(np.float32(value)) == value else []
        return draw(st.sampled_from([value, np.float64(value), *exact]))
    return value


@settings(max_examples=100, deadline=None)
@given(fields=_valid_fields(), data=st.data())
def test_numpy_scalars_and_arrays_make_the_same_spec_and_key(fields, data):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateSpecWarning)  # a valid, quiet spec
        spec = ExperimentSpec(**fields)
    odd = ExperimentSpec(**{k: _numpy_form(v, data.draw) for k, v in fields.items()})
    assert odd == spec and odd.key() == spec.key() and odd.to_dict() == spec.to_dict()
    assert repr(odd) == repr(spec)  # Python ints and floats only: no np.float64(...) left
    again = ExperimentSpec.from_dict(json.loads(json.dumps(odd.to_dict())))
    assert again == spec and again.key() == spec.key()


def _bad_values(n):
    """Per field, values that make any spec with ``n_features=n`` (and default data) invalid."""
    strings = ["nope", 3, None, True, ["linear"]]
    ints = ["5", True, None, 2.5, np.float64(3), -1, float("nan"), float("inf")]
    optional_ints = ["5", True, 0, 2.0, np.int64(-3), float("nan")]
    numbers = ["0.1", True, np.bool_(False), None, float("nan"), float("inf"), -1.0, 10 ** 400]
    float32 = [*numbers, 1e-300, 1e-39, 1e39]  # 0, subnormal or inf where training reads them
    return {
        **dict.fromkeys(["model", "lr_schedule", "optimizer", "init"], strings),
        "data": ["gaussian", 3, True, ["correlated"]],
        "name": [3, None, b"x", ["a"]],
        **dict.fromkeys(["n_features", "n_hidden", "steps", "batch_size", "restarts"], ints),
        "seed": ["0", True, None, -1, 1.5, np.float32(2)],
        **dict.fromkeys(["snapshot_every", "snapshot_log", "history_every", "eval_samples"],
                        optional_ints),
        **dict.fromkeys(["lr", "eps", "weight_decay"], float32),
        "warmup_fraction": [*numbers, 1.0],
        "betas": [0.9, "ab", (0.9,), (0.9, 0.9, 0.9), ("0.9", "0.99"), (True, 0.9),
                  (0.9, float("nan")), (0.9, 1.0), [[0.9, 0.99]], None],
        "feature_probability": ["0.5", ["0.5"], True, [True], None, [], [[]], float("nan"),
                                [float("inf")], [-0.1], [0.0], [1.5], [[0.5] * n, [0.5] * (n + 1)],
                                [0.5, [0.5] * n], [[[0.5] * n]], np.array(["0.5"]), 1e-300,
                                [5e-8]],
        "importance": ["1", [True] * n, None, [], [[1.0] * n, [1.0] * (n + 1)], float("nan"),
                       -1, [-1.0] * n, [[[1.0] * n]], [1.0] * (n + 1), np.ones(n, dtype=bool),
                       0, [0.0] * n, 1e300, [1e-40] * n],
        "correlation": ["x", True, None, float("nan"), 1.5, [0.5, "1"], [[0.5]], 1e-300],
        "bump_width": ["x", True, float("nan"), 0.0, [[1.0]], 1e-300],
        "set_size": [True, "2", 2.5, 1],
    }


@settings(max_examples=150, deadline=None)
@given(fields=_valid_fields(), data=st.data())
def test_one_bad_field_is_named_in_the_error(fields, data):
    bad = _bad_values(fields["n_features"])
    name = data.draw(st.sampled_from(sorted(bad)))
    value = data.draw(st.sampled_from(bad[name]))
    with pytest.raises(ValueError) as info:
        ExperimentSpec(**{**fields, name: value})
    assert str(info.value).startswith(name + ":"), (name, value, str(info.value))


@settings(max_examples=150, deadline=None)
@given(fields=_valid_fields(quiet=False))
def test_a_valid_spec_warns_exactly_when_it_can_hardly_learn(fields):
    """lr below float32's resolution at 1, or a feature expected in less than one training
    sample, warns once per cause, naming the field; every other valid spec is quiet."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = ExperimentSpec(**fields)
    named = [str(w.message).split(":")[0] for w in caught
             if issubclass(w.category, DegenerateSpecWarning)]
    least = float(spec.feature_probability_array().min())
    expected = ["lr"] * (spec.lr < QUIET_LR) + ["feature_probability"] * (
        least * spec.steps * spec.batch_size < 1)
    assert named == expected, [str(w.message) for w in caught]
    # what training reads in float32 is finite there, and not 0 where it is not
    for value in (spec.lr, spec.eps, spec.weight_decay, *spec.importance_array().flat,
                  *spec.feature_probability_array().flat):
        assert np.isfinite(np.float32(value)) and (np.float32(value) > 0) == (value > 0)


@pytest.mark.parametrize("changes,field,shown", [
    ({"lr": 1e-9}, "lr", "lr: 1e-09 is below 2**-24 ≈ 6e-08"),
    ({"feature_probability": 1e-5, "steps": 100, "batch_size": 64}, "feature_probability",
     "feature_probability: 1e-05 makes a feature non-zero in about 0.064 of the 6,400 samples"),
])
def test_degenerate_specs_warn_at_the_caller_naming_the_field(changes, field, shown):
    with pytest.warns(DegenerateSpecWarning, match=r"^" + field + ":") as caught:
        ExperimentSpec(**changes)
    assert len(caught) == 1 and str(caught[0].message).startswith(shown)
    assert caught[0].filename == __file__  # where the spec was made, not inside config.py


def test_no_registered_experiment_is_refused_or_warned_about():
    """The float32 ranges and degenerate-spec checks leave every registered spec as it was."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateSpecWarning)
        registered = _registered_specs()
        for name, profile, spec in registered:
            assert ExperimentSpec.from_dict(spec.to_dict()) == spec, (name, profile)
    assert registered


def test_every_registered_paper_run_is_committed_and_loads():
    """A stale data/ fails here, not in a reader's render (which would otherwise retrain)."""
    from superposition_lib import experiments
    from superposition_lib.core.data import FeatureDistribution
    from superposition_lib.core.guards import check_converged
    from superposition_lib.core.store import RunStore

    store = RunStore(Path(__file__).resolve().parents[1] / "data")
    for exp in experiments.book_experiments():
        spec = exp.spec("paper")
        assert spec in store, f"{exp.name}: no committed paper run {spec.key()} in data/"
        run = store.load(spec)
        assert run.W.shape[0] == spec.n_models, exp.name
        # none would be refused as diverged, even against the stricter of the two references
        importance = np.repeat(spec.importance_array(), spec.restarts, axis=0)
        second = FeatureDistribution.from_spec(spec).target_second_moment().numpy()
        check_converged(spec, run.loss, {"W": run.W, "W_out": run.W_out},
                        (importance * second).mean(-1))


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
