"""The real site: the book rendered by the Quarto CLI, where it is on PATH.

The render takes about nine minutes on two cores, so its tests are marked ``site`` and left out
of the default run (``addopts`` in ``pyproject.toml``); ``python -m pytest -q -m site`` runs
them, as ``.ci/run`` does after the default run.

``test_book.py`` executes the chapters in a harness that behaves like Quarto; this module renders
a clean copy of the repository (its tracked and unignored files, as a fresh clone has them) with
``quarto render`` under the ``paper`` profile, in the environment running the tests, and checks
what a reader gets: the render's own output, the built pages (values, not reprs; links; nothing
loaded from another host) and, in headless Chromium with no network, every page drawing its
charts and equations with no console error, legible chart text, table code that does not wrap
and no sideways scrolling on a phone. Without the CLI these tests are skipped, with one line
saying so. The site's helpers (search index, citation) are tested here on small inputs too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from html_pages import (
    CHROMIUM,
    NO_CHROMIUM,
    RENDER_SECONDS,
    REPR,
    body_json,
    chromium_dom,
    links,
    remote_loads,
)

from superposition_lib import cli
from superposition_lib.book import citation, site

ROOT = Path(__file__).resolve().parent.parent
QUARTO = shutil.which("quarto")
NO_QUARTO = ("the Quarto CLI is not on PATH, so the book is not rendered and the real site is not "
             "checked (build it from the quarto-cli sources; DEVELOPERS.md says how)")
#: The only WARNING a good render prints: Jupyter's kernel talks over local TCP.
ALLOWED_WARNING = "Kernel is running over TCP without encryption"
#: A phone's column; headless Chromium's window is at least 500 px, which is what it gets.
PHONE = 500


# -- Helpers of the site, on small inputs -------------------------------------------------------
def _tiny_site(tmp_path: Path) -> Path:
    out = tmp_path / "_book"
    (out / "api" / "generated").mkdir(parents=True)
    (out / "search.json").write_text(json.dumps([{"objectID": "index.html", "href": "index.html",
                                                  "title": "Book", "section": "", "text": "x"}]))
    (out / "sitemap.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<urlset>\n  <url>\n'
        "    <loc>https://example.org/book/index.html</loc>\n  </url>\n</urlset>\n")
    page = ('<html><head><title>t</title></head><body><nav>menu</nav><article class="bd-article">'
            '<h1>{name}<a class="headerlink" href="#x">#</a></h1><p>{text}</p>'
            "<script>var x = 1;</script></article></body></html>")
    (out / "api" / "index.html").write_text(page.format(name="Reference", text="All of it."))
    (out / "api" / "generated" / "m.f.html").write_text(page.format(name="f", text="Does f."))
    # a module named like Sphinx's search page is still a page of the reference
    (out / "api" / "generated" / "m.search.html").write_text(page.format(name="search", text="."))
    (out / "api" / "genindex.html").write_text(page.format(name="Index", text="skip me"))
    (out / "api" / "_modules").mkdir()
    (out / "api" / "_modules" / "m.html").write_text(page.format(name="m", text="source"))
    return out


def test_add_reference_indexes_every_reference_page_once(tmp_path):
    out = _tiny_site(tmp_path)
    assert site.add_reference(out) == 3
    assert site.add_reference(out) == 3  # a second run replaces, never duplicates
    entries = json.loads((out / "search.json").read_text())
    assert [e["href"] for e in entries] == ["index.html", "api/generated/m.f.html",
                                            "api/generated/m.search.html", "api/index.html"]
    f = entries[1]
    assert f["title"] == "f" and f["text"] == "f\nDoes f." and f["crumbs"] == ["API reference", "f"]
    sitemap = (out / "sitemap.xml").read_text()
    assert sitemap.count("<url>") == 4 and sitemap.rstrip().endswith("</urlset>")
    assert "<loc>https://example.org/book/api/generated/m.f.html</loc>" in sitemap
    assert "genindex" not in sitemap and "_modules" not in sitemap


def test_add_reference_names_what_is_missing(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="search.json"):
        site.add_reference(tmp_path)
    (tmp_path / "search.json").write_text("[]")
    with pytest.raises(FileNotFoundError, match="reference"):
        site.add_reference(tmp_path)
    assert cli.main(["site", "add-reference", "--site", str(tmp_path)]) != 0
    assert "build the API reference" in capsys.readouterr().err


def test_the_bibtex_entry_is_made_from_citation_cff():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    entry = citation.bibtex(cff)
    assert entry.startswith("@software{superposition,\n") and entry.endswith("\n}")
    for field in ("title", "version", "url", "repository-code", "license"):
        assert f"{{{cff[field]}}}" in entry, field
    assert "{{The superposition contributors}}" in entry
    with pytest.raises(ValueError, match="'authors'"):
        citation.bibtex({"title": "x"})


# -- The real render -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rendered(tmp_path_factory, pytestconfig):
    """A clean copy of the repository rendered by ``quarto render``: (copy, its output)."""
    if QUARTO is None:
        pytest.skip(NO_QUARTO)
    copy = tmp_path_factory.mktemp("site") / "book"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=copy, check=True)
    subprocess.run(["git", "add", "-A"], cwd=copy, check=True)
    subprocess.run([*git, "commit", "-qm", "clean copy"], cwd=copy, check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERPOSITION_")}
    # the environment of these tests renders the book: its python, its Jupyter kernel
    env.update(SUPERPOSITION_PROFILE="paper", QUARTO_PYTHON=sys.executable,
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    start = time.monotonic()
    result = subprocess.run([QUARTO, "render"], cwd=copy, env=env, capture_output=True,
                            text=True, timeout=3600)
    pytestconfig.stash[RENDER_SECONDS] = time.monotonic() - start
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"quarto render failed:\n{output[-5000:]}"
    return copy, output


@pytest.fixture(scope="module")
def book(rendered):
    copy, _ = rendered
    config = yaml.safe_load((copy / "_quarto.yml").read_text(encoding="utf-8"))
    return copy / config["project"]["output-dir"]


def _pages(book: Path) -> list[Path]:
    """The book's own pages (not the API reference, not the figure downloads)."""
    return sorted([book / "index.html", *(book / "chapters").glob("*.html")])


