"""The final loss of trained models, estimated on fresh samples to a target precision."""

from __future__ import annotations

import numpy as np
import torch

from .data import FeatureDistribution
from .models import forward

__all__ = ["EVAL_MAX_SAMPLES", "EVAL_RELATIVE_SE", "evaluate", "evaluation_chunk"]

#: Target relative standard error of the final loss estimate.
EVAL_RELATIVE_SE = 0.01
#: Most samples per model used to estimate the final loss (if the target is not reached first).
EVAL_MAX_SAMPLES = 2 ** 20


def evaluate(params: dict[str, torch.Tensor], dist: FeatureDistribution,
             importance: torch.Tensor, model: str, generator: np.random.Generator,
             relative_se: float = EVAL_RELATIVE_SE, max_samples: int = EVAL_MAX_SAMPLES
             ) -> tuple[np.ndarray, np.ndarray, int]:
    """Estimate every model's expected loss on fresh samples.

    Samples are drawn in chunks until the standard error of every model's mean loss is below
    ``relative_se`` times the mean, or ``max_samples`` samples were used.

    Parameters
    ----------
    params : dict of str to Tensor
        Model parameters (see :func:`~superposition_lib.core.models.init_params`).
    dist : FeatureDistribution
        The models' data distribution.
    importance : Tensor, shape (models, n)
    model : str
        Model kind.
    generator : numpy.random.Generator
        Source of the evaluation samples.
    relative_se : float
        Target relative standard error.
    max_samples : int
        Upper bound on samples per model.

    Returns
    -------
    loss : ndarray, shape (models,)
    loss_se : ndarray, shape (models,)
    samples : int

    Examples
    --------
    >>> dist = FeatureDistribution("sparse_uniform", [[1.0, 1.0]])
    >>> params = {"W": torch.zeros(1, 1, 2), "b": torch.zeros(1, 2)}
    >>> loss, se, samples = evaluate(params, dist, torch.ones(1, 2), "relu_output",
    ...                              np.random.default_rng(0))
    >>> bool(abs(loss[0] - 1 / 3) < 3 * se[0])      # E[x²] = 1/3 for the zero model
    True
    """
    models, n = importance.shape
    chunk = evaluation_chunk(models, n)
    total = np.zeros(models)
    total_sq = np.zeros(models)
    samples = 0
    with torch.no_grad():
        while samples < max_samples:
            x = dist.sample(chunk, generator)
            err = (forward(params, x, model) - dist.target(x)).square_()
            per_sample = (err * importance.unsqueeze(1)).mean(-1).double().cpu().numpy()
            total += per_sample.sum(1)
            total_sq += np.square(per_sample).sum(1)
            samples += chunk
            mean = total / samples
            se = np.sqrt(np.maximum(total_sq / samples - mean ** 2, 0) / samples)
            if np.all(se <= relative_se * mean):
                break
    return mean, se, samples


def evaluation_chunk(models: int, n: int) -> int:
    """Samples per model in each chunk of :func:`evaluate`: about 2**23 numbers per chunk,
    within 256 to 8,192 samples.

    Parameters
    ----------
    models, n : int
        Models evaluated together, and their features.

    Returns
    -------
    int

    Examples
    --------
    >>> evaluation_chunk(1, 5), evaluation_chunk(40, 400)
    (8192, 524)
    """
    return int(min(8192, max(256, 2 ** 23 // (models * n))))
