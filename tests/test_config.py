"""ExperimentSpec: validation with clear errors, normalisation and the cache key."""

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
