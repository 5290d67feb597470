"""One fast, reproducible training loop for every toy model.

:func:`train` trains all models of an :class:`~superposition_lib.core.config.ExperimentSpec` in one
batched loop: fresh data every step from :class:`~superposition_lib.core.data.UniformStream`, hand-
written gradients (:func:`~superposition_lib.core.models.loss_and_grads`), PyTorch's Adam/AdamW, the
spec's learning-rate schedule, loss history and snapshots, and one hook interface around every
step (:mod:`~superposition_lib.core.hooks`: the recording, the attack of adversarial training, a
caller's callback and hooks). The same spec and seed always give the
same result on the same device. With ``checkpoint=`` it saves its full state (weights, optimiser,
random streams, history, snapshots) every ``checkpoint_every`` seconds, on Ctrl-C and after the
last step, and a later call with the same path resumes exactly where it stopped (from the last
step's checkpoint, straight to the final evaluation). What it refuses (devices, memory,
divergence) is checked by :mod:`~superposition_lib.core.guards`; what it records on the way, by
:mod:`~superposition_lib.core.snapshots`.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .attacks import TrainingAttack
from .config import ExperimentSpec
from .data import FeatureDistribution, UniformStream
from .evaluation import EVAL_MAX_SAMPLES, evaluate
from .guards import check_converged, check_device, check_finite, check_memory, convergence_reference
from .hooks import StepCallback, TrainingHook, observers
from .models import (
    Workspace,
    fused_sparse_uniform_step,
    fused_step_available,
    init_params,
    loss_and_grads,
)
from .run import Run, Snapshots
from .schedule import learning_rate, random_sources
from .snapshots import FixedBatchLoss, Recorder, Recording, snapshot_batch


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
          callback: Callable[[int], None] | None = None,
          hooks: Iterable[TrainingHook] = ()) -> Run:
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
        Called as ``callback(step)`` after every update (a
        :class:`~superposition_lib.core.hooks.StepCallback`, after ``hooks``).
    hooks : iterable of TrainingHook
        Called after every update (:meth:`~superposition_lib.core.hooks.TrainingHook.after_step`),
        in order, after the trainer's recording. They observe: a hook that changes the batch is
        refused (:func:`~superposition_lib.core.hooks.observers`).

    Returns
    -------
    Run

    Raises
    ------
    ValueError
        If ``device`` cannot be used (:func:`~superposition_lib.core.guards.check_device`), or
        a hook would change the batch.
    MemoryError
        If training and the final evaluation would not fit in the device's free memory
        (:func:`~superposition_lib.core.guards.check_memory`), before the first step.
    NonFiniteLossError
        If a loss or gradient becomes non-finite; the message names the step and instance,
        and what to check (lr only where the weights blew up over the updates).
    DivergenceError
        If the run diverged while staying finite
        (:func:`~superposition_lib.core.guards.check_converged`).
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
                        checkpoint_every=checkpoint_every, callback=callback, hooks=hooks)
    return finish(spec, [block], device=device)


def train_block(spec: ExperimentSpec, start: int = 0, stop: int | None = None, *,
                device: str | torch.device = "cpu", progress: bool = True,
                checkpoint: str | os.PathLike | None = None, checkpoint_every: float = 60.0,
                callback: Callable[[int], None] | None = None,
                hooks: Iterable[TrainingHook] = (), until: int | None = None) -> TrainedBlock:
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
    device, progress, checkpoint, checkpoint_every, callback, hooks
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
        If the block is empty or out of range, or ``until`` is, or a hook would change the
        batch.
    MemoryError
        If training and evaluating the spec would not fit in memory
        (:func:`~superposition_lib.core.guards.check_memory`), before anything is trained.
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
    hooks = observers(hooks) + ([] if callback is None else [StepCallback(callback)])
    device = check_device(device)
    check_memory(spec, device)
    init_gen, data_key, eval_gen = random_sources(spec)
    params = {k: v[models].clone().to(device) for k, v in init_params(spec, init_gen).items()}
    dist = FeatureDistribution.from_spec(spec, device, models)
    importance = _importance(spec, device)[models]
    per_model = spec.batch_size * spec.n_features
    stream = UniformStream(data_key, (count, spec.batch_size, spec.n_features),
                           skip=start * per_model, step=spec.n_models * per_model)
    attack = [] if spec.attack is None else [TrainingAttack(spec, models, importance, device)]
    gradients = _gradients(spec, params, dist, stream, importance, models, device, attack)
    optimizer = _optimizer(spec, params)
    recorder = Recorder()
    history_at = set(spec.history_steps().tolist())
    snapshot_at = set(spec.snapshot_steps().tolist())
    snapshot_loss = None
    if snapshot_at:
        snap_x = snapshot_batch(spec, device, eval_gen)[models]
        snapshot_loss = FixedBatchLoss(snap_x, dist.target(snap_x), importance, spec.model)

    ckpt = Path(checkpoint) if checkpoint is not None else None
    step, elapsed = 0, 0.0
    state = _checkpoint_state(ckpt, spec, start, stop, device)
    if state is not None:
        step, elapsed = state["step"], state["wall_time"]
        for k, v in state["params"].items():
            params[k].copy_(v)
        optimizer.load_state_dict(state["optimizer"])
        stream.set_state(state["stream"])
        recorder = state["recorder"]
    recording = Recording(recorder, snapshot_at, snapshot_loss, spec.snapshot_weights)
    hooks = [recording, *hooks]
    if step == 0 and 0 in snapshot_at:
        recording.snapshot(0, params)

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
    with _signals_deferred() as interrupted:
        try:
            for step in range(first + 1, until + 1):
                lr = learning_rate(spec, step)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                loss, grads = gradients(step, step in history_at)
                check_finite(spec, step, lr, params, grads, loss, first_model=start)
                for name, p in params.items():
                    p.grad = grads[name]
                if fast_step is None:  # the first step creates the optimiser's state
                    optimizer.step()
                    fast_step = _FusedAdamStep.of(optimizer)
                else:
                    fast_step(lr)
                for hook in hooks:
                    hook.after_step(step, params, loss)
                if loss is not None:
                    bar.set_postfix(loss=f"{float(loss.mean()):.3g}", refresh=False)
                bar.update(1)
                # the last step's checkpoint resumes straight to the evaluation (finish)
                if ckpt is not None and (step == spec.steps
                                         or time.perf_counter() - last_save > checkpoint_every):
                    save_checkpoint(step, time.perf_counter() - t0)
                    last_save = time.perf_counter()
                if interrupted:
                    raise TrainingInterrupted(interrupted[0])
        except KeyboardInterrupt:
            if ckpt is not None:
                save_checkpoint(step, time.perf_counter() - t0)
            raise
        finally:
            bar.close()
    return TrainedBlock(spec, start, stop, {k: v.detach().cpu().numpy() for k, v in
                                            params.items()},
                        np.asarray(recorder.history_steps, dtype=int),
                        np.stack(recorder.history_loss or [np.zeros(count)])[
                            :len(recorder.history_steps)].astype(np.float64),
                        recorder.snapshots(spec, count), time.perf_counter() - t0)


def _importance(spec: ExperimentSpec, device: torch.device) -> torch.Tensor:
    """Every model's feature importances, shape (models, n), float32."""
    return torch.as_tensor(np.repeat(spec.importance_array(), spec.restarts, axis=0),
                           dtype=torch.float32, device=device)


