"""The core pipeline: from a spec to a stored run.

The modules, each importing only those listed before it:

- :mod:`~superposition_lib.core.shapes`: names for the arrays' shapes, used in the signatures;
- :mod:`~superposition_lib.core.files`, :mod:`~superposition_lib.core.dirs` and
  :mod:`~superposition_lib.core.locks`: atomic writes of files and directories, and the
  cross-process lock;
- :mod:`~superposition_lib.core.fields`: what each field of a spec accepts;
- :mod:`~superposition_lib.core.config`: :class:`~superposition_lib.core.config.ExperimentSpec`,
  what to train (validated, hashed);
- :mod:`~superposition_lib.core.kernels`: the compiled random stream and fused training step;
- :mod:`~superposition_lib.core.data`: feature distributions and the batches they draw;
- :mod:`~superposition_lib.core.models`: the toy models' forward passes and gradients;
- :mod:`~superposition_lib.core.metrics`: the paper's per-feature measures, which the trainer
  records in every snapshot;
- :mod:`~superposition_lib.core.run`: :class:`~superposition_lib.core.run.Run`, a trained run's
  arrays;
- :mod:`~superposition_lib.core.schedule` and :mod:`~superposition_lib.core.evaluation`: the
  learning-rate schedule, random sources and initial parameters; the final loss estimate;
- :mod:`~superposition_lib.core.hooks` and :mod:`~superposition_lib.core.attacks`: the one
  interface through which the trainer calls what runs around every step, and the attack that
  adversarial training trains against (a hook);
- :mod:`~superposition_lib.core.snapshots` and :mod:`~superposition_lib.core.guards`: what
  training records, and what it refuses (devices, memory, divergence);
- :mod:`~superposition_lib.core.train`: the batched trainer;
- :mod:`~superposition_lib.core.manifest` and :mod:`~superposition_lib.core.store`: a stored
  run's format, and runs cached on disk;
- :mod:`~superposition_lib.core.pipeline`: :func:`~superposition_lib.core.pipeline.load_or_train`,
  the trainer through the store;
- :mod:`~superposition_lib.core.cluster` and :mod:`~superposition_lib.core.reproduce`: training
  on Dask workers, and retraining stored runs to check their bits.

Nothing here imports the analyses (:mod:`superposition_lib.analysis`) or anything above them
(``tests/test_layers.py`` checks it).
"""
