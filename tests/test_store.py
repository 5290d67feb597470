"""Tests of the run store: round trips, cache keys, corruption detection, atomicity, resume."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import warnings

import numpy as np
import pytest
import torch

from superposition_lib.core import config
from superposition_lib.core.config import ExperimentSpec
from superposition_lib.core.guards import DivergenceError, NonFiniteLossError
from superposition_lib.core.pipeline import load_or_train
from superposition_lib.core.reproduce import differences
from superposition_lib.core.run import Run
from superposition_lib.core.store import CorruptRunError, MissingRunError, RunStore, default_root
from superposition_lib.core.train import train

# Tiny specs: a few hundred steps on small batches (seconds in all on 2 shared cores).
SPEC = ExperimentSpec(n_features=5, n_hidden=2, feature_probability=[1.0, 0.3],
                      importance=[0.9 ** i for i in range(5)], steps=200, batch_size=128,
                      snapshot_every=50, name="tiny")
UNTIED = ExperimentSpec(model="absolute_value", n_features=4, n_hidden=3,
                        feature_probability=[1.0, 0.5], steps=60, batch_size=128,
                        snapshot_log=3)


@pytest.fixture(scope="module")
def run() -> Run:
    return train(SPEC, progress=False)


@pytest.fixture(scope="module")
def untied_run() -> Run:
    return train(UNTIED, progress=False)


@pytest.fixture
def store(tmp_path) -> RunStore:
    return RunStore(tmp_path / "store")


def on_disk(store: RunStore) -> list[str]:
    """What the store's runs directory holds, besides the lock files that stay there."""
    return sorted(p.name for p in store.runs_dir.iterdir() if p.name != ".locks")


def assert_same_run(a: Run, b: Run) -> None:
    assert a.spec == b.spec
    for f in dataclasses.fields(Run):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "snapshots":
            for g in dataclasses.fields(x):
                sx, sy = getattr(x, g.name), getattr(y, g.name)
                assert (sx is None) == (sy is None), g.name
                if sx is not None:
                    np.testing.assert_array_equal(sx, sy, err_msg=f"snapshots.{g.name}")
                    assert sx.dtype == sy.dtype, g.name
        elif isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=f.name)
            assert x.dtype == y.dtype, f.name
        elif f.name != "spec":
            assert x == y, f.name


def _manifest(store: RunStore, spec: ExperimentSpec) -> dict:
    return json.loads((store.path(spec) / "manifest.json").read_text())


def _write_manifest(store: RunStore, spec: ExperimentSpec, manifest: dict) -> None:
    (store.path(spec) / "manifest.json").write_text(json.dumps(manifest))


def _replace_arrays(store: RunStore, spec: ExperimentSpec, blob: bytes) -> None:
    """Overwrite arrays.npz and make the manifest checksum agree, to reach later checks."""
    (store.path(spec) / "arrays.npz").write_bytes(blob)
    manifest = _manifest(store, spec)
    manifest["files"]["arrays.npz"]["sha256"] = hashlib.sha256(blob).hexdigest()
    _write_manifest(store, spec, manifest)


# ------------------------------------------------------------------------------ round trips
def test_round_trip_preserves_every_array_and_the_spec(store, run):
    entry = store.save(run, device="cpu")
    assert entry == store.path(SPEC) and entry.name == SPEC.key()
    assert sorted(p.name for p in entry.iterdir()) == ["arrays.npz", "manifest.json"]
    assert run.snapshots.steps.tolist() == [0, 50, 100, 150, 200]
    loaded = store.load(SPEC)
    assert_same_run(run, loaded)
    assert loaded.spec is SPEC
    by_key = store.load_key(SPEC.key())
    assert_same_run(run, by_key)
    assert by_key.spec.name == "tiny"


def test_round_trip_untied_model_keeps_output_weights(store, untied_run):
    assert untied_run.W_out is not None and untied_run.snapshots.W_out is not None
    store.save(untied_run)
    assert_same_run(untied_run, store.load(UNTIED))


