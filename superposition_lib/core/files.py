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

__all__ = ["write_text_atomic"]


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file beside it, then rename it
    into place: readers see the old file or the new one, never a part of it.

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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())  # the rename never makes an empty file current after a crash
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
