"""The format of a run-store entry: what its two files hold and the checks a read makes.

Every entry of :class:`~superposition_lib.core.store.RunStore` is a directory with two files:

``arrays.npz`` (:data:`ARRAYS`)
    Every array of the :class:`~superposition_lib.core.run.Run` (final weights and biases, final
    losses, loss history, model indices, snapshots), compressed; their shapes follow from the
    spec (:func:`check_arrays`).
``manifest.json`` (:data:`MANIFEST`)
    The full spec, the format version, the numerics record (:func:`numerics_record`: the
    numerics version and the code path that computed the run), library / torch / numpy
    versions, wall time, creation time, evaluation samples, final losses and the SHA-256 of
    ``arrays.npz`` (:func:`manifest_of`).

The functions here raise ``ValueError`` for an entry they cannot use, with a message that the
store prefixes with the run's key (as a :class:`~superposition_lib.core.store.CorruptRunError`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import warnings
from pathlib import Path

import numpy as np
import torch

from . import config
from .config import ExperimentSpec
from .files import write_text_atomic
from .run import Run, Snapshots

__all__ = ["MANIFEST", "ARRAYS", "MIGRATABLE", "VersionMismatchWarning", "numerics_record",
           "manifest_of", "manifest_text", "write_manifest", "read_manifest", "warn_versions",
           "read_arrays", "check_arrays", "as_run"]

#: File name of an entry's manifest.
MANIFEST = "manifest.json"
#: File name of an entry's arrays.
ARRAYS = "arrays.npz"
#: Earlier format versions whose arrays this library reads unchanged once the entry is renamed
#: (version 1 hashed full-precision floats into the key;
#: :meth:`~superposition_lib.core.store.RunStore.migrate` renames such entries).
MIGRATABLE = (1,)

#: Types of the manifest's fields (checked when present; bools are refused where numbers are
#: wanted) and the fields every manifest must have.
_MANIFEST_TYPES = {
    "wall_time": (int, float), "eval_samples": (int,), "n_models": (int,), "created": (str,),
    "library_version": (str,), "torch_version": (str,), "numpy_version": (str,),
    "device": (str,), "loss": (list,), "loss_se": (list,), "files": (dict,),
    "numerics": (dict,),
}
_MANIFEST_REQUIRED = ("files",)

_versions_warned: set[tuple[str, str]] = set()


class VersionMismatchWarning(UserWarning):
    """A stored run was made with another numpy or torch than the one installed."""


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


def manifest_of(run: Run, blob: bytes, device: str | torch.device | None = None) -> dict:
    """The manifest of an entry that stores ``run``, whose ``arrays.npz`` holds ``blob``.

    Parameters
    ----------
    run : Run
        A complete run.
    blob : bytes
        The content of the entry's :data:`ARRAYS` file (its size and SHA-256 are recorded).
    device : str or torch.device, optional
        Device the run was trained on (the CPU when omitted; recorded as None then).

    Returns
    -------
    dict
        Ready for ``json.dump``: ``format_version``, ``key``, ``spec``, ``numerics``
        (:func:`numerics_record`), library, torch and numpy versions, ``device``,
        ``wall_time``, ``created``, ``eval_samples``, ``n_models``, ``loss``, ``loss_se`` and
        ``files``.

    Examples
    --------
    >>> from superposition_lib.core.train import train
    >>> run = train(ExperimentSpec(steps=50, batch_size=128), progress=False)
    >>> manifest = manifest_of(run, b"arrays")
    >>> manifest["key"] == run.spec.key(), manifest["files"][ARRAYS]["bytes"]
    (True, 6)
    """
    spec = run.spec
    return {
        "format_version": config.FORMAT_VERSION,
        "key": spec.key(),
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
        "files": {ARRAYS: {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)}},
    }


def manifest_text(manifest: dict) -> str:
    """The text of a ``manifest.json``: indented JSON and a final newline.

    Parameters
    ----------
    manifest : dict

    Returns
    -------
    str

    Examples
    --------
    >>> print(manifest_text({"key": "0123456789abcdef"}), end="")
    {
      "key": "0123456789abcdef"
    }
    """
    return json.dumps(manifest, indent=2) + "\n"


def write_manifest(entry: Path, manifest: dict) -> None:
    """Replace the manifest of the entry directory ``entry`` atomically
    (:func:`~superposition_lib.core.files.write_text_atomic`), leaving its arrays alone.

    Parameters
    ----------
    entry : Path
        The entry's directory.
    manifest : dict
        The new manifest.

    Examples
    --------
    >>> import tempfile
    >>> entry = Path(tempfile.mkdtemp())
    >>> write_manifest(entry, {"key": "0123456789abcdef"})
    >>> json.loads((entry / MANIFEST).read_text(encoding="utf-8"))
    {'key': '0123456789abcdef'}
    """
    write_text_atomic(entry / MANIFEST, manifest_text(manifest))


def read_manifest(entry: Path, key: str) -> dict:
    """The manifest of the entry directory ``entry``, after checking its format version, key
    and the types of its fields.

    Parameters
    ----------
    entry : Path
        The entry's directory.
    key : str
        The key the entry must have.

    Returns
    -------
    dict
        The parsed manifest.

    Raises
    ------
    ValueError
        If the manifest is missing or unreadable, not a JSON object, of another format version
        (naming ``superposition migrate`` for one in :data:`MIGRATABLE`) or key, has no spec or
        no checksum of the arrays, or holds a field of the wrong type.

    Examples
    --------
    >>> import tempfile
    >>> entry = Path(tempfile.mkdtemp())
    >>> _ = (entry / MANIFEST).write_text('{"format_version": 1}')
    >>> read_manifest(entry, "0123456789abcdef")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: format version 1, this library reads version ...
    """
    try:
        with open(entry / MANIFEST, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{MANIFEST} is missing") from None
    except (OSError, ValueError) as e:
        raise ValueError(f"{MANIFEST} is unreadable ({e})") from None
    if not isinstance(manifest, dict):
        raise ValueError(f"{MANIFEST} is not a JSON object")
    version = manifest.get("format_version")
    if version != config.FORMAT_VERSION:
        hint = (" (`superposition migrate` renames it to this version's key)"
                if version in MIGRATABLE else "")
        raise ValueError(f"format version {version!r}, this library reads version "
                         f"{config.FORMAT_VERSION}{hint}")
    if manifest.get("key") != key:
        raise ValueError(f"the manifest names key {manifest.get('key')!r}")
    if not isinstance(manifest.get("spec"), dict):
        raise ValueError("the manifest has no spec")
    for field, types in _MANIFEST_TYPES.items():
        value = manifest.get(field)
        if (value is not None or field in _MANIFEST_REQUIRED) and (
                not isinstance(value, types) or isinstance(value, bool)):
            allowed = " or ".join(t.__name__ for t in types)
            raise ValueError(f"manifest field {field!r} is {type(value).__name__} "
                             f"{value!r:.40}, not {allowed}")
    for field in ("loss", "loss_se"):
        if any(not isinstance(v, (int, float)) for v in manifest.get(field) or ()):
            raise ValueError(f"manifest field {field!r} holds a value that is not a number")
    if not isinstance(manifest["files"].get(ARRAYS), dict):
        raise ValueError(f"the manifest has no checksum of {ARRAYS}")
    return manifest


def warn_versions(manifest: dict) -> None:
    """Warn once per process and pair of versions when a run was stored with another numpy or
    torch than the one installed.

    Parameters
    ----------
    manifest : dict
        A manifest (its ``numpy_version`` and ``torch_version``).

    Warns
    -----
    VersionMismatchWarning
        The first time a pair of versions other than the installed ones is seen, at the caller
        of the caller (:meth:`~superposition_lib.core.store.RunStore.load`'s).

    Examples
    --------
    >>> warn_versions({"numpy_version": np.__version__, "torch_version": torch.__version__})
    """
    stored = (str(manifest.get("numpy_version")), str(manifest.get("torch_version")))
    if stored == (np.__version__, torch.__version__) or stored in _versions_warned:
        return
    _versions_warned.add(stored)
    warnings.warn(f"runs in the store were made with numpy {stored[0]} and torch {stored[1]}; "
                  f"installed are numpy {np.__version__} and torch {torch.__version__}. They "
                  f"load unchanged, but retraining may differ in the last bits",
                  VersionMismatchWarning, stacklevel=3)


def read_arrays(entry: Path, manifest: dict) -> dict[str, np.ndarray]:
    """The arrays of the entry directory ``entry``, after checking them against the SHA-256
    that its manifest records.

    Parameters
    ----------
    entry : Path
        The entry's directory.
    manifest : dict
        Its manifest, as returned by :func:`read_manifest`.

    Returns
    -------
    dict of str to ndarray

    Raises
    ------
    ValueError
        If the file is unreadable or its checksum differs from the manifest's.

    Examples
    --------
    >>> import tempfile
    >>> entry = Path(tempfile.mkdtemp())
    >>> np.savez_compressed(entry / ARRAYS, W=np.zeros(3))
    >>> sha256 = hashlib.sha256((entry / ARRAYS).read_bytes()).hexdigest()
    >>> read_arrays(entry, {"files": {ARRAYS: {"sha256": sha256}}})
    {'W': array([0., 0., 0.])}
    """
    try:
        blob = (entry / ARRAYS).read_bytes()
    except OSError as e:
        raise ValueError(f"{ARRAYS} is unreadable ({e})") from None
    expected = manifest.get("files", {}).get(ARRAYS, {}).get("sha256")
    actual = hashlib.sha256(blob).hexdigest()
    if expected != actual:
        raise ValueError(f"{ARRAYS} checksum mismatch (manifest {expected}, file {actual})")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except Exception as e:  # zipfile, zlib, format errors
        raise ValueError(f"{ARRAYS} is unreadable ({e})") from None


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


def check_arrays(spec: ExperimentSpec, arrays: dict[str, np.ndarray]) -> None:
    """Check that ``arrays`` are a complete run of ``spec``, as :meth:`Run.arrays
    <superposition_lib.core.run.Run.arrays>` returns them.

    Parameters
    ----------
    spec : ExperimentSpec
    arrays : dict of str to ndarray
        ``W`` (models, m, n), ``b`` (models, n), ``loss`` and ``loss_se`` (models,), ``models``
        (models,), the loss history, the snapshots and, for untied models, ``W_out``.

    Raises
    ------
    ValueError
        If an array is missing or unexpected, has a shape the spec does not imply, the model
        indices are not all the spec's models (a selection such as ``Run.best()``), the recorded
        steps differ from the spec's, or the final weights or losses are not finite.

    Examples
    --------
    >>> from superposition_lib.core.train import train
    >>> arrays = train(ExperimentSpec(steps=50, batch_size=128), progress=False).arrays()
    >>> check_arrays(ExperimentSpec(steps=50, batch_size=128), arrays)
    >>> check_arrays(ExperimentSpec(steps=50, batch_size=128, n_hidden=3), arrays)
    Traceback (most recent call last):
    ...
    ValueError: array 'W' has shape (1, 2, 5); the spec implies (1, 3, 5)
    """
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


def as_run(spec: ExperimentSpec, arrays: dict[str, np.ndarray], manifest: dict) -> Run:
    """The :class:`~superposition_lib.core.run.Run` of an entry's checked arrays and manifest.

    Parameters
    ----------
    spec : ExperimentSpec
        The spec the run carries.
    arrays : dict of str to ndarray
        As checked by :func:`check_arrays`.
    manifest : dict
        Its ``eval_samples`` and ``wall_time`` (0 where absent).

    Returns
    -------
    Run

    Examples
    --------
    >>> from superposition_lib.core.train import train
    >>> run = train(ExperimentSpec(steps=50, batch_size=128), progress=False)
    >>> again = as_run(run.spec, run.arrays(), {"eval_samples": run.eval_samples})
    >>> bool((again.W == run.W).all()), again.wall_time
    (True, 0.0)
    """
    snapshots = Snapshots(arrays["snapshot_steps"], arrays.get("snapshot_W"),
                          arrays.get("snapshot_b"), arrays["snapshot_loss"],
                          arrays.get("snapshot_W_out"), arrays.get("snapshot_D"),
                          arrays.get("snapshot_norms"))
    return Run(spec=spec, W=arrays["W"], b=arrays["b"], loss=arrays["loss"],
               loss_se=arrays["loss_se"], eval_samples=int(manifest.get("eval_samples", 0)),
               history_steps=arrays["history_steps"], history_loss=arrays["history_loss"],
               snapshots=snapshots, models=arrays["models"], W_out=arrays.get("W_out"),
               wall_time=float(manifest.get("wall_time", 0.0)))