def test_manifest_records_provenance(store, run):
    store.save(run, device="cpu")
    m = _manifest(store, SPEC)
    assert m["format_version"] == config.FORMAT_VERSION
    assert m["key"] == SPEC.key()
    assert m["spec"] == SPEC.to_dict()
    assert m["torch_version"] == torch.__version__ and m["numpy_version"] == np.__version__
    assert m["library_version"] not in (None, "", "unknown")
    assert m["wall_time"] == run.wall_time > 0
    assert m["eval_samples"] == run.eval_samples
    assert m["loss"] == run.loss.tolist() and m["loss_se"] == run.loss_se.tolist()
    assert m["created"].endswith("+00:00") and m["device"] == "cpu"
    blob = (store.path(SPEC) / "arrays.npz").read_bytes()
    assert m["files"]["arrays.npz"]["sha256"] == hashlib.sha256(blob).hexdigest()
    assert store.entries() == [m]
    assert SPEC in store and SPEC.replace(seed=5) not in store


def test_name_is_not_part_of_the_entry(store, run):
    store.save(run)
    renamed = SPEC.replace(name="another label")
    assert renamed.key() == SPEC.key()
    assert store.load(renamed).spec.name == "another label"


def test_save_refuses_a_selection_of_models(store, run):
    with pytest.raises(ValueError, match="models"):
        store.save(run.select(np.array([1])))
    assert store.keys() == []


# ------------------------------------------------------------------------------ keys
def test_a_different_spec_gets_its_own_key_and_does_not_load(store, run):
    store.save(run)
    for other in (SPEC.replace(seed=1), SPEC.replace(lr=2e-3), SPEC.replace(steps=201)):
        assert other.key() != SPEC.key()
        with pytest.raises(MissingRunError):
            store.load(other)
    with pytest.raises(KeyError):  # MissingRunError is a KeyError
        store.load(SPEC.replace(seed=1))


def test_a_new_format_version_never_reuses_an_entry(store, run, monkeypatch):
    store.save(run)
    old_key = SPEC.key()
    monkeypatch.setattr(config, "FORMAT_VERSION", config.FORMAT_VERSION + 1)
    assert SPEC.key() != old_key  # the format version is part of every key
    with pytest.raises(MissingRunError):
        store.load(SPEC)
    with pytest.raises(CorruptRunError, match="format version"):
        store.load_key(old_key)


def test_format_version_mismatch_in_manifest_is_detected_and_retrained(store, run):
    store.save(run)
    manifest = _manifest(store, SPEC)
    manifest["format_version"] = config.FORMAT_VERSION + 1
    _write_manifest(store, SPEC, manifest)
    with pytest.raises(CorruptRunError, match="format version"):
        store.load(SPEC)
    steps = []
    with pytest.warns(UserWarning, match=f"{SPEC.key()}.*format version"):
        again = load_or_train(SPEC, store=store, progress=False, callback=steps.append)
    assert steps[-1] == SPEC.steps  # it retrained
    assert_same_run(run, dataclasses.replace(again, wall_time=run.wall_time))
    assert _manifest(store, SPEC)["format_version"] == config.FORMAT_VERSION
    store.load(SPEC)  # the entry was replaced by a valid one


# ------------------------------------------------------------------------------ corruption
def test_truncated_arrays_are_detected(store, run):
    store.save(run)
    path = store.path(SPEC) / "arrays.npz"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CorruptRunError, match="checksum"):
        store.load(SPEC)


def test_garbled_arrays_are_detected_even_with_a_matching_checksum(store, run):
    store.save(run)
    _replace_arrays(store, SPEC, b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(CorruptRunError, match="unreadable"):
        store.load(SPEC)


def test_arrays_inconsistent_with_the_spec_are_detected(store, run):
    store.save(run)
    with np.load(store.path(SPEC) / "arrays.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    for name, value in (("W", arrays["W"][:, :, :4]), ("history_loss", arrays["history_loss"][1:]),
                        ("W_out", arrays["W"])):
        changed = dict(arrays, **{name: value})
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **changed)
        _replace_arrays(store, SPEC, buffer.getvalue())
        with pytest.raises(CorruptRunError):
            store.load(SPEC)
    bad = dict(arrays, W=np.full_like(arrays["W"], np.nan))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **bad)
    _replace_arrays(store, SPEC, buffer.getvalue())
    with pytest.raises(CorruptRunError, match="non-finite"):
        store.load(SPEC)