def _gradients(spec: ExperimentSpec, params: dict[str, torch.Tensor], dist: FeatureDistribution,
               stream: UniformStream, importance: torch.Tensor, models: slice,
               device: torch.device,
               batch_hooks: list[TrainingHook]) -> Callable[[int, bool], tuple]:
    """The training step's loss and gradients, as ``gradients(step, with_loss)`` returning
    ``(loss or None, grads)`` for the models ``models`` with parameters ``params``, on fresh
    data from ``stream``: the fused C step where :func:`separable` says so (tied models on
    sparse uniform data, no attack), else a batch drawn from ``dist`` and passed through the
    ``before_batch`` of ``batch_hooks`` (the spec's attack), through
    :func:`~superposition_lib.core.models.loss_and_grads`."""
    if separable(spec, device):
        inv_probability = (1.0 / dist.probability).numpy()
        fused_grads = {k: torch.empty_like(v) for k, v in params.items()}

        def fused(step: int, with_loss: bool) -> tuple:
            loss, grads = fused_sparse_uniform_step(params, stream, inv_probability, importance,
                                                    spec.model, spec.batch_size, fused_grads)
            return (loss if with_loss else None), grads

        return fused
    workspace = Workspace(models.stop - models.start, spec.batch_size, spec.n_features,
                          spec.n_hidden, device)

    def general(step: int, with_loss: bool) -> tuple:
        x = dist.draw(stream)
        target = dist.target(x)
        for hook in batch_hooks:
            x = hook.before_batch(step, params, x)
        return loss_and_grads(params, x, target, importance, spec.model, with_loss=with_loss,
                              workspace=workspace)

    return general


