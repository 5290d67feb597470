"""superposition: reproducible, explorable toy models of superposition.

A library that trains many toy models of superposition (Elhage et al., 2022, "Toy Models of
Superposition", https://transformer-circuits.pub/2022/toy_model) at once and analyses them.

The top-level API:

- :class:`~superposition_lib.core.config.ExperimentSpec`: what to train (validated, hashed);
- :func:`~superposition_lib.core.train.train`: train it, returning a
  :class:`~superposition_lib.core.run.Run`;
- :func:`~superposition_lib.core.pipeline.load_or_train`: the same, cached in the run store;
- :mod:`~superposition_lib.core.metrics` (also ``superposition_lib.metrics``): the paper's
  geometry metrics.

These names load on first use (importing the package alone does not import torch, so that the
``superposition`` command answers ``--help`` at once); ``from superposition_lib import train``
and ``superposition_lib.train(...)`` work as for any attribute.
"""

import importlib
import os

# OpenMP workers that spin while idle steal a core from the trainer's kernel threads on small
# machines (about 15% of a training step on 2 cores, and 10-40x slowdowns when two processes
# share the cores). GNU OpenMP reads this when torch loads it, so it only takes effect when this
# package is imported before torch; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

__all__ = ["FORMAT_VERSION", "CorruptRunError", "ExperimentSpec", "MissingRunError",
           "NonFiniteLossError", "Run", "RunStore", "Snapshots", "__version__", "load_or_train",
           "metrics", "train"]

# The names above that modules of the core define, by module (``metrics`` is a module itself).
_EXPORTS = {"core.config": ("ExperimentSpec", "FORMAT_VERSION"),
            "core.run": ("Run", "Snapshots"),
            "core.store": ("CorruptRunError", "MissingRunError", "RunStore"),
            "core.pipeline": ("load_or_train",),
            "core.guards": ("NonFiniteLossError",),
            "core.train": ("train",)}


def __getattr__(name: str):
    """An exported name not loaded yet: import the module that defines it (PEP 562)."""
    for module, names in _EXPORTS.items():
        if name in names:
            return getattr(importlib.import_module(f"{__name__}.{module}"), name)
    if name == "metrics":
        return importlib.import_module(f"{__name__}.core.metrics")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
