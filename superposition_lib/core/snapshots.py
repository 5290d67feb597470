"""What the trainer records while it trains: loss history and snapshots.

A snapshot (``ExperimentSpec.snapshot_every`` or ``snapshot_log``) holds every model's weights, or
only its features' dimensionalities and norms (``snapshot_weights=False``), and its loss on one
fixed batch of :data:`SNAPSHOT_BATCH` samples (:func:`snapshot_batch`, measured by
:class:`FixedBatchLoss`), the same at every snapshot, so that differences between snapshots are
not sampling noise. :class:`Recorder` keeps them, with the training loss history, until
:func:`~superposition_lib.core.train.train_block` returns them as
:class:`~superposition_lib.core.run.Snapshots`; :class:`Recording` is the trainer's hook
(:class:`~superposition_lib.core.hooks.TrainingHook`) that fills it after every step.
"""

from __future__ import annotations

import numpy as np
import torch

from .config import ExperimentSpec
from .data import FeatureDistribution
from .hooks import TrainingHook
from .metrics import feature_dimensionality, feature_norms
from .models import ARCHITECTURES, _decoder
from .run import Snapshots
from .shapes import Params, PerModel

__all__ = ["SNAPSHOT_BATCH", "SNAPSHOT_BUFFER", "FixedBatchLoss", "Recorder", "Recording",
           "snapshot_batch"]

#: Samples in the fixed batch on which snapshot losses are measured.
SNAPSHOT_BATCH = 4096
#: Most numbers in the buffer in which a snapshot's loss is computed (32 MB of float32): the
#: fixed batch is processed in as few chunks of (models, chunk, n) as fit.
SNAPSHOT_BUFFER = 2 ** 23


def snapshot_batch(spec: ExperimentSpec, device: torch.device,
                   eval_gen: np.random.Generator) -> torch.Tensor:
    """The fixed batch of every model on which snapshot losses are measured: the first draw of
    the evaluation generator.

    Parameters
    ----------
    spec : ExperimentSpec
    device : torch.device
    eval_gen : numpy.random.Generator
        The evaluation generator of
        :func:`~superposition_lib.core.schedule.random_sources`, before any other draw.

    Returns
    -------
    x : Tensor, shape (models, SNAPSHOT_BATCH, n)

    Examples
    --------
    >>> from superposition_lib.core.schedule import random_sources
    >>> spec = ExperimentSpec(feature_probability=[1.0, 0.1])
    >>> snapshot_batch(spec, torch.device("cpu"), random_sources(spec)[2]).shape
    torch.Size([2, 4096, 5])
    """
    return FeatureDistribution.from_spec(spec, device).sample(SNAPSHOT_BATCH, eval_gen)


