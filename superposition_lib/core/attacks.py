"""The optimal L2 attack on tied toy models, as the trainer uses it.

Elhage et al. (2022), section "Superposition and Adversarial Examples". For a tied model
x' = act(G x + b) with G = WᵀW, the perturbation of norm ε that raises feature i's
pre-activation most is δ = ε d_i with d_i = G_i / ‖G_i‖ (row i of G): the *optimal attack on
feature i*. It moves every output j by ε A_ij with A = D G, the rows of D being the d_i. A
feature with W_i = 0 has no attack (d_i = 0).

This module holds the attack itself and :class:`TrainingAttack`, the hook through which
adversarial training (``ExperimentSpec.attack``) moves every batch; the attacks' statistics on
trained runs are in :mod:`superposition_lib.analysis.adversarial`.

Shapes follow the library: W is (models, m, n), b (models, n), inputs (models, batch, n).
"""

from __future__ import annotations

import numpy as np
import torch

from .config import ExperimentSpec
from .fields import ATTACKED_MODELS
from .hooks import TrainingHook
from .models import ARCHITECTURES
from .shapes import Batch, Params, PerModel, Weights

__all__ = [
    "ATTACK_BLOCK",
    "CANDIDATES",
    "TrainingAttack",
    "attack_directions",
    "attack_losses",
    "check_attacked_model",
    "input_norms",
    "moved_inputs",
    "per_sample_loss",
    "strongest_attack",
]

#: Features tried per sample by the ``"strongest"`` training attack: those whose own output the
#: attack would raise highest (z_i + ε ‖G_i‖), of which the exact strongest is kept.
CANDIDATES = 4

#: Largest (models × samples × attacks × n) block of attacked outputs held at once (numbers);
#: :func:`~superposition_lib.core.guards.memory_needed` counts it.
ATTACK_BLOCK = 2 ** 24


def check_attacked_model(model: str) -> None:
    """Raise unless ``model`` is one of the tied models the optimal attack is derived for.

    Parameters
    ----------
    model : str
        An architecture name.

    Raises
    ------
    ValueError
        Naming the field ``model`` and the allowed values.

    Examples
    --------
    >>> check_attacked_model("relu_output")
    >>> check_attacked_model("absolute_value")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: model: the optimal attack is derived for the tied models linear, relu_output;
    got 'absolute_value'
    """
    if model not in ATTACKED_MODELS:
        raise ValueError(f"model: the optimal attack is derived for the tied models "
                         f"{', '.join(ATTACKED_MODELS)}; got {model!r}")


def attack_directions(W: Weights) -> torch.Tensor:
    """Unit directions d_i = (WᵀW)_i / ‖(WᵀW)_i‖ of the optimal attack on every feature.

    Parameters
    ----------
    W : Tensor or array_like, shape (models, m, n)

    Returns
    -------
    Tensor, shape (models, n, n)
        Row i is d_i (zero for a feature with W_i = 0).

    Examples
    --------
    >>> W = torch.tensor([[[1.0, -1.0, 0.0]]])          # an antipodal pair and a dead feature
    >>> attack_directions(W)[0]
    tensor([[ 0.7071, -0.7071,  0.0000],
            [-0.7071,  0.7071,  0.0000],
            [ 0.0000,  0.0000,  0.0000]])
    """
    W = torch.as_tensor(W, dtype=torch.float32)
    G = W.transpose(1, 2) @ W
    norm = G.norm(dim=2, keepdim=True)
    return torch.where(norm > 0, G / norm.clamp_min(torch.finfo(G.dtype).tiny), 0.0)


def input_norms(x: Batch) -> PerModel:
    """Mean input norm E‖x‖ of every model's batch, the unit of attack norms.

    Parameters
    ----------
    x : Tensor, shape (models, batch, n)

    Returns
    -------
    Tensor, shape (models,)

    Examples
    --------
    >>> input_norms(torch.tensor([[[3.0, 4.0], [0.0, 1.0]]]))
    tensor([3.])
    """
    return x.norm(dim=-1).mean(-1)


def per_sample_loss(out: torch.Tensor, target: torch.Tensor, importance: torch.Tensor
                     ) -> torch.Tensor:
    """Every sample's loss mean_j I_j (out_j − target_j)².

    Parameters
    ----------
    out, target : Tensor, shape (models, ..., n)
    importance : Tensor, shape (models, n)
        Broadcast over the middle axes.

    Returns
    -------
    Tensor, shape (models, ...)

    Examples
    --------
    >>> per_sample_loss(torch.ones(1, 2, 2), torch.zeros(1, 2, 2), torch.tensor([[1.0, 3.0]]))
    tensor([[2., 2.]])
    """
    shape = (importance.shape[0],) + (1,) * (out.dim() - 2) + (importance.shape[1],)
    return ((out - target).square() * importance.reshape(shape)).mean(-1)


