"""What a training run follows from its spec: the learning-rate schedule, the random sources,
and the initial parameters.

The trainer (:mod:`~superposition_lib.core.train`) draws from these; analyses that need a run's
starting point or its learning rate at a step recompute them here without training.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .config import ExperimentSpec
from .models import init_params

__all__ = ["initial_params", "learning_rate", "random_sources"]


def learning_rate(spec: ExperimentSpec, step: int) -> float:
    """Learning rate used for update ``step`` under the spec's schedule.

    Parameters
    ----------
    spec : ExperimentSpec
        Gives ``lr``, ``lr_schedule``, ``steps`` and ``warmup_fraction``.
    step : int
        The update, from 1 to ``spec.steps``.

    Returns
    -------
    float

    Examples
    --------
    >>> spec = ExperimentSpec(steps=100, lr=1e-3, lr_schedule="linear")
    >>> learning_rate(spec, 1), round(learning_rate(spec, 51), 6)
    (0.001, 0.0005)
    """
    frac = (step - 1) / spec.steps
    if spec.lr_schedule == "constant":
        return spec.lr
    if spec.lr_schedule == "linear":
        return spec.lr * (1 - frac)
    if spec.lr_schedule == "cosine":
        return spec.lr * 0.5 * (1 + math.cos(math.pi * frac))
    warmup = max(1, round(spec.warmup_fraction * spec.steps))
    if step <= warmup:
        return spec.lr * step / warmup
    return spec.lr * 0.5 * (1 + math.cos(math.pi * (step - 1 - warmup) / (spec.steps - warmup)))


def random_sources(spec: ExperimentSpec) -> tuple[torch.Generator, int, np.random.Generator]:
    """The independent random sources of a run, all from ``spec.seed``.

    Parameters
    ----------
    spec : ExperimentSpec

    Returns
    -------
    init : torch.Generator
        Draws the initial parameters.
    data_key : int
        Key of the counter-based stream of training batches
        (:class:`~superposition_lib.core.data.UniformStream`).
    evaluation : numpy.random.Generator
        Draws the snapshot batch and the final evaluation's samples.

    Examples
    --------
    >>> _, key, _ = random_sources(ExperimentSpec(seed=3))
    >>> key == random_sources(ExperimentSpec(seed=3))[1] != random_sources(ExperimentSpec())[1]
    True
    """
    init, data, evaluation = np.random.SeedSequence(spec.seed).spawn(3)
    init_gen = torch.Generator().manual_seed(int(init.generate_state(1, np.uint64)[0] >> 1))
    data_key = int(data.generate_state(1, np.uint64)[0])
    return init_gen, data_key, np.random.Generator(np.random.PCG64(evaluation))


def initial_params(spec: ExperimentSpec) -> dict[str, np.ndarray]:
    """The parameters every model of ``spec`` starts training from, as
    :func:`~superposition_lib.core.train.train` draws them:
    :func:`~superposition_lib.core.models.init_params` from the spec's initialisation seed.

    Parameters
    ----------
    spec : ExperimentSpec

    Returns
    -------
    dict of str to numpy.ndarray
        ``"W"`` shape (models, m, n), ``"b"`` shape (models, n) and, for untied models,
        ``"W_out"`` shape (models, n, m); models in the order of the run's.

    Examples
    --------
    >>> spec = ExperimentSpec(n_features=5, n_hidden=2, feature_probability=[1, .1], steps=1)
    >>> W0 = initial_params(spec)["W"]
    >>> W0.shape, bool(np.allclose(W0, initial_params(spec)["W"]))
    ((2, 2, 5), True)
    """
    return {k: v.numpy() for k, v in init_params(spec, random_sources(spec)[0]).items()}
