"""Named, ready-to-train experiment specs for the ``superposition`` command line.

Each :class:`Preset` pairs a short name with an
:class:`~superposition_lib.core.config.ExperimentSpec` at the paper's settings (AdamW, lr 1e-3,
batch 1024, 10,000 steps unless stated). The chapters' experiments live in
:mod:`superposition_lib.experiments`; presets are the few runs one wants to train and inspect
from a shell. The two share one namespace, which ``superposition list`` shows whole:
``superposition train NAME`` takes either, and a name that is both (``intro-linear``,
``basic-linear``) is the same spec, the experiment's ``paper`` one.

========================  =======================================================================
``intro``                 The introduction's sweep: n=5 features in m=2 dimensions, importance
                          0.9^i, ten densities 1 − S = 20^−t for t in [0, 1] (the notebook's).
``intro-linear``          The same with the linear model x' = WᵀWx + b.
``basic``                 Section 2's basic results: n=20, m=5, importance 0.7^i, sparsity
                          S ∈ {0, 0.7, 0.9, 0.97, 0.99, 0.997, 0.999}.
``basic-linear``          The same with the linear model.
``uniform``               Uniform superposition: n=400, m=30, importance 1, twenty densities with
                          1/(1 − S) log-spaced from 1 to 10.
========================  =======================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .core.config import ExperimentSpec

__all__ = ["PRESETS", "Preset", "get_preset"]


@dataclass(frozen=True)
class Preset:
    """A named experiment for the command line.

    Attributes
    ----------
    name : str
        Short name, as typed after ``superposition train``.
    description : str
        One line saying what it reproduces.
    spec : ExperimentSpec
        What to train (its ``name`` is the preset's name).

    Examples
    --------
    >>> p = get_preset("intro")
    >>> p.spec.n_features, p.spec.n_hidden, p.spec.n_instances
    (5, 2, 10)
    """

    name: str
    description: str
    spec: ExperimentSpec


def _importance(base: float, n: int) -> tuple[float, ...]:
    return tuple(float(base ** i) for i in range(n))


def _intro(model: str, name: str) -> ExperimentSpec:
    return ExperimentSpec(model=model, n_features=5, n_hidden=2,
                          feature_probability=tuple(float(p) for p in
                                                    20.0 ** -np.linspace(0, 1, 10)),
                          importance=_importance(0.9, 5), steps=10_000, batch_size=1024,
                          name=name)


def _basic(model: str, name: str) -> ExperimentSpec:
    return ExperimentSpec(model=model, n_features=20, n_hidden=5,
                          feature_probability=(1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001),
                          importance=_importance(0.7, 20), steps=10_000, batch_size=1024,
                          name=name)


#: Largest 1/(1 − S) of the ``uniform`` preset (densities are log-spaced from 1 down to its
#: reciprocal).
UNIFORM_MAX_INVERSE_DENSITY = 10.0


def _uniform() -> ExperimentSpec:
    inverse_density = np.geomspace(1.0, UNIFORM_MAX_INVERSE_DENSITY, 20)
    return ExperimentSpec(model="relu_output", n_features=400, n_hidden=30,
                          feature_probability=tuple(float(p) for p in 1.0 / inverse_density),
                          importance=1.0, steps=10_000, batch_size=1024, name="uniform")


#: Every preset by name, in the order ``superposition list`` shows them.
PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("intro", "Intro: 5 features in 2 dims (ReLU output), importance 0.9^i, 10 densities "
          "20^-t", _intro("relu_output", "intro")),
    Preset("intro-linear", "Intro with the linear model: only the 2 most important features "
          "survive", _intro("linear", "intro-linear")),
    Preset("basic", "Basic results: 20 features in 5 dims (ReLU output), importance 0.7^i, "
          "S from 0 to 0.999", _basic("relu_output", "basic")),
    Preset("basic-linear", "Basic results with the linear model", _basic("linear", "basic-linear")),
    Preset("uniform", "Uniform superposition: 400 features in 30 dims, importance 1, 20 "
          "densities (slow: 10-30 min on 2 CPU cores)", _uniform()),
)}


def get_preset(name: str) -> Preset:
    """The preset called ``name``.

    Parameters
    ----------
    name : str
        One of ``PRESETS``.

    Returns
    -------
    Preset

    Raises
    ------
    ValueError
        If there is no such preset; the message lists the allowed names.

    Examples
    --------
    >>> get_preset("basic").spec.feature_probability
    (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)
    >>> get_preset("nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown preset 'nope'; allowed presets are intro, intro-linear, basic, ...
    """
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; allowed presets are "
                         f"{', '.join(PRESETS)}") from None
