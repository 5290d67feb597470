"""The registry of the book's experiments: every chapter's named runs, one spec per profile.

An :class:`Experiment` holds one :class:`~superposition_lib.core.config.ExperimentSpec` per
*profile* (:data:`PROFILES`); the chapters' modules :func:`register` theirs when
:mod:`superposition_lib.experiments` is imported, and :func:`load` returns a profile's run
from its store (:func:`default_store`), training it only where allowed.

Examples
--------
>>> from superposition_lib import experiments
>>> get("intro-relu").spec("smoke").n_features
5
"""


from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from ..core.config import ExperimentSpec
from ..core.pipeline import load_or_train
from ..core.run import Run
from ..core.store import MissingRunError, RunStore, user_root
from .chapters import module_name

__all__ = [
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
]

#: Environment variable selecting the profile.
ENV_PROFILE = "SUPERPOSITION_PROFILE"

#: Known profiles, the default first.
PROFILES = ("paper", "smoke")

#: The pseudo-chapter of the experiments that belong to no chapter, the runs to try from a
#: shell (:mod:`~superposition_lib.experiments.shell`).
SHELL = "shell"

#: Every registered experiment by name, in registration order.
REGISTRY: dict[str, Experiment] = {}


def current_profile(profile: str | None = None) -> str:
    """The profile to use: ``profile`` if given, else ``$SUPERPOSITION_PROFILE``, else ``paper``.

    Parameters
    ----------
    profile : str, optional
        An explicit choice, which wins over the environment.

    Returns
    -------
    str
        One of :data:`PROFILES`.

    Raises
    ------
    ValueError
        If the profile is unknown; the message lists the allowed ones.

    Examples
    --------
    >>> current_profile("smoke")
    'smoke'
    >>> current_profile("fast")
    Traceback (most recent call last):
    ...
    ValueError: unknown profile 'fast' (from the argument); allowed profiles are paper, smoke
    """
    source = "the argument"
    if profile is None:
        profile = os.environ.get(ENV_PROFILE) or "paper"
        source = f"${ENV_PROFILE}"
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r} (from {source}); allowed profiles are "
                         f"{', '.join(PROFILES)}")
    return profile


def default_store(profile: str | None = None) -> RunStore:
    """The store of a profile's runs when none is given.

    Parameters
    ----------
    profile : str, optional
        Defaults to :func:`current_profile`.

    Returns
    -------
    RunStore
        For ``paper``, ``RunStore()``: ``$SUPERPOSITION_DATA``, else the repository's ``data/``,
        where the book's runs are committed. For ``smoke``, the store of ad-hoc runs
        (:func:`~superposition_lib.core.store.user_root`: ``$SUPERPOSITION_DATA``, else the user's
        cache), so that quick runs never write into the committed ``data/``.

    Examples
    --------
    >>> from superposition_lib.core.store import user_root
    >>> default_store("paper").root == RunStore().root, default_store("smoke").root == user_root()
    (True, True)
    """
    return RunStore() if current_profile(profile) == "paper" else RunStore(user_root())


@dataclass(frozen=True)
class Experiment:
    """A named experiment of a chapter (or of no chapter), with one spec per profile.

    Attributes
    ----------
    name : str
        Unique short name, as typed after ``superposition train`` or ``superposition run``.
    chapter : str
        The chapter it belongs to (the file stem in ``chapters/``, e.g. ``"toy-model"``), or
        :data:`SHELL` for a run to try from a shell.
    description : str
        One line saying what it reproduces.
    profiles : dict of str to ExperimentSpec
        A spec for every profile in :data:`PROFILES`.
    best_of : bool
        Whether :func:`load` keeps only the lowest-loss restart of each instance.

    Examples
    --------
    >>> e = get("basic-relu")
    >>> e.spec("paper").n_features, e.spec("paper").n_hidden
    (20, 5)
    """

    name: str
    chapter: str
    description: str
    profiles: dict
    best_of: bool = True

    def __post_init__(self) -> None:
        if self.chapter != SHELL:
            module_name(self.chapter)  # a chapter of the book
        missing = [p for p in PROFILES if p not in self.profiles]
        if missing:
            raise ValueError(f"experiment {self.name!r}: no spec for profile(s) "
                             f"{', '.join(missing)}")

    def spec(self, profile: str | None = None) -> ExperimentSpec:
        """The spec of one profile, named after this experiment.

        Parameters
        ----------
        profile : str, optional
            ``"paper"`` or ``"smoke"``; defaults to :func:`current_profile`.

        Returns
        -------
        ExperimentSpec

        Examples
        --------
        >>> get("intro-relu").spec("smoke").name
        'intro-relu'
        """
        return self.profiles[current_profile(profile)].replace(name=self.name)


def register(experiment: Experiment) -> Experiment:
    """Add an experiment to :data:`REGISTRY`.

    Parameters
    ----------
    experiment : Experiment
        Its name must not be registered already (re-registering the same one is allowed).

    Returns
    -------
    Experiment
        ``experiment``, so that modules can write ``X = register(Experiment(...))``.

    Raises
    ------
    ValueError
        If another experiment has the same name.

    Examples
    --------
    >>> register(get("intro-relu")) is get("intro-relu")
    True
    """
    if experiment.name in REGISTRY and REGISTRY[experiment.name] != experiment:
        raise ValueError(f"experiment {experiment.name!r} is already registered")
    REGISTRY[experiment.name] = experiment
    return experiment


