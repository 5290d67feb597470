"""Experiments of the chapter "Superposition and adversarial vulnerability"
(``chapters/adversarial.qmd``).

Elhage et al. (2022), section "Superposition and Adversarial Examples": the optimal L2 attack on
feature i of a tied model moves the input along (WᵀW)_i, and a model in superposition, whose
WᵀW has interference terms that such an attack aligns, should be more vulnerable than one
without (:mod:`superposition_lib.adversarial`).

The vulnerability sweep needs no training of its own: it attacks the ``uniform-geometry`` runs
(n = 400, m = 30, 1/(1 − S) from 1 to 10) of the chapter "The geometry of uniform
superposition".

``adversarial-training``
    n = 100 features of importance 1 in m = 10 dimensions (ReLU output) at density 1 − S = 0.1,
    trained against the optimal attack on a random feature per sample, at attack norms
    :data:`ATTACK_NORMS` (fractions of the batch's mean input norm, 0 being plain training),
    5 seeds each. n = 100 rather than the sweep's 400: an attacked input is dense, so the
    sparse fused step cannot train it, and the general step at n = 400 would take about
    2.5 hours here (0.85 s a step for 40 models, against 0.05 s at n = 100).
``adversarial-training-strongest``
    The same models against a stronger attack: per sample, the strongest optimal attack of
    :data:`~superposition_lib.adversarial.CANDIDATES` candidate features, at
    :data:`STRONGEST_NORMS`, 4 seeds each (the step costs about 3 times the random one).

The ``paper`` profile trains 10,000 steps with batch 1024 at learning rate 1e-3; ``smoke`` trains
200 steps of batch 128 at learning rate 0.01 with 2 seeds (seconds).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import adversarial, metrics, stats
from ..config import ExperimentSpec
from ..run import Run
from ..store import RunStore
from . import Experiment, load, register

__all__ = [
    "ATTACK_NORMS",
    "CHAPTER",
    "DENSITY",
    "FIGURES",
    "NO_SUPERPOSITION",
    "STRONGEST_NORMS",
    "adversarial_results",
    "removal_norms",
    "sweep_frame",
    "training_frame",
]

#: The chapter's file stem.
CHAPTER = "adversarial"

#: Density 1 − S of the adversarially trained models (1/(1 − S) = 10, the sweep's sparse end).
DENSITY = 0.1

#: Attack norms of ``adversarial-training``, as fractions of the mean input norm.
ATTACK_NORMS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2)

#: Attack norms of ``adversarial-training-strongest``.
STRONGEST_NORMS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8)

#: Features per dimension ‖W‖_F² / m at or below which a model counts as without superposition
#: (m orthogonal features of norm 1 give exactly 1).
NO_SUPERPOSITION = 1.0


def _training_profiles(attack: str, norms: tuple, seeds: int) -> dict:
    paper = ExperimentSpec(model="relu_output", n_features=100, n_hidden=10,
                           feature_probability=(DENSITY,) * len(norms), importance=1.0,
                           attack=attack, attack_norm=norms, steps=10_000, batch_size=1024,
                           restarts=seeds, seed=0, eval_samples=2 ** 16)
    smoke = paper.replace(steps=200, batch_size=128, lr=1e-2, restarts=2, history_every=None,
                          eval_samples=4096)
    return {"paper": paper, "smoke": smoke}


register(Experiment(
    "adversarial-training", CHAPTER,
    "100 features in 10 dims at 1-S = 0.1, trained against the optimal attack on a random "
    "feature, attack norms 0-1.2 of the input norm, 5 seeds",
    _training_profiles("random", ATTACK_NORMS, 5), best_of=False))
register(Experiment(
    "adversarial-training-strongest", CHAPTER,
    "as adversarial-training, against the strongest of 4 candidate attacks per sample, attack "
    "norms 0-0.8, 4 seeds",
    _training_profiles("strongest", STRONGEST_NORMS, 4), best_of=False))

#: Samples per model of the attack statistics, and of the gradient attacks, by profile.
_SAMPLES = {"paper": (1024, 256), "smoke": (64, 32)}
#: Ascent steps of the gradient attacks by profile.
_PGD_STEPS = {"paper": 50, "smoke": 10}


# sweep_frame's results in this process, by the run's spec key, models and arguments: the
# chapter and its three figures ask for the same frame, which takes about a minute to compute.
_SWEEPS: dict[tuple, pd.DataFrame] = {}


def sweep_frame(run: Run, *, samples: int = 1024, pgd_samples: int = 256, pgd_steps: int = 50
                ) -> pd.DataFrame:
    """Vulnerability of every model of a sweep under the optimal and the gradient attacks.

    Parameters
    ----------
    run : Run
        Tied models (the ``uniform-geometry`` runs).
    samples : int
        Inputs per model for :func:`~superposition_lib.adversarial.attack_frame`.
    pgd_samples, pgd_steps : int
        Inputs per model and ascent steps for :func:`~superposition_lib.adversarial.pgd_frame`.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`~superposition_lib.adversarial.attack_frame`, plus
        ``pgd_vulnerability``, ``zero_ratio`` and ``random_ratio`` of
        :func:`~superposition_lib.adversarial.pgd_frame` (on inputs of their own).

    Examples
    --------
    >>> import tempfile
    >>> run = load("uniform-geometry", "smoke", store=RunStore(tempfile.mkdtemp()))
    >>> frame = sweep_frame(run.select(np.arange(3)), samples=32, pgd_samples=16, pgd_steps=5)
    >>> len(frame), bool((frame["vulnerability"] > 0).all())
    (3, True)
    """
    key = (run.spec.key(), tuple(run.models), samples, pgd_samples, pgd_steps)
    if key not in _SWEEPS:
        frame = adversarial.attack_frame(run, samples=samples)
        pgd = adversarial.pgd_frame(run, samples=pgd_samples, steps=pgd_steps)
        for column in ("pgd_vulnerability", "zero_ratio", "random_ratio"):
            frame[column] = pgd[column].to_numpy()
        _SWEEPS[key] = frame
    return _SWEEPS[key].copy()


def training_frame(run: Run, *, samples: int = 1024) -> pd.DataFrame:
    """One row per adversarially trained model: its attack norm, superposition and costs.

    Parameters
    ----------
    run : Run
        An ``adversarial-training`` run (any spec with ``attack``).
    samples : int
        Inputs per model for its vulnerability to the paper's attack (norm 0.1).

    Returns
    -------
    pandas.DataFrame
        ``attack`` (the training attack), ``attack_norm`` (fraction of the mean input norm),
        ``seed``, ``features_per_dimension``, ``represented`` (features with ‖W_i‖ > 0.5),
        ``interference`` (mean over represented features of Σ_{j≠i} (Ŵ_i · W_j)²),
        ``clean_loss`` (the run's evaluated loss), ``loss_ratio`` (clean loss over the mean
        clean loss of the run's plain models, norm 0) and ``vulnerability`` (to the paper's
        attack, norm 0.1, relative to the baseline).

    Examples
    --------
    >>> import tempfile
    >>> run = load("adversarial-training", "smoke", store=RunStore(tempfile.mkdtemp()))
    >>> frame = training_frame(run, samples=32)
    >>> sorted(set(frame["attack_norm"])) == sorted(ATTACK_NORMS)
    True
    """
    norms = run.spec.attack_norm_array()[run.instance]
    norm_w = metrics.feature_norms(run.W)
    represented = norm_w > 0.5
    interference = metrics.superposition(run.W)
    mean_interference = np.where(represented.any(1),
                                 (interference * represented).sum(1)
                                 / np.maximum(represented.sum(1), 1), 0.0)
    frame = pd.DataFrame({
        "attack": run.spec.attack, "attack_norm": norms, "seed": run.restart,
        "features_per_dimension": metrics.features_per_dimension(run.W),
        "represented": represented.sum(1), "interference": mean_interference,
        "clean_loss": run.loss,
        "vulnerability": adversarial.vulnerability(run, samples=samples)})
    plain = frame.loc[frame["attack_norm"] == 0, "clean_loss"].mean()
    frame["loss_ratio"] = frame["clean_loss"] / plain
    return frame


def removal_norms(frame: pd.DataFrame, threshold: float = NO_SUPERPOSITION) -> pd.DataFrame:
    """The attack norm at which adversarial training removes superposition, per seed and
    overall.

    For every seed, the features per dimension are interpolated linearly between the attack
    norms of the grid, and the norm where they first fall to ``threshold`` is that seed's
    removal norm (NaN if they never do). The overall value is the mean over seeds with a
    bootstrap interval over seeds.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`training_frame` of one or more runs (column ``attack`` tells them apart).
    threshold : float
        Features per dimension that count as no superposition.

    Returns
    -------
    pandas.DataFrame
        One row per attack: ``attack``, ``seeds``, ``removed`` (seeds that reach the
        threshold), ``norm`` (mean removal norm), ``low``, ``high`` (95% bootstrap interval)
        and ``per_seed`` (the seeds' removal norms, a list).

    Examples
    --------
    >>> f = pd.DataFrame({"attack": "random", "seed": [0, 0, 0, 1, 1, 1],
    ...                   "attack_norm": [0.0, 0.5, 1.0] * 2,
    ...                   "features_per_dimension": [3.0, 1.5, 0.5, 3.0, 1.0, 0.8]})
    >>> removal_norms(f)[["norm", "removed"]].to_dict("records")
    [{'norm': 0.625, 'removed': 2}]
    """
    rows = []
    for attack, group in frame.groupby("attack", sort=False):
        per_seed = []
        for _, seed in group.groupby("seed"):
            seed = seed.sort_values("attack_norm")
            x, y = seed["attack_norm"].to_numpy(), seed["features_per_dimension"].to_numpy()
            below = np.flatnonzero(y <= threshold)
            if len(below) == 0:
                per_seed.append(np.nan)
                continue
            k = below[0]
            per_seed.append(float(x[0]) if k == 0 else
                            float(x[k - 1] + (y[k - 1] - threshold) / (y[k - 1] - y[k])
                                  * (x[k] - x[k - 1])))
        values = np.asarray(per_seed)
        norm, low, high = stats.bootstrap_interval(values)
        rows.append({"attack": attack, "seeds": len(values),
                     "removed": int(np.isfinite(values).sum()), "norm": norm, "low": low,
                     "high": high, "per_seed": [round(v, 4) for v in values]})
    return pd.DataFrame(rows)


def adversarial_results(profile: str | None = None, *, store: RunStore | None = None) -> dict:
    """Everything the chapter shows.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``.
    store : RunStore, optional

    Returns
    -------
    dict
        ``sweep`` (the ``uniform-geometry`` run) and ``vulnerability`` (its
        :func:`sweep_frame`); ``random`` and ``strongest`` (the adversarial-training runs),
        ``training`` (both runs' :func:`training_frame`) and ``removal``
        (:func:`removal_norms` of it); ``samples``, ``pgd_samples`` and ``pgd_steps`` (the
        profile's attack statistics: inputs per model, and the gradient attacks' inputs and
        steps).

    Examples
    --------
    >>> import tempfile
    >>> R = adversarial_results("smoke", store=RunStore(tempfile.mkdtemp()))
    >>> list(R["removal"]["attack"])
    ['random', 'strongest']
    """
    from .. import experiments

    profile = profile or experiments.current_profile()
    samples, pgd_samples = _SAMPLES[profile]
    sweep = load("uniform-geometry", profile, store=store)
    runs = {kind: load(name, profile, store=store) for kind, name in
            (("random", "adversarial-training"),
             ("strongest", "adversarial-training-strongest"))}
    training = pd.concat([training_frame(run, samples=samples) for run in runs.values()],
                         ignore_index=True)
    return {"sweep": sweep,
            "vulnerability": sweep_frame(sweep, samples=samples, pgd_samples=pgd_samples,
                                         pgd_steps=_PGD_STEPS[profile]),
            **runs, "training": training, "removal": removal_norms(training),
            "samples": samples, "pgd_samples": pgd_samples, "pgd_steps": _PGD_STEPS[profile]}


def figure_vulnerability(profile: str | None = None, *, store: RunStore | None = None):
    """The chapter's ``fig-vulnerability``: (chart, data).

    Examples
    --------
    >>> FIGURES["fig-vulnerability"] is figure_vulnerability
    True
    """
    from .. import figures

    v = adversarial_results(profile, store=store)["vulnerability"]
    return figures.vulnerability_sweep(v), {"sweep": v}


def figure_vulnerability_scatter(profile: str | None = None, *,
                                 store: RunStore | None = None):
    """The chapter's ``fig-vulnerability-scatter``: (chart, data).

    Examples
    --------
    >>> FIGURES["fig-vulnerability-scatter"] is figure_vulnerability_scatter
    True
    """
    from .. import figures

    v = adversarial_results(profile, store=store)["vulnerability"]
    return figures.vulnerability_scatter(v), {"sweep": v}


def figure_adversarial_training(profile: str | None = None, *,
                                store: RunStore | None = None):
    """The chapter's ``fig-adversarial-training``: (chart, data).

    Examples
    --------
    >>> FIGURES["fig-adversarial-training"] is figure_adversarial_training
    True
    """
    from .. import figures

    t = adversarial_results(profile, store=store)["training"]
    return figures.adversarial_training(t), {"models": t}


#: The chapter's figures by label: functions ``(profile, store) -> (chart, data[, static])``.
FIGURES = {"fig-vulnerability": figure_vulnerability,
           "fig-vulnerability-scatter": figure_vulnerability_scatter,
           "fig-adversarial-training": figure_adversarial_training}
