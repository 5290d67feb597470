"""Sphinx extension for the superposition_lib reference: book links, name resolution, fixes.

Registered by ``docs/conf.py``. It provides

- the roles ``:chapter:`key``` (a chapter of the Quarto book, linked once its source exists,
  "(planned)" text until then) and ``:book:`text``` (the book's front page);
- resolution of references to names that are re-exported by the package
  (``superposition_lib.ExperimentSpec``) or imported into the module whose docstring mentions
  them (``:meth:`ExperimentSpec.key``` in ``store``), to the page where the object is defined;
- the list of every module's public constants for the autosummary module template (autosummary
  alone only finds constants that carry a ``#:`` doc comment);
- two autosummary work-arounds: a listed module name names the module even where its package
  re-exports an object under the same name; and a summary line never ends inside an inline
  literal such as ````offset .. offset + n````.

Configuration values (set in ``conf.py``): ``book_url``, ``book_chapters``,
``book_module_chapters`` and ``book_source_dir``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import pkgutil
import re
import sys
import typing
from pathlib import Path

from docutils import nodes

PACKAGE = "superposition_lib"


# -- The book --------------------------------------------------------------------------------------
def _normalise_title(title: str) -> str:
    title = re.sub(r"\{[^}]*\}", "", title)          # Quarto attributes such as {#sec-…}
    title = re.sub(r"^[\d.\s]+", "", title.strip())    # leading numbering
    return " ".join(title.strip().strip("\"'").split()).casefold()


def qmd_title(path: Path) -> str | None:
    """The ``title:`` of a ``.qmd`` file's YAML front matter, else its first ``# `` heading."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    front = re.match(r"---\s*\n(.*?)\n---", text, re.DOTALL)
    if front:
        title = re.search(r"^title:\s*(.+)$", front.group(1), re.MULTILINE)
        if title:
            return title.group(1)
    heading = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
    return heading.group(1) if heading else None


def find_chapter(key: str, title: str, source_dir: Path) -> str | None:
    """Path of a chapter's page in the rendered book (``chapters/<stem>.html``), or None.

    The chapter exists when ``chapters/<key>.qmd`` does, or when any ``chapters/*.qmd`` carries
    ``title`` (front-matter ``title:`` or first ``#`` heading; numbering and case are ignored).
    """
    chapters = Path(source_dir) / "chapters"
    if (chapters / f"{key}.qmd").is_file():
        return f"chapters/{key}.html"
    wanted = _normalise_title(title)
    for qmd in sorted(chapters.glob("*.qmd")):
        found = qmd_title(qmd)
        if found and _normalise_title(found) == wanted:
            return f"chapters/{qmd.stem}.html"
    return None


def book_exists(source_dir: Path) -> bool:
    """Whether the book can be linked: its sources exist, or ``$SUPERPOSITION_BOOK_URL`` is set."""
    source_dir = Path(source_dir)
    return (bool(os.environ.get("SUPERPOSITION_BOOK_URL"))
            or (source_dir / "_quarto.yml").is_file() or (source_dir / "index.qmd").is_file())


def book_href(base: str, path: str, docname: str) -> str:
    """URL of ``path`` in the book at ``base``, as seen from page ``docname`` of the reference.

    A relative ``base`` is relative to the root of the HTML output, so pages in subfolders climb
    up to it first.

    Examples
    --------
    >>> book_href("../../../_book/", "chapters/toy-model.html", "api/index")
    '../../../../_book/chapters/toy-model.html'
    >>> book_href("https://example.org/book", "index.html", "api/index")
    'https://example.org/book/index.html'
    """
    base = base if base.endswith("/") else base + "/"
    if not re.match(r"^[a-z][a-z0-9+.-]*:|^/", base):
        base = "../" * docname.count("/") + base
    return base + path


