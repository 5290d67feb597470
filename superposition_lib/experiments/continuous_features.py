"""Experiments of the chapter "Continuous equivariant features"
(``chapters/continuous-features.qmd``).

The data (``data="equivariant"``, see :mod:`superposition_lib.core.data`): n = :data:`N_FEATURES`
features are orientations on a circle; a sample is non-zero with probability p, and then holds
one triangular bump of half-width w (in features) at a uniform orientation θ with a uniform
amplitude. Its covariance is circulant, so its principal components are Fourier modes, and for
w > 1/2 and p above a threshold p*(w) the top two are the cos/sin pair of frequency 1: the
*PCA circle*, which places feature j at angle 2πj/n. At w ≤ 1/2 a bump touches one feature
only, so the features are mutually exclusive and every frequency k ≥ 1 ties.

``equivariant-map``
    The ReLU-output model x' = ReLU(WᵀWx + b) with n = 16 and m = 2 (importance 1) over the
    bump widths of :data:`MAP_WIDTHS` × the densities of :data:`MAP_DENSITIES`,
    :data:`MAP_SEEDS` seeds per cell, all in one batched spec; 10,000 steps of batch 256 with
    AdamW at a peak learning rate of 3e-3 decayed to 0 by a cosine (the optimiser and schedule of
    the 8-feature runs of the chapter "PCA versus superposition", which train 4,000 steps).
``equivariant-sparse-batch``
    The map's sparsest row (p = 0.01) again, with batches of :data:`SPARSE_BATCH` instead of
    256: whether the sparse rows differ from the others because their batches hold only a
    few bumps.
``equivariant-m3``
    The map's row at density :data:`LARGE_DENSITY` with three hidden dimensions instead of two.
``equivariant-n32``
    A second size: n = 32 orientations in m = 2, at density :data:`LARGE_DENSITY` over the
    widths of :data:`LARGE_WIDTHS`, :data:`MAP_SEEDS` seeds each, trained the same way. It
    tells whether the arrangement is set by the width in features (how many neighbours a bump
    touches) or by the width relative to the ring (w/n).

The ``smoke`` profiles keep the grids with one seed and 300 steps.

How a model arranges the ring (:func:`classify_ring`), from two measurements:

- the *circle share*: the fraction of ‖W‖_F² at Fourier frequency 1
  (:func:`~superposition_lib.analysis.pca.fourier_weight_shares`), which is the PCA alignment with
  the frequency-1 pair;
- *merged features*: represented features (‖W_i‖ > 0.5) that share their direction with
  another represented feature, that is lie closer to it than half the PCA circle's spacing,
  an angle of 180°/n (:func:`merge_angle`): features read along one common direction, as
  collapsed correlated pairs are. On the PCA circle itself no two features are merged.

A model is ``"pca circle"`` if its circle share is at least :data:`CIRCLE_SHARE`;
otherwise ``"mixture"`` if some features are merged, ``"polygon"`` if none are and the circle
share is below :data:`POLYGON_SHARE` (individual features in superposition, with no trace of the
ring's order: the independent-feature geometry), and ``"other"`` if none are merged but the
circle share lies between the two thresholds (a distorted or partial circle).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analysis import pca, stats
from ..core import metrics
from ..core.config import ExperimentSpec
from ..core.data import FeatureDistribution
from ..core.metrics import REPRESENTED_NORM
from ..core.run import Run
from ..core.store import RunStore
from . import Experiment, load, register
from .votes import cell_summary

__all__ = [
    "CHAPTER",
    "CIRCLE_SHARE",
    "DIMENSION_FREQUENCIES",
    "LARGE_DENSITY",
    "LARGE_N_FEATURES",
    "LARGE_WIDTHS",
    "MAP_DENSITIES",
    "MAP_SEEDS",
    "MAP_WIDTHS",
    "POLYGON_SHARE",
    "N_FEATURES",
    "N_HIDDEN",
    "SPARSE_BATCH",
    "RINGS",
    "classify_ring",
    "constant_mode_density",
    "dimension_frame",
    "findings",
    "map_cells",
    "map_frame",
    "merge_angle",
    "merged_features",
    "ring_frame",
]

#: The chapter's file stem.
CHAPTER = "continuous-features"

#: Features on the circle (n).
N_FEATURES = 16

#: Hidden dimensions (m).
N_HIDDEN = 2

#: Bump half-widths w of the map, in features (w ≤ 1/2: mutually exclusive features).
MAP_WIDTHS = (0.5, 0.6, 0.7, 0.85, 1.0, 1.2, 1.4, 1.7, 2.0, 2.8, 4.0, 5.6)

#: Densities p of the map (probability that a sample holds a bump): 6 values from 1 to 0.01.
MAP_DENSITIES = tuple(float(v) for v in np.geomspace(1.0, 0.01, 6))

#: Seeds per cell of the map (paper profile).
MAP_SEEDS = 4

#: Features on the circle of the second size, ``equivariant-n32``.
LARGE_N_FEATURES = 32

#: Bump half-widths of ``equivariant-n32``: the map's, and two wider ones up to n/4 and beyond.
LARGE_WIDTHS = (*MAP_WIDTHS, 8.0, 11.2)

#: Density of ``equivariant-n32``: one of the map's, p ≈ 0.16.
LARGE_DENSITY = MAP_DENSITIES[2]

#: Batch size of ``equivariant-sparse-batch``: ten times the map's, so that a batch at p = 0.01
#: holds as many bumps on average (25.6) as the map's batches at p ≈ 0.1.
SPARSE_BATCH = 2560

#: The arrangements of :func:`classify_ring`.
RINGS = ("pca circle", "mixture", "polygon", "other")

#: Circle share from which a model counts as the PCA circle.
CIRCLE_SHARE = 0.9

#: Circle share below which a model without merged features counts as a polygon.
POLYGON_SHARE = 0.5



def _ring_profiles(n: int, widths, densities, seeds: int, batch_size: int = 256,
                   m: int = N_HIDDEN) -> dict:
    w, p = np.meshgrid(widths, densities, indexing="ij")

    def spec(restarts: int, **training) -> ExperimentSpec:
        return ExperimentSpec(model="relu_output", n_features=n, n_hidden=m,
                              data="equivariant", feature_probability=[float(x) for x in p.ravel()],
                              bump_width=[float(x) for x in w.ravel()], importance=1.0,
                              restarts=restarts, seed=0, **training)
    return {"paper": spec(seeds, steps=10_000, batch_size=batch_size, lr=3e-3,
                          lr_schedule="cosine", eval_samples=1 << 16),
            "smoke": spec(1, steps=300, batch_size=128, lr=1e-2, eval_samples=1 << 12)}


register(Experiment(
    "equivariant-map", CHAPTER,
    "16 orientations in 2 dims: bump width 0.5-5.6 x density 1-0.01, 12 x 6, 4 seeds",
    _ring_profiles(N_FEATURES, MAP_WIDTHS, MAP_DENSITIES, MAP_SEEDS), best_of=False))
register(Experiment(
    "equivariant-sparse-batch", CHAPTER,
    "the map's sparsest row (p = 0.01) with 10x larger batches (2,560), 4 seeds",
    _ring_profiles(N_FEATURES, MAP_WIDTHS, (MAP_DENSITIES[-1],), MAP_SEEDS,
                   batch_size=SPARSE_BATCH), best_of=False))
register(Experiment(
    "equivariant-n32", CHAPTER,
    "32 orientations in 2 dims: bump width 0.5-11.2 at density 0.16, 4 seeds",
    _ring_profiles(LARGE_N_FEATURES, LARGE_WIDTHS, (LARGE_DENSITY,), MAP_SEEDS), best_of=False))
register(Experiment(
    "equivariant-m3", CHAPTER,
    "16 orientations in 3 dims: the map's widths at density 0.16, 4 seeds",
    _ring_profiles(N_FEATURES, MAP_WIDTHS, (LARGE_DENSITY,), MAP_SEEDS, m=3), best_of=False))


# ---------------------------------------------------------------------------------------------
# Analysis


def merge_angle(n: int) -> float:
    """Angle (degrees) below which two features of a ring of n count as one direction.

    Half the spacing 360°/n of the PCA circle, so that the circle itself has no merged features.

    Parameters
    ----------
    n : int
        Features on the ring.

    Returns
    -------
    float

    Examples
    --------
    >>> merge_angle(16), merge_angle(32)
    (11.25, 5.625)
    """
    return 180.0 / n


def _direction_groups(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Represented mask and group label (−1 if not represented) per feature, shapes (..., n).

    Represented features are grouped by the connected components of "closer than
    :func:`merge_angle`".
    """
    W = np.asarray(W, dtype=float)
    norms = np.linalg.norm(W, axis=-2)
    rep = norms > REPRESENTED_NORM
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = W / norms[..., None, :]
    cosine = np.cos(np.radians(merge_angle(W.shape[-1])))
    close = (np.einsum("...mi,...mj->...ij", unit, unit) > cosine) \
        & rep[..., :, None] & rep[..., None, :]
    labels = np.where(rep, np.arange(W.shape[-1]), -1)
    for _ in range(W.shape[-1]):          # propagate the smallest label along close pairs
        spread = np.where(close, labels[..., None, :], W.shape[-1]).min(-1)
        new = np.where(rep, np.minimum(labels, spread), -1)
        if np.array_equal(new, labels):
            break
        labels = new
    return rep, labels


