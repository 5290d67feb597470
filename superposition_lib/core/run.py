"""The result of training: final weights, losses, loss history and snapshots.

A :class:`Run` holds one entry per *model* trained. Models are ordered instance-major: model
``k`` is instance ``k // restarts``, restart ``k % restarts``. With ``restarts=1`` (the default)
models and instances coincide; :meth:`Run.best` keeps the lowest-loss restart of each instance,
the paper's best-of-N.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .config import ExperimentSpec
from .metrics import feature_dimensionality, feature_norms


@dataclass(frozen=True)
class Snapshots:
    """Parameters recorded during training.

    Attributes
    ----------
    steps : ndarray, shape (snapshots,)
        Optimisation steps after which each snapshot was taken (0 = initialisation).
    W : ndarray, shape (snapshots, models, m, n), or None
        None for a spec with ``snapshot_weights=False``, which keeps ``D`` and ``norms``.
    b : ndarray, shape (snapshots, models, n), or None
    loss : ndarray, shape (snapshots, models)
        Loss on a fixed evaluation batch (the same samples at every snapshot, so differences
        between snapshots are not sampling noise).
    W_out : ndarray, shape (snapshots, models, n, m), or None
        Output weights of untied models.
    D : ndarray, shape (snapshots, models, n), or None
        Feature dimensionalities (:func:`~superposition_lib.core.metrics.feature_dimensionality`),
        stored instead of the weights when ``snapshot_weights=False``.
    norms : ndarray, shape (snapshots, models, n), or None
        Feature norms ‖W_i‖, likewise.

    Examples
    --------
    >>> from superposition_lib import ExperimentSpec, train
    >>> run = train(ExperimentSpec(steps=100, batch_size=64, snapshot_log=3), progress=False)
    >>> run.snapshots.steps, run.snapshots.W.shape
    (array([  0,   1,  10, 100]), (4, 1, 2, 5))
    >>> compact = ExperimentSpec(steps=100, batch_size=64, snapshot_log=3, snapshot_weights=False)
    >>> snaps = train(compact, progress=False).snapshots
    >>> snaps.W is None, snaps.feature_dimensionality().shape
    (True, (4, 1, 5))
    """

    steps: np.ndarray
    W: np.ndarray | None
    b: np.ndarray | None
    loss: np.ndarray
    W_out: np.ndarray | None = None
    D: np.ndarray | None = None
    norms: np.ndarray | None = None

    def select(self, models: np.ndarray) -> Snapshots:
        """The snapshots of a subset of models.

        Parameters
        ----------
        models : array of int
            Indices along the model axis.

        Returns
        -------
        Snapshots
        """
        pick = lambda a: None if a is None else a[:, models]  # noqa: E731
        return Snapshots(self.steps, pick(self.W), pick(self.b), pick(self.loss),
                         pick(self.W_out), pick(self.D), pick(self.norms))

    def feature_dimensionality(self) -> np.ndarray:
        """D_i of every feature at every snapshot, shape (snapshots, models, n): stored, or
        computed from the weights."""
        return self.D if self.D is not None else feature_dimensionality(self.W)

    def feature_norms(self) -> np.ndarray:
        """‖W_i‖ of every feature at every snapshot, shape (snapshots, models, n): stored, or
        computed from the weights."""
        return self.norms if self.norms is not None else feature_norms(self.W)


@dataclass(frozen=True)
class Run:
    """A trained batch of toy models.

    Attributes
    ----------
    spec : ExperimentSpec
        What was trained.
    W : ndarray, shape (models, m, n)
        Final encoder weights; column ``W[k, :, i]`` is feature i's direction in model k.
    b : ndarray, shape (models, n)
        Final output biases.
    loss : ndarray, shape (models,)
        Final loss, estimated on fresh evaluation samples.
    loss_se : ndarray, shape (models,)
        Standard error of ``loss``.
    eval_samples : int
        Number of samples behind ``loss``.
    history_steps : ndarray, shape (h,)
        Steps at which the training-batch loss was recorded.
    history_loss : ndarray, shape (h, models)
        Training-batch loss at those steps (before that step's update).
    snapshots : Snapshots
        Parameters recorded during training (empty unless the spec asks for them).
    models : ndarray of int, shape (models,)
        Index of each model in the original, unfiltered run (``arange`` unless from :meth:`best`).
    W_out : ndarray, shape (models, n, m), or None
        Output weights of untied models (``absolute_value``).
    wall_time : float
        Seconds spent training (not counting evaluation).

    Examples
    --------
    >>> from superposition_lib import ExperimentSpec, train
    >>> spec = ExperimentSpec(feature_probability=[1.0, 0.1], steps=100, batch_size=64,
    ...                       restarts=2)
    >>> run = train(spec, progress=False)
    >>> run.W.shape, run.instance, run.best().W.shape
    ((4, 2, 5), array([0, 0, 1, 1]), (2, 2, 5))
    """

    spec: ExperimentSpec
    W: np.ndarray
    b: np.ndarray
    loss: np.ndarray
    loss_se: np.ndarray
    eval_samples: int
    history_steps: np.ndarray
    history_loss: np.ndarray
    snapshots: Snapshots
    models: np.ndarray
    W_out: np.ndarray | None = None
    wall_time: float = 0.0

    @property
    def instance(self) -> np.ndarray:
        """Instance of every model, shape (models,)."""
        return self.models // self.spec.restarts

    @property
    def restart(self) -> np.ndarray:
        """Restart (seed index) of every model, shape (models,)."""
        return self.models % self.spec.restarts

    @property
    def feature_probability(self) -> np.ndarray:
        """Feature probabilities 1 − S of every model, shape (models, n)."""
        return self.spec.feature_probability_array()[self.instance]

    @property
    def importance(self) -> np.ndarray:
        """Feature importances of every model, shape (models, n)."""
        return self.spec.importance_array()[self.instance]

    @property
    def history(self) -> pd.DataFrame:
        """Training loss as a tidy table with columns step, instance, restart, loss."""
        h, k = self.history_loss.shape
        return pd.DataFrame({
            "step": np.repeat(self.history_steps, k),
            "instance": np.tile(self.instance, h),
            "restart": np.tile(self.restart, h),
            "loss": self.history_loss.reshape(-1),
        })

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array of the run by the name the run store gives it in ``arrays.npz``.

        Returns
        -------
        dict of str to ndarray
            ``W``, ``b``, ``loss``, ``loss_se``, ``models``, ``history_steps``,
            ``history_loss``, ``snapshot_steps``, ``snapshot_loss``, and where present
            ``W_out`` and ``snapshot_W``, ``snapshot_b``, ``snapshot_W_out``, ``snapshot_D``,
            ``snapshot_norms``.

        Examples
        --------
        >>> from superposition_lib import ExperimentSpec, train
        >>> sorted(train(ExperimentSpec(steps=20, batch_size=32), progress=False).arrays())
        ... # doctest: +NORMALIZE_WHITESPACE
        ['W', 'b', 'history_loss', 'history_steps', 'loss', 'loss_se', 'models',
         'snapshot_W', 'snapshot_b', 'snapshot_loss', 'snapshot_steps']
        """
        arrays = {
            "W": self.W, "b": self.b, "loss": self.loss, "loss_se": self.loss_se,
            "models": self.models, "history_steps": self.history_steps,
            "history_loss": self.history_loss, "snapshot_steps": self.snapshots.steps,
            "snapshot_loss": self.snapshots.loss,
        }
        if self.W_out is not None:
            arrays["W_out"] = self.W_out
        for name in ("W", "b", "W_out", "D", "norms"):
            if getattr(self.snapshots, name) is not None:
                arrays[f"snapshot_{name}"] = getattr(self.snapshots, name)
        return {k: np.asarray(v) for k, v in arrays.items()}

    def best(self) -> Run:
        """The lowest-final-loss restart of every instance (the paper's best-of-N).

        Returns
        -------
        Run
            A run with one model per instance, ordered by instance; ``models`` records which
            model of this run each one was.
        """
        keep = np.array([idx[np.argmin(self.loss[idx])]
                         for idx in (np.flatnonzero(self.instance == i)
                                     for i in np.unique(self.instance))])
        return self.select(keep)

    def select(self, keep: np.ndarray) -> Run:
        """A run restricted to some models.

        Parameters
        ----------
        keep : array of int
            Indices along the model axis.

        Returns
        -------
        Run
        """
        keep = np.asarray(keep)
        return replace(
            self, W=self.W[keep], b=self.b[keep], loss=self.loss[keep],
            loss_se=self.loss_se[keep], history_loss=self.history_loss[:, keep],
            snapshots=self.snapshots.select(keep), models=self.models[keep],
            W_out=None if self.W_out is None else self.W_out[keep])