def _chapter_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``:chapter:`key```: the chapter's title, linked once the chapter's source exists."""
    env = inliner.document.settings.env
    chapters = env.config.book_chapters
    key = text.strip()
    if key not in chapters:
        msg = inliner.reporter.error(
            f"unknown book chapter {key!r}; known chapters: {', '.join(chapters)} "
            f"(book_chapters in docs/conf.py)", line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    title = chapters[key]
    path = find_chapter(key, title, env.config.book_source_dir)
    if path is None:
        node = nodes.inline(rawtext, "", classes=["book-chapter", "planned"])
        node += nodes.emphasis(title, title)
        node += nodes.Text(" (planned)")
        return [node], []
    ref = nodes.reference(rawtext, "", classes=["book-chapter"],
                          refuri=book_href(env.config.book_url, path, env.docname))
    ref += nodes.emphasis(title, title)
    return [ref], []


def _book_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``:book:`text```: a link to the book's front page (plain text while there is no book)."""
    env = inliner.document.settings.env
    if not book_exists(env.config.book_source_dir):
        return [nodes.inline(rawtext, f"{text} (in progress)", classes=["book", "planned"])], []
    return [nodes.reference(rawtext, text,
                            refuri=book_href(env.config.book_url, "index.html", env.docname))], []


# -- Public names ----------------------------------------------------------------------------------
def public_modules() -> list[str]:
    """Every public module of the package (no name component starting with ``_``), sorted."""
    package = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    for info in pkgutil.walk_packages(package.__path__, PACKAGE + "."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def module_constants(modname: str) -> list[str]:
    """Public constants a module defines: top-level assignments, in source order, restricted to
    ``__all__`` when the module has one (classes, functions and modules are not constants; type
    aliases such as ``core.shapes.Batch``, callable as they are, are)."""
    module = importlib.import_module(modname)
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        return []
    exported = getattr(module, "__all__", None)
    names = []
    for stmt in tree.body:
        targets = (stmt.targets if isinstance(stmt, ast.Assign)
                   else [stmt.target] if isinstance(stmt, ast.AnnAssign) and stmt.value else [])
        for target in targets:
            if not isinstance(target, ast.Name) or target.id in names:
                continue
            name = target.id
            public = name in exported if exported is not None else not name.startswith("_")
            if not public or name in {"__all__"} or not hasattr(module, name):
                continue
            value = getattr(module, name)
            alias = typing.get_origin(value) is not None
            if not alias and (inspect.ismodule(value) or inspect.isclass(value)
                              or callable(value)):
                continue
            names.append(name)
    return names


def _constants_context(app):
    """Give the autosummary templates ``module_constants``: module name to [(name, short)], where
    ``short`` says whether the value's repr is short enough to show."""
    table = {}
    for modname in public_modules():
        module = importlib.import_module(modname)
        table[modname] = [(name, len(repr(getattr(module, name))) <= 120)
                          for name in module_constants(modname)]
    app.config.autosummary_context.setdefault("module_constants", table)
    app.config.autosummary_context.setdefault("module_chapters",
                                              app.config.book_module_chapters)


# -- Resolving re-exported and imported names ------------------------------------------------------
def _canonical(dotted: str):
    """Yield (documented name, object) for ``dotted``, a name inside the package.

    ``dotted`` is followed as Python would (``superposition_lib.train`` is the function the
    package re-exports), then preferring submodules (``superposition_lib.core.train.train``).
    Classes and functions are named by their defining module and qualified name, their members
    through them, modules by their own name.
    """
    parts = dotted.split(".")
    if parts[0] != PACKAGE:
        return
    missing = object()
    for prefer_modules in (False, True):
        obj, name = importlib.import_module(PACKAGE), PACKAGE
        for part in parts[1:]:
            child = missing
            if prefer_modules and inspect.ismodule(obj):
                child = sys.modules.get(f"{obj.__name__}.{part}", missing)
            if child is missing:
                child = inspect.getattr_static(obj, part, missing)
            if child is missing and inspect.ismodule(obj):
                try:
                    child = importlib.import_module(f"{obj.__name__}.{part}")
                except ImportError:
                    pass
            if child is missing:
                break
            obj = child.__func__ if isinstance(child, (staticmethod, classmethod)) else child
            if inspect.ismodule(obj):
                name = obj.__name__
            elif ((inspect.isclass(obj) or inspect.isfunction(obj))
                  and "<locals>" not in obj.__qualname__):
                name = f"{obj.__module__}.{obj.__qualname__}"
            else:
                name = f"{name}.{part}"
        else:
            yield name, obj


def _documented(domain, name: str, obj):
    """(name, entry) of the py-domain entry documenting ``obj`` as ``name``; for a constant
    re-exported elsewhere, the documented module attribute that is this very object."""
    if name in domain.objects:
        return name, domain.objects[name]
    if name in domain.modules:
        return name, domain.modules[name]
    if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj):
        return None
    last = name.rsplit(".", 1)[-1]
    for other, entry in domain.objects.items():
        if (other.endswith("." + last) and entry.objtype == "data"
                and any(found is obj for _, found in _canonical(other))):
            return other, entry
    return None


