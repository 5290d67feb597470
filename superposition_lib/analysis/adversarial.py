"""Adversarial attacks on tied toy models, and vulnerability relative to a model without
superposition (Elhage et al., 2022, section "Superposition and Adversarial Examples").

For a tied model x' = act(G x + b) with G = WᵀW (``act`` the identity or a ReLU), an input
perturbation δ moves the output pre-activation by G δ. The *optimal attack on feature i*, the
perturbation of norm ε that raises feature i's pre-activation most, and the strongest of them
per sample are computed in :mod:`superposition_lib.core.attacks` (the trainer's adversarial
training uses them too); this module measures them, and the gradient attacks, on trained runs.

Without superposition (the top-m features by importance on orthogonal directions, W = [I | 0],
b = 0), G = diag(1, …, 1, 0, …) and the attack on a kept feature i raises its output by exactly
ε, whatever the input (inputs are non-negative), so the increase of the loss
mean_j I_j (x'_j − x_j)² is ε² I_i / n; the strongest is ε² max_i I_i / n, in closed form.
A model in superposition has ‖G_i‖ > ‖W_i‖² wherever W_i interferes with other features, and
its attack also moves those features: :func:`vulnerability` divides its loss increase under the
strongest attack by the baseline's.

Shapes follow the library: W is (models, m, n), b (models, n), inputs (models, batch, n).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..core import metrics
from ..core.attacks import (
    check_attacked_model,
    input_norms,
    moved_inputs,
    per_sample_loss,
    strongest_attack,
)
from ..core.config import ExperimentSpec
from ..core.data import FeatureDistribution
from ..core.models import forward
from ..core.run import Run

__all__ = [
    "ATTACK_FRACTION",
    "attack_frame",
    "baseline_increase",
    "pgd_attack",
    "pgd_frame",
    "random_attack",
    "sample_inputs",
    "vulnerability",
]

#: The paper's attack norm: a tenth of the mean input norm.
ATTACK_FRACTION = 0.1

def random_attack(W: torch.Tensor, x: torch.Tensor, norm: torch.Tensor,
                  generator: torch.Generator) -> torch.Tensor:
    """Inputs moved by the optimal attack on a feature drawn uniformly for every sample.

    Parameters
    ----------
    W : Tensor, shape (models, m, n)
    x : Tensor, shape (models, batch, n)
    norm : Tensor, shape (models,)
        Attack norm ε of every model.
    generator : torch.Generator
        Draws the attacked features.

    Returns
    -------
    Tensor, shape (models, batch, n)
        ``x + ε d_i`` with i drawn per sample.

    Examples
    --------
    >>> x = torch.zeros(1, 3, 2)
    >>> moved = random_attack(torch.eye(2)[None], x, torch.tensor([0.5]), torch.Generator())
    >>> moved.norm(dim=-1)
    tensor([[0.5000, 0.5000, 0.5000]])
    """
    models, batch, n = x.shape
    feature = torch.randint(n, (models, batch), generator=generator, device=x.device)
    return moved_inputs(W, x, norm, feature)


def pgd_attack(params: dict, x: torch.Tensor, norm: torch.Tensor, model: str,
               importance: torch.Tensor, *, steps: int = 50, random_start: bool = False,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Every sample's loss under an L2 projected-gradient attack (the best iterate).

    Gradient ascent on the loss with steps of length 2.5 ε / ``steps`` along the normalised
    gradient, each followed by projection onto the ball ‖δ‖ ≤ ε. From δ = 0, an output whose
    ReLU is off passes no gradient, so the ascent cannot aim at an absent feature: the gradient
    masking that the paper expects to weaken gradient-based attacks on these models.

    Parameters
    ----------
    params, x, norm, model, importance
        As for :func:`~superposition_lib.core.attacks.attack_losses` (any model of
        :data:`~superposition_lib.core.models.ARCHITECTURES` whose forward pass is
        differentiable).
    steps : int
        Ascent steps.
    random_start : bool
        Start from a uniformly random point of the sphere ‖δ‖ = ε instead of δ = 0.
    generator : torch.Generator, optional
        Draws the random start.

    Returns
    -------
    Tensor, shape (models, batch)
        The highest loss met along the ascent.

    Examples
    --------
    A perfect model has zero error, so zero gradient, at every clean input: from δ = 0 the
    ascent never moves, while a random start finds most of the optimal 0.5² / 2 = 0.125.

    >>> params = {"W": torch.eye(2)[None], "b": torch.zeros(1, 2)}
    >>> x = torch.tensor([[[1.0, 0.0]]])
    >>> pgd_attack(params, x, torch.tensor([0.5]), "relu_output", torch.ones(1, 2))
    tensor([[0.]])
    >>> loss = pgd_attack(params, x, torch.tensor([0.5]), "relu_output", torch.ones(1, 2),
    ...                   random_start=True, generator=torch.Generator().manual_seed(0))
    >>> 0.1 < float(loss) <= 0.125
    True
    """
    params = {k: v.detach() for k, v in params.items()}
    radius = norm.view(-1, 1, 1)
    if random_start:
        delta = torch.randn(x.shape, generator=generator).to(x.device)
        delta = delta / delta.norm(dim=-1, keepdim=True).clamp_min(1e-12) * radius
    else:
        delta = torch.zeros_like(x)
    best = per_sample_loss(forward(params, x + delta, model), x, importance)
    for _ in range(steps):
        delta.requires_grad_(True)
        loss = per_sample_loss(forward(params, x + delta, model), x, importance)
        (grad,) = torch.autograd.grad(loss.sum(), delta)
        with torch.no_grad():
            step = grad / grad.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            delta = delta + 2.5 * radius / steps * step
            delta = delta * (radius / delta.norm(dim=-1, keepdim=True).clamp_min(1e-12)
                             ).clamp(max=1.0)
            best = torch.maximum(best, per_sample_loss(forward(params, x + delta, model), x,
                                                        importance))
    return best.detach()


