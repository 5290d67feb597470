"""Train many experiments at once on a Dask cluster: a local one, or one already running.

Each spec that the store does not hold yet is split into blocks of models (as many as there
are workers, when it has enough models and :func:`~superposition_lib.core.train.separable` says that
blocks give the same bits; other specs are one block; see :func:`alignment`). Each block is
one Dask task, which trains it with :func:`~superposition_lib.core.train.train_block` on a worker,
and one more task joins a spec's blocks and evaluates the models
(:func:`~superposition_lib.core.train.finish`). The finished
:class:`~superposition_lib.core.run.Run` comes back to the client, which writes it to the store
(atomically, as :meth:`~superposition_lib.core.store.RunStore.save` always does), so workers need
neither the repository nor a shared disk, only this library. A run trained this way has the same
key and the same arrays, bit for bit, as one trained serially: every model is trained apart from
the others, deterministically whatever the machine's thread count, and evaluated with all of
them. A worker that dies loses only the task it was running, which the scheduler gives to
another worker (Dask's ``allowed-failures``, three by default); finished runs are stored as they
arrive, so an interrupted sweep keeps them.

Needs the ``cluster`` extra (``pip install -e ".[cluster]"``, which installs
``dask[distributed]``).

Examples
--------
>>> import tempfile
>>> from superposition_lib import experiments
>>> from superposition_lib.core.store import RunStore
>>> specs = [experiments.get(name).spec("smoke") for name in ("intro-relu", "intro-linear")]
>>> with connect(workers=2) as client:                                # doctest: +SKIP
...     runs = train_many(specs, client, store=RunStore(tempfile.mkdtemp()))
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from .config import ExperimentSpec
from .run import Run
from .store import RunStore
from .train import TrainedBlock, finish, separable, train_block

__all__ = ["ADAM_VECTOR", "alignment", "blocks_of", "connect", "train_many"]


@contextmanager
def connect(workers: int | None = None, scheduler: str | None = None) -> Iterator:
    """A Dask client, on a new local cluster of ``workers`` processes or on ``scheduler``.

    Parameters
    ----------
    workers : int, optional
        Start a local cluster of this many single-threaded worker processes (listening on the
        loopback interface only, the dashboard on a free port); it is shut down on leaving the
        context. The scratch space of its scheduler and workers is a temporary directory (in
        :mod:`tempfile`'s ``$TMPDIR``), removed with the cluster: nothing like
        ``/tmp/dask-scratch-space`` is left behind.
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
    >>> with connect():  # doctest: +NORMALIZE_WHITESPACE
    ...     pass
    Traceback (most recent call last):
    ...
    ValueError: workers, scheduler: give exactly one (a number of local workers >= 1, or a
    scheduler address)
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
    with (tempfile.TemporaryDirectory(prefix="superposition-dask-",
                                      ignore_cleanup_errors=True) as scratch,
          LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                       host="127.0.0.1", dashboard_address="127.0.0.1:0",
                       local_directory=scratch,
                       scheduler_kwargs={"local_directory": scratch}) as cluster,
          Client(cluster) as client):
        yield client


def _train_task(spec: ExperimentSpec, start: int, stop: int) -> TrainedBlock:
    """What a worker runs: one block of a spec, trained on one thread, without checkpoints."""
    import torch

    torch.set_num_threads(1)
    return train_block(spec, start, stop, progress=False)


def _finish_task(spec: ExperimentSpec, *blocks: TrainedBlock) -> Run:
    """What a worker runs once a spec's blocks are trained: join and evaluate them."""
    import torch

    torch.set_num_threads(1)
    return finish(spec, list(blocks))


def blocks_of(models: int, parts: int, align: int = 1) -> list[tuple[int, int]]:
    """Split ``models`` models into at most ``parts`` contiguous blocks of near-equal size,
    each starting at a multiple of ``align`` models.

    Parameters
    ----------
    models : int
        Models of a spec (``spec.n_models``).
    parts : int
        Most blocks wanted (e.g. the number of workers).
    align : int
        Every block but the first starts at a multiple of this (see :func:`alignment`).

    Returns
    -------
    list of (start, stop)

    Examples
    --------
    >>> blocks_of(9000, 4)
    [(0, 2250), (2250, 4500), (4500, 6750), (6750, 9000)]
    >>> blocks_of(3, 8)
    [(0, 1), (1, 2), (2, 3)]
    >>> blocks_of(100, 3, align=32)
    [(0, 32), (32, 64), (64, 100)]
    >>> blocks_of(10, 2, align=64)
    [(0, 10)]
    """
    parts = max(1, parts)
    edges = sorted({min(models, align * round(i * models / parts / align))
                    for i in range(parts)} | {models})
    return list(zip(edges[:-1], edges[1:]))


#: Elements of a parameter tensor that PyTorch's fused Adam step handles together: its vector
#: loop covers a multiple of this from the tensor's start and finishes the rest in scalar code,
#: which can round differently (measured: last-bit differences when a block of the n = 5,
#: m = 2 model began mid-way).
ADAM_VECTOR = 64


def alignment(spec: ExperimentSpec) -> int:
    """Models per unit of block boundaries: blocks that start at multiples of it start every
    parameter tensor (n or m·n numbers per model) at a multiple of :data:`ADAM_VECTOR`, so
    that each number is updated by the same code as in the whole spec.

    Parameters
    ----------
    spec : ExperimentSpec

    Returns
    -------
    int

    Examples
    --------
    >>> alignment(ExperimentSpec(n_features=2, n_hidden=1)), alignment(ExperimentSpec(
    ...     n_features=400, n_hidden=30))
    (32, 4)
    """
    return ADAM_VECTOR // math.gcd(ADAM_VECTOR, spec.n_features)


def train_many(specs: Sequence[ExperimentSpec], client, *, store: RunStore,
               retrain: bool = False, blocks: int | None = None,
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
    blocks : int, optional
        Split every separable spec into at most this many blocks of models (default: the
        number of workers when the sweep starts), so that one large spec keeps every worker
        busy.
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

    parts = blocks or len(client.scheduler_info()["workers"]) or 1
    finishing, every = {}, []
    for key, spec in todo.items():
        trained = [client.submit(_train_task, spec, a, b, key=f"train-{key}-{a}-{b}", pure=False)
                   for a, b in blocks_of(spec.n_models, parts if separable(spec) else 1,
                                         alignment(spec))]
        future = client.submit(_finish_task, spec, *trained, key=f"finish-{key}", pure=False)
        finishing[future] = key
        every += [*trained, future]
    start = time.perf_counter()
    try:
        for done, future in enumerate(as_completed(finishing), 1):
            key = finishing[future]
            run = future.result()
            with store.lock(key):
                store.save(run)
            runs[key] = run
            report(f"[{done}/{len(todo)}] {todo[key].name or key}: trained in "
                   f"{run.wall_time:.1f} s ({time.perf_counter() - start:.0f} s since the start)")
    finally:
        client.cancel(every)  # on an error or Ctrl-C; finished runs are already stored
    return runs