class FixedBatchLoss:
    """Every model's loss on one fixed batch, for snapshots.

    The value is :func:`~superposition_lib.core.models.per_model_loss` of
    :func:`~superposition_lib.core.models.forward` on the whole batch (equal up to float rounding:
    chunk sums are accumulated in float64), computed in one buffer allocated once, in as few
    chunks as fit in :data:`SNAPSHOT_BUFFER` numbers (one for most specs). The plain expression
    allocates three (models, batch, n) temporaries per snapshot (at n=400 and 20 models, 400 MB
    of fresh pages: about 10^5 page faults each time). Reusing one buffer made a snapshot about
    1.6x cheaper inside training (n=200, m=20, 4 models: 7-9 ms instead of 11-16 ms, alternating
    runs in one process), which matters when ~200 snapshots are recorded
    (``benchmarks/snapshots.py``). Few chunks keep the number of operations (each a hand-off to
    the thread pool, slow on a busy machine) small.

    Parameters
    ----------
    x : Tensor, shape (models, batch, n)
        The fixed batch.
    target : Tensor, shape (models, batch, n)
        Its targets.
    importance : Tensor, shape (models, n)
        Feature importances.
    model : str
        The model kind (a key of :data:`~superposition_lib.core.models.ARCHITECTURES`).
    buffer : int
        Most numbers in the output buffer.

    Attributes
    ----------
    pieces : list of (Tensor, Tensor)
        The batch and its targets in chunks of (models, chunk, n).

    Examples
    --------
    >>> from superposition_lib.core.models import forward, per_model_loss
    >>> from superposition_lib.core.schedule import initial_params
    >>> spec = ExperimentSpec(feature_probability=[1.0, 0.1])
    >>> x = torch.rand(2, 100, 5)
    >>> importance = torch.ones(2, 5)
    >>> loss = FixedBatchLoss(x, x, importance, spec.model, buffer=300)
    >>> params = {k: torch.from_numpy(v) for k, v in initial_params(spec).items()}
    >>> len(loss.pieces), bool(torch.allclose(
    ...     loss(params), per_model_loss(forward(params, x, spec.model), x, importance)))
    (4, True)
    """

    def __init__(self, x: torch.Tensor, target: torch.Tensor, importance: torch.Tensor,
                 model: str, buffer: int = SNAPSHOT_BUFFER):
        models, batch, n = x.shape
        chunk = max(1, min(batch, buffer // (models * n)))
        self.arch = ARCHITECTURES[model]
        self.pieces = [(x[:, a:a + chunk], target[:, a:a + chunk])
                       for a in range(0, batch, chunk)]
        self.z = torch.empty(models, chunk, n, dtype=x.dtype, device=x.device)
        self.weight = importance.double() / (batch * n)            # (models, n)

    def __call__(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Loss of every model, shape (models,), float32."""
        with torch.no_grad():
            encoder = params["W"].transpose(1, 2).contiguous()      # (models, n, m)
            decoder = _decoder(params).contiguous()                 # (models, m, n)
            bias = params["b"].unsqueeze(1)                         # (models, 1, n)
            total = torch.zeros_like(self.weight)                   # (models, n), float64
            for x, target in self.pieces:
                z = self.z[:, :x.shape[1]]
                h = torch.bmm(x, encoder)
                if self.arch.hidden_relu:
                    h.relu_()
                torch.baddbmm(bias, h, decoder, out=z)
                if self.arch.output_relu:
                    z.clamp_(min=0)
                total += z.sub_(target).square_().sum(1)
            return (total * self.weight).sum(1).float()


class Recorder:
    """Loss history and snapshots accumulated during training (all host-side numpy).

    Attributes
    ----------
    history_steps : list of int
        Steps whose training loss is recorded.
    history_loss : list of ndarray, shape (models,)
        Those losses.
    snap_steps : list of int
        Steps of the snapshots.
    snap : dict of str to list of ndarray
        Per snapshot: ``W``, ``b``, ``W_out`` (weights kept) or ``D`` and ``norms`` (not), and
        ``loss``.

    Examples
    --------
    >>> spec = ExperimentSpec(feature_probability=[1.0, 0.1], steps=10, snapshot_every=5)
    >>> params = {"W": torch.ones(2, 2, 5), "b": torch.zeros(2, 5)}
    >>> recorder = Recorder()
    >>> recorder.snapshot(0, params, torch.tensor([0.5, 0.1]), weights=True)
    >>> snapshots = recorder.snapshots(spec, models=2)
    >>> snapshots.steps, snapshots.W.shape, snapshots.loss
    (array([0]), (1, 2, 2, 5), array([[0.5, 0.1]], dtype=float32))
    """

    def __init__(self):
        self.history_steps: list[int] = []
        self.history_loss: list[np.ndarray] = []
        self.snap_steps: list[int] = []
        self.snap: dict[str, list[np.ndarray]] = {"W": [], "b": [], "loss": [], "W_out": [],
                                                  "D": [], "norms": []}

    def snapshot(self, step: int, params: Params, loss: PerModel, weights: bool) -> None:
        """Record a snapshot after ``step``.

        Parameters
        ----------
        step : int
        params : dict of str to Tensor
            ``W`` (models, m, n), ``b`` (models, n) and, for untied models, ``W_out``.
        loss : Tensor, shape (models,)
            The loss on the fixed batch.
        weights : bool
            Keep copies of the weights; otherwise only every feature's dimensionality and norm.
        """
        self.snap_steps.append(step)
        if weights:
            for name, value in params.items():
                self.snap[name].append(value.detach().cpu().numpy().copy())
        else:
            W = params["W"].detach().cpu().numpy()
            self.snap["D"].append(feature_dimensionality(W).astype(np.float32))
            self.snap["norms"].append(feature_norms(W).astype(np.float32))
        self.snap["loss"].append(loss.cpu().numpy())

    def snapshots(self, spec: ExperimentSpec, models: int) -> Snapshots:
        """The snapshots recorded so far, stacked.

        Parameters
        ----------
        spec : ExperimentSpec
            What is trained (its sizes, ``snapshot_weights`` and tying).
        models : int
            The number of models trained (empty arrays need it).

        Returns
        -------
        Snapshots
        """
        m, n = spec.n_hidden, spec.n_features

        def stack(name, extra, kept=True):
            if not kept:
                return None
            if self.snap[name]:
                return np.stack(self.snap[name])
            return np.zeros((0, models) + extra, np.float32)

        weights = spec.snapshot_weights
        return Snapshots(np.asarray(self.snap_steps, dtype=int), stack("W", (m, n), weights),
                         stack("b", (n,), weights), stack("loss", ()),
                         stack("W_out", (n, m), weights and not spec.tied),
                         stack("D", (n,), not weights), stack("norms", (n,), not weights))


class Recording(TrainingHook):
    """The trainer's own hook: after every step, the training loss where the history records
    it and the snapshots at the snapshot steps, into a :class:`Recorder`.

    The recorder holds the state (a checkpoint keeps it); a recording is rebuilt around it when
    training resumes.

    Parameters
    ----------
    recorder : Recorder
    snapshot_at : set of int
        The snapshot steps (``ExperimentSpec.snapshot_steps``).
    snapshot_loss : FixedBatchLoss or None
        The loss on the fixed batch (``None`` when there are no snapshot steps).
    weights : bool
        Keep the weights in the snapshots (``ExperimentSpec.snapshot_weights``).

    Examples
    --------
    >>> recording = Recording(Recorder(), {2}, lambda params: torch.zeros(1), weights=True)
    >>> params = {"W": torch.ones(1, 2, 3), "b": torch.zeros(1, 3)}
    >>> recording.after_step(1, params, torch.tensor([0.25]))
    >>> recording.after_step(2, params, None)
    >>> recording.recorder.history_steps, recording.recorder.snap_steps
    ([1], [2])
    """

    def __init__(self, recorder: Recorder, snapshot_at: set[int], snapshot_loss, weights: bool):
        self.recorder, self.snapshot_at = recorder, snapshot_at
        self.snapshot_loss, self.weights = snapshot_loss, weights

    def snapshot(self, step: int, params: Params) -> None:
        """Record a snapshot of ``params`` after ``step``.

        Parameters
        ----------
        step : int
        params : dict of str to Tensor
            The block's weights.
        """
        self.recorder.snapshot(step, params, self.snapshot_loss(params), self.weights)

    def after_step(self, step: int, params: Params, loss: PerModel | None) -> None:
        """Record the loss (when given) and, at a snapshot step, a snapshot.

        Parameters
        ----------
        step : int
            The step just taken.
        params : dict of str to Tensor
            The block's weights after it.
        loss : Tensor, shape (models,), or None
            The step's training loss, where the history records it.
        """
        if loss is not None:
            self.recorder.history_steps.append(step)
            self.recorder.history_loss.append(loss.cpu().numpy())
        if step in self.snapshot_at:
            self.snapshot(step, params)
