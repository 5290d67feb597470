"""The library's layers import one way.

``superposition_lib.experiments`` (specs and tidy frames) and ``superposition_lib.figures``
(Altair charts from tidy frames) never import each other, nor ``superposition_lib.book``, the
layer above both that joins them into the chapters' figures. Imports are read from the source
with :mod:`ast`, so a lazy import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "superposition_lib"

#: Layer -> the layers it must not import.
FORBIDDEN = {
    "superposition_lib.experiments": ("superposition_lib.figures", "superposition_lib.book"),
    "superposition_lib.figures": ("superposition_lib.experiments", "superposition_lib.book"),
}

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


def within(names, packages) -> list[str]:
    """The names that are one of ``packages`` or inside one."""
    return sorted(n for n in names for p in packages if n == p or n.startswith(p + "."))


def crossings(path: Path) -> list[str]:
    """The modules of forbidden layers that a source file of a layer imports."""
    module = module_name(path)
    layer = next(layer for layer in FORBIDDEN if within([module], [layer]))
    imported = imported_modules(path.read_text(encoding="utf-8"), module,
                                is_package=path.name == "__init__.py")
    return within(imported, FORBIDDEN[layer])


def layer_files() -> list[Path]:
    return sorted(p for layer in FORBIDDEN
                  for p in (PACKAGE / layer.split(".", 1)[1]).rglob("*.py"))


def test_the_scan_sees_relative_absolute_and_lazy_imports():
    here = "superposition_lib.experiments.learning_dynamics.energy"
    figures = ["superposition_lib.figures"]
    for source in ("from ... import figures", "from ...figures import learning_dynamics as fig",
                   "def f():\n    import superposition_lib.figures.toy_model",
                   "from superposition_lib import figures"):
        assert within(imported_modules(source, here), figures), source
    for source in ("from ... import stats", "from .. import figures", "import figures"):
        assert not within(imported_modules(source, here), figures), source
    assert within(imported_modules("from .figures import x", "superposition_lib",
                                   is_package=True), figures)


def test_the_layers_cover_every_module_of_both_packages():
    names = {module_name(p) for p in layer_files()}
    assert {"superposition_lib.experiments", "superposition_lib.figures",
            "superposition_lib.experiments.toy_model",
            "superposition_lib.figures.toy_model"} <= names


@pytest.mark.parametrize("path", layer_files(), ids=lambda p: module_name(p))
def test_experiments_and_figures_do_not_import_each_other(path):
    rel = path.relative_to(PACKAGE.parent).as_posix()
    found = crossings(path)
    assert not found, (f"{rel} imports {', '.join(found)}; figure builders that join "
                       f"experiments to charts belong in superposition_lib.book")


def test_importing_a_layer_loads_neither_the_other_nor_the_book():
    code = ("import sys, importlib; importlib.import_module(sys.argv[1]); "
            "print(sorted(m for m in sys.modules if m.startswith(tuple(sys.argv[2:]))))")
    for layer, forbidden in FORBIDDEN.items():
        out = subprocess.run([sys.executable, "-c", code, layer, *forbidden], check=True,
                             capture_output=True, text=True).stdout
        assert out.strip() == "[]", f"importing {layer} loaded {out.strip()}"