def merged_features(W) -> np.ndarray:
    """Represented features that share their direction with another represented feature.

    Two represented features (‖W_i‖ > 0.5) share a direction when the angle between them is
    below :func:`merge_angle`, directly or through a chain of such features.

    Parameters
    ----------
    W : array_like, shape (..., m, n)
        Weights; column ``W[..., :, i]`` is feature i's direction.

    Returns
    -------
    numpy.ndarray of int, shape (...)

    Examples
    --------
    >>> a = np.radians([0, 3, 120, 240])               # features 0 and 1 read along one line
    >>> int(merged_features(np.stack([np.cos(a), np.sin(a)])))
    2
    >>> a = np.radians([0, 60, 120, 240])              # 60° apart: four directions
    >>> int(merged_features(np.stack([np.cos(a), np.sin(a)])))
    0
    """
    rep, labels = _direction_groups(W)
    n = labels.shape[-1]
    onehot = (labels[..., :, None] == np.arange(n)) & rep[..., :, None]
    sizes = onehot.sum(-2)                                              # (..., n) per label
    return (onehot * (sizes[..., None, :] >= 2)).sum((-2, -1))


def classify_ring(W) -> np.ndarray:
    """How each model arranges the ring of features (the rule in the module doc).

    Parameters
    ----------
    W : array_like, shape (..., m, n)
        Weights of models trained on ``equivariant`` data.

    Returns
    -------
    numpy.ndarray of str, shape (...)
        One of :data:`RINGS` per model.

    Examples
    --------
    >>> j = np.arange(16)
    >>> circle = 0.7 * np.stack([np.cos(2 * np.pi * j / 16), np.sin(2 * np.pi * j / 16)])
    >>> a = 2 * np.pi * np.arange(5) / 5
    >>> pentagon = np.zeros((2, 16)); pentagon[:, [0, 3, 6, 9, 12]] = [np.cos(a), np.sin(a)]
    >>> pairs = np.repeat(pentagon[:, [0, 3, 6, 9, 12]], 2, axis=1)    # neighbours merged
    >>> half = circle.copy(); half[:, 8:] *= 0.3        # one half of the circle faded
    >>> rings = (circle, pentagon, np.pad(pairs, ((0, 0), (0, 6))), half)
    >>> [classify_ring(W).item() for W in rings]
    ['pca circle', 'polygon', 'mixture', 'other']
    """
    W = np.asarray(W, dtype=float)
    share = pca.fourier_weight_shares(W)[..., 1]
    return np.select([share >= CIRCLE_SHARE, merged_features(W) > 0, share < POLYGON_SHARE],
                     ["pca circle", "mixture", "polygon"], "other")


