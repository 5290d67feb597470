"""The run store: trained runs cached on disk, keyed by :meth:`ExperimentSpec.key`.

Every entry lives in ``<root>/runs/<key>/`` and holds two files:

``arrays.npz``
    Every array of the :class:`~superposition_lib.core.run.Run` (final weights and biases, final
    losses, loss history, model indices, snapshots), compressed.
``manifest.json``
    The full spec, the format version, the numerics record (:func:`numerics_record`: the
    numerics version and the code path that computed the run), library / torch / numpy
    versions, wall time, creation time, evaluation samples, final losses and the SHA-256 of
    ``arrays.npz``.

Writes are atomic: an entry is assembled in a hidden temporary directory next to its final place
and renamed into place only once complete, so a crash leaves either the old entry or none, never
a partial one. Reads are checked: a missing or unparsable manifest, another format version, another
key or spec, a field of the wrong type, a checksum mismatch or arrays whose shapes disagree with
the spec raise :class:`CorruptRunError`; :func:`~superposition_lib.core.pipeline.load_or_train` then warns and retrains instead of
using the entry. An entry computed by another :data:`~superposition_lib.core.config.NUMERICS_VERSION`
(one whose training arithmetic has changed since) raises :class:`StaleRunError`, so that a stale
result is never loaded as a current one.

While a run trains, :func:`~superposition_lib.core.pipeline.load_or_train` checkpoints it to ``<root>/runs/<key>.partial/``; an
interrupted run (Ctrl-C, or a killed process after its last periodic checkpoint) resumes from
there on the next call, and the directory is removed once the run is saved.

Two roots, so that runs a user trains by hand never mix with the book's committed results:
:class:`RunStore` defaults to the book's store (:func:`default_root`: ``$SUPERPOSITION_DATA``
when set, else the repository's ``data/`` directory when the package sits in a source checkout,
else ``./data``), which the registered experiments use; :func:`~superposition_lib.core.pipeline.load_or_train` without a store
and ``superposition train`` use the store of ad-hoc runs (:func:`user_root`:
``$SUPERPOSITION_DATA`` when set, else the user's cache directory). Tests pass their own root.

Concurrent trainings of one spec take turns (:meth:`RunStore.lock`); new entries get the
permissions of the process's umask, like every other file it writes.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no cross-process lock (one writer at a time)
    fcntl = None

import numpy as np
import torch

from . import config
from .config import ExperimentSpec
from .files import write_text_atomic
from .run import Run, Snapshots

__all__ = ["RunStore", "MissingRunError", "CorruptRunError", "StaleRunError",
           "StoreWriteError", "VersionMismatchWarning", "default_root", "user_root",
           "numerics_record"]

MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
#: Environment variable that overrides the default store roots (the book's and ad-hoc runs').
ENV_ROOT = "SUPERPOSITION_DATA"

_KEY_RE = re.compile(r"^[0-9a-f]{16}$")
_TMP_PREFIX = ".tmp-"
_TRASH_PREFIX = ".trash-"
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
    """The store root of ad-hoc runs (what :func:`~superposition_lib.core.pipeline.load_or_train` and ``superposition train`` use
    when given no store), kept apart from the book's committed runs.

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
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "superposition"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _library_version() -> str:
    """The installed library version, read lazily (no import cycle with ``__init__``)."""
    import sys
    version = getattr(sys.modules.get("superposition_lib"), "__version__", None)
    if version:
        return str(version)
    try:
        from importlib.metadata import version as _version
        return _version("superposition")
    except Exception:  # pragma: no cover - not installed
        return "unknown"


