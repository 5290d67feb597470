"""Training on Dask: a two-worker local cluster gives the serial runs bit for bit, survives a
worker that dies, and the command line drives it."""

from __future__ import annotations

import dataclasses
import os
import signal
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")

from superposition_lib import experiments  # noqa: E402
from superposition_lib.core.cluster import _train_task, alignment, blocks_of, connect, train_many  # noqa: E402
from superposition_lib.core.config import ExperimentSpec  # noqa: E402
from superposition_lib.core.pipeline import load_or_train  # noqa: E402
from superposition_lib.core.store import RunStore  # noqa: E402
from superposition_lib.core.train import finish, separable, train, train_block  # noqa: E402

NAMES = ("intro-relu", "basic-linear", "corr-pairs")
#: About five seconds of training on one thread: long enough to kill its worker mid-task.
SLOW = ExperimentSpec(n_features=20, n_hidden=5, feature_probability=[0.3, 0.1, 0.03],
                      steps=12_000, batch_size=512, name="slow")


@pytest.fixture(scope="module")
def client():
    with connect(workers=2) as c:
        yield c


def _same(a, b) -> None:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=f.name)
    for g in dataclasses.fields(a.snapshots):
        x, y = getattr(a.snapshots, g.name), getattr(b.snapshots, g.name)
        if x is not None:
            np.testing.assert_array_equal(x, y, err_msg=g.name)


def test_runs_trained_on_two_workers_equal_serial_runs(client, tmp_path, smoke_store):
    specs = [experiments.get(name).spec("smoke") for name in NAMES]
    store = RunStore(tmp_path / "dask")
    lines = []
    runs = train_many(specs + specs[:1], client, store=store, report=lines.append)
    assert sorted(runs) == sorted(spec.key() for spec in specs) == store.keys()
    assert len(lines) == len(specs) and lines[-1].startswith(f"[{len(specs)}/{len(specs)}]")
    # the serial runs are the session's smoke runs, trained in one process (here, or before by
    # the chapters or doctests, which train into the same store): each trains once per session
    for spec in specs:
        _same(store.load(spec), load_or_train(spec, store=smoke_store, progress=False))
    # a second call loads what is stored and trains nothing
    assert train_many(specs, client, store=store, report=lines.append).keys() == runs.keys()
    assert len(lines) == len(specs)


#: Blocks of the first two give the serial run bit for bit (the fused step, with restarts,
#: snapshots and a ReLU hidden layer); the last two train on the general step (batched matrix
#: products on correlated data, an untied model), which the cluster does not split.
SPECS = (
    ExperimentSpec(n_features=64, n_hidden=6, feature_probability=[1.0, 0.3, 0.1, 0.03, 0.01],
                   restarts=2, steps=300, batch_size=128, snapshot_log=5, name="fused"),
    ExperimentSpec(model="relu_hidden", n_features=16, n_hidden=5,
                   feature_probability=[0.5, 0.1, 0.02], restarts=4, steps=300,
                   batch_size=128, name="hidden"),
    ExperimentSpec(n_features=8, n_hidden=2, data="correlated", set_size=2,
                   feature_probability=[0.5, 0.2, 0.05], correlation=[1.0, 0.5, 0.0],
                   steps=200, batch_size=256, name="general"),
    ExperimentSpec(model="absolute_value", data="signed_uniform", n_features=6, n_hidden=4,
                   feature_probability=[1.0, 0.1, 0.01], steps=200, batch_size=128,
                   name="untied"),
)


@pytest.mark.parametrize("spec", SPECS[:2], ids=lambda s: s.name)
def test_blocks_trained_apart_give_the_serial_run(spec):
    assert separable(spec)
    whole = train(spec, progress=False)
    parts = [train_block(spec, a, b, progress=False)
             for a, b in blocks_of(spec.n_models, 3, alignment(spec))]
    assert len(parts) == 3
    _same(finish(spec, parts[::-1]), whole)
    with pytest.raises(ValueError, match="covering models"):
        finish(spec, parts[:2])


def test_every_spec_on_two_workers_equals_its_serial_run(client, tmp_path):
    """Separable specs are split into three blocks; the others train whole."""
    assert not any(separable(spec) for spec in SPECS[2:])
    runs = train_many(SPECS, client, store=RunStore(tmp_path), blocks=3,
                      report=lambda line: None)
    for spec in SPECS:
        _same(runs[spec.key()], train(spec, progress=False))


def _executing(dask_worker, key: str) -> bool:
    """Whether ``key`` is running on this worker (not merely assigned to it)."""
    task = dask_worker.state.tasks.get(key)
    return task is not None and task.state == "executing"


def test_a_worker_that_dies_loses_only_its_task(client, tmp_path):
    future = client.submit(_train_task, SLOW, 0, SLOW.n_models, key="slow-task", pure=False)
    # wait until a worker runs the task: the scheduler's assignment comes before that
    deadline = time.time() + 60
    running = []
    while not running and time.time() < deadline:
        running = [w for w, on in client.run(_executing, key="slow-task").items() if on]
        time.sleep(0.1)
    assert running, "the task never started on a worker"
    time.sleep(0.5)  # into the training
    pid = client.run(os.getpid, workers=running)[running[0]]
    # the kill must hit the task mid-run, or the test would not see a retry
    assert client.run(_executing, key="slow-task", workers=running)[running[0]]
    assert not future.done()
    os.kill(pid, signal.SIGKILL)
    run = finish(SLOW, [future.result(timeout=240)])  # retried on a worker that lives
    _same(run, load_or_train(SLOW, store=RunStore(tmp_path), progress=False))


def test_a_local_cluster_leaves_no_scratch_space_behind(tmp_path, monkeypatch):
    """Dask's scratch space (``dask-scratch-space``, left in /tmp before) lives in a temporary
    directory that goes with the cluster."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with connect(workers=1) as client:
        where = client.run(lambda dask_worker: dask_worker.local_directory)
        assert all(Path(path).is_relative_to(tmp_path) for path in where.values())
        assert [p.name[:19] for p in tmp_path.iterdir()] == ["superposition-dask-"]
    assert list(tmp_path.iterdir()) == []


def test_the_command_line_trains_on_local_workers(tmp_path, capsys):
    from superposition_lib.cli import main

    store = tmp_path / "store"
    status = main(["run", *NAMES[:2], "--profile", "smoke", "--workers", "2", "--store",
                   str(store)])
    out = capsys.readouterr()
    assert status == 0, out.err
    assert "2 of 2 experiments to train on 2 local Dask workers" in out.out
    assert RunStore(store).keys() == sorted(experiments.get(n).spec("smoke").key()
                                           for n in NAMES[:2])
    assert main(["run", NAMES[0], "--workers", "1", "--scheduler", "tcp://127.0.0.1:1",
                 "--store", str(store)]) == 2