def test_a_manifest_with_another_spec_is_detected(store, run):
    store.save(run)
    manifest = _manifest(store, SPEC)
    manifest["spec"]["lr"] = 0.5
    _write_manifest(store, SPEC, manifest)
    with pytest.raises(CorruptRunError, match="lr"):
        store.load(SPEC)
    with pytest.raises(CorruptRunError, match="hashes to"):
        store.load_key(SPEC.key())


@pytest.mark.parametrize("damage", ["missing", "garbage", "wrong key", "no spec"])
def test_a_broken_manifest_is_detected(store, run, damage):
    store.save(run)
    path = store.path(SPEC) / "manifest.json"
    if damage == "missing":
        path.unlink()
    elif damage == "garbage":
        path.write_text('{"format_version": 1, "key": ')
    else:
        manifest = _manifest(store, SPEC)
        if damage == "wrong key":
            manifest["key"] = "0" * 16
        else:
            del manifest["spec"]
        _write_manifest(store, SPEC, manifest)
    with pytest.raises(CorruptRunError):
        store.load(SPEC)
    with pytest.raises(ValueError):  # CorruptRunError is a ValueError
        store.load_key(SPEC.key())


def test_leftover_temporary_and_partial_directories_are_not_entries(store):
    key = SPEC.key()
    for name in (f".tmp-{key}-abc123", f"{key}.partial", f".trash-{key}-0000"):
        d = store.runs_dir / name
        d.mkdir(parents=True)
        (d / "manifest.json").write_text("{}")
        (d / "arrays.npz").write_bytes(b"")
    (store.runs_dir / f"{key}.partial" / "checkpoint.pt").write_bytes(b"partial")
    assert store.keys() == [] and store.entries() == []
    assert SPEC not in store
    with pytest.raises(MissingRunError):
        store.load(SPEC)
    with pytest.raises(MissingRunError):
        store.load_key(key)


def test_unknown_or_malformed_keys_are_missing(store):
    for key in ("0123456789abcdef", "nope", "../../etc"):
        with pytest.raises(MissingRunError):
            store.load_key(key)


# ------------------------------------------------------------------------------ atomicity
def test_a_crash_while_writing_leaves_no_entry(store, run, monkeypatch):
    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", crash)
    with pytest.raises(OSError, match="disk full"):
        store.save(run)
    assert store.keys() == []
    assert on_disk(store) == []  # the temporary directory was cleaned up
    with pytest.raises(MissingRunError):
        store.load(SPEC)


