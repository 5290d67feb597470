"""Training through the run store: the stored run of a spec, or a new one trained and stored.

:func:`load_or_train` is the one place where the trainer (:mod:`~superposition_lib.core.train`)
and the store (:mod:`~superposition_lib.core.store`) meet: it loads an entry, or trains the spec
under the store's lock, checkpointing to the store, and saves the result.
"""

from __future__ import annotations

import shutil
import sys
import warnings
from collections.abc import Callable

import torch

from .config import ExperimentSpec
from .guards import DivergenceError
from .run import Run
from .store import CorruptRunError, MissingRunError, RunStore, user_root
from .train import train

__all__ = ["load_or_train"]


def load_or_train(spec: ExperimentSpec, *, store: RunStore | None = None,
                  device: str | torch.device = "cpu", progress: bool = True,
                  retrain: bool = False, checkpoint_every: float = 60.0,
                  callback: Callable[[int], None] | None = None) -> Run:
    """The stored run of a spec, training (and storing) it first if needed.

    Parameters
    ----------
    spec : ExperimentSpec
        What to train.
    store : RunStore, optional
        Where runs are cached; if omitted, the store of ad-hoc runs at
        :func:`~superposition_lib.core.store.user_root`
        (``$SUPERPOSITION_DATA``, else the user's cache directory), never the book's ``data/``.
    device : str or torch.device
        Device to train on (the cache key does not depend on it).
    progress : bool
        Show a progress bar while training.
    retrain : bool
        Ignore any stored entry and any partial checkpoint, train from scratch, and replace the
        entry.
    checkpoint_every : float
        Seconds between checkpoints while training; a checkpoint is also written on Ctrl-C and
        SIGTERM. A process killed outright (SIGKILL, a power cut) loses at most this much
        training; the next call resumes from the last checkpoint.
    callback : callable, optional
        Passed to :func:`~superposition_lib.core.train.train`: called as ``callback(step)`` after
        every update.

    Returns
    -------
    Run
        The loaded or freshly trained run.

    Raises
    ------
    DivergenceError
        If training diverges (:class:`~superposition_lib.core.guards.NonFiniteLossError` included);
        nothing is stored and the partial checkpoint is removed.
    StoreWriteError
        If the run cannot be stored (a full disk); like any other failure that is not about the
        run itself (out of memory during the evaluation), it keeps the checkpoint, which
        :func:`~superposition_lib.core.train.train` writes after its last step too, so the next call
        evaluates and stores without training again.
    KeyboardInterrupt
        If training is interrupted (Ctrl-C or SIGTERM:
        :class:`~superposition_lib.core.train.TrainingInterrupted`); the checkpoint in
        :meth:`~superposition_lib.core.store.RunStore.checkpoint_path` is kept and the next call
        resumes from it.

    Notes
    -----
    Concurrent calls for one spec, from threads or processes, take turns through
    :meth:`~superposition_lib.core.store.RunStore.lock`: one trains, the others wait and then
    load its entry.

    Warns
    -----
    UserWarning
        If a stored entry is corrupt or mismatched (naming its key and the reason); the run is
        then retrained and the entry replaced.

    Examples
    --------
    >>> import tempfile
    >>> from superposition_lib.core.config import ExperimentSpec
    >>> store = RunStore(tempfile.mkdtemp())
    >>> spec = ExperimentSpec(n_features=5, n_hidden=2, feature_probability=[1.0, 0.5],
    ...                       steps=50, batch_size=128)
    >>> first = load_or_train(spec, store=store, progress=False)    # trains and stores
    >>> second = load_or_train(spec, store=store, progress=False)   # loads
    >>> bool((first.W == second.W).all()), store.keys() == [spec.key()]
    (True, True)
    """
    store = RunStore(user_root()) if store is None else store
    if not retrain:
        try:
            return store.load(spec)
        except (MissingRunError, CorruptRunError):
            pass  # decided again under the lock
    with store.lock(spec):  # another process training this spec finishes first
        return _train_locked(spec, store, device=device, progress=progress, retrain=retrain,
                             checkpoint_every=checkpoint_every, callback=callback)


def _train_locked(spec: ExperimentSpec, store: RunStore, *, device, progress: bool,
                  retrain: bool, checkpoint_every: float, callback) -> Run:
    """The body of :func:`load_or_train`, run while holding the spec's lock."""
    key = spec.key()
    ckpt = store.checkpoint_path(spec)
    if retrain:
        shutil.rmtree(ckpt.parent, ignore_errors=True)
    else:
        try:
            return store.load(spec)
        except MissingRunError:
            pass
        except CorruptRunError as e:
            warnings.warn(f"run store entry {key} in {store.runs_dir} is unusable and will be "
                          f"retrained: {e}", stacklevel=3)
        if progress and ckpt.is_file():
            print(f"resuming {spec.name or key} from its checkpoint {ckpt}", file=sys.stderr)
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    try:
        run = train(spec, device=device, progress=progress, checkpoint=ckpt,
                    checkpoint_every=checkpoint_every, callback=callback)
        store.save(run, device=device)
    except KeyboardInterrupt:
        raise  # the checkpoint is kept: the next call resumes from it
    except (DivergenceError, ValueError):
        shutil.rmtree(ckpt.parent, ignore_errors=True)  # a failed run leaves nothing behind
        raise
    except BaseException:
        # Out of memory, a full disk: the training done so far is not lost.
        if not ckpt.is_file():
            shutil.rmtree(ckpt.parent, ignore_errors=True)
        else:
            print(f"the training of {spec.name or key} so far is kept in its checkpoint {ckpt}; "
                  f"the same call resumes from it once the error below is fixed",
                  file=sys.stderr, flush=True)
        raise
    shutil.rmtree(ckpt.parent, ignore_errors=True)
    return run
