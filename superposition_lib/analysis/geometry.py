"""Which polytopes the features of a toy model form.

Elhage et al. (2022, "The geometry of superposition") find that, with features of equal
importance and sparsity, a ReLU-output model arranges its represented features into small
regular polytopes — antipodal pairs (digons), triangles, tetrahedra, pentagons, square
antiprisms — each living in a subspace orthogonal to the others (a *tegum product*). This
module recovers that structure from W:

1. A feature is *represented* when ‖W_i‖ > ``norm_threshold`` (0.5: trained features have norm
   ≈ 1 or ≈ 0).
2. The *feature graph* joins two represented features when the cosine of their directions
   satisfies abs(Ŵ_i · Ŵ_j) > ``edge_threshold`` (0.2 by default: every pair of vertices of the
   polytopes above that are neighbours has abs(cos) ≥ 1/3, while features in orthogonal subspaces
   have cos ≈ 0).
3. Every connected component is one polytope, named from its number of features k and the
   dimension d of the space it spans (:func:`name_polytope`). A component of one feature is a
   *dedicated* dimension only when the feature has nearly a dimension to itself, D_i ≥
   :data:`DEDICATED_D` (:func:`~superposition_lib.core.metrics.feature_dimensionality`);
   otherwise it is *isolated*: no single neighbour interferes with it above the edge threshold,
   but many weak ones together take a share of its dimension.

Conventions follow :mod:`superposition_lib.core.metrics`: W has shape (m, n) and column
``W[:, i]`` is feature i's direction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.metrics import REPRESENTED_NORM, _as_float64, feature_dimensionality

__all__ = [
    "DEDICATED_D",
    "NAMES",
    "component_labels",
    "feature_graph",
    "name_polytope",
    "polytopes",
    "span_dimension",
]

#: Feature dimensionality from which a lone feature counts as a dedicated dimension (below it,
#: :func:`polytopes` calls it ``"isolated"``).
DEDICATED_D = 0.9

#: Names of the polytopes :func:`name_polytope` recognises, by (k features, d dimensions),
#: besides ``"dedicated"`` (k = 1) and ``"other"`` (anything else).
NAMES = {(2, 1): "digon", (3, 2): "triangle", (4, 3): "tetrahedron", (5, 2): "pentagon",
         (8, 3): "square antiprism"}


def feature_graph(W, *, norm_threshold: float = REPRESENTED_NORM,
                  edge_threshold: float = 0.2) -> np.ndarray:
    """Adjacency matrix of the feature graph of one model.

    Parameters
    ----------
    W : array_like, shape (m, n)
        Weights; column ``W[:, i]`` is feature i's direction.
    norm_threshold : float
        Features with ‖W_i‖ ≤ this are not represented and have no edges.
    edge_threshold : float
        Two represented features are joined when abs(Ŵ_i · Ŵ_j) exceeds this.

    Returns
    -------
    numpy.ndarray of bool, shape (n, n)
        Symmetric, with a False diagonal.

    Examples
    --------
    >>> feature_graph([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.1]]).astype(int)
    array([[0, 1, 0, 0],
           [1, 0, 0, 0],
           [0, 0, 0, 0],
           [0, 0, 0, 0]])
    """
    W = _as_float64(W)
    if W.ndim != 2:
        raise ValueError(f"W must have shape (m, n) for one model; got {W.shape}")
    norms = np.linalg.norm(W, axis=0)
    rep = norms > norm_threshold
    unit = W / np.where(rep, norms, 1.0)
    adj = (np.abs(unit.T @ unit) > edge_threshold) & rep[:, None] & rep[None, :]
    np.fill_diagonal(adj, False)
    return adj


def component_labels(adj) -> np.ndarray:
    """Connected components of a graph.

    Parameters
    ----------
    adj : array_like of bool, shape (n, n)
        Symmetric adjacency matrix.

    Returns
    -------
    numpy.ndarray of int, shape (n,)
        Component of every node, numbered 0, 1, … in order of each component's smallest node.

    Examples
    --------
    >>> adj = np.zeros((4, 4), bool); adj[0, 2] = adj[2, 0] = True
    >>> component_labels(adj)
    array([0, 1, 0, 2])
    """
    adj = np.asarray(adj, dtype=bool)
    n = adj.shape[0]
    labels = np.full(n, -1)
    current = 0
    for start in range(n):
        if labels[start] >= 0:
            continue
        stack = [start]
        labels[start] = current
        while stack:
            node = stack.pop()
            for nxt in np.flatnonzero(adj[node] & (labels < 0)):
                labels[nxt] = current
                stack.append(nxt)
        current += 1
    return labels


def span_dimension(vectors, *, tol: float = 0.3) -> int:
    """Dimension of the space a set of directions spans, robust to small noise.

    Parameters
    ----------
    vectors : array_like, shape (m, k)
        Columns are the directions (they are normalised first).
    tol : float
        Singular values below ``tol`` times the largest one count as noise.

    Returns
    -------
    int

    Examples
    --------
    >>> span_dimension([[1.0, -1.0], [0.0, 0.01]])  # a slightly bent digon
    1
    >>> angles = 2 * np.pi * np.arange(5) / 5
    >>> span_dimension(np.vstack([np.cos(angles), np.sin(angles), np.zeros(5)]))
    2
    """
    V = np.asarray(vectors, dtype=float)
    V = V / np.linalg.norm(V, axis=0, keepdims=True)
    s = np.linalg.svd(V, compute_uv=False)
    return int(np.sum(s > tol * s[0]))


def name_polytope(vectors, *, tol: float = 0.3) -> str:
    """Name the polytope a connected set of feature directions forms.

    The name comes from k (number of features) and d (:func:`span_dimension`):
    k = 1 ``"dedicated"``; (2, 1) ``"digon"``; (3, 2) ``"triangle"``; (4, 3) ``"tetrahedron"``;
    (5, 2) ``"pentagon"``; (8, 3) ``"square antiprism"``; anything else ``"other"``.
    Regularity is not required: a deformed pentagon is still a pentagon.

    Parameters
    ----------
    vectors : array_like, shape (m, k)
        The component's feature directions as columns.
    tol : float
        Passed to :func:`span_dimension`.

    Returns
    -------
    str

    Examples
    --------
    >>> name_polytope([[1.0], [0.0]])
    'dedicated'
    >>> name_polytope([[1.0, -1.0], [0.0, 0.0]])
    'digon'
    >>> tetra = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float).T
    >>> name_polytope(tetra)
    'tetrahedron'
    """
    V = np.asarray(vectors, dtype=float)
    k = V.shape[1]
    if k == 1:
        return "dedicated"
    return NAMES.get((k, span_dimension(V, tol=tol)), "other")


def polytopes(W, *, norm_threshold: float = REPRESENTED_NORM,
              edge_threshold: float = 0.2) -> pd.DataFrame:
    """Every feature's polytope, for one model or a batch of models.

    Parameters
    ----------
    W : array_like, shape (m, n) or (models, m, n)
        Weights; column ``W[..., :, i]`` is feature i's direction.
    norm_threshold, edge_threshold : float
        See :func:`feature_graph`.

    Returns
    -------
    pandas.DataFrame
        One row per model and feature: ``model`` (index along the first axis; 0 for a single
        W), ``feature``, ``represented``, ``component`` (−1 if not represented, else numbered
        within the model), ``size`` k and ``span`` d of its component, ``polytope`` (its
        :func:`name_polytope`; ``"isolated"`` for a lone feature with D_i below
        :data:`DEDICATED_D`; ``"not represented"``), and ``tegum`` (True when the model's
        polytopes are a tegum product: the spans of all its components add up to at most m,
        so they can be, and by the graph's construction nearly are, mutually orthogonal).

    Examples
    --------
    Two antipodal pairs in orthogonal directions and a triangle in the remaining plane, plus an
    unrepresented feature — a tegum product of digon, digon and triangle in m = 4:

    >>> a = 2 * np.pi * np.arange(3) / 3
    >>> W = np.zeros((4, 8))
    >>> W[0, :2] = [1, -1]; W[1, 2:4] = [1, -1]; W[2, 4:7] = np.cos(a); W[3, 4:7] = np.sin(a)
    >>> df = polytopes(W)
    >>> df["polytope"].tolist()
    ['digon', 'digon', 'digon', 'digon', 'triangle', 'triangle', 'triangle', 'not represented']
    >>> df["component"].tolist(), bool(df["tegum"].all())
    ([0, 0, 1, 1, 2, 2, 2, -1], True)
    """
    W = _as_float64(W)
    batch = W.reshape(-1, *W.shape[-2:])
    m, n = batch.shape[1:]
    dims = feature_dimensionality(batch)                                    # (models, n)
    frames = []
    for k, Wk in enumerate(batch):
        adj = feature_graph(Wk, norm_threshold=norm_threshold, edge_threshold=edge_threshold)
        rep = np.linalg.norm(Wk, axis=0) > norm_threshold
        labels = component_labels(adj)
        comp = np.full(n, -1)
        size = np.zeros(n, int)
        span = np.zeros(n, int)
        name = np.full(n, "not represented", dtype=object)
        next_id = 0
        for lab in np.unique(labels[rep]):
            members = np.flatnonzero((labels == lab) & rep)
            comp[members] = next_id
            next_id += 1
            size[members] = len(members)
            span[members] = span_dimension(Wk[:, members])
            name[members] = name_polytope(Wk[:, members])
            if len(members) == 1 and dims[k, members[0]] < DEDICATED_D:
                name[members] = "isolated"
        total_span = sum(span[np.flatnonzero(comp == c)[0]] for c in range(next_id))
        frames.append(pd.DataFrame({
            "model": k, "feature": np.arange(n), "represented": rep, "component": comp,
            "size": size, "span": span, "polytope": name, "tegum": total_span <= m}))
    return pd.concat(frames, ignore_index=True)
