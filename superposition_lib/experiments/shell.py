"""Experiments without a chapter: runs to try from a shell.

They sit in the same registry as the chapters' experiments, under the pseudo-chapter
:data:`~superposition_lib.experiments.registry.SHELL`, so that one namespace names every run:
``superposition train NAME`` takes any of them, ``superposition list`` shows them first, and
``superposition run`` (which trains into the book's store) refuses them. Their ``paper``
profiles are the paper's settings (AdamW, learning rate 1e-3, batch 1024, 10,000 steps unless
stated), one model per density; their ``smoke`` profiles train in seconds.

========================  =======================================================================
``intro``                 The introduction's sweep: n = 5 features in m = 2 dimensions (ReLU
                          output), importance 0.9^i, ten densities 1 − S = 20^−t for t in
                          [0, 1] (the notebook's). ``intro-linear`` (chapter ``toy-model``) is the
                          same with the linear model.
``basic``                 Section 2's basic results: n = 20, m = 5, importance 0.7^i, densities
                          1 − S ∈ {1, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001}. ``basic-linear``
                          (chapter ``toy-model``) is the same with the linear model.
``uniform``               Uniform superposition: n = 400, m = 30, importance 1, twenty densities
                          with 1/(1 − S) log-spaced from 1 to
                          :data:`UNIFORM_MAX_INVERSE_DENSITY`.
========================  =======================================================================

Examples
--------
>>> from superposition_lib import experiments
>>> spec = experiments.get("intro").spec("paper")
>>> spec.n_features, spec.n_hidden, spec.n_instances, experiments.get("intro").chapter
(5, 2, 10, 'shell')
"""

from __future__ import annotations

import numpy as np

from ..core.config import ExperimentSpec
from .registry import SHELL, Experiment, register
from .toy_model import BASIC_DENSITIES, INTRO_DENSITIES, _profiles

__all__ = ["UNIFORM_MAX_INVERSE_DENSITY"]

#: Largest 1/(1 − S) of ``uniform`` (its densities are log-spaced from 1 down to the reciprocal).
UNIFORM_MAX_INVERSE_DENSITY = 10.0


def _uniform_profiles() -> dict:
    inverse_density = np.geomspace(1.0, UNIFORM_MAX_INVERSE_DENSITY, 20)
    paper = ExperimentSpec(model="relu_output", n_features=400, n_hidden=30,
                           feature_probability=tuple(float(p) for p in 1.0 / inverse_density),
                           importance=1.0, steps=10_000, batch_size=1024)
    return {"paper": paper,
            "smoke": paper.replace(steps=300, batch_size=128, lr=1e-2, history_every=None)}


register(Experiment(
    "intro", SHELL,
    "Intro: 5 features in 2 dims (ReLU output), importance 0.9^i, 10 densities 20^-t",
    _profiles("relu_output", 5, 2, 0.9, INTRO_DENSITIES, 1), best_of=False))
register(Experiment(
    "basic", SHELL,
    "Basic results: 20 features in 5 dims (ReLU output), importance 0.7^i, S from 0 to 0.999",
    _profiles("relu_output", 20, 5, 0.7, BASIC_DENSITIES, 1), best_of=False))
register(Experiment(
    "uniform", SHELL,
    "Uniform superposition: 400 features in 30 dims, importance 1, 20 densities "
    "(slow: 10-30 min on 2 CPU cores)",
    _uniform_profiles(), best_of=False))
