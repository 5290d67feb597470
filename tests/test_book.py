"""The Quarto book, tested without the Quarto binary.

Every chapter is parsed the way Quarto reads it (``{python}`` chunks via jupytext's ``Rmd``
reader, ``#|`` options parsed here), executed with nbclient in a real Jupyter kernel from the
chapter's directory under the ``smoke`` profile with a temporary run store, and every ``fig-``
cell must produce a chart. Charts are validated against the Vega-Lite schema, rendered with
vl-convert, and the exported offline pages (and a page assembled from a chapter's outputs, as
Quarto would show it) are loaded in headless Chromium, which must draw marks without errors or
warnings in the console.

What a real Quarto render showed and these tests now check:

- every figure fits the column its cell declares (``#| column:``), measured on the ``paper``
  figures from the committed runs and in Chromium at a 1,400 px window; on a 390 px phone a
  wide chart scrolls in its own box and the page does not;
- no Markdown output holds a control character or a line break inside inline math (what
  ``\\ne`` in a non-raw f-string becomes), and no string literal of the library or the chapters
  has an escape that collides with a LaTeX command;
- no raw HTML output holds ``<table`` (Quarto then warns "Unable to parse table from raw html
  block"): the Vega bundle is a file of the site, not inlined;
- every local link of the book's pages resolves in the site (figure downloads, the API reference
  under ``api/``, other pages);
- ``_quarto.yml`` sets ``repo-url`` and ``site-url`` with ``repo-actions``;
- inline expressions run where Quarto runs them: as Jupyter ``user_expressions`` when execution
  reaches their Markdown cell (a name a later chunk defines is a ``NameError``), printed as Quarto
  prints them (the ``text/plain`` repr, so ``np.int64(2)`` shows as such).

Where the Quarto CLI is on PATH, ``tests/test_site.py`` renders the book with it and checks the
built pages the same ways.
"""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from html_pages import CHROMIUM, NO_CHROMIUM, REPR, body_json, chromium_dom

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
vlc = pytest.importorskip("vl_convert")

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.qmd"))
#: Quarto's pattern of an inline expression (quarto-cli ``src/resources/jupyter/notebook.py``).
INLINE = re.compile(r"(?:^|[^`])`\{python\}[ \t]([^`]+)`", re.MULTILINE)
SPEC = re.compile(r"^var spec=(.*);$", re.MULTILINE)

#: Width in px of Quarto's columns at a 1,400 px window (cosmo theme, book with sidebar and toc;
#: measured in a real render, see DESIGN.md).
COLUMN_WIDTHS = {"body": 749, "body-outset": 900, "page-right": 1025, "page": 1300,
                 "screen-inset": 1349}


def cell_options(source: str) -> tuple[dict, str]:
    """Split a chunk's leading ``#|`` lines (YAML) from its code."""
    lines = source.splitlines()
    head = []
    while lines and lines[0].startswith("#|"):
        head.append(lines.pop(0)[2:].removeprefix(" "))
    return (yaml.safe_load("\n".join(head)) or {}), "\n".join(lines)


def chapter_notebook(path: Path):
    """The chapter as a notebook Quarto would execute: its chunks as code cells (options in
    ``cell.metadata.quarto``) and the Markdown between them as Markdown cells, in order."""
    nb = jupytext.reads(path.read_text(encoding="utf-8"), fmt="Rmd")
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(cell.source)
            new.metadata["quarto"] = {}
        elif cell.cell_type == "code":
            opts, code = cell_options(cell.source)
            if opts.get("eval", True) is False:
                continue
            new = nbformat.v4.new_code_cell(code)
            new.metadata["quarto"] = opts
        else:
            continue
        cells.append(new)
    nb.cells = cells
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


class QuartoClient(nbclient.NotebookClient):
    """Executes a chapter as Quarto's Jupyter engine does: code cells as nbclient does, and each
    Markdown cell's inline expressions when execution reaches it, sent to the kernel as
    ``user_expressions`` of an empty request. The results (mime bundles) go to the cell's
    ``metadata.user_expressions`` as ``[expression, bundle]`` pairs; the first failing
    expression's error goes to ``metadata.inline_error`` (Quarto stops the render there)."""

    async def async_execute_cell(self, cell, cell_index, execution_count=None,
                                 store_history=True):
        if cell.cell_type != "markdown":
            return await super().async_execute_cell(cell, cell_index, execution_count,
                                                    store_history)
        expressions = INLINE.findall(cell.source)
        if not expressions:
            return cell
        msg_id = self.kc.execute("", user_expressions={str(i): e
                                                       for i, e in enumerate(expressions)})
        content = (await self.async_wait_for_reply(msg_id))["content"]
        results = []
        for i, expr in enumerate(expressions):
            result = content.get("user_expressions", {}).get(str(i), content)
            if result.get("status") != "ok":
                cell.metadata["inline_error"] = (f"`{{python}} {expr.strip()}`: "
                                                 f"{result.get('ename')}: {result.get('evalue')}")
                break
            results.append([expr.strip(), result["data"]])
        cell.metadata["user_expressions"] = results
        return cell


