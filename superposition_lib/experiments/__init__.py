"""The book's experiments, as data.

Every chapter topic has a module here (e.g. :mod:`~superposition_lib.experiments.toy_model`)
that names its experiments; :mod:`~superposition_lib.experiments.shell` names the few runs of no
chapter, to try from a shell, in the same registry. An :class:`Experiment` holds one
:class:`~superposition_lib.core.config.ExperimentSpec` per *profile*:

``paper``
    Full fidelity: what the published book shows. Its runs are committed under ``data/``.
``smoke``
    Tiny and fast (seconds): what the test-suite executes the chapters with. Its runs go to the
    user's cache, never into the committed ``data/`` (:func:`default_store`).

The profile is chosen with the environment variable ``SUPERPOSITION_PROFILE`` (default
``paper``) or passed explicitly. A chapter cell reads::

    run = experiments.load("intro-relu")      # load_or_train(spec for the current profile)
    df = toy_model.feature_frame(run)         # tidy DataFrame
    figures.intro_geometry(df, gram)          # Altair chart

Each chapter's figures, which join its frames to charts, live one layer up, in
:mod:`superposition_lib.book`, so that this package does not import
:mod:`superposition_lib.figures` (``tests/test_layers.py`` checks it).

Examples
--------
>>> from superposition_lib import experiments
>>> [e.name for e in experiments.list_experiments("toy-model")][:2]
['intro-relu', 'intro-linear']
>>> experiments.get("intro-relu").spec("smoke").n_features
5
"""

import importlib

from .chapters import CHAPTERS, module_name
from .registry import (
    ENV_PROFILE,
    PROFILES,
    REGISTRY,
    SHELL,
    Experiment,
    book_experiments,
    current_profile,
    default_store,
    get,
    list_experiments,
    load,
    missing,
    missing_message,
    register,
)
from .votes import seed_vote

# Every chapter's experiments register themselves when its module is imported.
for _chapter in CHAPTERS:
    importlib.import_module(f"{__name__}.{module_name(_chapter)}")
importlib.import_module(f"{__name__}.shell")  # the runs of no chapter

__all__ = [
    "CHAPTERS",
    "ENV_PROFILE",
    "PROFILES",
    "REGISTRY",
    "SHELL",
    "Experiment",
    "book_experiments",
    "current_profile",
    "default_store",
    "get",
    "list_experiments",
    "load",
    "missing",
    "missing_message",
    "register",
    "seed_vote",
]
