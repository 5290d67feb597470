"""Regeneration: stored runs (committed ones included) retrained and compared bit for bit."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from superposition_lib.core import config
from superposition_lib.core.config import ExperimentSpec
from superposition_lib.core.manifest import numerics_record
from superposition_lib.core.reproduce import early_differences, verify
from superposition_lib.core.store import RunStore, default_root
from superposition_lib.core.train import train

SPEC = ExperimentSpec(n_features=5, n_hidden=2, feature_probability=[1.0, 0.3], steps=100,
                      batch_size=64, name="tiny")
COMMITTED = RunStore(default_root())


def _manifest(store: RunStore, key: str) -> dict:
    return json.loads((store.path(key) / "manifest.json").read_text())


def _set_numerics_version(store: RunStore, key: str, version: int) -> None:
    manifest = _manifest(store, key)
    manifest["numerics"]["version"] = version
    (store.path(key) / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture
def store(tmp_path) -> RunStore:
    return RunStore(tmp_path)


def test_a_stale_entry_that_reproduces_is_marked_current_untouched(store):
    entry = store.save(train(SPEC, progress=False))
    blob = (entry / "arrays.npz").read_bytes()
    _set_numerics_version(store, SPEC.key(), config.NUMERICS_VERSION - 1)
    [result] = verify(store)
    assert (result.outcome, result.stale, result.identical) == ("marked current", True, True)
    assert _manifest(store, SPEC.key())["numerics"]["version"] == config.NUMERICS_VERSION
    assert (entry / "arrays.npz").read_bytes() == blob
    store.load(SPEC)  # no longer stale
    [again] = verify(store)
    assert (again.outcome, again.stale) == ("reproduced", False)


@pytest.mark.parametrize("replace", [False, True])
def test_an_entry_whose_bits_do_not_come_back_is_reported_or_replaced(store, replace):
    run = train(SPEC, progress=False)
    store.save(dataclasses.replace(run, W=run.W * 2))  # what older code might have computed
    _set_numerics_version(store, SPEC.key(), config.NUMERICS_VERSION - 1)
    [result] = verify(store, [SPEC.key()], replace=replace)
    assert result.outcome == ("replaced" if replace else "differs")
    assert set(result.differences) == {"W"} and result.differences["W"] > 0
    if replace:
        assert (store.load(SPEC).W == run.W).all()
    else:
        assert _manifest(store, SPEC.key())["numerics"]["version"] != config.NUMERICS_VERSION


def test_every_committed_run_is_current():
    """No committed run may be stale: one computed by other training arithmetic than this
    library's is regenerated (``superposition verify --replace``) before it lands."""
    stale = {key: _manifest(COMMITTED, key).get("numerics", {}).get("version")
             for key in COMMITTED.keys()}
    stale = {key: v for key, v in stale.items() if v != config.NUMERICS_VERSION}
    assert COMMITTED.keys() and not stale, stale


def _cheapest_committed(step: str) -> str:
    """The committed run of a numerics path ("fused" or "general") that trained fastest."""
    manifests = [_manifest(COMMITTED, key) for key in COMMITTED.keys()]
    return min((m for m in manifests if m.get("numerics", {}).get("step") == step),
               key=lambda m: m["wall_time"])["key"]


@pytest.mark.parametrize("step", ["fused", "general"])
def test_the_fastest_committed_runs_regenerate_bit_for_bit(step):
    """A sample of ``data/`` that trains in seconds, one run per numerics path, retrained here
    and compared in every array. The fused C step gives the same bits on every x86-64
    instruction set; the general step's matrix products were checked to agree between AVX-512
    and AVX2 (not on a CPU with neither)."""
    key = _cheapest_committed(step)
    stored = COMMITTED.load_key(key)
    here = numerics_record(stored.spec)
    if here["step"] != step:
        pytest.skip(f"this machine trains {stored.spec.name} on the {here['step']} step "
                    f"(no C compiler?), not the {step} step that made it")
    if step == "general" and torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"):
        pytest.skip("the general step's bits were checked on AVX2 and AVX-512 CPUs only")
    [result] = verify(COMMITTED, [key])  # writes nothing for a current run that reproduces
    assert (result.outcome, result.differences) == ("reproduced", {}), stored.spec.name


def test_the_first_steps_of_a_stale_entry_settle_it_with_a_note(store):
    spec = SPEC.replace(steps=200, history_every=20)
    run = train(spec, progress=False)
    store.save(run)
    _set_numerics_version(store, spec.key(), config.NUMERICS_VERSION - 1)
    [result] = verify(store, first_steps=60)
    assert (result.outcome, result.differences) == ("first steps reproduced", {})
    record = _manifest(store, spec.key())["numerics"]
    assert record["version"] == config.NUMERICS_VERSION
    assert "only the first 60 of 200 steps were retrained" in record["checked"]
    assert list(verify(store, first_steps=60)) == []  # current entries are skipped
    [full] = verify(store)  # the whole run retrained: the note goes
    assert full.outcome == "reproduced"
    assert "checked" not in _manifest(store, spec.key())["numerics"]


def test_first_steps_that_differ_leave_the_entry_stale(store):
    spec = SPEC.replace(steps=200, history_every=20)
    run = train(spec, progress=False)
    history = run.history_loss.copy()
    history[1, 0] = np.nextafter(history[1, 0], 1.0)  # one bit of the loss at step 40
    store.save(dataclasses.replace(run, history_loss=history))
    _set_numerics_version(store, spec.key(), config.NUMERICS_VERSION - 1)
    [result] = verify(store, first_steps=60)
    assert result.outcome == "first steps differ" and set(result.differences) == {"history_loss"}
    assert _manifest(store, spec.key())["numerics"]["version"] != config.NUMERICS_VERSION
    with pytest.raises(ValueError, match="no training loss is recorded in the first 10 steps"):
        early_differences(store.load(spec, allow_stale=True), 10)