#: The mime types Quarto prefers for an inline value in HTML output, best first
#: (``displayDataMimeType`` of quarto-cli's ``src/core/jupyter/display-data.ts``).
INLINE_MIME_PRIORITY = ("application/vnd.jupyter.widget-state+json",
                        "application/vnd.jupyter.widget-view+json", "application/javascript",
                        "text/html", "text/markdown", "image/svg+xml", "image/png", "image/jpeg",
                        "text/plain")


def quarto_inline_text(bundle: dict) -> str:
    """What Quarto writes into the Markdown for an inline value's mime ``bundle``: HTML as a raw
    span, Markdown as is, plain text (the value's repr) with the quotes of a string stripped
    and its Markdown characters escaped (``asEscapedMarkdown`` in quarto-cli's
    ``src/core/jupyter/jupyter-inline.ts``; its character class ``+-.`` is a range, so commas
    are escaped too).

    >>> quarto_inline_text({"text/plain": "'a_b'"})
    'a\\\\_b'
    >>> quarto_inline_text({"text/plain": "np.int64(2)"})
    'np.int64(2)'
    """
    mime = next(m for m in INLINE_MIME_PRIORITY if m in bundle)
    data = bundle[mime]
    data = "".join(map(str, data)) if isinstance(data, list) else str(data)
    if mime == "text/html":
        return f"`{data}`{{=html}}"
    if mime != "text/plain":
        return data
    if len(data) >= 2 and data[0] == data[-1] and data[0] in "'\"":
        return re.sub(r"([\\`*_{}\[\]()>#+,\-.!])", r"\\\1", data[1:-1].replace("\\", "\\\\"))
    return data


def resolved_markdown(cell) -> str:
    """A Markdown cell's text with its inline expressions replaced as Quarto replaces them."""
    values = dict(cell.metadata.get("user_expressions", []))

    def replace(match):
        expr = match.group(1).strip()
        if expr not in values:
            return match.group(0)
        prefix = match.group(0)[:match.group(0).index("`{python}")]
        return prefix + quarto_inline_text(values[expr])

    return INLINE.sub(replace, cell.source)


#: A Pandoc raw HTML block (how the book's renderer writes a chart into a Markdown output).
RAW_HTML = re.compile(r"^(`{3,})\{=html\}\n(.*?)\n\1$", re.DOTALL | re.MULTILINE)


def _display_data(cell, mime: str) -> list[str]:
    return [o["data"][mime] for o in cell.get("outputs", [])
            if o.get("output_type") in ("display_data", "execute_result")
            and mime in o.get("data", {})]


def html_outputs(cell) -> list[str]:
    """The HTML a cell puts on the page: ``text/html`` outputs and the raw HTML blocks of its
    Markdown outputs (charts)."""
    return _display_data(cell, "text/html") + [m.group(2) for text in
                                               _display_data(cell, "text/markdown")
                                               for m in RAW_HTML.finditer(text)]


def markdown_outputs(cell) -> list[str]:
    """A cell's Markdown outputs, less their raw HTML blocks."""
    return [RAW_HTML.sub("", text) for text in _display_data(cell, "text/markdown")]


def declared_column(opts: dict) -> str:
    """The Quarto column a cell's output takes (``#| column:``), ``body`` by default."""
    column = str(opts.get("column", "body"))
    assert column in COLUMN_WIDTHS, (f"{opts.get('label')}: column {column!r} has no measured "
                                     f"width; use one of {', '.join(COLUMN_WIDTHS)}")
    return column


def cell_columns(path: Path) -> dict[str, str]:
    """Label -> declared column of every labelled cell of a chapter."""
    return {c.metadata["quarto"]["label"]: declared_column(c.metadata["quarto"])
            for c in chapter_notebook(path).cells if c.metadata["quarto"].get("label")}


def svg_width(spec: dict | str) -> float:
    """The width in px of a Vega-Lite chart as vl-convert draws it (as vega-embed does)."""
    svg = vlc.vegalite_to_svg(spec if isinstance(spec, str) else json.dumps(spec))
    return float(re.search(r'<svg[^>]*\swidth="([\d.]+)"', svg).group(1))


@pytest.fixture(scope="module")
def store(smoke_store):
    """The session's smoke store, so each smoke run trains once."""
    return smoke_store.root


@pytest.fixture(scope="module")
def executed(tmp_path_factory, store):
    """Every chapter executed once under the smoke profile: {stem: notebook}."""
    env = {"SUPERPOSITION_PROFILE": "smoke", "SUPERPOSITION_DATA": str(store),
           "SUPERPOSITION_FIGURES": str(tmp_path_factory.mktemp("figures")),
           # tiny models: one thread is much faster than two fighting over shared cores
           "OMP_NUM_THREADS": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)

    def execute(path: Path):
        nb = chapter_notebook(path)
        client = QuartoClient(nb, timeout=600, kernel_name="python3",
                              resources={"metadata": {"path": str(path.parent)}})
        client.execute()
        return path.stem, nb

    try:
        # two kernels at a time, one per core of the CI machine (each kernel runs one thread;
        # the run store's locks keep two kernels from training the same smoke run twice)
        with ThreadPoolExecutor(max_workers=2) as pool:
            out = dict(pool.map(execute, CHAPTERS))
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return out


