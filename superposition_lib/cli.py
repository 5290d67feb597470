"""The ``superposition`` command: list presets, train them (cached), show cached runs.

Usage::

    superposition list                      # named presets
    superposition list --cached             # runs in the stores (ad-hoc, then the book's)
    superposition train intro               # train (or load) a preset, print a summary
    superposition train basic --steps 2000 --seed 1 --device cuda
    superposition show 3f2a9c0d1e4b5a6f     # a cached run (a unique key prefix is enough)
    superposition run --all --profile paper # train (or reuse) every experiment of the book
    superposition run intro-relu --profile smoke
    superposition run --all --workers 4     # the same on a local Dask cluster
    superposition figures export --chapter toy-model --out chapters/figures
    superposition migrate                   # rename runs cached under an earlier key format

``train`` goes through :func:`~superposition_lib.store.load_or_train` into the store of ad-hoc
runs (:func:`~superposition_lib.store.user_root`); ``run`` and ``figures export`` use the book's
store, the repository's ``data/``. A run already in the store is loaded, not retrained
(``--retrain`` forces it), and an interrupted run (Ctrl-C or SIGTERM; exit status 130 or 143)
resumes from its checkpoint when the same command is run again. Errors (unknown preset or key, a
corrupt entry, invalid options, an unusable device or store) print one line to stderr and exit
with status 2; a diverged run, or one that needs more memory than is free, exits with 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

import pandas as pd
import torch

from . import metrics
from .config import ExperimentSpec
from .presets import PRESETS, get_preset
from .run import Run
from .store import CorruptRunError, MissingRunError, RunStore, load_or_train, user_root
from .train import DivergenceError, TrainingInterrupted, check_device

__all__ = ["main", "summary_table"]

#: Exit status for usage errors (unknown preset or key, corrupt entry, invalid option).
EXIT_USAGE = 2
# The --store help of each command: which store it defaults to.
_BOOK_STORE = ("store root (default: $SUPERPOSITION_DATA, else the repository's data/, where the "
               "book's runs are committed)")
_USER_STORE = ("store root (default: $SUPERPOSITION_DATA, else ~/.cache/superposition, the "
               "store of ad-hoc runs)")
_BOTH_STORES = ("store root (default: the store of ad-hoc runs, then the book's data/; "
                "$SUPERPOSITION_DATA for both)")
#: Most models ``show`` prints one row for before it summarises (``--all`` prints every row).
SHOW_ROWS = 40


class _UsageError(Exception):
    """A bad preset name or option value; reported in one line, exit status 2."""


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
        :func:`~superposition_lib.metrics.n_represented`) and ``D*``
        (:func:`~superposition_lib.metrics.dimensions_per_feature`).

    Examples
    --------
    >>> from superposition_lib.train import train
    >>> run = train(ExperimentSpec(feature_probability=[1.0, 0.5], steps=50, batch_size=128),
    ...             progress=False)
    >>> list(summary_table(run).columns)
    ['instance', 'density', 'loss', 'loss_se', 'represented', 'D*']
    """
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
    return pd.DataFrame(rows).to_string(index=False)


def _print_run(run: Run, store: RunStore, *, trained: bool | None = None,
               every_row: bool = False) -> None:
    key = run.spec.key()
    manifest = store.manifest(key)
    print(f"run {key}{f' ({run.spec.name})' if run.spec.name else ''}: {_describe(run.spec)}")
    print(f"cached in {store.path(key)}")
    origin = "" if trained is None else (" (just trained)" if trained else " (loaded from cache)")
    print(f"wall time {run.wall_time:.1f} s{origin}; created {manifest.get('created')}, "
          f"library {manifest.get('library_version')}, torch {manifest.get('torch_version')}"
          f"{', device ' + manifest['device'] if manifest.get('device') else ''}")
    if every_row or len(run.loss) <= SHOW_ROWS:
        print(f"final loss on {run.eval_samples} samples per model:")
        print(_format_table(run))
    else:
        print(f"{len(run.loss)} models, summarised by density (--all prints every model):")
        print(_format_summary(run))