def test_a_crash_while_replacing_keeps_the_old_entry(store, run, monkeypatch):
    store.save(run)
    before = (store.path(SPEC) / "manifest.json").read_bytes()
    newer = dataclasses.replace(run, W=run.W + 1, wall_time=123.0)

    monkeypatch.setattr(np, "savez_compressed",
                        lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        store.save(newer)
    assert (store.path(SPEC) / "manifest.json").read_bytes() == before
    assert_same_run(run, store.load(SPEC))
    monkeypatch.undo()

    import superposition_lib.core.store as store_module
    real_rename = store_module.os.rename

    def rename(src, dst):  # moving the old entry aside works; moving the new one in fails
        if str(src).rsplit("/", 1)[-1].startswith(".tmp-"):
            raise OSError("power cut")
        return real_rename(src, dst)

    monkeypatch.setattr(store_module.os, "rename", rename)
    with pytest.raises(OSError, match="power cut"):
        store.save(newer)
    monkeypatch.undo()
    assert_same_run(run, store.load(SPEC))
    assert on_disk(store) == [SPEC.key()]

    store.save(newer)  # a successful replacement
    assert store.load(SPEC).wall_time == 123.0
    assert on_disk(store) == [SPEC.key()]


# ------------------------------------------------------------------------------ load_or_train
def test_load_or_train_trains_once_then_loads(store, run):
    steps = []
    first = load_or_train(SPEC, store=store, progress=False, callback=steps.append)
    assert steps == list(range(1, SPEC.steps + 1))
    assert_same_run(run, dataclasses.replace(first, wall_time=run.wall_time))
    assert not store.checkpoint_path(SPEC).parent.exists()
    steps.clear()
    second = load_or_train(SPEC, store=store, progress=False, callback=steps.append)
    assert steps == []
    assert_same_run(first, second)
    load_or_train(SPEC, store=store, progress=False, callback=steps.append, retrain=True)
    assert steps[-1] == SPEC.steps


def test_an_interrupted_run_resumes_and_matches_an_uninterrupted_one(store, run):
    def interrupt(step):
        if step == 120:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        load_or_train(SPEC, store=store, progress=False, callback=interrupt)
    assert store.checkpoint_path(SPEC).is_file()
    assert store.keys() == []
    steps = []
    resumed = load_or_train(SPEC, store=store, progress=False, callback=steps.append)
    assert steps[0] == 121 and steps[-1] == SPEC.steps  # resumed, not restarted
    np.testing.assert_array_equal(resumed.W, run.W)
    assert_same_run(run, dataclasses.replace(resumed, wall_time=run.wall_time))
    assert not store.checkpoint_path(SPEC).parent.exists()
    assert_same_run(resumed, store.load(SPEC))


def test_divergence_caches_nothing(store):
    spec = SPEC.replace(lr=1e30, steps=50, snapshot_every=None)
    with pytest.raises(NonFiniteLossError):
        load_or_train(spec, store=store, progress=False, checkpoint_every=0.0)
    assert store.keys() == []
    assert not store.checkpoint_path(spec).parent.exists()
    assert on_disk(store) == []


def test_remove_deletes_entry_and_checkpoint(store, run):
    store.save(run)
    store.checkpoint_path(SPEC).parent.mkdir()
    assert store.remove(SPEC) is True
    assert store.keys() == [] and on_disk(store) == []
    assert store.remove(SPEC) is False


def test_default_root(monkeypatch, tmp_path):
    monkeypatch.setenv("SUPERPOSITION_DATA", str(tmp_path))
    assert RunStore().root == tmp_path == default_root()
    monkeypatch.delenv("SUPERPOSITION_DATA")
    assert default_root().name == "data"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert RunStore(tmp_path / "empty").entries() == []


def test_a_concurrent_writer_of_the_same_run_is_tolerated(store, run, monkeypatch):
    import errno
    import shutil

    import superposition_lib.core.store as store_module
    real_rename = store_module.os.rename
    other = RunStore(store.root.parent / "other")
    other.save(run)

    def rename(src, dst):  # another process moves its complete entry in first
        if str(src).rsplit("/", 1)[-1].startswith(".tmp-"):
            shutil.copytree(other.path(SPEC), dst)
            raise OSError(errno.ENOTEMPTY, "Directory not empty")
        return real_rename(src, dst)

    monkeypatch.setattr(store_module.os, "rename", rename)
    assert store.save(run) == store.path(SPEC)
    monkeypatch.undo()
    assert on_disk(store) == [SPEC.key()]
    assert_same_run(run, store.load(SPEC))


# ------------------------------------------------------------------------------ key format
def _version1_key(spec: ExperimentSpec) -> str:
    """The key of format version 1: full-precision floats hashed as JSON."""
    payload = {k: v for k, v in spec.to_dict().items() if k != "name"}
    payload["format_version"] = 1
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def test_migrate_renames_version_1_entries_without_touching_their_arrays(store, run):
    entry = store.save(run)
    old = _version1_key(SPEC)
    manifest = _manifest(store, SPEC)
    manifest.update(format_version=1, key=old)
    _write_manifest(store, SPEC, manifest)
    blob = (entry / "arrays.npz").read_bytes()
    entry.rename(store.path(old))
    with pytest.raises(MissingRunError):
        store.load(SPEC)
    with pytest.raises(CorruptRunError, match="superposition migrate"):
        store.load_key(old)
    assert store.migrate() == [(old, SPEC.key())]
    assert store.keys() == [SPEC.key()]
    assert (store.path(SPEC) / "arrays.npz").read_bytes() == blob
    migrated = _manifest(store, SPEC)
    assert migrated["migrated_from"] == {"key": old, "format_version": 1}
    assert migrated["format_version"] == config.FORMAT_VERSION
    assert_same_run(run, store.load(SPEC))
    assert store.migrate() == []  # idempotent


def test_migrate_completes_an_interrupted_migration(store, run):
    """A crash after the manifest was rewritten but before the rename: the next call renames."""
    entry = store.save(run)
    entry.rename(store.path("0123456789abcdef"))
    assert store.migrate() == [("0123456789abcdef", SPEC.key())]
    store.load(SPEC)


def test_a_spec_whose_floats_differ_in_the_last_bits_loads_the_stored_run(store, run):
    """What another CPU's np.geomspace gives: the same key, and the stored spec matches."""
    store.save(run)
    p = [float(np.nextafter(v, 0)) for v in SPEC.feature_probability]
    other = SPEC.replace(feature_probability=p, importance=[float(np.nextafter(v, 2)) for v in
                                                            SPEC.importance])
    assert other != SPEC and other.key() == SPEC.key()
    np.testing.assert_array_equal(store.load(other).W, run.W)


def test_runs_made_with_other_numpy_or_torch_load_with_one_warning(store, run, monkeypatch):
    from superposition_lib.core import manifest as manifest_module

    store.save(run)
    manifest = _manifest(store, SPEC)
    manifest["numpy_version"] = "1.0.0"
    _write_manifest(store, SPEC, manifest)
    monkeypatch.setattr(manifest_module, "_versions_warned", set())
    with pytest.warns(manifest_module.VersionMismatchWarning, match="numpy 1.0.0"):
        store.load(SPEC)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store.load(SPEC)  # said once


# ------------------------------------------------------------------------------ reliability
_TRAIN_ONE = """
import sys
from superposition_lib.core.config import ExperimentSpec
from superposition_lib.core.store import RunStore
from superposition_lib.core.pipeline import load_or_train
spec = ExperimentSpec.from_dict(__import__("json").loads(sys.argv[2]))
run = load_or_train(spec, store=RunStore(sys.argv[1]), progress=False)
print(float(run.loss.sum()))
"""


def test_two_processes_training_one_spec_take_turns(store):
    """The second waits for the first and loads its entry; neither crashes, the entry loads."""
    import subprocess
    import sys

    spec = SPEC.replace(steps=3000, snapshot_every=None)
    blob = json.dumps(spec.to_dict())
    procs = [subprocess.Popen([sys.executable, "-c", _TRAIN_ONE, str(store.root), blob],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    assert outs[0][0] == outs[1][0]  # the same run
    assert store.keys() == [spec.key()]
    assert sorted(p.name for p in store.runs_dir.iterdir()) == [".locks", spec.key()]
    store.load(spec)


def test_two_processes_training_different_specs_both_finish(store):
    import subprocess
    import sys

    specs = [SPEC.replace(steps=1500, snapshot_every=None, seed=s) for s in (1, 2)]
    procs = [subprocess.Popen([sys.executable, "-c", _TRAIN_ONE, str(store.root),
                               json.dumps(spec.to_dict())], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for spec in specs]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    assert store.keys() == sorted(spec.key() for spec in specs)


#: Each run is only as long as still diverges with a wide margin (they checkpoint every step,
#: 2000 steps took 12 s each): the linear model's final loss is already 1e10 times the reference
#: after 50 steps (1e8 after 200), and importance 3e38 gives an infinite loss at any length; the
#: dead ReLU's weights only decay (by 0.9 a step, AdamW's weight decay at lr=10), below the
#: 1e-10 of "collapsed" from about 300 steps on, to 6e-19 after 500.
@pytest.mark.parametrize("changes,error,names", [
    (dict(model="linear", optimizer="adam", lr=1e3, steps=200), DivergenceError,
     "times its initial loss or that of predicting zero"),
    (dict(lr=10.0, steps=500), DivergenceError, "collapsed to zero"),
    (dict(importance=3e38, steps=200), NonFiniteLossError, "lower importance"),
], ids=["exploded-loss", "dead-relu", "overflowing-importance"])
def test_a_run_that_diverged_while_finite_is_not_cached(store, changes, error, names):
    """What was cached before: a linear model at lr=1e3 with loss 1e7, a ReLU model whose
    weights died at lr=10, and importances that overflow float32 (an empty .partial left)."""
    spec = SPEC.replace(batch_size=256, snapshot_every=None, **changes)
    with pytest.raises(error, match=names) as info:
        load_or_train(spec, store=store, progress=False, checkpoint_every=0.0)
    assert "nothing was cached" in str(info.value)
    assert store.keys() == []
    assert on_disk(store) == []


def test_any_failure_while_training_leaves_nothing_behind(store, monkeypatch):
    from superposition_lib.core import pipeline

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(pipeline, "train", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        load_or_train(SPEC, store=store, progress=False)
    assert on_disk(store) == []


def test_new_entries_follow_the_umask(store, run):
    import os
    import stat

    old = os.umask(0o022)
    try:
        entry = store.save(run)
    finally:
        os.umask(old)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o755
    assert stat.S_IMODE((entry / "manifest.json").stat().st_mode) == 0o644


def test_ad_hoc_runs_go_to_the_user_cache_not_the_book(monkeypatch, tmp_path):
    from superposition_lib.core.store import user_root

    monkeypatch.delenv("SUPERPOSITION_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert user_root() == tmp_path / "cache" / "superposition"
    assert default_root() != user_root()
    spec = SPEC.replace(steps=20, snapshot_every=None)
    load_or_train(spec, progress=False)
    assert RunStore(user_root()).keys() == [spec.key()]
    assert spec not in RunStore()  # the book's data/ is untouched
    monkeypatch.setenv("SUPERPOSITION_DATA", str(tmp_path / "both"))
    assert user_root() == default_root() == tmp_path / "both"


def test_compact_snapshots_keep_dimensionality_and_norms_instead_of_weights(store):
    """snapshot_weights=False stores D_i and ‖W_i‖ per snapshot: the values the weights give."""
    from superposition_lib.core import metrics

    full = ExperimentSpec(n_features=12, n_hidden=3, feature_probability=[1.0, 0.1],
                          steps=60, batch_size=64, snapshot_log=6)
    compact = full.replace(snapshot_weights=False)
    assert full.key() != compact.key() and "snapshot_weights" not in full.to_dict()
    weights, run = train(full, progress=False), train(compact, progress=False)
    np.testing.assert_array_equal(run.W, weights.W)  # the same training
    S = run.snapshots
    assert S.W is None and S.b is None and S.D.shape == (len(S.steps), 2, 12)
    np.testing.assert_allclose(S.D, metrics.feature_dimensionality(weights.snapshots.W),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(S.feature_norms(), weights.snapshots.feature_norms(), rtol=1e-6)
    store.save(run)
    back = store.load(compact)
    np.testing.assert_array_equal(back.snapshots.D, S.D)
    np.testing.assert_array_equal(back.snapshots.norms, S.norms)
    assert back.snapshots.W is None
    with pytest.raises(ValueError, match="snapshot_weights: must be True or False"):
        full.replace(snapshot_weights="no")


# ------------------------------------------------------------------------------ numerics
def test_manifest_records_the_numerics_that_computed_the_run(store, run, untied_run):
    from superposition_lib.core.kernels import backend

    store.save(run)
    store.save(untied_run)
    fused, general = _manifest(store, SPEC)["numerics"], _manifest(store, UNTIED)["numerics"]
    assert fused["version"] == general["version"] == config.NUMERICS_VERSION
    assert general["step"] == "general" and general["device"] == "cpu"
    assert fused["step"] == ("fused" if backend() == "c" else "general")
    assert fused["random_stream"] == backend()
    assert fused["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()


@pytest.mark.parametrize("version", [None, config.NUMERICS_VERSION - 1])
def test_a_stale_entry_is_never_loaded_as_current(store, run, version):
    from superposition_lib.core.store import StaleRunError

    store.save(run)
    manifest = _manifest(store, SPEC)
    if version is None:
        del manifest["numerics"]  # written before numerics versions
    else:
        manifest["numerics"]["version"] = version
    _write_manifest(store, SPEC, manifest)
    with pytest.raises(StaleRunError, match="stale.*superposition verify"):
        store.load(SPEC)
    with pytest.raises(StaleRunError):
        store.load_key(SPEC.key())
    assert_same_run(run, store.load(SPEC, allow_stale=True))
    with pytest.warns(UserWarning, match="stale"):
        retrained = load_or_train(SPEC, store=store, progress=False)
    assert _manifest(store, SPEC)["numerics"]["version"] == config.NUMERICS_VERSION
    assert differences(run, retrained) == {}


def test_record_numerics_keeps_the_arrays_and_the_earlier_record(store, run):
    from superposition_lib.core.manifest import numerics_record

    entry = store.save(run)
    blob = (entry / "arrays.npz").read_bytes()
    manifest = _manifest(store, SPEC)
    manifest["numerics"]["version"] = 0
    _write_manifest(store, SPEC, manifest)
    with pytest.raises(ValueError, match="version must be"):
        store.record_numerics(SPEC.key(), {"version": 0})
    store.record_numerics(SPEC.key(), numerics_record(SPEC))
    assert _manifest(store, SPEC)["numerics_before"]["version"] == 0
    assert (entry / "arrays.npz").read_bytes() == blob
    assert_same_run(run, store.load(SPEC))


# ------------------------------------------------------------------------------ hygiene
@pytest.mark.parametrize("field, value", [("wall_time", "x"), ("eval_samples", 1.5),
                                          ("created", 3), ("loss", "0.1"), ("loss", ["a"]),
                                          ("files", []), ("numerics", "1"),
                                          ("n_models", True)])
def test_a_manifest_field_of_the_wrong_type_is_corruption(store, run, field, value):
    store.save(run)
    manifest = _manifest(store, SPEC)
    manifest[field] = value
    _write_manifest(store, SPEC, manifest)
    with pytest.raises(CorruptRunError, match=repr(field)):
        store.load(SPEC)
    with pytest.warns(UserWarning, match=repr(field)):
        assert store.entries() == []
    with pytest.warns(UserWarning, match="retrained"):
        assert differences(run, load_or_train(SPEC, store=store, progress=False)) == {}


def test_a_key_named_directory_without_a_manifest_is_not_an_entry(store, run):
    store.save(run)
    (store.runs_dir / ("0" * 16)).mkdir()
    assert store.keys() == [SPEC.key()]
    assert store.migrate() == []  # the empty directory does not stop the migration


def test_migrate_moves_a_misnamed_entry_and_rewrites_its_key(store, run):
    entry = store.save(run)
    manifest = _manifest(store, SPEC)
    manifest["key"] = "0123456789abcdef"
    _write_manifest(store, SPEC, manifest)
    entry.rename(store.path("0123456789abcdef"))
    with pytest.raises(MissingRunError):
        store.load(SPEC)
    assert store.migrate() == [("0123456789abcdef", SPEC.key())]
    assert _manifest(store, SPEC)["key"] == SPEC.key()
    assert_same_run(run, store.load(SPEC))


def test_what_a_killed_save_left_is_cleared_by_the_next_save(store, run):
    key = SPEC.key()
    store.save(run)
    tmp = store.runs_dir / f".tmp-{key}-killed"  # killed while writing
    tmp.mkdir()
    (tmp / "arrays.npz").write_bytes(b"half")
    store.save(run)
    assert on_disk(store) == [key]
    # Killed between moving the old entry aside and moving the new one in: it is put back.
    store.path(SPEC).rename(store.runs_dir / f".trash-{key}-0000")
    assert store.keys() == []
    with store.lock(SPEC):
        pass
    assert on_disk(store) == [key]
    assert_same_run(run, store.load(SPEC))


def test_a_full_disk_is_one_clear_error_and_stores_nothing(store, run, monkeypatch):
    import errno

    from superposition_lib.core.store import StoreWriteError

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", full)
    with pytest.raises(StoreWriteError) as info:
        store.save(run)
    assert info.value.errno == errno.ENOSPC
    assert str(info.value) == (f"cannot store run {SPEC.key()} in {store.runs_dir}: No space "
                               f"left on device; nothing was stored")
    assert on_disk(store) == []


def test_a_failure_after_training_keeps_the_training(store, run, monkeypatch, capsys):
    import errno

    from superposition_lib.core import store as store_module

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", full)
    with pytest.raises(store_module.StoreWriteError):
        load_or_train(SPEC, store=store, progress=False)
    assert "kept in its checkpoint" in capsys.readouterr().err
    assert store.checkpoint_path(SPEC).is_file()
    monkeypatch.undo()
    steps = []
    resumed = load_or_train(SPEC, store=store, progress=False, callback=steps.append)
    assert steps == []  # evaluated and stored without training again
    assert differences(run, resumed) == {}


def test_a_process_waiting_for_the_lock_says_so(store, capsys):
    import threading

    waited = threading.Event()

    def wait() -> None:
        with store.lock(SPEC):
            waited.set()

    with store.lock(SPEC):
        worker = threading.Thread(target=wait)
        worker.start()
        worker.join(0.5)
        assert not waited.is_set()
        assert "waiting for another process that trains tiny" in capsys.readouterr().err
    worker.join(5)
    assert waited.is_set()
