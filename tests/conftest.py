"""Shared pytest fixtures and hooks: the store of the session's smoke runs, and lines at the end
of the run that say which browser and site tests were skipped, or how long the real Quarto render
of ``test_site.py`` took."""

from __future__ import annotations

import shutil

import pytest
from html_pages import RENDER_SECONDS


@pytest.fixture(scope="session")
def smoke_store():
    """The store of the session's smoke runs, shared with the doctests (which train into the
    default store of smoke runs, the session's user cache set up by the root ``conftest.py``):
    each run trains once, for whichever test or doctest asks first."""
    from superposition_lib.core.store import RunStore, user_root

    return RunStore(user_root())


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """One line when headless Chromium or the Quarto CLI is missing, so skipped tests are never
    silent; where the book was rendered, how long that took."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "chromium" in str(
        getattr(r, "longrepr", "")).lower()]
    if skipped and not (shutil.which("chromium") or shutil.which("chromium-browser")):
        terminalreporter.write_line(
            f"{len(skipped)} browser tests of the book were skipped: headless Chromium is not "
            f"installed (Debian: apt-get install -y chromium; .ci/run installs it)", yellow=True)
    if "not site" in (config.option.markexpr or ""):
        terminalreporter.write_line(
            "the real site was not rendered: `python -m pytest -q -m site` renders it with the "
            "Quarto CLI and checks its pages (about 10 minutes; .ci/run does it)")
    elif shutil.which("quarto") is None:
        terminalreporter.write_line(
            "the book was not rendered with the Quarto CLI (not on PATH): tests/test_site.py "
            "skipped its checks of the real site", yellow=True)
    elif RENDER_SECONDS in config.stash:
        terminalreporter.write_line(
            f"quarto render of a clean copy took {config.stash[RENDER_SECONDS]:.0f} s")