def baseline_increase(spec: ExperimentSpec, norm, models=None) -> np.ndarray:
    """Loss increase under the strongest optimal attack of the model without superposition.

    The baseline keeps the m most important features on orthogonal directions (W = [I | 0],
    b = 0); the attack on kept feature i raises its output by ε whatever the (non-negative)
    input, so the increase is ε² I_i / n, and the strongest is ε² max_i I_i / n (the most
    important feature is kept), in closed form.

    Parameters
    ----------
    spec : ExperimentSpec
        Gives m, n and the importances (a tied model on non-negative data).
    norm : array_like, shape (models,)
        Attack norm ε of every model.
    models : array_like of int, shape (models,), optional
        Which models of ``spec`` (restarts included) ``norm`` belongs to, as ``Run.models``;
        all of them by default.

    Returns
    -------
    ndarray, shape (models,)

    Examples
    --------
    >>> spec = ExperimentSpec(n_features=4, n_hidden=2, importance=[1.0, 0.5, 0.2, 2.0])
    >>> baseline_increase(spec, [0.2])                    # 0.2² × 2 / 4
    array([0.02])
    """
    check_attacked_model(spec.model)
    importance = np.repeat(spec.importance_array(), spec.restarts, axis=0)
    if models is not None:
        importance = importance[np.asarray(models)]
    return np.asarray(norm, dtype=float) ** 2 * importance.max(1) / spec.n_features


def sample_inputs(run: Run, samples: int, seed: int = 0) -> torch.Tensor:
    """Fresh inputs from every model's training distribution, for attack statistics.

    Parameters
    ----------
    run : Run
    samples : int
        Inputs per model.
    seed : int
        Seed of a stream of its own (not the run's evaluation samples).

    Returns
    -------
    Tensor, shape (models, samples, n)

    Examples
    --------
    >>> spec = ExperimentSpec(n_features=3, n_hidden=1, feature_probability=[0.5, 0.1],
    ...                       steps=1)
    >>> from superposition_lib import train
    >>> sample_inputs(train(spec, progress=False), 4).shape
    torch.Size([2, 4, 3])
    """
    dist = FeatureDistribution.from_spec(run.spec)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(7,))))
    return dist.sample(samples, rng)[run.models]


