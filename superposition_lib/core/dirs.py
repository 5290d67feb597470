"""Writing directories that a reader never sees half-written.

:func:`write_dir_atomic` assembles a directory in a hidden temporary directory beside its final
place (``.tmp-<name>-*``), flushes it and renames it into place once complete; a directory it
replaces is first renamed aside (``.trash-<name>-*``) and deleted only after the new one is in
place. A failure at any point leaves the old directory or the new one, never a part of one, and
:func:`clear_leftovers` tidies what a killed process left. New directories get the permissions
of the process's umask, like every other file it writes. The run store
(:class:`~superposition_lib.core.store.RunStore`) writes its entries so.

Examples
--------
>>> import tempfile
>>> final = Path(tempfile.mkdtemp()) / "entry"
>>> _ = write_dir_atomic(final, {"a.txt": b"old"}, complete="a.txt")
>>> _ = write_dir_atomic(final, {"a.txt": b"new"}, complete="a.txt")
>>> (final / "a.txt").read_bytes(), [p.name for p in final.parent.iterdir()]
(b'new', ['entry'])
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

__all__ = ["write_dir_atomic", "clear_leftovers", "fsync_dir"]

_TMP_PREFIX = ".tmp-"
_TRASH_PREFIX = ".trash-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (names created, renamed or removed in it) to the disk.

    Parameters
    ----------
    path : Path
        The directory. Nothing is done on platforms that cannot open directories.

    Examples
    --------
    >>> import tempfile
    >>> fsync_dir(Path(tempfile.mkdtemp()))
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def write_dir_atomic(final: Path, files: dict[str, bytes], *, complete: str) -> Path:
    """Write the directory ``final`` with ``files``, replacing any directory there, atomically.

    The files are written and flushed in a temporary directory beside ``final``, which is then
    renamed to ``final``; a directory already there is renamed aside first and deleted once the
    new one is in place, or put back if the rename fails.

    Parameters
    ----------
    final : Path
        The directory to write; its parent is created if needed.
    files : dict of str to bytes
        File names and their contents, written in this order.
    complete : str
        The file whose presence marks a complete directory: when another process has put a
        complete ``final`` in place meanwhile (the rename fails), that one is kept.

    Returns
    -------
    Path
        ``final``.

    Examples
    --------
    >>> import tempfile
    >>> final = write_dir_atomic(Path(tempfile.mkdtemp()) / "d", {"x": b"1", "y": b"2"},
    ...                          complete="y")
    >>> sorted(p.name for p in final.iterdir())
    ['x', 'y']
    """
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{final.name}-", dir=parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0700 would differ from other directories
        for name, content in files.items():
            with open(tmp / name, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
        fsync_dir(tmp)
        trash = None
        if final.exists():
            trash = parent / f"{_TRASH_PREFIX}{final.name}-{uuid.uuid4().hex[:8]}"
            os.rename(final, trash)
        try:
            os.rename(tmp, final)
        except OSError:
            if trash is None and (final / complete).is_file():
                # Another process wrote the same directory meanwhile: keep its copy.
                shutil.rmtree(tmp, ignore_errors=True)
                return final
            if trash is not None and not final.exists():
                os.rename(trash, final)  # put the old directory back
            raise
        except BaseException:
            if trash is not None and not final.exists():
                os.rename(trash, final)
            raise
        fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)
    return final


def clear_leftovers(final: Path, *, complete: str) -> None:
    """Remove what a process killed during :func:`write_dir_atomic` of ``final`` left behind:
    its temporary directories are deleted, and an old directory that was set aside when its
    replacement never arrived is put back.

    Call it only while no other process writes ``final`` (holding a lock,
    :func:`~superposition_lib.core.locks.file_lock`).

    Parameters
    ----------
    final : Path
        The directory whose leftovers to clear.
    complete : str
        As for :func:`write_dir_atomic`: a directory set aside is put back only if it holds
        this file.

    Examples
    --------
    >>> import tempfile
    >>> final = Path(tempfile.mkdtemp()) / "d"
    >>> (final.parent / ".tmp-d-1234").mkdir()
    >>> clear_leftovers(final, complete="y")
    >>> list(final.parent.iterdir())
    []
    """
    parent = final.parent
    if not parent.is_dir():
        return
    for path in parent.glob(f"{_TRASH_PREFIX}{final.name}-*"):
        if not final.exists() and (path / complete).is_file():
            os.rename(path, final)
        else:
            shutil.rmtree(path, ignore_errors=True)
    for path in parent.glob(f"{_TMP_PREFIX}{final.name}-*"):
        shutil.rmtree(path, ignore_errors=True)
