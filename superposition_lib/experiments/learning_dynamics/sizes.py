"""Energy levels measured fairly: three sizes at the same densities, against null models, with
the search for the paper's swap and the late digon.

The runs are those of :data:`~superposition_lib.experiments.learning_dynamics.specs.SIZES`
(n = 20, 100 and 400, trained alike at the densities of ``SIZE_DENSITIES``) and of
:data:`~superposition_lib.experiments.learning_dynamics.specs.SWAP` (n = 400 under other
training choices). Per model (:func:`size_model_frame`):

- the initial split is counted over the *represented* features (final norm above
  :data:`~superposition_lib.core.metrics.REPRESENTED_NORM`): the hundreds of features a large
  model leaves out no longer decide when it ends;
- the loss decrease in jump windows after the split is reported against the decrease after the
  split *and* against the whole decrease from the first snapshot, next to two nulls
  (:mod:`~superposition_lib.analysis.dynamics.nulls`): the same windows placed at random, and
  placed where features move fastest without a jump;
- passages through 1/√2 and swaps (:mod:`~superposition_lib.analysis.dynamics.transients`);
- the last new digon: its step, where its features came from and the loss drop around it
  (over ±:data:`DROP_HALF_WIDTH` snapshots) against the same drop elsewhere after
  :data:`LATE_STEP`.

Examples
--------
>>> SIZE_RUNS
('energy-levels-sizes-n20', 'energy-levels-sizes-n100', 'energy-levels-sizes-n400')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ...analysis import dynamics
from ...analysis.stats import bootstrap_interval, wilson_interval
from ...core.metrics import REPRESENTED_NORM
from ...core.run import Run
from ...core.store import RunStore
from ..memo import remembered
from ..registry import load
from .energy import jump_frame
from .specs import SIZES, SWAP

__all__ = [
    "DROP_HALF_WIDTH",
    "LATE_STEP",
    "NULL_DRAWS",
    "SIZE_QUANTITIES",
    "SIZE_RUNS",
    "SWAP_RUNS",
    "event_frame",
    "size_model_frame",
    "visit_frame",
    "size_results",
    "size_statistics",
]

#: The experiments compared by size, smallest first.
SIZE_RUNS = tuple(name for name, _, _ in SIZES)
#: The swap search: the n = 400 reference (its models at ``SWAP_DENSITY`` are trained as the
#: others but for one training choice) and the runs of
#: :data:`~superposition_lib.experiments.learning_dynamics.specs.SWAP`.
SWAP_RUNS = (SIZE_RUNS[-1], *(name for name, *_ in SWAP))
#: Random placements of the jump windows per model (the random-window null).
NULL_DRAWS = 200
#: A digon that forms after this step is *late* (the initial split of every size ends before).
LATE_STEP = 10_000
#: Snapshots on each side of a digon formation over which its loss drop is measured.
DROP_HALF_WIDTH = 3

#: The per-model quantities :func:`size_statistics` summarises, with what they mean.
SIZE_QUANTITIES = {
    "after_share_of_total": "share of the whole loss decrease that comes after the split",
    "jump_share_after": "share of the decrease after the split inside jump windows",
    "jump_share_total": "share of the whole decrease inside jump windows after the split",
    "random_share_after": "the same windows placed at random (mean over placements)",
    "motion_share_after": "windows where features move fastest without a jump",
    "log_time_share": "share of log-time after the split inside jump windows",
    "jumps_per_decade": "jumps after the split per decade of steps",
}


def _drops(loss: np.ndarray, half: int) -> np.ndarray:
    """loss[k − half] − loss[k + half] for every k (NaN where the window leaves the run)."""
    out = np.full(len(loss), np.nan)
    if len(loss) > 2 * half:
        out[half:len(loss) - half] = loss[:len(loss) - 2 * half] - loss[2 * half:]
    return out


def visit_frame(run: Run) -> pd.DataFrame:
    """Every passage through 1/√2 of every model of a run.

    Parameters
    ----------
    run : Run
        A run with (compact) snapshots.

    Returns
    -------
    pandas.DataFrame
        :func:`~superposition_lib.analysis.dynamics.level_visits` columns plus ``model``,
        ``density`` and ``seed``.

    Examples
    --------
    >>> run = load("energy-levels-sizes-n20", "smoke")
    >>> {"model", "feature", "step_start", "swap"} <= set(visit_frame(run))
    True
    """
    S = run.snapshots
    keep = S.steps > 0
    dims = S.feature_dimensionality()[keep]
    frames = []
    for k in range(dims.shape[1]):
        visits = dynamics.level_visits(dims[:, k], S.steps[keep])
        visits.insert(0, "model", k)
        visits.insert(1, "density", float(run.feature_probability[k, 0]))
        visits.insert(2, "seed", int(run.restart[k]))
        frames.append(visits)
    return pd.concat(frames, ignore_index=True)


def size_model_frame(run: Run, *, seed: int = 0) -> pd.DataFrame:
    """One row per model of a run: its split, loss shares with their nulls, 1/√2 passages,
    swaps and last digon.

    Parameters
    ----------
    run : Run
        A run with (compact) snapshots.
    seed : int
        Seed of the random-window null.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``density``, ``seed``, ``size`` (n), ``m``, ``represented`` (features with a
        final norm above the threshold), ``split_step`` (over them; NaN if never) and
        ``split_step_all`` (over every feature); ``total_decrease`` (snapshot loss from the
        first positive step to the end), ``after_share_of_total``, ``jump_share_after``,
        ``jump_share_total``, ``random_share_after``, ``motion_share_after`` (0 for a model
        without a jump after its split), ``log_time_share``, ``jumps_after``,
        ``jumps_per_decade``; ``visits`` (passages through 1/√2), ``visits_from_digon`` and
        ``visits_into_digon`` (those with a digon plateau before, after), ``swaps``;
        ``digons`` (the most the model reaches), ``last_digon_step``, ``last_digon_from``
        (median D_i of its features before),
        ``late_digon`` (it forms after :data:`LATE_STEP` and after the split), ``late_drop``
        (the loss drop over ±:data:`DROP_HALF_WIDTH` snapshots around it) and ``drop_elsewhere``
        (the median of the same drop at every other snapshot after :data:`LATE_STEP`, beyond
        twice the window).

    Examples
    --------
    >>> run = load("energy-levels-sizes-n20", "smoke")
    >>> f = size_model_frame(run)
    >>> len(f) == run.spec.n_models, bool((f["represented"] <= 20).all())
    (True, True)
    """
    S = run.snapshots
    keep = S.steps > 0
    steps = S.steps[keep]
    dims, norms = S.feature_dimensionality()[keep], S.feature_norms()[keep]
    jumps = jump_frame(run)
    all_visits = visit_frame(run)
    rows = []
    for k in range(S.loss.shape[1]):
        D, loss = dims[:, k], S.loss[keep, k].astype(np.float64)
        mine = jumps[jumps["model"] == k]
        represented = norms[-1, k] > REPRESENTED_NORM
        split = dynamics.split_step(D, steps, features=represented)
        total = float(loss[0] - loss[-1])
        row = {"model": k, "density": float(run.feature_probability[k, 0]),
               "seed": int(run.restart[k]), "size": run.spec.n_features,
               "m": run.spec.n_hidden,
               "represented": int(represented.sum()),
               "split_step": np.nan if split is None else float(split),
               "split_step_all": _or_nan(dynamics.split_step(D, steps)),
               "total_decrease": total}
        shares = dict.fromkeys(("after_share_of_total", "jump_share_after", "jump_share_total",
                                "random_share_after", "motion_share_after", "log_time_share",
                                "jumps_per_decade"), np.nan)
        jumps_after = 0
        if split is not None and split < steps[-1] and total > 0:
            s = dynamics.jump_loss_fraction(mine, loss, steps, after=split)
            after = float(s.total_decrease)
            jumps_after = int((mine["step"] > split).sum())
            null = dynamics.random_window_share(mine, loss, steps, after=split,
                                                draws=NULL_DRAWS, seed=seed + k)
            motion = dynamics.motion_window_share(D, steps, mine, loss, after=split)
            none = int(s.windows) == 0
            shares.update({
                "after_share_of_total": after / total,
                "jump_share_after": float(s.fraction) if after > 0 else np.nan,
                "jump_share_total": float(s.jump_decrease) / total,
                "random_share_after": 0.0 if none else float(null.null_mean),
                "motion_share_after": 0.0 if none else motion,
                "log_time_share": float(s.log_time_fraction),
                "jumps_per_decade": jumps_after / np.log10(steps[-1] / split)})
        visits = all_visits[all_visits["model"] == k]
        formations = dynamics.digon_formations(D, steps)
        row.update(shares)
        row.update({"jumps_after": jumps_after, "visits": len(visits),
                    "visits_from_digon": int(np.isclose(visits["level_before"], 0.5).sum()),
                    "visits_into_digon": int(np.isclose(visits["level_after"], 0.5).sum()),
                    "swaps": int(visits["swap"].sum())})
        row.update(_last_digon(formations, loss, steps, split))
        rows.append(row)
    return pd.DataFrame(rows)


def _or_nan(step: int | None) -> float:
    return np.nan if step is None else float(step)


def _last_digon(formations: pd.DataFrame, loss: np.ndarray, steps: np.ndarray,
                split: int | None) -> dict:
    """The columns of :func:`size_model_frame` about the model's last new digon."""
    if not len(formations):
        return {"digons": 0, "last_digon_step": np.nan, "last_digon_from": np.nan,
                "late_digon": False, "late_drop": np.nan, "drop_elsewhere": np.nan}
    last = formations.iloc[-1]
    late = bool(last.step > LATE_STEP and split is not None and last.step > split)
    drop = elsewhere = np.nan
    if late:
        drops = _drops(loss, DROP_HALF_WIDTH)
        at = int(np.searchsorted(steps, last.step))
        far = np.abs(np.arange(len(steps)) - at) > 2 * DROP_HALF_WIDTH
        drop = float(drops[at])
        elsewhere = float(np.nanmedian(np.where(far & (steps > LATE_STEP), drops, np.nan)))
    return {"digons": int(last.digons), "last_digon_step": float(last.step),
            "last_digon_from": float(last.D_before), "late_digon": late, "late_drop": drop,
            "drop_elsewhere": elsewhere}


