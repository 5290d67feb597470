"""Fast, reproducible float32 uniforms from a counter-based generator.

The stream of a ``key`` is an infinite sequence of float32 uniforms in [0, 1). Float ``k`` comes
from the 64-bit word ``z = mix(key, k // 2)``, where ``mix`` is SplitMix64's output function
(Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators", OOPSLA) applied to a
counter ``c`` (all arithmetic modulo 2**64)::

    z = key + (c + 1) * 0x9E3779B97F4A7C15
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB
    z = z ^ (z >> 31)

Each word gives two floats with 24-bit resolution: ``(z >> 40) * 2**-24`` for even ``k`` and
``((z >> 8) & 0xFFFFFF) * 2**-24`` for odd ``k``. ``offset`` counts floats: a draw of ``n`` floats
at ``offset`` is floats ``offset .. offset + n - 1`` of the stream; any ``offset >= 0`` is allowed,
odd ones included.

Why counter-based: every float is a pure function of ``(key, index)``, with no state carried from
one float to the next. The output is therefore bit-identical however the work is split between
threads or chunks (fill two halves of a buffer at offsets ``0`` and ``n // 2`` from two threads and
you get the single-call result), and a run resumes exactly from a saved counter.

The generator is C (``_kernels.c``), compiled with ``$CC`` (default ``gcc``) on first use into
``$SUPERPOSITION_CACHE`` (default ``$XDG_CACHE_HOME/superposition``, or
``~/.cache/superposition`` where ``$XDG_CACHE_HOME`` is unset) and loaded with :mod:`ctypes`,
which releases the GIL during the call, so Python threads filling disjoint parts run in parallel.
Without a working compiler, :func:`numpy_fill_uniform` (the reference implementation, identical
output) is used instead and a warning says so.

The same file holds the trainer's other hot loops: :func:`relu_error` (the ReLU output's error
signal in one pass) and :func:`tied_step`, a whole training step (data, forward pass, loss and
exact gradients) of tied models on sparse uniform data, which draws its batch from the stream
inside the kernel instead of storing it.

Vector extensions: the kernels are compiled once per machine into the cache, with clones for
AVX-512, AVX2 and the baseline instruction set (``target_clones``, x86-64 with glibc); the
dynamic loader runs the widest one the CPU supports. The sparse kernel, whose vector width
decides how its sums fit the registers, is instead written once (``_sparse_step.h``) and
instantiated per instruction set with its own width (:func:`sparse_instruction_set`).
``SUPERPOSITION_KERNEL_ISA=avx2`` leaves out the AVX-512 code and ``baseline`` all the wider
code (for measuring them, or for a CPU whose wide units slow it down). All give the same bits:
no fused multiply-adds, sums in a fixed order.
"""

from __future__ import annotations

import ctypes
import hashlib
import operator
import os
import shlex
import subprocess
import sysconfig
import tempfile
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .files import user_cache

__all__ = ["SMALL_MAX_HIDDEN", "SMALL_MAX_FEATURES", "backend", "fill_sparse_uniform",
           "fill_uniform", "in_halves", "numpy_fill_uniform", "relu_error",
           "sparse_instruction_set", "tied_step"]

_SOURCE = Path(__file__).with_name("_kernels.c")
#: Included by _SOURCE (once per instruction set): part of the cache key.
_HEADERS = [Path(__file__).with_name("_sparse_step.h")]
# -fno-trapping-math changes no result (the kernels never read the floating-point exception
# flags): it lets the compiler evaluate both sides of a ReLU's select and vectorise it without
# AVX-512's masks (see _kernels.c).
_FLAGS = ["-std=c99", "-O3", "-fno-trapping-math", "-shared", "-fPIC"]
_GOLDEN, _M1, _M2 = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9),
                     np.uint64(0x94D049BB133111EB))
_SCALE = np.float32(2.0 ** -24)
_BLOCK = 1 << 16  # counters per numpy block: temporaries stay in cache (3.5x faster than one pass)

_lock = threading.Lock()
_c_lib = None  # the C library once loaded; False after falling back to numpy