def _left_aligned(df: pd.DataFrame, columns: list[str]) -> str:
    """``df.to_string`` with some text columns (and their headers) left-aligned."""
    formatters = {}
    for c in columns:
        width = max(len(c), *(len(str(v)) for v in df[c]))
        formatters[c] = lambda v, w=width: f"{v!s:<{w}}"
    text = df.to_string(index=False, formatters=formatters, justify="left")
    return "\n".join(line.rstrip() for line in text.splitlines())


# ------------------------------------------------------------------------------ commands
def _cmd_list(args: argparse.Namespace) -> int:
    if args.cached:
        for store in _stores(args.store):
            rows = []
            for m in store.entries():
                try:
                    spec = ExperimentSpec.from_dict(m["spec"])
                except (TypeError, ValueError):
                    continue
                rows.append({"key": m["key"], "name": spec.name, "model": spec.model,
                             "n": spec.n_features, "m": spec.n_hidden,
                             "instances": spec.n_instances, "steps": spec.steps,
                             "seed": spec.seed, "wall_s": round(float(m.get("wall_time", 0)), 1),
                             "created": m.get("created")})
            if rows:
                print(f"cached runs in {store.runs_dir}:")
                print(pd.DataFrame(rows).to_string(index=False))
            else:
                print(f"no cached runs in {store.runs_dir}")
        return 0
    rows = [{"preset": p.name, "model": p.spec.model, "n": p.spec.n_features,
             "m": p.spec.n_hidden, "instances": p.spec.n_instances, "steps": p.spec.steps,
             "description": p.description} for p in PRESETS.values()]
    print(_left_aligned(pd.DataFrame(rows), ["preset", "model", "description"]))
    print("\ntrain one with `superposition train PRESET` (cached; see --help for options)")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    try:
        preset = get_preset(args.preset)
        changes = {}
        if args.steps is not None:
            changes["steps"] = args.steps
            changes["history_every"] = None  # recomputed from the new number of steps
        if args.seed is not None:
            changes["seed"] = args.seed
        spec = preset.spec.replace(**changes) if changes else preset.spec
    except ValueError as e:
        raise _UsageError(e) from None
    try:
        device = check_device(args.device)
    except ValueError as e:
        raise _UsageError(f"--{e}") from None
    _set_threads(args.threads)
    store = _writable(RunStore(args.store or user_root()))
    trained = []

    def mark_trained(step: int) -> None:
        if not trained:
            trained.append(step)

    status = _training(lambda: load_or_train(spec, store=store, device=device,
                                             progress=not args.no_progress,
                                             retrain=args.retrain, callback=mark_trained),
                       spec, store, "")
    if isinstance(status, int):
        return status
    _print_run(status, store, trained=bool(trained))
    return 0


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        if threads < 1:
            raise _UsageError(f"--threads: must be >= 1; got {threads}")
        torch.set_num_threads(threads)


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


def _training(work, spec: ExperimentSpec, store: RunStore, label: str) -> Run | int:
    """Run ``work()`` (a training), turning its expected failures into one line on stderr and
    an exit status: 128 + the signal when interrupted (its checkpoint kept), 1 when it diverged
    or needs more memory than is free."""
    try:
        return work()
    except KeyboardInterrupt as e:
        signum = e.signum if isinstance(e, TrainingInterrupted) else 2
        print(f"\n{label}interrupted; progress is checkpointed in "
              f"{store.checkpoint_path(spec).parent} (written every minute, on Ctrl-C and on "
              f"SIGTERM). Run the same command again to resume.", file=sys.stderr)
        return 128 + signum
    except (DivergenceError, MemoryError) as e:
        print(f"superposition: {label}{e}", file=sys.stderr)
        return 1


def _stores(root: str | None) -> list[RunStore]:
    """The store given with --store, else the ad-hoc runs' and then the book's."""
    if root is not None:
        return [RunStore(root)]
    stores = [RunStore(user_root()), RunStore()]
    return stores if stores[0].root != stores[1].root else stores[:1]