def get(name: str) -> Experiment:
    """The experiment called ``name``.

    Parameters
    ----------
    name : str
        A registered name.

    Returns
    -------
    Experiment

    Raises
    ------
    ValueError
        If there is none; the message lists the registered names.

    Examples
    --------
    >>> get("intro-linear").spec("paper").model
    'linear'
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown experiment {name!r}; registered experiments are "
                         f"{', '.join(REGISTRY)}") from None


def list_experiments(chapter: str | None = None) -> list[Experiment]:
    """Registered experiments, optionally only those of one chapter.

    Parameters
    ----------
    chapter : str, optional
        A chapter's file name without ``.qmd`` (e.g. ``"toy-model"``), or :data:`SHELL`; all
        experiments if omitted.

    Returns
    -------
    list of Experiment

    Examples
    --------
    >>> sorted({e.chapter for e in list_experiments()})  # doctest: +NORMALIZE_WHITESPACE
    ['adversarial', 'computation', 'continuous-features', 'learning-dynamics',
     'pca-vs-superposition', 'phase-change', 'privileged-basis', 'shell', 'toy-model',
     'uniform-geometry']
    """
    return [e for e in REGISTRY.values() if chapter is None or e.chapter == chapter]


def book_experiments() -> list[Experiment]:
    """The experiments of the book's chapters (every registered one but the :data:`SHELL`
    runs), in registration order: those whose ``paper`` runs are committed under ``data/``.

    Returns
    -------
    list of Experiment

    Examples
    --------
    >>> len(book_experiments()) == len(REGISTRY) - len(list_experiments(SHELL))
    True
    """
    return [e for e in REGISTRY.values() if e.chapter != SHELL]


def load(name: str, profile: str | None = None, *, store: RunStore | None = None,
         progress: bool = False, callback: Callable[[int], None] | None = None,
         train: bool | None = None) -> Run:
    """Load an experiment's run for a profile (training it only where allowed).

    Parameters
    ----------
    name : str
        A registered experiment.
    profile : str, optional
        Defaults to :func:`current_profile`.
    store : RunStore, optional
        Defaults to :func:`default_store` of the profile: the repository's ``data/`` for
        ``paper``, the user's cache for ``smoke`` (``$SUPERPOSITION_DATA`` for both).
    progress : bool
        Show a progress bar while training.
    callback : callable, optional
        Called as ``callback(step)`` after every training update (only when training).
    train : bool, optional
        Whether a missing (or unusable) run may be trained and stored. The default, None, trains
        only ``smoke`` runs (seconds each): the book under the ``paper`` profile renders from
        the committed runs alone and never starts a long training by surprise. Train paper runs
        with ``superposition run NAME`` or ``train=True``.

    Returns
    -------
    Run
        With ``best_of`` experiments, the lowest-loss restart of every instance
        (:meth:`~superposition_lib.core.run.Run.best`).

    Raises
    ------
    MissingRunError
        If the run is not stored and may not be trained; the message names the experiment and
        the command that trains it.
    CorruptRunError
        If the stored entry is unusable and may not be retrained.

    Examples
    --------
    >>> import tempfile
    >>> run = load("intro-linear", "smoke")
    >>> run.W.shape
    (10, 2, 5)
    >>> load("intro-linear", "paper", store=RunStore(tempfile.mkdtemp()))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    superposition_lib.core.store.MissingRunError: experiment 'intro-linear' has no paper run ...
    """
    exp = get(name)
    profile = current_profile(profile)
    spec = exp.spec(profile)
    if train is None:
        train = profile == "smoke"
    store = default_store(profile) if store is None else store
    if train:
        run = load_or_train(spec, store=store, progress=progress, callback=callback)
    else:
        try:
            run = store.load(spec)
        except MissingRunError:
            raise MissingRunError(missing_message([exp], profile, store)) from None
    return run.best() if exp.best_of else run


def missing(experiments: list[Experiment], profile: str | None = None,
            store: RunStore | None = None) -> list[Experiment]:
    """The experiments whose run for ``profile`` is not in ``store``.

    Parameters
    ----------
    experiments : list of Experiment
    profile : str, optional
        Defaults to :func:`current_profile`.
    store : RunStore, optional
        Defaults to :func:`default_store` of the profile.

    Returns
    -------
    list of Experiment
        In the order given.

    Examples
    --------
    >>> import tempfile
    >>> [e.name for e in missing([get("intro-relu")], "smoke", RunStore(tempfile.mkdtemp()))]
    ['intro-relu']
    """
    store = default_store(profile) if store is None else store
    return [e for e in experiments if e.spec(profile) not in store]


def missing_message(experiments: list[Experiment], profile: str | None = None,
                    store: RunStore | None = None) -> str:
    """One line naming runs that are not stored and the command that trains them.

    Parameters
    ----------
    experiments : list of Experiment
        The missing ones (see :func:`missing`).
    profile : str, optional
        Defaults to :func:`current_profile`.
    store : RunStore, optional
        Defaults to :func:`default_store` of the profile.

    Returns
    -------
    str

    Examples
    --------
    >>> print(missing_message([get("intro-relu")], "paper", RunStore("/tmp/s")))
    ... # doctest: +NORMALIZE_WHITESPACE
    experiment 'intro-relu' has no paper run in /tmp/s/runs; train it with `superposition run
    intro-relu --profile paper --store /tmp/s`
    """
    profile = current_profile(profile)
    store = default_store(profile) if store is None else store
    names = [e.name for e in experiments]
    which = (f"experiment {names[0]!r} has" if len(names) == 1
             else f"experiments {', '.join(names)} have")
    where = "" if store.root == default_store(profile).root else f" --store {store.root}"
    chosen = "--all" if len(names) == len(REGISTRY) > 1 else " ".join(names)
    return (f"{which} no {profile} run in {store.runs_dir}; train "
            f"{'it' if len(names) == 1 else 'them'} with `superposition run {chosen} "
            f"--profile {profile}{where}`")
