"""Train many experiments at once on a Dask cluster: a local one, or one already running.

Each spec that the store does not hold yet becomes one Dask task, which trains it with
:func:`~superposition_lib.train.train` on a worker and sends the finished
:class:`~superposition_lib.run.Run` back; the client writes it to the store (atomically, as
:meth:`~superposition_lib.store.RunStore.save` always does), so workers need neither the
repository nor a shared disk, only this library. A run trained this way has the same key and
the same arrays, bit for bit, as one trained serially: the trainer is deterministic for a given
spec whatever the machine's thread count. A worker that dies loses only the task it was running,
which the scheduler gives to another worker (Dask's ``allowed-failures``, three by default);
finished runs are stored as they arrive, so an interrupted sweep keeps them.

Needs the ``cluster`` extra (``pip install -e ".[cluster]"``, which installs
``dask[distributed]``).

Examples
--------
>>> import tempfile
>>> from superposition_lib import experiments
>>> from superposition_lib.store import RunStore
>>> specs = [experiments.get(name).spec("smoke") for name in ("intro-relu", "intro-linear")]
>>> with connect(workers=2) as client:                                # doctest: +SKIP
...     runs = train_many(specs, client, store=RunStore(tempfile.mkdtemp()))
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from .config import ExperimentSpec
from .run import Run
from .store import RunStore

__all__ = ["connect", "train_many"]


@contextmanager
def connect(workers: int | None = None, scheduler: str | None = None) -> Iterator:
    """A Dask client, on a new local cluster of ``workers`` processes or on ``scheduler``.

    Parameters
    ----------
    workers : int, optional
        Start a local cluster of this many single-threaded worker processes (listening on the
        loopback interface only, the dashboard on a free port); it is shut down on leaving the
        context.
    scheduler : str, optional
        Address of a running Dask scheduler (e.g. ``tcp://10.0.0.5:8786``) instead.

    Yields
    ------
    distributed.Client

    Raises
    ------
    ValueError
        Unless exactly one of ``workers`` (>= 1) and ``scheduler`` is given.
    ImportError
        If ``dask[distributed]`` is not installed; the message names the extra.

    Examples
    --------
    >>> with connect():
    ...     pass
    Traceback (most recent call last):
    ...
    ValueError: workers, scheduler: give exactly one (a number of local workers >= 1, or a scheduler address)
    """
    if (workers is None) == (scheduler is None) or (workers is not None and workers < 1):
        raise ValueError("workers, scheduler: give exactly one (a number of local workers >= 1, "
                         "or a scheduler address)")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("training on Dask needs the cluster extra: "
                          "pip install -e '.[cluster]' (dask[distributed])") from None
    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    with (LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                       host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster,
          Client(cluster) as client):
        yield client


def _train_task(spec: ExperimentSpec) -> Run:
    """What a worker runs: one spec, trained on one thread, without checkpoints."""
    import torch

    from .train import train

    torch.set_num_threads(1)
    return train(spec, progress=False)


def train_many(specs: Sequence[ExperimentSpec], client, *, store: RunStore,
               retrain: bool = False,
               report: Callable[[str], None] | None = None) -> dict[str, Run]:
    """Train the specs that ``store`` lacks on the cluster of ``client``, storing each run as
    it arrives.

    Parameters
    ----------
    specs : sequence of ExperimentSpec
        What to train; specs with equal keys are trained once.
    client : distributed.Client
        From :func:`connect`.
    store : RunStore
        Where runs are loaded from and saved to (on the client's machine).
    retrain : bool
        Train every spec again, replacing its entry.
    report : callable, optional
        Called with one line per finished run (``"[3/29] phase-change: trained in 412.5 s"``);
        defaults to printing to stderr.

    Returns
    -------
    dict of str to Run
        Every spec's run (loaded or trained), by key.

    Examples
    --------
    >>> train_many([], None, store=RunStore("/tmp/unused"))
    {}
    """
    report = report or (lambda line: print(line, file=sys.stderr, flush=True))
    runs, todo = {}, {}
    for spec in specs:
        key = spec.key()
        if key in runs or key in todo:
            continue
        if not retrain and spec in store:
            runs[key] = store.load(spec)
        else:
            todo[key] = spec
    if not todo:
        return runs
    from distributed import as_completed

    futures = {client.submit(_train_task, spec, key=f"train-{key}", pure=False): key
               for key, spec in todo.items()}
    start = time.perf_counter()
    try:
        for done, future in enumerate(as_completed(futures), 1):
            key = futures[future]
            run = future.result()
            with store.lock(key):
                store.save(run)
            runs[key] = run
            report(f"[{done}/{len(todo)}] {todo[key].name or key}: trained in "
                   f"{run.wall_time:.1f} s ({time.perf_counter() - start:.0f} s since the start)")
    finally:
        client.cancel(list(futures))  # on an error or Ctrl-C; finished runs are already stored
    return runs
