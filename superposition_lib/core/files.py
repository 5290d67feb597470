"""Writing files that a reader never sees half-written.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> path = write_text_atomic(Path(tempfile.mkdtemp()) / "a" / "b.txt", "done")
>>> path.read_text(encoding="utf-8")
'done'
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

__all__ = ["user_cache", "write_bytes_atomic", "write_text_atomic"]


def user_cache() -> Path:
    """The library's folder in the user's cache, where ad-hoc runs, compiled kernels and
    remembered analysis results go unless told otherwise.

    Returns
    -------
    Path
        ``$XDG_CACHE_HOME/superposition``; else ``~/.cache/superposition``.

    Examples
    --------
    >>> user_cache().name
    'superposition'
    """
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "superposition"


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file beside it, then rename it into
    place: readers see the old file or the new one, never a part of it.

    Parameters
    ----------
    path : path
        The file to write; its folder is created if needed.
    data : bytes
        The whole content.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "x.bin"
    >>> _ = write_bytes_atomic(path, b"old"), write_bytes_atomic(path, b"new")
    >>> path.read_bytes(), sorted(p.name for p in path.parent.iterdir())
    (b'new', ['x.bin'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the rename never makes an empty file current after a crash
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """:func:`write_bytes_atomic` of ``text`` in UTF-8.

    Parameters
    ----------
    path : path
        The file to write; its folder is created if needed.
    text : str
        The whole content.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "x.json"
    >>> _ = write_text_atomic(path, "[]"), write_text_atomic(path, "[1]")
    >>> path.read_text(encoding="utf-8"), sorted(p.name for p in path.parent.iterdir())
    ('[1]', ['x.json'])
    """
    return write_bytes_atomic(path, text.encode("utf-8"))