def test_the_harness_runs_inline_code_where_quarto_does(tmp_path):
    """At its paragraph, in document order: a name bound further down is a NameError (Quarto
    stops the render there), and a value prints as its repr, numpy's included."""
    page = tmp_path / "page.qmd"
    page.write_text("Early `{python} x`.\n\n```{python}\nimport numpy as np\nx = np.int64(2)\n"
                    "```\n\nLater `{python} x` and `{python} int(x) + 1`, `{python} 'a_b'`.\n",
                    encoding="utf-8")
    nb = chapter_notebook(page)
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "markdown"]
    QuartoClient(nb, timeout=120, kernel_name="python3").execute()
    assert "NameError" in nb.cells[0].metadata["inline_error"]
    assert resolved_markdown(nb.cells[2]) == "Later np.int64(2) and 3, a\\_b."


def test_quarto_yml_lists_every_chapter_and_only_existing_ones():
    config = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))
    assert config["project"]["type"] == "book"
    assert config["jupyter"] == "python3"
    assert config["execute"]["freeze"] == "auto"
    listed = []
    for entry in config["book"]["chapters"]:
        if isinstance(entry, dict):  # a part: {part: ..., chapters: [...]}
            listed += entry.get("chapters", [])
        else:
            listed.append(entry)
    assert "index.qmd" in listed
    for entry in listed:
        assert (ROOT / entry).is_file(), f"_quarto.yml lists {entry}, which does not exist"
    existing = {f"chapters/{p.name}" for p in CHAPTERS}
    assert existing <= set(listed), f"chapters missing from _quarto.yml: {existing - set(listed)}"
    assert (ROOT / config["bibliography"]).is_file()


def test_the_library_chapter_list_is_the_books():
    """``experiments.chapters.CHAPTERS`` is the one list: _quarto.yml's order, the pages' titles,
    and one module per chapter in experiments and book, named like the chapter (a chapter's
    charts may come from another chapter's figures module)."""
    from superposition_lib.experiments.chapters import CHAPTERS as LISTED
    from superposition_lib.experiments.chapters import module_name

    config = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))
    pages = [e for e in config["book"]["chapters"] if isinstance(e, str) and e != "index.qmd"]
    assert pages == [f"chapters/{stem}.qmd" for stem in LISTED]
    for stem, title in LISTED.items():
        heading = (ROOT / "chapters" / f"{stem}.qmd").read_text(encoding="utf-8").splitlines()[0]
        assert heading.startswith(f"# {title} {{#sec-"), (stem, heading)
        for floor in ("experiments", "book"):
            module = ROOT / "superposition_lib" / floor / module_name(stem)
            assert module.with_suffix(".py").is_file() or (module / "__init__.py").is_file(), \
                (floor, stem)


def test_the_site_carries_the_api_reference_and_they_link_each_other():
    """Quarto's post-render step builds the Sphinx reference into the site's api/ folder, the
    preface links its index there, and the reference's default book URL climbs back to the
    site's root."""
    config = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))
    book_dir = ROOT / config["project"]["output-dir"]
    post, add = (step.split() for step in config["project"]["post-render"])
    assert post[:3] == ["python", "-m", "sphinx"] and "-W" in post and post[-2] == "docs", post
    assert add[-4:] == ["site", "add-reference", "--site", str(config["project"]["output-dir"])]
    api_dir = ROOT / post[-1]
    assert api_dir.parent == book_dir, "the reference must be built inside the site"
    links = re.findall(r"\[API reference\]\(([^)]+)\)", (ROOT / "index.qmd").read_text())
    assert links, "index.qmd does not link the API reference"
    assert os.path.normpath(book_dir / links[0]) == os.path.normpath(api_dir / "index.html")
    conf = (ROOT / "docs" / "conf.py").read_text()
    book_url = re.search(r'book_url = .*or "([^"]+)"', conf).group(1)
    assert os.path.normpath(api_dir / book_url) == os.path.normpath(book_dir)


def test_repository_and_site_urls_are_set():
    """repo-actions needs repo-url (Quarto warns and shows no links without it); the site URL
    and the repository agree with CITATION.cff."""
    book = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))["book"]
    if book.get("repo-actions"):
        assert str(book.get("repo-url", "")).startswith("https://github.com/"), book
    assert str(book.get("site-url", "")).startswith("https://"), book
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["repository-code"] == book["repo-url"]
    assert cff["url"] == book["site-url"]


