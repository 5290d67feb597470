"""Experiments of the chapter "Superposition and adversarial vulnerability"
(``chapters/adversarial.qmd``).

Elhage et al. (2022), section "Superposition and Adversarial Examples": the optimal L2 attack on
feature i of a tied model moves the input along (WᵀW)_i, and a model in superposition, whose
WᵀW has interference terms that such an attack aligns, should be more vulnerable than one
without (:mod:`superposition_lib.analysis.adversarial`).

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
    :data:`~superposition_lib.core.attacks.CANDIDATES` candidate features, at
    :data:`STRONGEST_NORMS`, 4 seeds each (the step costs about 3 times the random one).
``adversarial-training-long``
    The training-length control: ``adversarial-training`` at :data:`LONG_NORMS` (around the
    norm that removes superposition) for 30,000 steps, 3 seeds.
``vulnerability-seeds``
    The uniform sweep's models at four of its densities (:data:`SEED_INVERSE_DENSITIES`), 4
    seeds each: the seed-to-seed spread of the vulnerability, which the one-model-per-density
    sweep cannot give.

The ``paper`` profile trains 10,000 steps with batch 1024 at learning rate 1e-3; ``smoke`` trains
200 steps of batch 128 at learning rate 0.01 with 2 seeds (seconds).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ..analysis import adversarial, stats
from ..core import metrics
from ..core.config import ExperimentSpec
from ..core.metrics import REPRESENTED_NORM
from ..core.run import Run
from ..core.store import RunStore
from . import uniform_geometry
from .memo import remembered
from .registry import Experiment, get, load, register

__all__ = [
    "ATTACK_NORMS",
    "CHAPTER",
    "DENSITY",
    "LONG_NORMS",
    "LEARNED_NORM",
    "NO_SUPERPOSITION",
    "OWN_DIMENSION",
    "PLATEAU",
    "REMOVAL_MEASURES",
    "SEED_INVERSE_DENSITIES",
    "SENSITIVITY_FRACTIONS",
    "STRONGEST_NORMS",
    "adversarial_results",
    "removal_norms",
    "seed_summary",
    "sensitivity_frame",
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
#: by the paper's measure (m orthogonal features of norm 1 give exactly 1).
NO_SUPERPOSITION = 1.0

#: Norm ‖W_i‖ above which a feature counts as learned: small enough to keep the features that
#: adversarial training shrinks (to norms of about 0.3 at the largest attacks), large enough to
#: leave out the ones it drops (below 0.05).
LEARNED_NORM = 0.1

#: Mean feature dimensionality D_i, weighted by ‖W_i‖², at or above which a model counts as
#: without superposition by geometry (1: every represented feature has a dimension of its own;
#: antipodal pairs give 1/2). Scale-free, unlike ‖W‖_F² / m, which falls below 1 when the
#: attack shrinks the weights while features still share dimensions.
OWN_DIMENSION = 0.9

#: The measures :func:`removal_norms` follows: column -> (threshold, whether superposition is
#: gone at or above it (True) or at or below it (False)).
REMOVAL_MEASURES = {"features_per_dimension": (NO_SUPERPOSITION, False),
                    "dimensionality": (OWN_DIMENSION, True)}


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

#: Attack norms of the training-length control ``adversarial-training-long``.
LONG_NORMS = (0.0, 0.4, 0.5, 0.6, 0.7, 0.8)

register(Experiment(
    "adversarial-training-long", CHAPTER,
    "as adversarial-training at attack norms 0-0.8, 30k steps, 3 seeds: training length",
    {profile: spec.replace(steps=3 * spec.steps)
     for profile, spec in _training_profiles("random", LONG_NORMS, 3).items()}, best_of=False))

#: 1/(1 − S) of ``vulnerability-seeds``, four of the uniform sweep's: the dense end, the
#: antipodal plateau, 5 and 10.
SEED_INVERSE_DENSITIES = tuple(uniform_geometry.INVERSE_DENSITIES[k] for k in (0, 9, 18, 24))


def _seed_profiles() -> dict:
    return {profile: spec.replace(
        feature_probability=tuple(1.0 / v for v in SEED_INVERSE_DENSITIES), restarts=4)
        for profile, spec in get("uniform-geometry").profiles.items()}


register(Experiment(
    "vulnerability-seeds", CHAPTER,
    "the uniform sweep's models (400 features in 30 dims) at 4 of its densities, 4 seeds each",
    _seed_profiles(), best_of=False))

#: Samples per model of the attack statistics, and of the gradient attacks, by profile.
_SAMPLES = {"paper": (1024, 256), "smoke": (64, 32)}
#: Ascent steps of the gradient attacks by profile.
_PGD_STEPS = {"paper": 50, "smoke": 10}


#: The adversarial-training runs of :func:`adversarial_results` by the attack they show.
_TRAINING_RUNS = {"random": "adversarial-training", "strongest": "adversarial-training-strongest",
                  "long": "adversarial-training-long"}


def sweep_frame(run: Run, *, samples: int = 1024, pgd_samples: int = 256, pgd_steps: int = 50
                ) -> pd.DataFrame:
    """Vulnerability of every model of a sweep under the optimal and the gradient attacks.

    Parameters
    ----------
    run : Run
        Tied models (the ``uniform-geometry`` runs).
    samples : int
        Inputs per model for :func:`~superposition_lib.analysis.adversarial.attack_frame`.
    pgd_samples, pgd_steps : int
        Inputs per model and ascent steps for
        :func:`~superposition_lib.analysis.adversarial.pgd_frame`.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`~superposition_lib.analysis.adversarial.attack_frame`, plus
        ``pgd_vulnerability``, ``zero_ratio`` and ``random_ratio`` of
        :func:`~superposition_lib.analysis.adversarial.pgd_frame` (on inputs of their own).

    Examples
    --------
    >>> run = load("uniform-geometry", "smoke")
    >>> frame = sweep_frame(run.select(np.arange(3)), samples=32, pgd_samples=16, pgd_steps=5)
    >>> len(frame), bool((frame["vulnerability"] > 0).all())
    (3, True)
    """
    frame = adversarial.attack_frame(run, samples=samples)
    pgd = adversarial.pgd_frame(run, samples=pgd_samples, steps=pgd_steps)
    for column in ("pgd_vulnerability", "zero_ratio", "random_ratio"):
        frame[column] = pgd[column].to_numpy()
    return frame


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
        ``attack`` (the training attack), ``steps`` (of training), ``attack_norm`` (fraction of
        the mean input norm),
        ``seed``, ``features_per_dimension``, ``learned`` (features with ‖W_i‖ above
        :data:`LEARNED_NORM`), ``represented`` (‖W_i‖ > 0.5), ``dimensionality`` (the mean
        D_i of all features weighted by how strongly each is represented,
        Σ ‖W_i‖² D_i / Σ ‖W_i‖²), ``mean_norm2`` (the mean ‖W_i‖² of the learned features),
        ``smallest_learned`` and ``largest_learned`` (their least and greatest ‖W_i‖),
        ``clean_loss`` (the run's evaluated loss), ``loss_ratio`` (clean loss over the mean
        clean loss of the run's plain models, norm 0) and ``vulnerability`` (to the paper's
        attack, norm 0.1, relative to the baseline).

    Examples
    --------
    >>> run = load("adversarial-training", "smoke")
    >>> frame = training_frame(run, samples=32)
    >>> sorted(set(frame["attack_norm"])) == sorted(ATTACK_NORMS)
    True
    """
    norms = run.spec.attack_norm_array()[run.instance]
    norm_w = metrics.feature_norms(run.W)
    learned = norm_w > LEARNED_NORM
    D = metrics.feature_dimensionality(run.W)
    weight = norm_w ** 2
    frame = pd.DataFrame({
        "attack": run.spec.attack, "steps": run.spec.steps, "attack_norm": norms,
        "seed": run.restart, "features_per_dimension": metrics.features_per_dimension(run.W),
        "learned": learned.sum(1), "represented": (norm_w > REPRESENTED_NORM).sum(1),
        "dimensionality": (D * weight).sum(1) / np.maximum(weight.sum(1), 1e-12),
        "mean_norm2": np.where(learned.any(1), (weight * learned).sum(1)
                               / np.maximum(learned.sum(1), 1), np.nan),
        "smallest_learned": np.where(learned.any(1),
                                     np.where(learned, norm_w, np.inf).min(1), np.nan),
        "largest_learned": norm_w.max(1),
        "clean_loss": run.loss,
        "vulnerability": adversarial.vulnerability(run, samples=samples)})
    plain = frame.loc[frame["attack_norm"] == 0, "clean_loss"].mean()
    frame["loss_ratio"] = frame["clean_loss"] / plain
    return frame


