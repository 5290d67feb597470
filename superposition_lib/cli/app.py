"""The ``superposition`` command's parser and entry point."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .commands import (
    _BOOK_STORE,
    _BOTH_STORES,
    _PROFILE,
    _RUN_STORE,
    _USER_STORE,
    EXIT_USAGE,
    MIN_KEY_PREFIX,
    _cmd_figures_export,
    _cmd_list,
    _cmd_migrate,
    _cmd_run,
    _cmd_show,
    _cmd_site_add_reference,
    _cmd_train,
    _cmd_verify,
    _UsageError,
)
from .output import SHOW_ROWS

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="superposition",
        description="Toy models of superposition: train the book's experiments and "
                    "a few runs of no chapter (cached in a run store) and inspect cached runs. "
                    "`superposition list` shows every name.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list every name: the runs of no chapter and the book's "
                       "experiments (or, with --cached, the stored runs)")
    p.add_argument("--cached", action="store_true", help="list the runs in the store instead")
    p.add_argument("--store", metavar="DIR", help=_BOTH_STORES)
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("train", help="train an experiment (or load it from the store) "
                       "and summarise it")
    p.add_argument("name", metavar="NAME", help="an experiment, of the book or of no chapter "
                   "(`superposition list` shows them)")
    p.add_argument("--profile", default=None, metavar="P",
                   help=_PROFILE)
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
                              "runs of no chapter it also lists are trained with "
                              "`superposition train`.")
    p.add_argument("names", nargs="*", metavar="NAME", help="experiments of the book")
    p.add_argument("--all", action="store_true", help="every experiment of the book")
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
        from ..core.store import CorruptRunError, MissingRunError

        if not isinstance(e, (MissingRunError, CorruptRunError)):
            raise
        return _usage(args.command, e)


def _usage(command: str, error: Exception) -> int:
    print(f"superposition {command}: {error}", file=sys.stderr)
    return EXIT_USAGE