def size_statistics(models: pd.DataFrame, by: Sequence[str] = ("size",), *, seed: int = 0
                    ) -> pd.DataFrame:
    """Per group, the mean of every quantity of :data:`SIZE_QUANTITIES` with its 95%
    bootstrap interval over seeds.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`size_model_frame` rows (with ``seed`` and the ``by`` columns).
    by : sequence of str
        Grouping columns.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``quantity``, ``estimate``, ``low``, ``high`` and ``models`` (those
        with a value).

    Examples
    --------
    >>> m = pd.DataFrame({"size": 20, "seed": [0, 1], **{q: [0.1, 0.3]
    ...                   for q in SIZE_QUANTITIES}})
    >>> t = size_statistics(m)
    >>> float(t.loc[t.quantity == "jump_share_total", "estimate"].iloc[0])
    0.2
    """
    rows = []
    for key, group in models.groupby(list(by), sort=True):
        base = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        for quantity in SIZE_QUANTITIES:
            est, low, high = bootstrap_interval(group[quantity], group["seed"], seed=seed)
            rows.append({**base, "quantity": quantity, "estimate": est, "low": low,
                         "high": high, "models": int(group[quantity].notna().sum())})
    return pd.DataFrame(rows)


def event_frame(models: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Per experiment and density, the swaps and the late digons, with intervals.

    Parameters
    ----------
    models : pandas.DataFrame
        :func:`size_model_frame` rows with an ``experiment`` column.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        One row per experiment and density (in order of appearance): ``experiment``, ``size``,
        ``density``, ``models``,
        ``visits`` (passages through 1/√2), ``visits_from_digon``, ``visits_into_digon``,
        ``swaps`` and the Wilson 95% interval of the share
        of models with a swap (``swap_low``, ``swap_high``); ``full`` (models that reach m
        digons, one in every dimension); ``late`` (models with a late
        digon), its share with Wilson interval (``late_share``, ``late_low``, ``late_high``),
        the median step of every model's last new digon with its bootstrap interval over
        seeds (``last_step``, ``step_low``, ``step_high``: when the final set of digons is
        complete, late or not), and over the late ones the median D_i their features came from
        (``late_from``) and the median loss drop around them next to the median drop
        elsewhere (``late_drop``, ``drop_elsewhere``).

    Examples
    --------
    >>> m = pd.DataFrame({"experiment": "x", "size": 400, "m": 30, "density": 0.3,
    ...                   "seed": [0, 1], "digons": [30, 29],
    ...                   "visits": [1, 0], "swaps": 0,
    ...                   "visits_from_digon": 0, "visits_into_digon": [1, 0],
    ...                   "late_digon": [True, False], "last_digon_step": [5e4, 2e3],
    ...                   "last_digon_from": [0.03, 0.4], "late_drop": [1e-4, np.nan],
    ...                   "drop_elsewhere": [2e-5, np.nan]})
    >>> event_frame(m)[["experiment", "models", "swaps", "late", "late_from"]].values.tolist()
    [['x', 2, 0, 1, 0.03]]
    """
    rows = []
    for (name, density), group in models.groupby(["experiment", "density"], sort=False):
        n = len(group)
        with_swap = int((group["swaps"] > 0).sum())
        _, swap_low, swap_high = wilson_interval(with_swap, n)
        late = group[group["late_digon"]]
        share, late_low, late_high = wilson_interval(len(late), n)
        step, step_low, step_high = bootstrap_interval(group["last_digon_step"], group["seed"],
                                                       statistic=np.median, seed=seed)
        rows.append({"experiment": name, "size": int(group["size"].iloc[0]), "density": density,
                     "models": n, "visits": int(group["visits"].sum()),
                     "visits_from_digon": int(group["visits_from_digon"].sum()),
                     "visits_into_digon": int(group["visits_into_digon"].sum()),
                     "swaps": int(group["swaps"].sum()), "swap_low": swap_low,
                     "swap_high": swap_high,
                     "full": int((group["digons"] == group["m"]).sum()),
                     "late": len(late), "late_share": share,
                     "late_low": late_low, "late_high": late_high, "last_step": step,
                     "step_low": step_low, "step_high": step_high,
                     "late_from": float(late["last_digon_from"].median()) if len(late)
                     else np.nan,
                     "late_drop": float(late["late_drop"].median()) if len(late) else np.nan,
                     "drop_elsewhere": float(late["drop_elsewhere"].median()) if len(late)
                     else np.nan})
    return pd.DataFrame(rows)


@remembered(*SIZE_RUNS, *SWAP_RUNS[1:])
def size_results(profile: str | None = None, *, store: RunStore | None = None) -> dict:
    """Everything the chapter needs to compare sizes fairly and to search for the swap.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to the current profile.
    store : RunStore, optional
        Where runs are cached.

    Returns
    -------
    dict
        ``models``: :func:`size_model_frame` rows of the size runs (``experiment`` added);
        ``statistics``: :func:`size_statistics` by size and by size and density;
        ``events``: :func:`event_frame` of the size runs and of the swap search (every run of
        ``SWAP``), one row per run and density; ``swaps``: the :func:`visit_frame` rows of
        every swap in them, with ``experiment`` and the model's ``split_step``;
        ``swap_share``: the share of all those models with a swap and its Wilson 95% interval.

    Examples
    --------
    >>> r = size_results("smoke")
    >>> sorted(r["models"]["size"].unique().tolist())
    [20, 100, 400]
    >>> r["events"]["experiment"].unique().tolist() == list(SIZE_RUNS + SWAP_RUNS[1:])
    True
    """
    frames, swaps = [], []
    for name in (*SIZE_RUNS, *SWAP_RUNS[1:]):
        run = load(name, profile, store=store)
        frame = size_model_frame(run)
        frame.insert(0, "experiment", name)
        frames.append(frame)
        visits = visit_frame(run)
        visits = visits[visits["swap"]].merge(frame[["model", "split_step"]], on="model")
        visits.insert(0, "experiment", name)
        swaps.append(visits)
    everything = pd.concat(frames, ignore_index=True)
    models = everything[everything["experiment"].isin(SIZE_RUNS)].reset_index(drop=True)
    statistics = pd.concat([size_statistics(models), size_statistics(models, ("size", "density"))],
                           ignore_index=True)
    swaps = pd.concat(swaps, ignore_index=True)
    with_swap = int((everything["swaps"] > 0).sum())
    return {"models": models, "statistics": statistics, "events": event_frame(everything),
            "swaps": swaps, "swap_share": wilson_interval(with_swap, len(everything))}