def test_every_citation_is_in_the_bibliography():
    keys = set(re.findall(r"@\w+\{([^,]+),", (ROOT / "references.bib").read_text()))
    for path in [ROOT / "index.qmd", *CHAPTERS]:
        text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
        for key in re.findall(r"(?<![\w.])@([\w-]+)", text):
            if key.startswith(("fig-", "sec-", "tbl-", "eq-")):
                continue
            assert key in keys, f"{path.name} cites @{key}, which references.bib lacks"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_structure(path):
    """Figure cells are labelled, captioned and alt-texted (and referenced from the page:
    :func:`test_every_figure_is_referenced_from_its_page`)."""
    nb = chapter_notebook(path)
    figs = [c.metadata["quarto"] for c in nb.cells
            if str(c.metadata["quarto"].get("label", "")).startswith("fig-")]
    assert figs, f"{path.name} has no figure"
    for opts in figs:
        assert opts.get("fig-cap") and opts.get("fig-alt"), opts["label"]
    labels = [c.metadata["quarto"].get("label") for c in nb.cells]
    labels = [lab for lab in labels if lab]
    assert len(labels) == len(set(labels)), "duplicate cell labels"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_executes_and_every_figure_draws_a_chart(executed, path):
    nb = executed[path.stem]
    inline_errors = [c.metadata["inline_error"] for c in nb.cells if "inline_error" in c.metadata]
    assert not inline_errors, f"Quarto stops at an inline expression: {inline_errors[0]}"
    for cell in nb.cells:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors or cell.metadata["quarto"].get("error"), errors
        label = str(cell.metadata["quarto"].get("label", ""))
        if label.startswith("fig-"):
            html = "\n".join(html_outputs(cell))
            assert "vegaEmbed(" in html and SPEC.search(html), f"{label} produced no chart"
    # the Vega bundle is loaded once per page, from the site, never inlined
    from superposition_lib.figures import BUNDLE_SRC

    # Quarto puts require.js and jQuery from CDNs on any page with a text/html output
    assert not [c for c in nb.cells if _display_data(c, "text/html")], "a text/html output"
    page = "\n".join(h for c in nb.cells for h in html_outputs(c))
    assert page.count(f'src="{BUNDLE_SRC}"') == 1
    assert "window.vegaEmbed=" not in page
    # Quarto tries to read raw HTML holding "<table" as a table and warns when it cannot
    assert "<table" not in page.lower(), "a raw HTML output holds a table"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_markdown_outputs_hold_no_control_characters(executed, path):
    """No control character (what \\beta or \\frac become in a non-raw string) and no line
    break inside inline math (what \\ne becomes) in any Markdown a chapter writes."""
    for cell in executed[path.stem].cells:
        for text in markdown_outputs(cell):
            label = cell.metadata["quarto"].get("label")
            bad = sorted({f"U+{ord(ch):04X}" for ch in text
                          if ord(ch) < 32 and ch not in "\n\t" or 127 <= ord(ch) < 160})
            assert not bad, f"{label}: control characters {bad}"
            spans = re.sub(r"\$\$.*?\$\$", "", text.replace("\\$", ""), flags=re.DOTALL)
            pieces = spans.split("$")
            assert len(pieces) % 2 == 1, f"{label}: an inline math span is not closed"
            broken = [m for m in pieces[1::2] if "\n" in m]
            assert not broken, f"{label}: a line break inside inline math: {broken[0]!r}"


def test_repr_pattern_finds_what_quarto_would_print():
    assert REPR.search("goes from np.int64(2) features") and REPR.search("np.float64(0.5)")
    assert REPR.search("array([1, 2])")
    assert REPR.search("<superposition_lib.core.run.Run object at 0x1>")
    assert REPR.search("('a long sentence that '\n 'goes on')")
    assert not REPR.search("2 features (0.5, 0.3) in an array (of 2)")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_prose_shows_values_not_reprs(executed, path):
    """Quarto prints an inline value's ``text/plain`` repr (``np.int64(2)`` for a numpy integer):
    neither the resolved prose nor a chunk's Markdown output may show one."""
    for cell in executed[path.stem].cells:
        for expr, bundle in cell.metadata.get("user_expressions", []):
            plain = str(bundle.get("text/plain", ""))
            assert not ("text/markdown" not in bundle and plain[:1] in "'\"" and "$" in plain), (
                f"{path.name}: `{{python}} {expr}` is a string holding math, which Quarto "
                f"escapes as plain text (1 - S becomes 1 \\- S): make it IPython's Markdown")
        texts = ([resolved_markdown(cell)] if cell.cell_type == "markdown"
                 else markdown_outputs(cell))
        for text in texts:
            found = REPR.search(text)
            assert not found, (f"{path.name}: a repr in the prose: "
                               f"{text[max(0, found.start() - 60):found.end() + 40]!r}")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_captions_write_notation_as_math(path):
    """Captions are Markdown: ``W_i`` there is plain text with an underscore, ``$W_i$`` is
    notation."""
    for cell in chapter_notebook(path).cells:
        opts = cell.metadata["quarto"]
        for key in ("fig-cap", "tbl-cap"):
            text = re.sub(r"\$[^$]*\$", "", str(opts.get(key, "")))
            found = PLAIN_NOTATION.search(re.sub(r"`[^`]*`", "", text))
            assert not found, f"{opts.get('label')}: {key} has {found.group()!r} outside math"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_inline_expression_sits_inside_math(path):
    """Pandoc reads ``$…$`` before Quarto evaluates inline code, so `{python} x` inside math
    is printed as code, not evaluated: build the whole math span in a chunk instead."""
    nb = jupytext.reads(path.read_text(encoding="utf-8"), fmt="Rmd")
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for paragraph in re.split(r"\n\s*\n", cell.source):
            text = INLINE.sub("\x00", paragraph.replace("\\$", ""))
            text = re.sub(r"\$\$.*?\$\$", "", text, flags=re.DOTALL)
            inside = [m for m in text.split("$")[1::2] if "\x00" in m]
            assert not inside, f"{path.name}: inline code inside math in {paragraph[:120]!r}"


