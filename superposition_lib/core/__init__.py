"""The core pipeline: from a spec to a stored run.

The modules, each importing only those listed before it:

- :mod:`~superposition_lib.core.config`: :class:`~superposition_lib.core.config.ExperimentSpec`,
  what to train (validated, hashed);
- :mod:`~superposition_lib.core.files`: atomic file writes;
- :mod:`~superposition_lib.core.kernels`: the compiled random stream and fused training step;
- :mod:`~superposition_lib.core.data`: feature distributions and the batches they draw;
- :mod:`~superposition_lib.core.models`: the toy models' forward passes and gradients;
- :mod:`~superposition_lib.core.metrics`: the paper's per-feature measures, which the trainer
  records in every snapshot;
- :mod:`~superposition_lib.core.run`: :class:`~superposition_lib.core.run.Run`, a trained run's
  arrays;
- :mod:`~superposition_lib.core.attacks`: the attack that adversarial training trains against;
- :mod:`~superposition_lib.core.train`: the batched trainer;
- :mod:`~superposition_lib.core.store`: runs cached on disk;
- :mod:`~superposition_lib.core.pipeline`: :func:`~superposition_lib.core.pipeline.load_or_train`,
  the trainer through the store;
- :mod:`~superposition_lib.core.cluster` and :mod:`~superposition_lib.core.reproduce`: training
  on Dask workers, and retraining stored runs to check their bits.

Nothing here imports the analyses (:mod:`superposition_lib.analysis`) or anything above them
(``tests/test_layers.py`` checks it).
"""
