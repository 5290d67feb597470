"""The rendered site: the API reference joins Quarto's search and sitemap.

Quarto renders the book into its output directory (``_book/``) with a search index
(``search.json``) and a sitemap (``sitemap.xml``) of the book's own pages; the post-render step
then builds the Sphinx API reference into ``_book/api/``, which neither knows about.
:func:`add_reference` adds one search entry and one sitemap URL per page of the reference, so the
site's search box finds ``feature_dimensionality`` as it finds a chapter. It is what
``superposition site add-reference`` runs, the post-render step's second command. Running it
again replaces the reference's entries instead of adding them twice.

Examples
--------
>>> page_entry('<article><h1>metrics</h1><p>Norms.</p></article>', "api/m.html")["title"]
'metrics'
"""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from xml.sax.saxutils import escape

from ..core.files import write_text_atomic

__all__ = ["REFERENCE_DIR", "SKIPPED", "TEXT_LIMIT", "add_reference", "page_entry"]

#: Folder of the site that holds the API reference (the post-render step builds it there).
REFERENCE_DIR = "api"
#: Pages and folders at the top of the reference left out of search and sitemap: Sphinx's own
#: index, search page and module list, highlighted sources and static files.
SKIPPED = ("genindex.html", "search.html", "py-modindex.html", "_modules/", "_sources/",
           "_static/", "_images/")
#: Characters of a page's text kept in its search entry (Quarto's entries are sections, of a
#: few hundred to a few thousand characters).
TEXT_LIMIT = 3000

_BLOCKS = {"p", "div", "li", "dt", "dd", "tr", "h1", "h2", "h3", "h4", "pre", "section", "table"}


class _ArticleText(HTMLParser):
    """The text of a page's ``<article>`` (Sphinx's main content), without heading anchors."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.skip = 0
        self.parts: list[str] = []
        self.title: list[str] = []
        self.in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "article":
            self.depth += 1
        elif self.depth and (tag in ("script", "style")
                             or "headerlink" in (attrs.get("class") or "").split()):
            self.skip += 1
        if self.depth and tag == "h1" and not self.title:
            self.in_title = True
        if self.depth and tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag == "article":
            self.depth = max(0, self.depth - 1)
        elif self.skip and tag in ("script", "style", "a"):
            self.skip -= 1
        if tag == "h1":
            self.in_title = False

    def handle_data(self, data):
        if self.depth and not self.skip:
            self.parts.append(data)
            if self.in_title:
                self.title.append(data)


def page_entry(html: str, href: str) -> dict:
    """The search entry of one reference page, in the fields of Quarto's ``search.json``.

    Parameters
    ----------
    html : str
        The page as Sphinx wrote it.
    href : str
        Its path from the site's root, e.g.
        ``api/api/generated/superposition_lib.core.metrics.html``.

    Returns
    -------
    dict
        ``objectID`` and ``href`` (both ``href``), ``title`` (the page's first heading),
        ``section`` (empty: the page is one entry), ``text`` (its main content, at most
        :data:`TEXT_LIMIT` characters, blank lines collapsed) and ``crumbs``
        (``["API reference", title]``).

    Examples
    --------
    >>> entry = page_entry('<html><body><nav>menu</nav><article class="bd-article">'
    ...                    '<h1>metrics<a class="headerlink" href="#m">#</a></h1>'
    ...                    '<p>Feature norms.</p></article></body></html>', "api/metrics.html")
    >>> entry["title"], entry["text"], entry["crumbs"]
    ('metrics', 'metrics\\nFeature norms.', ['API reference', 'metrics'])
    """
    parser = _ArticleText()
    parser.feed(html)
    parser.close()
    text = re.sub(r"[ \t]+", " ", "".join(parser.parts))
    text = re.sub(r"\s*\n\s*", "\n", text).strip()
    title = "".join(parser.title).strip() or Path(href).stem
    return {"objectID": href, "href": href, "title": title, "section": "",
            "text": text[:TEXT_LIMIT], "crumbs": ["API reference", title]}


def _site_url(sitemap: str) -> str:
    """The site's URL, from the sitemap's first ``<loc>`` (Quarto writes the book's index first)."""
    found = re.search(r"<loc>([^<]*)</loc>", sitemap)
    if not found:
        raise ValueError("sitemap.xml: no <loc> entry to read the site's URL from")
    return found.group(1).rsplit("/", 1)[0] + "/"


def add_reference(site_dir: str | os.PathLike, reference: str = REFERENCE_DIR) -> int:
    """Add every page of the API reference to the site's search index and sitemap.

    Parameters
    ----------
    site_dir : path
        The rendered site (Quarto's output directory), holding ``search.json``, ``sitemap.xml``
        (when ``site-url`` is set) and the reference's folder.
    reference : str
        The reference's folder inside ``site_dir``.

    Returns
    -------
    int
        The number of reference pages added.

    Raises
    ------
    FileNotFoundError
        If ``site_dir`` has no ``search.json`` (not a rendered Quarto site) or no ``reference``
        folder (the reference was not built into it).

    Examples
    --------
    >>> import json, tempfile
    >>> site = Path(tempfile.mkdtemp())
    >>> _ = (site / "search.json").write_text("[]")
    >>> (site / "api").mkdir()
    >>> _ = (site / "api" / "index.html").write_text("<article><h1>Reference</h1></article>")
    >>> add_reference(site), json.loads((site / "search.json").read_text())[0]["href"]
    (1, 'api/index.html')
    """
    site = Path(site_dir)
    index_path = site / "search.json"
    if not index_path.is_file():
        raise FileNotFoundError(f"site_dir: {site} has no search.json; render the book first")
    if not (site / reference).is_dir():
        raise FileNotFoundError(f"reference: {site / reference} does not exist; build the API "
                                f"reference into the site first (the post-render step)")
    prefix = f"{reference}/"
    pages = sorted(p.relative_to(site).as_posix() for p in (site / reference).rglob("*.html"))
    pages = [p for p in pages if not p.removeprefix(prefix).startswith(SKIPPED)]
    entries = [e for e in json.loads(index_path.read_text(encoding="utf-8"))
               if not e.get("href", "").startswith(prefix)]
    entries += [page_entry((site / p).read_text(encoding="utf-8"), p) for p in pages]
    write_text_atomic(index_path, json.dumps(entries, ensure_ascii=False, indent=1))

    sitemap_path = site / "sitemap.xml"
    if sitemap_path.is_file():
        sitemap = sitemap_path.read_text(encoding="utf-8")
        base = _site_url(sitemap)
        sitemap = re.sub(rf"\s*<url>\s*<loc>{re.escape(base + prefix)}[^<]*</loc>.*?</url>", "",
                         sitemap, flags=re.DOTALL)
        urls = "".join(f"\n  <url>\n    <loc>{escape(base + p)}</loc>\n  </url>" for p in pages)
        write_text_atomic(sitemap_path, sitemap.replace("</urlset>", urls + "\n</urlset>", 1))
    return len(pages)
