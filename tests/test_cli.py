"""Tests of the ``superposition`` command line (called in-process through ``main``)."""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys

import pytest

from superposition_lib import experiments
from superposition_lib.cli import main, summary_table
from superposition_lib.core.store import RunStore

STEPS = "200"


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``superposition train intro --steps 200`` into a fresh store, run once for the module."""
    root = tmp_path_factory.mktemp("store")
    status, out, err = _run(["train", "intro", "--steps", STEPS, "--store", str(root),
                             "--no-progress"])
    key = experiments.get("intro").spec("paper").replace(steps=int(STEPS), history_every=None).key()
    return root, key, status, out, err


def _table_rows(out: str) -> list[list[str]]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["instance", "density"])
    return [line.split() for line in lines[start + 1:] if line.strip()]


def test_list_shows_every_experiment_under_its_chapter(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("runs to try from a shell")
    chapter = experiments.SHELL
    listed = {}
    for line in lines[1:]:
        if line.endswith(":") and not line.startswith(" "):
            chapter = line[:-1]
        elif line.startswith("  "):
            name, description = line.split(maxsplit=1)
            listed[name] = (chapter, description)
    assert listed == {e.name: (e.chapter, e.description) for e in experiments.list_experiments()}
    assert [name for name, (chapter, _) in listed.items() if chapter == experiments.SHELL] == \
        ["intro", "basic", "uniform"]


def test_train_takes_any_experiment_and_run_names_train_for_a_shell_run(tmp_path):
    status, out, err = _run(["train", "intro-relu", "--profile", "smoke", "--steps", "20",
                             "--store", str(tmp_path), "--no-progress"])
    spec = experiments.get("intro-relu").spec("smoke").replace(steps=20, history_every=None)
    assert status == 0, err
    assert f"run {spec.key()} (intro-relu)" in out and RunStore(tmp_path).keys() == [spec.key()]
    status, out, err = _run(["run", "intro", "--store", str(tmp_path)])
    assert (status, out) == (2, "")
    assert err == ("superposition run: 'intro' is a run to try from a shell, not an experiment "
                   "of the book: train it with `superposition train intro`\n")
    status, out, err = _run(["train", "intro", "--profile", "smoke", "--store", str(tmp_path),
                             "--no-progress"])
    assert status == 0, err
    assert f"run {experiments.get('intro').spec('smoke').key()} (intro)" in out


def test_train_prints_key_location_and_a_per_instance_summary(trained):
    root, key, status, out, err = trained
    assert status == 0, err
    assert f"run {key}" in out
    assert f"cached in {RunStore(root).path(key)}" in out
    assert re.search(r"^just trained, in \d+\.\d s; library ", out, re.MULTILINE)
    header = next(line for line in out.splitlines() if line.lstrip().startswith("instance"))
    assert header.split() == ["instance", "density", "loss", "±", "se", "represented", "D*"]
    rows = _table_rows(out)
    assert [int(r[0]) for r in rows] == list(range(10))
    assert float(rows[0][1]) == 1.0 and float(rows[-1][1]) == pytest.approx(0.05)
    assert all(r[3] == "±" and r[6] == "/" and r[7] == "5" for r in rows)
    represented = [int(r[5]) for r in rows]
    assert all(0 <= k <= 5 for k in represented)
    assert represented[-1] >= represented[0]  # sparser instances represent more features
    assert float(rows[0][8]) > float(rows[-1][8])  # and use fewer dimensions per feature
    store = RunStore(root)
    assert store.keys() == [key]
    assert store.load_key(key).spec.steps == int(STEPS)


def test_train_again_loads_from_the_cache(trained):
    root, key, *_ = trained
    status, out, _ = _run(["train", "intro", "--steps", STEPS, "--store", str(root),
                           "--no-progress"])
    assert status == 0 and f"run {key}" in out
    created = RunStore(root).manifest(key)["created"]
    assert re.search(rf"^loaded from the cache \(trained in \d+\.\d s on {re.escape(created)}\)"
                     rf"; library ", out, re.MULTILINE)
    assert RunStore(root).keys() == [key]


def test_show_a_cached_run(trained, capsys):
    root, key, _, train_out, _ = trained
    assert main(["show", key, "--store", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"run {key} (intro)" in out and "200 steps" in out and "torch" in out
    assert re.search(r"^trained in \d+\.\d s on \d{4}-", out, re.MULTILINE)
    assert _table_rows(out) == _table_rows(train_out)
    assert main(["show", key[:6], "--store", str(root)]) == 0  # a unique prefix is enough
    assert f"run {key}" in capsys.readouterr().out


def test_list_cached(trained, capsys):
    root, key, *_ = trained
    assert main(["list", "--cached", "--store", str(root)]) == 0
    assert key in capsys.readouterr().out


def test_unknown_name_exits_2_and_names_the_experiments(capsys, tmp_path):
    assert main(["train", "no-such-run", "--store", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no-such-run" in err and "Traceback" not in err
    assert all(name in err for name in experiments.REGISTRY)
    assert not (tmp_path / "runs").exists()


def test_invalid_options_exit_2(capsys, tmp_path):
    assert main(["train", "intro", "--steps", "0", "--store", str(tmp_path)]) == 2
    assert "steps" in capsys.readouterr().err
    assert main(["train", "intro", "--device", "nonsense", "--store", str(tmp_path)]) == 2
    assert "--device" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # argparse's own errors also exit with 2
        main(["train"])
    assert exc.value.code == 2


def test_unknown_key_exits_2(capsys, tmp_path):
    assert main(["show", "0123456789abcdef", "--store", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "0123456789abcdef" in err and "Traceback" not in err


def test_corrupt_entry_exits_2(trained, capsys, tmp_path):
    root, key, *_ = trained
    store = RunStore(tmp_path)
    store.save(RunStore(root).load_key(key))
    manifest_path = store.path(key) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["arrays.npz"]["sha256"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    assert main(["show", key, "--store", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert key in err and "checksum" in err and "Traceback" not in err


def test_seed_and_steps_change_the_key():
    spec = experiments.get("intro").spec("paper")
    assert spec.replace(seed=1).key() != spec.key()
    assert spec.replace(steps=200, history_every=None).key() != spec.key()


def test_summary_table_columns(trained):
    root, key, *_ = trained
    table = summary_table(RunStore(root).load_key(key))
    assert list(table.columns) == ["instance", "density", "loss", "loss_se", "represented", "D*"]
    assert len(table) == 10 and (table["loss_se"] > 0).all()


def test_figures_export_never_trains_a_missing_paper_run(tmp_path):
    """A render's pre-render step on a store without the paper runs stops at once, naming every
    missing experiment and the command that trains them; nothing is written or trained."""
    from superposition_lib import experiments

    store, out = tmp_path / "store", tmp_path / "figures"
    status, stdout, err = _run(["figures", "export", "--chapter", "toy-model", "--profile",
                                "paper", "--store", str(store), "--out", str(out)])
    assert status == 2 and stdout == ""
    names = [e.name for e in experiments.list_experiments("toy-model")]
    assert f"superposition run {' '.join(names)} --profile paper --store {store}" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists() and not (store / "runs").exists()


def test_migrate_reports_what_it_renamed(tmp_path, trained):
    root, key, *_ = trained
    copy = tmp_path / "store"
    import shutil

    shutil.copytree(root, copy)
    (copy / "runs" / key).rename(copy / "runs" / "0123456789abcdef")
    status, out, _ = _run(["migrate", "--store", str(copy)])
    assert status == 0 and f"0123456789abcdef -> {key}" in out and "1 run renamed" in out
    assert _run(["migrate", "--store", str(copy)])[1].startswith("0 runs renamed")


def test_training_errors_are_one_line_and_leave_nothing(tmp_path):
    """A CPU-only torch asked for CUDA, a store that cannot be created, and a batch that does
    not fit in memory: one line on stderr each, and nothing left in the store."""
    import torch

    store = tmp_path / "store"
    cases = [(["--store", str(tmp_path / "file" / "sub")], "--store: cannot create")]
    (tmp_path / "file").write_text("not a directory")
    if not torch.cuda.is_available():
        cases.append((["--device", "cuda", "--store", str(store)],
                      "--device: 'cuda' is not available"))
    for extra, message in cases:
        status, _, err = _run(["train", "intro", "--steps", STEPS, "--no-progress", *extra])
        assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (store / "runs").exists() or [p.name for p in (store / "runs").iterdir()] == []


def test_show_summarises_large_runs(tmp_path):
    from superposition_lib import experiments

    spec = experiments.get("phase-change").spec("smoke")
    root = tmp_path / "store"
    experiments.load("phase-change", "smoke", store=RunStore(root))
    status, out, _ = _run(["show", spec.key(), "--store", str(root)])
    assert status == 0 and f"{spec.n_models} models, summarised by density" in out
    assert len(out.splitlines()) < 60 < spec.n_models
    status, out, _ = _run(["show", spec.key()[:6], "--store", str(root), "--all"])
    assert status == 0 and len(out.splitlines()) > spec.n_models


def test_run_help_points_to_the_list():
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "`superposition list` shows the experiments, by chapter" in " ".join(
        out.getvalue().split())


def test_smoke_runs_go_to_the_user_cache_not_the_book_store(tmp_path, monkeypatch):
    """`run NAME --profile smoke` and `experiments.load(NAME, "smoke")` use the user's cache
    ($XDG_CACHE_HOME/superposition); the book's store (data/, here a temporary stand-in) is
    left alone, and remains the default of paper runs."""
    from superposition_lib.core import store as store_module

    book, cache = tmp_path / "book", tmp_path / "cache"
    monkeypatch.delenv("SUPERPOSITION_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setattr(store_module, "default_root", lambda: book)
    spec = experiments.get("intro-linear").spec("smoke")
    status, out, err = _run(["run", "intro-linear", "--profile", "smoke", "--no-progress"])
    assert status == 0, err
    entry = cache / "superposition" / "runs" / spec.key()
    assert f"store {entry.parent} " in out and (entry / "manifest.json").is_file()
    assert experiments.load("intro-linear", "smoke", train=False).spec == spec  # found there
    assert not book.exists()
    assert experiments.default_store("paper").root == book
    assert experiments.default_store("smoke").root == cache / "superposition"


# Blocks every installed module outside the base install (the package's dependencies without
# extras, and theirs), then runs main for each JSON argv given.
BASE_ONLY = """
import importlib.metadata as md, json, re, sys

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

