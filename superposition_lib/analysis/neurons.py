"""Which features each neuron carries, for models whose hidden layer is a privileged basis.

In the ReLU-hidden-layer model x' = ReLU(Wᵀ ReLU(Wx) + b) a feature i alone (x = x_i e_i,
x_i > 0) reaches the output as

    x'_i = ReLU(x_i Σ_k [W_ki > 0] W_ki² + b_i),

so neuron k's *share* of feature i is s_ki = [W_ki > 0] W_ki² / Σ_k' [W_k'i > 0] W_k'i², and the
feature's *gain* is g_i = Σ_k [W_ki > 0] W_ki² (1 for a feature reproduced exactly through the
neurons; a negative weight only silences the neuron). With untied output weights (the
absolute-value model's W₂, shape (n, m)) neuron k's contribution is W_ki W₂_ik instead of W_ki²
(negative contributions count as 0), and the positive and the negative half of a feature are
two features of this kind (:func:`signed_halves`). This module classifies from these numbers:

- a feature is *represented* when its gain is at least :data:`MIN_GAIN`;
- neuron k *carries* a represented feature i when its share s_ki is at least :data:`MIN_SHARE`;
- a neuron is *unused* (carries nothing), *monosemantic* (one feature) or *polysemantic*;
- a feature's *code* is the set of neurons that carry it: one neuron, a pair, or more.

:func:`regime` names a whole model from these counts (:data:`REGIMES`), :func:`paper_regime` names
it as Elhage et al. (2022) name their regimes ("3 features in 2 neurons" ...), and
:func:`best_of_n_distribution` says how the lowest-loss model of N restarts changes with N
without resampling.

Examples
--------
>>> import numpy as np
>>> W = np.array([[[1.0, 0.0, 0.7], [0.0, 1.0, 0.7]]])   # (models, m, n): 2 neurons, 3 features
>>> carries(W)[0].astype(int).tolist()    # neuron 0 carries features 0 and 2, neuron 1: 1 and 2
[[1, 0, 1], [0, 1, 1]]
>>> regime(W)
['polysemantic, mixed code']
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = [
    "MIN_GAIN",
    "MIN_SHARE",
    "REGIMES",
    "best_of_n_distribution",
    "carries",
    "feature_gain",
    "model_codes",
    "neuron_order",
    "neuron_shares",
    "paper_regime",
    "regime",
    "signed_halves",
]

#: Least gain g_i of a represented feature.
MIN_GAIN = 0.5
#: Least share s_ki of a neuron that carries a feature: a code of up to 6 equal neurons counts.
MIN_SHARE = 0.15

#: The regimes :func:`regime` names, from monosemantic to distributed.
REGIMES = (
    "monosemantic",               # every used neuron carries one feature
    "mixed",                      # monosemantic and polysemantic neurons
    "two features per neuron",    # every used neuron carries two features, each on one neuron
    "one neuron per feature",     # no monosemantic neuron; every feature on one neuron
    "pair code",                  # no monosemantic neuron; every feature on exactly two neurons
    "distributed code",           # no monosemantic neuron; every feature on two or more
    "polysemantic, mixed code",   # no monosemantic neuron; some features on one, some on more
    "none",                       # nothing represented
)


def _check(W: np.ndarray) -> np.ndarray:
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 3:
        raise ValueError(f"W: must have shape (models, m, n); got shape {W.shape}")
    return W


def _contributions(W: np.ndarray, W_out: np.ndarray | None) -> np.ndarray:
    """[W_ki > 0] W_ki W_out_ik (W_out = Wᵀ when tied), negatives as 0: (models, m, n)."""
    W = _check(W)
    out = W if W_out is None else np.swapaxes(_check(W_out), 1, 2)
    if out.shape != W.shape:
        expected = (W.shape[0], W.shape[2], W.shape[1])
        raise ValueError(f"W_out: must have shape (models, n, m) = {expected}; got "
                         f"{np.shape(W_out)}")
    return np.clip(np.clip(W, 0, None) * out, 0, None)


def feature_gain(W: np.ndarray, W_out: np.ndarray | None = None) -> np.ndarray:
    """Gain g_i = Σ_k [W_ki > 0] W_ki W_out_ik of every feature through the neurons.

    Parameters
    ----------
    W : array_like, shape (models, m, n)
        Input weights of the hidden layer (W, or the absolute-value model's W₁).
    W_out : array_like, shape (models, n, m), optional
        Output weights; Wᵀ (tied) if omitted, so that g_i = Σ_k [W_ki > 0] W_ki².

    Returns
    -------
    numpy.ndarray, shape (models, n)

    Examples
    --------
    >>> feature_gain([[[1.0, -1.0], [0.5, 0.0]]]).tolist()
    [[1.25, 0.0]]
    >>> feature_gain([[[1.0, -1.0]]], W_out=[[[2.0], [3.0]]]).tolist()
    [[2.0, 0.0]]
    """
    return _contributions(W, W_out).sum(axis=1)


def neuron_shares(W: np.ndarray, W_out: np.ndarray | None = None) -> np.ndarray:
    """Share s_ki of neuron k in feature i's gain (0 for a feature with no gain).

    Parameters
    ----------
    W : array_like, shape (models, m, n)
    W_out : array_like, shape (models, n, m), optional
        Output weights; Wᵀ if omitted.

    Returns
    -------
    numpy.ndarray, shape (models, m, n)
        Each feature's shares sum to 1 (or are all 0).

    Examples
    --------
    >>> neuron_shares([[[1.0, 0.0], [1.0, -2.0]]])[0].tolist()
    [[0.5, 0.0], [0.5, 0.0]]
    """
    pos = _contributions(W, W_out)
    total = pos.sum(axis=1, keepdims=True)
    return np.divide(pos, total, out=np.zeros_like(pos), where=total > 0)


def carries(W: np.ndarray, min_share: float = MIN_SHARE, min_gain: float = MIN_GAIN, *,
            W_out: np.ndarray | None = None) -> np.ndarray:
    """Whether neuron k carries feature i: i is represented and k's share of it is large.

    Parameters
    ----------
    W : array_like, shape (models, m, n)
    min_share : float
        Least share s_ki, in (0, 1].
    min_gain : float
        Least gain g_i of a represented feature, > 0.
    W_out : array_like, shape (models, n, m), optional
        Output weights; Wᵀ if omitted.

    Returns
    -------
    numpy.ndarray of bool, shape (models, m, n)

    Raises
    ------
    ValueError
        If a threshold is out of range or W is not 3-D.

    Examples
    --------
    >>> carries([[[1.0, 0.1], [0.2, 0.1]]]).astype(int).tolist()   # feature 1 unrepresented
    [[[1, 0], [0, 0]]]
    """
    if not 0 < min_share <= 1:
        raise ValueError(f"min_share: must be in (0, 1]; got {min_share!r}")
    if not min_gain > 0:
        raise ValueError(f"min_gain: must be > 0; got {min_gain!r}")
    represented = feature_gain(W, W_out) >= min_gain
    return (neuron_shares(W, W_out) >= min_share) & represented[:, None, :]


def model_codes(W: np.ndarray, importance: np.ndarray | None = None, *,
                W_out: np.ndarray | None = None) -> pd.DataFrame:
    """Per model: how many features are represented, how the neurons are used, and its regime.

    Parameters
    ----------
    W : array_like, shape (models, m, n)
    importance : array_like, shape (models, n) or (n,), optional
        Feature importances; adds ``top_represented``, the number of leading features (in
        importance order) that are all represented.
    W_out : array_like, shape (models, n, m), optional
        Output weights; Wᵀ if omitted.

    Returns
    -------
    pandas.DataFrame
        One row per model: ``represented`` (features with gain >= :data:`MIN_GAIN`),
        ``monosemantic``, ``polysemantic``, ``unused`` (neurons), ``features_per_neuron``
        (mean over used neurons), ``neurons_per_feature`` (mean over represented features),
        ``code_1``, ``code_2``, ``code_3plus`` (represented features on one, two, three or
        more neurons), ``superposed`` (represented features carried by a polysemantic neuron),
        ``distinct_codes`` (whether no two represented features use the same set of neurons),
        ``regime`` (:func:`regime`) and ``paper_regime`` (:func:`paper_regime`).

    Examples
    --------
    >>> W = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    >>> model_codes(W)[["represented", "monosemantic", "regime", "paper_regime"]].values.tolist()
    [[2, 2, 'monosemantic', 'all monosemantic']]
    """
    W = _check(W)
    c = carries(W, W_out=W_out)
    per_neuron = c.sum(axis=2)                       # (models, m)
    per_feature = c.sum(axis=1)                      # (models, n)
    represented = feature_gain(W, W_out) >= MIN_GAIN
    rows = []
    for k in range(W.shape[0]):
        used = per_neuron[k] > 0
        sizes = per_feature[k][represented[k]]
        codes = [tuple(np.flatnonzero(c[k, :, i])) for i in np.flatnonzero(represented[k])]
        rows.append({
            "represented": int(represented[k].sum()),
            "monosemantic": int((per_neuron[k] == 1).sum()),
            "polysemantic": int((per_neuron[k] >= 2).sum()),
            "unused": int((~used).sum()),
            "features_per_neuron": float(per_neuron[k][used].mean()) if used.any() else 0.0,
            "neurons_per_feature": float(sizes.mean()) if len(sizes) else 0.0,
            "code_1": int((sizes == 1).sum()), "code_2": int((sizes == 2).sum()),
            "code_3plus": int((sizes >= 3).sum()),
            "superposed": int((c[k][per_neuron[k] >= 2].any(axis=0) & represented[k]).sum()),
            "distinct_codes": len(set(codes)) == len(codes),
        })
    df = pd.DataFrame(rows)
    df["regime"] = regime(W, W_out)
    df["paper_regime"] = paper_regime(df)
    if importance is not None:
        imp = np.broadcast_to(np.asarray(importance, dtype=float), represented.shape)
        order = np.argsort(-imp, axis=1, kind="stable")
        ranked = np.take_along_axis(represented, order, axis=1)
        df["top_represented"] = np.where(ranked.all(axis=1), ranked.shape[1],
                                         np.argmin(ranked, axis=1))
    return df


def regime(W: np.ndarray, W_out: np.ndarray | None = None) -> list[str]:
    """The regime of every model (one of :data:`REGIMES`), from :func:`carries`.

    A model with a monosemantic neuron is ``"monosemantic"`` when every used neuron is, else
    ``"mixed"``. Without one it is named by its features' codes: all on one neuron (``"two
    features per neuron"`` when every used neuron carries exactly two), all on exactly two
    (``"pair code"``: with n = 10, m = 5 there are exactly C(5, 2) = 10 pairs), all on two or
    more (``"distributed code"``), or a mixture.

    Parameters
    ----------
    W : array_like, shape (models, m, n)
    W_out : array_like, shape (models, n, m), optional
        Output weights; Wᵀ if omitted.

    Returns
    -------
    list of str

    Examples
    --------
    >>> pairs = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])  # neurons x feats
    >>> regime(pairs.T[None] / np.sqrt(2))    # 3 features, each on its own pair of 3 neurons
    ['pair code']
    """
    c = carries(W, W_out=W_out)
    per_neuron, per_feature = c.sum(axis=2), c.sum(axis=1)
    represented = feature_gain(W, W_out) >= MIN_GAIN
    names = []
    for k in range(c.shape[0]):
        used = per_neuron[k][per_neuron[k] > 0]
        sizes = per_feature[k][represented[k]]
        if not len(used):
            names.append("none")
        elif (used == 1).any():
            names.append("monosemantic" if (used == 1).all() else "mixed")
        elif (sizes == 1).all():
            names.append("two features per neuron" if (used == 2).all()
                         else "one neuron per feature")
        elif (sizes == 2).all():
            names.append("pair code")
        elif (sizes >= 2).all():
            names.append("distributed code")
        else:
            names.append("polysemantic, mixed code")
    return names


def paper_regime(codes: pd.DataFrame) -> list[str]:
    """Every model's regime as the paper names it (Elhage et al. 2022, "Superposition in a
    Privileged Basis"): "all monosemantic" when no neuron carries two features; "pair code"
    (the paper's "features are pairs of neurons") when :func:`regime` says so; otherwise
    "k features in j neurons", the j polysemantic neurons and the k represented features they
    carry (each other feature has a monosemantic neuron of its own). A monosemantic model keeps
    its name whatever it drops; the paper's n = 10, m = 5 model at 0.2 ≤ 1 − S ≤ 0.5 is
    "3 features in 2 neurons".

    Parameters
    ----------
    codes : pandas.DataFrame
        :func:`model_codes` columns ``polysemantic``, ``superposed`` and ``regime``.

    Returns
    -------
    list of str

    Examples
    --------
    >>> binary = np.array([[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0],
    ...                    [0, 0, 0, 1, 0, 1], [0, 0, 0, 0, 1, 1]], float)   # neurons x features
    >>> model_codes(binary[None] * [1, 1, 1, 1, 1, 0.75])["paper_regime"].tolist()
    ['3 features in 2 neurons']
    """
    names = []
    for row in codes.itertuples(index=False):
        if row.regime in ("none", "pair code"):
            names.append(row.regime)
        elif row.polysemantic == 0:
            names.append("all monosemantic")
        else:
            names.append(f"{row.superposed} features in {row.polysemantic} neurons")
    return names


def neuron_order(W: np.ndarray, W_out: np.ndarray | None = None) -> np.ndarray:
    """A display order of every model's neurons, by rule: by the most important feature each
    carries (lowest index first), then by that feature's weight; unused neurons last.

    Parameters
    ----------
    W : array_like, shape (models, m, n)
        Features in importance order (feature 0 the most important).
    W_out : array_like, shape (models, n, m), optional
        Output weights; Wᵀ if omitted.

    Returns
    -------
    numpy.ndarray of int, shape (models, m)
        ``order[k]`` lists model k's neurons left to right.

    Examples
    --------
    >>> neuron_order([[[0.0, 1.0], [1.0, 0.0], [0.1, 0.1]]]).tolist()
    [[1, 0, 2]]
    """
    W = _check(W)
    c = carries(W, W_out=W_out)
    models, m, n = W.shape
    first = np.where(c.any(axis=2), np.argmax(c, axis=2), n)       # (models, m)
    weight = np.take_along_axis(W, np.minimum(first, n - 1)[:, :, None], axis=2)[:, :, 0]
    return np.lexsort((-weight, first), axis=1) if models else np.zeros((0, m), int)


def signed_halves(W1: np.ndarray) -> np.ndarray:
    """The absolute-value model's input weights as 2n "features": x_i > 0 and x_i < 0.

    A neuron with W₁[k, i] > 0 fires for positive x_i, one with W₁[k, i] < 0 for negative x_i,
    so the positive and the negative half of feature i are two features of the earlier kind.

    Parameters
    ----------
    W1 : array_like, shape (models, m, n)

    Returns
    -------
    numpy.ndarray, shape (models, m, 2n)
        Columns 0..n−1 are W₁ (the positive halves), n..2n−1 are −W₁ (the negative halves).

    Examples
    --------
    >>> signed_halves([[[0.5, -1.0]]]).tolist()
    [[[0.5, -1.0, -0.5, 1.0]]]
    """
    W1 = _check(W1)
    return np.concatenate([W1, -W1], axis=2)


def best_of_n_distribution(loss: np.ndarray, labels, n_values) -> pd.DataFrame:
    """How the lowest-loss model of N restarts is distributed, for every N, exactly.

    Of R restarts ranked by loss (rank 1 the lowest), a random subset of N contains rank r as
    its best with probability C(R − r, N − 1) / C(R, N). Summing over the ranks of each label
    gives the distribution of the best-of-N model's label without resampling.

    Parameters
    ----------
    loss : array_like, shape (R,)
        Final loss of every restart of one setting.
    labels : array_like, shape (R,)
        A label per restart (e.g. its :func:`regime`).
    n_values : iterable of int
        Values of N, each in [1, R].

    Returns
    -------
    pandas.DataFrame
        Columns ``n``, ``label``, ``probability`` (every label of ``labels`` for every N; the
        probabilities of one N sum to 1).

    Raises
    ------
    ValueError
        If the shapes differ or an N is out of range.

    Examples
    --------
    >>> d = best_of_n_distribution([0.3, 0.1, 0.2], ["b", "a", "b"], [1, 3])
    >>> d.pivot(index="n", columns="label", values="probability").round(3).values.tolist()
    [[0.333, 0.667], [1.0, 0.0]]
    """
    loss = np.asarray(loss, dtype=float)
    labels = np.asarray(labels)
    if loss.ndim != 1 or labels.shape != loss.shape:
        raise ValueError(f"loss and labels: must be 1-D of one length; got shapes {loss.shape}"
                         f" and {labels.shape}")
    R = len(loss)
    ranked = labels[np.argsort(loss, kind="stable")]
    rows = []
    for n in n_values:
        if not (isinstance(n, (int, np.integer)) and 1 <= n <= R):
            raise ValueError(f"n_values: every N must be an integer in [1, {R}]; got {n!r}")
        # P(the restart ranked k is the best of N drawn without replacement) = C(R-k, N-1)/C(R, N)
        p = np.array([math.comb(R - k, n - 1) for k in range(1, R + 1)]) / math.comb(R, n)
        for label in sorted(set(labels.tolist())):
            rows.append({"n": int(n), "label": label, "probability": float(p[ranked == label]
                                                                             .sum())})
    return pd.DataFrame(rows)