def _top_component(covariance: np.ndarray) -> np.ndarray:
    """Which Fourier frequencies the top two principal components are, shape (instances,),
    for covariances of shape (instances, n, n)."""
    spectrum = pca.fourier_spectrum(covariance)                 # (instances, n//2 + 1)
    scale = spectrum.max(-1)
    tied = np.abs(spectrum[:, 1] - spectrum[:, 2]) <= 1e-9 * scale
    return np.select([tied, spectrum[:, 0] > spectrum[:, 1]],
                     ["all tied", "constant, then frequency 1"], "frequency 1")


def ring_frame(run: Run) -> pd.DataFrame:
    """One row per model of a run on ``equivariant`` data with m = 2.

    Parameters
    ----------
    run : Run
        E.g. ``equivariant-map`` or ``equivariant-n32`` (all seeds).

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``cell`` (the instance), ``seed``, ``width`` w, ``density`` p,
        ``loss``, ``linear_optimal`` (the PCA solution's exact loss), ``no_superposition``,
        ``loss_vs_pca`` and ``loss_vs_nosup`` (the ratios), ``top_components`` (``"frequency
        1"``, ``"constant, then frequency 1"`` below p*, or ``"all tied"`` for w ≤ 1/2),
        ``neighbour_correlation`` (the correlation of neighbouring features, Σ₀₁/Σ₀₀),
        ``pca_alignment`` (:func:`~superposition_lib.analysis.pca.pca_alignment` with the top-2
        subspace, ties included), ``circle_share`` and ``constant_share`` (fractions of ‖W‖_F²
        at frequencies 1 and 0), ``dominant_frequency`` (the frequency holding most of ‖W‖_F²)
        ``features_per_dim`` ‖W‖_F²/m, ``represented``, ``merged``
        (:func:`merged_features`), ``max_bias`` and ``mean_bias`` (over the features), ``ring``
        (:func:`classify_ring`), and ``w0x``, ``w0y``, …, (the feature directions).

    Examples
    --------
    >>> df = ring_frame(load("equivariant-n32", "smoke"))
    >>> len(df), sorted(df["ring"].unique()) <= sorted(RINGS)
    (14, True)
    """
    spec = run.spec
    W = run.W.astype(float)
    m = W.shape[1]
    cov = pca.spec_covariance(spec)                                     # (instances, n, n)
    inst = run.instance
    linear = pca.linear_optimal_loss(cov, m=m)[inst]
    nosup = pca.no_superposition_loss(cov, m=m)[inst]
    shares = pca.fourier_weight_shares(W)
    df = pd.DataFrame({
        "model": np.arange(len(W)), "cell": inst, "seed": run.restart,
        "width": spec.bump_width_array()[inst], "density": run.feature_probability[:, 0],
        "loss": run.loss, "linear_optimal": linear, "no_superposition": nosup,
        "loss_vs_pca": run.loss / linear, "loss_vs_nosup": run.loss / nosup,
        "top_components": _top_component(cov)[inst],
        "neighbour_correlation": (cov[:, 0, 1] / cov[:, 0, 0])[inst],
        "pca_alignment": pca.pca_alignment(W, cov[inst]),
        "circle_share": shares[:, 1], "constant_share": shares[:, 0],
        "dominant_frequency": shares.argmax(-1),
        "features_per_dim": metrics.features_per_dimension(W),
        "represented": metrics.n_represented(W, REPRESENTED_NORM),
        "merged": merged_features(W), "max_bias": run.b.max(-1).astype(float),
        "mean_bias": run.b.mean(-1).astype(float), "ring": classify_ring(W)})
    for i in range(W.shape[2]):
        df[f"w{i}x"], df[f"w{i}y"] = W[:, 0, i], W[:, 1, i]
    return df