def numerics_record(spec: ExperimentSpec, device: str | torch.device = "cpu") -> dict:
    """What computed a run of ``spec`` on ``device`` in this process, as stored in manifests.

    Parameters
    ----------
    spec : ExperimentSpec
    device : str or torch.device

    Returns
    -------
    dict
        ``version``: :data:`~superposition_lib.core.config.NUMERICS_VERSION`; ``device``: its type
        (``"cpu"``, ``"cuda"``); ``step``: ``"fused"`` (the C kernels' fused step, the same bits
        on every x86-64 instruction set) or ``"general"`` (PyTorch's batched matrix products,
        whose summation order may depend on the CPU's vector extensions and on CUDA);
        ``random_stream``: ``"c"`` or ``"numpy"`` (the fallback without a C compiler, the same
        numbers); ``kernel_isa``: the instruction set of the sparse C kernel, None without the
        kernels; ``torch_cpu_capability``: the vector extension PyTorch's CPU kernels use.

    Examples
    --------
    >>> from superposition_lib.core.config import ExperimentSpec
    >>> record = numerics_record(ExperimentSpec(model="absolute_value", data="signed_uniform"))
    >>> record["version"] == config.NUMERICS_VERSION, record["step"], record["device"]
    (True, 'general', 'cpu')
    """
    from .kernels import backend, sparse_instruction_set
    from .train import separable

    return {"version": config.NUMERICS_VERSION, "device": torch.device(device).type,
            "step": "fused" if separable(spec, device) else "general",
            "random_stream": backend(), "kernel_isa": sparse_instruction_set(),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()}


def _numerics_version(manifest: dict):
    record = manifest.get("numerics")
    return record.get("version") if isinstance(record, dict) else None


def _spec_without_name(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "name"}


#: Types of the manifest's fields (checked when present; bools are refused where numbers are
#: wanted) and the fields every manifest must have.
_MANIFEST_TYPES = {
    "wall_time": (int, float), "eval_samples": (int,), "n_models": (int,), "created": (str,),
    "library_version": (str,), "torch_version": (str,), "numpy_version": (str,),
    "device": (str,), "loss": (list,), "loss_se": (list,), "files": (dict,),
    "numerics": (dict,),
}
_MANIFEST_REQUIRED = ("files",)

#: Earlier format versions whose arrays this library reads unchanged once the entry is renamed
#: (version 1 hashed full-precision floats into the key).
_MIGRATABLE = (1,)

_versions_warned: set[tuple[str, str]] = set()

#: The lock files each thread holds (:meth:`RunStore.lock` is re-entrant within a thread).
_held_locks = threading.local()


class VersionMismatchWarning(UserWarning):
    """A stored run was made with another numpy or torch than the one installed."""


def _warn_versions(manifest: dict) -> None:
    """Warn once per process and pair of versions when a run was stored with other ones."""
    stored = (str(manifest.get("numpy_version")), str(manifest.get("torch_version")))
    if stored == (np.__version__, torch.__version__) or stored in _versions_warned:
        return
    _versions_warned.add(stored)
    warnings.warn(f"runs in the store were made with numpy {stored[0]} and torch {stored[1]}; "
                  f"installed are numpy {np.__version__} and torch {torch.__version__}. They "
                  f"load unchanged, but retraining may differ in the last bits",
                  VersionMismatchWarning, stacklevel=3)


