"""Charts drawn without network: the offline renderer of chapter pages and its Vega bundle."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

import altair as alt

from ..core.files import write_text_atomic
from .theme import FIGURE_STYLE, THEME

__all__ = ["BUNDLE", "BUNDLE_SRC", "RENDERER", "raw_html", "renderer", "setup", "write_bundle"]

#: Name of the registered offline renderer.
RENDERER = "superposition_offline"
#: File name of the Vega JavaScript bundle (vega, vega-lite and vega-embed) written by
#: :func:`write_bundle` into the root of the figure downloads.
BUNDLE = "vega-bundle.js"
#: Where a chapter page loads the bundle from, relative to the page: the book's pages live in
#: ``chapters/`` and its downloads in ``chapters/figures/`` (Quarto's pre-render step).
BUNDLE_SRC = f"figures/{BUNDLE}"

_bundle_done = False


def renderer(spec: dict, **metadata) -> dict:
    """Altair renderer emitting a ``div`` and a ``vegaEmbed`` call, with no network.

    The first chart of a kernel (a page) also loads the Vega JavaScript bundle from
    :data:`BUNDLE_SRC` (see :func:`write_bundle`), which defines ``vegaEmbed``; later charts
    reuse it. The HTML comes as a Pandoc raw HTML block inside a ``text/markdown`` output:
    Quarto adds require.js and jQuery from CDNs to every page with a ``text/html`` output
    (for Jupyter widgets), which a page of this book neither needs nor may load offline.

    Parameters
    ----------
    spec : dict
        A Vega-Lite specification.
    **metadata
        Renderer options passed by Altair (unused).

    Returns
    -------
    dict
        A MIME bundle with one ``text/markdown`` entry (see :func:`raw_html`).

    Examples
    --------
    >>> out = renderer({"mark": "point"})["text/markdown"]
    >>> out.startswith("```{=html}") and "vegaEmbed(" in out and out.count("<div id=") == 1
    True
    """
    global _bundle_done
    div = f"vis-{uuid.uuid4().hex[:12]}"
    parts = []
    if not _bundle_done:
        parts.append(f'<script type="text/javascript" src="{BUNDLE_SRC}"></script>')
        _bundle_done = True
    payload = json.dumps(spec).replace("</", "<\\/")
    parts.append(f'<div id="{div}" class="superposition-figure" style="{FIGURE_STYLE}"></div>')
    parts.append(
        '<script type="text/javascript">(function(){'
        f'var el=document.getElementById("{div}");\n'
        f'var spec={payload};\n'
        'function draw(){window.vegaEmbed(el,spec,{"renderer":"svg","actions":{"export":true,'
        '"source":false,"compiled":false,"editor":false}}).catch(function(e){'
        'el.textContent="Chart error: "+e;console.error(e);});}'
        'if(window.vegaEmbed){draw();}else{window.addEventListener("load",draw);}'
        '})();</script>')
    return {"text/markdown": raw_html("\n".join(parts))}


def raw_html(html: str) -> str:
    """``html`` as a Pandoc raw HTML block, fenced by more backticks than it holds in a row.

    Parameters
    ----------
    html : str
        The HTML to pass through Pandoc untouched.

    Returns
    -------
    str
        The fenced block, ready for a ``text/markdown`` output.

    Examples
    --------
    >>> print(raw_html("<b>x</b>"))
    ```{=html}
    <b>x</b>
    ```
    >>> raw_html("<pre>````</pre>").startswith("`````{=html}")
    True
    """
    longest = max((len(run) for run in re.findall(r"`+", html)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{{=html}}\n{html}\n{fence}"


alt.renderers.register(RENDERER, renderer)


def setup(*, bundle: bool = True) -> None:
    """Enable the house theme and the offline renderer; call once at the top of a chapter.

    Parameters
    ----------
    bundle : bool
        Whether the next chart should load the Vega JavaScript bundle (True: a new page).

    Examples
    --------
    >>> setup()
    >>> alt.renderers.active == RENDERER and alt.theme.active == THEME
    True
    """
    global _bundle_done
    alt.theme.enable(THEME)
    alt.renderers.enable(RENDERER)
    _bundle_done = not bundle


def write_bundle(out_dir: str | os.PathLike) -> Path:
    """Write the Vega JavaScript bundle that chapter pages load (:data:`BUNDLE`).

    Parameters
    ----------
    out_dir : path
        Directory to write into (created if needed); the site's ``chapters/figures/``.

    Returns
    -------
    Path
        ``out_dir / BUNDLE``; rewritten only when its content changed.

    Examples
    --------
    >>> import tempfile
    >>> path = write_bundle(tempfile.mkdtemp())
    >>> path.name, "vegaEmbed" in path.read_text(encoding="utf-8")
    ('vega-bundle.js', True)
    """
    import vl_convert as vlc

    path = Path(out_dir) / BUNDLE
    text = vlc.javascript_bundle()
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_text_atomic(path, text)
    return path