#: Fourier frequencies whose shares :func:`dimension_frame` reports.
DIMENSION_FREQUENCIES = (0, 1, 2)


def dimension_frame(profile: str | None = None, *, store: RunStore | None = None
                    ) -> pd.DataFrame:
    """Two hidden dimensions against three: the map's row at :data:`LARGE_DENSITY` and
    ``equivariant-m3``, by bump width.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to the current profile.
    store : RunStore, optional
        Where runs are cached.

    Returns
    -------
    pandas.DataFrame
        One row per m and width: ``m``, ``width``, ``seeds``, seed means of ``loss_vs_pca``
        (against the linear optimum with m dimensions) and ``features_per_dim``, and for every
        frequency k of :data:`DIMENSION_FREQUENCIES` the seed mean of its share of ‖W‖_F²
        (``share_k``, :func:`~superposition_lib.analysis.pca.fourier_weight_shares`) with its 95%
        bootstrap interval over seeds (``share_k_low``, ``share_k_high``) and the share of the
        linear optimum with m dimensions (``pca_share_k``,
        :func:`~superposition_lib.analysis.pca.linear_optimal_W`).

    Examples
    --------
    >>> df = dimension_frame("smoke")
    >>> sorted(df["m"].unique().tolist()), len(df) == 2 * len(MAP_WIDTHS)
    ([2, 3], True)
    """
    rows = []
    for name in ("equivariant-map", "equivariant-m3"):
        run = load(name, profile, store=store)
        models = ring_frame(run)
        models = models[np.isclose(models["density"], LARGE_DENSITY)]
        W = run.W[models["model"].to_numpy()]
        shares = pca.fourier_weight_shares(W)
        cov = pca.spec_covariance(run.spec)
        for width, idx in models.groupby("width").indices.items():
            optimum = pca.fourier_weight_shares(pca.linear_optimal_W(
                cov[models["cell"].iloc[idx[0]]], m=W.shape[1]))
            row = {"m": int(W.shape[1]), "width": float(width), "seeds": len(idx),
                   "loss_vs_pca": float(models["loss_vs_pca"].iloc[idx].mean()),
                   "features_per_dim": float(models["features_per_dim"].iloc[idx].mean())}
            for k in DIMENSION_FREQUENCIES:
                row[f"share_{k}"], row[f"share_{k}_low"], row[f"share_{k}_high"] = (
                    stats.bootstrap_interval(shares[idx, k]))
                row[f"pca_share_{k}"] = float(optimum[k])
            rows.append(row)
    return pd.DataFrame(rows)


