"""One fast, reproducible training loop for every toy model.

:func:`train` trains all models of an :class:`~superposition_lib.core.config.ExperimentSpec` in one
batched loop: fresh data every step from :class:`~superposition_lib.core.data.UniformStream`, hand-
written gradients (:func:`~superposition_lib.core.models.loss_and_grads`), PyTorch's Adam/AdamW, the
spec's learning-rate schedule, loss history and snapshots. The same spec and seed always give the
same result on the same device. With ``checkpoint=`` it saves its full state (weights, optimiser,
random streams, history, snapshots) every ``checkpoint_every`` seconds, on Ctrl-C and after the
last step, and a later call with the same path resumes exactly where it stopped (from the last
step's checkpoint, straight to the final evaluation).
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .attacks import ATTACK_BLOCK, CANDIDATES, TrainingAttack
from .config import ExperimentSpec
from .data import FeatureDistribution, UniformStream
from .evaluation import EVAL_MAX_SAMPLES, evaluate, evaluation_chunk
from .models import (ARCHITECTURES, Workspace, _decoder, fused_sparse_uniform_step,
                     fused_step_available, init_params, loss_and_grads)
from .metrics import feature_dimensionality, feature_norms
from .run import Run, Snapshots
from .schedule import learning_rate, random_sources

#: Samples in the fixed batch on which snapshot losses are measured.
SNAPSHOT_BATCH = 4096
#: Most numbers in the buffer in which a snapshot's loss is computed (32 MB of float32): the
#: fixed batch is processed in as few chunks of (models, chunk, n) as fit.
SNAPSHOT_BUFFER = 2 ** 23


#: A final loss this many times the larger of the initial loss and the loss of predicting zero
#: (every output 0) means the run diverged: training starts from the one and can always reach
#: the other (W = 0, b = 0), so a model far worse than both is not a result.
DIVERGED_LOSS_RATIO = 10.0
#: Largest absolute weight below which a model's weights have collapsed to zero (a dead ReLU
#: after a too-large step; in the committed runs no model's largest weight is below 0.2).
COLLAPSED_WEIGHT = 1e-10
#: Largest absolute weight above which they have exploded.
EXPLODED_WEIGHT = 1e6


class DivergenceError(FloatingPointError):
    """Training diverged: a non-finite loss, a final loss far above both the initial loss and
    that of predicting zero, or weights that collapsed or exploded. Nothing is cached; the
    message names the setting to change."""


class NonFiniteLossError(DivergenceError):
    """Training produced a non-finite loss or gradient; nothing is cached."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on SIGINT (Ctrl-C) or SIGTERM at the end of a step, after writing its
    checkpoint.

    Attributes
    ----------
    signum : int
        The signal that stopped it.
    """

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _FixedBatchLoss:
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


class _Recorder:
    """Loss history and snapshots accumulated during training (all host-side numpy)."""

    def __init__(self):
        self.history_steps: list[int] = []
        self.history_loss: list[np.ndarray] = []
        self.snap_steps: list[int] = []
        self.snap: dict[str, list[np.ndarray]] = {"W": [], "b": [], "loss": [], "W_out": [],
                                                  "D": [], "norms": []}

    def snapshot(self, step: int, params: dict[str, torch.Tensor], loss: torch.Tensor,
                 weights: bool) -> None:
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


class _FusedAdamStep:
    """``optimizer.step()`` of a fused Adam/AdamW without the ``Optimizer`` wrapper's per-call
    overhead (about 50 µs, a tenth of a small model's step): the same fused kernel on the same
    state tensors with the same arguments, so the same bits, and ``optimizer.state_dict()``
    stays current for checkpoints. ``of`` returns ``optimizer.step`` itself where this torch
    has no such kernel."""

    def __init__(self, optimizer: torch.optim.Optimizer, kernel):
        group = optimizer.param_groups[0]
        self.params = list(group["params"])
        state = [optimizer.state[p] for p in self.params]
        self.exp_avgs = [s["exp_avg"] for s in state]
        self.exp_avg_sqs = [s["exp_avg_sq"] for s in state]
        self.steps = [s["step"] for s in state]
        self.kernel = kernel
        self.beta1, self.beta2 = group["betas"]
        self.weight_decay, self.eps = group["weight_decay"], group["eps"]

    @classmethod
    def of(cls, optimizer: torch.optim.Optimizer):
        group = optimizer.param_groups[0]
        name = ("_fused_adamw_" if isinstance(optimizer, torch.optim.AdamW) else "_fused_adam_")
        kernel = getattr(torch, name, None)
        simple = (len(optimizer.param_groups) == 1 and group.get("fused")
                  and not group.get("amsgrad") and not group.get("maximize")
                  and all("exp_avg" in optimizer.state[p] for p in group["params"]))
        return cls(optimizer, kernel) if kernel is not None and simple else (
            lambda lr: optimizer.step())

    def __call__(self, lr: float) -> None:
        torch._foreach_add_(self.steps, 1)
        self.kernel(self.params, [p.grad for p in self.params], self.exp_avgs, self.exp_avg_sqs,
                    [], self.steps, amsgrad=False, lr=lr, beta1=self.beta1, beta2=self.beta2,
                    weight_decay=self.weight_decay, eps=self.eps, maximize=False,
                    grad_scale=None, found_inf=None)


def _initial_loss(spec: ExperimentSpec, dist: FeatureDistribution, importance: torch.Tensor,
                  device: torch.device) -> np.ndarray:
    """Every model's loss at initialisation, shape (models,), on 1,024 samples of a random stream
    of its own (so that no other stream, and no result, changes)."""
    params = {k: v.to(device) for k, v in init_params(spec, random_sources(spec)[0]).items()}
    generator = np.random.Generator(np.random.PCG64(np.random.SeedSequence(spec.seed,
                                                                          spawn_key=(3,))))
    x = dist.sample(1024, generator)
    return _FixedBatchLoss(x, dist.target(x), importance, spec.model)(params).cpu().numpy()


def check_device(device: str | torch.device) -> torch.device:
    """The torch device to train on, checked before anything is allocated.

    Parameters
    ----------
    device : str or torch.device
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` ...

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If the name is not a device, or this torch cannot use it (a CPU-only build asked for
        CUDA, an index beyond the devices present); the message says which devices there are.

    Examples
    --------
    >>> check_device("cpu")
    device(type='cpu')
    >>> check_device("gpu")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: device: 'gpu' is not a torch device; use 'cpu', ...
    """
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device: {device!r} is not a torch device; use 'cpu', 'cuda', "
                         f"'cuda:N' or 'mps'") from None
    if device.type == "cuda":
        if torch.version.cuda is None or not torch.cuda.is_available():
            why = ("is a CPU-only build" if torch.version.cuda is None
                   else "sees no CUDA device")
            raise ValueError(f"device: {str(device)!r} is not available: this torch "
                             f"({torch.__version__}) {why}; use 'cpu' (see the README for the "
                             f"CUDA build)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device: {str(device)!r} does not exist; there are "
                             f"{torch.cuda.device_count()} CUDA devices")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device: 'mps' is not available on this machine; use 'cpu'")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device: {str(device)!r} is not supported; use 'cpu', 'cuda' or 'mps'")
    return device


def memory_needed(spec: ExperimentSpec) -> int:
    """A generous estimate, in bytes, of the memory that training a spec and evaluating the
    trained models take (:func:`train`: :func:`train_block`, then :func:`finish`).

    It counts what stays allocated throughout (the snapshots and the loss history, recorded and
    then stacked and joined: twice; the trained weights), plus the larger of the two phases'
    peaks. Training: the parameters with their gradients, Adam states and the step's copies;
    the batch buffers of the matrix-product path (inputs with the temporaries of drawing them,
    targets, outputs, hidden activations and their gradients); the fixed snapshot batch of
    :data:`SNAPSHOT_BATCH` samples with its loss buffer; and for adversarial training the
    attack's (models, n, n) matrices and attacked batches. Evaluation: the largest of the
    snapshot batch drawn again, a chunk of :func:`evaluate` with the forward pass's temporaries,
    and the 1,024 samples of the initial loss. Nothing of n² numbers per model is allocated
    without an attack. Measured peaks of resident memory lie between 0.2 and 0.7 times this
    estimate, for every data kind and model, with and without snapshots and attacks (11 specs
    from n = 20 with 1,000 models to n = 100,000; the least for tied models on sparse data,
    whose fused step needs no batch buffers).

    Parameters
    ----------
    spec : ExperimentSpec

    Returns
    -------
    int

    Examples
    --------
    >>> spec = ExperimentSpec(n_features=400, n_hidden=30, feature_probability=[0.1] * 20)
    >>> round(memory_needed(spec) / 2 ** 20)  # MiB: the book's uniform-geometry workload
    205
    """
    k, m, n = spec.n_models, spec.n_hidden, spec.n_features
    width = -(-(m + 1) // 8) * 8                       # the Workspace's padded hidden layer
    weights = k * (m * n * (1 if spec.tied else 2) + n)
    # (models, batch, n) arrays that drawing a batch holds at its peak, the uniforms included
    drawn = 1 if spec.data == "sparse_uniform" else 5
    snapshots = len(spec.snapshot_steps())
    kept = 2 * snapshots * (weights + k) + 6 * len(spec.history_steps()) * k + 2 * weights
    buffer = 2 * max(SNAPSHOT_BUFFER, k * n)           # a _FixedBatchLoss's output and hidden
    fixed_batch = k * SNAPSHOT_BATCH * n if snapshots else 0
    training = 8 * weights + 2 * fixed_batch + (buffer if snapshots else 0) + max(
        drawn * fixed_batch, k * spec.batch_size * ((drawn + 5) * n + 3 * width))
    if spec.attack is not None:
        candidates = min(n, CANDIDATES)
        training += 6 * k * n * n + 6 * k * spec.batch_size * n + max(ATTACK_BLOCK,
                                                                      k * candidates * n)
    evaluation = 3 * weights + max(drawn * fixed_batch,
                                   (drawn + 3) * k * evaluation_chunk(k, n) * n,
                                   (drawn + 1) * k * 1024 * n + buffer)
    return 4 * (kept + max(training, evaluation))


def _available_memory(device: torch.device) -> int | None:
    """Free memory of a device in bytes, or None where it cannot be read."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            info = dict(line.split(":", 1) for line in f)
        return int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None


def check_memory(spec: ExperimentSpec, device: str | torch.device = "cpu") -> None:
    """Refuse a spec that cannot be trained and evaluated in the device's free memory, before
    training starts.

    Parameters
    ----------
    spec : ExperimentSpec
    device : str or torch.device

    Raises
    ------
    MemoryError
        If :func:`memory_needed` (training and the final evaluation) exceeds the free memory
        (read from ``/proc/meminfo`` or CUDA); the message names both and the fields to lower.
        Nothing is checked where the free memory cannot be read.

    Examples
    --------
    >>> check_memory(ExperimentSpec(steps=100))
    >>> check_memory(ExperimentSpec(batch_size=10 ** 12))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    MemoryError: training and evaluation need about ... GiB, but ... GiB are free on cpu; lower ...
    """
    device = torch.device(device)
    needed, free = memory_needed(spec), _available_memory(device)
    if free is not None and needed > free:
        attack = "" if spec.attack is None else f", the attack ({spec.attack!r}: n² per model)"
        raise MemoryError(f"training and evaluation need about {needed / 2 ** 30:,.1f} GiB, but "
                          f"{free / 2 ** 30:,.1f} GiB are free on {device}; lower batch_size "
                          f"({spec.batch_size}), the number of models ({spec.n_models}), "
                          f"n_features ({spec.n_features}){attack} or the snapshots "
                          f"({len(spec.snapshot_steps())})")


def check_converged(spec: ExperimentSpec, loss: np.ndarray, weights: dict[str, np.ndarray],
                    reference: np.ndarray) -> None:
    """Refuse a trained run that diverged while staying finite.

    Parameters
    ----------
    spec : ExperimentSpec
        What was trained (its ``lr`` and ``importance`` are named in the message).
    loss : ndarray, shape (models,)
        Final losses.
    weights : dict of str to ndarray
        ``W`` of shape (models, m, n), and ``W_out`` of shape (models, n, m) for untied models.
    reference : ndarray, shape (models,)
        What training must not end far above: :func:`train` passes the larger of the loss at
        initialisation and the loss of predicting zero (the targets' second moments,
        :meth:`~superposition_lib.core.data.FeatureDistribution.target_second_moment`, weighted by
        importance and averaged over features), so that a short run that has not yet reached
        the zero model's loss is not refused.

    Raises
    ------
    NonFiniteLossError
        If a final loss is not finite (for example importances so large that squared errors
        overflow float32).
    DivergenceError
        If a loss exceeds :data:`DIVERGED_LOSS_RATIO` times ``reference``, or a model's largest
        absolute weight is below :data:`COLLAPSED_WEIGHT` or above :data:`EXPLODED_WEIGHT`.

    Examples
    --------
    >>> spec = ExperimentSpec(feature_probability=[1.0, 0.5], lr=1e3)
    >>> W = np.ones((2, 2, 5))
    >>> check_converged(spec, np.array([0.1, 0.05]), {"W": W}, np.array([0.33, 0.17]))
    >>> check_converged(spec, np.array([0.1, 9.0]), {"W": W}, np.array([0.33, 0.17]))
    Traceback (most recent call last):
    ...
    superposition_lib.core.train.DivergenceError: training diverged in model 1 (instance 1, restart 0): its final loss 9 is 52.9 times its initial loss or that of predicting zero, whichever is larger (0.17). To fix it, lower lr (now 1000); nothing was cached
    """
    def fail(cls, model: int, what: str, fix: str = f"lower lr (now {spec.lr:g})") -> None:
        raise cls(f"training diverged in model {model} (instance {model // spec.restarts}, "
                  f"restart {model % spec.restarts}): {what}. To fix it, {fix}; nothing was "
                  f"cached")

    bad = np.flatnonzero(~np.isfinite(loss))
    if bad.size:
        fail(NonFiniteLossError, int(bad[0]), f"its final loss is {loss[bad[0]]}",
             f"lower importance (largest {spec.importance_array().max():g}: weighted squared "
             f"errors overflow float32 near 3e38) or lr (now {spec.lr:g})")
    bad = np.flatnonzero(loss > DIVERGED_LOSS_RATIO * reference)
    if bad.size:
        k = int(bad[0])
        fail(DivergenceError, k, f"its final loss {loss[k]:.3g} is {loss[k] / reference[k]:.3g} "
             f"times its initial loss or that of predicting zero, whichever is larger "
             f"({reference[k]:.3g})")
    largest = np.max([np.abs(w).reshape(len(w), -1).max(1) for w in weights.values()
                      if w is not None], axis=0)
    for k in np.flatnonzero((largest < COLLAPSED_WEIGHT) | (largest > EXPLODED_WEIGHT)):
        how = "collapsed to zero" if largest[k] < COLLAPSED_WEIGHT else "exploded"
        fail(DivergenceError, int(k), f"its weights {how} (max |W| = {largest[k]:.3g})")


@dataclass
class TrainedBlock:
    """Models ``start .. stop - 1`` of a spec after training, before their final evaluation:
    what :func:`train_block` returns and :func:`finish` turns into a :class:`Run`.

    Attributes
    ----------
    spec : ExperimentSpec
    start, stop : int
        The block's models (indices into the spec's models).
    params : dict of str to ndarray
        ``W`` (models, m, n), ``b`` (models, n) and, for untied models, ``W_out``.
    history_steps : ndarray, shape (records,)
    history_loss : ndarray, shape (records, models)
    snapshots : Snapshots
        Of the block's models.
    wall_time : float
        Seconds of training.

    Examples
    --------
    >>> spec = ExperimentSpec(n_features=5, feature_probability=[1.0, 0.1], steps=20,
    ...                       batch_size=32)
    >>> block = train_block(spec, 1, 2, progress=False)
    >>> block.params["W"].shape, block.history_loss.shape[1]
    ((1, 2, 5), 1)
    """

    spec: ExperimentSpec
    start: int
    stop: int
    params: dict[str, np.ndarray]
    history_steps: np.ndarray
    history_loss: np.ndarray
    snapshots: Snapshots
    wall_time: float


def train(spec: ExperimentSpec, *, device: str | torch.device = "cpu", progress: bool = True,
          checkpoint: str | os.PathLike | None = None, checkpoint_every: float = 60.0,
          callback: Callable[[int], None] | None = None) -> Run:
    """Train every model of a spec.

    Parameters
    ----------
    spec : ExperimentSpec
        What to train.
    device : str or torch.device
        Where the models live (data is generated on the CPU and moved there).
    progress : bool
        Show a progress bar.
    checkpoint : path, optional
        File for resumable state. If it exists and belongs to the same spec, training resumes
        from it; it is rewritten every ``checkpoint_every`` seconds, when training is
        interrupted (``KeyboardInterrupt``) and after the last step, so that a run whose final
        evaluation fails (memory, disk) resumes straight to the evaluation, without a step. It
        is not deleted at the end.
    checkpoint_every : float
        Seconds between checkpoints.
    callback : callable, optional
        Called as ``callback(step)`` after every update.

    Returns
    -------
    Run

    Raises
    ------
    ValueError
        If ``device`` cannot be used (:func:`check_device`).
    MemoryError
        If training and the final evaluation would not fit in the device's free memory
        (:func:`check_memory`), before the first step.
    NonFiniteLossError
        If a loss or gradient becomes non-finite; the message names the step and instance,
        and what to check (lr only where the weights blew up over the updates).
    DivergenceError
        If the run diverged while staying finite (:func:`check_converged`).
    TrainingInterrupted
        On Ctrl-C (SIGINT) or SIGTERM, at the end of the step in progress, after writing the
        checkpoint (a ``KeyboardInterrupt``).

    Examples
    --------
    >>> spec = ExperimentSpec(n_features=5, n_hidden=2, feature_probability=[1.0, 0.05],
    ...                       steps=200, batch_size=256)
    >>> run = train(spec, progress=False)
    >>> run.W.shape, run.loss.shape
    ((2, 2, 5), (2,))
    """
    block = train_block(spec, device=device, progress=progress, checkpoint=checkpoint,
                        checkpoint_every=checkpoint_every, callback=callback)
    return finish(spec, [block], device=device)


def train_block(spec: ExperimentSpec, start: int = 0, stop: int | None = None, *,
                device: str | torch.device = "cpu", progress: bool = True,
                checkpoint: str | os.PathLike | None = None, checkpoint_every: float = 60.0,
                callback: Callable[[int], None] | None = None,
                until: int | None = None) -> TrainedBlock:
    """Train models ``start .. stop - 1`` of a spec as :func:`train` trains them with all the
    others, without the final evaluation.

    Every model's initialisation, training data and updates are its own, so the blocks of a
    spec, trained apart (on different machines, see :mod:`~superposition_lib.core.cluster`) and
    joined by :func:`finish`, give the run of :func:`train`: bit for bit when
    :func:`separable` says so; otherwise up to the last bits, because the batched matrix
    products of the general step (oneDNN or MKL) may sum in another order for another number
    of models.

    Parameters
    ----------
    spec : ExperimentSpec
    start, stop : int
        The block, ``0 <= start < stop <= spec.n_models``; all models by default.
    device, progress, checkpoint, checkpoint_every, callback
        As for :func:`train` (a checkpoint belongs to one block; it is written after the last
        step, and a checkpoint of the last step returns the trained block without a step).
    until : int, optional
        Stop after this step (``1 <= until <= spec.steps``; all steps by default): the block as
        the whole run has it then, with the loss history and snapshots recorded so far (the
        learning-rate schedule still spans ``spec.steps``). For checking a stored run's first
        steps (:func:`~superposition_lib.core.reproduce.early_differences`).

    Returns
    -------
    TrainedBlock

    Raises
    ------
    ValueError
        If the block is empty or out of range, or ``until`` is.
    MemoryError
        If training and evaluating the spec would not fit in memory (:func:`check_memory`),
        before anything is trained.
    NonFiniteLossError, TrainingInterrupted
        As for :func:`train`.

    Examples
    --------
    >>> spec = ExperimentSpec(n_features=5, feature_probability=[1.0, 0.3, 0.05], steps=50,
    ...                       batch_size=64)
    >>> whole = train(spec, progress=False)
    >>> parts = [train_block(spec, 0, 1, progress=False), train_block(spec, 1, 3, progress=False)]
    >>> bool((finish(spec, parts).W == whole.W).all())
    True
    """
    stop = spec.n_models if stop is None else stop
    until = spec.steps if until is None else until
    if not 1 <= until <= spec.steps:
        raise ValueError(f"until: need 1 <= until <= {spec.steps} (the spec's steps); got {until}")
    if not 0 <= start < stop <= spec.n_models:
        raise ValueError(f"start, stop: need 0 <= start < stop <= {spec.n_models} (the spec's "
                         f"models); got {start}, {stop}")
    models = slice(start, stop)
    count = stop - start
    device = check_device(device)
    check_memory(spec, device)
    init_gen, data_key, eval_gen = random_sources(spec)
    params = {k: v[models].clone().to(device) for k, v in init_params(spec, init_gen).items()}
    dist = FeatureDistribution.from_spec(spec, device, models)
    importance = torch.as_tensor(np.repeat(spec.importance_array(), spec.restarts, axis=0),
                                 dtype=torch.float32, device=device)[models]
    per_model = spec.batch_size * spec.n_features
    stream = UniformStream(data_key, (count, spec.batch_size, spec.n_features),
                           skip=start * per_model, step=spec.n_models * per_model)
    fused = separable(spec, device)  # tied models on sparse uniform data: the fused C step
    if fused:
        inv_probability = (1.0 / dist.probability).numpy()
        fused_grads = {k: torch.empty_like(v) for k, v in params.items()}
    else:
        workspace = Workspace(count, spec.batch_size, spec.n_features, spec.n_hidden, device)
    attack = None if spec.attack is None else TrainingAttack(spec, models, importance, device)
    opt_cls = torch.optim.AdamW if spec.optimizer == "adamw" else torch.optim.Adam
    optimizer = opt_cls(list(params.values()), lr=spec.lr, betas=spec.betas, eps=spec.eps,
                        weight_decay=spec.weight_decay if spec.optimizer == "adamw" else 0.0,
                        fused=True)
    recorder = _Recorder()
    history_at = set(spec.history_steps().tolist())
    snapshot_at = set(spec.snapshot_steps().tolist())
    if snapshot_at:
        snap_x = _snapshot_batch(spec, device, eval_gen)[models]
        snapshot_loss = _FixedBatchLoss(snap_x, dist.target(snap_x), importance, spec.model)

    def snapshot(step: int) -> None:
        recorder.snapshot(step, params, snapshot_loss(params), spec.snapshot_weights)

    owner = (spec.key(), start, stop)
    step, elapsed = 0, 0.0
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.exists():
        state = torch.load(ckpt, weights_only=False, map_location=device)
        if (state["key"], *state.get("block", (0, spec.n_models))) != owner:
            warnings.warn(f"checkpoint {ckpt} belongs to another spec or block "
                          f"({state['key']}); starting afresh", stacklevel=2)
        else:
            step, elapsed = state["step"], state["wall_time"]
            for k, v in state["params"].items():
                params[k].copy_(v)
            optimizer.load_state_dict(state["optimizer"])
            stream.set_state(state["stream"])
            recorder = state["recorder"]
    if step == 0 and 0 in snapshot_at:
        snapshot(0)

    def save_checkpoint(step: int, wall: float) -> None:
        tmp = ckpt.with_name(ckpt.name + ".tmp")
        torch.save({"key": spec.key(), "block": (start, stop), "step": step, "wall_time": wall,
                    "params": params, "optimizer": optimizer.state_dict(),
                    "stream": stream.state(), "recorder": recorder}, tmp)
        os.replace(tmp, ckpt)

    fast_step = None
    t0 = time.perf_counter() - elapsed
    last_save = time.perf_counter()
    first = step
    bar = tqdm(total=spec.steps, initial=first, disable=not progress,
               desc=spec.name or spec.model, mininterval=0.5, unit="step")
    # Ctrl-C and SIGTERM (what `timeout` and job schedulers send) are deferred to the end of the
    # step in progress, so that a checkpoint never holds a half-done step (weights updated but
    # the step not counted, or the reverse).
    interrupted = []
    in_main = threading.current_thread() is threading.main_thread()
    previous_handlers = ({signum: signal.signal(signum, lambda n, _: interrupted.append(n))
                          for signum in (signal.SIGINT, signal.SIGTERM)} if in_main else {})
    try:
        for step in range(first + 1, until + 1):
            lr = learning_rate(spec, step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            if fused:
                loss, grads = fused_sparse_uniform_step(params, stream, inv_probability,
                                                        importance, spec.model, spec.batch_size,
                                                        fused_grads)
                loss = loss if step in history_at else None
            else:
                x = dist.draw(stream)
                target = dist.target(x)
                if attack is not None:
                    x = attack(params, x, step)
                loss, grads = loss_and_grads(params, x, target, importance, spec.model,
                                             with_loss=step in history_at,
                                             workspace=workspace)
            if not (torch.isfinite(grads["b"]).all()
                    and (loss is None or torch.isfinite(loss).all())):
                bad = ~torch.isfinite(grads["b"]).all(1)
                if loss is not None:
                    bad |= ~torch.isfinite(loss)
                model = int(torch.nonzero(bad)[0, 0])
                largest = max(float(v[model].abs().max()) for v in params.values())
                raise NonFiniteLossError(_non_finite_message(spec, step, start + model, largest,
                                                             lr))
            for name, p in params.items():
                p.grad = grads[name]
            if fast_step is None:  # the first step creates the optimiser's state
                optimizer.step()
                fast_step = _FusedAdamStep.of(optimizer)
            else:
                fast_step(lr)
            if loss is not None:
                recorder.history_steps.append(step)
                recorder.history_loss.append(loss.cpu().numpy())
                bar.set_postfix(loss=f"{float(loss.mean()):.3g}", refresh=False)
            if step in snapshot_at:
                snapshot(step)
            bar.update(1)
            # the last step's checkpoint resumes straight to the evaluation (finish)
            if ckpt is not None and (step == spec.steps
                                     or time.perf_counter() - last_save > checkpoint_every):
                save_checkpoint(step, time.perf_counter() - t0)
                last_save = time.perf_counter()
            if callback is not None:
                callback(step)
            if interrupted:
                raise TrainingInterrupted(interrupted[0])
    except KeyboardInterrupt:
        if ckpt is not None:
            save_checkpoint(step, time.perf_counter() - t0)
        raise
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        bar.close()
    return TrainedBlock(spec, start, stop, {k: v.detach().cpu().numpy() for k, v in
                                            params.items()},
                        np.asarray(recorder.history_steps, dtype=int),
                        np.stack(recorder.history_loss or [np.zeros(count)])[
                            :len(recorder.history_steps)].astype(np.float64),
                        recorder.snapshots(spec, count), time.perf_counter() - t0)


def _non_finite_message(spec: ExperimentSpec, step: int, model: int, largest: float,
                        lr: float) -> str:
    """What :class:`NonFiniteLossError` says when training step ``step`` of ``model`` (an index
    into the spec's models) gave a non-finite loss or gradient with weights of largest absolute
    value ``largest``: lr is named as the cause only where updates made the weights blow up."""
    where = (f"non-finite loss or gradient at step {step} in instance {model // spec.restarts} "
             f"(restart {model % spec.restarts})")
    importance = (f"importance (largest {spec.importance_array().max():g}; weighted squared "
                  f"errors overflow float32 near 3e38)")
    if step == 1:
        cause = (f"before any update (max |W| = {largest:.3g}), so lr is not the cause: check "
                 f"{importance} and init_scale (largest {spec.init_scale_array().max():g})")
    elif not math.isfinite(largest) or largest > EXPLODED_WEIGHT:
        cause = (f"after its weights blew up (max |W| = {largest:.3g}): lower lr (now {lr:g})")
    else:
        cause = (f"with finite weights (max |W| = {largest:.3g}): check {importance}, then lr "
                 f"(now {lr:g})")
    return f"{where} {cause}; nothing was cached"


def separable(spec: ExperimentSpec, device: str | torch.device = "cpu") -> bool:
    """Whether blocks of the spec's models trained apart give :func:`train`'s run bit for bit.

    True when the fused C step trains it: tied models on sparse uniform data without an attack
    (``ExperimentSpec.attack``), on the CPU, with the C kernels built
    (:func:`~superposition_lib.core.models.fused_step_available`). That step
    computes every model on its own, with the same bits on every instruction set, so the answer
    depends on the spec and on the C compiler, not on the CPU. The general step's batched matrix
    products may sum in another order when the number of models changes (measured: last-bit
    differences for the absolute-value model).

    Parameters
    ----------
    spec : ExperimentSpec
    device : str or torch.device

    Returns
    -------
    bool

    Examples
    --------
    >>> separable(ExperimentSpec(model="absolute_value", data="signed_uniform"))
    False
    """
    return (spec.data == "sparse_uniform" and spec.attack is None
            and fused_step_available(spec.model, device))


def _snapshot_batch(spec: ExperimentSpec, device: torch.device,
                    eval_gen: np.random.Generator) -> torch.Tensor:
    """The fixed batch of every model on which snapshot losses are measured, shape
    (models, SNAPSHOT_BATCH, n): the first draw of the evaluation generator."""
    return FeatureDistribution.from_spec(spec, device).sample(SNAPSHOT_BATCH, eval_gen)


def finish(spec: ExperimentSpec, blocks: list[TrainedBlock],
           device: str | torch.device = "cpu") -> Run:
    """Join trained blocks that cover a spec's models into a :class:`Run`: evaluate the final
    loss of every model (one adaptive estimate for all models, as :func:`train` makes it) and
    check that training converged.

    Parameters
    ----------
    spec : ExperimentSpec
    blocks : list of TrainedBlock
        From :func:`train_block`, in any order; together they hold every model once.
    device : str or torch.device
        Where to evaluate.

    Returns
    -------
    Run
        Its ``wall_time`` is the blocks' training time added up.

    Raises
    ------
    ValueError
        If the blocks belong to another spec or do not cover its models exactly once.
    DivergenceError
        As for :func:`train`.

    Examples
    --------
    >>> spec = ExperimentSpec(n_features=5, feature_probability=[1.0, 0.1], steps=20,
    ...                       batch_size=32)
    >>> run = finish(spec, [train_block(spec, 0, 1, progress=False),
    ...                     train_block(spec, 1, 2, progress=False)])
    >>> run.loss.shape, bool((run.W == train(spec, progress=False).W).all())
    ((2,), True)
    """
    blocks = sorted(blocks, key=lambda block: block.start)
    edges = [0] + [edge for block in blocks for edge in (block.start, block.stop)] + [
        spec.n_models]
    if (any(block.spec.key() != spec.key() for block in blocks)
            or edges[0::2] != edges[1::2]):
        raise ValueError(f"blocks: must be blocks of this spec ({spec.key()}) covering models "
                         f"0 .. {spec.n_models - 1} once; got "
                         f"{[(b.spec.key(), b.start, b.stop) for b in blocks]}")
    device = check_device(device)
    _, _, eval_gen = random_sources(spec)
    if spec.snapshot_steps().size:
        _snapshot_batch(spec, device, eval_gen)  # drawn first in training: the same stream
    join = lambda arrays, axis=0: np.concatenate(arrays, axis=axis)  # noqa: E731
    arrays = {k: join([block.params[k] for block in blocks]) for k in blocks[0].params}
    params = {k: torch.from_numpy(v).to(device) for k, v in arrays.items()}
    dist = FeatureDistribution.from_spec(spec, device)
    importance = torch.as_tensor(np.repeat(spec.importance_array(), spec.restarts, axis=0),
                                 dtype=torch.float32, device=device)
    loss, loss_se, samples = evaluate(params, dist, importance, spec.model, eval_gen,
                                      max_samples=spec.eval_samples or EVAL_MAX_SAMPLES)
    zero_loss = (importance.double() * dist.target_second_moment()).mean(-1).cpu().numpy()
    check_converged(spec, loss, arrays, np.maximum(zero_loss,
                                                   _initial_loss(spec, dist, importance, device)))
    snaps = [block.snapshots for block in blocks]
    stored = lambda name: (None if getattr(snaps[0], name) is None  # noqa: E731
                           else join([getattr(s, name) for s in snaps], 1))
    snapshots = Snapshots(snaps[0].steps, stored("W"), stored("b"), stored("loss"),
                          stored("W_out"), stored("D"), stored("norms"))
    return Run(spec=spec, W=arrays["W"], b=arrays["b"], loss=loss, loss_se=loss_se,
               eval_samples=samples, history_steps=blocks[0].history_steps,
               history_loss=join([block.history_loss for block in blocks], 1),
               snapshots=snapshots, models=np.arange(spec.n_models), W_out=arrays.get("W_out"),
               wall_time=sum(block.wall_time for block in blocks))
