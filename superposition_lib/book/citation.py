"""How to cite the book: a BibTeX entry made from the repository's ``CITATION.cff``.

``CITATION.cff`` (Citation File Format, read by GitHub and Zenodo) is the one place the book's
citation is written; the preface shows the BibTeX entry this module makes from it, so the two
never disagree.

Examples
--------
>>> print(bibtex({"title": "superposition", "authors": [{"name": "Us"}]}))
@software{superposition,
  title = {superposition},
  author = {{Us}},
}
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["bibtex"]

#: CFF ``type`` -> BibLaTeX entry type.
ENTRY_TYPES = {"software": "software", "dataset": "dataset"}


def _author(person: Mapping) -> str:
    """One CFF author as BibTeX: an entity's ``name`` in braces, a person as "Family, Given"."""
    if "name" in person:
        return "{" + str(person["name"]) + "}"
    family = str(person.get("family-names", ""))
    given = str(person.get("given-names", ""))
    if not family:
        raise ValueError(f"authors: each author needs 'name' or 'family-names'; got {person!r}")
    return f"{family}, {given}" if given else family


def bibtex(cff: Mapping, key: str = "superposition") -> str:
    """A BibLaTeX entry for the work a parsed ``CITATION.cff`` describes.

    Parameters
    ----------
    cff : Mapping
        The parsed file (``yaml.safe_load``); needs ``title`` and ``authors``.
    key : str
        The entry's citation key.

    Returns
    -------
    str
        The entry: ``@software`` for a CFF ``type`` of software (the default) or ``@dataset``,
        with title, authors, version, year of ``date-released``, DOI, URL, repository and
        licence where the file gives them.

    Raises
    ------
    ValueError
        If ``title`` or ``authors`` is missing, or an author has neither ``name`` nor
        ``family-names``.

    Examples
    --------
    >>> cff = {"title": "superposition", "type": "software", "version": "0.1.0",
    ...        "authors": [{"name": "The superposition contributors"},
    ...                    {"family-names": "Doe", "given-names": "Jane"}],
    ...        "url": "https://example.org/book/", "repository-code": "https://example.org/repo"}
    >>> print(bibtex(cff))
    @software{superposition,
      title = {superposition},
      author = {{The superposition contributors} and Doe, Jane},
      version = {0.1.0},
      url = {https://example.org/book/},
      repository = {https://example.org/repo},
    }
    """
    for field in ("title", "authors"):
        if not cff.get(field):
            raise ValueError(f"CITATION.cff: field {field!r} is required for a citation")
    entry = ENTRY_TYPES.get(str(cff.get("type", "software")), "software")
    released = cff.get("date-released")
    fields = {
        "title": cff["title"],
        "author": " and ".join(_author(a) for a in cff["authors"]),
        "version": cff.get("version"),
        "year": str(released)[:4] if released else None,
        "doi": cff.get("doi"),
        "url": cff.get("url"),
        "repository": cff.get("repository-code"),
        "license": cff.get("license"),
    }
    lines = [f"@{entry}{{{key},"]
    lines += [f"  {name} = {{{value}}}," for name, value in fields.items() if value]
    return "\n".join(lines + ["}"])
