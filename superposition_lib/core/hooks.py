"""The trainer's one hook interface: what it calls around every training step.

A :class:`TrainingHook` sees a block of models at two points of every step ``t``
(:func:`~superposition_lib.core.train.train_block`):

1. :meth:`TrainingHook.before_batch`, on the general step only, with the fresh batch before the
   gradient is taken; it returns the batch to train on. Only hooks the spec itself declares
   change the batch (:class:`~superposition_lib.core.attacks.TrainingAttack`, from
   ``ExperimentSpec.attack``), so that a run always matches its spec's key.
2. :meth:`TrainingHook.after_step`, after the update, with the training loss where the history
   records it (``ExperimentSpec.history_steps``) and ``None`` elsewhere.

The trainer's own recording (:class:`~superposition_lib.core.snapshots.Recording`), the attack
of adversarial training and a caller's ``callback`` (:class:`StepCallback`) are all hooks; the
``hooks=`` of :func:`~superposition_lib.core.train.train` takes more (observers only: see
:func:`observers`).

Shapes: params ``W`` (models, m, n), ``b`` (models, n) and, for untied models, ``W_out``
(models, n, m); a batch x (models, batch, n); a loss (models,).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .shapes import Batch, Params, PerModel

__all__ = ["StepCallback", "TrainingHook", "observers"]


class TrainingHook:
    """Base class of what the trainer calls around every step; both methods do nothing here.

    Attributes
    ----------
    changes_batch : bool
        Whether :meth:`before_batch` may return another batch. Such a hook needs the general
        step (the fused C step draws and uses its batch inside C); only the spec's own hooks
        may set it.

    Examples
    --------
    A hook that keeps the largest ‖W‖ seen at the recorded steps:

    >>> from superposition_lib.core.config import ExperimentSpec
    >>> from superposition_lib.core.train import train
    >>> class LargestWeight(TrainingHook):
    ...     def __init__(self):
    ...         self.largest = 0.0
    ...     def after_step(self, step, params, loss):
    ...         if loss is not None:
    ...             self.largest = max(self.largest, float(params["W"].norm(dim=1).max()))
    >>> hook = LargestWeight()
    >>> run = train(ExperimentSpec(n_features=5, steps=50, batch_size=64), progress=False,
    ...             hooks=[hook])
    >>> 0 < hook.largest < 10
    True
    """

    changes_batch: bool = False

    def before_batch(self, step: int, params: Params, x: Batch) -> Batch:
        """The batch to train step ``step`` on.

        Parameters
        ----------
        step : int
            The step about to be taken (1-based).
        params : dict of str to Tensor
            The block's weights before the step.
        x : Tensor, shape (models, batch, n)
            The fresh batch.

        Returns
        -------
        Tensor, shape (models, batch, n)
            ``x`` itself here.
        """
        return x

    def after_step(self, step: int, params: Params, loss: PerModel | None) -> None:
        """Called after the update of step ``step``.

        Parameters
        ----------
        step : int
            The step just taken (1-based).
        params : dict of str to Tensor
            The block's weights after it (not to be modified).
        loss : Tensor, shape (models,), or None
            The step's training loss where the history records it, else ``None``.
        """


class StepCallback(TrainingHook):
    """A function of the step, called after every update: the ``callback=`` of
    :func:`~superposition_lib.core.train.train`.

    Parameters
    ----------
    function : callable
        Called as ``function(step)``.

    Examples
    --------
    >>> steps = []
    >>> StepCallback(steps.append).after_step(3, {}, None)
    >>> steps
    [3]
    """

    def __init__(self, function: Callable[[int], None]):
        self.function = function

    def after_step(self, step: int, params: Params, loss: PerModel | None) -> None:
        """Call the function with ``step``.

        Parameters
        ----------
        step : int
            The step just taken.
        params : dict of str to Tensor
            The block's weights after it.
        loss : Tensor, shape (models,), or None
            The step's training loss, where the history records it.
        """
        self.function(step)


def observers(hooks: Iterable[TrainingHook]) -> list[TrainingHook]:
    """A caller's hooks, checked to leave the training batch alone.

    Parameters
    ----------
    hooks : iterable of TrainingHook

    Returns
    -------
    list of TrainingHook

    Raises
    ------
    TypeError
        For an object that is not a :class:`TrainingHook`.
    ValueError
        For a hook that changes the batch: the run would differ from what its spec's key
        describes (an attack comes from ``ExperimentSpec.attack``).

    Examples
    --------
    >>> class Shift(TrainingHook):
    ...     changes_batch = True
    >>> observers([Shift()])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: hooks: Shift changes the training batch (changes_batch=True), so the run would ...
    """
    hooks = list(hooks)
    for hook in hooks:
        if not isinstance(hook, TrainingHook):
            raise TypeError(f"hooks: expected TrainingHook instances; got {type(hook).__name__}")
        if hook.changes_batch:
            raise ValueError(f"hooks: {type(hook).__name__} changes the training batch "
                             f"(changes_batch=True), so the run would not be the one its spec's "
                             f"key describes; batch changes come from the spec "
                             f"(ExperimentSpec.attack)")
    return hooks
