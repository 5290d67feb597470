"""Shared pytest hooks: say once, at the end of the run, which browser tests were skipped."""

from __future__ import annotations

import shutil


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
