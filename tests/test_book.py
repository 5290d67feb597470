"""The Quarto book, tested without the Quarto binary.

Every chapter is parsed the way Quarto reads it (``{python}`` chunks via jupytext's ``Rmd``
reader, ``#|`` options parsed here), executed with nbclient in a real Jupyter kernel from the
chapter's directory under the ``smoke`` profile with a temporary run store, and every ``fig-``
cell must produce a chart. Charts are validated against the Vega-Lite schema, rendered with
vl-convert, and the exported offline pages (and a page assembled from a chapter's outputs, as
Quarto would show it) are loaded in headless Chromium, which must draw marks without errors.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
vlc = pytest.importorskip("vl_convert")

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.qmd"))
INLINE = re.compile(r"`\{python\}\s+([^`]+)`")
SPEC = re.compile(r"^var spec=(.*);$", re.MULTILINE)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def cell_options(source: str) -> tuple[dict, str]:
    """Split a chunk's leading ``#|`` lines (YAML) from its code."""
    lines = source.splitlines()
    head = []
    while lines and lines[0].startswith("#|"):
        head.append(lines.pop(0)[2:].removeprefix(" "))
    return (yaml.safe_load("\n".join(head)) or {}), "\n".join(lines)


def chapter_notebook(path: Path):
    """The chapter as a notebook Quarto would execute; options in ``cell.metadata.quarto``."""
    nb = jupytext.reads(path.read_text(encoding="utf-8"), fmt="Rmd")
    cells, inline = [], []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            inline += INLINE.findall(cell.source)
            continue
        if cell.cell_type != "code":
            continue
        opts, code = cell_options(cell.source)
        if opts.get("eval", True) is False:
            continue
        new = nbformat.v4.new_code_cell(code)
        new.metadata["quarto"] = opts
        cells.append(new)
    # Quarto evaluates inline `{python} expr` after the chunks.
    for expr in inline:
        new = nbformat.v4.new_code_cell(f"print(repr({expr}))")
        new.metadata["quarto"] = {"label": "inline", "inline": expr}
        cells.append(new)
    nb.cells = cells
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def html_outputs(cell) -> list[str]:
    return [o["data"]["text/html"] for o in cell.get("outputs", [])
            if o.get("output_type") in ("display_data", "execute_result")
            and "text/html" in o.get("data", {})]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One temporary run store for the module, so each smoke run trains once."""
    return tmp_path_factory.mktemp("store")


@pytest.fixture(scope="module")
def executed(tmp_path_factory, store):
    """Every chapter executed once under the smoke profile: {stem: notebook}."""
    env = {"SUPERPOSITION_PROFILE": "smoke", "SUPERPOSITION_DATA": str(store),
           "SUPERPOSITION_FIGURES": str(tmp_path_factory.mktemp("figures")),
           # tiny models: one thread is much faster than two fighting over shared cores
           "OMP_NUM_THREADS": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    out = {}
    try:
        for path in CHAPTERS:
            nb = chapter_notebook(path)
            client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                             resources={"metadata": {"path": str(path.parent)}})
            client.execute()
            out[path.stem] = nb
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return out


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


def test_book_and_api_reference_link_to_each_other():
    """The preface links the Sphinx reference built beside the book, and the reference's
    default book URL points back at Quarto's output directory."""
    config = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))
    book_dir = ROOT / config["project"]["output-dir"]
    links = re.findall(r"\[API reference\]\(([^)]+)\)", (ROOT / "index.qmd").read_text())
    assert links, "index.qmd does not link the API reference"
    api_index = ROOT / "docs" / "_build" / "html" / "index.html"
    assert os.path.normpath(book_dir / links[0]) == os.path.normpath(api_index)
    conf = (ROOT / "docs" / "conf.py").read_text()
    book_url = re.search(r'book_url = .*or "([^"]+)"', conf).group(1)
    assert os.path.normpath(api_index.parent / book_url) == os.path.normpath(book_dir)


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
    """Figure cells are labelled, captioned, alt-texted and referenced from the prose."""
    nb = chapter_notebook(path)
    text = path.read_text(encoding="utf-8")
    figs = [c.metadata["quarto"] for c in nb.cells
            if str(c.metadata["quarto"].get("label", "")).startswith("fig-")]
    assert figs, f"{path.name} has no figure"
    for opts in figs:
        assert opts.get("fig-cap") and opts.get("fig-alt"), opts["label"]
        assert f"@{opts['label']}" in text, f"{opts['label']} is never referenced"
    labels = [c.metadata["quarto"].get("label") for c in nb.cells]
    labels = [lab for lab in labels if lab and lab != "inline"]
    assert len(labels) == len(set(labels)), "duplicate cell labels"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_executes_and_every_figure_draws_a_chart(executed, path):
    nb = executed[path.stem]
    for cell in nb.cells:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors or cell.metadata["quarto"].get("error"), errors
        label = str(cell.metadata["quarto"].get("label", ""))
        if label.startswith("fig-"):
            html = "\n".join(html_outputs(cell))
            assert "vegaEmbed(" in html and SPEC.search(html), f"{label} produced no chart"
    # the Vega bundle is on the page exactly once
    page = "\n".join(h for c in nb.cells for h in html_outputs(c))
    assert page.count("window.vegaEmbed=") == 1


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


