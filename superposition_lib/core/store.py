"""The run store: trained runs cached on disk, keyed by :meth:`ExperimentSpec.key`.

Every entry lives in ``<root>/runs/<key>/`` and holds two files, ``arrays.npz`` (the run's
arrays) and ``manifest.json`` (its spec, the numerics that computed it, versions, final losses
and the arrays' checksum); :mod:`~superposition_lib.core.manifest` describes them.

Writes are atomic (:mod:`~superposition_lib.core.dirs`): an entry is assembled in a hidden
temporary directory next to its final place and renamed into place only once complete, so a
crash leaves either the old entry or none, never a partial one. Reads are checked: a missing or
unparsable manifest, another format version, another key or spec, a field of the wrong type, a
checksum mismatch or arrays whose shapes disagree with the spec raise :class:`CorruptRunError`;
:func:`~superposition_lib.core.pipeline.load_or_train` then warns and retrains instead of using
the entry. An entry computed by another
:data:`~superposition_lib.core.config.NUMERICS_VERSION` (one whose training arithmetic has
changed since) raises :class:`StaleRunError`, so that a stale result is never loaded as a
current one.

While a run trains, :func:`~superposition_lib.core.pipeline.load_or_train` checkpoints it to
``<root>/runs/<key>.partial/``; an interrupted run (Ctrl-C, or a killed process after its last
periodic checkpoint) resumes from there on the next call, and the directory is removed once the
run is saved.

Two roots, so that runs a user trains by hand never mix with the book's committed results:
:class:`RunStore` defaults to the book's store (:func:`default_root`: ``$SUPERPOSITION_DATA``
when set, else the repository's ``data/`` directory when the package sits in a source checkout,
else ``./data``), which the registered experiments use;
:func:`~superposition_lib.core.pipeline.load_or_train` without a store and ``superposition
train`` use the store of ad-hoc runs (:func:`user_root`: ``$SUPERPOSITION_DATA`` when set, else
the user's cache directory). Tests pass their own root.

Concurrent trainings of one spec take turns (:meth:`RunStore.lock`, a
:func:`~superposition_lib.core.locks.file_lock`); new entries get the permissions of the
process's umask, like every other file it writes.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from . import config
from .config import ExperimentSpec
from .dirs import clear_leftovers, fsync_dir, write_dir_atomic
from .files import user_cache
from .locks import file_lock
from .manifest import (
    ARRAYS,
    MANIFEST,
    MIGRATABLE,
    as_run,
    check_arrays,
    manifest_of,
    manifest_text,
    read_arrays,
    read_manifest,
    warn_versions,
    write_manifest,
)
from .run import Run

__all__ = ["RunStore", "MissingRunError", "CorruptRunError", "StaleRunError",
           "StoreWriteError", "default_root", "user_root"]

#: Environment variable that overrides the default store roots (the book's and ad-hoc runs').
ENV_ROOT = "SUPERPOSITION_DATA"

_KEY_RE = re.compile(r"^[0-9a-f]{16}$")
_LOCKS = ".locks"


class MissingRunError(KeyError):
    """The store has no entry for this spec or key."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class CorruptRunError(ValueError):
    """A store entry exists but is partial, corrupt or belongs to another spec or format."""


class StaleRunError(CorruptRunError):
    """A store entry was computed by another numerics version than this library's.

    Its arrays are intact, but retraining its spec now gives other bits, so it is not loaded
    as a current result (:meth:`RunStore.load` with ``allow_stale=True`` reads it anyway;
    :mod:`~superposition_lib.core.reproduce` retrains and compares it).
    """


class StoreWriteError(OSError):
    """Writing an entry failed (a full disk, a read-only directory); nothing was stored.

    Constructed as ``StoreWriteError(errno, message)``; its text is the message alone.
    """

    def __str__(self) -> str:
        return str(self.strerror)


def default_root() -> Path:
    """The store root used when :class:`RunStore` is given none.

    Returns
    -------
    Path
        ``$SUPERPOSITION_DATA`` if set; else ``<repository>/data`` when the package directory's
        parent holds a ``pyproject.toml`` (a source checkout or editable install); else
        ``./data`` relative to the current directory.

    Examples
    --------
    >>> root = default_root()
    >>> expected = (Path(os.environ["SUPERPOSITION_DATA"]) if "SUPERPOSITION_DATA" in os.environ
    ...             else None)
    >>> root == expected if expected else root.name == "data"
    True
    """
    env = os.environ.get(ENV_ROOT)
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file():
        return repo / "data"
    return Path("data")