def attack_losses(params: Params, x: Batch, norm: PerModel, model: str,
                  importance: torch.Tensor, features: torch.Tensor | None = None
                  ) -> torch.Tensor:
    """Every sample's loss under the optimal attack on each feature (or on some of them).

    Parameters
    ----------
    params : dict of str to Tensor
        ``W`` (models, m, n) and ``b`` (models, n) of a tied model.
    x : Tensor, shape (models, batch, n)
        Clean inputs; the target is ``x``.
    norm : Tensor, shape (models,)
        Attack norm ε of every model.
    model : str
        ``"linear"`` or ``"relu_output"``.
    importance : Tensor, shape (models, n)
    features : Tensor of int, shape (models, batch, k), optional
        The attacks to evaluate per sample; all n features by default.

    Returns
    -------
    Tensor, shape (models, batch, n) or (models, batch, k)
        Loss mean_j I_j (x'_j − x_j)² of each sample under each attack.

    Examples
    --------
    >>> params = {"W": torch.eye(2)[None], "b": torch.zeros(1, 2)}
    >>> attack_losses(params, torch.zeros(1, 1, 2), torch.tensor([0.5]), "relu_output",
    ...               torch.ones(1, 2))                    # (0.5² + 0) / 2 for either feature
    tensor([[[0.1250, 0.1250]]])
    """
    check_attacked_model(model)
    W, b = params["W"], params["b"]
    shift = (attack_directions(W) @ W.transpose(1, 2) @ W) * norm.view(-1, 1, 1)  # (k, n, n)
    z = torch.baddbmm(b.unsqueeze(1), x @ W.transpose(1, 2), W)          # (models, batch, n)
    models, batch, n = x.shape
    k = n if features is None else features.shape[-1]
    chunk = max(1, ATTACK_BLOCK // (models * k * n))
    relu = ARCHITECTURES[model].output_relu
    weight = (importance / n).unsqueeze(-1)                              # (models, n, 1)
    rows = shift.reshape(models * n, n)
    # One buffer for every chunk: a fresh (models, chunk, k, n) tensor per chunk costs more in
    # page faults than the arithmetic done in it.
    buffer = torch.empty(models * min(chunk, batch) * k * n, dtype=z.dtype, device=z.device)
    pieces = []
    for a in range(0, batch, chunk):
        z_a, x_a = z[:, a:a + chunk, None, :], x[:, a:a + chunk, None, :]
        c = z_a.shape[1]
        moved = buffer[:models * c * k * n].view(models, c, k, n)
        if features is None:
            torch.add(z_a, shift[:, None], out=moved)                    # (models, c, n, n)
        else:  # one row of A per sample and attack, by a flat row index (a fast copy)
            index = features[:, a:a + chunk] + n * torch.arange(models).view(-1, 1, 1)
            torch.index_select(rows, 0, index.reshape(-1), out=moved.view(-1, n))
            moved += z_a
        if relu:
            moved.relu_()
        moved.sub_(x_a).square_()                  # in place: this is the attack's whole cost
        pieces.append(torch.bmm(moved.view(models, -1, n), weight).view(models, -1, k))
    return torch.cat(pieces, 1)


def strongest_attack(params: Params, x: Batch, norm: PerModel, model: str,
                     importance: torch.Tensor, candidates: int | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """The optimal attack on the feature that raises each sample's loss most.

    Parameters
    ----------
    params, x, norm, model, importance
        As for :func:`attack_losses`.
    candidates : int, optional
        Try only the features whose own pre-activation the attack raises highest,
        z_i + ε ‖G_i‖ (cheap: O(n) per sample instead of O(n²)); all features by default.

    Returns
    -------
    feature : Tensor of int, shape (models, batch)
        The attacked feature of every sample.
    loss : Tensor, shape (models, batch)
        Its loss under that attack.

    Examples
    --------
    >>> params = {"W": torch.tensor([[[1.0, 0.5]]]), "b": torch.zeros(1, 2)}
    >>> feature, loss = strongest_attack(params, torch.zeros(1, 1, 2), torch.tensor([1.0]),
    ...                                  "relu_output", torch.ones(1, 2))
    >>> feature
    tensor([[0]])
    """
    if candidates is None or candidates >= x.shape[-1]:
        losses = attack_losses(params, x, norm, model, importance)
        loss, feature = losses.max(-1)
        return feature, loss
    W, b = params["W"], params["b"]
    G = W.transpose(1, 2) @ W
    z = torch.baddbmm(b.unsqueeze(1), x @ W.transpose(1, 2), W)
    rise = z + norm.view(-1, 1, 1) * G.norm(dim=2).unsqueeze(1)          # (models, batch, n)
    tried = rise.topk(candidates, dim=-1).indices                         # (models, batch, k)
    losses = attack_losses(params, x, norm, model, importance, tried)
    loss, best = losses.max(-1)
    return torch.gather(tried, 2, best.unsqueeze(-1)).squeeze(-1), loss


def moved_inputs(W: Weights, x: Batch, norm: PerModel, feature: torch.Tensor) -> Batch:
    """Inputs moved by the optimal attack on given features.

    Parameters
    ----------
    W : Tensor, shape (models, m, n)
    x : Tensor, shape (models, batch, n)
    norm : Tensor, shape (models,)
    feature : Tensor of int, shape (models, batch)

    Returns
    -------
    Tensor, shape (models, batch, n)
        ``x + ε d_feature``.

    Examples
    --------
    >>> moved_inputs(torch.eye(2)[None], torch.zeros(1, 1, 2), torch.tensor([2.0]),
    ...              torch.tensor([[1]]))
    tensor([[[0., 2.]]])
    """
    models, _, n = x.shape
    index = feature + n * torch.arange(models, device=x.device).view(-1, 1)
    d = attack_directions(W).to(x.device).reshape(models * n, n)
    return x + norm.view(-1, 1, 1) * d.index_select(0, index.reshape(-1)).view(x.shape)


class TrainingAttack(TrainingHook):
    """The attack of adversarial training (``ExperimentSpec.attack``) for a block of models: a
    :class:`~superposition_lib.core.hooks.TrainingHook` that changes the batch.

    Once per step (:meth:`before_batch`), it moves the clean batch by the optimal attack of norm
    ``attack_norm`` × the batch's mean input norm, on a random feature per sample or on the
    strongest of :data:`CANDIDATES` candidates. The attack is computed from the current weights
    and then held fixed while the gradient is taken (Danskin's theorem: the gradient of the
    worst-case loss is the gradient at the worst case). Random features are drawn from a
    stream of the spec's seed and the step, so a run resumed from a checkpoint draws the same.

    Parameters
    ----------
    spec : ExperimentSpec
        With ``attack`` set.
    models : slice
        The block of models trained.
    importance : Tensor, shape (block models, n)
    device : torch.device

    Examples
    --------
    >>> spec = ExperimentSpec(n_features=3, n_hidden=2, attack="random", attack_norm=0.5)
    >>> attack = TrainingAttack(spec, slice(None), torch.ones(1, 3), torch.device("cpu"))
    >>> x = torch.rand(1, 4, 3)
    >>> moved = attack.before_batch(1, {"W": torch.randn(1, 2, 3), "b": torch.zeros(1, 3)}, x)
    >>> torch.allclose((moved - x).norm(dim=-1), 0.5 * input_norms(x).expand(4))
    True
    """

    def __init__(self, spec: ExperimentSpec, models: slice, importance: torch.Tensor,
                 device: torch.device):
        check_attacked_model(spec.model)
        self.spec, self.models, self.importance = spec, models, importance
        fraction = np.repeat(spec.attack_norm_array(), spec.restarts)[models]
        self.fraction = torch.as_tensor(fraction, dtype=torch.float32, device=device)

    changes_batch = True

    def before_batch(self, step: int, params: Params, x: Batch) -> Batch:
        """The attacked batch for training step ``step``.

        Parameters
        ----------
        step : int
            The step about to be taken (it seeds the random features).
        params : dict of str to Tensor
            The block's weights before the step.
        x : Tensor, shape (models, batch, n)
            The clean batch.

        Returns
        -------
        Tensor, shape (models, batch, n)
        """
        spec = self.spec
        with torch.no_grad():
            norm = self.fraction * input_norms(x)
            if spec.attack == "random":
                seed = np.random.SeedSequence(spec.seed, spawn_key=(4, step))
                generator = torch.Generator().manual_seed(int(seed.generate_state(1)[0]))
                feature = torch.randint(spec.n_features, (spec.n_models, x.shape[1]),
                                        generator=generator)[self.models].to(x.device)
            else:
                feature, _ = strongest_attack(params, x, norm, spec.model, self.importance,
                                              CANDIDATES)
            return moved_inputs(params["W"], x, norm, feature)