def _resolve_library_name(app, env, node, contnode):
    """missing-reference handler: resolve a package name that Sphinx could not, by importing it.

    Unknown names stay unresolved, and the nitpicky build reports them.
    """
    if node.get("refdomain") != "py":
        return None
    from sphinx.util.nodes import make_refnode

    domain = env.get_domain("py")
    target = node["reftarget"].lstrip(".~")
    modname, classname = node.get("py:module"), node.get("py:class")
    candidates = []
    if modname and classname:
        candidates.append(f"{modname}.{classname}.{target}")
    if modname:
        candidates.append(f"{modname}.{target}")
    candidates.append(target)
    for candidate in candidates:
        for name, obj in _canonical(candidate):
            hit = _documented(domain, name, obj)
            if hit is not None:
                name, entry = hit
                return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id,
                                    contnode, name)
    # Out of its module's context (e.g. a module's summary line in a table), a short name such as
    # ExperimentSpec.key still means the one documented package object it ends with.
    matches = [name for name in domain.objects
               if name.startswith(PACKAGE + ".") and name.endswith("." + target)]
    if len(matches) == 1:
        entry = domain.objects[matches[0]]
        return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode,
                            matches[0])
    return None


def _drop_type_docstrings(app, what, name, obj, options, lines):
    """A constant without a ``#:`` comment would show its type's docstring (``int([x]) ->
    integer …``); show nothing instead."""
    if what in {"data", "attribute"} and not (inspect.isclass(obj) or inspect.isroutine(obj)):
        own = inspect.getdoc(type(obj))
        if own and "\n".join(lines).strip() == inspect.cleandoc(own).strip():
            lines[:] = []


# -- autosummary work-arounds ----------------------------------------------------------------------
def _patch_autosummary() -> None:
    from sphinx.ext import autosummary

    import_by_name = autosummary._import_by_name
    if getattr(import_by_name, "_superposition", False):
        return

    def modules_first(name, *args, **kwargs):
        # A package may re-export an object under the name of one of its submodules;
        # autosummary would pick the object. A listed module name means the module.
        if name.startswith(PACKAGE + "."):
            try:
                module = importlib.import_module(name)
            except ImportError:
                module = None
            parent, short = name.rsplit(".", 1)
            if module is not None and getattr(sys.modules[parent], short, None) is not module:
                return module, None, name
        return import_by_name(name, *args, **kwargs)

    modules_first._superposition = True
    autosummary._import_by_name = modules_first

    extract_summary = autosummary.extract_summary

    def unbalanced(text: str) -> bool:
        return text.count("``") % 2 == 1 or text.replace("``", "").count("`") % 2 == 1

    def summary_keeping_markup(doc, settings):
        # autosummary cuts the summary at the first ". ", even inside ``offset .. offset + n``
        # (its check re-parses the whole paragraph, not the cut). Extend to the next sentence
        # until the inline markup is balanced.
        summary = extract_summary(doc, settings)
        if not unbalanced(summary):
            return summary
        stanza = []
        for line in doc:
            if not line.strip():
                if stanza:
                    break
                continue
            stanza.append(line.strip())
        sentences = autosummary.periods_re.split(" ".join(stanza))
        for i in range(1, len(sentences) + 1):
            candidate = ". ".join(sentences[:i]).rstrip(".") + "."
            if not unbalanced(candidate):
                return candidate
        return " ".join(stanza)

    autosummary.extract_summary = summary_keeping_markup


def setup(app):
    app.add_config_value("book_url", "../../../_book/", "env", types=frozenset({str}))
    app.add_config_value("book_chapters", {}, "env", types=frozenset({dict}))
    app.add_config_value("book_module_chapters", {}, "env", types=frozenset({dict}))
    app.add_config_value("book_source_dir", str(Path.cwd()), "env", types=frozenset({str}))
    app.add_role("chapter", _chapter_role)
    app.add_role("book", _book_role)
    app.connect("missing-reference", _resolve_library_name)
    app.connect("autodoc-process-docstring", _drop_type_docstrings, priority=100)
    # Before autosummary generates its pages (it does so on builder-inited too, at priority 500).
    app.connect("builder-inited", _constants_context, priority=400)
    _patch_autosummary()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