base, todo = set(), ["superposition"]
while todo:
    dist = norm(todo.pop())
    if dist not in base:
        base.add(dist)
        try:
            todo += [re.match(r"[A-Za-z0-9._-]+", r)[0] for r in md.requires(dist) or []
                     if "extra ==" not in r]
        except md.PackageNotFoundError:
            pass
blocked = sorted(m for m, dists in md.packages_distributions().items()
                 if not {norm(d) for d in dists} & base)
for module in blocked:
    sys.modules[module] = None
print(json.dumps(blocked))
from superposition_lib.cli import main
for argv in sys.argv[1:]:
    status = main(json.loads(argv))
    if status:
        sys.exit(status)
"""


def test_a_base_install_is_enough_for_train_and_list(tmp_path):
    """`train` (a run of no chapter and one of the book) and `list` import nothing outside the base
    dependencies (torch, numpy, pandas, tqdm): the book's, docs' and cluster extras are
    blocked."""
    import importlib.util

    commands = [["train", "intro", "--steps", "20", "--store", str(tmp_path), "--no-progress"],
                ["train", "intro-relu", "--profile", "smoke", "--steps", "20", "--store",
                 str(tmp_path), "--no-progress"],
                ["list"]]
    proc = subprocess.run([sys.executable, "-c", BASE_ONLY, *map(json.dumps, commands)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    blocked = set(json.loads(proc.stdout.splitlines()[0]))
    assert {m for m in ("altair", "yaml", "tabulate", "distributed", "sphinx")
            if importlib.util.find_spec(m)} <= blocked
    assert "torch" not in blocked and "pandas" not in blocked
    assert len(RunStore(tmp_path).keys()) == 2 and "intro-relu" in proc.stdout


def test_sigterm_stops_train_with_its_checkpoint_kept(tmp_path):
    """`timeout` sends SIGTERM: the command exits 143 with one line, the checkpoint stays, and
    the same command resumes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "SUPERPOSITION_DATA": str(tmp_path)}
    cmd = [sys.executable, "-m", "superposition_lib.cli", "train", "basic", "--steps", "200000",
           "--no-progress", "--threads", "1"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    partial = tmp_path / "runs"
    deadline = time.time() + 60
    while time.time() < deadline and not any(partial.glob("*.partial")):
        time.sleep(0.2)
    time.sleep(5.0)  # past the set-up, into the training loop (about 100 s of steps)
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "interrupted; progress is checkpointed" in err
    assert list(partial.glob("*.partial/checkpoint.pt"))


def test_figures_export_interrupted_prints_one_line(tmp_path, monkeypatch):
    from superposition_lib import book

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(book, "export_chapter_figures", interrupted)
    status, _, err = _run(["figures", "export", "--out", str(tmp_path)])
    assert status == 130 and err.strip() == "interrupted; figures written so far are kept"


def test_verify_marks_a_reproduced_stale_run_current_and_reports_one_that_differs(tmp_path,
                                                                                  capsys):
    import dataclasses

    from superposition_lib import train
    from superposition_lib.core import config

    spec = experiments.get("intro").spec("paper").replace(steps=30, batch_size=32, name="intro")
    store = RunStore(tmp_path)
    run = train(spec, progress=False)
    store.save(run)
    path = store.path(spec) / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["numerics"]
    path.write_text(json.dumps(manifest))
    assert main(["show", spec.key(), "--store", str(tmp_path)]) == 0  # a stale run is shown
    assert "numerics: not recorded (stored before numerics versions): stale" in (
        capsys.readouterr().out)
    args = ["verify", spec.key()[:6], "--store", str(tmp_path), "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"{spec.key()} intro: retraining 10 models, 30 steps" in out
    assert "marked current" in out
    assert json.loads(path.read_text())["numerics"]["version"] == config.NUMERICS_VERSION
    assert main(["show", spec.key(), "--store", str(tmp_path)]) == 0
    assert f"numerics: version {config.NUMERICS_VERSION} (current): " in capsys.readouterr().out
    store.save(dataclasses.replace(run, W=run.W + 1))  # bits that do not come back
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "differs in" in captured.out and "max |ΔW| 1" in captured.out
    assert "1 run of" in captured.err and "did not reproduce" in captured.err
    assert main([*args, "--replace"]) == 0
    assert "replaced" in capsys.readouterr().out
    assert main(["verify", "--store", str(tmp_path)]) == 2
    assert "or --all" in capsys.readouterr().err
