"""The GitHub Actions workflow that publishes the book (it cannot run here).

It is validated offline against the GitHub workflow schema vendored by check-jsonschema, and
checked for what publishing needs: a push to main renders the book with the Quarto CLI, with
the CPU build of the pinned torch, and deploys Quarto's output folder (which carries the API
reference under api/) to GitHub Pages. CITATION.cff is validated against its schema too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "publish.yml"


def _check(schema: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema,
                           str(path)], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("schema,path", [("vendor.github-workflows", WORKFLOW),
                                         ("vendor.citation-file-format", ROOT / "CITATION.cff")],
                         ids=["workflow", "citation"])
def test_validates_against_its_schema(schema, path):
    result = _check(schema, path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_can_fail(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: 3\n    stepz: []\n")
    assert _check("vendor.github-workflows", bad).returncode != 0


def test_workflow_renders_the_book_and_deploys_it_to_pages():
    flow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = flow[True]  # YAML 1.1 reads the key `on` as True
    assert "main" in triggers["push"]["branches"]
    assert flow["permissions"]["pages"] == "write" and flow["permissions"]["id-token"] == "write"
    steps = [s for job in flow["jobs"].values() for s in job.get("steps", [])]
    runs = "\n".join(s.get("run", "") for s in steps)
    uses = [s.get("uses", "") for s in steps]
    pinned = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    torch = next(part for part in pinned.split('"') if part.startswith("torch=="))
    assert f'"{torch}" --index-url' in runs and "/whl/cpu" in runs, "CPU torch, pinned as in CI"
    assert "quarto render" in runs
    assert any(u.startswith("quarto-dev/quarto-actions/setup@") for u in uses)
    quarto = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == quarto["project"]["output-dir"]
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    extras = "".join(c for c in runs.split("pip install -e")[1].split()[0] if c not in "\"'")
    assert extras == '.[book,docs]', "the render needs the book and docs extras"