@pytest.mark.site
def test_render_prints_no_warning_or_error(rendered):
    _, output = rendered
    bad = [line for line in output.splitlines()
           if re.search(r"\b(WARN(ING)?|ERROR)\b", line) and ALLOWED_WARNING not in line]
    assert not bad, "the render printed:\n" + "\n".join(bad[:20])


@pytest.mark.site
def test_render_leaves_the_tree_clean(rendered):
    copy, _ = rendered
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=copy,
                            check=True, capture_output=True, text=True).stdout
    assert status == "", f"the render changed or left files git sees:\n{status[:2000]}"


@pytest.mark.site
def test_every_chapter_is_a_page(book):
    config = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))
    for source in config["book"]["chapters"]:
        assert (book / Path(source).with_suffix(".html")).is_file(), source


@pytest.mark.site
def test_prose_shows_values_not_reprs(book):
    for page in _pages(book):
        main = re.search(r"<main.*?</main>", page.read_text(encoding="utf-8"), re.DOTALL).group(0)
        # the prose, not the folded code that made it
        prose = re.sub(r"<(script|pre|code)\b.*?</\1>", "", main, flags=re.DOTALL)
        text = re.sub(r"<[^>]+>", "", prose)
        found = REPR.search(text)
        assert not found, (f"{page.name}: a repr in the text: "
                           f"{text[max(0, found.start() - 80):found.end() + 40]!r}")


@pytest.mark.site
def test_nothing_is_loaded_from_another_host(book):
    """Scripts, stylesheets and fonts come from the site: a page read offline loses nothing
    (the API reference's pages included)."""
    for page in [*_pages(book), *(book / "api").rglob("*.html")]:
        remote = remote_loads(page.read_text(encoding="utf-8"))
        assert not remote, f"{page.relative_to(book)} loads {remote}"
    for css in (book / "site_libs").rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        assert not re.search(r"@import\s+url\(\s*['\"]?(?:https?:)?//", text), css.name
        assert "fonts.googleapis" not in text, css.name


