"""The API reference: a warning-free Sphinx build that documents every public name.

- The build: ``sphinx-build -W -n`` (warnings are errors, every cross-reference must resolve) of a
  copy of ``docs/``, offline (no intersphinx); every public module gets a page and every public
  name a documented object.
- The docstrings: every public function and class has a NumPy-style docstring whose
  ``Parameters`` section names every parameter and whose ``Examples`` section has a runnable
  example (``python -m pytest`` runs those through ``--doctest-modules``); public methods and
  properties have a docstring and document their parameters; public constants have a ``#:``
  doc comment. Names that do not meet this yet are listed in ``KNOWN_GAPS``.
- The "Getting started" page: its examples run.
- The links to the book: chapters are found by file name or title, relative links climb to the
  HTML root.
"""

from __future__ import annotations

import ast
import dataclasses
import doctest
import functools
import importlib
import importlib.util
import inspect
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import typing
import warnings
import zlib
from pathlib import Path

import pytest
import yaml
from html_pages import links, remote_loads

import superposition_lib

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PACKAGE = "superposition_lib"

# Public names whose documentation does not meet the bar yet. The library's maintainers should
# fix each and delete its line here; the test fails for a new gap, and for a listed name that is
# now documented (so this set only shrinks). Keys are fully qualified names.
KNOWN_GAPS: set[str] = set()


