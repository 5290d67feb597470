"""Set-up shared by the tests in ``tests/`` and the doctests of ``superposition_lib/``.

The session gets a user cache of its own (``$XDG_CACHE_HOME``), removed at its end: ad-hoc and
smoke runs (:func:`superposition_lib.core.store.user_root`) go there, so the doctests and the tests
share them (each smoke run trains once per session, for whichever asks first; training is
deterministic, so none depends on which), and nothing is written to the user's own cache. The
compiled C kernels stay in the user's cache (``$SUPERPOSITION_CACHE``), built once per machine.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

_SESSION_CACHE = "_superposition_session_cache"


def pytest_configure(config):
    user_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    os.environ.setdefault("SUPERPOSITION_CACHE", str(user_cache.expanduser() / "superposition"))
    session = tempfile.mkdtemp(prefix="superposition-tests-")
    os.environ["XDG_CACHE_HOME"] = session
    setattr(config, _SESSION_CACHE, session)


def pytest_unconfigure(config):
    session = getattr(config, _SESSION_CACHE, None)
    if session:
        shutil.rmtree(session, ignore_errors=True)
