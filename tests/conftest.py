"""Shared pytest fixtures and hooks: one store for the session's smoke runs, and lines at the end
of the run that say which browser and site tests were skipped, or how long the real Quarto render
of ``test_site.py`` took."""

from __future__ import annotations

import shutil

import pytest
from html_pages import RENDER_SECONDS


@pytest.fixture(scope="session")
def smoke_store(tmp_path_factory):
    """One run store for every smoke run of the session: each run trains once, for whichever
    test asks first (training is deterministic, so no test depends on which one that was)."""
    from superposition_lib.store import RunStore

    return RunStore(tmp_path_factory.mktemp("smoke-store"))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """One line when headless Chromium or the Quarto CLI is missing, so skipped tests are never
    silent; where the book was rendered, how long that took."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "chromium" in str(
        getattr(r, "longrepr", "")).lower()]
    if skipped and not (shutil.which("chromium") or shutil.which("chromium-browser")):
        terminalreporter.write_line(
            f"{len(skipped)} browser tests of the book were skipped: headless Chromium is not "
            f"installed (Debian: apt-get install -y chromium; .ci/run installs it)", yellow=True)
    if shutil.which("quarto") is None:
        terminalreporter.write_line(
            "the book was not rendered with the Quarto CLI (not on PATH): tests/test_site.py "
            "skipped its checks of the real site", yellow=True)
    elif RENDER_SECONDS in config.stash:
        terminalreporter.write_line(
            f"quarto render of a clean copy took {config.stash[RENDER_SECONDS]:.0f} s")