def removal_norms(frame: pd.DataFrame, measures: dict | None = None) -> pd.DataFrame:
    """The attack norm at which adversarial training removes superposition, per seed and
    overall, by each measure.

    For every seed, the measure is interpolated linearly between the attack norms of the grid,
    and the norm where it first reaches its threshold is that seed's removal norm (NaN if it
    never does). The overall value is the mean over seeds with a bootstrap interval over seeds.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`training_frame` of one or more runs (columns ``attack`` and ``steps`` tell
        them apart).
    measures : dict, optional
        Column -> (threshold, True if superposition is gone at or above it, False if at or
        below); :data:`REMOVAL_MEASURES` by default.

    Returns
    -------
    pandas.DataFrame
        One row per run (attack and steps) and measure: ``attack``, ``steps``, ``measure``,
        ``threshold``, ``seeds``,
        ``removed`` (seeds that reach the threshold), ``norm`` (mean removal norm), ``low``,
        ``high`` (95% bootstrap interval) and ``per_seed`` (the seeds' removal norms, a list).

    Examples
    --------
    >>> f = pd.DataFrame({"attack": "random", "steps": 100, "seed": [0, 0, 0, 1, 1, 1],
    ...                   "attack_norm": [0.0, 0.5, 1.0] * 2,
    ...                   "features_per_dimension": [3.0, 1.5, 0.5, 3.0, 1.0, 0.8]})
    >>> row = removal_norms(f, {"features_per_dimension": (1.0, False)}).iloc[0]
    >>> row["per_seed"], float(row["norm"]), int(row["removed"])
    ([0.75, 0.5], 0.625, 2)
    """
    rows = []
    for (attack, steps), group in frame.groupby(["attack", "steps"], sort=False):
        for measure, (threshold, above) in (measures or REMOVAL_MEASURES).items():
            per_seed = []
            for _, seed in group.groupby("seed"):
                seed = seed.sort_values("attack_norm")
                x = seed["attack_norm"].to_numpy()
                # distance past the threshold, > 0 while superposition remains
                y = (threshold - seed[measure].to_numpy()) * (1 if above else -1)
                gone = np.flatnonzero(y <= 0)
                if len(gone) == 0:
                    per_seed.append(np.nan)
                    continue
                k = gone[0]
                per_seed.append(float(x[0]) if k == 0 else
                                float(x[k - 1] + y[k - 1] / (y[k - 1] - y[k])
                                      * (x[k] - x[k - 1])))
            values = np.asarray(per_seed)
            norm, low, high = stats.bootstrap_interval(values)
            rows.append({"attack": attack, "steps": steps, "measure": measure,
                         "threshold": threshold, "seeds": len(values),
                         "removed": int(np.isfinite(values).sum()),
                         "norm": norm, "low": low, "high": high,
                         "per_seed": [round(float(v), 4) for v in values]})
    return pd.DataFrame(rows)


