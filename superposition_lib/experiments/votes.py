"""What the seeds of a grid's cells say together: majority and lowest-loss votes, and one row
per cell.

A chapter's map trains several seeds in every cell of a grid of settings (e.g. the trade-off map
of :mod:`~superposition_lib.experiments.pca_vs_superposition`, over correlation and density, and
the ring map of :mod:`~superposition_lib.experiments.continuous_features`, over bump width and
density), and its frame has one row per model. :func:`seed_vote` says what the seeds of each
cell vote for; :func:`cell_summary` turns such a frame into one row per cell.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

__all__ = ["cell_summary", "seed_vote"]


def seed_vote(models: pd.DataFrame, label: str) -> pd.DataFrame:
    """What the seeds of every cell of a grid say, by majority and by their lowest loss.

    Parameters
    ----------
    models : pandas.DataFrame
        One row per model, with columns ``cell``, ``loss`` and ``label``.
    label : str
        The column to vote on (e.g. a geometry class).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``cell``: ``label`` (the most common value among the cell's models; a tie
        goes to the value whose models have the lower mean loss), ``share`` (its fraction of
        the models), ``best_<label>`` (the value of the lowest-loss model) and ``best_row``
        (that model's index in ``models``, to look up more of its columns).

    Examples
    --------
    >>> models = pd.DataFrame({"cell": [0, 0, 0, 1, 1], "loss": [3.0, 2.0, 1.0, 1.0, 2.0],
    ...                        "shape": ["a", "a", "b", "a", "b"]})
    >>> seed_vote(models, "shape").values.tolist()
    [['a', 0.6666666666666666, 'b', 2], ['a', 0.5, 'a', 3]]
    """
    votes = (models.groupby(["cell", label])
             .agg(count=("loss", "size"), mean_loss=("loss", "mean")).reset_index()
             .sort_values(["cell", "count", "mean_loss"], ascending=[True, False, True]))
    winner = votes.drop_duplicates("cell").set_index("cell")
    best = models.sort_values("loss").groupby("cell").head(1)
    out = pd.DataFrame({label: winner[label],
                        "share": winner["count"] / models.groupby("cell").size()})
    out[f"best_{label}"] = best.set_index("cell")[label]
    out["best_row"] = pd.Series(best.index, index=best["cell"].to_numpy())
    return out


def cell_summary(models: pd.DataFrame, label: str, *, first: Sequence[str],
                 mean: Sequence[str], best: Sequence[str] = ()) -> pd.DataFrame:
    """One row per cell: its settings, seed means, majority ``label`` and lowest-loss seed.

    Parameters
    ----------
    models : pandas.DataFrame
        One row per model, with columns ``cell``, ``loss``, ``label`` and those named below.
    label : str
        The class column the seeds of a cell vote on (majority; a tie goes to the class whose
        models have the lower mean loss, :func:`seed_vote`).
    first : sequence of str
        Columns that are the same for every model of a cell (its settings), taken from its
        first model.
    mean : sequence of str
        Columns averaged over the models of a cell.
    best : sequence of str
        Columns of the lowest-loss model of a cell, each added as ``best_<column>``.

    Returns
    -------
    pandas.DataFrame
        One row per cell, ordered by ``cell``: ``cell``, the ``first`` columns, the ``mean``
        columns, ``label`` (the majority class), ``share`` (its fraction of the seeds) and
        ``best_<column>`` for every column of ``best``, in the order given.

    Examples
    --------
    >>> models = pd.DataFrame({"cell": [0, 0, 0, 0, 1], "seed": [0, 1, 2, 3, 0],
    ...     "width": 2.0, "loss": [1.0, 2.0, 3.0, 4.0, 1.0], "norm": [0.5, 1.0, 1.5, 2.0, 2.0],
    ...     "shape": ["ring", "dot", "dot", "dot", "ring"]})
    >>> cell_summary(models, "shape", first=["width"], mean=["norm"], best=["seed", "shape"])
       cell  width  norm shape  share  best_seed best_shape
    0     0    2.0  1.25   dot   0.75          0       ring
    1     1    2.0  2.00  ring   1.00          0       ring
    """
    vote = seed_vote(models, label)
    g = models.groupby("cell")
    cells = g[list(first)].first()
    cells[list(mean)] = g[list(mean)].mean()
    cells[[label, "share"]] = vote[[label, "share"]]
    chosen = models.loc[vote["best_row"]]
    for col in best:
        cells[f"best_{col}"] = chosen[col].to_numpy()
    return cells.reset_index()
