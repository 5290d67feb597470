"""The ``superposition`` command: list, train and show the runs of named presets and experiments.

Usage::

    superposition list                      # every name: the presets, then the book's experiments
    superposition list --cached             # runs in the stores (ad-hoc, then the book's)
    superposition train intro               # train (or load) a preset, print a summary
    superposition train basic --steps 2000 --seed 1 --device cuda
    superposition train intro-relu          # an experiment of the book, with the same summary
    superposition show 3f2a9c0d1e4b5a6f     # a cached run (a unique key prefix is enough)
    superposition run --all --profile paper # train (or reuse) every experiment of the book
    superposition run intro-relu --profile smoke
    superposition run --all --workers 4     # the same on a local Dask cluster
    superposition figures export --chapter toy-model --out chapters/figures
    superposition migrate                   # rename runs cached under an earlier key format
    superposition verify intro-relu         # retrain a stored run, compare it bit for bit

Names. A *preset* (:mod:`~superposition_lib.presets`) is a run to try from a shell; an
*experiment* (:mod:`~superposition_lib.experiments`) is one of the book's, with a ``paper`` and a
``smoke`` spec. They share one namespace (a name that is both, such as ``intro-linear``, is the
same run), which ``superposition list`` shows whole. ``train`` takes any name; ``run`` takes the
experiments, and names ``train`` for a preset.

Stores. ``train`` goes through :func:`~superposition_lib.core.pipeline.load_or_train` into the store of
ad-hoc runs (:func:`~superposition_lib.core.store.user_root`, the user's cache), whatever the name.
``run`` and ``figures export`` use the book's store, the repository's ``data/``, for ``paper``
runs and the store of ad-hoc runs for ``smoke`` runs
(:func:`~superposition_lib.experiments.default_store`), so that quick runs never write into the
committed ``data/``. ``--store`` overrides them all. A run already in the store is loaded, not
retrained (``--retrain`` forces it), and an interrupted run (Ctrl-C or SIGTERM; exit status 130
or 143) resumes from its checkpoint when the same command is run again.

Errors (an unknown name or key, a corrupt entry, invalid options, an unusable device or store)
print one line to stderr and exit with status 2; a diverged run, or one that needs more memory
than is free, exits with 1. Options are checked before any work, and only a command's own work
imports torch: ``--help`` and malformed options answer at once.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import pandas as pd

    from .core.config import ExperimentSpec
    from .experiments import Experiment
    from .core.run import Run
    from .core.store import RunStore

__all__ = ["main", "summary_table"]

#: Exit status for usage errors (unknown name or key, corrupt entry, invalid option).
EXIT_USAGE = 2
#: Fewest hex digits of a key prefix that ``show`` looks up.
MIN_KEY_PREFIX = 4
#: Most models ``show`` prints one row for before it summarises (``--all`` prints every row).
SHOW_ROWS = 40
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


def summary_table(run: Run) -> pd.DataFrame:
    """Per-model summary of a run: density, loss, represented features and D*.

    Parameters
    ----------
    run : Run
        A trained run with ``W`` of shape (models, m, n).

    Returns
    -------
    pandas.DataFrame
        One row per model with columns ``instance``, ``restart`` (only when the spec has
        restarts), ``density`` (mean feature probability 1 − S), ``loss``, ``loss_se``,
        ``represented`` (features with ‖W_i‖ > 0.5,
        :func:`~superposition_lib.core.metrics.n_represented`) and ``D*``
        (:func:`~superposition_lib.core.metrics.dimensions_per_feature`).

    Examples
    --------
    >>> from superposition_lib import ExperimentSpec, train
    >>> run = train(ExperimentSpec(feature_probability=[1.0, 0.5], steps=50, batch_size=128),
    ...             progress=False)
    >>> list(summary_table(run).columns)
    ['instance', 'density', 'loss', 'loss_se', 'represented', 'D*']
    """
    import pandas as pd

    from .core import metrics

    table = {"instance": run.instance}
    if run.spec.restarts > 1:
        table["restart"] = run.restart
    table.update({
        "density": run.feature_probability.mean(axis=1),
        "loss": run.loss,
        "loss_se": run.loss_se,
        "represented": metrics.n_represented(run.W),
        "D*": metrics.dimensions_per_feature(run.W),
    })
    return pd.DataFrame(table)


def _format_table(run: Run) -> str:
    df = summary_table(run)
    shown = df.drop(columns=["loss", "loss_se"]).copy()
    shown.insert(shown.columns.get_loc("density") + 1, "loss ± se",
                 [f"{l:.4g} ± {s:.2g}" for l, s in zip(df["loss"], df["loss_se"])])
    shown["density"] = [f"{d:.4g}" for d in df["density"]]
    shown["represented"] = [f"{r} / {run.spec.n_features}" for r in df["represented"]]
    shown["D*"] = [f"{d:.3f}" for d in df["D*"]]
    return shown.to_string(index=False)


def _table(rows: list[dict]) -> str:
    """Rows of equal keys as a plain text table, one line each."""
    import pandas as pd

    return pd.DataFrame(rows).to_string(index=False)


def _describe(spec: ExperimentSpec) -> str:
    return (f"{spec.model}, n={spec.n_features}, m={spec.n_hidden}, "
            f"{spec.n_instances} instance{'s' if spec.n_instances != 1 else ''}"
            f"{f' x {spec.restarts} restarts' if spec.restarts > 1 else ''}, "
            f"{spec.steps} steps, batch {spec.batch_size}, seed {spec.seed}")


def _format_summary(run: Run) -> str:
    """Per-density quartiles of loss, represented features and D*, for runs with many models."""
    df = summary_table(run)
    df["density"] = df["density"].round(6)
    rows = []
    for density, g in df.groupby("density", sort=False):
        row = {"density": f"{density:.4g}", "models": len(g)}
        for name, fmt in (("loss", ".4g"), ("represented", ".0f"), ("D*", ".3f")):
            q = g[name].quantile([0.25, 0.5, 0.75]).to_numpy()
            row[f"{name} (median, IQR)"] = f"{q[1]:{fmt}} ({q[0]:{fmt}}-{q[2]:{fmt}})"
        rows.append(row)
    return _table(rows)


def _print_run(run: Run, store: RunStore, *, trained: bool | None = None,
               every_row: bool = False) -> None:
    """A run's key, entry, provenance and per-model table. ``trained`` says whether this command
    trained it (True) or loaded it (False); None (``show``) says neither."""
    key = run.spec.key()
    manifest = store.manifest(key)
    print(f"run {key}{f' ({run.spec.name})' if run.spec.name else ''}: {_describe(run.spec)}")
    print(f"cached in {store.path(key)}")
    took = f"{run.wall_time:.1f} s"
    origin = (f"just trained, in {took}" if trained
              else f"trained in {took} on {manifest.get('created')}")
    if trained is False:
        origin = f"loaded from the cache ({origin})"
    print(f"{origin}; library {manifest.get('library_version')}, "
          f"torch {manifest.get('torch_version')}"
          f"{', device ' + manifest['device'] if manifest.get('device') else ''}")
    print(_numerics_line(manifest.get("numerics")))
    if every_row or len(run.loss) <= SHOW_ROWS:
        print(f"final loss on {run.eval_samples} samples per model:")
        print(_format_table(run))
    else:
        print(f"{len(run.loss)} models, summarised by density (--all prints every model):")
        print(_format_summary(run))


def _numerics_line(record: dict | None) -> str:
    """What computed a run (its manifest's ``numerics``), and whether that is stale."""
    from .core.config import NUMERICS_VERSION

    if not record:
        return (f"numerics: not recorded (stored before numerics versions): stale until "
                f"`superposition verify` shows that it reproduces with version {NUMERICS_VERSION}")
    path = (f"{record.get('step')} step on {record.get('device')}, random stream "
            f"{record.get('random_stream')}, kernels {record.get('kernel_isa')}, torch "
            f"{record.get('torch_cpu_capability')}")
    if record.get("version") == NUMERICS_VERSION:
        return f"numerics: version {NUMERICS_VERSION} (current): {path}"
    return (f"numerics: version {record.get('version')}, stale (this library computes version "
            f"{NUMERICS_VERSION}): {path}")


def _left_aligned(rows: list[dict], columns: list[str]) -> str:
    """``_table(rows)`` with some text columns (and their headers) left-aligned."""
    import pandas as pd

    df = pd.DataFrame(rows)
    formatters = {}
    for c in columns:
        width = max(len(c), *(len(str(v)) for v in df[c]))
        formatters[c] = lambda v, w=width: f"{v!s:<{w}}"
    text = df.to_string(index=False, formatters=formatters, justify="left")
    return "\n".join(line.rstrip() for line in text.splitlines())


# ------------------------------------------------------------------------------ option checks
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


# ------------------------------------------------------------------------------ names and stores
def _named_spec(name: str, profile: str | None) -> ExperimentSpec:
    """The spec a name stands for: an experiment's for ``profile``, else a preset's.

    Raises ValueError for an unknown name or profile, or a profile given with a preset."""
    from . import experiments
    from .presets import PRESETS

    if name in experiments.REGISTRY:
        return experiments.get(name).spec(profile)
    if name not in PRESETS:
        raise ValueError(f"unknown name {name!r}: neither a preset ({', '.join(PRESETS)}) nor "
                         f"an experiment of the book; `superposition list` shows them all")
    if profile is not None:
        raise ValueError(f"--profile: {name!r} is a preset, which has a single spec; --profile "
                         f"applies to the book's experiments")
    return PRESETS[name].spec


def _experiment(name: str) -> Experiment:
    """The experiment called ``name`` (ValueError if none; for a preset, naming ``train``)."""
    from . import experiments
    from .presets import PRESETS

    if name in PRESETS and name not in experiments.REGISTRY:
        raise ValueError(f"{name!r} is a preset, not an experiment of the book: train it with "
                         f"`superposition train {name}`")
    return experiments.get(name)


def _experiment_store(root: str | None, profile: str) -> RunStore:
    """The store given with --store, else the profile's default (the book's for paper runs)."""
    from . import experiments
    from .core.store import RunStore

    return RunStore(root) if root is not None else experiments.default_store(profile)


def _stores(root: str | None) -> list[RunStore]:
    """The store given with --store, else the ad-hoc runs' and then the book's."""
    from .core.store import RunStore, user_root

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


# ------------------------------------------------------------------------------ training
def _set_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def _load_or_train(spec: ExperimentSpec, store: RunStore, args: argparse.Namespace,
                   label: str = "", **options) -> tuple[Run | int, bool]:
    """:func:`~superposition_lib.core.pipeline.load_or_train` with the command's ``--no-progress`` and
    ``--retrain`` (and ``options``), and whether it trained. Its expected failures become one
    line on stderr and an exit status in place of the run: 128 + the signal when interrupted
    (its checkpoint kept), 1 when it diverged, needs more memory than is free or cannot be
    stored (a full disk; its checkpoint kept)."""
    from .core.store import StoreWriteError
    from .core.pipeline import load_or_train
    from .core.train import DivergenceError, TrainingInterrupted

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


def _run_row(name: str, spec: ExperimentSpec, run: Run, trained: bool) -> dict:
    return {"experiment": name, "key": spec.key(), "status": "trained" if trained else "cached",
            "train_s": round(run.wall_time, 1), "mean_loss": f"{run.loss.mean():.4g}"}


def _print_runs(rows: list[dict], profile: str, store: RunStore) -> None:
    print(f"profile {profile}, store {store.runs_dir} (train_s: the training's wall time):")
    print(_table(rows))


# ------------------------------------------------------------------------------ commands
def _cmd_list(args: argparse.Namespace) -> int:
    if args.cached:
        _directory("--store", args.store, must_exist=True)
        return _list_cached(_stores(args.store))
    if args.store is not None:
        raise _UsageError("--store: only with --cached (the names do not depend on a store)")
    from . import experiments
    from .presets import PRESETS

    print("presets, runs to try from a shell:")
    print(_left_aligned([{"preset": p.name, "model": p.spec.model, "n": p.spec.n_features,
                          "m": p.spec.n_hidden, "instances": p.spec.n_instances,
                          "steps": p.spec.steps, "description": p.description}
                         for p in PRESETS.values()], ["preset", "model", "description"]))
    print("\nthe book's experiments by chapter (each has a paper and a smoke profile):")
    width = max(map(len, experiments.REGISTRY))
    for chapter in dict.fromkeys(e.chapter for e in experiments.list_experiments()):
        print(f"{chapter}:")
        for e in experiments.list_experiments(chapter):
            print(f"  {e.name:<{width}}  {e.description}")
    print("\n`superposition train NAME` trains (or loads) any of them and summarises it; "
          "`superposition run NAME...` trains the book's experiments into its store")
    return 0


def _list_cached(stores: list[RunStore]) -> int:
    from .core.config import ExperimentSpec

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
    from .core.store import RunStore, user_root
    from .core.train import check_device

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
    from . import experiments

    try:
        profile = experiments.current_profile(args.profile)
        chosen = (experiments.list_experiments() if args.all
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
    from .core.cluster import connect, train_many

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
    from . import book, experiments

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
    from .book import site

    try:
        n = site.add_reference(args.site)
    except FileNotFoundError as e:
        raise _UsageError(e) from None
    print(f"{n} API reference pages added to {args.site}/search.json and sitemap.xml")
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    _directory("--store", args.store, must_exist=True)
    from .core.store import RunStore

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
    from .core.reproduce import verify
    from .core.store import RunStore

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


# ------------------------------------------------------------------------------ entry point
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="superposition",
        description="Toy models of superposition: train named presets and the book's "
                    "experiments (cached in a run store) and inspect cached runs. "
                    "`superposition list` shows every name.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list every name: the presets and the book's experiments "
                       "(or, with --cached, the stored runs)")
    p.add_argument("--cached", action="store_true", help="list the runs in the store instead")
    p.add_argument("--store", metavar="DIR", help=_BOTH_STORES)
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("train", help="train a preset or experiment (or load it from the store) "
                       "and summarise it")
    p.add_argument("name", metavar="NAME", help="a preset or an experiment of the book "
                   "(`superposition list` shows them)")
    p.add_argument("--profile", default=None, metavar="P",
                   help=f"for an experiment, {_PROFILE}; a preset has a single spec")
    p.add_argument("--steps", type=int, metavar="N", help="optimisation steps (changes the key)")
    p.add_argument("--seed", type=int, metavar="S", help="random seed (changes the key)")
    p.add_argument("--device", default="cpu", metavar="D",
                   help="torch device: cpu, cuda, cuda:N or mps (default: cpu)")
    p.add_argument("--threads", type=int, default=None, metavar="T",
                   help="torch intra-op CPU threads (default: torch's, one per core; use 1 when "
                        "other processes are busy on the same cores)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--retrain", action="store_true",
                   help="ignore the cached run and any checkpoint; train from scratch")
    p.add_argument("--store", metavar="DIR", help=_USER_STORE)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("show", help="summarise a cached run")
    p.add_argument("key", metavar="KEY", help=f"run key (or a unique prefix of at least "
                   f"{MIN_KEY_PREFIX} hex digits)")
    p.add_argument("--all", action="store_true",
                   help=f"one row per model even for runs of more than {SHOW_ROWS} models")
    p.add_argument("--store", metavar="DIR", help=_BOTH_STORES)
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser("run", help="train (or reuse from the store) the book's experiments",
                       epilog="`superposition list` shows the experiments, by chapter; the "
                              "presets it also lists are trained with `superposition train`.")
    p.add_argument("names", nargs="*", metavar="NAME", help="experiments of the book")
    p.add_argument("--all", action="store_true", help="every registered experiment")
    p.add_argument("--profile", default=None, metavar="P", help=_PROFILE)
    p.add_argument("--threads", type=int, default=None, metavar="T",
                   help="torch intra-op CPU threads (default: torch's)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--retrain", action="store_true", help="train from scratch, replacing entries")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="train on a local Dask cluster of N worker processes, one experiment "
                        "per task (needs the cluster extra)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="train on the running Dask scheduler at ADDRESS (tcp://HOST:PORT) "
                        "instead (workers need this library, not the repository)")
    p.add_argument("--store", metavar="DIR", help=_RUN_STORE)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("figures", help="export the book's figures (HTML, SVG, PNG, JSON, CSV)")
    fsub = p.add_subparsers(dest="figures_command", required=True, metavar="ACTION")
    q = fsub.add_parser("export", help="write every figure's offline HTML, SVG, PNG, Vega-Lite "
                        "spec and data CSV")
    q.add_argument("--chapter", default=None, metavar="C",
                   help="only this chapter (file stem, e.g. toy-model); default: all")
    q.add_argument("--out", default="chapters/figures", metavar="DIR",
                   help="output root; files go to DIR/CHAPTER/ (default: chapters/figures)")
    q.add_argument("--profile", default=None, metavar="P", help=_PROFILE)
    q.add_argument("--store", metavar="DIR", help=_RUN_STORE)
    q.add_argument("--train", action="store_true",
                   help="train missing runs first (by default only smoke runs are trained; "
                        "a missing paper run is an error naming the command that trains it)")
    q.set_defaults(func=_cmd_figures_export)

    p = sub.add_parser("site", help="finish the rendered book's site")
    ssub = p.add_subparsers(dest="site_command", required=True, metavar="ACTION")
    q = ssub.add_parser("add-reference", help="add the API reference's pages (built into "
                        "SITE/api/) to the site's search index and sitemap")
    q.add_argument("--site", default="_book", metavar="SITE",
                   help="the rendered site (default: _book, Quarto's output directory)")
    q.set_defaults(func=_cmd_site_add_reference)

    p = sub.add_parser("migrate", help="rename runs cached by an earlier key format to this "
                       "version's keys (no retraining)")
    p.add_argument("--store", metavar="DIR", help=_BOOK_STORE)
    p.set_defaults(func=_cmd_migrate)

    p = sub.add_parser("verify", help="retrain stored runs and compare them bit for bit; "
                       "stale ones that reproduce are marked current")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="experiment names (their paper run unless --profile) or run keys")
    p.add_argument("--all", action="store_true", help="every run of the store")
    p.add_argument("--replace", action="store_true",
                   help="store the retrained run where the bits differ")
    p.add_argument("--first-steps", type=int, metavar="K",
                   help="retrain only the first K steps of each stale run and compare them with "
                        "what it recorded then (a quick check of long runs; current runs are "
                        "skipped)")
    p.add_argument("--profile", choices=("paper", "smoke"), help="the experiments' profile "
                   "(default: paper)")
    p.add_argument("--store", metavar="DIR", help=_BOOK_STORE)
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar while retraining")
    p.set_defaults(func=_cmd_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``superposition`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` if omitted.

    Returns
    -------
    int
        Exit status: 0 on success, 2 for usage errors (unknown name or key, corrupt entry,
        invalid option, unusable device or store; a one-line message goes to stderr), 1 if
        training diverged or needs more memory than is free, 130 (Ctrl-C) or 143 (SIGTERM) if
        it was interrupted (its checkpoint is kept, and the same command resumes it).

    Raises
    ------
    SystemExit
        From argparse, for malformed command lines and ``--help``.

    Examples
    --------
    >>> import contextlib, io
    >>> out = io.StringIO()
    >>> with contextlib.redirect_stdout(out):
    ...     status = main(["list"])
    >>> status, "intro" in out.getvalue(), "intro-relu" in out.getvalue()
    (0, True, True)
    """
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except _UsageError as e:
        return _usage(args.command, e)
    except BrokenPipeError:  # e.g. `superposition list | head`
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (open until exit, which flushes)
        except OSError:  # pragma: no cover
            pass
        return 0
    except (KeyError, ValueError) as e:  # the store's errors, once a command has loaded it
        from .core.store import CorruptRunError, MissingRunError

        if not isinstance(e, (MissingRunError, CorruptRunError)):
            raise
        return _usage(args.command, e)


def _usage(command: str, error: Exception) -> int:
    print(f"superposition {command}: {error}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