#: Longest prose paragraph a chunk may write (tables and lists excepted): longer text belongs in
#: the ``.qmd`` source with inline expressions, where a reader of the source can follow it.
MAX_GENERATED_PROSE = 700
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chunks_write_tables_not_walls_of_prose(executed, path):
    long = [f"{cell.metadata['quarto'].get('label')}: {len(paragraph)} characters"
            for cell in executed[path.stem].cells for text in markdown_outputs(cell)
            for paragraph in re.split(r"\n\s*\n", text)
            if not paragraph.lstrip().startswith(("|", "- ", "* ", "1. "))
            and len(paragraph) > MAX_GENERATED_PROSE]
    assert not long, f"generated paragraphs over {MAX_GENERATED_PROSE} characters: {long}"


def _string_tokens(source: str):
    """(line, literal) of every string literal in Python source."""
    import io
    import tokenize

    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.STRING:
            yield tok.start[0], tok.string


# \a \b \f \v \r and \n \t before letters that make LaTeX commands (\ne, \nu, \times, \theta ...)
LATEX_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\(?:[abfv]|r(?:ho|ight|angle)"
                          r"|t(?:imes|heta|au|ext|op|ilde|o\b)|n(?:e\b|eq|u\b|abla|ot\b|orm))")


def test_no_string_literal_has_an_escape_that_collides_with_latex():
    """In a non-raw string, "\\ne" is a newline and "e", "\\beta" a backspace and "eta": every
    LaTeX command in the library's and the chapters' strings must be written "\\\\ne" (or in
    a raw string), and invalid escapes such as "\\hat" are refused too."""
    import warnings

    sources = [(p.relative_to(ROOT), p.read_text(encoding="utf-8"))
               for p in sorted((ROOT / "superposition_lib").rglob("*.py"))]
    for path in CHAPTERS:
        sources += [(f"{path.name}:{c.metadata['quarto'].get('label')}", c.source)
                    for c in chapter_notebook(path).cells if c.cell_type == "code"]
    for where, source in sources:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            warnings.simplefilter("error", SyntaxWarning)
            compile(source, str(where), "exec")  # invalid escapes such as "\\hat"
        for line, literal in _string_tokens(source):
            prefix = re.match(r"[A-Za-z]*", literal).group().lower()
            if "r" not in prefix:
                match = LATEX_ESCAPE.search(literal)
                assert not match, f"{where}, line {line}: {match.group()!r} in {literal[:60]}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_charts_validate_and_render(executed, path):
    from altair.vegalite.v6.schema.core import Root

    specs = [json.loads(m) for c in executed[path.stem].cells for h in html_outputs(c)
             for m in SPEC.findall(h)]
    assert specs
    for spec in specs:
        Root.validate(spec)
        svg = vlc.vegalite_to_svg(spec)
        assert svg.startswith("<svg") and "<path" in svg
        plain = [t for t in svg_texts(svg) + spec_titles(spec) if PLAIN_NOTATION.search(t)]
        assert not plain, f"notation written as plain text in a chart: {plain}"


#: Notation typed as plain text (``W_i``, ``x^2``, ``\\sum``, ``not_represented``): chart text
#: writes it in Unicode (``Wᵢ``, ``x²``, ``Σ``, ``not represented``).
PLAIN_NOTATION = re.compile(r"[A-Za-z0-9)‖²³]_[A-Za-z0-9{]|\^|\\[a-zA-Z]+")


def svg_texts(svg: str) -> list[str]:
    """The text of every ``<text>`` element of an SVG chart (titles, labels, legends)."""
    import html

    return [html.unescape(re.sub(r"<[^>]+>", "", t))
            for t in re.findall(r"<text\b[^>]*>(.*?)</text>", svg, re.DOTALL)]


def spec_titles(spec) -> list[str]:
    """Every title of a Vega-Lite spec: of views, axes, legends and tooltips (shown on hover)."""
    if isinstance(spec, list):
        return [t for item in spec for t in spec_titles(item)]
    if not isinstance(spec, dict):
        return []
    found = []
    for key, value in spec.items():
        if key == "title" and isinstance(value, (str, list)):
            found += [value] if isinstance(value, str) else [str(v) for v in value]
        elif key == "title" and isinstance(value, dict):
            found += spec_titles({"title": value.get("text", "")})
        elif key not in ("datasets", "data"):
            found += spec_titles(value)
    return found


def test_plain_notation_is_found_in_chart_text():
    spec = {"encoding": {"tooltip": [{"field": "n", "title": "‖W_1‖"}]}, "title": {"text": "a"}}
    assert spec_titles(spec) == ["‖W_1‖", "a"]
    svg = '<svg><text x="1">‖W_i‖</text><text>Wᵢ · Wⱼ</text><text>not_represented</text></svg>'
    assert [t for t in svg_texts(svg) if PLAIN_NOTATION.search(t)] == ["‖W_i‖", "not_represented"]


