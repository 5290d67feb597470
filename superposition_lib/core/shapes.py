"""Names for the shapes of the arrays that run through the library, for its signatures.

Each alias is the array type annotated with its shape, so that a signature says what it takes:
``feature_norms(W: Weights) -> PerFeature``. The letters are the paper's: n features, m hidden
dimensions; *models* counts every model trained at once (instances × restarts), *batch* the
samples of one step.

Examples
--------
>>> from typing import get_args
>>> get_args(Batch)[1]
'(models, batch, n)'
"""

from __future__ import annotations

from typing import Annotated

import torch
from numpy.typing import ArrayLike

__all__ = ["Batch", "Params", "PerFeature", "PerModel", "Weights"]

#: Feature weights W: shape (models, m, n), or (m, n) for one model; column i is feature i's
#: embedding W_i (numpy or torch).
Weights = Annotated[ArrayLike, "(models, m, n) or (m, n)"]
#: A value per feature of every model: shape (models, n), or (n,) for one model.
PerFeature = Annotated[ArrayLike, "(models, n) or (n,)"]
#: A value per model: shape (models,).
PerModel = Annotated[torch.Tensor, "(models,)"]
#: One step's inputs (or targets, or outputs) of every model: shape (models, batch, n).
Batch = Annotated[torch.Tensor, "(models, batch, n)"]
#: The parameters of a block of models by name: ``W`` (models, m, n), ``b`` (models, n) and,
#: for untied models, ``W_out`` (models, n, m).
Params = Annotated[dict[str, torch.Tensor],
                   "W (models, m, n), b (models, n), W_out (models, n, m) if untied"]