def user_root() -> Path:
    """The store root of ad-hoc runs (what :func:`~superposition_lib.core.pipeline.load_or_train`
    and ``superposition train`` use when given no store), kept apart from the book's committed
    runs.

    Returns
    -------
    Path
        ``$SUPERPOSITION_DATA`` if set; else ``$XDG_CACHE_HOME/superposition``; else
        ``~/.cache/superposition``.

    Examples
    --------
    >>> env = os.environ.get("SUPERPOSITION_DATA")
    >>> user_root() == Path(env) if env else user_root().name == "superposition"
    True
    """
    env = os.environ.get(ENV_ROOT)
    return Path(env).expanduser() if env else user_cache()


def _numerics_version(manifest: dict):
    record = manifest.get("numerics")
    return record.get("version") if isinstance(record, dict) else None


def _spec_without_name(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "name"}


class RunStore:
    """A directory of trained runs keyed by :meth:`ExperimentSpec.key`.

    Parameters
    ----------
    root : str or path-like, optional
        Store root; entries live in ``<root>/runs/<key>/``. Defaults to :func:`default_root`
        (``$SUPERPOSITION_DATA``, else the repository's ``data/``, else ``./data``).

    Attributes
    ----------
    root : Path
        The store root.
    runs_dir : Path
        ``root / "runs"``.

    Examples
    --------
    >>> import tempfile
    >>> from superposition_lib.core.config import ExperimentSpec
    >>> from superposition_lib.core.train import train
    >>> store = RunStore(tempfile.mkdtemp())
    >>> spec = ExperimentSpec(n_features=5, n_hidden=2, feature_probability=[1.0, 0.5],
    ...                       steps=50, batch_size=128)
    >>> run = train(spec, progress=False)
    >>> entry = store.save(run)
    >>> entry.name == spec.key(), store.keys() == [spec.key()]
    (True, True)
    >>> bool((store.load(spec).W == run.W).all())
    True
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_root()

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    @property
    def runs_dir(self) -> Path:
        """Directory holding the entries, ``<root>/runs``."""
        return self.root / "runs"

    # ------------------------------------------------------------------------------ paths
    @staticmethod
    def _key(spec_or_key: ExperimentSpec | str) -> str:
        if isinstance(spec_or_key, ExperimentSpec):
            return spec_or_key.key()
        key = str(spec_or_key)
        if not _KEY_RE.match(key):
            raise MissingRunError(f"{key!r} is not a run key (16 lowercase hex digits)")
        return key

    def path(self, spec: ExperimentSpec | str) -> Path:
        """Directory of the entry of a spec (or key), whether or not it exists.

        Parameters
        ----------
        spec : ExperimentSpec or str
            A spec, or a key as returned by :meth:`ExperimentSpec.key`.

        Returns
        -------
        Path
            ``<root>/runs/<key>``.

        Examples
        --------
        >>> from superposition_lib.core.config import ExperimentSpec
        >>> spec = ExperimentSpec(steps=100)
        >>> RunStore("/tmp/store").path(spec) == Path("/tmp/store/runs") / spec.key()
        True
        """
        return self.runs_dir / self._key(spec)

    def checkpoint_path(self, spec: ExperimentSpec | str) -> Path:
        """Training checkpoint file of a spec, inside ``<root>/runs/<key>.partial/``.

        :func:`~superposition_lib.core.pipeline.load_or_train` passes it to
        :func:`~superposition_lib.core.train.train` so that an interrupted run resumes; it is
        never treated as an entry.

        Parameters
        ----------
        spec : ExperimentSpec or str
            A spec or its key.

        Returns
        -------
        Path
            ``<root>/runs/<key>.partial/checkpoint.pt``.

        Examples
        --------
        >>> from superposition_lib.core.config import ExperimentSpec
        >>> spec = ExperimentSpec(steps=100)
        >>> RunStore("/tmp/store").checkpoint_path(spec).parent.name == spec.key() + ".partial"
        True
        """
        return self.runs_dir / f"{self._key(spec)}.partial" / "checkpoint.pt"

    def __contains__(self, spec: ExperimentSpec | str) -> bool:
        """Whether an entry directory with a manifest exists (it is not validated)."""
        try:
            return (self.path(spec) / MANIFEST).is_file()
        except MissingRunError:
            return False

    # ------------------------------------------------------------------------------ writing
    def save(self, run: Run, *, device: str | torch.device | None = None) -> Path:
        """Store a run atomically, replacing any entry of the same key.

        The arrays and the manifest are written and flushed to a hidden temporary directory in
        ``<root>/runs/`` which is then renamed to ``<root>/runs/<key>``. An existing entry is
        first renamed aside and deleted only after the new one is in place. A failure at any
        point leaves either the old entry or no entry, never a partial one, and what a killed
        process left is cleared by the next save of the key (it holds :meth:`lock` meanwhile).

        Parameters
        ----------
        run : Run
            A complete run, as returned by :func:`~superposition_lib.core.train.train` (not a
            selection such as :meth:`Run.best`).
        device : str or torch.device, optional
            Device the run was trained on, recorded in the manifest (with the rest of
            :func:`~superposition_lib.core.manifest.numerics_record`; the CPU when omitted).

        Returns
        -------
        Path
            The entry directory.

        Raises
        ------
        ValueError
            If the run's arrays are inconsistent with its spec (shapes, model indices, recorded
            steps) or its final weights or losses are not finite.
        StoreWriteError
            If the entry cannot be written (no space left on the device, no permission); the
            message names the directory and the cause, and nothing is stored.

        Examples
        --------
        >>> import tempfile
        >>> from superposition_lib.core.config import ExperimentSpec
        >>> from superposition_lib.core.train import train
        >>> store = RunStore(tempfile.mkdtemp())
        >>> run = train(ExperimentSpec(steps=50, batch_size=128), progress=False)
        >>> sorted(p.name for p in store.save(run).iterdir())
        ['arrays.npz', 'manifest.json']
        """
        spec = run.spec
        arrays = run.arrays()
        check_arrays(spec, arrays)
        try:
            with self.lock(spec, quiet=True):
                buffer = io.BytesIO()
                np.savez_compressed(buffer, **arrays)
                blob = buffer.getvalue()
                manifest = manifest_text(manifest_of(run, blob, device)).encode()
                return write_dir_atomic(self.path(spec), {ARRAYS: blob, MANIFEST: manifest},
                                        complete=MANIFEST)
        except OSError as e:
            if isinstance(e, StoreWriteError):
                raise
            raise StoreWriteError(e.errno, f"cannot store run {spec.key()} in {self.runs_dir}: "
                                  f"{e.strerror or e}; nothing was stored") from e

    def remove(self, spec: ExperimentSpec | str) -> bool:
        """Delete the entry and any partial checkpoint of a spec (or key).

        Parameters
        ----------
        spec : ExperimentSpec or str
            A spec or its key.

        Returns
        -------
        bool
            Whether anything was deleted.

        Examples
        --------
        >>> import tempfile
        >>> from superposition_lib.core.config import ExperimentSpec
        >>> RunStore(tempfile.mkdtemp()).remove(ExperimentSpec(steps=10))
        False
        """
        removed = False
        for path in (self.path(spec), self.checkpoint_path(spec).parent):
            if path.exists():
                shutil.rmtree(path)
                removed = True
        return removed

    @contextmanager
    def lock(self, spec: ExperimentSpec | str, *, quiet: bool = False) -> Iterator[None]:
        """Hold the store's lock of one spec (or key) across processes.

        :func:`~superposition_lib.core.pipeline.load_or_train` trains and saves a spec only
        while holding it, so concurrent trainings of one spec take turns: the second waits, then
        loads what the first stored.
        Different specs have different locks. The lock files live in ``<root>/runs/.locks/``.
        A thread that holds a lock may take it again (:meth:`save` takes it). While it is held,
        what a process killed during :meth:`save` left for this key is cleared away.

        Parameters
        ----------
        spec : ExperimentSpec or str
            A spec or its key.
        quiet : bool
            Do not print the line on standard error that says whom this process waits for when
            another one holds the lock.

        Yields
        ------
        None

        Examples
        --------
        >>> import tempfile
        >>> from superposition_lib.core.config import ExperimentSpec
        >>> store = RunStore(tempfile.mkdtemp())
        >>> with store.lock(ExperimentSpec(steps=10)):
        ...     pass
        """
        key = self._key(spec)

        def say(lock: str) -> None:
            name = spec.name if isinstance(spec, ExperimentSpec) and spec.name else key
            print(f"waiting for another process that trains {name} in {self.runs_dir} "
                  f"(lock {lock}); its run is loaded when it finishes", file=sys.stderr,
                  flush=True)

        with file_lock(self.runs_dir / _LOCKS / f"{key}.lock",
                       on_wait=None if quiet else say) as taken:
            if taken:  # not when this thread held it already (save inside load_or_train)
                clear_leftovers(self.path(key), complete=MANIFEST)
            yield

    # ------------------------------------------------------------------------------ reading
    def _read_manifest(self, key: str) -> dict:
        entry = self.path(key)
        if not entry.is_dir():
            raise MissingRunError(f"no run {key} in {self.runs_dir}")
        try:
            return read_manifest(entry, key)
        except ValueError as e:
            raise CorruptRunError(f"run {key}: {e}") from None

    def manifest(self, spec: ExperimentSpec | str) -> dict:
        """The manifest of an entry, after basic checks (format version and key).

        Parameters
        ----------
        spec : ExperimentSpec or str
            A spec or its key.

        Returns
        -------
        dict
            The parsed ``manifest.json``.

        Raises
        ------
        MissingRunError
            If there is no entry.
        CorruptRunError
            If the manifest is missing or unreadable, or names another format version or key.
        """
        return self._read_manifest(self._key(spec))

    def load(self, spec: ExperimentSpec, *, allow_stale: bool = False) -> Run:
        """Load the stored run of a spec, after checking it in full.

        Parameters
        ----------
        spec : ExperimentSpec
            What was trained. Its ``name`` may differ from the stored one (it is not part of the
            key); the returned run carries this spec.
        allow_stale : bool
            Load an entry of another numerics version too (to compare it with a retraining),
            instead of raising :class:`StaleRunError`.

        Returns
        -------
        Run
            The run, with arrays of shape ``W (models, m, n)``, ``b (models, n)`` etc.

        Raises
        ------
        MissingRunError
            If the store has no entry for the spec (a ``KeyError``).
        CorruptRunError
            If the entry is unusable: manifest missing or unreadable, another format version,
            key or spec, checksum mismatch, unreadable arrays, or arrays inconsistent with the
            spec (a ``ValueError``).
        StaleRunError
            If the entry was computed by another
            :data:`~superposition_lib.core.config.NUMERICS_VERSION` (a ``CorruptRunError``).

        Examples
        --------
        >>> import tempfile
        >>> from superposition_lib.core.config import ExperimentSpec
        >>> store = RunStore(tempfile.mkdtemp())
        >>> try:
        ...     store.load(ExperimentSpec(steps=10))
        ... except MissingRunError as e:
        ...     print("missing")
        missing
        """
        key = spec.key()
        manifest = self._read_manifest(key)
        stored = config.canonical(_spec_without_name(manifest["spec"]))
        wanted = spec.canonical_dict()
        if stored != wanted:
            diff = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
            raise CorruptRunError(f"run {key}: the stored spec differs from the requested one "
                                  f"in {diff}")
        numerics = _numerics_version(manifest)
        if numerics != config.NUMERICS_VERSION and not allow_stale:
            made = "before numerics versions" if numerics is None else f"by version {numerics}"
            raise StaleRunError(f"run {key} ({spec.name or spec.model}) is stale: computed "
                                f"{made}, and this library's training arithmetic is version "
                                f"{config.NUMERICS_VERSION}; retrain it, or check with "
                                f"`superposition verify {key}` that its bits still reproduce")
        warn_versions(manifest)
        try:
            arrays = read_arrays(self.path(key), manifest)
            check_arrays(spec, arrays)
        except ValueError as e:
            raise CorruptRunError(f"run {key}: {e}") from None
        return as_run(spec, arrays, manifest)

    def load_key(self, key: str, *, allow_stale: bool = False) -> Run:
        """Load a run by key alone, rebuilding its spec from the manifest.

        Parameters
        ----------
        key : str
            A key as returned by :meth:`ExperimentSpec.key` (16 hex digits).
        allow_stale : bool
            As for :meth:`load`.

        Returns
        -------
        Run
            The run; ``run.spec`` is the stored spec, name included.

        Raises
        ------
        MissingRunError
            If the key is malformed or the store has no entry for it.
        CorruptRunError
            As for :meth:`load`, and if the stored spec is invalid or does not hash to ``key``.

        Examples
        --------
        >>> import tempfile
        >>> from superposition_lib.core.config import ExperimentSpec
        >>> from superposition_lib.core.train import train
        >>> store = RunStore(tempfile.mkdtemp())
        >>> spec = ExperimentSpec(steps=50, batch_size=128, name="demo")
        >>> _ = store.save(train(spec, progress=False))
        >>> store.load_key(spec.key()).spec == spec
        True
        """
        key = self._key(key)
        manifest = self._read_manifest(key)
        try:
            spec = ExperimentSpec.from_dict(manifest["spec"])
        except (TypeError, ValueError) as e:
            raise CorruptRunError(f"run {key}: the stored spec is invalid ({e})") from None
        if spec.key() != key:
            raise CorruptRunError(f"run {key}: the stored spec hashes to {spec.key()}")
        return self.load(spec, allow_stale=allow_stale)

    def migrate(self) -> list[tuple[str, str]]:
        """Rename entries of an earlier key format to this library's keys, without retraining.

        An entry of a version in :data:`~superposition_lib.core.manifest.MIGRATABLE` keeps its
        arrays (and their checksum); its manifest is rewritten atomically with the current format
        version, the new key, the normalised spec and ``migrated_from`` (the old key and
        version), then its directory is renamed. A current entry in a directory not named by its
        spec's key (renamed by hand) is moved to its key the same way. An interrupted migration
        is completed by the next call. Entries that already have the current version and the
        right name are left alone, and key-named directories without a manifest are not entries
        (:meth:`keys`).

        Returns
        -------
        list of (str, str)
            ``(old key, new key)`` of every entry renamed.

        Raises
        ------
        CorruptRunError
            If an entry's manifest is unreadable, of an unknown version, or its spec is invalid,
            or if the new key is taken by another entry.

        Examples
        --------
        >>> import tempfile
        >>> RunStore(tempfile.mkdtemp()).migrate()
        []
        """
        renamed = []
        for old in self.keys():
            entry = self.path(old)
            try:
                manifest = json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
                version = manifest["format_version"]
                spec = ExperimentSpec.from_dict(manifest["spec"])
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise CorruptRunError(f"run {old}: cannot migrate ({e})") from None
            if version != config.FORMAT_VERSION and version not in MIGRATABLE:
                raise CorruptRunError(f"run {old}: format version {version!r} cannot be "
                                      f"migrated to {config.FORMAT_VERSION}")
            new = spec.key()
            if version != config.FORMAT_VERSION or manifest.get("key") != new:
                manifest.update(format_version=config.FORMAT_VERSION, key=new,
                                spec=spec.to_dict(),
                                migrated_from={"key": manifest.get("key", old),
                                               "format_version": version})
                write_manifest(entry, manifest)
            if new != old:
                if self.path(new).exists():
                    raise CorruptRunError(f"run {old}: its new key {new} is taken by another "
                                          f"entry")
                os.rename(entry, self.path(new))
                renamed.append((old, new))
        if renamed:
            fsync_dir(self.runs_dir)
        return renamed

    def record_numerics(self, key: str, record: dict) -> None:
        """Mark an entry as computed by ``record`` (see
        :func:`~superposition_lib.core.manifest.numerics_record`) without touching its arrays:
        for a stale entry that a retraining with this library reproduced bit for bit
        (:func:`~superposition_lib.core.reproduce.verify`). The manifest is rewritten atomically,
        keeping the earlier record under ``numerics_before``.

        Parameters
        ----------
        key : str
        record : dict
            Must name this library's :data:`~superposition_lib.core.config.NUMERICS_VERSION`.

        Raises
        ------
        ValueError
            If ``record`` names another version.
        MissingRunError, CorruptRunError
            As for :meth:`manifest`.
        """
        if record.get("version") != config.NUMERICS_VERSION:
            raise ValueError(f"record: version must be {config.NUMERICS_VERSION} (this "
                             f"library's numerics); got {record.get('version')!r}")
        key = self._key(key)
        with self.lock(key, quiet=True):
            manifest = self._read_manifest(key)
            if "numerics" in manifest:
                manifest["numerics_before"] = manifest["numerics"]
            manifest["numerics"] = record
            write_manifest(self.path(key), manifest)

    def keys(self) -> list[str]:
        """Keys of the entries present (sorted): directories named by a key that hold a
        manifest. Temporary and ``.partial`` directories, and key-named directories without a
        manifest, are not entries.

        Returns
        -------
        list of str

        Examples
        --------
        >>> import tempfile
        >>> RunStore(tempfile.mkdtemp()).keys()
        []
        """
        if not self.runs_dir.is_dir():
            return []
        return sorted(p.name for p in self.runs_dir.iterdir()
                      if _KEY_RE.match(p.name) and (p / MANIFEST).is_file())

    def entries(self) -> list[dict]:
        """Manifests of all entries, oldest first.

        Entries whose manifest fails the basic checks of :meth:`manifest` are left out with a
        warning (they are still listed by :meth:`keys`).

        Returns
        -------
        list of dict
            Parsed manifests (see the module docstring for their fields).

        Examples
        --------
        >>> import tempfile
        >>> RunStore(tempfile.mkdtemp()).entries()
        []
        """
        out = []
        for key in self.keys():
            try:
                out.append(self._read_manifest(key))
            except (CorruptRunError, MissingRunError) as e:
                warnings.warn(f"skipping unusable store entry: {e}", stacklevel=2)
        return sorted(out, key=lambda m: str(m.get("created", "")))