def sort_gaps(spec: dict, datasets: dict, data: str | None = None) -> list[str]:
    """Every encoding of a Vega-Lite spec whose explicit ``sort`` list leaves out values its
    field takes in the view's data (Vega-Lite puts those after the listed ones, out of order)."""
    if isinstance(spec.get("data"), dict) and "name" in spec["data"]:
        data = spec["data"]["name"]
    gaps = []
    for channel, enc in spec.get("encoding", {}).items():
        if not (isinstance(enc, dict) and isinstance(enc.get("sort"), list) and "field" in enc
                and data in datasets):
            continue
        values = {row[enc["field"]] for row in datasets[data] if enc["field"] in row}
        missing = values - set(enc["sort"])
        if missing:
            gaps.append(f"{channel} ({enc['field']}): {sorted(map(str, missing))[:5]}")
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for sub in spec.get(key, []):
            gaps += sort_gaps(sub, datasets, data)
    if isinstance(spec.get("spec"), dict):
        gaps += sort_gaps(spec["spec"], datasets, data)
    return gaps


def test_sort_gaps_finds_values_left_out_of_a_sort_order():
    spec = {"datasets": {"d": [{"x": "1.00"}, {"x": "10.00"}]}, "data": {"name": "d"},
            "vconcat": [{"encoding": {"x": {"field": "x", "sort": ["10.00"]}}}]}
    assert sort_gaps(spec, spec["datasets"]) == ["x (x): ['1.00']"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_explicit_sort_orders_list_every_value(executed, path):
    """An ordinal axis sorted by a list puts values missing from the list at its end (the real
    render of fig-polytopes showed 1.00 and 1.15 after 10.00): every list must be complete."""
    for cell in executed[path.stem].cells:
        for spec in (json.loads(m) for h in html_outputs(cell) for m in SPEC.findall(h)):
            gaps = sort_gaps(spec, spec.get("datasets", {}))
            assert not gaps, f"{cell.metadata['quarto'].get('label')}: {gaps}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_charts_fit_their_columns(executed, path):
    """Every chart (smoke data) fits the column its cell declares at a 1,400 px window."""
    for cell in executed[path.stem].cells:
        opts = cell.metadata["quarto"]
        for spec in (json.loads(m) for h in html_outputs(cell) for m in SPEC.findall(h)):
            width = svg_width(spec)
            column = declared_column(opts)
            assert width <= COLUMN_WIDTHS[column], (
                f"{opts.get('label')}: {width:.0f} px wide in the {column} column "
                f"({COLUMN_WIDTHS[column]} px)")


def _code_table_width(markdown: str) -> float:
    """A rough lower bound in px of a pipe table whose code spans do not wrap: per column, its
    longest code span or longest word at 8 px a character, plus 16 px of padding."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in markdown.splitlines() if line.startswith("|")]
    rows = [r for r in rows if not all(set(c) <= set("-: ") for c in r)]
    width = 0.0
    for column in zip(*rows):
        longest = max(max([len(c) for c in re.findall(r"`([^`]*)`", cell)]
                          + [len(w) for w in re.sub(r"`[^`]*`", "", cell).split()] + [0])
                      for cell in column)
        width += 8 * longest + 16
    return width


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_tables_fit_their_columns(executed, path):
    """Code in tables never wraps (styles.scss), so a table of experiment names needs a column
    wide enough for them: its cell declares one."""
    css = (ROOT / "styles.scss").read_text(encoding="utf-8")
    assert re.search(r"td code:not\(\.sourceCode\),[^{]*\{[^}]*white-space:\s*nowrap", css)
    for cell in executed[path.stem].cells:
        opts = cell.metadata["quarto"]
        for text in markdown_outputs(cell):
            if "|---" in text:
                column = declared_column(opts)
                width = _code_table_width(text)
                assert width <= COLUMN_WIDTHS[column], (
                    f"{opts.get('label')}: about {width:.0f} px of unbreakable text in the "
                    f"{column} column ({COLUMN_WIDTHS[column]} px)")


def _chromium_dom(page: Path, tmp_path: Path, width: int = 1400) -> str:
    """Load a page in headless Chromium (see :func:`html_pages.chromium_dom`)."""
    return chromium_dom(page, tmp_path / f"chromium-{page.stem}-{width}", width)


def _assert_drawn(dom: str, n_charts: int) -> None:
    errors = body_json(dom, "errors")
    assert errors == [], f"the console reported: {errors}"
    assert dom.count('class="marks"') >= n_charts, "a chart drew no SVG"
    assert len(re.findall(r'class="mark-(?:rect|symbol|rule|text|line)', dom)) >= n_charts
    assert ">Chart error" not in dom


@pytest.fixture(scope="module")
def exported(executed, store, tmp_path_factory):
    """Every figure's downloads, exported under the smoke profile: (root, {label: paths})."""
    from superposition_lib.book import export_chapter_figures
    from superposition_lib.core.store import RunStore

    root = tmp_path_factory.mktemp("exported")
    return root, export_chapter_figures(out_dir=root, profile="smoke", store=RunStore(store))


def _book_pages() -> dict[str, Path]:
    """Site path of every page Quarto renders (``chapters/x.qmd`` -> ``chapters/x.html``)."""
    config = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))
    sources = [e for entry in config["book"]["chapters"]
               for e in (entry.get("chapters", []) if isinstance(entry, dict) else [entry])]
    return {str(Path(src).with_suffix(".html")): ROOT / src for src in sources}


LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)[^)]*\)|(?:href|src)=[\"']([^\"']+)[\"']")