def _resolve_key(stores: list[RunStore], key: str) -> tuple[RunStore, str]:
    found = [(store, k) for store in stores for k in store.keys()
             if k == key or (len(key) >= 4 and k.startswith(key.lower()))]
    exact = [(store, k) for store, k in found if k == key]
    if exact or len(found) == 1:
        return (exact or found)[0]
    if len(found) > 1:
        raise MissingRunError(f"key prefix {key!r} is ambiguous: "
                              f"{', '.join(k for _, k in found)}")
    raise MissingRunError(f"no cached run {key!r} in "
                          f"{' or '.join(str(s.runs_dir) for s in stores)}; "
                          f"`superposition list --cached` lists them")


def _cmd_show(args: argparse.Namespace) -> int:
    store, key = _resolve_key(_stores(args.store), args.key)
    _print_run(store.load_key(key), store, every_row=args.all)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from . import experiments

    try:
        profile = experiments.current_profile(args.profile)
        if args.all and args.names:
            raise _UsageError("give experiment names or --all, not both")
        if not args.all and not args.names:
            raise _UsageError("name at least one experiment, or --all; registered experiments "
                              f"are {', '.join(experiments.REGISTRY)}")
        chosen = (list(experiments.REGISTRY.values()) if args.all
                  else [experiments.get(n) for n in args.names])
    except ValueError as e:
        raise _UsageError(e) from None
    _set_threads(args.threads)
    store = _writable(RunStore(args.store))
    if args.workers is not None or args.scheduler is not None:
        return _run_on_dask(args, chosen, profile, store)
    rows = []
    for exp in chosen:
        spec = exp.spec(profile)
        trained = []
        print(f"{exp.name} [{profile}]: {_describe(spec)}", flush=True)
        run = _training(lambda: load_or_train(spec, store=store, progress=not args.no_progress,
                                              retrain=args.retrain,
                                              callback=lambda step: trained or
                                              trained.append(step)),
                        spec, store, f"{exp.name}: ")
        if isinstance(run, int):
            return run
        rows.append({"experiment": exp.name, "key": spec.key(),
                     "status": "trained" if trained else "cached",
                     "wall_s": round(run.wall_time, 1), "mean_loss": f"{run.loss.mean():.4g}"})
    print(f"profile {profile}, store {store.runs_dir}:")
    print(pd.DataFrame(rows).to_string(index=False))
    return 0


def _run_on_dask(args: argparse.Namespace, chosen: list, profile: str, store: RunStore) -> int:
    """``run --workers N`` or ``--scheduler ADDRESS``: one Dask task per experiment to train."""
    from .cluster import connect, train_many

    if args.workers is not None and args.scheduler is not None:
        raise _UsageError("--workers, --scheduler: give one of them, not both")
    specs = [exp.spec(profile) for exp in chosen]
    before = {spec.key() for spec in specs if spec in store and not args.retrain}
    print(f"{len(specs) - len(before)} of {len(specs)} experiments to train on "
          f"{args.scheduler or f'{args.workers} local Dask workers'}", flush=True)
    try:
        with connect(workers=args.workers, scheduler=args.scheduler) as client:
            runs = train_many(specs, client, store=store, retrain=args.retrain)
    except ValueError as e:
        raise _UsageError(f"--{e}") from None
    except (ImportError, OSError) as e:
        raise _UsageError(e) from None
    except KeyboardInterrupt:
        print("\ninterrupted; the runs that had finished are stored. Run the same command "
              "again to train the rest.", file=sys.stderr)
        return 130
    rows = [{"experiment": spec.name, "key": spec.key(),
             "status": "cached" if spec.key() in before else "trained",
             "wall_s": round(runs[spec.key()].wall_time, 1),
             "mean_loss": f"{runs[spec.key()].loss.mean():.4g}"} for spec in specs]
    print(f"profile {profile}, store {store.runs_dir}:")
    print(pd.DataFrame(rows).to_string(index=False))
    return 0


