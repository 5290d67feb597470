"""Regenerating stored runs: retrain a run's spec with this library and compare it bit for bit.

A stored run is a *current* result when its manifest names this library's
:data:`~superposition_lib.core.config.NUMERICS_VERSION`; the store refuses other entries as stale
(:class:`~superposition_lib.core.store.StaleRunError`). :func:`verify` settles each entry by
retraining it: an entry whose every array comes back identical is current (a stale one gets this
version's numerics record, its arrays untouched); one that differs is reported, with the largest
difference of each array, and with ``replace=True`` is replaced by the retrained run.
``superposition verify`` runs it from the command line.

What reproduces where: the fused C step (tied models on sparse uniform data, on the CPU with the
C kernels built) gives the same bits on every x86-64 instruction set, AVX-512, AVX2 or the
baseline; the general step's batched matrix products (PyTorch: other data, the absolute-value
model, adversarial training, and every model without a C compiler or on CUDA) may sum in
another order on other vector extensions or devices. Each manifest's ``numerics`` record says
which path computed the run (:func:`~superposition_lib.core.manifest.numerics_record`).

A long run can be checked on its first steps first (``first_steps``, ``superposition verify
--first-steps K``): its spec is retrained for K steps and every model's training loss at the
recorded steps, and the snapshots, are compared with what the stored run recorded in those
steps. A single changed bit in the data, the kernels or the optimiser shows within a few hundred
steps (the intro-linear run stored before the fused small-model step differed in its loss
history by 1.5e-8 within 300 steps). The entry is then marked current with a note that only its
first steps were retrained, which a full :func:`verify` later replaces.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from . import config
from .manifest import numerics_record
from .run import Run
from .store import RunStore
from .train import train, train_block

__all__ = ["OUTCOMES", "Regeneration", "differences", "early_differences", "verify"]

#: What :func:`verify` did with an entry (``Regeneration.outcome``).
OUTCOMES = {
    "reproduced": "a current entry, retrained bit for bit (one checked on its first steps "
                  "only loses that note)",
    "marked current": "a stale entry, retrained bit for bit: its manifest now names this "
                      "numerics version",
    "replaced": "a stale or current entry that differs, replaced by the retrained run",
    "differs": "the retrained run differs and the entry was left as it was",
    "first steps reproduced": "a stale entry whose first steps were retrained bit for bit: "
                              "current, with a note that the whole run is not retrained yet",
    "first steps differ": "a retraining of the first steps differs: the entry is stale",
}


@dataclass(frozen=True)
class Regeneration:
    """The outcome of retraining one stored run.

    Attributes
    ----------
    key : str
        The entry's key.
    name : str or None
        Its spec's name (the experiment).
    stale : bool
        Whether the entry named another numerics version than this library's.
    differences : dict of str to float
        For every array that differs, the largest absolute difference between the stored and
        the retrained values (``inf`` where the shapes differ); empty when all are identical.
    wall_time : float
        Seconds the retraining took.
    outcome : str
        One of :data:`OUTCOMES`.

    Examples
    --------
    >>> result = Regeneration("0123456789abcdef", "demo", stale=True, differences={"W": 2e-6},
    ...                       outcome="differs")
    >>> result.identical, OUTCOMES[result.outcome]
    (False, 'the retrained run differs and the entry was left as it was')
    """

    key: str
    name: str | None
    stale: bool
    differences: dict = field(default_factory=dict)
    wall_time: float = 0.0
    outcome: str = "reproduced"

    @property
    def identical(self) -> bool:
        """Whether every array came back with the same bits."""
        return not self.differences


def differences(stored: Run, retrained: Run) -> dict[str, float]:
    """The arrays in which two runs of one spec differ, with their largest absolute difference.

    Parameters
    ----------
    stored, retrained : Run
        Whole runs (not :meth:`~superposition_lib.core.run.Run.best` selections).

    Returns
    -------
    dict of str to float
        Array name (as in :meth:`~superposition_lib.core.run.Run.arrays`) to the largest absolute
        difference between its stored and retrained values, for the arrays that are not
        bit-identical; ``inf`` where an array is missing on one side or the shapes differ.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from superposition_lib import ExperimentSpec, train
    >>> run = train(ExperimentSpec(steps=20, batch_size=32), progress=False)
    >>> moved = replace(run, b=run.b + 0.5)
    >>> differences(run, run), {k: round(v, 3) for k, v in differences(run, moved).items()}
    ({}, {'b': 0.5})
    """
    a, b = stored.arrays(), retrained.arrays()
    out = {}
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b or a[name].shape != b[name].shape:
            out[name] = float("inf")
        elif not np.array_equal(a[name], b[name]):
            out[name] = float(np.abs(a[name].astype(np.float64)
                                     - b[name].astype(np.float64)).max())
    return out


def early_differences(stored: Run, steps: int, *, device: str = "cpu") -> dict[str, float]:
    """Retrain the first ``steps`` steps of a stored run's spec and compare them with what the
    stored run recorded during those steps.

    Parameters
    ----------
    stored : Run
        A whole stored run.
    steps : int
        Steps to retrain (at most ``stored.spec.steps``); the learning-rate schedule still spans
        the spec's steps, as in the stored run.
    device : str

    Returns
    -------
    dict of str to float
        ``history_loss`` (every model's training loss at the recorded steps up to ``steps``)
        and ``snapshot_*`` arrays (up to ``steps``) that differ, with their largest absolute
        difference; empty when all are identical.

    Raises
    ------
    ValueError
        If no training loss is recorded within ``steps`` (nothing to compare).

    Examples
    --------
    >>> from superposition_lib import ExperimentSpec, train
    >>> run = train(ExperimentSpec(steps=100, batch_size=32, history_every=10), progress=False)
    >>> early_differences(run, 30)
    {}
    """
    block = train_block(stored.spec, device=device, progress=False, until=steps)
    if not len(block.history_steps):
        raise ValueError(f"steps: no training loss is recorded in the first {steps} steps (the "
                         f"first is at step {stored.history_steps[0]})")
    rows = np.searchsorted(stored.history_steps, block.history_steps)
    out = {}
    pairs = [("history_loss", stored.history_loss[rows], block.history_loss)]
    count = len(block.snapshots.steps)
    for name in ("loss", "W", "b", "W_out", "D", "norms"):
        if getattr(block.snapshots, name) is not None and count:
            pairs.append((f"snapshot_{name}", getattr(stored.snapshots, name)[:count],
                          getattr(block.snapshots, name)))
    for name, a, b in pairs:
        if not np.array_equal(a, b):
            out[name] = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())
    return out


def verify(store: RunStore, keys: Iterable[str] | None = None, *, replace: bool = False,
           first_steps: int | None = None, progress: bool = False, device: str = "cpu",
           on_start: Callable[[str, Run, int], None] | None = None) -> Iterator[Regeneration]:
    """Retrain stored runs and compare them with what is stored, bit for bit.

    Parameters
    ----------
    store : RunStore
    keys : iterable of str, optional
        Entries to verify, in this order; every entry of the store by default.
    replace : bool
        Replace an entry whose retraining differs by the retrained run. Without it such an
        entry is left as it was (and stays stale if it was).
    first_steps : int, optional
        Retrain only this many steps of each stale entry (or up to its first recorded training
        loss, if that comes later) and compare them with its record of them
        (:func:`early_differences`); one that reproduces is marked current with a note saying
        so. Current entries are skipped, and ``replace`` does not apply.
    progress : bool
        Show a progress bar while retraining.
    device : str
        Where to retrain (the CPU for the committed runs: see the module docstring).
    on_start : callable, optional
        Called as ``on_start(key, stored_run, steps)`` before each retraining, with the number
        of steps it retrains (for progress lines).

    Yields
    ------
    Regeneration
        One per entry, as soon as it is settled.

    Raises
    ------
    MissingRunError, CorruptRunError
        If an entry is missing or unusable (a stale one is not unusable here).

    Examples
    --------
    >>> import tempfile
    >>> from superposition_lib import ExperimentSpec, RunStore, train
    >>> store = RunStore(tempfile.mkdtemp())
    >>> _ = store.save(train(ExperimentSpec(steps=30, batch_size=32), progress=False))
    >>> [(r.identical, r.outcome) for r in verify(store)]
    [(True, 'reproduced')]
    """
    for key in store.keys() if keys is None else keys:
        stored = store.load_key(key, allow_stale=True)
        record = store.manifest(key).get("numerics", {})
        stale = record.get("version") != config.NUMERICS_VERSION
        if first_steps is not None:
            if stale:
                yield _check_first_steps(store, key, stored, first_steps, device, on_start)
            continue
        if on_start is not None:
            on_start(key, stored, stored.spec.steps)
        retrained = train(stored.spec, device=device, progress=progress)
        diff = differences(stored, retrained)
        if not diff:
            outcome = "marked current" if stale else "reproduced"
            if stale or "checked" in record:  # now retrained in full, not only its first steps
                store.record_numerics(key, numerics_record(stored.spec, device))
        elif replace:
            store.save(retrained, device=device)
            outcome = "replaced"
        else:
            outcome = "differs"
        yield Regeneration(key, stored.spec.name, stale, diff, retrained.wall_time, outcome)


def _check_first_steps(store: RunStore, key: str, stored: Run, steps: int, device: str,
                       on_start) -> Regeneration:
    """:func:`verify` with ``first_steps`` for one stale entry."""
    steps = min(max(steps, int(stored.history_steps[0])), stored.spec.steps)
    if on_start is not None:
        on_start(key, stored, steps)
    start = time.perf_counter()
    diff = early_differences(stored, steps, device=device)
    if not diff:
        record = numerics_record(stored.spec, device)
        record["checked"] = (f"only the first {steps} of {stored.spec.steps} steps were "
                             f"retrained, reproducing the stored training losses and snapshots "
                             f"of those steps bit for bit; `superposition verify {key}` "
                             f"retrains the whole run")
        store.record_numerics(key, record)
    return Regeneration(key, stored.spec.name, True, diff, time.perf_counter() - start,
                        "first steps differ" if diff else "first steps reproduced")