def _optimizer(spec: ExperimentSpec, params: dict[str, torch.Tensor]) -> torch.optim.Optimizer:
    """The spec's fused Adam or AdamW over ``params`` (weight decay only for AdamW)."""
    opt_cls = torch.optim.AdamW if spec.optimizer == "adamw" else torch.optim.Adam
    return opt_cls(list(params.values()), lr=spec.lr, betas=spec.betas, eps=spec.eps,
                   weight_decay=spec.weight_decay if spec.optimizer == "adamw" else 0.0,
                   fused=True)


def _checkpoint_state(ckpt: Path | None, spec: ExperimentSpec, start: int, stop: int,
                      device: torch.device) -> dict | None:
    """The state saved in checkpoint ``ckpt`` of block ``start .. stop - 1`` of ``spec``, or
    None when there is none, or (with a warning) when it belongs to another spec or block or was
    written by a version of the library whose classes have moved since."""
    if ckpt is None or not ckpt.exists():
        return None
    try:
        state = torch.load(ckpt, weights_only=False, map_location=device)
    except (AttributeError, ImportError) as e:  # a class it pickled is no longer where it was
        warnings.warn(f"checkpoint {ckpt} was written by another version of the library and "
                      f"cannot be read ({e}); starting afresh", stacklevel=3)
        return None
    if (state["key"], *state.get("block", (0, spec.n_models))) != (spec.key(), start, stop):
        warnings.warn(f"checkpoint {ckpt} belongs to another spec or block "
                      f"({state['key']}); starting afresh", stacklevel=3)
        return None
    return state


@contextmanager
def _signals_deferred() -> Iterator[list[int]]:
    """Defer Ctrl-C and SIGTERM (what `timeout` and job schedulers send) to the end of the step
    in progress, so that a checkpoint never holds a half-done step (weights updated but the step
    not counted, or the reverse): yields the list of the signals received meanwhile (in the main
    thread only; elsewhere Python delivers no signals)."""
    interrupted = []
    in_main = threading.current_thread() is threading.main_thread()
    previous_handlers = ({signum: signal.signal(signum, lambda n, _: interrupted.append(n))
                          for signum in (signal.SIGINT, signal.SIGTERM)} if in_main else {})
    try:
        yield interrupted
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)


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
        snapshot_batch(spec, device, eval_gen)  # drawn first in training: the same stream
    join = lambda arrays, axis=0: np.concatenate(arrays, axis=axis)  # noqa: E731
    arrays = {k: join([block.params[k] for block in blocks]) for k in blocks[0].params}
    params = {k: torch.from_numpy(v).to(device) for k, v in arrays.items()}
    dist = FeatureDistribution.from_spec(spec, device)
    importance = _importance(spec, device)
    loss, loss_se, samples = evaluate(params, dist, importance, spec.model, eval_gen,
                                      max_samples=spec.eval_samples or EVAL_MAX_SAMPLES)
    check_converged(spec, loss, arrays, convergence_reference(spec, dist, importance, device))
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
