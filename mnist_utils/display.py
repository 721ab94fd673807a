"""What a chapter shows besides figures: library source, generated sentences, glued numbers.

* ``show_code`` prints the source of the library functions a chapter teaches.
* ``say`` displays a sentence (Markdown) that a chapter generated from its numbers, so
  the words can never contradict the results they describe.
* ``join_names`` writes a list in prose ("a, b and c") for generated sentences.
* ``glue_words`` hands a verdict word or phrase to the prose ("more accurate",
  "within noise"), chosen by the chapter's statistics in a hidden cell, so a typed
  sentence around it cannot contradict the run.
* ``glue`` hands a number to the prose: a Markdown cell writes ``{glue:text}`name:.2%```
  and the book prints the value from this run. It uses MyST-NB's own ``glue`` when the
  book's tools are installed, and the same output format otherwise (in Colab, where
  the roles are shown as written and the value appears in the cell's output instead).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any


def show_code(*objects: Callable | type) -> object:
    """The source of library functions or classes, highlighted as Python."""
    from IPython.display import Code

    return Code("\n\n".join(inspect.getsource(o) for o in objects), language="python")


def say(markdown: str) -> None:
    """Display a generated sentence as Markdown (it renders in the book and in Jupyter)."""
    from IPython.display import Markdown, display

    display(Markdown(markdown))


def glue(name: str, value: Any, *, display: bool = False) -> Any:
    """Store ``value`` under ``name`` for ``{glue:text}`` roles in the chapter's prose."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # Colab: no Sphinx; emit MyST-NB's format ourselves
        from IPython.core.formatters import format_display_data
        from IPython.display import display as ipy_display

        bundle, metadata = format_display_data(value)
        prefix = "" if display else "application/papermill.record/"
        metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
        ipy_display({prefix + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)
    else:
        myst_glue(name, value, display=display)
    return value


class Words:
    """Text for a ``{glue:text}`` role, shown without the quotes of a string's repr."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


def glue_words(name: str, text: str) -> str:
    """Glue a verdict word or phrase for ``{glue:text}`name``` in the prose; return it."""
    glue(name, Words(text))
    return text


def join_names(items: Iterable[str]) -> str:
    """A list in prose: ``["a"]`` -> "a", ``["a", "b", "c"]`` -> "a, b and c"."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