def page_texts(executed, source: Path) -> list[str]:
    """The Markdown a reader's page is made of: for a chapter, its executed prose (inline
    expressions resolved) and its cells' Markdown outputs (tables, the figures' downloads
    blocks); for another page, its source without code blocks."""
    if source.parent.name != "chapters":
        return [re.sub(r"```.*?```", "", source.read_text(encoding="utf-8"), flags=re.DOTALL)]
    cells = executed[source.stem].cells
    return ([resolved_markdown(c) for c in cells if c.cell_type == "markdown"]
            + [t for c in cells for t in markdown_outputs(c)])


def test_every_local_link_of_the_book_resolves(executed, exported):
    """Links in the pages' executed prose and Markdown outputs (:func:`page_texts`, so the
    downloads blocks the chapters' cells write are checked too): other pages, the figure
    downloads (written by the pre-render export into chapters/figures/), the API reference
    under api/ (built by the post-render step from docs/), and files shipped as resources."""
    figures_root, _ = exported
    pages = _book_pages()
    checked = 0
    for site_path, source in pages.items():
        for text in page_texts(executed, source):
            for target in (a or b for a, b in LINK.findall(text)):
                target = target.split("#")[0].split("?")[0]
                if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target):
                    continue
                resolved = os.path.normpath(Path(site_path).parent / target)
                checked += 1
                if resolved.endswith(".qmd"):
                    assert str(Path(resolved).with_suffix(".html")) in pages, (site_path, target)
                elif resolved.startswith("chapters/figures/"):
                    assert (figures_root / resolved.removeprefix("chapters/figures/")).is_file(), (
                        f"{site_path} links {target}, which the figure export does not write")
                elif resolved.startswith("api/"):
                    page = resolved.removeprefix("api/").removesuffix(".html")
                    assert (ROOT / "docs" / f"{page}.rst").is_file() or (
                        page.startswith("api/generated/superposition_lib")), (site_path, target)
                else:
                    assert resolved in pages or (ROOT / resolved).is_file(), (
                        f"{site_path} links {target}, which is not in the site")
    assert checked > 20


def canonical_spec(spec: dict) -> str:
    """A Vega-Lite spec as sorted JSON with Altair's generated view and parameter names
    (``view_<hash>_0``, ``param_3``, which depend on the process that drew the chart) numbered
    in order of appearance."""
    text = json.dumps(spec, sort_keys=True)
    names: dict[str, str] = {}
    return re.sub(r"\b(?:view|param)_\w+",
                  lambda m: names.setdefault(m.group(0), f"name_{len(names)}"), text)


def test_canonical_spec_numbers_generated_names():
    a = {"params": [{"name": "param_7", "views": ["view_ab12_0"]}], "name": "view_ab12_0"}
    b = {"params": [{"name": "param_2", "views": ["view_cd34_0"]}], "name": "view_cd34_0"}
    assert canonical_spec(a) == canonical_spec(b)
    assert canonical_spec(a) != canonical_spec({**a, "name": "view_ef56_0"})


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_figure_is_referenced_from_its_page(executed, path):
    """Every figure is referenced (``@fig-…``) in its page's prose or Markdown outputs: the
    downloads blocks the chapters' cells write count, as they did when written in the source."""
    page = "\n".join(page_texts(executed, path))
    for cell in chapter_notebook(path).cells:
        label = str(cell.metadata["quarto"].get("label", ""))
        if label.startswith("fig-"):
            assert f"@{label}" in page, f"{label} is never referenced"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_figure_shows_its_downloads_chart_and_links_them(executed, exported, path):
    """One path from the data to a figure: its cell draws the chart of the figure's registered
    builder, the one ``superposition figures export`` writes (same spec, same data), and the
    page links every file the export writes for it."""
    from superposition_lib.book.registry import builders

    root, written = exported
    cells = {c.metadata["quarto"].get("label"): c for c in executed[path.stem].cells}
    linked = {os.path.normpath(Path("chapters") / a) for text in page_texts(executed, path)
              for a, _ in LINK.findall(text) if a}
    figures = builders(path.stem)
    assert figures, f"{path.name} has no registered figure"
    for label in figures:
        assert label in cells, f"{label} is registered but {path.name} has no cell for it"
        shown = [canonical_spec(json.loads(m)) for h in html_outputs(cells[label])
                 for m in SPEC.findall(h)]
        exported_spec = json.loads((root / path.stem / f"{label}.vl.json").read_text("utf-8"))
        assert shown == [canonical_spec(exported_spec)], (
            f"{label}: the page draws another chart than its downloads")
        unlinked = sorted(p.name for p in written[label]
                          if f"chapters/figures/{path.stem}/{p.name}" not in linked)
        assert not unlinked, f"{path.name} does not link the downloads of {label}: {unlinked}"


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_exported_figures_draw_offline_in_chromium(exported, tmp_path):
    from superposition_lib.figures import BUNDLE

    root, written = exported
    written = dict(written)
    assert written.pop(BUNDLE) == [root / BUNDLE]
    assert written
    pages = []
    for label, paths in written.items():
        suffixes = sorted(p.name.split(".", 1)[1] for p in paths)
        assert {"html", "svg", "png", "vl.json", "csv"} <= set(suffixes), label
        assert all(p.stat().st_size > 0 for p in paths)
        html = next(p for p in paths if p.suffix == ".html")
        assert "cdn.jsdelivr" not in html.read_text(encoding="utf-8"), "needs the network"
        pages.append(html)
    # two browsers at a time, one per core
    with ThreadPoolExecutor(max_workers=2) as pool:
        for dom in pool.map(lambda page: _chromium_dom(page, tmp_path), pages):
            _assert_drawn(dom, 1)


