"""Locks across processes: one file each, held by one thread of one process at a time.

:meth:`~superposition_lib.core.store.RunStore.lock` takes one per spec, so that concurrent
trainings of a spec take turns. Where the platform has no ``fcntl`` (Windows), nothing is locked
(one writer at a time).

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> path = Path(tempfile.mkdtemp()) / "locks" / "a.lock"
>>> with file_lock(path) as taken, file_lock(path) as again:
...     taken, again
(True, False)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no cross-process lock (one writer at a time)
    fcntl = None

__all__ = ["file_lock"]

#: The lock files each thread holds (:func:`file_lock` is re-entrant within a thread).
_held_locks = threading.local()


@contextmanager
def file_lock(path: Path, *, on_wait: Callable[[str], None] | None = None) -> Iterator[bool]:
    """Hold an exclusive lock on the file ``path`` across processes.

    The file and its folder are created if needed; the lock is released when the block ends,
    or when the process dies. A thread that holds the lock may take it again: the inner block
    then runs at once and yields False.

    Parameters
    ----------
    path : Path
        The lock file.
    on_wait : callable, optional
        Called with the lock file's name (its resolved path) before waiting, when another
        process holds the lock.

    Yields
    ------
    bool
        Whether this call took the lock: False where this thread held it already, and where the
        platform has no ``fcntl``.

    Examples
    --------
    >>> import tempfile
    >>> with file_lock(Path(tempfile.mkdtemp()) / "b.lock", on_wait=print) as taken:
    ...     taken
    True
    """
    if fcntl is None:  # pragma: no cover
        yield False
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path = path.resolve()
    if not hasattr(_held_locks, "paths"):
        _held_locks.paths = set()
    held = _held_locks.paths
    if path in held:  # this thread holds it already
        yield False
        return
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait(f.name)
            fcntl.flock(f, fcntl.LOCK_EX)
        held.add(path)
        try:
            yield True
        finally:
            held.discard(path)
            fcntl.flock(f, fcntl.LOCK_UN)
