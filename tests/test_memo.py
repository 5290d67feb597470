"""Remembered analysis results: computed once, shared between processes through the disk, and
never returned for a run that changed."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from superposition_lib import experiments
from superposition_lib.core.store import RunStore
from superposition_lib.experiments import load, memo

#: A process of its own asks for the result below and prints how many times it was computed.
CHILD = """
import sys
from pathlib import Path
import pandas as pd
from superposition_lib.core.store import RunStore
from superposition_lib.experiments import memo
calls = []
@memo.remembered("intro-linear")
def results(profile=None, *, store=None):
    calls.append(1)
    return {"frame": pd.DataFrame({"x": [1.0]})}
results("smoke", store=RunStore(Path(sys.argv[1])))
print(len(calls))
"""


@pytest.fixture
def counted():
    calls = []

    @memo.remembered("intro-linear")
    def results(profile=None, *, store=None, scale=1.0):
        calls.append(scale)
        return {"frame": pd.DataFrame({"x": [scale * len(calls)]})}

    return results, calls


def _stored(tmp_path) -> RunStore:
    store = RunStore(tmp_path / "store")
    load("intro-linear", "smoke", store=store)
    return store


def test_a_result_on_disk_is_used_by_another_process(tmp_path, monkeypatch):
    monkeypatch.setenv(memo.ENV_RESULTS, str(tmp_path / "results"))
    store = _stored(tmp_path)
    run = [sys.executable, "-c", CHILD, str(store.root)]
    first = subprocess.run(run, capture_output=True, text=True, check=True)
    second = subprocess.run(run, capture_output=True, text=True, check=True)
    assert (first.stdout.strip(), second.stdout.strip()) == ("1", "0")
    assert len(list((tmp_path / "results").glob("*.pkl"))) == 1


def test_a_retrained_run_or_other_options_compute_afresh(tmp_path, monkeypatch, counted):
    monkeypatch.setenv(memo.ENV_RESULTS, str(tmp_path / "results"))
    results, calls = counted
    store = _stored(tmp_path)
    assert results("smoke", store=store)["frame"]["x"].tolist() == [1.0]
    results.cache_clear()                                    # as a new process would start
    assert results("smoke", store=store)["frame"]["x"].tolist() == [1.0] and len(calls) == 1
    results("smoke", store=store, scale=2.0)
    assert len(calls) == 2
    results.cache_clear()
    store.remove(experiments.get("intro-linear").spec("smoke"))
    load("intro-linear", "smoke", store=store)               # retrained: a new manifest
    assert results("smoke", store=store)["frame"]["x"].tolist() == [3.0]


def test_off_keeps_results_in_memory_and_a_broken_file_is_computed_again(
        tmp_path, monkeypatch, counted):
    results, calls = counted
    store = _stored(tmp_path)
    monkeypatch.setenv(memo.ENV_RESULTS, "off")
    assert memo.results_dir() is None
    results("smoke", store=store)
    results.cache_clear()
    results("smoke", store=store)
    assert len(calls) == 2
    monkeypatch.setenv(memo.ENV_RESULTS, str(tmp_path / "results"))
    results.cache_clear()
    results("smoke", store=store)
    [kept] = (tmp_path / "results").glob("*.pkl")
    kept.write_bytes(b"not a pickle")
    results.cache_clear()
    assert results("smoke", store=store)["frame"]["x"].tolist() == [4.0]
