"""What the trainer refuses, and the errors that say why.

Before training: a device this torch cannot use (:func:`check_device`) and a spec whose training
and evaluation would not fit in the device's free memory (:func:`memory_needed`,
:func:`check_memory`). During training: a non-finite loss or gradient (:func:`check_finite`). After
it: a run that diverged while staying finite (:func:`check_converged`, against
:func:`convergence_reference`). A refused run raises a :class:`DivergenceError` (or a
``ValueError`` or ``MemoryError`` before training) whose message names the setting to change,
and nothing is cached.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .attacks import ATTACK_BLOCK, CANDIDATES
from .config import ExperimentSpec
from .data import FeatureDistribution
from .evaluation import evaluation_chunk
from .models import init_params
from .schedule import random_sources
from .snapshots import SNAPSHOT_BATCH, SNAPSHOT_BUFFER, FixedBatchLoss

__all__ = ["DIVERGED_LOSS_RATIO", "COLLAPSED_WEIGHT", "EXPLODED_WEIGHT", "DivergenceError",
           "NonFiniteLossError", "check_device", "memory_needed", "check_memory", "check_finite",
           "convergence_reference", "check_converged"]

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
    trained models take (:func:`~superposition_lib.core.train.train`:
    :func:`~superposition_lib.core.train.train_block`, then
    :func:`~superposition_lib.core.train.finish`).

    It counts what stays allocated throughout (the snapshots and the loss history, recorded and
    then stacked and joined: twice; the trained weights), plus the larger of the two phases'
    peaks. Training: the parameters with their gradients, Adam states and the step's copies;
    the batch buffers of the matrix-product path (inputs with the temporaries of drawing them,
    targets, outputs, hidden activations and their gradients); the fixed snapshot batch of
    :data:`~superposition_lib.core.snapshots.SNAPSHOT_BATCH` samples with its loss buffer; and
    for adversarial training the attack's (models, n, n) matrices and attacked batches.
    Evaluation: the largest of the snapshot batch drawn again, a chunk of
    :func:`~superposition_lib.core.evaluation.evaluate` with the forward pass's temporaries,
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
    buffer = 2 * max(SNAPSHOT_BUFFER, k * n)           # a FixedBatchLoss's output and hidden
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


def check_finite(spec: ExperimentSpec, step: int, lr: float, params: dict[str, torch.Tensor],
                 grads: dict[str, torch.Tensor], loss: torch.Tensor | None,
                 first_model: int = 0) -> None:
    """Refuse a training step that gave a non-finite loss or gradient.

    Parameters
    ----------
    spec : ExperimentSpec
    step : int
        The step (1 is the first update).
    lr : float
        Its learning rate.
    params : dict of str to Tensor
        The weights before the update: ``W`` (models, m, n), ``b`` (models, n) ...
    grads : dict of str to Tensor
        Their gradients; ``b``'s, shape (models, n), is checked (every other gradient flows
        through it).
    loss : Tensor, shape (models,), or None
        The step's training loss, where it was computed.
    first_model : int
        The index into the spec's models of the first model trained (a block's start).

    Raises
    ------
    NonFiniteLossError
        Naming the step, the first bad model's instance and restart, and what to check: lr only
        where the weights blew up over the updates.

    Examples
    --------
    >>> spec = ExperimentSpec(feature_probability=[1.0, 0.1])
    >>> params = {"W": torch.ones(2, 2, 5), "b": torch.zeros(2, 5)}
    >>> grads = {"b": torch.tensor([[0.0] * 5, [0.0] * 4 + [float("nan")]])}
    >>> check_finite(spec, 3, 1e-3, params, grads,
    ...              None)  # doctest: +ELLIPSIS, +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    superposition_lib.core.guards.NonFiniteLossError: non-finite loss or gradient at step 3 in
    instance 1 (restart 0) with finite weights ...
    """
    if not (torch.isfinite(grads["b"]).all() and (loss is None or torch.isfinite(loss).all())):
        bad = ~torch.isfinite(grads["b"]).all(1)
        if loss is not None:
            bad |= ~torch.isfinite(loss)
        model = int(torch.nonzero(bad)[0, 0])
        largest = max(float(v[model].abs().max()) for v in params.values())
        raise NonFiniteLossError(_non_finite_message(spec, step, first_model + model, largest,
                                                     lr))


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


def _initial_loss(spec: ExperimentSpec, dist: FeatureDistribution, importance: torch.Tensor,
                  device: torch.device) -> np.ndarray:
    """Every model's loss at initialisation, shape (models,), on 1,024 samples of a random stream
    of its own (so that no other stream, and no result, changes)."""
    params = {k: v.to(device) for k, v in init_params(spec, random_sources(spec)[0]).items()}
    generator = np.random.Generator(np.random.PCG64(np.random.SeedSequence(spec.seed,
                                                                          spawn_key=(3,))))
    x = dist.sample(1024, generator)
    return FixedBatchLoss(x, dist.target(x), importance, spec.model)(params).cpu().numpy()


def convergence_reference(spec: ExperimentSpec, dist: FeatureDistribution,
                          importance: torch.Tensor, device: torch.device) -> np.ndarray:
    """What a trained model's final loss must not end far above (:func:`check_converged`): the
    larger of its loss at initialisation (on 1,024 samples of a random stream of its own, so
    that no other stream, and no result, changes) and the loss of predicting zero (the targets'
    second moments, weighted by importance and averaged over features).

    Training starts from the one and can always reach the other (W = 0, b = 0), so a short run
    that has not yet reached the zero model's loss is not refused.

    Parameters
    ----------
    spec : ExperimentSpec
    dist : FeatureDistribution
        The distribution of every model of the spec.
    importance : Tensor, shape (models, n)
    device : torch.device

    Returns
    -------
    ndarray, shape (models,)

    Examples
    --------
    >>> spec = ExperimentSpec(feature_probability=[1.0, 0.1])
    >>> importance = torch.ones(2, 5)
    >>> reference = convergence_reference(spec, FeatureDistribution.from_spec(spec), importance,
    ...                                   torch.device("cpu"))
    >>> reference.shape, bool(reference[0] >= 1 / 3)  # E[x²] = 1/3 for x uniform in [0, 1]
    ((2,), True)
    """
    zero_loss = (importance.double() * dist.target_second_moment()).mean(-1).cpu().numpy()
    return np.maximum(zero_loss, _initial_loss(spec, dist, importance, device))


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
        What training must not end far above: :func:`~superposition_lib.core.train.train`
        passes :func:`convergence_reference`, the larger of the loss at initialisation and the
        loss of predicting zero (the targets' second moments,
        :meth:`~superposition_lib.core.data.FeatureDistribution.target_second_moment`, weighted
        by importance and averaged over features), so that a short run that has not yet reached
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
    >>> check_converged(spec, np.array([0.1, 9.0]), {"W": W},
    ...                 np.array([0.33, 0.17]))  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    superposition_lib.core.guards.DivergenceError: training diverged in model 1 (instance 1,
    restart 0): its final loss 9 is 52.9 times its initial loss or that of predicting zero,
    whichever is larger (0.17). To fix it, lower lr (now 1000); nothing was cached
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