def constant_mode_density(n: int, width: float) -> float:
    """The density p* below which the constant mode is the top principal component.

    For ``equivariant`` data every frequency k ≥ 1 has eigenvalue ``λ_k = p a_k`` and the
    constant mode ``λ_0 = p a_0 − p² c`` (the mean, which the bias absorbs, lowers it), so
    ``λ_0 > λ_1`` exactly when ``p < p* = (a_0 − a_1) / c``. The coefficients come from the
    exact spectra at p = 1 and p = 1/2.

    Parameters
    ----------
    n : int
        Features on the circle.
    width : float
        Bump half-width w > 1/2 (at w ≤ 1/2 all k ≥ 1 tie).

    Returns
    -------
    float
        p*; above 1 when the constant mode is on top at every density.

    Examples
    --------
    >>> p_star = constant_mode_density(16, 2.0)
    >>> round(p_star, 3)
    0.131
    >>> spectrum = lambda p: pca.fourier_spectrum(FeatureDistribution(
    ...     "equivariant", [[p] * 16], bump_width=2.0).covariance())[0]
    >>> [bool(spectrum(p)[0] > spectrum(p)[1]) for p in (0.99 * p_star, 1.01 * p_star)]
    [True, False]
    """
    if not width > 0.5:
        raise ValueError(f"width: must be > 1/2 (at w <= 1/2 every frequency k >= 1 ties); "
                         f"got {width!r}")
    cov = FeatureDistribution("equivariant", [[1.0] * n, [0.5] * n],
                              bump_width=[width, width]).covariance().numpy()
    full, half = pca.fourier_spectrum(cov)
    c = 2 * (2 * half[0] - full[0])
    return float((full[0] + c - full[1]) / c)


def map_frame(profile: str | None = None, *, store: RunStore | None = None) -> pd.DataFrame:
    """The ``equivariant-map`` run: :func:`ring_frame`, one row per model.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to the current profile.
    store : RunStore, optional
        Where runs are cached.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> df = map_frame("smoke")
    >>> len(df), df["width"].nunique(), df["density"].nunique()
    (72, 12, 6)
    """
    return ring_frame(load("equivariant-map", profile, store=store))