# -- What is public ------------------------------------------------------------------------------
@functools.cache
def public_modules() -> tuple[str, ...]:
    """Every module of the package without a ``_``-prefixed name component, sorted."""
    names = [PACKAGE]
    for info in pkgutil.walk_packages(superposition_lib.__path__, PACKAGE + "."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return tuple(sorted(names))


@functools.cache  # canonical_name asks for every module's names once per constant
def _assigned_names(module) -> list[str]:
    """Names bound by top-level assignments in a module's source, in order."""
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        return []
    names = []
    for stmt in tree.body:
        targets = (stmt.targets if isinstance(stmt, ast.Assign)
                   else [stmt.target] if isinstance(stmt, ast.AnnAssign) and stmt.value else [])
        names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def public_names(modname: str) -> list[str]:
    """A module's public names: its ``__all__``, else the classes and functions it defines and
    the constants it assigns, without a leading underscore."""
    module = importlib.import_module(modname)
    if hasattr(module, "__all__"):
        return list(module.__all__)
    names = []
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        if (inspect.isclass(value) or inspect.isfunction(value)) \
                and value.__module__ == modname:
            names.append(name)
    for name in _assigned_names(module):
        value = getattr(module, name, None)
        if not name.startswith("_") and name not in names and not (
                inspect.ismodule(value) or inspect.isclass(value) or callable(value)):
            names.append(name)
    return names


def is_constant(value) -> bool:
    """Modules, classes and functions have docstrings; everything else, type aliases such as
    ``core.shapes.Batch`` included (they are callable), a ``#:`` comment."""
    if typing.get_origin(value) is not None:
        return True
    return not (inspect.ismodule(value) or inspect.isclass(value) or callable(value))


def canonical_name(modname: str, name: str) -> str:
    """Where an object is documented: classes and functions where they are defined, modules by
    their name, constants in the module that assigns them."""
    value = getattr(importlib.import_module(modname), name)
    if inspect.ismodule(value):
        return value.__name__
    if inspect.isclass(value) or inspect.isfunction(value):
        return f"{value.__module__}.{value.__qualname__}"
    for other in public_modules():
        module = importlib.import_module(other)
        if name in _assigned_names(module) and getattr(module, name, None) is value:
            return f"{other}.{name}"
    return f"{modname}.{name}"


def public_objects() -> dict[str, object]:
    """Every public function, class and constant, by canonical name (re-exports once)."""
    objects = {}
    for modname in public_modules():
        module = importlib.import_module(modname)
        for name in public_names(modname):
            value = getattr(module, name)
            if not inspect.ismodule(value):
                objects.setdefault(canonical_name(modname, name), value)
    return objects


# -- Docstring checks -----------------------------------------------------------------------------
def _documented_names(section) -> set[str]:
    names = set()
    for entry in section:
        for part in entry.name.split(","):
            part = part.strip().lstrip("*")
            if part:
                names.add(part)
    return names


def _parameters(obj) -> list[str]:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    return [name for name in signature.parameters if name not in {"self", "cls"}]


def docstring_problems(obj, *, need_examples: bool) -> list[str]:
    """What a docstring lacks: a summary, entries for parameters, an example."""
    from numpydoc.docscrape import NumpyDocString

    doc = inspect.getdoc(obj) if not isinstance(obj, property) else inspect.getdoc(obj.fget)
    if not doc or not doc.strip():
        return ["no docstring"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpydoc warns about unknown or malformed sections
        try:
            parsed = NumpyDocString(doc)
        except Exception as e:  # noqa: BLE001 - report any parse failure as a problem
            return [f"docstring is not valid NumPy style ({e})"]
    problems = []
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return problems  # exceptions: a docstring saying when they are raised is enough
    target = obj.fget if isinstance(obj, property) else obj
    params = _parameters(target) if callable(target) else []
    documented = _documented_names(parsed["Parameters"])
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj):
        documented |= _documented_names(parsed["Attributes"])
    missing = [p for p in params if p not in documented]
    if missing:
        problems.append(f"Parameters does not document {', '.join(missing)}")
    if need_examples and ">>>" not in "\n".join(parsed["Examples"]):
        problems.append("no Examples section with a runnable example")
    return problems


def _has_doc_comment(qualname: str) -> bool:
    from sphinx.pycode import ModuleAnalyzer

    modname, name = qualname.rsplit(".", 1)
    return ("", name) in ModuleAnalyzer.for_module(modname).find_attr_docs()


def all_docstring_problems() -> dict[str, list[str]]:
    problems = {}
    for qualname, value in public_objects().items():
        if is_constant(value):
            if qualname.rsplit(".", 1)[1].startswith("__"):
                continue  # __version__ & co. are described by hand (docs/api/package.rst)
            if not _has_doc_comment(qualname):
                problems[qualname] = ["constant without a `#:` doc comment"]
            continue
        found = docstring_problems(value, need_examples=True)
        if found:
            problems[qualname] = found
        if inspect.isclass(value) and not issubclass(value, BaseException):
            for name, member in vars(value).items():
                if name.startswith("_"):
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if not (inspect.isfunction(member) or isinstance(member, property)):
                    continue
                found = docstring_problems(member, need_examples=False)
                if found:
                    problems[f"{qualname}.{name}"] = found
    return problems


def test_public_names_have_numpy_docstrings():
    problems = all_docstring_problems()
    new = {name: p for name, p in problems.items() if name not in KNOWN_GAPS}
    fixed = sorted(KNOWN_GAPS - set(problems))
    lines = [f"{name}: {'; '.join(p)}" for name, p in sorted(new.items())]
    assert not new, ("public names whose docstring lacks what the API reference needs "
                     "(NumPy style: Parameters naming every parameter, with shapes; Returns; "
                     "Examples with >>>; `#:` comments for constants):\n" + "\n".join(lines))
    assert not fixed, ("now documented; delete from KNOWN_GAPS in tests/test_docs.py: "
                       + ", ".join(fixed))


# -- The build ------------------------------------------------------------------------------------
def _missing_doc_tools() -> list[str]:
    return [name for name in ("sphinx", "numpydoc", "pydata_sphinx_theme")
            if importlib.util.find_spec(name) is None]


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    """Build a copy of docs/ (so concurrent builds and stale local outputs do not interfere)."""
    missing = _missing_doc_tools()
    assert not missing, (f"the docs build needs {', '.join(missing)}: "
                         f"pip install -e '.[docs]' (included in '.[dev]')")
    root = tmp_path_factory.mktemp("docs")
    source, out = root / "src", root / "html"
    shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns("_build", "generated",
                                                                "__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "SUPERPOSITION_DOCS_INTERSPHINX"}
    env["SUPERPOSITION_REPO"] = str(REPO)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-n", "--keep-going", "-q", "-j", "2", "-b", "html",
         str(source), str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False)
    return result, out


def test_docs_build_without_warnings(built_docs):
    result, _ = built_docs
    assert result.returncode == 0, (
        f"sphinx-build -W -n failed (exit {result.returncode}); its warnings:\n"
        f"{result.stderr[-20000:]}")


def _inventory(out: Path) -> dict[str, str]:
    """name -> role (e.g. 'py:function') from the build's objects.inv."""
    raw = (out / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = raw.index(b"\n", header_end) + 1
    entries = {}
    for line in zlib.decompress(raw[header_end:]).decode().splitlines():
        match = re.match(r"(.+?)\s+(\S+:\S+)\s+(-?\d+)\s+(\S*)\s+(.*)", line)
        if match:
            entries.setdefault(match.group(1), match.group(2))
    return entries


def test_every_public_module_has_a_page(built_docs):
    result, out = built_docs
    assert (out / "objects.inv").is_file(), result.stderr[-5000:]
    inventory = _inventory(out)
    missing = [m for m in public_modules()
               if inventory.get(m) != "py:module"
               or (m != PACKAGE and not (out / "api" / "generated" / f"{m}.html").is_file())]
    assert not missing, ("public modules without an API page; add each to the autosummary of "
                         "its topic in docs/api/index.rst (one line): " + ", ".join(missing))


def test_every_public_name_is_documented(built_docs):
    result, out = built_docs
    assert (out / "objects.inv").is_file(), result.stderr[-5000:]
    inventory = _inventory(out)
    missing = []
    for modname in public_modules():
        for name in public_names(modname):
            if canonical_name(modname, name) not in inventory:
                missing.append(f"{modname}.{name}")
    assert not missing, ("public names missing from the API reference (objects.inv): "
                         + ", ".join(missing))
    package_page = (out / "api" / "package.html").read_text(encoding="utf-8")
    absent = [name for name in superposition_lib.__all__ if name not in package_page]
    assert not absent, ("names of superposition_lib.__all__ not listed on the top-level page "
                        "(docs/api/package.rst): " + ", ".join(absent))


def test_links_resolve_inside_the_site(built_docs):
    """Built as the site carries it (under api/, beside the book's pages), every local link of
    the reference resolves: to its own pages and files, or to a page Quarto renders."""
    _, out = built_docs
    config = yaml.safe_load((REPO / "_quarto.yml").read_text(encoding="utf-8"))
    book = {str(Path(e).with_suffix(".html")) for entry in config["book"]["chapters"]
            for e in (entry.get("chapters", []) if isinstance(entry, dict) else [entry])}
    checked = 0
    for page in out.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        for target in (link.split("#")[0].split("?")[0] for link in links(html)):
            if not target or re.match(r"^[a-z][a-z0-9+.-]*:|^//", target) or "{{" in target:
                continue  # external, or a template string inside the theme's scripts
            resolved = Path(os.path.normpath(page.parent / target))
            checked += 1
            if resolved.is_relative_to(out):
                assert resolved.exists(), f"{page.relative_to(out)} links {target}"
            else:
                site_path = resolved.relative_to(out.parent).as_posix()
                assert site_path in book, (f"{page.relative_to(out)} links {target}, which is "
                                           f"not a page of the book")
    assert checked > 100


def test_no_page_loads_from_another_host(built_docs):
    """The reference is part of the site, which works offline: no script or stylesheet from a
    CDN (a page with :math: would load MathJax; write formulas in Unicode, as the docstrings
    do)."""
    _, out = built_docs
    for page in out.rglob("*.html"):
        remote = remote_loads(page.read_text(encoding="utf-8"))
        assert not remote, f"{page.relative_to(out)} loads {remote}"


def test_module_pages_link_to_the_book(built_docs):
    _, out = built_docs
    ext = _load_extension()
    conf = _conf_values()
    for modname, keys in conf["book_module_chapters"].items():
        page = out / "api" / "generated" / f"{modname}.html"
        assert page.is_file(), f"book_module_chapters names {modname}, which has no page"
        html = page.read_text(encoding="utf-8")
        for key in keys:
            title = conf["book_chapters"][key]
            assert title in html, f"{modname}'s page does not mention chapter {title!r}"
            path = ext.find_chapter(key, title, REPO)
            if path is not None:
                assert path in html, f"{modname}'s page does not link to {path}"
    book = (out / "book.html").read_text(encoding="utf-8")
    for title in conf["book_chapters"].values():
        assert title in book


# -- The "Getting started" page --------------------------------------------------------------------
def test_getting_started_examples_run(tmp_path, monkeypatch):
    """The page's >>> examples, run as doctests, with the run store in a temporary directory."""
    monkeypatch.setenv("SUPERPOSITION_DATA", str(tmp_path / "data"))
    result = doctest.testfile(str(DOCS / "getting_started.rst"), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                              verbose=False, report=True)
    assert result.attempted > 5
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed (above)"


# -- Book links -----------------------------------------------------------------------------------
def _load_extension():
    spec = importlib.util.spec_from_file_location("superposition_docs",
                                                  DOCS / "_ext" / "superposition_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _conf_values() -> dict:
    """The book settings of docs/conf.py: its literal ``book_module_chapters``, read without
    executing it, and ``book_chapters``, which it takes from the library's one chapter list."""
    from superposition_lib.experiments.chapters import CHAPTERS

    source = (DOCS / "conf.py").read_text(encoding="utf-8")
    assert "book_chapters = dict(CHAPTERS)" in source
    values = {"book_chapters": dict(CHAPTERS)}
    for stmt in ast.parse(source).body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name) \
                and stmt.targets[0].id == "book_module_chapters":
            values["book_module_chapters"] = ast.literal_eval(stmt.value)
    return values


def test_chapters_are_found_by_file_name_or_title(tmp_path):
    ext = _load_extension()
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    assert ext.find_chapter("toy-model", "The toy model", tmp_path) is None
    (chapters / "toy-model.qmd").write_text("---\ntitle: Something else\n---\n")
    assert ext.find_chapter("toy-model", "The toy model", tmp_path) == "chapters/toy-model.html"
    (chapters / "03-phase.qmd").write_text('---\ntitle: "Superposition as a Phase Change"\n---\n')
    assert (ext.find_chapter("phase-change", "Superposition as a phase change", tmp_path)
            == "chapters/03-phase.html")
    (chapters / "dyn.qmd").write_text("# 6 Learning dynamics {#sec-dynamics}\n\nText.\n")
    assert ext.find_chapter("learning-dynamics", "Learning dynamics", tmp_path) \
        == "chapters/dyn.html"


def test_book_links_climb_to_the_html_root():
    ext = _load_extension()
    assert ext.book_href("../../../_book/", "index.html", "index") == "../../../_book/index.html"
    assert (ext.book_href("../../../_book", "chapters/a.html", "api/generated/x")
            == "../../../../../_book/chapters/a.html")
    assert ext.book_href("https://example.org/book/", "index.html", "api/x") \
        == "https://example.org/book/index.html"
    assert ext.book_href("/book", "index.html", "api/x") == "/book/index.html"


def test_book_chapters_and_module_pages_agree():
    conf = _conf_values()
    assert set(conf["book_chapters"]) >= {k for keys in conf["book_module_chapters"].values()
                                          for k in keys}
    assert set(conf["book_module_chapters"]) <= set(public_modules())
