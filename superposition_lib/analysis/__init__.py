"""The analyses: what trained weights say, as arrays and tidy frames.

- :mod:`~superposition_lib.analysis.geometry`: feature arrangements (digons, triangles, …);
- :mod:`~superposition_lib.analysis.theory` and :mod:`~superposition_lib.analysis.pair_theory`:
  the closed-form losses of candidate arrangements;
- :mod:`~superposition_lib.analysis.pca`: principal components against what a model learns;
- :mod:`~superposition_lib.analysis.dynamics`: feature dimensionality over training;
- :mod:`~superposition_lib.analysis.neurons`: neurons of models with a privileged basis;
- :mod:`~superposition_lib.analysis.adversarial`: attacks on trained models;
- :mod:`~superposition_lib.analysis.stats`: intervals over seeds.

They import the core (:mod:`superposition_lib.core`) and nothing above it
(``tests/test_layers.py`` checks it).
"""
