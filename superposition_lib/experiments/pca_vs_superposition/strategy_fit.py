"""A fitted model of the map's strategy: P(strategy | density, correlation), with its uncertainty.

The strategy of every model of ``pca-map`` and ``pca-map-fine`` (four correlated pairs in two
dimensions, :func:`~superposition_lib.experiments.pca_vs_superposition.classify_strategy`) is
regressed on its cell's density p and correlation c by a multinomial logistic regression
(statsmodels' ``MNLogit``, fitted by Newton's method) on the quadratic surface of
:data:`TERMS` in x = log10 p and c:

    P(s | p, c) ∝ exp(β_s · (1, x, c, x², c², x·c)),   β_mixture = 0.

The surface is the smallest that bends: a boundary of the map is where two strategies are
equally probable, so with terms linear in x and c every boundary would be a straight line in
(log p, c), and the measured collapsed region is not bounded by straight lines.

Its uncertainty is the bootstrap's: the models are resampled with replacement and the model
refitted, :data:`FIT_REFITS` times. The refits give at every point an interval for each
probability and the share of refits whose most probable strategy is the fit's. The
**confidence band** of the boundaries is where that share is below the level
(:data:`BAND_LEVEL`): there the data do not settle which strategy is the most probable. Every
model is one observation: the seeds of a cell are independent trainings. (The bootstrap, not
draws from the estimate's asymptotic normal distribution: the linear regime is nearly
separated from the rest by density, and the normal approximation then lets its probability
rise where no linear model was ever seen.)

statsmodels is imported when a fit is made, so the rest of the library does not need it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...core.store import RunStore
from ..memo import remembered
from ..registry import current_profile
from .strategy import STRATEGIES
from .tradeoff import map_frame

__all__ = [
    "BAND_LEVEL",
    "FIT_REFITS",
    "FIT_ROWS",
    "FIT_RUNS",
    "FIT_STRATEGIES",
    "TERMS",
    "StrategyFit",
    "design",
    "fit_findings",
    "fit_strategy",
    "fitted_edges",
    "map_fit",
    "strategy_surface",
]

#: The regressors, in order: a constant, x = log10 density, c, x², c² and x·c.
TERMS = ("const", "log_density", "correlation", "log_density^2", "correlation^2",
         "log_density*correlation")

#: The strategies in the fit's order: the first (the most common on the map) is the reference,
#: whose coefficients are 0.
FIT_STRATEGIES = ("mixture", "linear", "collapsed", "superposition")

#: The runs whose models the fit takes: the map and its finer grid (the map's training: the
#: control ``pca-map-long``, trained otherwise, is left out).
FIT_RUNS = ("pca-map", "pca-map-fine")

#: The correlations at which the chapter reads the fitted regions along density
#: (:func:`fitted_edges`).
FIT_ROWS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0)

#: Bootstrap refits behind the intervals and the confidence band.
FIT_REFITS = 500

#: Bootstrap refits of :func:`map_fit` by profile.
_PROFILE_REFITS = {"paper": FIT_REFITS, "smoke": 50}

#: Confidence level of the intervals and the band.
BAND_LEVEL = 0.95


def design(density, correlation) -> pd.DataFrame:
    """The regressors of :data:`TERMS` at the points (density, correlation).

    Parameters
    ----------
    density, correlation : array_like, shape (points,)
        Density p in (0, 1] and correlation c of every point.

    Returns
    -------
    pandas.DataFrame
        One column per term of :data:`TERMS`, one row per point.

    Examples
    --------
    >>> design([0.1], [0.5]).round(3).values.tolist()
    [[1.0, -1.0, 0.5, 1.0, 0.25, -0.5]]
    """
    p = np.asarray(density, dtype=float)
    if np.any(~(p > 0)) or np.any(p > 1):
        raise ValueError("density: values must lie in (0, 1]")
    x, c = np.log10(p), np.asarray(correlation, dtype=float)
    return pd.DataFrame(dict(zip(TERMS, (np.ones_like(x), x, c, x * x, c * c, x * c))))


@dataclass(frozen=True)
class StrategyFit:
    """A fitted multinomial logistic model of the strategy (:func:`fit_strategy`).

    Attributes
    ----------
    params : numpy.ndarray, shape (len(TERMS), len(FIT_STRATEGIES))
        β of every strategy, in :data:`FIT_STRATEGIES` order (the first column, the reference,
        is 0).
    boot : numpy.ndarray, shape (refits, len(TERMS), len(FIT_STRATEGIES))
        β of every bootstrap refit that converged.
    failed : int
        Bootstrap refits that did not converge, or whose resample lacked a strategy (left out
        of ``boot``).
    models : int
        Models fitted.
    counts : dict
        Strategy → models of it.
    log_likelihood, aic, aic_linear : float
        The fit's log-likelihood and AIC, and the AIC of the same model with the linear terms
        only (the comparison that justifies the quadratic surface).
    pseudo_r2 : float
        McFadden's pseudo R², 1 − log-likelihood / the constant-only model's.

    Examples
    --------
    >>> fit = StrategyFit(np.zeros((6, 4)), np.zeros((3, 6, 4)), 0, 4, {}, -5.5, 11.0, 12.0, 0.0)
    >>> fit.probabilities([0.1], [0.5]).tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    """

    params: np.ndarray
    boot: np.ndarray
    failed: int
    models: int
    counts: dict
    log_likelihood: float
    aic: float
    aic_linear: float
    pseudo_r2: float

    def probabilities(self, density, correlation, params: np.ndarray | None = None
                      ) -> np.ndarray:
        """P(strategy | density, correlation) at every point.

        Parameters
        ----------
        density, correlation : array_like, shape (points,)
            The points.
        params : numpy.ndarray, optional, shape (refits, len(TERMS), len(FIT_STRATEGIES))
            Other parameters, e.g. ``boot``, instead of the estimate.

        Returns
        -------
        numpy.ndarray, shape (points, len(FIT_STRATEGIES)) or (refits, points, len(FIT_STRATEGIES))
            Probabilities in :data:`FIT_STRATEGIES` order; each row sums to 1.

        Examples
        --------
        >>> fit = StrategyFit(np.zeros((6, 4)), np.zeros((3, 6, 4)), 0, 4, {}, -5.5, 11.0,
        ...                   12.0, 0.0)
        >>> fit.probabilities([0.1, 1.0], [0.5, 0.0]).shape
        (2, 4)
        """
        X = design(density, correlation).to_numpy()
        eta = X @ (self.params if params is None else params)
        eta -= eta.max(-1, keepdims=True)
        e = np.exp(eta)
        return e / e.sum(-1, keepdims=True)


def fit_strategy(models: pd.DataFrame, *, refits: int = FIT_REFITS, seed: int = 0
                 ) -> StrategyFit:
    """Fit P(strategy | density, correlation) to models of the map, and bootstrap it.

    Parameters
    ----------
    models : pandas.DataFrame
        One row per model: ``density``, ``correlation`` and ``strategy`` (one of
        :data:`~superposition_lib.experiments.pca_vs_superposition.STRATEGIES`), e.g.
        :func:`~superposition_lib.experiments.pca_vs_superposition.map_frame` of ``pca-map`` and
        ``pca-map-fine`` together.
    refits : int
        Bootstrap refits (the models resampled with replacement).
    seed : int
        Seed of the resampling.

    Returns
    -------
    StrategyFit
        The estimate and its refits.

    Raises
    ------
    ValueError
        If a strategy is not one of the four, one of them has no model, or the fit does not
        converge (e.g. one strategy
        perfectly separated from the others by the terms, which leaves its coefficients
        unbounded).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p, c = 10 ** rng.uniform(-2, 0, 3000), rng.uniform(0, 1, 3000)
    >>> beta = np.c_[np.zeros(6), [4, 6, 0, 0, 0, 0], [1, 0, 3, 0, 0, 0], [-1, 0, -3, 0, 0, 0]]
    >>> truth = StrategyFit(beta, beta[None], 0, 0, {}, 0.0, 0.0, 0.0, 0.0)
    >>> pick = (truth.probabilities(p, c).cumsum(1) < rng.uniform(size=(3000, 1))).sum(1)
    >>> fit = fit_strategy(pd.DataFrame({"density": p, "correlation": c,
    ...     "strategy": np.asarray(FIT_STRATEGIES)[pick]}), refits=50)
    >>> low, high = np.quantile(fit.boot[:, 1, 1], [0.025, 0.975])   # β of log10 p, linear
    >>> bool(low < 6 < high), fit.boot.shape
    (True, (50, 6, 4))
    """
    import warnings

    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    bad = sorted(set(models["strategy"]) - set(STRATEGIES))
    if bad:
        raise ValueError(f"strategy: values must be in {STRATEGIES}; got {bad}")
    absent = [s for s in FIT_STRATEGIES if not (models["strategy"] == s).any()]
    if absent:
        raise ValueError(f"strategy: every one of {FIT_STRATEGIES} needs models; none of "
                         f"{absent}")
    y = pd.Categorical(models["strategy"], categories=FIT_STRATEGIES).codes
    X = design(models["density"], models["correlation"]).to_numpy()

    def fit(rows, columns=len(TERMS), start=None):
        """The MNLogit fit of ``rows`` on the first ``columns`` terms; None if it fails or a
        strategy is missing from the rows (a resample can lose a rare one)."""
        if np.unique(y[rows]).size < len(FIT_STRATEGIES):
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)      # exp overflow while searching
            try:
                res = sm.MNLogit(y[rows], X[rows, :columns]).fit(
                    start_params=start, method="newton", maxiter=300, disp=False)
            except (ConvergenceWarning, np.linalg.LinAlgError):
                return None
        return res if np.all(np.isfinite(res.bse)) else None

    every = np.arange(len(y))
    res = fit(every)
    if res is None:
        raise ValueError("the strategy model did not converge: a strategy is (nearly) separated "
                         "from the others by the terms")
    params = np.zeros((len(TERMS), len(FIT_STRATEGIES)))
    params[:, 1:] = np.asarray(res.params)
    start = params[:, 1:].ravel(order="F")
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(refits):
        r = fit(rng.integers(0, len(y), len(y)), start=start)
        if r is not None:
            b = np.zeros_like(params)
            b[:, 1:] = np.asarray(r.params).reshape(len(TERMS), -1)
            boot.append(b)
    linear_terms = fit(every, 3)
    return StrategyFit(
        params=params, boot=np.array(boot).reshape(-1, *params.shape),
        failed=refits - len(boot), models=len(models),
        counts={s: int((models["strategy"] == s).sum()) for s in FIT_STRATEGIES},
        log_likelihood=float(res.llf), aic=float(res.aic),
        aic_linear=float(linear_terms.aic) if linear_terms is not None else np.nan,
        pseudo_r2=float(res.prsquared))


def strategy_surface(fit: StrategyFit, density, correlation, *, level: float = BAND_LEVEL
                     ) -> pd.DataFrame:
    """The fitted probabilities at points, with bootstrap intervals and the confidence band.

    Parameters
    ----------
    fit : StrategyFit
        :func:`fit_strategy`.
    density, correlation : array_like, shape (points,)
        The points.
    level : float
        Confidence level of the intervals and of the band.

    Returns
    -------
    pandas.DataFrame
        One row per point: ``density``, ``correlation``, ``strategy`` (the most probable),
        for every strategy s ``p_s``, ``p_s_low`` and ``p_s_high`` (the estimate and the
        equal-tailed interval over the refits), ``agree`` (share of refits whose most probable
        strategy is ``strategy``) and ``band`` (``agree`` below ``level``: the point lies in
        the confidence band of a boundary).

    Examples
    --------
    >>> beta = np.c_[np.zeros(6), [2, 4, 0, 0, 0, 0], np.zeros((6, 2)) - 9]
    >>> boot = beta + np.random.default_rng(0).normal(0, 0.1, (200, 6, 4))
    >>> fit = StrategyFit(beta, boot, 0, 0, {}, 0.0, 0.0, 0.0, 0.0)
    >>> s = strategy_surface(fit, [1.0, 0.3, 0.1], [0.5] * 3)
    >>> s["strategy"].tolist(), s["band"].tolist()     # linear and mixture tie at p = 10^-0.5
    (['linear', 'mixture', 'mixture'], [False, True, False])
    """
    if not 0 < level < 1:
        raise ValueError(f"level: must lie in (0, 1); got {level}")
    p = fit.probabilities(density, correlation)
    refit = fit.probabilities(density, correlation, fit.boot)
    best = p.argmax(1)
    out = pd.DataFrame({"density": np.asarray(density, dtype=float),
                        "correlation": np.asarray(correlation, dtype=float),
                        "strategy": np.asarray(FIT_STRATEGIES)[best]})
    tail = (1 - level) / 2
    for j, s in enumerate(FIT_STRATEGIES):
        out[f"p_{s}"] = p[:, j]
        out[f"p_{s}_low"], out[f"p_{s}_high"] = np.quantile(refit[..., j], [tail, 1 - tail], 0)
    out["agree"] = (refit.argmax(-1) == best).mean(0)
    out["band"] = out["agree"] < level
    return out


def _first_run(wins: np.ndarray, grid: np.ndarray) -> tuple[float, float]:
    """(densest, sparsest) density of the first run of True in ``wins`` along ``grid``
    (dense to sparse, last axis); NaN where there is none."""
    start = wins.argmax(-1)
    after = np.where(np.arange(wins.shape[-1]) >= start[..., None], ~wins, False)
    stop = np.where(after.any(-1), after.argmax(-1), wins.shape[-1]) - 1
    some = wins.any(-1)
    return np.where(some, grid[start], np.nan), np.where(some, grid[stop], np.nan)


def fitted_edges(fit: StrategyFit, correlations, *, points: int = 400,
                 level: float = BAND_LEVEL) -> pd.DataFrame:
    """Where each strategy is the most probable along density, with bootstrap intervals.

    Walking along density from 1 down to 0.01 at a fixed correlation, a strategy's region is
    the first stretch of densities where it is the most probable.

    Parameters
    ----------
    fit : StrategyFit
        :func:`fit_strategy`.
    correlations : array_like
        The correlations c of the rows.
    points : int
        Densities, log-spaced from 1 to 0.01, on which the edges are read.
    level : float
        Confidence level of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per (correlation, strategy): ``densest`` and ``sparsest`` (the edges of its
        region, from the estimate; NaN if it has none), their equal-tailed intervals
        ``densest_low``, ``densest_high``, ``sparsest_low``, ``sparsest_high`` over the refits
        in which the strategy has a region, and ``missing`` (share of refits in which it has
        none).

    Examples
    --------
    >>> beta = np.c_[np.zeros(6), [2, 4, 0, 0, 0, 0], np.zeros((6, 2)) - 9]
    >>> fit = StrategyFit(beta, beta[None].repeat(10, 0), 0, 0, {}, 0.0, 0.0, 0.0, 0.0)
    >>> e = fitted_edges(fit, [0.5]).set_index("strategy")
    >>> round(float(e.loc["linear", "sparsest"]), 2), float(e.loc["collapsed", "missing"])
    (0.32, 1.0)
    """
    grid = np.geomspace(1.0, 0.01, points)
    tail = (1 - level) / 2
    rows = []
    for c in np.asarray(correlations, dtype=float):
        cs = np.full(points, c)
        best = fit.probabilities(grid, cs).argmax(1)                        # (points,)
        refit = fit.probabilities(grid, cs, fit.boot).argmax(-1)            # (refits, points)
        for j, s in enumerate(FIT_STRATEGIES):
            densest, sparsest = _first_run(best == j, grid)
            row = {"correlation": float(c), "strategy": s, "densest": float(densest),
                   "sparsest": float(sparsest)}
            edges = _first_run(refit == j, grid)
            some = np.isfinite(edges[0])
            for name, v in zip(("densest", "sparsest"), edges):
                row[f"{name}_low"], row[f"{name}_high"] = (
                    np.quantile(v[some], [tail, 1 - tail]) if some.any() else (np.nan, np.nan))
            row["missing"] = float(1 - some.mean())
            rows.append(row)
    return pd.DataFrame(rows)


@remembered(*FIT_RUNS)
def map_fit(profile: str | None = None, *, store: RunStore | None = None) -> dict:
    """The strategy model of the map, fitted to the models of :data:`FIT_RUNS`.

    Parameters
    ----------
    profile : str, optional
        ``"paper"`` or ``"smoke"``; defaults to the current profile.
    store : RunStore, optional
        Where runs are cached.

    Returns
    -------
    dict
        ``models``: the :func:`~superposition_lib.experiments.pca_vs_superposition.map_frame`
        rows of both runs (``experiment`` added); ``fit``: :func:`fit_strategy` of them
        (:data:`FIT_REFITS` refits under the ``paper`` profile, 50 under ``smoke``).

    Examples
    --------
    >>> r = map_fit("smoke")
    >>> r["models"]["experiment"].unique().tolist(), r["fit"].models == len(r["models"])
    (['pca-map', 'pca-map-fine'], True)
    """
    models = pd.concat([map_frame(profile, store=store, experiment=name).assign(experiment=name)
                        for name in FIT_RUNS], ignore_index=True)
    return {"models": models,
            "fit": fit_strategy(models, refits=_PROFILE_REFITS[current_profile(profile)])}


def fit_findings(fit: StrategyFit, fine: pd.DataFrame, cells: pd.DataFrame) -> dict:
    """The numbers the chapter states about the fitted model against the cells it was fitted to.

    Parameters
    ----------
    fit : StrategyFit
        :func:`fit_strategy`.
    fine, cells : pandas.DataFrame
        :func:`~superposition_lib.experiments.pca_vs_superposition.map_cells` of
        ``pca-map-fine`` and of ``pca-map``.

    Returns
    -------
    dict
        ``edges`` (:func:`fitted_edges` at :data:`FIT_ROWS`, indexed by strategy and
        correlation); ``names_unanimous``, ``names_fine`` and ``names_map`` (shares of the fine
        cells whose seeds agree, of all fine cells and of the map's cells whose majority is the
        fit's most probable strategy); ``split_misnamed`` (share of the misnamed fine cells
        whose seeds split); ``band`` (share of the fine cells in the confidence band);
        ``linear_widest`` and ``collapsed_widest`` (the widest interval, as a factor in density,
        of the linear regime's sparse edge and of the collapsed region's); ``grid_factor`` (the
        factor between two neighbouring densities of the map).

    Examples
    --------
    >>> beta = np.c_[np.zeros(6), [2, 4, 0, 0, 0, 0], np.zeros((6, 2)) - 9]
    >>> fit = StrategyFit(beta, beta[None].repeat(4, 0), 0, 0, {}, 0.0, 0.0, 0.0, 0.0)
    >>> cells = pd.DataFrame({"density": [1.0, 0.1], "correlation": 0.5,
    ...                       "strategy": ["linear", "mixture"], "share": [1.0, 0.5]})
    >>> f = fit_findings(fit, cells, cells)
    >>> f["names_fine"], f["band"], round(f["grid_factor"], 1)
    (1.0, 0.0, 10.0)
    """
    edges = fitted_edges(fit, FIT_ROWS).set_index(["strategy", "correlation"])
    on_fine = strategy_surface(fit, fine["density"], fine["correlation"])
    names = on_fine["strategy"].to_numpy() == fine["strategy"].to_numpy()
    unanimous = fine["share"].to_numpy() == 1
    on_map = strategy_surface(fit, cells["density"], cells["correlation"])["strategy"]
    widest = {}
    for s in ("linear", "collapsed"):
        e = edges.loc[s].dropna(subset=["sparsest"])
        widest[s] = float((e["sparsest_high"] / e["sparsest_low"]).max()) if len(e) else np.nan
    dens = np.sort(cells["density"].unique())[::-1]
    return {"edges": edges,
            "names_unanimous": float(names[unanimous].mean()) if unanimous.any() else np.nan,
            "names_fine": float(names.mean()),
            "names_map": float((on_map.to_numpy() == cells["strategy"].to_numpy()).mean()),
            "split_misnamed": float((~unanimous[~names]).mean()) if (~names).any() else np.nan,
            "band": float(on_fine["band"].mean()),
            "linear_widest": widest["linear"], "collapsed_widest": widest["collapsed"],
            "grid_factor": float(dens[0] / dens[1]) if len(dens) > 1 else np.nan}