def _chromium_dom(page: Path, tmp_path: Path) -> str:
    """Load a page in headless Chromium (no network) and return its DOM after scripts ran."""
    probe = ("<script>window.__errors=[];"
             "window.addEventListener('error',function(e){__errors.push(String(e.message))});"
             "var __ce=console.error;console.error=function(){"
             "__errors.push(Array.prototype.join.call(arguments,' '));"
             "__ce.apply(console,arguments)};"
             "window.addEventListener('load',function(){setTimeout(function(){"
             "document.body.setAttribute('data-errors',JSON.stringify(__errors))},2000)});"
             "</script>")
    text = page.read_text(encoding="utf-8")
    probed = tmp_path / f"probed-{page.name}"
    probed.write_text(text.replace("<head>", "<head>" + probe, 1) if "<head>" in text
                      else probe + text, encoding="utf-8")
    profile = tmp_path / f"chromium-{page.stem}"
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update",
         "--no-first-run", f"--user-data-dir={profile}", "--virtual-time-budget=15000",
         "--dump-dom", probed.as_uri()],
        check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _assert_drawn(dom: str, n_charts: int) -> None:
    errors = re.search(r'data-errors="([^"]*)"', dom)
    assert errors, "the page never finished loading"
    assert errors.group(1).replace("&quot;", '"') == "[]", errors.group(1)
    assert dom.count('class="marks"') >= n_charts, "a chart drew no SVG"
    assert len(re.findall(r'class="mark-(?:rect|symbol|rule|text|line)', dom)) >= n_charts
    assert ">Chart error" not in dom


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed "
                    "(Debian: apt-get install -y chromium)")
def test_exported_figures_draw_offline_in_chromium(executed, store, tmp_path):
    from superposition_lib.figures import export_chapter_figures
    from superposition_lib.store import RunStore

    written = export_chapter_figures(out_dir=tmp_path / "figures", profile="smoke",
                                     store=RunStore(store))
    assert written
    for label, paths in written.items():
        suffixes = sorted(p.name.split(".", 1)[1] for p in paths)
        assert {"html", "svg", "png", "vl.json", "csv"} <= set(suffixes), label
        assert all(p.stat().st_size > 0 for p in paths)
        html = next(p for p in paths if p.suffix == ".html")
        assert "cdn.jsdelivr" not in html.read_text(encoding="utf-8"), "needs the network"
        _assert_drawn(_chromium_dom(html, tmp_path), 1)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed "
                    "(Debian: apt-get install -y chromium)")
@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_page_draws_offline_in_chromium(executed, path, tmp_path):
    """The chapter's HTML outputs on one page (as Quarto embeds them) draw every chart."""
    outputs = [h for c in executed[path.stem].cells for h in html_outputs(c)]
    n_charts = sum(len(SPEC.findall(h)) for h in outputs)
    page = tmp_path / f"{path.stem}.html"
    page.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
                    + "\n".join(outputs) + "</body></html>", encoding="utf-8")
    _assert_drawn(_chromium_dom(page, tmp_path), n_charts)
