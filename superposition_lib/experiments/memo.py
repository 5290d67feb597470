"""Memory of the analysis results a chapter and its figures share, within one process.

A chapter computes its results (``scale_results``, ``adversarial_results`` ...) for its prose,
and each of its figure builders asks for the same results again; so does the figure export.
Some take a minute. :func:`remembered` makes such a function compute once per process for a
given profile, store and configuration: the key holds the cache key of every experiment the
function reads (:meth:`~superposition_lib.core.config.ExperimentSpec.key`), which fixes the stored
weights, so a remembered result is never returned for a different configuration, and a
different store (a fresh smoke store, say) computes afresh.
"""
from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..core.store import RunStore

__all__ = ["KEEP", "remembered"]

#: Results kept per function (the most recently used): a test session asks for smoke results
#: from many temporary stores, and each entry holds its runs.
KEEP = 4


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
    the cache keys of ``experiments`` under that profile.

    Parameters
    ----------
    *experiments : str
        The registered experiments whose runs ``f`` reads.

    Returns
    -------
    callable
        The decorator. The decorated function returns a fresh copy of the remembered result
        (frames, arrays, dicts and lists copied) and has ``cache_clear()``.

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
                cache[key] = f(profile, store=store, **options)
                while len(cache) > KEEP:
                    cache.popitem(last=False)
            return _fresh(cache[key])

        wrapper.cache_clear = cache.clear
        return wrapper
    return decorate