def _cmd_figures_export(args: argparse.Namespace) -> int:
    from . import book, experiments

    start = time.monotonic()

    def report(chapter: str, label: str, paths: list) -> None:
        print(f"{time.monotonic() - start:6.0f} s  {chapter}/{label}: {len(paths)} files",
              flush=True)

    try:
        profile = experiments.current_profile(args.profile)
        written = book.export_chapter_figures(args.chapter, out_dir=args.out, profile=profile,
                                              store=RunStore(args.store),
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
    store = RunStore(args.store)
    renamed = store.migrate()
    for old, new in renamed:
        print(f"{old} -> {new}")
    print(f"{len(renamed)} run{'s' if len(renamed) != 1 else ''} renamed in {store.runs_dir}")
    return 0


# ------------------------------------------------------------------------------ entry point
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="superposition",
        description="Toy models of superposition: train named presets (cached in the run "
                    "store) and inspect cached runs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list named presets (or, with --cached, stored runs)")
    p.add_argument("--cached", action="store_true", help="list the runs in the store instead")
    p.add_argument("--store", metavar="DIR", help=_BOTH_STORES)
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("train", help="train a preset (or load it from the store of ad-hoc "
                       "runs) and summarise it")
    p.add_argument("preset", metavar="PRESET", help=f"one of: {', '.join(PRESETS)}")
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
    p.add_argument("key", metavar="KEY", help="run key (or a unique prefix of at least 4 digits)")
    p.add_argument("--all", action="store_true",
                   help=f"one row per model even for runs of more than {SHOW_ROWS} models")
    p.add_argument("--store", metavar="DIR", help=_BOTH_STORES)
    p.set_defaults(func=_cmd_show)

    from .experiments import REGISTRY

    p = sub.add_parser("run", help="train (or reuse from the store) the book's experiments",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="experiments:\n" + "\n".join(
                           f"  {e.name:<32} {e.chapter}" for e in REGISTRY.values()))
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="experiment names (listed below)")
    p.add_argument("--all", action="store_true", help="every registered experiment")
    p.add_argument("--profile", default=None, metavar="P",
                   help="paper or smoke (default: $SUPERPOSITION_PROFILE, else paper)")
    p.add_argument("--threads", type=int, default=None, metavar="T",
                   help="torch intra-op CPU threads (default: torch's)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--retrain", action="store_true", help="train from scratch, replacing entries")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="train on a local Dask cluster of N worker processes, one experiment "
                        "per task (needs the cluster extra)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="train on the running Dask scheduler at ADDRESS instead (workers need "
                        "this library, not the repository)")
    p.add_argument("--store", metavar="DIR", help=_BOOK_STORE)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("figures", help="export the book's figures (HTML, SVG, PNG, JSON, CSV)")
    fsub = p.add_subparsers(dest="figures_command", required=True, metavar="ACTION")
    q = fsub.add_parser("export", help="write every figure's offline HTML, SVG, PNG, Vega-Lite "
                        "spec and data CSV")
    q.add_argument("--chapter", default=None, metavar="C",
                   help="only this chapter (file stem, e.g. toy-model); default: all")
    q.add_argument("--out", default="chapters/figures", metavar="DIR",
                   help="output root; files go to DIR/CHAPTER/ (default: chapters/figures)")
    q.add_argument("--profile", default=None, metavar="P",
                   help="paper or smoke (default: $SUPERPOSITION_PROFILE, else paper)")
    q.add_argument("--store", metavar="DIR", help=_BOOK_STORE)
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
        Exit status: 0 on success, 2 for usage errors (unknown preset or key, corrupt entry,
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
    >>> status, "intro" in out.getvalue()
    (0, True)
    """
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except (MissingRunError, CorruptRunError, _UsageError) as e:
        print(f"superposition {args.command}: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `superposition list | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:  # pragma: no cover
            pass
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
