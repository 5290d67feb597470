"""The collapse sweeps: how many correlated pairs a model reads along their principal component.

``collapse`` trains n = 8 features (four correlated pairs) in m = 2 dimensions over 16
densities; ``collapse-n6`` and ``collapse-long`` are its controls (the paper's three pairs, and
longer training with larger batches; see
:mod:`~superposition_lib.experiments.pca_vs_superposition.specs`). A pair is collapsed as
:func:`~superposition_lib.analysis.pca.collapsed_sets` defines it; where the members of a pair
are indistinguishable from features of different pairs, collapse is compared with its chance
level.
"""

from __future__ import annotations

import pandas as pd

from ...analysis import stats
from ...core.store import RunStore
from ..registry import get, load
from .strategy import _exchangeable, _model_metrics

__all__ = [
    "COLLAPSE_RUNS",
    "collapse_chance",
    "collapse_comparison",
    "collapse_frame",
]

#: The collapse sweeps: the chapter's (n = 8), the paper's three pairs trained the same way,
#: and n = 8 trained longer with larger batches.
COLLAPSE_RUNS = ("collapse", "collapse-n6", "collapse-long")


def collapse_frame(profile: str | None = None, *, store: RunStore | None = None,
                   experiment: str = "collapse") -> pd.DataFrame:
    """A collapse sweep: one row per model, with its collapsed sets and strategy.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to the current profile.
    store : RunStore, optional
        Where runs are cached.
    experiment : str
        One of :data:`COLLAPSE_RUNS`.

    Returns
    -------
    pandas.DataFrame
        Columns of :func:`~superposition_lib.experiments.pca_vs_superposition.map_frame` (without
        the biases) plus ``best`` (the lowest-loss seed of its density).

    Examples
    --------
    >>> df = collapse_frame("smoke")
    >>> len(df), int(df["best"].sum())
    (32, 16)
    """
    if experiment not in COLLAPSE_RUNS:
        raise ValueError(f"experiment must be one of {', '.join(COLLAPSE_RUNS)}; "
                         f"got {experiment!r}")
    run = load(experiment, profile, store=store)
    df = _model_metrics(run)
    W = run.W.astype(float)
    for i in range(W.shape[2]):
        df[f"w{i}x"], df[f"w{i}y"] = W[:, 0, i], W[:, 1, i]
    df["best"] = False
    df.loc[run.best().models, "best"] = True
    return df


def collapse_comparison(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The collapse sweeps side by side: per sweep and density, how many pairs collapse.

    Parameters
    ----------
    frames : dict of str to pandas.DataFrame
        Sweep name -> :func:`collapse_frame`.

    Returns
    -------
    pandas.DataFrame
        One row per sweep and density: ``run``, ``pairs``, ``density``, ``seeds``, ``best``
        (collapsed pairs of the lowest-loss seed), ``share`` (mean share of pairs collapsed
        over seeds) with its 95% bootstrap interval over seeds ``share_low``, ``share_high``,
        and ``all`` (seeds that collapse every pair) with its Wilson interval ``all_low``,
        ``all_high``.

    Examples
    --------
    >>> f = pd.DataFrame({"density": [0.1] * 4, "seed": [0, 1, 2, 3],
    ...                   "collapsed": [3, 3, 2, 3], "best": [True, False, False, False]})
    >>> c = collapse_comparison({"collapse-n6": f})
    >>> c[["pairs", "best", "share", "all"]].values.tolist()
    [[3.0, 3.0, 0.9166666666666666, 0.75]]
    """
    rows = []
    for name, df in frames.items():
        pairs = int(get(name).spec("paper").n_features // 2)
        for density, g in df.groupby("density", sort=False):
            share = g["collapsed"].to_numpy(dtype=float) / pairs
            mean, low, high = stats.bootstrap_interval(share)
            full, full_low, full_high = stats.wilson_interval(
                int((g["collapsed"] == pairs).sum()), len(g))
            rows.append({"run": name, "pairs": pairs, "density": float(density),
                         "seeds": len(g), "best": int(g.loc[g["best"], "collapsed"].iloc[0]),
                         "share": mean, "share_low": low, "share_high": high, "all": full,
                         "all_low": full_low, "all_high": full_high})
    return pd.DataFrame(rows)



def collapse_chance(models: pd.DataFrame) -> pd.DataFrame:
    """Collapsed pairs against their chance level.

    Where c = 0 or p = 1 the members of a pair are indistinguishable from two features of
    different pairs, so any "collapsed" pair there is a chance alignment of two directions
    within the threshold. Re-pairing a_i with b_{i+1} (``collapsed_chance`` of
    :func:`~superposition_lib.experiments.pca_vs_superposition.map_frame`) gives the count such
    chance produces, everywhere.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`~superposition_lib.experiments.pca_vs_superposition.map_frame` or
        :func:`collapse_frame` rows.

    Returns
    -------
    pandas.DataFrame
        One row per group present: ``"exchangeable"`` (c = 0 or p = 1), then ``"linear"`` and
        ``"beyond linear"`` (the other models, by whether their strategy is ``"linear"``):
        ``models``, and the mean ``collapsed`` and ``chance`` per model with 95% bootstrap
        intervals over models (``collapsed_low``, ``collapsed_high``, ``chance_low``,
        ``chance_high``).

    Examples
    --------
    >>> m = pd.DataFrame({"strategy": ["linear", "linear", "mixture", "collapsed"],
    ...                   "correlation": [0.0, 1.0, 0.0, 1.0], "density": 0.5,
    ...                   "collapsed": [2, 4, 1, 4], "collapsed_chance": [1, 0, 1, 0]})
    >>> collapse_chance(m)[["group", "models", "collapsed", "chance"]].values.tolist()
    [['exchangeable', 2, 1.5, 1.0], ['linear', 1, 4.0, 0.0], ['beyond linear', 1, 4.0, 0.0]]
    """
    same = _exchangeable(models["correlation"], models["density"])
    linear = models["strategy"] == "linear"
    groups = {"exchangeable": same, "linear": ~same & linear, "beyond linear": ~same & ~linear}
    rows = []
    for name, mask in groups.items():
        if not mask.any():
            continue
        row = {"group": name, "models": int(mask.sum())}
        for col, key in (("collapsed", "collapsed"), ("collapsed_chance", "chance")):
            row[key], row[f"{key}_low"], row[f"{key}_high"] = stats.bootstrap_interval(
                models.loc[mask, col].to_numpy(dtype=float))
        rows.append(row)
    return pd.DataFrame(rows)

