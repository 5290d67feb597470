"""superposition: reproducible, explorable toy models of superposition.

A library that trains many toy models of superposition (Elhage et al., 2022, "Toy Models of
Superposition", https://transformer-circuits.pub/2022/toy_model) at once and analyses them.

The top-level API:

- :class:`ExperimentSpec`: what to train (validated, hashed);
- :func:`train`: train it, returning a :class:`Run`;
- :func:`load_or_train`: the same, cached in the run store;
- :mod:`superposition_lib.metrics`: the paper's geometry metrics.
"""

import os

# OpenMP workers that spin while idle steal a core from the trainer's kernel threads on small
# machines (about 15% of a training step on 2 cores, and 10-40x slowdowns when two processes
# share the cores). GNU OpenMP reads this when torch loads it, so it only takes effect when this
# package is imported before torch; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import metrics
from .config import FORMAT_VERSION, ExperimentSpec
from .run import Run, Snapshots
from .store import CorruptRunError, MissingRunError, RunStore, load_or_train
from .train import NonFiniteLossError, train

__version__ = "0.1.0"

__all__ = ["CorruptRunError", "ExperimentSpec", "FORMAT_VERSION", "MissingRunError",
           "NonFiniteLossError", "Run", "RunStore", "Snapshots", "load_or_train", "metrics",
           "train", "__version__"]