def _write_manifest(entry: Path, manifest: dict) -> None:
    """Replace the manifest of an entry atomically."""
    write_text_atomic(entry / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def _fsync_dir(path: Path) -> None:
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


def _expected_shapes(spec: ExperimentSpec, n_history: int, n_snapshots: int) -> dict:
    k, m, n = spec.n_models, spec.n_hidden, spec.n_features
    shapes = {
        "W": (k, m, n), "b": (k, n), "loss": (k,), "loss_se": (k,), "models": (k,),
        "history_steps": (n_history,), "history_loss": (n_history, k),
        "snapshot_steps": (n_snapshots,), "snapshot_loss": (n_snapshots, k),
    }
    if spec.snapshot_weights:
        shapes.update(snapshot_W=(n_snapshots, k, m, n), snapshot_b=(n_snapshots, k, n))
    else:
        shapes.update(snapshot_D=(n_snapshots, k, n), snapshot_norms=(n_snapshots, k, n))
    if not spec.tied:
        shapes["W_out"] = (k, n, m)
        if spec.snapshot_weights:
            shapes["snapshot_W_out"] = (n_snapshots, k, n, m)
    return shapes


def _check_arrays(spec: ExperimentSpec, arrays: dict[str, np.ndarray]) -> None:
    """Raise ``ValueError`` if ``arrays`` is not a complete run of ``spec``."""
    history = spec.history_steps()
    snaps = spec.snapshot_steps()
    expected = _expected_shapes(spec, len(history), len(snaps))
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        raise ValueError(f"arrays do not match the spec: missing {missing}, unexpected {extra}")
    if not np.array_equal(arrays["models"], np.arange(spec.n_models)):
        raise ValueError(f"models must be arange({spec.n_models}), got {arrays['models']}: the "
                         f"store keeps whole runs, not selections such as Run.best()")
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise ValueError(f"array {name!r} has shape {arrays[name].shape}; the spec implies "
                             f"{shape}")
    if not np.array_equal(arrays["history_steps"], history):
        raise ValueError("history_steps differ from spec.history_steps()")
    if not np.array_equal(arrays["snapshot_steps"], snaps):
        raise ValueError("snapshot steps differ from spec.snapshot_steps()")
    for name in ("W", "b", "loss", "loss_se", "W_out"):
        if name in arrays and not np.all(np.isfinite(arrays[name])):
            raise ValueError(f"array {name!r} contains non-finite values")


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

        :func:`~superposition_lib.core.pipeline.load_or_train` passes it to :func:`~superposition_lib.core.train.train` so that an
        interrupted run resumes; it is never treated as an entry.

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
            :func:`numerics_record`; the CPU when omitted).

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
        _check_arrays(spec, arrays)
        try:
            with self.lock(spec, quiet=True):
                return self._write(run, arrays, device)
        except OSError as e:
            if isinstance(e, StoreWriteError):
                raise
            raise StoreWriteError(e.errno, f"cannot store run {spec.key()} in {self.runs_dir}: "
                                  f"{e.strerror or e}; nothing was stored") from e

    def _write(self, run: Run, arrays: dict[str, np.ndarray], device) -> Path:
        """The atomic write of :meth:`save`, after its checks."""
        spec = run.spec
        key = spec.key()
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        final = self.path(key)
        tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{key}-", dir=self.runs_dir))
        try:
            os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0700 would differ from other entries
            buffer = io.BytesIO()
            np.savez_compressed(buffer, **arrays)
            blob = buffer.getvalue()
            with open(tmp / ARRAYS, "wb") as f:
                f.write(blob)
                f.flush()
                os.fsync(f.fileno())
            manifest = {
                "format_version": config.FORMAT_VERSION,
                "key": key,
                "spec": spec.to_dict(),
                "numerics": numerics_record(spec, "cpu" if device is None else device),
                "library_version": _library_version(),
                "torch_version": torch.__version__,
                "numpy_version": np.__version__,
                "device": None if device is None else str(device),
                "wall_time": float(run.wall_time),
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "eval_samples": int(run.eval_samples),
                "n_models": int(spec.n_models),
                "loss": [float(v) for v in run.loss],
                "loss_se": [float(v) for v in run.loss_se],
                "files": {ARRAYS: {"sha256": hashlib.sha256(blob).hexdigest(),
                                   "bytes": len(blob)}},
            }
            with open(tmp / MANIFEST, "w", encoding="utf-8") as f:
                json.dump(manifest, f, indent=2)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            _fsync_dir(tmp)
            trash = None
            if final.exists():
                trash = self.runs_dir / f"{_TRASH_PREFIX}{key}-{uuid.uuid4().hex[:8]}"
                os.rename(final, trash)
            try:
                os.rename(tmp, final)
            except OSError:
                if trash is None and (final / MANIFEST).is_file():
                    # Another process stored the same run meanwhile: keep its entry.
                    shutil.rmtree(tmp, ignore_errors=True)
                    return final
                if trash is not None and not final.exists():
                    os.rename(trash, final)  # put the old entry back
                raise
            except BaseException:
                if trash is not None and not final.exists():
                    os.rename(trash, final)
                raise
            _fsync_dir(self.runs_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
        return final

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

        :func:`~superposition_lib.core.pipeline.load_or_train` trains and saves a spec only while holding it, so concurrent
        trainings of one spec take turns: the second waits, then loads what the first stored.
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
        if fcntl is None:  # pragma: no cover
            yield
            return
        key = self._key(spec)
        locks = self.runs_dir / _LOCKS
        locks.mkdir(parents=True, exist_ok=True)
        path = (locks / f"{key}.lock").resolve()
        if not hasattr(_held_locks, "paths"):
            _held_locks.paths = set()
        held = _held_locks.paths
        if path in held:  # this thread holds it already (save inside load_or_train)
            yield
            return
        with open(path, "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not quiet:
                    name = spec.name if isinstance(spec, ExperimentSpec) and spec.name else key
                    print(f"waiting for another process that trains {name} in {self.runs_dir} "
                          f"(lock {f.name}); its run is loaded when it finishes",
                          file=sys.stderr, flush=True)
                fcntl.flock(f, fcntl.LOCK_EX)
            held.add(path)
            try:
                self._clear_leftovers(key)
                yield
            finally:
                held.discard(path)
                fcntl.flock(f, fcntl.LOCK_UN)

    def _clear_leftovers(self, key: str) -> None:
        """Remove what a process killed during :meth:`save` of ``key`` left behind (call it only
        while holding the key's lock): temporary directories are deleted, and an old entry that
        was set aside when its replacement never arrived is put back."""
        if not self.runs_dir.is_dir():
            return
        for path in self.runs_dir.glob(f"{_TRASH_PREFIX}{key}-*"):
            final = self.path(key)
            if not final.exists() and (path / MANIFEST).is_file():
                os.rename(path, final)
            else:
                shutil.rmtree(path, ignore_errors=True)
        for path in self.runs_dir.glob(f"{_TMP_PREFIX}{key}-*"):
            shutil.rmtree(path, ignore_errors=True)

    # ------------------------------------------------------------------------------ reading
    def _read_manifest(self, key: str) -> dict:
        entry = self.path(key)
        if not entry.is_dir():
            raise MissingRunError(f"no run {key} in {self.runs_dir}")
        try:
            with open(entry / MANIFEST, encoding="utf-8") as f:
                manifest = json.load(f)
        except FileNotFoundError:
            raise CorruptRunError(f"run {key}: {MANIFEST} is missing") from None
        except (OSError, ValueError) as e:
            raise CorruptRunError(f"run {key}: {MANIFEST} is unreadable ({e})") from None
        if not isinstance(manifest, dict):
            raise CorruptRunError(f"run {key}: {MANIFEST} is not a JSON object")
        version = manifest.get("format_version")
        if version != config.FORMAT_VERSION:
            hint = (" (`superposition migrate` renames it to this version's key)"
                    if version in _MIGRATABLE else "")
            raise CorruptRunError(f"run {key}: format version {version!r}, this library reads "
                                  f"version {config.FORMAT_VERSION}{hint}")
        if manifest.get("key") != key:
            raise CorruptRunError(f"run {key}: the manifest names key {manifest.get('key')!r}")
        if not isinstance(manifest.get("spec"), dict):
            raise CorruptRunError(f"run {key}: the manifest has no spec")
        for field, types in _MANIFEST_TYPES.items():
            value = manifest.get(field)
            if (value is not None or field in _MANIFEST_REQUIRED) and (
                    not isinstance(value, types) or isinstance(value, bool)):
                allowed = " or ".join(t.__name__ for t in types)
                raise CorruptRunError(f"run {key}: manifest field {field!r} is "
                                      f"{type(value).__name__} {value!r:.40}, not {allowed}")
        for field in ("loss", "loss_se"):
            if any(not isinstance(v, (int, float)) for v in manifest.get(field) or ()):
                raise CorruptRunError(f"run {key}: manifest field {field!r} holds a value that "
                                      f"is not a number")
        if not isinstance(manifest["files"].get(ARRAYS), dict):
            raise CorruptRunError(f"run {key}: the manifest has no checksum of {ARRAYS}")
        return manifest

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
        _warn_versions(manifest)
        entry = self.path(key)
        try:
            blob = (entry / ARRAYS).read_bytes()
        except OSError as e:
            raise CorruptRunError(f"run {key}: {ARRAYS} is unreadable ({e})") from None
        expected = manifest.get("files", {}).get(ARRAYS, {}).get("sha256")
        actual = hashlib.sha256(blob).hexdigest()
        if expected != actual:
            raise CorruptRunError(f"run {key}: {ARRAYS} checksum mismatch (manifest "
                                  f"{expected}, file {actual})")
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except Exception as e:  # zipfile, zlib, format errors
            raise CorruptRunError(f"run {key}: {ARRAYS} is unreadable ({e})") from None
        try:
            _check_arrays(spec, arrays)
        except ValueError as e:
            raise CorruptRunError(f"run {key}: {e}") from None
        snapshots = Snapshots(arrays["snapshot_steps"], arrays.get("snapshot_W"),
                              arrays.get("snapshot_b"), arrays["snapshot_loss"],
                              arrays.get("snapshot_W_out"), arrays.get("snapshot_D"),
                              arrays.get("snapshot_norms"))
        return Run(spec=spec, W=arrays["W"], b=arrays["b"], loss=arrays["loss"],
                   loss_se=arrays["loss_se"], eval_samples=int(manifest.get("eval_samples", 0)),
                   history_steps=arrays["history_steps"], history_loss=arrays["history_loss"],
                   snapshots=snapshots, models=arrays["models"], W_out=arrays.get("W_out"),
                   wall_time=float(manifest.get("wall_time", 0.0)))

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

        An entry of a version in ``_MIGRATABLE`` keeps its arrays (and their checksum); its
        manifest is rewritten atomically with the current format version, the new key, the
        normalised spec and ``migrated_from`` (the old key and version), then its directory is
        renamed. A current entry in a directory not named by its spec's key (renamed by hand) is
        moved to its key the same way. An interrupted migration is completed by the next call.
        Entries that already have the current version and the right name are left alone, and
        key-named directories without a manifest are not entries (:meth:`keys`).

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
            if version != config.FORMAT_VERSION and version not in _MIGRATABLE:
                raise CorruptRunError(f"run {old}: format version {version!r} cannot be "
                                      f"migrated to {config.FORMAT_VERSION}")
            new = spec.key()
            if version != config.FORMAT_VERSION or manifest.get("key") != new:
                manifest.update(format_version=config.FORMAT_VERSION, key=new,
                                spec=spec.to_dict(),
                                migrated_from={"key": manifest.get("key", old),
                                               "format_version": version})
                _write_manifest(entry, manifest)
            if new != old:
                if self.path(new).exists():
                    raise CorruptRunError(f"run {old}: its new key {new} is taken by another "
                                          f"entry")
                os.rename(entry, self.path(new))
                renamed.append((old, new))
        if renamed:
            _fsync_dir(self.runs_dir)
        return renamed

    def record_numerics(self, key: str, record: dict) -> None:
        """Mark an entry as computed by ``record`` (see :func:`numerics_record`) without
        touching its arrays: for a stale entry that a retraining with this library reproduced
        bit for bit (:func:`~superposition_lib.core.reproduce.verify`). The manifest is rewritten
        atomically, keeping the earlier record under ``numerics_before``.

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
            _write_manifest(self.path(key), manifest)

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