def _page(cells: list[tuple[str, list[str]]], path: Path, *, width: int | None = None
          ) -> tuple[Path, int]:
    """HTML outputs on one page as Quarto embeds them: each cell's outputs in a box as wide as
    the column it declares, the Vega bundle beside the page as on the site. ``cells`` holds
    (column, outputs) pairs; ``width`` narrows the page's body (a phone's column)."""
    from superposition_lib.figures import write_bundle

    boxes, n_charts = [], 0
    for column, outputs in cells:
        n_charts += sum(len(SPEC.findall(h)) for h in outputs)
        boxes.append(f'<div data-column="{column}" style="width:{COLUMN_WIDTHS[column]}px;'
                     f'max-width:100%">' + "\n".join(outputs) + "</div>")
    write_bundle(path.parent / "figures")
    body = "margin:0" + (f";width:{width}px" if width else "")
    path.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'>"
                    "<meta name='viewport' content='width=device-width, initial-scale=1'>"
                    f"</head><body style='{body}'>" + "\n".join(boxes) + "</body></html>",
                    encoding="utf-8")
    return path, n_charts


def _chapter_page(executed, path: Path, tmp_path: Path, *, width: int | None = None
                  ) -> tuple[Path, int]:
    """A chapter's executed outputs on one page (see :func:`_page`)."""
    cells = [(declared_column(c.metadata["quarto"]), html_outputs(c))
             for c in executed[path.stem].cells if html_outputs(c)]
    return _page(cells, tmp_path / f"{path.stem}.html", width=width)


def _assert_fit(dom: str, what: str) -> None:
    for column, box, chart in body_json(dom, "figures"):
        assert chart <= COLUMN_WIDTHS[column], (
            f"{what}: a {chart:.0f} px chart in the {column} column ({COLUMN_WIDTHS[column]} "
            f"px): declare a wider column or narrow the chart")


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_page_draws_offline_in_chromium(executed, path, tmp_path):
    """The chapter's charts draw with no console error or warning, and at a 1,400 px window
    each fits the column its cell declares."""
    page, n_charts = _chapter_page(executed, path, tmp_path)
    dom = _chromium_dom(page, tmp_path)
    _assert_drawn(dom, n_charts)
    assert len(body_json(dom, "figures")) == n_charts
    _assert_fit(dom, path.stem)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
@pytest.mark.parametrize("chapter", [p.stem for p in CHAPTERS])
def test_paper_figures_fit_their_columns_in_chromium(chapter, tmp_path):
    """The site's figures, built from the committed paper runs with the house theme, fit the
    columns their cells declare at a 1,400 px window, as a browser draws them (its fonts make
    charts up to 60 px wider than vl-convert's; smoke data can draw narrower charts), their
    explicit sort orders list every value of the paper data, and their text is legible: no axis
    labels on top of each other, no title or label cut short with an ellipsis."""
    from superposition_lib import figures
    from superposition_lib.book import chapter_figures
    from superposition_lib.core.store import RunStore

    store = RunStore(ROOT / "data")
    columns = cell_columns(ROOT / "chapters" / f"{chapter}.qmd")
    figures.setup()
    specs = {label: build(profile="paper", store=store)[0].to_dict()
             for label, build in chapter_figures()[chapter].items()}
    for label, spec in specs.items():  # the paper data's sort orders, too
        assert not sort_gaps(spec, spec.get("datasets", {})), label
    cells = [(columns[label], [RAW_HTML.search(figures.renderer(spec)["text/markdown"]).group(2)])
             for label, spec in specs.items()]
    page, n_charts = _page(cells, tmp_path / f"{chapter}.html")
    dom = _chromium_dom(page, tmp_path)
    _assert_drawn(dom, n_charts)
    _assert_fit(dom, chapter)
    labels = dict(zip(re.findall(r'<div id="(vis-\w+)"', page.read_text(encoding="utf-8")),
                      specs))
    unreadable = [re.sub(r"vis-\w+", lambda m: labels.get(m.group(0), m.group(0)), issue)
                  for issue in body_json(dom, "text")]
    assert not unreadable, "chart text a reader cannot read:\n" + "\n".join(unreadable)


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_wide_charts_scroll_in_their_own_box_on_a_phone(executed, tmp_path):
    """In a phone's 390 px column the page does not scroll sideways; a wider chart scrolls in
    its own box. (Headless Chromium's window is at least 500 px, so the body is narrowed.)"""
    path = ROOT / "chapters" / "toy-model.qmd"
    page, _ = _chapter_page(executed, path, tmp_path, width=390)
    dom = _chromium_dom(page, tmp_path, width=500)
    assert body_json(dom, "page-width") <= 390
    figures = body_json(dom, "figures")
    assert any(chart > 390 for _, _, chart in figures), "no chart wider than a phone to test"
    assert all(box <= 390 for _, box, _ in figures)
