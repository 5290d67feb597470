"""Altair figures of the book: one house theme, one function per figure, offline export.

Every figure function takes tidy :class:`pandas.DataFrame` objects (as produced by the
``superposition_lib.experiments`` modules) and returns an Altair chart. This package never
imports the experiments: :mod:`superposition_lib.book`, the layer above both, computes each
figure's frames and draws them. Each chapter's figures live in a submodule of the same name
(:mod:`~superposition_lib.figures.toy_model`,
:mod:`~superposition_lib.figures.uniform_geometry`,
:mod:`~superposition_lib.figures.phase_change`,
:mod:`~superposition_lib.figures.pca_vs_superposition`,
:mod:`~superposition_lib.figures.learning_dynamics`,
:mod:`~superposition_lib.figures.continuous_features`,
:mod:`~superposition_lib.figures.privileged_basis`,
:mod:`~superposition_lib.figures.adversarial`) and are re-exported here, with what they share:
the house theme (:mod:`~superposition_lib.figures.theme`), linked selections and heatmap grids
(:mod:`~superposition_lib.figures.grid`), the offline renderer
(:mod:`~superposition_lib.figures.render`) and the downloads
(:mod:`~superposition_lib.figures.downloads`). Charts need no network:

- :func:`setup` (called once at the top of every chapter) enables the house theme and a renderer
  that writes ``<div id=…></div><script>vegaEmbed(…)</script>`` and loads vl-convert's Vega
  JavaScript bundle once per page (per kernel) from :data:`BUNDLE_SRC`, a file of the site that
  :func:`superposition_lib.book.export_chapter_figures` writes, so a rendered Quarto page draws
  its charts without a CDN (the bundle is one file for all pages, not 0.9 MB inlined into each);
- :func:`export` writes a figure as standalone offline HTML, SVG, PNG, its Vega-Lite JSON and its
  data as CSV, so it can be cited and re-plotted.

Examples
--------
>>> import pandas as pd
>>> features = pd.DataFrame({"model": "ReLU", "instance": 0, "density": 1.0, "feature": [0, 1],
...                          "importance": [1.0, 0.9], "norm": [1.0, 0.0],
...                          "superposition": [0.0, 0.0], "bias": [0.0, 0.5]})
>>> gram = pd.DataFrame({"model": "ReLU", "instance": 0, "density": 1.0, "i": [0, 0, 1, 1],
...                      "j": [0, 1, 0, 1], "value": [1.0, 0.0, 0.0, 0.0]})
>>> chart = basic_results(features, gram)
>>> chart.to_dict(validate=True)["$schema"].startswith("https://vega.github.io/schema/vega-lite")
True
"""

from __future__ import annotations

# The chapters' figures.
from .adversarial import adversarial_training, vulnerability_scatter, vulnerability_sweep
from .continuous_features import ring_map, width_profile
from .downloads import chart_svg, export
from .grid import cell_heatmaps, cell_selections, metric_color, share_selections, split_cells
from .learning_dynamics import (
    jump_chart,
    jump_statistics,
    stage_explorer,
    stage_paths,
    superposition_over_training,
)
from .pca_vs_superposition import collapse_curve, direction_grid, gram_heatmaps, tradeoff_map
from .phase_change import candidate_diagram, phase_diagram
from .privileged_basis import best_of_n_heatmap, neuron_bars, neuron_bars_static, neuron_counts
from .render import BUNDLE, BUNDLE_SRC, RENDERER, raw_html, renderer, setup, write_bundle
from .theme import FIGURE_STYLE, SPACED_LEGEND, THEME, theme
from .toy_model import basic_results, intro_geometry, intro_geometry_static
from .uniform_geometry import (
    pentagon_transition,
    polytope_mix_chart,
    uniform_dimensionality,
)

__all__ = [
    "BUNDLE",
    "BUNDLE_SRC",
    "FIGURE_STYLE",
    "RENDERER",
    "SPACED_LEGEND",
    "THEME",
    "adversarial_training",
    "basic_results",
    "best_of_n_heatmap",
    "candidate_diagram",
    "cell_heatmaps",
    "cell_selections",
    "chart_svg",
    "collapse_curve",
    "direction_grid",
    "export",
    "gram_heatmaps",
    "intro_geometry",
    "intro_geometry_static",
    "jump_chart",
    "jump_statistics",
    "metric_color",
    "neuron_bars",
    "neuron_bars_static",
    "neuron_counts",
    "pentagon_transition",
    "phase_diagram",
    "polytope_mix_chart",
    "raw_html",
    "renderer",
    "ring_map",
    "setup",
    "share_selections",
    "split_cells",
    "stage_explorer",
    "stage_paths",
    "superposition_over_training",
    "theme",
    "tradeoff_map",
    "uniform_dimensionality",
    "vulnerability_scatter",
    "vulnerability_sweep",
    "width_profile",
    "write_bundle",
]
