"""Memory of the analysis results a chapter and its figures share, within one process and
between processes.

A chapter computes its results (``scale_results``, ``adversarial_results`` ...) for its prose,
and each of its figure builders asks for the same results again; so do the figure export and the
tests, each in a process of its own. Some take a minute. :func:`remembered` makes such a function
compute once per process for a given profile, store and configuration: the key holds the cache
key of every experiment the function reads
(:meth:`~superposition_lib.core.config.ExperimentSpec.key`), which fixes the stored weights, so a
remembered result is never returned for a different configuration, and a different store (a
fresh smoke store, say) computes afresh.

It also keeps the result on disk (:func:`results_dir`), where other processes find it. The file's
name is a digest of everything the result depends on: the function, profile and options, every
run's stored manifest (its spec, checksum of weights and creation time: a retrained run is a new
one), the library's source code and the versions of torch, numpy and pandas. A change to any of
them is a different file, never a stale result; a file that cannot be read is computed again.
"""
from __future__ import annotations

import functools
import hashlib
import os
import pickle
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..core.files import user_cache, write_bytes_atomic
from ..core.store import RunStore

__all__ = ["ENV_RESULTS", "KEEP", "remembered", "results_dir", "source_digest"]

#: Results kept per function (the most recently used), in memory and on disk: a test session
#: asks for smoke results from many temporary stores, and each entry holds its runs.
KEEP = 4

#: Environment variable naming the folder of remembered results on disk; ``off`` keeps them in
#: memory only.
ENV_RESULTS = "SUPERPOSITION_RESULTS"


def results_dir() -> Path | None:
    """The folder where remembered results are kept for other processes.

    Returns
    -------
    Path or None
        ``$SUPERPOSITION_RESULTS`` if set (None if it is ``off``); else
        ``$XDG_CACHE_HOME/superposition/results``; else ``~/.cache/superposition/results``.

    Examples
    --------
    >>> env = os.environ.get("SUPERPOSITION_RESULTS")
    >>> results_dir() is None if env == "off" else results_dir().name in ("results", env)
    True
    """
    env = os.environ.get(ENV_RESULTS)
    if env:
        return None if env == "off" else Path(env).expanduser()
    return user_cache() / "results"


@functools.cache
def source_digest() -> str:
    """A digest of the library's source code (every ``.py`` file of the package, by path and
    content): remembered results on disk are computed by this code and no other.

    Returns
    -------
    str
        64 hex digits.

    Examples
    --------
    >>> len(source_digest())
    64
    """
    package = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _disk_path(f: Callable, profile: str, store: RunStore, options: tuple, experiments: tuple
               ) -> Path | None:
    """Where ``f``'s result for these arguments lives on disk; None without a results folder or
    when a run it reads is not stored (then ``f`` raises, or trains nothing remembered)."""
    from .registry import get

    root = results_dir()
    if root is None:
        return None
    h = hashlib.sha256(repr((f.__module__, f.__qualname__, profile, options, source_digest(),
                             torch.__version__, np.__version__, pd.__version__)).encode())
    for name in experiments:
        manifest = store.path(get(name).spec(profile)) / "manifest.json"
        if not manifest.is_file():
            return None
        h.update(manifest.read_bytes())
    return root / f"{f.__module__}.{f.__qualname__}-{h.hexdigest()[:32]}.pkl"


def _read(path: Path):
    """The result kept at ``path``, or None if there is none that can be read."""
    try:
        with open(path, "rb") as file:
            value = pickle.load(file)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        return None
    os.utime(path)  # most recently used
    return value


def _write(path: Path, value) -> None:
    """Keep ``value`` at ``path`` (through a temporary file: a reader never sees half of it),
    and only the :data:`KEEP` most recently used files of its function."""
    write_bytes_atomic(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    prefix = path.name.rsplit("-", 1)[0] + "-"
    kept = sorted((p for p in path.parent.glob(prefix + "*.pkl")),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    for old in kept[KEEP:]:
        old.unlink(missing_ok=True)


def _fresh(value):
    """A copy of a result that the caller may change without changing the remembered one:
    frames, arrays, dicts and lists are copied; runs (frozen) and scalars are shared."""
    if isinstance(value, (pd.DataFrame, pd.Series, np.ndarray)):
        return value.copy()
    if isinstance(value, dict):
        return {k: _fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fresh(v) for v in value]
    return value


def remembered(*experiments: str) -> Callable:
    """Decorator: remember ``f(profile, *, store, **options)`` per profile, store, options and
    the cache keys of ``experiments`` under that profile; and on disk (:func:`results_dir`), where
    every run of ``experiments`` is stored, for other processes.

    Parameters
    ----------
    *experiments : str
        The registered experiments whose runs ``f`` reads.

    Returns
    -------
    callable
        The decorator. The decorated function returns a fresh copy of the remembered result
        (frames, arrays, dicts and lists copied) and has ``cache_clear()`` (which clears the
        memory of this process only).

    Examples
    --------
    >>> import tempfile
    >>> calls = []
    >>> @remembered("intro-linear")
    ... def results(profile=None, *, store=None):
    ...     calls.append(profile)
    ...     return {"frame": pd.DataFrame({"x": [1.0]})}
    >>> store = RunStore(tempfile.mkdtemp())
    >>> r = results("smoke", store=store)
    >>> r["frame"].loc[0, "x"] = 2.0  # the caller's copy
    >>> float(results("smoke", store=store)["frame"].loc[0, "x"]), len(calls)
    (1.0, 1)
    >>> _ = results("smoke", store=RunStore(tempfile.mkdtemp())); len(calls)
    2
    """
    def decorate(f: Callable) -> Callable:
        cache: OrderedDict[tuple, object] = OrderedDict()

        @functools.wraps(f)
        def wrapper(profile: str | None = None, *, store: RunStore | None = None, **options):
            from .registry import current_profile, default_store, get

            profile = current_profile(profile)
            store = default_store(profile) if store is None else store
            key = (profile, str(store.root.resolve()), tuple(sorted(options.items())),
                   *(get(name).spec(profile).key() for name in experiments))
            if key in cache:
                cache.move_to_end(key)
            else:
                disk = _disk_path(f, profile, store, key[2], experiments)
                value = _read(disk) if disk is not None and disk.is_file() else None
                if value is None:
                    value = f(profile, store=store, **options)
                    if disk is not None:
                        _write(disk, value)
                cache[key] = value
                while len(cache) > KEEP:
                    cache.popitem(last=False)
            return _fresh(cache[key])

        wrapper.cache_clear = cache.clear
        return wrapper
    return decorate
