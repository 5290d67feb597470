"""Reading built HTML pages in tests, shared by the harness (``test_book.py``), the API
reference (``test_docs.py``) and the real Quarto site (``test_site.py``):

- :func:`links`: the links of real elements, never of text that merely looks like an attribute
  (highlighted source code holds ``src="…"`` as text, split over Pygments' spans in ways that
  change between Pygments releases);
- :func:`remote_loads`: what a page would fetch from another host;
- :data:`REPR`: a value's repr where a reader expects the value;
- :func:`chromium_dom` and :func:`body_json`: a page loaded in headless Chromium with a probe
  that reports console errors, chart sizes, unreadable chart text, math and table code.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest


class _Links(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.found += [value for name, value in attrs if name in ("href", "src") and value]


def links(html: str) -> list[str]:
    """Every ``href`` and ``src`` attribute of the page's elements, in document order.

    >>> links('<a href="a.html">x</a><pre><span>src=</span>"b.js"</pre><img src="c.png">')
    ['a.html', 'c.png']
    """
    parser = _Links()
    parser.feed(html)
    parser.close()
    return parser.found


#: Where ``test_site.py`` leaves the seconds its ``quarto render`` took, for the run's summary.
RENDER_SECONDS = pytest.StashKey[float]()


def remote_loads(html: str) -> list[str]:
    """The scripts, stylesheets and preloads a page fetches from another host (a page read
    offline would lose them).

    >>> remote_loads('<script src="https://cdn.x/a.js"></script><script src="site_libs/b.js">'
    ...              '<link rel="stylesheet" href="//fonts.x/c.css"><a href="https://x.org">')
    ['<script src="https://cdn.x/a.js"', '<link rel="stylesheet" href="//fonts.x/c.css">']
    """
    found = re.findall(r'<script[^>]*\ssrc="(?:https?:)?//[^"]*"', html)
    return found + [tag for tag in re.findall(r"<link\b[^>]*>", html)
                    if re.search(r'rel="(?:stylesheet|preload|modulepreload)"', tag)
                    and re.search(r'href="(?:https?:)?//', tag)]


# -- What a reader sees in the text --------------------------------------------------------------

#: What a value's repr looks like in prose: numpy scalars and arrays, ``<...>`` reprs of objects,
#: and a long string that IPython's pretty printer split into a parenthesised concatenation
#: (Quarto prints an inline value's ``text/plain`` repr, quotes and all).
REPR = re.compile(r"\bnp\.(?:int|uint|float|bool|str)\w*\(|\barray\(|<[\w.]+ object at 0x"
                  r"|<(?:function|bound method|module|class) |\(\s*(?:'[^']*'|\"[^\"]*\")\s+['\"]")


# -- Pages in headless Chromium ------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = ("headless Chromium is not installed, so the browser tests of the book are "
               "skipped (Debian: apt-get install -y chromium; .ci/run installs it)")

#: Script put first into a page's ``<head>``: after the page loaded and its charts drew, the body
#: carries its findings as JSON in ``data-`` attributes:
#:
#: - ``errors``: console errors and warnings, uncaught exceptions;
#: - ``figures``: [column, box width, chart width] of every chart, the column read from the nearest
#:   ``data-column`` ancestor;
#: - ``page-width``: the page's scroll width (wider than the window when something overflows);
#: - ``text``: chart text a reader cannot read: axis labels that overlap one another, and titles
#:   and labels cut short with an ellipsis;
#: - ``counts``: the numbers of drawn charts, MathML elements and table code spans, and how many
#:   of those wrap.
PROBE = """<script>window.__errors=[];
window.addEventListener('error',function(e){__errors.push(String(e.message))});
['error','warn'].forEach(function(level){var orig=console[level];
console[level]=function(){__errors.push(level+': '+Array.prototype.join.call(arguments,' '));
orig.apply(console,arguments)};});
function __overlaps(a,b){return Math.min(a.right,b.right)-Math.max(a.left,b.left)>1&&
Math.min(a.bottom,b.bottom)-Math.max(a.top,b.top)>1;}
function __name(el){var fig=el.closest('.superposition-figure');return fig?fig.id:'?';}
window.addEventListener('load',function(){setTimeout(function(){
var figs=[].map.call(document.querySelectorAll('.superposition-figure'),function(el){
var c=el.closest('[data-column]');var svg=el.querySelector('svg');
return [c?c.getAttribute('data-column'):'body',el.clientWidth,
svg?svg.getBoundingClientRect().width:0];});
var text=[];
document.querySelectorAll('.superposition-figure g.role-axis-label').forEach(function(g){
var boxes=[].map.call(g.querySelectorAll('text'),function(t){
return [t.textContent,t.getBoundingClientRect(),t.getAttribute('opacity')];}).filter(
function(b){return b[0]&&b[1].width>0&&b[2]!=='0';});
for(var i=0;i<boxes.length;i++){for(var j=i+1;j<boxes.length;j++){
if(__overlaps(boxes[i][1],boxes[j][1])){text.push(__name(g)+': axis labels "'+boxes[i][0]+
'" and "'+boxes[j][0]+'" overlap');i=boxes.length;break;}}}});
document.querySelectorAll('.superposition-figure g[class*="role-"] text').forEach(function(t){
if(/\\u2026$/.test(t.textContent)){text.push(__name(t)+': "'+t.textContent+'" is cut short');}});
var code=document.querySelectorAll('main table td code:not(.sourceCode)');
var counts={charts:document.querySelectorAll('.superposition-figure svg.marks').length,
math:document.querySelectorAll('math').length,table_code:code.length,
wrapping_code:[].filter.call(code,function(c){
return getComputedStyle(c).whiteSpace!=='nowrap';}).length};
document.body.setAttribute('data-figures',JSON.stringify(figs));
document.body.setAttribute('data-text',JSON.stringify(text));
document.body.setAttribute('data-counts',JSON.stringify(counts));
document.body.setAttribute('data-page-width',String(document.body.scrollWidth));
document.body.setAttribute('data-errors',JSON.stringify(__errors))},3000)});
</script>"""


def chromium_dom(page: Path, profile: Path, width: int = 1400) -> str:
    """Load ``page`` with :data:`PROBE` in headless Chromium (no network) at a window ``width``
    px wide, and return its DOM after scripts ran (see :func:`body_json`). A probed copy of the
    page is written beside it, so its relative links still resolve; ``profile`` is a fresh
    folder for the browser's profile."""
    text = page.read_text(encoding="utf-8")
    probed = page.with_name(f"probed-{width}-{page.name}")
    probed.write_text(text.replace("<head>", "<head>" + PROBE, 1) if "<head>" in text
                      else PROBE + text, encoding="utf-8")
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update",
         "--no-first-run", f"--user-data-dir={profile}", "--virtual-time-budget=15000",
         "--hide-scrollbars", f"--window-size={width},900", "--dump-dom", probed.as_uri()],
        check=False, capture_output=True, text=True, timeout=180)
    probed.unlink()
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def body_json(dom: str, attribute: str):
    """The JSON the probe left in the body's ``data-<attribute>``."""
    found = re.search(rf'data-{attribute}="([^"]*)"', dom)
    assert found, "the page never finished loading"
    return json.loads(html.unescape(found.group(1)))