#: Attack norms of :func:`sensitivity_frame`, as fractions of the mean input norm (the paper's
#: 0.1 among them).
SENSITIVITY_FRACTIONS = (0.02, 0.05, 0.1, 0.2, 0.3)

#: The antipodal plateau of the uniform sweep: models whose features per dimension lie within
#: this distance of 2.
PLATEAU = 0.1


def sensitivity_frame(runs: dict, dense: Run, *, fractions=SENSITIVITY_FRACTIONS,
                      samples: int = 512) -> pd.DataFrame:
    """Relative vulnerability under several attack norms and two baselines without superposition.

    Every model is attacked (the strongest optimal attack, as
    :func:`~superposition_lib.analysis.adversarial.attack_frame`) at each attack norm, and its
    mean loss increase is divided by two baselines' on the same inputs and attack norm: the
    closed-form model that keeps the top-m features orthogonally (the chapter's,
    :func:`~superposition_lib.analysis.adversarial.baseline_increase`), and ``dense``, a model
    of the same size trained where it does not superpose, attacked on the model's inputs.

    Parameters
    ----------
    runs : dict
        Label -> run of tied models (e.g. the sweep, and the sweep trained longer).
    dense : Run
        One trained model without superposition (the sweep's model at density 1), the same
        n and m as the runs'.
    fractions : sequence of float
        Attack norms, as fractions of the mean input norm.
    samples : int
        Inputs per model.

    Returns
    -------
    pandas.DataFrame
        One row per run, model and attack norm: ``run`` (the label), ``steps``,
        ``inverse_density``, ``features_per_dimension``, ``fraction``, ``increase`` (mean loss
        increase), ``closed_form`` and ``trained`` (it over each baseline's increase); no rows
        if no run has a model.

    Examples
    --------
    >>> run = load("uniform-geometry", "smoke")
    >>> f = sensitivity_frame({"sweep": run.select(np.arange(2))}, run.select(np.arange(1)),
    ...                       fractions=(0.1,), samples=16)
    >>> f[["run", "fraction"]].drop_duplicates().values.tolist()
    [['sweep', 0.1]]
    """
    if len(dense.models) != 1:
        raise ValueError(f"dense: one model without superposition; got {len(dense.models)}")
    frames = []
    for label, run in runs.items():
        baseline = replace(run, W=np.repeat(dense.W, len(run.models), 0),
                           b=np.repeat(dense.b, len(run.models), 0))
        for fraction in fractions:
            own = adversarial.attack_frame(run, fraction=fraction, samples=samples)
            trained = adversarial.attack_frame(baseline, fraction=fraction, samples=samples)
            frames.append(pd.DataFrame({
                "run": label, "steps": run.spec.steps,
                "inverse_density": own["inverse_density"],
                "features_per_dimension": own["features_per_dimension"],
                "fraction": fraction, "increase": own["increase"],
                "closed_form": own["vulnerability"],
                "trained": own["increase"] / trained["increase"]}))
    columns = ["run", "steps", "inverse_density", "features_per_dimension", "fraction",
               "increase", "closed_form", "trained"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def seed_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Relative vulnerability and features per dimension per density, over seeds.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`~superposition_lib.analysis.adversarial.attack_frame` of a run with several seeds per
        density (``vulnerability-seeds``).

    Returns
    -------
    pandas.DataFrame
        One row per density: ``inverse_density``, ``seeds``, and for ``vulnerability`` and
        ``features_per_dimension`` the mean over seeds with its 95% bootstrap interval
        (columns ``<name>``, ``<name>_low``, ``<name>_high``).

    Examples
    --------
    >>> f = pd.DataFrame({"inverse_density": [1.0, 1.0, 10.0, 10.0],
    ...                   "vulnerability": [1.0, 1.1, 8.0, 9.0],
    ...                   "features_per_dimension": [1.0, 1.0, 4.4, 4.6]})
    >>> seed_summary(f)["vulnerability"].tolist()
    [1.05, 8.5]
    """
    rows = []
    for inverse, group in frame.groupby("inverse_density"):
        row = {"inverse_density": inverse, "seeds": len(group)}
        for name in ("vulnerability", "features_per_dimension"):
            row[name], row[f"{name}_low"], row[f"{name}_high"] = stats.bootstrap_interval(
                group[name].to_numpy())
        rows.append(row)
    return pd.DataFrame(rows)


@remembered("uniform-geometry", "uniform-geometry-long", "vulnerability-seeds",
            *_TRAINING_RUNS.values())
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
        :func:`sweep_frame`); ``seeds`` (the ``vulnerability-seeds`` run) and
        ``seed_summary`` (:func:`seed_summary` of its attack frame); ``random``,
        ``strongest`` and ``long`` (the adversarial-training runs), ``training`` (their
        :func:`training_frame`) and ``removal`` (:func:`removal_norms` of it);
        ``sensitivity`` (:func:`sensitivity_frame` of the sweep's plateau models, trained as the
        sweep and five times longer (``uniform-geometry-long``), against the sweep's densest
        model); ``length`` (:func:`~superposition_lib.analysis.adversarial.attack_frame` of
        ``uniform-geometry-long`` and of the sweep's models at its densities, columns
        ``steps`` and ``plateau``: whether the sweep's model at that density is on the
        plateau, :data:`PLATEAU`); ``samples``,
        ``pgd_samples`` and ``pgd_steps`` (the profile's attack statistics: inputs per model,
        and the gradient attacks' inputs and steps).

    Examples
    --------
    >>> R = adversarial_results("smoke")
    >>> sorted(set(R["removal"]["attack"]))
    ['random', 'strongest']
    """
    samples, pgd_samples = _SAMPLES[profile]
    sweep = load("uniform-geometry", profile, store=store)
    seeds = load("vulnerability-seeds", profile, store=store)
    runs = {kind: load(name, profile, store=store) for kind, name in _TRAINING_RUNS.items()}
    training = pd.concat([training_frame(run, samples=samples) for run in runs.values()],
                         ignore_index=True)
    longer = load("uniform-geometry-long", profile, store=store)
    at_long = np.isin(np.round(sweep.feature_probability.mean(1), 9),
                      np.round(longer.feature_probability.mean(1), 9))
    length = pd.concat([adversarial.attack_frame(r, samples=samples).assign(steps=r.spec.steps)
                        for r in (sweep.select(np.flatnonzero(at_long)), longer)],
                       ignore_index=True)
    on_plateau = np.abs(metrics.features_per_dimension(sweep.W) - 2) <= PLATEAU
    length["plateau"] = np.isin(np.round(length["inverse_density"], 9), np.round(
        1 / sweep.feature_probability.mean(1)[on_plateau], 9))
    plateau = {f"{r.spec.steps:,} steps": r.select(np.flatnonzero(
        np.abs(metrics.features_per_dimension(r.W) - 2) <= PLATEAU)) for r in (sweep, longer)}
    dense = sweep.select(np.array([int(np.argmax(sweep.feature_probability.mean(1)))]))
    return {"sweep": sweep, "seeds": seeds, **runs,
            "vulnerability": sweep_frame(sweep, samples=samples, pgd_samples=pgd_samples,
                                         pgd_steps=_PGD_STEPS[profile]),
            "seed_summary": seed_summary(adversarial.attack_frame(seeds, samples=samples)),
            "training": training, "removal": removal_norms(training), "samples": samples,
            "sensitivity": sensitivity_frame({k: r for k, r in plateau.items()
                                              if len(r.models)}, dense,
                                             samples=samples // 2),
            "length": length,
            "pgd_samples": pgd_samples, "pgd_steps": _PGD_STEPS[profile]}
