"""Sphinx extension: the references page labels each work as the text cites it.

The chapters cite author-year ("LeCun et al., 1998", ``bibtex_reference_style``), but
pybtex's styles label the bibliography itself with short keys ("[LBBH98]"), so a reader
could not match a citation to its entry by eye. This registers a pybtex style,
``authoryear``: the "plain" formatting and sorting (by author, then year), with labels
"Surname, year", "Surname and Surname, year" or "Surname et al., year".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _surname(person: Any) -> str:
    return " ".join(person.prelast_names + person.last_names)


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries: Iterable[Any]) -> Iterator[str]:
        for entry in sorted_entries:
            authors = [_surname(p) for p in entry.persons.get("author", [])]
            if len(authors) > 2:
                names = f"{authors[0]} et al."
            else:
                names = " and ".join(authors) or entry.fields.get("title", entry.key)
            yield f"{names}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearStyle(PlainStyle):
    default_label_style = AuthorYearLabels


def setup(app: Any) -> dict[str, Any]:
    register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabels)
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
