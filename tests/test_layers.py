"""The library's floors import only downwards.

The package is a house whose floors follow the pipeline (``superposition_lib/core/__init__.py``
and the README describe them):

1. ``core``: spec → data → model → trainer → store → pipeline, in :data:`CORE_ORDER`;
2. ``analysis``: what trained weights say;
3. ``experiments`` (the named specs and the book's tidy frames) and ``figures`` (Altair charts
   from tidy frames) side by side, never importing each other;
4. ``book``: each chapter's figures, joining experiments to figures;
5. ``cli``: the command line.

A module may import its own floor and the floors below it, never one above; inside ``core`` a
module imports only the modules listed before it. Imports are read from the source with
:mod:`ast`, so a lazy import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "superposition_lib"
ROOT = "superposition_lib"

#: Floors from the ground up; the units on one floor (a tuple) do not import each other.
FLOORS = (("core",), ("analysis",), ("experiments", "figures"), ("book",), ("cli",))

#: The core's modules in pipeline order: each imports only modules listed before it.
CORE_ORDER = ("shapes", "files", "dirs", "locks", "fields", "config", "kernels", "data", "models",
              "metrics", "run", "schedule", "evaluation", "hooks", "attacks", "snapshots",
              "guards", "train", "manifest", "store", "pipeline", "cluster", "reproduce")


def module_name(path: Path) -> str:
    """``superposition_lib/a/b.py`` -> ``superposition_lib.a.b`` (``__init__.py``: the package)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module an ``import`` statement anywhere in ``source`` may load, relative imports
    resolved against ``module``; ``from x import y`` counts as both ``x`` and ``x.y``."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            name = ".".join(base + ([node.module] if node.module else []))
            found.add(name)
            found |= {f"{name}.{alias.name}" for alias in node.names}
    return found


def unit_of(module: str) -> str | None:
    """The unit (``core``, ``figures``, ``cli`` …) a module of the package belongs to."""
    parts = module.split(".")
    return parts[1] if parts[0] == ROOT and len(parts) > 1 else None


def floor_of(unit: str) -> int:
    return next(i for i, units in enumerate(FLOORS) if unit in units)


def violations(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """The imports of ``source`` (the text of ``module``) that reach up a floor, across its own
    floor, or (inside the core) to a later module of :data:`CORE_ORDER`."""
    unit = unit_of(module)
    imported = imported_modules(source, module, is_package=is_package)
    out = []
    for name in sorted(imported):
        other = unit_of(name)
        if other is None or other not in {u for units in FLOORS for u in units}:
            continue
        if floor_of(other) > floor_of(unit) or (other != unit
                                                  and floor_of(other) == floor_of(unit)):
            out.append(name)
        elif unit == other == "core" and len(module.split(".")) > 2 and len(name.split(".")) > 2:
            mine, theirs = module.split(".")[2], name.split(".")[2]
            if theirs in CORE_ORDER and CORE_ORDER.index(theirs) > CORE_ORDER.index(mine):
                out.append(name)
    return out


def package_files() -> list[Path]:
    """Every source file of the package except its top-level ``__init__``."""
    return sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


def test_the_scan_sees_relative_absolute_and_lazy_imports():
    here = "superposition_lib.experiments.learning_dynamics.energy"

    def units(source, module=here, **kw):
        return {unit_of(name) for name in imported_modules(source, module, **kw)}
    for source in ("from ... import figures", "from ...figures import learning_dynamics as fig",
                   "def f():\n    import superposition_lib.figures.toy_model",
                   "from superposition_lib import figures"):
        assert "figures" in units(source), source
    for source in ("from ... import stats", "from .. import figures", "import figures"):
        assert "figures" not in units(source), source
    assert "figures" in units("from .figures import x", ROOT, is_package=True)


def test_every_module_sits_on_a_floor():
    units = {u for units in FLOORS for u in units}
    stray = [module_name(p) for p in package_files() if unit_of(module_name(p)) not in units]
    assert not stray, f"modules on no floor of tests/test_layers.py FLOORS: {stray}"
    core = {p.stem for p in (PACKAGE / "core").glob("*.py")} - {"__init__"}
    assert core == set(CORE_ORDER), "core modules and CORE_ORDER differ"


@pytest.mark.parametrize("source, module, caught", [
    ("from .pipeline import load_or_train", "superposition_lib.core.store", True),  # later
    ("from .train import train", "superposition_lib.core.store", False),            # earlier
    ("from ..analysis import pca", "superposition_lib.core.train", True),           # up
    ("from ..core.store import RunStore", "superposition_lib.analysis.pca", False),  # down
    ("from ..figures import theme", "superposition_lib.experiments.toy_model", True),  # across
    ("from .. import book", "superposition_lib.figures.theme", True),                # up
    ("def f():\n    from ..cli import main", "superposition_lib.book.site", True),   # lazy
])
def test_the_check_catches_imports_up_and_across(source, module, caught):
    assert bool(violations(source, module)) == caught


@pytest.mark.parametrize("path", package_files(), ids=lambda p: module_name(p))
def test_no_import_runs_up_a_floor(path):
    rel = path.relative_to(PACKAGE.parent).as_posix()
    found = violations(path.read_text(encoding="utf-8"), module_name(path),
                       is_package=path.name == "__init__.py")
    assert not found, (f"{rel} imports {', '.join(found)}, which is not below it; move the "
                       f"shared code down a floor (see tests/test_layers.py)")


def test_importing_a_floor_loads_nothing_above_it():
    code = ("import sys, importlib; importlib.import_module(sys.argv[1]); "
            "print(sorted(m for m in sys.modules if m.startswith(tuple(sys.argv[2:]))))")
    for unit in ("core", "analysis", "experiments", "figures"):
        above = [f"{ROOT}.{u}" for units in FLOORS for u in units
                 if floor_of(u) > floor_of(unit) or (floor_of(u) == floor_of(unit) and u != unit)]
        out = subprocess.run([sys.executable, "-c", code, f"{ROOT}.{unit}", *above],
                             check=True, capture_output=True, text=True).stdout
        assert out.strip() == "[]", f"importing {ROOT}.{unit} loaded {out.strip()}"
