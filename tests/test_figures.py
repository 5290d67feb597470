"""Figure builders on small hand-made frames, the offline renderer and export."""

from __future__ import annotations

import json

import altair as alt
import numpy as np
import pandas as pd
import pytest

from superposition_lib import figures
from superposition_lib.figures import downloads

vlc = pytest.importorskip("vl_convert")


def _features(models=("linear", "ReLU"), densities=(1.0, 0.1), n=5, m=2):
    rng = np.random.default_rng(0)
    rows = []
    for model in models:
        for k, d in enumerate(densities):
            W = rng.normal(size=(m, n))
            for i in range(n):
                row = {"model": model, "instance": k, "density": d, "feature": i,
                       "importance": 0.9 ** i, "norm": float(np.linalg.norm(W[:, i])),
                       "superposition": float(rng.random()), "dimensionality": 0.5,
                       "bias": float(rng.normal()), "represented": True}
                row.update({f"w{j}": W[j, i] for j in range(m)})
                rows.append(row)
    return pd.DataFrame(rows)


def _gram(features):
    """WᵀW in long form from the w0, w1, ... columns of a feature frame."""
    frames = []
    wcols = [c for c in features.columns if c.startswith("w") and c[1:].isdigit()]
    for (model, inst), g in features.groupby(["model", "instance"], sort=False):
        W = g.sort_values("feature")[wcols].to_numpy().T
        n = W.shape[1]
        frames.append(pd.DataFrame({"model": model, "instance": inst,
                                    "density": g["density"].iloc[0],
                                    "i": np.repeat(np.arange(n), n), "j": np.tile(np.arange(n), n),
                                    "value": (W.T @ W).reshape(-1)}))
    return pd.concat(frames, ignore_index=True)


def _renders(chart) -> str:
    spec = chart.to_dict(validate=True)
    svg = vlc.vegalite_to_svg(spec, vl_version=downloads._vl_version())
    assert svg.startswith("<svg") and "<path" in svg
    return svg


def test_intro_geometry_has_a_density_slider_and_renders():
    f = _features()
    chart = figures.intro_geometry(f, _gram(f))
    spec = chart.to_dict(validate=True)
    (param,) = spec["params"]
    assert param["bind"]["input"] == "range" and param["bind"]["max"] == 1
    text = json.dumps(spec)
    assert "tooltip" in text and "density_step" in text
    _renders(chart)


def test_basic_results_shows_linear_once_and_every_relu_density():
    f = _features(n=20, m=5, densities=(1.0, 0.3, 0.01))
    chart = figures.basic_results(f, _gram(f))
    spec = chart.to_dict(validate=True)
    assert len(spec["vconcat"]) == 3
    panels = {v["panel"] for v in spec["datasets"][next(iter(spec["datasets"]))]
              if "panel" in v}
    assert sum(p.startswith("linear") for p in panels) == 1
    assert sum(p.startswith("ReLU") for p in panels) == 3
    _renders(chart)


def test_renderer_loads_the_bundle_once_per_page():
    figures.setup()
    chart = alt.Chart(pd.DataFrame({"x": [1, 2]})).mark_point().encode(x="x:Q")
    first = chart._repr_mimebundle_()
    first = first[0] if isinstance(first, tuple) else first
    second = chart._repr_mimebundle_()
    second = second[0] if isinstance(second, tuple) else second
    loads = f'<script type="text/javascript" src="{figures.BUNDLE_SRC}"></script>'
    assert loads in first["text/markdown"] and "window.vegaEmbed=" not in first["text/markdown"]
    assert loads not in second["text/markdown"]
    assert "vegaEmbed(el,spec" in second["text/markdown"]
    assert f'style="{figures.FIGURE_STYLE}"' in second["text/markdown"]
    assert "cdn.jsdelivr" not in first["text/markdown"] + second["text/markdown"]
    # a text/html output makes Quarto load require.js and jQuery from CDNs on the page
    assert set(first) == set(second) == {"text/markdown"}
    figures.setup()  # a new page gets the bundle again
    third = chart._repr_mimebundle_()
    third = third[0] if isinstance(third, tuple) else third
    assert loads in third["text/markdown"]


def test_theme_is_registered():
    assert figures.THEME in alt.theme.names()


def test_export_writes_every_format(tmp_path):
    f = _features()
    chart = figures.intro_geometry(f, _gram(f))
    paths = figures.export(chart, {"features": f}, "fig-test", tmp_path)
    names = {p.name for p in paths}
    assert names == {"fig-test.html", "fig-test.svg", "fig-test.png", "fig-test.vl.json",
                     "fig-test-features.csv"}
    assert (tmp_path / "fig-test.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "fig-test.vl.json").read_text())["params"]
    html = (tmp_path / "fig-test.html").read_text()
    assert "cdn.jsdelivr" not in html and "vegaEmbed" in html
    back = pd.read_csv(tmp_path / "fig-test-features.csv")
    assert len(back) == len(f)


def test_export_static_companion_replaces_svg_and_png(tmp_path):
    f = _features()
    chart = figures.intro_geometry(f, _gram(f))
    figures.export(chart, f, "fig-s", tmp_path,
                   static=figures.intro_geometry_static(f, _gram(f)))
    svg = (tmp_path / "fig-s.svg").read_text()
    assert "1.000" in svg and "0.100" in svg  # both densities side by side
    assert "WᵀW" in svg                        # with the Gram row the caption describes
    assert json.loads((tmp_path / "fig-s.vl.json").read_text())["params"]  # spec stays live
