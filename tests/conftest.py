"""Shared pytest fixtures and hooks: one store for the session's smoke runs, and one line at the
end of the run that says which browser tests were skipped."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def smoke_store(tmp_path_factory):
    """One run store for every smoke run of the session: each run trains once, for whichever
    test asks first (training is deterministic, so no test depends on which one that was)."""
    from superposition_lib.store import RunStore

    return RunStore(tmp_path_factory.mktemp("smoke-store"))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """One line when headless Chromium is missing, so skipped book tests are never silent."""
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "chromium" in str(
        getattr(r, "longrepr", "")).lower()]
    if skipped:
        terminalreporter.write_line(
            f"{len(skipped)} browser tests of the book were skipped: headless Chromium is not "
            f"installed (Debian: apt-get install -y chromium; .ci/run installs it)", yellow=True)