def map_cells(models: pd.DataFrame) -> pd.DataFrame:
    """One row per (width, density) cell of the map.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`map_frame` rows.

    Returns
    -------
    pandas.DataFrame
        Columns ``cell``, ``width``, ``density``, ``top_components``,
        ``neighbour_correlation``, ``linear_optimal``,
        ``no_superposition``, the seed means of ``circle_share``, ``pca_alignment``,
        ``features_per_dim``, ``represented``, ``merged``, ``loss_vs_pca`` and
        ``loss_vs_nosup``, ``ring`` (majority of the seeds; ties to the lower mean loss),
        ``share`` (its fraction of seeds), and the lowest-loss seed's ``best_seed``,
        ``best_ring``, ``best_circle_share`` and ``best_loss_vs_pca``.

    Examples
    --------
    >>> models = pd.DataFrame({"cell": 0, "seed": [0, 1, 2], "width": 2.0, "density": 0.1,
    ...     "loss": [1.0, 2.0, 3.0], "top_components": "frequency 1", "linear_optimal": 2.0,
    ...     "neighbour_correlation": 0.5,
    ...     "no_superposition": 3.0, "circle_share": [0.95, 0.5, 0.6], "pca_alignment": 1.0,
    ...     "features_per_dim": 2.0, "represented": 16, "merged": [0, 4, 4],
    ...     "loss_vs_pca": [0.5, 1.0, 1.5], "loss_vs_nosup": 0.5,
    ...     "ring": ["pca circle", "mixture", "mixture"]})
    >>> map_cells(models)[["ring", "share", "best_ring"]].values.tolist()
    [['mixture', 0.6666666666666666, 'pca circle']]
    """
    return cell_summary(
        models, "ring",
        first=["width", "density", "top_components", "neighbour_correlation", "linear_optimal",
               "no_superposition"],
        mean=["circle_share", "pca_alignment", "features_per_dim", "represented", "merged",
              "loss_vs_pca", "loss_vs_nosup"],
        best=["ring", "seed", "circle_share", "loss_vs_pca"])


def _n_features(models: pd.DataFrame) -> int:
    """Number of features n of :func:`ring_frame` rows (from their direction columns)."""
    return sum(1 for c in models.columns if c.startswith("w") and c.endswith("x"))


def _ring_steps(models: pd.DataFrame) -> np.ndarray:
    """Angle (degrees) from feature j to j + 1 of every model, in its winding direction."""
    n = _n_features(models)
    angle = np.arctan2(models[[f"w{i}y" for i in range(n)]].to_numpy(),
                       models[[f"w{i}x" for i in range(n)]].to_numpy())
    step = np.degrees(np.angle(np.exp(1j * (np.roll(angle, -1, axis=1) - angle))))
    return step * np.sign(np.median(step, axis=1, keepdims=True))


def _weights(models: pd.DataFrame) -> np.ndarray:
    """The direction columns of :func:`map_frame` rows back as W, shape (models, 2, n)."""
    n = _n_features(models)
    return np.stack([models[[f"w{i}x" for i in range(n)]].to_numpy(),
                     models[[f"w{i}y" for i in range(n)]].to_numpy()], axis=1)


