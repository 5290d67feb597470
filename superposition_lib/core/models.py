"""The paper's toy models, batched over many independent models.

All four models share one shape: an encoder W (m × n per model; column W_i is feature i's
direction), an optional ReLU on the hidden layer, a decoder, a bias b and an optional ReLU on the
output (Elhage et al. 2022, sections "Demonstrating superposition", "Superposition in a privileged
basis" and "Computation in superposition"):

========================  ====================================  ===============  ===========
model                     equation                              hidden ReLU      decoder
========================  ====================================  ===============  ===========
``linear``                x' = WᵀWx + b                         no               Wᵀ (tied)
``relu_output``           x' = ReLU(WᵀWx + b)                   no               Wᵀ (tied)
``relu_hidden``           x' = ReLU(Wᵀ ReLU(Wx) + b)            yes              Wᵀ (tied)
``absolute_value``        y' = ReLU(W₂ ReLU(W₁x) + b)           yes              W₂ (n × m)
========================  ====================================  ===============  ===========

:func:`forward` is plain PyTorch (autograd works through it; analysis code uses it).
:func:`loss_and_grads` computes the loss and its exact gradients by hand in a few fused passes,
which is what makes training fast on a CPU; ``tests/test_models.py`` checks it against autograd.
:func:`fused_sparse_uniform_step` does the same for small tied models with the batch drawn inside
a C kernel, for grids of thousands of tiny models.

The loss of one model is the importance-weighted squared error averaged over batch and features,
``mean_{batch, i} I_i (y_i − y'_i)²``, as in the paper's notebook (which sums it over models).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .config import ExperimentSpec
from .kernels import backend, in_halves, relu_error, tied_step
from .shapes import Batch, Params, PerModel


@dataclass(frozen=True)
class Architecture:
    """Which nonlinearities and weight tying a model kind has.

    Parameters
    ----------
    hidden_relu : bool
        ReLU on the hidden layer (a privileged basis).
    output_relu : bool
        ReLU on the output.
    tied : bool
        Decoder is Wᵀ; otherwise a separate ``W_out`` of shape (n, m).

    Examples
    --------
    >>> ARCHITECTURES["relu_hidden"]
    Architecture(hidden_relu=True, output_relu=True, tied=True)
    """

    hidden_relu: bool
    output_relu: bool
    tied: bool


#: The :class:`Architecture` of every model kind (its keys are ``fields.MODELS``).
ARCHITECTURES = {
    "linear": Architecture(hidden_relu=False, output_relu=False, tied=True),
    "relu_output": Architecture(hidden_relu=False, output_relu=True, tied=True),
    "relu_hidden": Architecture(hidden_relu=True, output_relu=True, tied=True),
    "absolute_value": Architecture(hidden_relu=True, output_relu=True, tied=False),
}


def init_params(spec: ExperimentSpec, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Initial parameters of every model of ``spec``.

    Parameters
    ----------
    spec : ExperimentSpec
        Sizes, model kind, ``init`` scheme and ``init_scale``.
    generator : torch.Generator
        Source of the random weights.

    Returns
    -------
    dict of str to Tensor
        ``"W"`` shape (models, m, n); ``"b"`` shape (models, n), zeros; for the untied
        ``absolute_value`` model also ``"W_out"`` shape (models, n, m).

    Examples
    --------
    >>> from superposition_lib import ExperimentSpec
    >>> params = init_params(ExperimentSpec(n_features=5, n_hidden=2, feature_probability=[1, .1]),
    ...                      torch.Generator().manual_seed(0))
    >>> {k: tuple(v.shape) for k, v in params.items()}
    {'W': (2, 2, 5), 'b': (2, 5)}
    """
    models, m, n = spec.n_models, spec.n_hidden, spec.n_features
    if spec.init == "xavier":
        std = math.sqrt(2.0 / (m + n))
    else:  # the notebook: xavier_normal_ on the (instances, n, m) tensor
        std = math.sqrt(2.0 / (m * (n + models)))
    scale = spec.init_scale_array()
    if (scale != 1).any():
        std = torch.as_tensor(scale * std, dtype=torch.float32).repeat_interleave(
            spec.restarts).view(models, 1, 1)
    params = {"W": torch.randn(models, m, n, generator=generator) * std,
              "b": torch.zeros(models, n)}
    if not ARCHITECTURES[spec.model].tied:
        params["W_out"] = torch.randn(models, n, m, generator=generator) * std
    return params