def _cache_dir() -> Path:
    """Where the compiled kernels are kept: ``$SUPERPOSITION_CACHE`` if set; else
    ``$XDG_CACHE_HOME/superposition``; else ``~/.cache/superposition`` (the directory that
    :func:`~superposition_lib.core.store.user_root` gives ad-hoc runs by default)."""
    env = os.environ.get("SUPERPOSITION_CACHE")
    return Path(env).expanduser() if env else user_cache()


#: Environment variable limiting the vector extensions the kernels may use.
ENV_ISA = "SUPERPOSITION_KERNEL_ISA"
#: Its values: every clone the compiler can make (default), no AVX-512, or the baseline only.
ISA_LEVELS = {"auto": 2, "avx2": 1, "baseline": 0}


def _flags() -> list[str]:
    """Compiler flags, with the vector extensions ``$SUPERPOSITION_KERNEL_ISA`` allows."""
    choice = os.environ.get(ENV_ISA) or "auto"
    if choice not in ISA_LEVELS:
        raise ValueError(f"{ENV_ISA}: must be one of {', '.join(ISA_LEVELS)}; got {choice!r}")
    return [*_FLAGS, f"-DSUPERPOSITION_ISA={ISA_LEVELS[choice]}"]


def _build() -> ctypes.CDLL:
    """Compile ``_kernels.c`` into the cache (unless already there) and load it."""
    source = b"".join(path.read_bytes() for path in [_SOURCE, *_HEADERS])
    platform = sysconfig.get_platform()
    flags = _flags()
    compiler = shlex.split(os.environ.get("CC") or "gcc")
    digest = hashlib.sha256(source + " ".join([platform, *compiler, *flags]).encode()
                            ).hexdigest()[:16]
    cache = _cache_dir()
    lib = cache / f"_kernels-{platform}-{digest}.so"
    if not lib.exists():
        cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", prefix=".tmp-", dir=cache)
        os.close(fd)
        try:
            subprocess.run([*compiler, *flags, "-o", tmp, str(_SOURCE)],
                           check=True, capture_output=True, text=True)
            os.replace(tmp, lib)  # atomic: concurrent builders each install a complete file
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return ctypes.CDLL(str(lib))


_SIGNATURES = {
    "fill_uniform": [ctypes.c_void_p, ctypes.c_int64, ctypes.c_uint64, ctypes.c_int64],
    "fill_sparse_uniform": [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                            ctypes.c_int64, ctypes.c_uint64, ctypes.c_int64, ctypes.c_void_p],
    "relu_error": [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64],
    "small_tied_step": [ctypes.c_void_p] * 4 + [ctypes.c_int64] * 5
                       + [ctypes.c_int, ctypes.c_uint64, ctypes.c_int64] + [ctypes.c_void_p] * 3,
    "sparse_tied_step": [ctypes.c_void_p] * 4 + [ctypes.c_int64] * 5
                        + [ctypes.c_int, ctypes.c_uint64, ctypes.c_int64] + [ctypes.c_void_p] * 3,
    "sparse_step_isa": [],
}
_RESTYPES = {"sparse_step_isa": ctypes.c_int}


def _kernel():
    """The loaded C library, or None when it could not be built (warns once)."""
    global _c_lib
    if _c_lib is None:
        with _lock:
            if _c_lib is None:
                try:
                    lib = _build()
                    for name, argtypes in _SIGNATURES.items():
                        getattr(lib, name).argtypes = argtypes
                        getattr(lib, name).restype = _RESTYPES.get(name)
                    _c_lib = lib
                except (OSError, AttributeError, subprocess.SubprocessError) as exc:
                    reason = exc.stderr.strip() if getattr(exc, "stderr", None) else exc
                    warnings.warn(f"superposition_lib.core.kernels: cannot build the C generator "
                                  f"({reason}); using the numpy fallback, so training will be "
                                  f"slower", RuntimeWarning, stacklevel=3)
                    _c_lib = False
    return _c_lib or None