def _weak_features(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Norms of the unrepresented features with norm > 0.1, and their largest cosine with a
    represented feature of the same model."""
    norms = np.linalg.norm(W, axis=1)
    unit = W / np.maximum(norms, 1e-12)[:, None, :]
    cos = np.einsum("kmi,kmj->kij", unit, unit)
    rep = norms > REPRESENTED_NORM
    weak = (norms > 0.1) & ~rep
    best = np.where(rep[:, None, :], cos, -1.0).max(-1)
    return norms[weak], best[weak]


def _neighbour_groups(W: np.ndarray) -> tuple[int, int]:
    """Merged groups (two or more features on one direction), and how many of them are runs
    of consecutive orientations around the ring."""
    _, labels = _direction_groups(W)
    n = W.shape[-1]
    groups = runs = 0
    for lab in labels:
        for g in np.unique(lab[lab >= 0]):
            members = np.flatnonzero(lab == g)
            if len(members) < 2:
                continue
            groups += 1
            gaps = np.diff(np.r_[members, members[0] + n])
            runs += int((gaps == 1).sum() >= len(members) - 1)
    return groups, runs


def findings(cells: pd.DataFrame, models: pd.DataFrame) -> dict:
    """The numbers the chapter states about the equivariant map.

    Parameters
    ----------
    cells : pandas.DataFrame
        :func:`map_cells` rows.
    models : pandas.DataFrame
        :func:`map_frame` rows (with the direction columns).

    Returns
    -------
    dict
        ``cells``, ``models``, ``seeds``; ``ring_cells`` (arrangement → cells where it is the
        majority) and ``ring_models`` (→ models); ``rows`` (density → the majority arrangement
        of every width, from narrow to wide), ``common_row_densities`` (the densities whose
        row is the most common one), ``common_row_widths`` (arrangement → the narrowest and
        widest width where that row has it) and ``common_row_correlations`` (arrangement → the
        lowest and highest neighbour correlation of its cells in those rows);
        ``circle_from_width`` (density → the narrowest width w such that every cell at width
        ≥ w is a PCA-circle cell), ``best_circle_from_width`` (the same for the lowest-loss
        seed); ``polygon_five`` (fraction of polygon models with five represented features),
        ``pentagon_norms`` (lowest and highest norm of a represented feature in the polygons
        of five) and ``pentagon_gap_error`` (median over them of the largest deviation of an
        angular gap from 72°), ``polygon_circle_share`` (their median circle share),
        ``polygon_weak_share`` (fraction of their unrepresented features with norm > 0.1),
        ``polygon_weak_norm`` (median
        norm of their unrepresented features with norm > 0.1) and ``polygon_weak_aligned``
        (fraction of those pointing along a represented feature, closer than
        :func:`merge_angle`);
        ``circle_share_median`` (their median circle share), ``circle_norm`` (median ‖W_i‖ in
        PCA-circle models), ``circle_all_represented``
        (fraction of them representing all n features), ``circle_step_error`` (the median
        over those models of the largest deviation, in degrees, of the angle between
        neighbouring orientations from 360°/n) and ``circle_regular`` (fraction of them with
        every such deviation below 5°), ``circle_max_fpd`` (their largest ‖W‖_F²/m);
        ``mixture_merged`` (mean merged features of mixture models), ``mixture_neighbour_groups``
        (fraction of their merged groups that are runs of consecutive orientations) and
        ``mixture_frequency2`` (fraction of them whose dominant frequency is 2);
        ``loss_vs_pca_by_ring`` (arrangement → median of the models' loss / PCA loss),
        ``best_loss_vs_pca`` (min, and the width and density where the lowest-loss seed does
        best), ``beats_pca`` (fraction of models below the linear optimum),
        ``max_bias`` (density → the largest output bias of any model) and
        ``circle_bias_by_width`` (width → median mean bias of the PCA-circle models).

    Examples
    --------
    >>> j = np.arange(4)
    >>> a = 2 * np.pi * j / 4
    >>> models = pd.DataFrame({"cell": [0, 1], "seed": 0, "width": [0.5, 2.0], "density": 0.1,
    ...     "loss": [1.0, 0.5], "linear_optimal": 2.0, "loss_vs_pca": [0.5, 0.25],
    ...     "represented": [5, 4], "merged": 0, "dominant_frequency": 1, "max_bias": -0.1,
    ...     "mean_bias": -0.2,
    ...     "circle_share": [0.1, 1.0], "features_per_dim": [2.5, 2.0],
    ...     "ring": ["polygon", "pca circle"],
    ...     **{f"w{i}x": [1.0, np.cos(a[i])] for i in j},
    ...     **{f"w{i}y": [0.0, np.sin(a[i])] for i in j}})
    >>> cells = pd.DataFrame({"cell": [0, 1], "width": [0.5, 2.0],
    ...     "density": 0.1, "ring": ["polygon", "pca circle"], "neighbour_correlation": [0, 0.7],
    ...     "best_ring": ["polygon", "pca circle"], "best_loss_vs_pca": [0.5, 0.25]})
    >>> f = findings(cells, models)
    >>> f["common_row_widths"]["polygon"], f["circle_from_width"], round(f["circle_step_error"], 6)
    ((0.5, 0.5), {0.1: 2.0}, 0.0)
    """
    def from_width(df, column):
        out = {}
        for p, g in df.groupby("density"):
            g = g.sort_values("width", ascending=False)
            wide = (g[column] == "pca circle").cumprod().astype(bool)
            out[float(p)] = float(g[wide]["width"].min()) if wide.any() else np.nan
        return out

    def span(values):
        return (float(values.min()), float(values.max())) if len(values) else (np.nan, np.nan)

    rows = {float(p): tuple(g.sort_values("width")["ring"]) for p, g in cells.groupby("density")}
    common = pd.Series(list(rows.values())).value_counts().index[0]
    widths = np.sort(cells["width"].unique())
    in_common = {r: [float(w) for w, x in zip(widths, common) if x == r] for r in RINGS}
    common_cells = cells[cells["density"].map(lambda p: rows[float(p)] == common)]
    circle = models[models["ring"] == "pca circle"]
    n = _n_features(models)
    norms = np.linalg.norm(_weights(circle), axis=1)
    step_error = np.abs(_ring_steps(circle) - 360 / n).max(1)
    mixture = models[models["ring"] == "mixture"]
    polygon = models[models["ring"] == "polygon"]
    best = cells.loc[cells["best_loss_vs_pca"].idxmin()]
    weak_norm, weak_cos = _weak_features(_weights(polygon))
    unrepresented = int(n * len(polygon) - polygon["represented"].sum())
    pentagons = _weights(polygon[polygon["represented"] == 5])
    pent_norms = np.linalg.norm(pentagons, axis=1)
    pent_rep = pent_norms > REPRESENTED_NORM
    gap_error = [np.abs(np.diff(np.r_[a, a[0] + 360]) - 72).max() for a in
                 (np.sort(np.degrees(np.arctan2(Wk[1], Wk[0]))[r] % 360)
                  for Wk, r in zip(pentagons, pent_rep))]
    groups, runs = _neighbour_groups(_weights(mixture))
    return {
        "cells": len(cells), "models": len(models),
        "ring_cells": {r: int((cells["ring"] == r).sum()) for r in RINGS},
        "ring_models": {r: int((models["ring"] == r).sum()) for r in RINGS},
        "rows": rows,
        "common_row_densities": sorted(p for p, row in rows.items() if row == common),
        "common_row_widths": {r: (min(v), max(v)) if v else (np.nan, np.nan)
                              for r, v in in_common.items()},
        "common_row_correlations": {
            r: span(common_cells.loc[common_cells["ring"] == r, "neighbour_correlation"])
            for r in RINGS},
        "circle_from_width": from_width(cells, "ring"),
        "best_circle_from_width": from_width(cells, "best_ring"),
        "polygon_five": float((polygon["represented"] == 5).mean()) if len(polygon) else np.nan,
        "pentagon_norms": span(pent_norms[pent_rep]),
        "pentagon_gap_error": float(np.median(gap_error)) if gap_error else np.nan,
        "polygon_weak_share": len(weak_norm) / unrepresented if unrepresented else np.nan,
        "polygon_circle_share": (float(polygon["circle_share"].median()) if len(polygon)
                                 else np.nan),
        "polygon_weak_norm": float(np.median(weak_norm)) if len(weak_norm) else np.nan,
        "polygon_weak_aligned": (float((weak_cos > np.cos(np.radians(merge_angle(n)))).mean())
                                 if len(weak_cos)
                                 else np.nan),
        "circle_share_median": (float(circle["circle_share"].median()) if len(circle)
                                else np.nan),
        "circle_norm": float(np.median(norms)) if len(circle) else np.nan,
        "circle_all_represented": (float((circle["represented"] == n).mean()) if len(circle)
                                   else np.nan),
        "circle_step_error": float(np.median(step_error)) if len(circle) else np.nan,
        "circle_regular": float((step_error < 5).mean()) if len(circle) else np.nan,
        "mixture_merged": float(mixture["merged"].mean()) if len(mixture) else np.nan,
        "mixture_neighbour_groups": runs / groups if groups else np.nan,
        "circle_max_fpd": float(circle["features_per_dim"].max()) if len(circle) else np.nan,
        "mixture_frequency2": (float((mixture["dominant_frequency"] == 2).mean())
                               if len(mixture) else np.nan),
        "loss_vs_pca_by_ring": {r: float(g["loss_vs_pca"].median())
                                for r, g in models.groupby("ring")},
        "best_loss_vs_pca": (float(best["best_loss_vs_pca"]), float(best["width"]),
                             float(best["density"])),
        "beats_pca": float((models["loss"] < models["linear_optimal"]).mean()),
        "max_bias": {float(p): float(v) for p, v in models.groupby("density")["max_bias"].max()
                     .items()},
        "circle_bias_by_width": {float(w): float(v) for w, v in
                                 circle.groupby("width")["mean_bias"].median().items()},
    }