def _attacked(run: Run, fraction: float, samples: int, seed: int) -> tuple:
    """What both attack frames start from: the inputs x, parameters, importances, attack norms
    ε, the clean per-sample losses, and the strongest optimal attack's features and losses."""
    check_attacked_model(run.spec.model)
    x = sample_inputs(run, samples, seed)
    params = {"W": torch.as_tensor(run.W, dtype=torch.float32),
              "b": torch.as_tensor(run.b, dtype=torch.float32)}
    importance = torch.as_tensor(run.importance, dtype=torch.float32)
    eps = fraction * input_norms(x)
    with torch.no_grad():
        clean = per_sample_loss(forward(params, x, run.spec.model), x, importance)
        feature, attacked = strongest_attack(params, x, eps, run.spec.model, importance)
    return x, params, importance, eps, clean, feature, attacked


def attack_frame(run: Run, *, fraction: float = ATTACK_FRACTION, samples: int = 2048,
                 seed: int = 0) -> pd.DataFrame:
    """Every model's loss under the strongest optimal attack, and its relative vulnerability.

    Parameters
    ----------
    run : Run
        Tied models (``linear`` or ``relu_output``) on non-negative data.
    fraction : float
        Attack norm as a fraction of the mean input norm (0.1 in the paper).
    samples : int
        Inputs per model (:func:`sample_inputs`).
    seed : int
        Seed of the inputs.

    Returns
    -------
    pandas.DataFrame
        One row per model: ``model``, ``instance``, ``restart``, ``density`` (mean 1 − S),
        ``inverse_density``, ``features_per_dimension`` ‖W‖_F² / m, ``input_norm``,
        ``attack_norm`` ε, ``clean_loss`` and ``attacked_loss`` (means over the samples),
        ``increase`` and its standard error ``increase_se``, ``baseline_increase``
        (:func:`baseline_increase`), ``vulnerability`` (their ratio) with ``vulnerability_se``,
        ``absent_target`` (the share of samples whose strongest attack is on a feature absent
        from them) and ``own_output``: max_i I_i ‖(WᵀW)_i‖² / max_j I_j, the relative
        vulnerability if the attack moved only the attacked feature's output (by ε ‖(WᵀW)_i‖,
        which is ε ‖W_i‖² / √D_i) through an active ReLU.

    Examples
    --------
    >>> from superposition_lib import train
    >>> spec = ExperimentSpec(n_features=5, n_hidden=2, feature_probability=[1.0, 0.05],
    ...                       steps=200)
    >>> frame = attack_frame(train(spec, progress=False), samples=256)
    >>> list(frame.columns[:4])
    ['model', 'instance', 'restart', 'density']
    """
    x, _, _, eps, clean, feature, attacked = _attacked(run, fraction, samples, seed)
    increase = (attacked - clean).double().numpy()
    present = torch.gather(x, 2, feature.unsqueeze(-1)).squeeze(-1) > 0
    base = baseline_increase(run.spec, eps.double().numpy(), run.models)
    p = run.feature_probability.mean(1)
    se = increase.std(1, ddof=1) / np.sqrt(samples)
    row_norms = np.square(metrics.gram(run.W)).sum(2)                   # ‖G_i‖², (models, n)
    own = (run.importance * row_norms).max(1) / run.importance.max(1)
    return pd.DataFrame({
        "model": run.models, "instance": run.instance, "restart": run.restart,
        "density": p, "inverse_density": 1 / p,
        "features_per_dimension": metrics.features_per_dimension(run.W),
        "input_norm": input_norms(x).double().numpy(), "attack_norm": eps.double().numpy(),
        "clean_loss": clean.double().mean(1).numpy(),
        "attacked_loss": attacked.double().mean(1).numpy(),
        "increase": increase.mean(1), "increase_se": se, "baseline_increase": base,
        "vulnerability": increase.mean(1) / base, "vulnerability_se": se / base,
        "absent_target": 1 - present.double().mean(1).numpy(), "own_output": own,
    })