def _check(out, key, offset) -> tuple[int, int]:
    if not isinstance(out, np.ndarray) or out.dtype != np.float32:
        got = out.dtype if isinstance(out, np.ndarray) else type(out).__name__
        raise ValueError(f"out must be a float32 numpy array, got {got}")
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous (use np.ascontiguousarray or a fresh buffer)")
    if not out.flags.writeable:
        raise ValueError("out must be writeable")
    key, offset = operator.index(key), operator.index(offset)
    if not 0 <= key < 2 ** 64:
        raise ValueError(f"key must be in [0, 2**64), got {key}")
    if not 0 <= offset <= 2 ** 63 - 1 - out.size:
        raise ValueError(f"offset must be in [0, 2**63 - out.size), got {offset}")
    return key, offset


def numpy_fill_uniform(out: np.ndarray, key: int, offset: int) -> np.ndarray:
    """Fill ``out`` with floats ``offset .. offset + out.size - 1`` of stream ``key`` (numpy).

    The reference implementation of the generator (see the module docstring) and the fallback
    when the C kernel cannot be built; bit-identical to :func:`fill_uniform`.

    Parameters
    ----------
    out : numpy.ndarray
        C-contiguous, writeable float32 array of any shape, filled in place.
    key : int
        Stream key, in ``[0, 2**64)``.
    offset : int
        Index of the first float in the stream, ``>= 0``.

    Returns
    -------
    numpy.ndarray
        ``out``.

    Examples
    --------
    >>> out = numpy_fill_uniform(np.empty(3, np.float32), key=1, offset=0)
    >>> bool(((out >= 0) & (out < 1)).all())
    True
    >>> bool((numpy_fill_uniform(np.empty(2, np.float32), 1, 1) == out[1:]).all())
    True
    """
    key, offset = _check(out, key, offset)
    flat, end = out.reshape(-1), offset + out.size
    for c in range(offset // 2, (end + 1) // 2, _BLOCK):
        pairs = _uniform_pairs(key, c, min(_BLOCK, (end + 1) // 2 - c))
        lo, hi = max(2 * c, offset), min(2 * c + pairs.size, end)
        flat[lo - offset:hi - offset] = pairs.reshape(-1)[lo - 2 * c:hi - 2 * c]
    return out


def _uniform_pairs(key: int, first: int, count: int) -> np.ndarray:
    """Floats ``2 * first .. 2 * (first + count) - 1`` of stream ``key``, shape (count, 2)."""
    z = np.arange(first + 1, first + count + 1, dtype=np.uint64)
    z *= _GOLDEN
    z += np.uint64(key)
    t = z >> np.uint64(30)
    z ^= t
    z *= _M1
    np.right_shift(z, np.uint64(27), out=t)
    z ^= t
    z *= _M2
    np.right_shift(z, np.uint64(31), out=t)
    z ^= t
    pairs = np.empty((count, 2), np.float32)
    pairs[:, 0] = np.right_shift(z, np.uint64(40), out=t)
    pairs[:, 1] = np.bitwise_and(np.right_shift(z, np.uint64(8), out=t), np.uint64(0xFFFFFF),
                                 out=t)
    pairs *= _SCALE
    return pairs


def fill_uniform(out: np.ndarray, key: int, offset: int) -> np.ndarray:
    """Fill ``out`` with floats ``offset .. offset + out.size - 1`` of stream ``key``.

    Uses the C kernel (built on first use, see the module docstring), which releases the GIL: two
    threads filling ``out[:h]`` at ``offset`` and ``out[h:]`` at ``offset + h`` run in parallel
    and give the same result as one call. Falls back to :func:`numpy_fill_uniform`, with a
    warning, when the kernel cannot be built.

    Parameters
    ----------
    out : numpy.ndarray
        C-contiguous, writeable float32 array of any shape, filled in place.
    key : int
        Stream key, in ``[0, 2**64)``.
    offset : int
        Index of the first float in the stream, ``>= 0`` (odd values are allowed).

    Returns
    -------
    numpy.ndarray
        ``out``.

    Raises
    ------
    ValueError
        If ``out`` is not a C-contiguous writeable float32 array, or ``key`` or ``offset`` is
        out of range.

    Examples
    --------
    >>> buf = fill_uniform(np.empty((2, 3), np.float32), key=7, offset=0)
    >>> bool(((buf >= 0) & (buf < 1)).all())
    True
    >>> tail = fill_uniform(np.empty(5, np.float32), key=7, offset=1)
    >>> bool((tail == buf.ravel()[1:]).all())
    True
    >>> bool((buf == numpy_fill_uniform(np.empty((2, 3), np.float32), 7, 0)).all())
    True
    """
    key, offset = _check(out, key, offset)
    lib = _kernel()
    if lib is None:
        return numpy_fill_uniform(out, key, offset)
    lib.fill_uniform(out.ctypes.data, out.size, key, offset)
    return out


def fill_sparse_uniform(out: np.ndarray, inv_probability: np.ndarray, key: int, offset: int,
                        rows: tuple[int, int] | None = None) -> np.ndarray:
    """Draw sparse uniform features straight from the stream (fused, one pass).

    Float ``offset + k`` of stream ``key`` gives element ``k`` of ``out`` (C order) as
    ``max(0, 1 − u / p)``: present iff ``u < p``, then Uniform(0, 1] (see
    :mod:`superposition_lib.core.data`). Identical, up to float rounding, to :func:`fill_uniform`
    followed by that transform.

    Parameters
    ----------
    out : numpy.ndarray, shape (models, batch, n)
        C-contiguous float32, filled in place.
    inv_probability : numpy.ndarray, shape (models, n)
        C-contiguous float32 ``1 / p`` of every feature of every model.
    key : int
        Stream key, in ``[0, 2**64)``.
    offset : int
        Stream index of ``out``'s first element, ``>= 0``.
    rows : (int, int), optional
        Only fill flattened rows ``start .. stop - 1`` of the ``models × batch`` rows (to split
        the work between threads); all rows by default.

    Returns
    -------
    numpy.ndarray
        ``out``.

    Examples
    --------
    >>> x = fill_sparse_uniform(np.empty((1, 4, 2), np.float32),
    ...                         np.array([[1.0, 2.0]], np.float32), key=3, offset=0)
    >>> u = fill_uniform(np.empty((1, 4, 2), np.float32), key=3, offset=0)
    >>> bool(np.allclose(x, np.maximum(0, 1 - u / [1.0, 0.5])))
    True
    """
    models, batch, n = out.shape
    key, offset = _check(out, key, offset)
    if inv_probability.shape != (models, n) or inv_probability.dtype != np.float32 \
            or not inv_probability.flags.c_contiguous:
        raise ValueError(f"inv_probability must be a C-contiguous float32 array of shape "
                         f"{(models, n)}, got {inv_probability.dtype} {inv_probability.shape}")
    start, stop = rows if rows is not None else (0, models * batch)
    lib = _kernel()
    if lib is not None:
        lib.fill_sparse_uniform(out.ctypes.data + start * n * 4, start, stop - start, batch, n,
                                key, offset, inv_probability.ctypes.data)
        return out
    flat = out.reshape(models * batch, n)[start:stop]
    numpy_fill_uniform(flat, key, offset + start * n)
    scale = np.repeat(inv_probability, batch, axis=0)[start:stop]
    np.maximum(1 - flat * scale, 0, out=flat)
    return out


def relu_error(z: np.ndarray, target: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The ReLU output's error signal in one pass: ``z − target`` where ``z > 0``, else 0.

    Parameters
    ----------
    z, target, out : numpy.ndarray
        C-contiguous float32 arrays of one shape; ``out`` is written.

    Returns
    -------
    numpy.ndarray
        ``out``.

    Examples
    --------
    >>> relu_error(np.array([-1, 2], np.float32), np.array([0.5, 0.5], np.float32),
    ...            np.empty(2, np.float32))
    array([0. , 1.5], dtype=float32)
    """
    for name, a in (("z", z), ("target", target), ("out", out)):
        if a.dtype != np.float32 or not a.flags.c_contiguous or a.shape != z.shape:
            raise ValueError(f"{name} must be a C-contiguous float32 array of shape {z.shape}")
    lib = _kernel()
    if lib is None:
        np.subtract(z, target, out=out)
        out[z <= 0] = 0
        return out
    lib.relu_error(z.ctypes.data, target.ctypes.data, out.ctypes.data, z.size)
    return out


#: Largest n of the small-model kernel, which keeps a block of samples of every feature in
#: registers and fixed-size buffers; larger models use the sparse kernel.
SMALL_MAX_FEATURES = 32
#: Largest m of the small-model kernel.
SMALL_MAX_HIDDEN = 8


#: What :func:`sparse_instruction_set` returns, by the C library's code for it.
SPARSE_INSTRUCTION_SETS = {2: "avx512", 1: "avx2", 0: "baseline"}


def sparse_instruction_set() -> str | None:
    """The instruction set of the sparse kernel's instantiation that :func:`tied_step` runs on
    this CPU for models larger than the small-model kernel's limits.

    The kernel is written once and compiled for AVX-512 (vectors of 16 floats), AVX2 (8) and
    the baseline (4), each with the register blocks its register file holds; all give the same
    bits. ``$SUPERPOSITION_KERNEL_ISA`` leaves out the wider ones.

    Returns
    -------
    str or None
        ``"avx512"``, ``"avx2"`` or ``"baseline"``; None when the C kernels could not be built.

    Examples
    --------
    >>> sparse_instruction_set() in ("avx512", "avx2", "baseline", None)
    True
    """
    lib = _kernel()
    return SPARSE_INSTRUCTION_SETS[lib.sparse_step_isa()] if lib is not None else None


def tied_step(W: np.ndarray, b: np.ndarray, importance: np.ndarray,
              inv_probability: np.ndarray, batch: int, relu: bool, key: int, offset: int,
              grad_W: np.ndarray, grad_b: np.ndarray, loss: np.ndarray, *,
              hidden_relu: bool = False) -> bool:
    """Loss and exact gradients of tied models on sparse uniform data drawn in the kernel.

    For the ReLU-output (``relu=True``), ReLU-hidden-layer (``relu=True, hidden_relu=True``) or
    linear model, computes what
    :func:`~superposition_lib.core.models.loss_and_grads` computes on the batch
    :func:`fill_sparse_uniform` would draw at ``offset`` (same stream floats, same layout), but
    sample by sample: the (models, batch, n) batch is never stored. Two C kernels share the
    work:

    - n <= :data:`SMALL_MAX_FEATURES` and m <= :data:`SMALL_MAX_HIDDEN` (e.g. 9,000 models
      with n = 2, m = 1): blocks of 128 samples in registers, which avoids batched matrix
      products of 1-2 columns that cost far more than their arithmetic;
    - larger models (e.g. n = 400, m = 30): per sample, only the present features enter the
      hidden layer and only the outputs with a non-zero error signal enter the backward pass,
      so the cost falls with the density of the inputs. Compiled per instruction set (see
      :func:`sparse_instruction_set`); on an idle 2-core AMD EPYC, a whole training step of
      20 models with n = 400, m = 30 and batch 1024 takes 22 ms with AVX-512 and 26 ms with
      AVX2 alone (``benchmarks/trainer.py``). Training pinned to one core with AVX2, it was at
      most 10% slower than batched matrix products (dense n = 256, m = 128) and as fast or
      faster at the other sizes measured (n = 33 to 1,000), so the trainer uses it on every
      instruction set and its path does not depend on the CPU.

    Parameters
    ----------
    W : numpy.ndarray, shape (models, m, n)
    b, importance, inv_probability : numpy.ndarray, shape (models, n)
        Biases, importances and 1/p.
    batch : int
        Samples per model.
    relu : bool
        ReLU output (True) or linear model.
    key, offset : int
        The stream and the index of the batch's first float.
    grad_W : numpy.ndarray, shape (models, m, n)
    grad_b : numpy.ndarray, shape (models, n)
    loss : numpy.ndarray, shape (models,)
        Written: gradients and the loss (mean over batch and features of I·err²).
    hidden_relu : bool
        A ReLU on the hidden layer too: x' = ReLU(Wᵀ ReLU(Wx) + b).

    Returns
    -------
    bool
        False (and nothing written) when the C kernels are unavailable: use the general path.

    Raises
    ------
    ValueError
        If an array is not C-contiguous float32 of the shape listed above.

    Examples
    --------
    >>> W = np.array([[[1.0, -1.0]]], np.float32)
    >>> b, imp, inv_p = (np.zeros((1, 2), np.float32), np.ones((1, 2), np.float32),
    ...                  np.ones((1, 2), np.float32))
    >>> gW, gb, loss = np.empty_like(W), np.empty_like(b), np.empty(1, np.float32)
    >>> if tied_step(W, b, imp, inv_p, 4096, True, 1, 0, gW, gb, loss):
    ...     assert abs(loss[0] - 1 / 6) < 0.01   # dense antipodal pair: E[min(x, y)²]
    """
    models, m, n = W.shape
    lib = _kernel()
    if lib is None:
        return False
    arrays = {"W": (W, (models, m, n)), "b": (b, (models, n)), "importance": (importance,
              (models, n)), "inv_probability": (inv_probability, (models, n)),
              "grad_W": (grad_W, (models, m, n)), "grad_b": (grad_b, (models, n)),
              "loss": (loss, (models,))}
    for name, (a, shape) in arrays.items():
        if (not isinstance(a, np.ndarray) or a.dtype != np.float32 or a.shape != shape
                or not a.flags.c_contiguous):
            raise ValueError(f"{name} must be a C-contiguous float32 array of shape {shape}")
    key, offset = operator.index(key), operator.index(offset)
    pointers = (W.ctypes.data, b.ctypes.data, importance.ctypes.data,
                inv_probability.ctypes.data)
    outputs = (grad_W.ctypes.data, grad_b.ctypes.data, loss.ctypes.data)
    kind = int(relu) | 2 * int(hidden_relu)
    if n <= SMALL_MAX_FEATURES and m <= SMALL_MAX_HIDDEN:
        in_halves(lambda r0, r1: lib.small_tied_step(*pointers, r0, r1, batch, n, m, kind, key,
                                                     offset, *outputs), models, batch * n)
    elif models * batch * n < PARALLEL_MIN or models < 2:
        lib.sparse_tied_step(*pointers, 0, models, batch, n, m, kind, key, offset, *outputs)
    else:  # one model at a time from a queue, densest (slowest) first: the threads finish
        # together even when the models' densities differ or the other core is busy
        queue = iter(np.argsort(inv_probability.mean(axis=1), kind="stable").tolist())

        def drain(_) -> None:
            for r in queue:  # next() on a shared iterator is atomic under the GIL
                lib.sparse_tied_step(*pointers, r, r + 1, batch, n, m, kind, key, offset,
                                     *outputs)

        list(_pool.map(drain, (0, 1)))
    return True


_pool = ThreadPoolExecutor(max_workers=2)
#: Work of at least this many elements is split over two threads by :func:`in_halves`.
PARALLEL_MIN = 1 << 16


def in_halves(fill, rows: int, row_size: int = 1) -> None:
    """Run ``fill(start, stop)`` over rows ``0 .. rows - 1``, in two threads when large.

    The kernels release the GIL, so two halves run in parallel; the split never changes results
    (every kernel is elementwise or counter-based).

    Parameters
    ----------
    fill : callable
        Called as ``fill(start, stop)`` for disjoint row ranges covering ``[0, rows)``.
    rows : int
        Number of rows.
    row_size : int
        Elements per row, to decide whether splitting is worth a thread hand-off.

    Examples
    --------
    >>> seen = []
    >>> in_halves(lambda a, b: seen.append((a, b)), rows=10)
    >>> seen
    [(0, 10)]
    """
    if rows * row_size < PARALLEL_MIN or rows < 2:
        fill(0, rows)
        return
    half = rows // 2
    list(_pool.map(lambda r: fill(*r), [(0, half), (half, rows)]))


def backend() -> str:
    """The implementation :func:`fill_uniform` uses: ``"c"`` or ``"numpy"`` (the fallback).

    Builds the C kernel if this has not been tried yet.

    Examples
    --------
    >>> backend() in ("c", "numpy")
    True
    """
    return "c" if _kernel() is not None else "numpy"
