"""The book's chapters in reading order: the one list that the experiments' registry, the
figures' export, the API reference and the tests read (``_quarto.yml``, which Quarto needs,
is checked against it).

A chapter is named by its file stem in ``chapters/``; its modules in
:mod:`superposition_lib.experiments`, :mod:`superposition_lib.figures` and
:mod:`superposition_lib.book` carry the same name with underscores (:func:`module_name`).

Examples
--------
>>> list(CHAPTERS)[:2]
['toy-model', 'uniform-geometry']
>>> CHAPTERS["pca-vs-superposition"]
'PCA versus superposition'
"""

from __future__ import annotations

__all__ = ["CHAPTERS", "module_name"]

#: Chapter file stem -> title, in reading order.
CHAPTERS = {
    "toy-model": "The toy model",
    "uniform-geometry": "The geometry of uniform superposition",
    "phase-change": "Superposition as a phase change",
    "pca-vs-superposition": "PCA versus superposition",
    "continuous-features": "Continuous equivariant features",
    "learning-dynamics": "Learning dynamics",
    "privileged-basis": "Superposition in a privileged basis",
    "computation": "Computation in superposition",
    "adversarial": "Superposition and adversarial vulnerability",
}


def module_name(chapter: str) -> str:
    """The name of a chapter's modules: its file stem with underscores.

    Parameters
    ----------
    chapter : str
        A key of :data:`CHAPTERS`.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        For an unknown chapter; the message lists the chapters.

    Examples
    --------
    >>> module_name("continuous-features")
    'continuous_features'
    """
    if chapter not in CHAPTERS:
        raise ValueError(f"unknown chapter {chapter!r}; chapters are {', '.join(CHAPTERS)}")
    return chapter.replace("-", "_")