def _decoder(params: Params) -> torch.Tensor:
    """The (models, m, n) matrix V with output pre-activation z = h V + b."""
    return params["W_out"].transpose(1, 2) if "W_out" in params else params["W"]


def forward(params: Params, x: Batch, model: str) -> Batch:
    """Model output for a batch of inputs.

    Parameters
    ----------
    params : dict of str to Tensor
        As returned by :func:`init_params`.
    x : Tensor, shape (models, batch, n)
        Inputs.
    model : str
        Model kind (a key of :data:`ARCHITECTURES`).

    Returns
    -------
    Tensor, shape (models, batch, n)

    Examples
    --------
    >>> W = torch.tensor([[[1.0, -1.0]]])            # one model, m=1, n=2: an antipodal pair
    >>> params = {"W": W, "b": torch.zeros(1, 2)}
    >>> forward(params, torch.tensor([[[0.5, 0.0]]]), "relu_output")
    tensor([[[0.5000, 0.0000]]])
    """
    arch = ARCHITECTURES[model]
    h = torch.bmm(x, params["W"].transpose(1, 2))
    if arch.hidden_relu:
        h = torch.relu(h)
    z = torch.baddbmm(params["b"].unsqueeze(1), h, _decoder(params))
    return torch.relu(z) if arch.output_relu else z


def per_model_loss(out: Batch, target: Batch, importance: torch.Tensor) -> PerModel:
    """Importance-weighted squared error averaged over batch and features.

    Parameters
    ----------
    out, target : Tensor, shape (models, batch, n)
    importance : Tensor, shape (models, n)

    Returns
    -------
    Tensor, shape (models,)

    Examples
    --------
    >>> per_model_loss(torch.ones(1, 2, 2), torch.zeros(1, 2, 2), torch.tensor([[1.0, 3.0]]))
    tensor([2.])
    """
    err = (out - target).square_().mean(1)  # (models, n)
    return (err * importance).mean(1)