def vulnerability(run: Run, *, fraction: float = ATTACK_FRACTION, samples: int = 2048,
                  seed: int = 0) -> np.ndarray:
    """Vulnerability of every model relative to the no-superposition baseline.

    The mean loss increase under the strongest optimal attack of norm ``fraction`` × E‖x‖,
    divided by the same increase for the model that keeps the top-m features orthogonally
    (closed form, :func:`baseline_increase`). 1 means as vulnerable as a model without
    superposition.

    Parameters
    ----------
    run : Run
        Tied models on non-negative data.
    fraction, samples, seed
        As for :func:`attack_frame`.

    Returns
    -------
    ndarray, shape (models,)

    Examples
    --------
    >>> from dataclasses import replace
    >>> from superposition_lib import train
    >>> spec = ExperimentSpec(n_features=5, n_hidden=2, feature_probability=0.2, steps=1)
    >>> W = np.concatenate([np.eye(2), np.zeros((2, 3))], 1)[None]     # the baseline itself
    >>> baseline = replace(train(spec, progress=False), W=W, b=np.zeros((1, 5)))
    >>> vulnerability(baseline, samples=512).round(4)
    array([1.])
    """
    return attack_frame(run, fraction=fraction, samples=samples, seed=seed)[
        "vulnerability"].to_numpy()


def pgd_frame(run: Run, *, fraction: float = ATTACK_FRACTION, samples: int = 512,
              steps: int = 50, seed: int = 0) -> pd.DataFrame:
    """The optimal attack against projected gradient ascent from δ = 0 and from a random start.

    Parameters
    ----------
    run : Run
        Tied models on non-negative data.
    fraction : float
        Attack norm as a fraction of the mean input norm.
    samples : int
        Inputs per model.
    steps : int
        Ascent steps of :func:`pgd_attack`.
    seed : int
        Seed of the inputs and of the random starts.

    Returns
    -------
    pandas.DataFrame
        One row per model: ``model``, ``instance``, ``density``, ``inverse_density``,
        ``features_per_dimension``; the mean loss increases ``optimal`` (strongest optimal
        attack), ``pgd_zero``, ``pgd_random`` and ``pgd_best`` (per sample the better of the
        two starts); ``baseline_increase`` (:func:`baseline_increase`); the ratios
        ``zero_ratio`` and ``random_ratio`` of the gradient attacks to the optimal one; and
        ``pgd_vulnerability``, ``pgd_best`` relative to the baseline (whose increase no attack
        of norm ε can exceed: its loss rises by ‖δ‖² / n at most).

    Examples
    --------
    >>> from superposition_lib import train
    >>> spec = ExperimentSpec(n_features=5, n_hidden=2, feature_probability=0.05, steps=200)
    >>> frame = pgd_frame(train(spec, progress=False), samples=64, steps=10)
    >>> bool((frame["optimal"] > 0).all())
    True
    """
    x, params, importance, eps, clean, _, optimal = _attacked(run, fraction, samples, seed)
    model = run.spec.model
    generator = torch.Generator().manual_seed(seed)
    zero = pgd_attack(params, x, eps, model, importance, steps=steps)
    rand = pgd_attack(params, x, eps, model, importance, steps=steps, random_start=True,
                      generator=generator)
    mean = lambda loss: (loss - clean).double().mean(1).numpy()  # noqa: E731
    p = run.feature_probability.mean(1)
    frame = pd.DataFrame({
        "model": run.models, "instance": run.instance, "density": p, "inverse_density": 1 / p,
        "features_per_dimension": metrics.features_per_dimension(run.W),
        "optimal": mean(optimal), "pgd_zero": mean(zero), "pgd_random": mean(rand),
        "pgd_best": mean(torch.maximum(zero, rand)),
        "baseline_increase": baseline_increase(run.spec, eps.double().numpy(), run.models)})
    frame["zero_ratio"] = frame["pgd_zero"] / frame["optimal"]
    frame["random_ratio"] = frame["pgd_random"] / frame["optimal"]
    frame["pgd_vulnerability"] = frame["pgd_best"] / frame["baseline_increase"]
    return frame
