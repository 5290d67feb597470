"""The ``superposition`` command's subcommands, each ``_cmd_NAME(args) -> exit status``, and the
checks of their options (done before any import of torch)."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .output import _describe, _print_run, _print_runs, _run_row, _table

if TYPE_CHECKING:
    from ..core.config import ExperimentSpec
    from ..core.run import Run
    from ..core.store import RunStore
    from ..experiments import Experiment

__all__ = ["EXIT_USAGE", "MIN_KEY_PREFIX"]

#: Exit status for usage errors (unknown name or key, corrupt entry, invalid option).
EXIT_USAGE = 2
#: Fewest hex digits of a key prefix that ``show`` looks up.
MIN_KEY_PREFIX = 4
# The --store help of each command: which store it defaults to.
_RUN_STORE = ("store root (default: $SUPERPOSITION_DATA; else the repository's data/, where the "
              "book's runs are committed, for paper runs, and ~/.cache/superposition for smoke "
              "runs)")
_BOOK_STORE = ("store root (default: $SUPERPOSITION_DATA, else the repository's data/, where the "
               "book's runs are committed)")
_USER_STORE = ("store root (default: $SUPERPOSITION_DATA, else ~/.cache/superposition, the "
               "store of ad-hoc runs)")
_BOTH_STORES = ("store root (default: the store of ad-hoc runs, then the book's data/; "
                "$SUPERPOSITION_DATA for both)")
_PROFILE = "paper or smoke (default: $SUPERPOSITION_PROFILE, else paper)"


class _UsageError(Exception):
    """A bad name or option value; reported in one line, exit status 2."""


# Run before a command imports anything heavy, so that a malformed option answers at once.
def _positive(flag: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise _UsageError(f"{flag} must be a positive integer (got {value})")


def _scheduler_address(address: str | None) -> None:
    """A Dask scheduler address needs a host and a port (``tcp://`` is the default scheme)."""
    if address is None:
        return
    try:
        parts = urlsplit(address if "://" in address else f"tcp://{address}")
        valid = bool(parts.hostname) and parts.port is not None
    except ValueError:  # a port that is not a number in 0-65535
        valid = False
    if not valid:
        raise _UsageError(f"--scheduler: expected an address like tcp://HOST:8786 "
                          f"(got {address!r})")


def _directory(flag: str, path: str | None, *, must_exist: bool) -> None:
    """A directory option: an existing directory, or (unless ``must_exist``) a path that can be
    created in a writable directory."""
    if path is None:
        return
    target = Path(os.path.abspath(path))
    if target.exists():
        if not target.is_dir():
            raise _UsageError(f"{flag}: {path} is not a directory")
        return
    if must_exist:
        raise _UsageError(f"{flag}: {path} does not exist")
    ancestor = next(p for p in target.parents if p.exists())
    if not ancestor.is_dir():
        raise _UsageError(f"{flag}: cannot create {path}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise _UsageError(f"{flag}: cannot create {path}: {ancestor} is not writable")


def _key_prefix(key: str) -> str:
    """A run key, or a prefix of at least :data:`MIN_KEY_PREFIX` hex digits, in lower case."""
    if not re.fullmatch(r"[0-9a-fA-F]+", key):
        raise _UsageError(f"{key!r} is not a run key: keys are hex digits (`superposition list "
                          f"--cached` lists them)")
    if len(key) < MIN_KEY_PREFIX:
        raise _UsageError(f"key prefix {key!r} is too short: give at least {MIN_KEY_PREFIX} hex "
                          f"digits")
    return key.lower()


def _named_spec(name: str, profile: str | None) -> ExperimentSpec:
    """The spec a name stands for, for ``profile`` (ValueError for an unknown name or
    profile)."""
    from .. import experiments

    return experiments.get(name).spec(profile)


def _experiment(name: str) -> Experiment:
    """The experiment of the book called ``name`` (ValueError if none; for a run of no chapter,
    naming ``train``)."""
    from .. import experiments

    experiment = experiments.get(name)
    if experiment.chapter == experiments.SHELL:
        raise ValueError(f"{name!r} is a run to try from a shell, not an experiment of the book: "
                         f"train it with `superposition train {name}`")
    return experiment


def _experiment_store(root: str | None, profile: str) -> RunStore:
    """The store given with --store, else the profile's default (the book's for paper runs)."""
    from .. import experiments
    from ..core.store import RunStore

    return RunStore(root) if root is not None else experiments.default_store(profile)


def _stores(root: str | None) -> list[RunStore]:
    """The store given with --store, else the ad-hoc runs' and then the book's."""
    from ..core.store import RunStore, user_root

    if root is not None:
        return [RunStore(root)]
    stores = [RunStore(user_root()), RunStore()]
    return stores if stores[0].root != stores[1].root else stores[:1]


def _writable(store: RunStore) -> RunStore:
    """The store, once its directory exists and takes files; else a one-line usage error."""
    try:
        store.runs_dir.mkdir(parents=True, exist_ok=True)
        with open(store.runs_dir / f".probe-{os.getpid()}", "w"):
            pass
        os.remove(store.runs_dir / f".probe-{os.getpid()}")
    except OSError as e:
        raise _UsageError(f"--store: cannot write runs to {store.runs_dir} "
                          f"({e.strerror or e})") from None
    return store


def _resolve_key(stores: list[RunStore], key: str) -> tuple[RunStore, str]:
    """The store holding the one key that starts with ``key`` (checked by :func:`_key_prefix`)."""
    listed = [(store, store.keys()) for store in stores]
    found = [(store, k) for store, keys in listed for k in keys if k.startswith(key)]
    keys = sorted({k for _, k in found})
    if len(keys) == 1:
        return found[0]
    if keys:
        raise _UsageError(f"key prefix {key!r} is ambiguous: it starts {', '.join(keys)}")
    raise _UsageError(f"no cached run {key!r} in {' or '.join(str(s.runs_dir) for s in stores)}; "
                      f"`superposition list --cached` lists them")


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def _load_or_train(spec: ExperimentSpec, store: RunStore, args: argparse.Namespace,
                   label: str = "", **options) -> tuple[Run | int, bool]:
    """:func:`~superposition_lib.core.pipeline.load_or_train` with the command's ``--no-progress``
    and ``--retrain`` (and ``options``), and whether it trained. Its expected failures become one
    line on stderr and an exit status in place of the run: 128 + the signal when interrupted
    (its checkpoint kept), 1 when it diverged, needs more memory than is free or cannot be
    stored (a full disk; its checkpoint kept)."""
    from ..core.guards import DivergenceError
    from ..core.pipeline import load_or_train
    from ..core.store import StoreWriteError
    from ..core.train import TrainingInterrupted

    trained = []
    try:
        run = load_or_train(spec, store=store, progress=not args.no_progress,
                            retrain=args.retrain, callback=lambda step: trained or
                            trained.append(step), **options)
    except KeyboardInterrupt as e:
        signum = e.signum if isinstance(e, TrainingInterrupted) else 2
        print(f"\n{label}interrupted; progress is checkpointed in "
              f"{store.checkpoint_path(spec).parent} (written every minute, on Ctrl-C and on "
              f"SIGTERM). Run the same command again to resume.", file=sys.stderr)
        return 128 + signum, False
    except (DivergenceError, MemoryError, StoreWriteError) as e:
        print(f"superposition: {label}{e}", file=sys.stderr)
        return 1, False
    return run, bool(trained)


def _cmd_list(args: argparse.Namespace) -> int:
    if args.cached:
        _directory("--store", args.store, must_exist=True)
        return _list_cached(_stores(args.store))
    if args.store is not None:
        raise _UsageError("--store: only with --cached (the names do not depend on a store)")
    from .. import experiments

    width = max(map(len, experiments.REGISTRY))
    print("runs to try from a shell (no chapter; each has a paper and a smoke profile):")
    _list_names(experiments.list_experiments(experiments.SHELL), width)
    print("\nthe book's experiments by chapter (each has a paper and a smoke profile):")
    for chapter in experiments.CHAPTERS:
        print(f"{chapter}:")
        _list_names(experiments.list_experiments(chapter), width)
    print("\n`superposition train NAME` trains (or loads) any of them and summarises it; "
          "`superposition run NAME...` trains the book's experiments into its store")
    return 0


def _list_names(chosen: list[Experiment], width: int) -> None:
    """Print one line per experiment: its name, padded to ``width``, and its description."""
    for e in chosen:
        print(f"  {e.name:<{width}}  {e.description}")


def _list_cached(stores: list[RunStore]) -> int:
    from ..core.config import ExperimentSpec

    for store in stores:
        rows = []
        for m in store.entries():
            try:
                spec = ExperimentSpec.from_dict(m["spec"])
                train_s = round(float(m.get("wall_time", 0)), 1)
            except (TypeError, ValueError):
                continue
            rows.append({"key": m["key"], "name": spec.name, "model": spec.model,
                         "n": spec.n_features, "m": spec.n_hidden,
                         "instances": spec.n_instances, "steps": spec.steps, "seed": spec.seed,
                         "train_s": train_s, "created": m.get("created")})
        if rows:
            print(f"cached runs in {store.runs_dir} (train_s: the training's wall time):")
            print(_table(rows))
        else:
            print(f"no cached runs in {store.runs_dir}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    _positive("--threads", args.threads)
    _directory("--store", args.store, must_exist=False)
    from ..core.guards import check_device
    from ..core.store import RunStore, user_root

    try:
        spec = _named_spec(args.name, args.profile)
        changes = {}
        if args.steps is not None:
            changes["steps"] = args.steps
            changes["history_every"] = None  # recomputed from the new number of steps
        if args.seed is not None:
            changes["seed"] = args.seed
        spec = spec.replace(**changes) if changes else spec
    except ValueError as e:
        raise _UsageError(e) from None
    try:
        device = check_device(args.device)
    except ValueError as e:
        raise _UsageError(f"--{e}") from None
    _set_threads(args.threads)
    store = _writable(RunStore(args.store or user_root()))
    run, trained = _load_or_train(spec, store, args, device=device)
    if isinstance(run, int):
        return run
    _print_run(run, store, trained=trained)
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    key = _key_prefix(args.key)
    _directory("--store", args.store, must_exist=True)
    store, key = _resolve_key(_stores(args.store), key)
    _print_run(store.load_key(key, allow_stale=True), store, every_row=args.all)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    if args.all and args.names:
        raise _UsageError("give experiment names or --all, not both")
    if not args.all and not args.names:
        raise _UsageError("name at least one experiment, or --all; `superposition list` shows "
                          "them")
    if args.workers is not None and args.scheduler is not None:
        raise _UsageError("--workers, --scheduler: give one of them, not both")
    _positive("--threads", args.threads)
    _positive("--workers", args.workers)
    _scheduler_address(args.scheduler)
    _directory("--store", args.store, must_exist=False)
    from .. import experiments

    try:
        profile = experiments.current_profile(args.profile)
        chosen = (experiments.book_experiments() if args.all
                  else [_experiment(name) for name in args.names])
    except ValueError as e:
        raise _UsageError(e) from None
    _set_threads(args.threads)
    store = _writable(_experiment_store(args.store, profile))
    if args.workers is not None or args.scheduler is not None:
        return _run_on_dask(args, chosen, profile, store)
    rows = []
    for exp in chosen:
        spec = exp.spec(profile)
        print(f"{exp.name} [{profile}]: {_describe(spec)}", flush=True)
        run, trained = _load_or_train(spec, store, args, f"{exp.name}: ")
        if isinstance(run, int):
            return run
        rows.append(_run_row(exp.name, spec, run, trained))
    _print_runs(rows, profile, store)
    return 0


def _run_on_dask(args: argparse.Namespace, chosen: list[Experiment], profile: str,
                 store: RunStore) -> int:
    """``run --workers N`` or ``--scheduler ADDRESS``: one Dask task per experiment to train."""
    from ..core.cluster import connect, train_many

    specs = [exp.spec(profile) for exp in chosen]
    before = {spec.key() for spec in specs if spec in store and not args.retrain}
    print(f"{len(specs) - len(before)} of {len(specs)} experiments to train on "
          f"{args.scheduler or f'{args.workers} local Dask workers'}", flush=True)
    try:
        with connect(workers=args.workers, scheduler=args.scheduler) as client:
            runs = train_many(specs, client, store=store, retrain=args.retrain)
    except (ImportError, OSError, ValueError) as e:
        raise _UsageError(e) from None
    except KeyboardInterrupt:
        print("\ninterrupted; the runs that had finished are stored. Run the same command "
              "again to train the rest.", file=sys.stderr)
        return 130
    _print_runs([_run_row(spec.name, spec, runs[spec.key()], spec.key() not in before)
                 for spec in specs], profile, store)
    return 0


def _cmd_figures_export(args: argparse.Namespace) -> int:
    _directory("--out", args.out, must_exist=False)
    _directory("--store", args.store, must_exist=False)
    from .. import book, experiments

    start = time.monotonic()

    def report(chapter: str, label: str, paths: list) -> None:
        print(f"{time.monotonic() - start:6.0f} s  {chapter}/{label}: {len(paths)} files",
              flush=True)

    try:
        profile = experiments.current_profile(args.profile)
        written = book.export_chapter_figures(args.chapter, out_dir=args.out, profile=profile,
                                              store=_experiment_store(args.store, profile),
                                              train=True if args.train else None,
                                              on_figure=report)
    except ValueError as e:
        raise _UsageError(e) from None
    except KeyboardInterrupt:
        print("\ninterrupted; figures written so far are kept", file=sys.stderr)
        return 130
    figures = len(written) - 1  # less the Vega bundle
    print(f"{figures} figures in {time.monotonic() - start:.0f} s", flush=True)
    return 0


def _cmd_site_add_reference(args: argparse.Namespace) -> int:
    from ..book import site

    try:
        n = site.add_reference(args.site)
    except FileNotFoundError as e:
        raise _UsageError(e) from None
    print(f"{n} API reference pages added to {args.site}/search.json and sitemap.xml")
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    _directory("--store", args.store, must_exist=True)
    from ..core.store import RunStore

    store = RunStore(args.store)
    renamed = store.migrate()
    for old, new in renamed:
        print(f"{old} -> {new}")
    print(f"{len(renamed)} run{'s' if len(renamed) != 1 else ''} renamed in {store.runs_dir}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    _directory("--store", args.store, must_exist=True)
    _positive("--first-steps", args.first_steps)
    if bool(args.names) == args.all:
        raise _UsageError("give the runs to verify (experiment names or keys) or --all, not both")
    prefixes = [_key_prefix(name) for name in args.names if re.fullmatch(r"[0-9a-f]{4,16}", name)]
    from ..core.reproduce import verify
    from ..core.store import RunStore

    store = RunStore(args.store)
    keys = None if args.all else [
        _resolve_key([store], name)[1] if name in prefixes
        else _experiment(name).spec(args.profile or "paper").key() for name in args.names]

    def start(key: str, run: Run, steps: int) -> None:
        print(f"{key} {run.spec.name or run.spec.model}: retraining {run.spec.n_models} models, "
              f"{steps} steps ...", flush=True)

    differ = 0
    for result in verify(store, keys, replace=args.replace, first_steps=args.first_steps,
                         progress=args.progress, on_start=start):
        detail = "".join(f", max |Δ{name}| {value:.3g}"
                         for name, value in sorted(result.differences.items()))
        print(f"  {result.outcome} in {result.wall_time:.1f} s{detail}", flush=True)
        differ += result.outcome in ("differs", "first steps differ")
    if differ:
        print(f"{differ} run{'s' if differ != 1 else ''} of {store.runs_dir} did not reproduce "
              f"(--replace stores the retrained ones)", file=sys.stderr)
    return 1 if differ else 0