@pytest.mark.site
def test_every_local_link_resolves(book):
    checked = 0
    for page in [*_pages(book), book / "api" / "index.html"]:
        for target in links(page.read_text(encoding="utf-8")):
            target = target.split("#")[0].split("?")[0]
            if not target or re.match(r"^[a-z][a-z0-9+.-]*:|^//", target):
                continue
            checked += 1
            assert (page.parent / target).resolve().exists(), f"{page.name} links {target}"
    assert checked > 100


@pytest.mark.site
def test_the_api_reference_is_in_the_navbar_sidebar_search_and_sitemap(book):
    index = (book / "index.html").read_text(encoding="utf-8")
    navbar = re.search(r'<nav class="navbar.*?</nav>', index, re.DOTALL).group(0)
    sidebar = re.search(r'<nav id="quarto-sidebar".*?</nav>', index, re.DOTALL).group(0)
    for where, html in (("navbar", navbar), ("sidebar", sidebar)):
        assert "api/index.html" in {os.path.normpath(link) for link in links(html)}, (
            f"the {where} does not link the API reference")
    entries = json.loads((book / "search.json").read_text(encoding="utf-8"))
    hrefs = {e["href"] for e in entries}
    assert "api/api/generated/superposition_lib.core.metrics.feature_dimensionality.html" in hrefs
    assert any(h.startswith("chapters/") for h in hrefs)
    sitemap = (book / "sitemap.xml").read_text(encoding="utf-8")
    assert "/api/index.html</loc>" in sitemap


@pytest.mark.site
def test_the_book_can_be_cited(book):
    index = (book / "index.html").read_text(encoding="utf-8")
    meta = dict(re.findall(r'<meta name="(citation_\w+)" content="([^"]*)"', index))
    config = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))["book"]
    assert meta.get("citation_title") == config["title"]
    assert meta.get("citation_author") == config["author"]
    assert meta.get("citation_fulltext_html_url") == config["site-url"]
    assert "@software{superposition," in index, "no BibTeX entry on the preface"
    assert "CITATION.cff" in {os.path.normpath(link) for link in links(index)}
    assert (book / "CITATION.cff").is_file()
    chapter = (book / "chapters" / "toy-model.html").read_text(encoding="utf-8")
    assert "citation_title" not in chapter, "chapter pages get a garbled citation_title"


def _load(page: Path, tmp_path: Path, width: int) -> str:
    return chromium_dom(page, tmp_path / f"chromium-{page.parent.name}-{page.stem}-{width}",
                        width)


@pytest.mark.site
@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_pages_draw_offline_and_read_well_in_chromium(book, tmp_path):
    """Every page at 1,400 px: no console error or warning, every chart drawn, its axis labels
    apart and no title or label cut short, equations drawn as MathML, table code on one line;
    and on a phone's width no page scrolls sideways (charts and equations scroll in their box)."""
    pages = _pages(book)
    jobs = [(page, width) for page in pages for width in (1400, PHONE)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        doms = list(pool.map(lambda job: _load(job[0], tmp_path, job[1]), jobs))
    problems = []
    for (page, width), dom in zip(jobs, doms):
        name = f"{page.name} at {width} px"
        errors = body_json(dom, "errors")
        if errors:
            problems.append(f"{name}: the console reported {errors[:3]}")
        counts = body_json(dom, "counts")
        source = ROOT / ("index.qmd" if page.stem == "index" else f"chapters/{page.stem}.qmd")
        text = source.read_text(encoding="utf-8")
        n_figures = len(re.findall(r"^#\| label: fig-", text, re.MULTILINE))
        if counts["charts"] < n_figures:
            problems.append(f"{name}: {counts['charts']} charts drawn of {n_figures}")
        if "$" in text.replace("\\$", "") and not counts["math"]:
            problems.append(f"{name}: no equation drawn as MathML")
        if width == PHONE:
            if body_json(dom, "page-width") > PHONE:
                problems.append(f"{name}: the page scrolls sideways "
                                f"({body_json(dom, 'page-width')} px)")
            continue
        if counts["wrapping_code"]:
            problems.append(f"{name}: {counts['wrapping_code']} of {counts['table_code']} code "
                            "spans in tables may wrap")
        problems += [f"{name}: {issue}" for issue in body_json(dom, "text")]
    assert not problems, "\n".join(problems)
