"""The ``superposition`` command: list, train and show the runs of named experiments.

Usage::

    superposition list                      # every name: runs of no chapter, then by chapter
    superposition list --cached             # runs in the stores (ad-hoc, then the book's)
    superposition train intro               # train (or load) a run, print a summary
    superposition train basic --steps 2000 --seed 1 --device cuda
    superposition train intro-relu          # an experiment of the book, with the same summary
    superposition show 3f2a9c0d1e4b5a6f     # a cached run (a unique key prefix is enough)
    superposition run --all --profile paper # train (or reuse) every experiment of the book
    superposition run intro-relu --profile smoke
    superposition run --all --workers 4     # the same on a local Dask cluster
    superposition figures export --chapter toy-model --out chapters/figures
    superposition migrate                   # rename runs cached under an earlier key format
    superposition verify intro-relu         # retrain a stored run, compare it bit for bit

Names. Every name is an *experiment* (:mod:`~superposition_lib.experiments`), with a ``paper``
and a ``smoke`` spec: one of a chapter of the book, or one of the few runs of no chapter to try
from a shell (:mod:`~superposition_lib.experiments.shell`: ``intro``, ``basic``, ``uniform``).
``superposition list`` shows them all. ``train`` takes any name; ``run`` takes the book's
experiments, and names ``train`` for the others.

Stores. ``train`` goes through :func:`~superposition_lib.core.pipeline.load_or_train` into the
store of ad-hoc runs (:func:`~superposition_lib.core.store.user_root`, the user's cache), whatever
the name.
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

from .app import main
from .commands import EXIT_USAGE, MIN_KEY_PREFIX
from .output import summary_table

__all__ = ["EXIT_USAGE", "MIN_KEY_PREFIX", "main", "summary_table"]