class Workspace:
    """Reusable buffers for :func:`loss_and_grads`.

    Allocating the large per-step tensors anew every step costs as much as a matrix product on a
    CPU, so the trainer keeps them. The hidden layer is stored with one extra unit fixed at 1
    (carrying the bias) and zero padding up to a multiple of 8 units, the widths at which CPU
    matrix products run fastest (m + 1 = 31 is about 1.5x slower than 32 here).

    Parameters
    ----------
    models, batch, n, m : int
        Sizes of the batches the workspace will serve.
    device : str or torch.device
    dtype : torch.dtype

    Examples
    --------
    >>> ws = Workspace(models=3, batch=8, n=5, m=2)
    >>> tuple(ws.z.shape), tuple(ws.h.shape)
    ((3, 8, 5), (3, 8, 8))
    """

    def __init__(self, models: int, batch: int, n: int, m: int,
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32):
        width = -(-(m + 1) // 8) * 8
        new = lambda *shape: torch.empty(shape, device=device, dtype=dtype)  # noqa: E731
        self.m = m
        self.h = new(models, batch, width)          # [h, 1, 0…]
        self.grad_h = new(models, batch, width)
        self.z = new(models, batch, n)
        self.g = new(models, batch, n)
        self.padding = torch.zeros(models, width - m, n, device=device, dtype=dtype)

    def fits(self, x: torch.Tensor, m: int) -> bool:
        """Whether the buffers serve a batch and hidden size.

        Parameters
        ----------
        x : Tensor, shape (models, batch, n)
            A batch of inputs.
        m : int
            Hidden size.

        Returns
        -------
        bool

        Examples
        --------
        >>> Workspace(models=3, batch=8, n=5, m=2).fits(torch.zeros(3, 8, 5), m=2)
        True
        """
        return (self.z.shape == x.shape and self.m == m
                and self.z.device == x.device and self.z.dtype == x.dtype)


def loss_and_grads(params: Params, x: Batch, target: Batch, importance: torch.Tensor,
                   model: str, with_loss: bool = False, workspace: Workspace | None = None
                   ) -> tuple[PerModel | None, Params]:
    """Loss and exact gradients of every model, computed without autograd.

    With ``h = act(x Wᵀ)``, ``z = h V + b`` and ``out = act(z)``, the gradient of the loss
    ``mean_{batch,i} I_i (out_i − y_i)²`` is ``G = (2 I / (batch · n)) ⊙ act'(z) ⊙ (z − y)``
    (where the output ReLU is active, ``out − y = z − y``), and then ``∂b = Σ_batch G``,
    ``∂V = hᵀ G``, ``∂h = G Vᵀ ⊙ act'(h)``, ``∂W = ∂hᵀ x`` (plus ``∂V`` when tied). The bias
    rides along as an extra hidden unit fixed at 1 (so ``∂b`` is a row of ``∂V``), and the
    importance factor is folded into small matrices instead of the (models, batch, n) tensors.

    Parameters
    ----------
    params : dict of str to Tensor
        As returned by :func:`init_params`.
    x : Tensor, shape (models, batch, n)
        Inputs.
    target : Tensor, shape (models, batch, n)
        Desired outputs (may be ``x`` itself).
    importance : Tensor, shape (models, n)
        Feature importances.
    model : str
        Model kind.
    with_loss : bool
        Also return the loss (costs one more pass over the batch).
    workspace : Workspace, optional
        Buffers to reuse between calls; allocated if not given or of the wrong size.

    Returns
    -------
    loss : Tensor, shape (models,), or None
    grads : dict of str to Tensor
        Same keys and shapes as ``params``.

    Examples
    --------
    >>> params = {"W": torch.randn(3, 2, 5), "b": torch.zeros(3, 5)}
    >>> x = torch.rand(3, 8, 5)
    >>> loss, grads = loss_and_grads(params, x, x, torch.ones(3, 5), "relu_output", True)
    >>> loss.shape, grads["W"].shape
    (torch.Size([3]), torch.Size([3, 2, 5]))
    """
    arch = ARCHITECTURES[model]
    models, batch, n = x.shape
    W = params["W"]
    m = W.shape[1]
    if workspace is None or not workspace.fits(x, m):
        workspace = Workspace(models, batch, n, m, x.device, x.dtype)
    h, z, g, grad_h = workspace.h, workspace.z, workspace.g, workspace.grad_h
    pad = workspace.padding                                           # (models, width − m, n)
    # Transposed weights are made contiguous: strided ones make small products 2x slower.
    encoder = torch.cat([W, pad], 1).transpose(1, 2).contiguous()      # (models, n, width)
    torch.bmm(x, encoder, out=h)                                      # (models, batch, width)
    h[..., m] = 1.0
    if arch.hidden_relu:
        h.relu_()
    V = torch.cat([_decoder(params), params["b"].unsqueeze(1), pad[:, 1:]], 1)  # (models, width, n)
    torch.bmm(h, V, out=z)                                            # z = h V + b
    loss = None
    if with_loss:
        out = z.relu() if arch.output_relu else z
        loss = per_model_loss(out, target, importance)
    if arch.output_relu and z.device.type == "cpu" and z.dtype == torch.float32 \
            and target.is_contiguous():
        z_, t_, g_ = (a.numpy().reshape(-1, n) for a in (z, target, g))  # one fused pass
        in_halves(lambda a, b: relu_error(z_[a:b], t_[a:b], g_[a:b]), len(z_), n)
    else:
        torch.sub(z, target, out=g)                                   # out − y where active
        if arch.output_relu:
            torch.ops.aten.threshold_backward.grad_input(g, z, 0, grad_input=g)
    scale = importance * (2.0 / (batch * n))                          # (models, n)
    grad_V = torch.bmm(h.transpose(1, 2), g).mul_(scale.unsqueeze(1))  # (models, width, n)
    torch.bmm(g, (V * scale.unsqueeze(1)).transpose(1, 2).contiguous(), out=grad_h)
    if arch.hidden_relu:
        torch.ops.aten.threshold_backward.grad_input(grad_h, h, 0, grad_input=grad_h)
    grad_W = torch.bmm(grad_h.transpose(1, 2), x)[:, :m]               # (models, m, n)
    grad_b = grad_V[:, m]
    grad_V = grad_V[:, :m]
    # Contiguous copies (small): PyTorch's fused AdamW silently mis-updates strided gradients.
    if arch.tied:
        return loss, {"W": grad_W.add(grad_V), "b": grad_b.contiguous()}
    return loss, {"W": grad_W.contiguous(), "b": grad_b.contiguous(),
                  "W_out": grad_V.transpose(1, 2).contiguous()}


def fused_step_available(model: str, device: str | torch.device) -> bool:
    """Whether :func:`fused_sparse_uniform_step` can train these models.

    Parameters
    ----------
    model : str
        Model kind; the fused step covers the tied models: ``relu_output``, ``relu_hidden``
        and ``linear``, of any size.
    device : str or torch.device
        Only the CPU.

    Returns
    -------
    bool
        Also False when the C kernels could not be built.

    Examples
    --------
    >>> fused_step_available("absolute_value", "cpu")
    False
    """
    return (model in ("relu_output", "linear", "relu_hidden")
            and torch.device(device).type == "cpu" and backend() == "c")


def fused_sparse_uniform_step(params: dict[str, torch.Tensor], stream, inv_probability,
                              importance: torch.Tensor, model: str, batch: int,
                              grads: dict[str, torch.Tensor] | None = None
                              ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Loss and exact gradients on the next sparse uniform batch of a stream, fused in C.

    Gives what ``loss_and_grads(params, x, x, importance, model, True)`` gives for
    ``x = stream.next_sparse_uniform(inv_probability)`` (up to float rounding), and advances the
    stream the same way, but never stores x: each model's samples are drawn, pushed through the
    model and reduced into gradients in C (:func:`~superposition_lib.core.kernels.tied_step`). Check
    :func:`fused_step_available` first.

    Parameters
    ----------
    params : dict of str to Tensor
        ``W`` (models, m, n) and ``b`` (models, n), float32 on the CPU.
    stream : UniformStream
        The training stream, of shape (models, batch, n); advanced by one draw.
    inv_probability : numpy.ndarray, shape (models, n)
        float32 ``1 / p``.
    importance : Tensor, shape (models, n)
    model : str
        ``"relu_output"``, ``"relu_hidden"`` or ``"linear"``.
    batch : int
        Samples per model.
    grads : dict of str to Tensor, optional
        Buffers to write the gradients into (reused between steps); allocated if not given.

    Returns
    -------
    loss : Tensor, shape (models,)
    grads : dict of str to Tensor
        ``W`` and ``b``, shaped like ``params``.

    Examples
    --------
    >>> import numpy as np
    >>> from superposition_lib.core.data import UniformStream
    >>> params = {"W": torch.tensor([[[1.0, -1.0]]]), "b": torch.zeros(1, 2)}
    >>> stream = UniformStream(0, (1, 4096, 2))
    >>> inv_p = np.ones((1, 2), np.float32)
    >>> if fused_step_available("relu_output", "cpu"):
    ...     loss, grads = fused_sparse_uniform_step(params, stream, inv_p, torch.ones(1, 2),
    ...                                             "relu_output", 4096)
    ...     assert abs(float(loss[0]) - 1 / 6) < 0.01 and stream.state() == 8192
    """
    W, b = params["W"].detach(), params["b"].detach()
    if grads is None:
        grads = {"W": torch.empty_like(W), "b": torch.empty_like(b)}
    loss = torch.empty(W.shape[0])
    if not tied_step(W.numpy(), b.numpy(), importance.numpy(), inv_probability, batch,
                     model != "linear", stream.key, stream.start(), grads["W"].numpy(),
                     grads["b"].numpy(), loss.numpy(), hidden_relu=model == "relu_hidden"):
        raise RuntimeError("fused_sparse_uniform_step: not available for these models; check "
                           "fused_step_available first")
    stream.advance()
    return loss, grads
