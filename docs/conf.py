"""Sphinx configuration of the ``superposition_lib`` API reference.

Build it (warnings are errors, every cross-reference must resolve)::

    sphinx-build -W -n -b html docs docs/_build/html

Settings read from the environment:

``SUPERPOSITION_DOCS_INTERSPHINX``
    Set to ``1`` where the network is available, to link names from Python, NumPy, PyTorch and
    pandas to their documentation (intersphinx). Off by default: an unreachable inventory is a
    warning, which ``-W`` turns into a failed build.
``SUPERPOSITION_BOOK_URL``
    Where the rendered Quarto book lives: an absolute URL, or a path relative to the root of this
    HTML output. Defaults to :data:`book_url` below.
``SUPERPOSITION_REPO``
    Repository root (default: the parent of this directory): where the library is imported from
    and where the book's sources (``_quarto.yml``, ``index.qmd``, ``chapters/*.qmd``) are looked
    for. The test suite sets it when it builds a copy of ``docs/``.

The book links and the name resolution live in ``_ext/superposition_docs.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = Path(os.environ.get("SUPERPOSITION_REPO") or DOCS.parent).resolve()
sys.path.insert(0, str(REPO))  # build from a source checkout even when the package isn't installed
sys.path.insert(0, str(DOCS / "_ext"))

import superposition_lib  # noqa: E402
from superposition_lib.experiments.chapters import CHAPTERS  # noqa: E402

# autosummary writes one page per module and object into api/generated/. Start afresh on every
# build, so that pages of renamed or removed names cannot linger (a page in no toctree warns).
shutil.rmtree(DOCS / "api" / "generated", ignore_errors=True)

# -- Project -------------------------------------------------------------------------------------
project = "superposition"
author = "the superposition contributors"
copyright = f"2026, {author}"
release = superposition_lib.__version__
version = ".".join(release.split(".")[:2])

# -- Extensions ----------------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "superposition_docs",  # _ext/: book links, re-exported names, autosummary fixes
]
templates_path = ["_templates"]
exclude_patterns = ["_build"]
nitpicky = True  # as with -n: every cross-reference must resolve

# autodoc / autosummary
autosummary_generate = True
# viewcode links only the library's own source: a type alias of core.shapes (an Annotated dict
# or tensor) would otherwise send it after a page for the builtins module
viewcode_follow_imported_members = False
autosummary_context = {}  # filled by superposition_docs: module_constants, module_chapters
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autoclass_content = "class"  # constructor parameters are documented in the class docstring
add_module_names = False
python_use_unqualified_type_names = True
python_maximum_signature_line_length = 88
trim_doctest_flags = True  # hide "# doctest: +SKIP" and friends in rendered examples

# numpydoc: parameter types stay plain text ("Tensor, shape (models, n)" is not a class name);
# class pages list their members through autodoc, not through numpydoc's member tables.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- Links to other projects' documentation -------------------------------------------------------
INTERSPHINX = os.environ.get("SUPERPOSITION_DOCS_INTERSPHINX", "").lower() in {"1", "true", "yes"}
if INTERSPHINX:
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "torch": ("https://docs.pytorch.org/docs/stable", None),
        "pandas": ("https://pandas.pydata.org/docs", None),
    }
    intersphinx_timeout = 30

# Names from the standard library and the dependencies have no page here. Offline they are shown
# as plain text instead of failing the nitpicky build; with intersphinx they resolve first.
_EXTERNAL = sorted(set(sys.stdlib_module_names)
                   | {"numpy", "np", "torch", "pandas", "pd", "tqdm", "altair", "alt",
                      "vl_convert"})
nitpick_ignore_regex = [(r"py:.*", rf"(?:{'|'.join(map(re.escape, _EXTERNAL))})(?:\..+)?")]

# -- HTML ----------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"superposition {release}"
# Pages without subpages need no section navigation.
html_sidebars = {page: [] for page in ("index", "getting_started", "book", "building_docs")}
html_theme_options = {
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}

# -- The book ------------------------------------------------------------------------------------
# Where the rendered book lives, relative to the root of this HTML output (or an absolute URL).
# The default is the book's site, which carries this reference under api/ (Quarto's post-render
# step builds it into _book/api/). For a reference built elsewhere, for example into
# docs/_build/html/ next to a book rendered into _book/, set SUPERPOSITION_BOOK_URL=../../../_book/
book_url = os.environ.get("SUPERPOSITION_BOOK_URL") or ".."
book_source_dir = str(REPO)

# The book's chapters: file stem (chapters/<stem>.qmd) to title, from the library's one list.
book_chapters = dict(CHAPTERS)

# The chapters each module's API page links back to ("In the book").
book_module_chapters = {
    "superposition_lib.core.config": ["toy-model", "learning-dynamics", "adversarial"],
    "superposition_lib.core.fields": ["toy-model", "learning-dynamics", "adversarial"],
    "superposition_lib.core.data": ["toy-model", "pca-vs-superposition", "continuous-features"],
    "superposition_lib.core.models": ["toy-model"],
    "superposition_lib.core.schedule": ["phase-change", "learning-dynamics"],
    "superposition_lib.core.train": ["toy-model", "learning-dynamics", "adversarial"],
    "superposition_lib.core.snapshots": ["toy-model", "learning-dynamics", "adversarial"],
    "superposition_lib.core.guards": ["toy-model", "learning-dynamics", "adversarial"],
    "superposition_lib.core.evaluation": ["toy-model", "continuous-features"],
    "superposition_lib.core.pipeline": ["toy-model"],
    "superposition_lib.core.attacks": ["adversarial"],
    "superposition_lib.core.hooks": ["adversarial", "learning-dynamics"],
    "superposition_lib.core.shapes": ["toy-model"],
    "superposition_lib.core.run": ["toy-model", "learning-dynamics"],
    "superposition_lib.core.metrics": ["uniform-geometry", "phase-change"],
    "superposition_lib.analysis.theory": ["phase-change"],
    "superposition_lib.analysis.pair_theory": ["pca-vs-superposition"],
    "superposition_lib.analysis.dynamics": ["learning-dynamics"],
    "superposition_lib.analysis.dynamics.levels": ["learning-dynamics"],
    "superposition_lib.analysis.dynamics.jumps": ["learning-dynamics"],
    "superposition_lib.analysis.dynamics.nulls": ["learning-dynamics"],
    "superposition_lib.analysis.dynamics.transients": ["learning-dynamics"],
    "superposition_lib.analysis.dynamics.stages": ["learning-dynamics"],
    "superposition_lib.analysis.pca": ["pca-vs-superposition", "continuous-features"],
    "superposition_lib.experiments.shell": ["toy-model"],
    "superposition_lib.experiments.registry": ["toy-model"],
    "superposition_lib.experiments.chapters": ["toy-model"],
    "superposition_lib.experiments.votes": ["phase-change", "pca-vs-superposition",
                                          "continuous-features"],
    "superposition_lib.experiments.toy_model": ["toy-model"],
    "superposition_lib.experiments.phase_change": ["phase-change"],
    "superposition_lib.experiments.phase_change.specs": ["phase-change"],
    "superposition_lib.experiments.phase_change.diagram": ["phase-change"],
    "superposition_lib.experiments.phase_change.agreement": ["phase-change"],
    "superposition_lib.experiments.phase_change.n3": ["phase-change"],
    "superposition_lib.experiments.uniform_geometry": ["uniform-geometry"],
    "superposition_lib.analysis.geometry": ["uniform-geometry"],
    "superposition_lib.figures": ["toy-model", "uniform-geometry", "phase-change",
                                  "pca-vs-superposition", "continuous-features",
                                  "learning-dynamics", "privileged-basis", "computation",
                                  "adversarial"],
    "superposition_lib.figures.theme": ["toy-model"],
    "superposition_lib.figures.grid": ["pca-vs-superposition", "continuous-features"],
    "superposition_lib.figures.render": ["toy-model"],
    "superposition_lib.figures.downloads": ["toy-model"],
    "superposition_lib.figures.toy_model": ["toy-model"],
    "superposition_lib.figures.uniform_geometry": ["uniform-geometry"],
    "superposition_lib.figures.phase_change": ["phase-change"],
    "superposition_lib.figures.pca_vs_superposition": ["pca-vs-superposition"],
    "superposition_lib.experiments.pca_vs_superposition": ["pca-vs-superposition"],
    "superposition_lib.experiments.pca_vs_superposition.specs": ["pca-vs-superposition"],
    "superposition_lib.experiments.pca_vs_superposition.strategy": ["pca-vs-superposition"],
    "superposition_lib.experiments.pca_vs_superposition.geometry": ["pca-vs-superposition"],
    "superposition_lib.experiments.pca_vs_superposition.collapse": ["pca-vs-superposition"],
    "superposition_lib.experiments.pca_vs_superposition.tradeoff": ["pca-vs-superposition"],
    "superposition_lib.experiments.pca_vs_superposition.pair_map": ["pca-vs-superposition"],
    "superposition_lib.figures.continuous_features": ["continuous-features"],
    "superposition_lib.experiments.continuous_features": ["continuous-features"],
    "superposition_lib.figures.learning_dynamics": ["learning-dynamics"],
    "superposition_lib.figures.learning_dynamics.energy": ["learning-dynamics"],
    "superposition_lib.figures.learning_dynamics.stages": ["learning-dynamics"],
    "superposition_lib.experiments.learning_dynamics": ["learning-dynamics"],
    "superposition_lib.experiments.learning_dynamics.specs": ["learning-dynamics"],
    "superposition_lib.experiments.learning_dynamics.energy": ["learning-dynamics"],
    "superposition_lib.experiments.learning_dynamics.scale": ["learning-dynamics"],
    "superposition_lib.experiments.learning_dynamics.sizes": ["learning-dynamics"],
    "superposition_lib.experiments.learning_dynamics.search": ["learning-dynamics"],
    "superposition_lib.experiments.learning_dynamics.stages": ["learning-dynamics"],
    "superposition_lib.analysis.neurons": ["privileged-basis", "computation"],
    "superposition_lib.experiments.privileged_basis": ["privileged-basis"],
    "superposition_lib.experiments.computation": ["computation"],
    "superposition_lib.figures.privileged_basis": ["privileged-basis", "computation"],
    "superposition_lib.analysis.adversarial": ["adversarial"],
    "superposition_lib.experiments.adversarial": ["adversarial"],
    "superposition_lib.figures.adversarial": ["adversarial"],
    "superposition_lib.book": ["toy-model", "uniform-geometry", "phase-change",
                               "pca-vs-superposition", "continuous-features", "learning-dynamics",
                               "privileged-basis", "computation", "adversarial"],
    "superposition_lib.book.registry": ["toy-model"],
    "superposition_lib.book.pages": ["toy-model", "uniform-geometry", "phase-change",
                                     "pca-vs-superposition", "continuous-features",
                                     "learning-dynamics", "privileged-basis", "computation",
                                     "adversarial"],
    "superposition_lib.book.toy_model": ["toy-model"],
    "superposition_lib.book.uniform_geometry": ["uniform-geometry"],
    "superposition_lib.book.phase_change": ["phase-change"],
    "superposition_lib.book.pca_vs_superposition": ["pca-vs-superposition"],
    "superposition_lib.book.continuous_features": ["continuous-features"],
    "superposition_lib.book.learning_dynamics": ["learning-dynamics"],
    "superposition_lib.book.privileged_basis": ["privileged-basis"],
    "superposition_lib.book.computation": ["computation"],
    "superposition_lib.book.adversarial": ["adversarial"],
}
