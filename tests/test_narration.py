"""The code a reader sees teaches: little of it builds sentences, and none of it is too wide.

A visible code cell (not tagged ``remove-cell``, ``remove-input``, ``hide-input`` or
``hide-cell``) that calls the sentence helpers (``say``, ``Markdown``, ``.describe``,
``join_names``, ``say_seeds``, ``say_mcnemar``) counts all its non-comment lines as
narration. The prose belongs in markdown cells with glued numbers and verdict words;
sentence-building runs in hidden cells. Targets: at most 10% of the book's visible code
lines, at most 20% in any chapter. Visible lines are at most ``MAX_WIDTH`` characters, so
that no code cell scrolls sideways at a 1280-px-wide window (the site test checks that
in the browser).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((REPO / "book").glob("[0-9]*.ipynb"))
HIDDEN = {"remove-cell", "remove-input", "hide-input", "hide-cell"}
SENTENCE = re.compile(r"\bsay\(|Markdown\(|display_markdown|\.describe\(|say_seeds|say_mcnemar|join_names\(")
MAX_WIDTH = 88


def visible_code(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells
            if c.cell_type == "code" and not HIDDEN & set(c.metadata.get("tags", []))]


def _lines(source: str) -> int:
    return len([line for line in source.splitlines() if line.strip() and not line.strip().startswith("#")])


def narration_share(path: Path) -> tuple[int, int]:
    """(lines in visible cells that build sentences, visible code lines) of one chapter."""
    cells = visible_code(path)
    return sum(_lines(s) for s in cells if SENTENCE.search(s)), sum(_lines(s) for s in cells)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_little_visible_code_builds_sentences(path: Path) -> None:
    narration, total = narration_share(path)
    assert narration <= 0.2 * total, f"{path.stem}: {narration} of {total} visible code lines build sentences"


def test_the_book_as_a_whole() -> None:
    shares = [narration_share(p) for p in CHAPTERS]
    narration, total = sum(n for n, _ in shares), sum(t for _, t in shares)
    assert narration <= 0.1 * total, f"{narration} of {total} visible code lines build sentences"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_visible_lines_fit_the_page(path: Path) -> None:
    wide = [line for s in visible_code(path) for line in s.splitlines() if len(line) > MAX_WIDTH]
    assert not wide, f"{path.stem}: visible code lines over {MAX_WIDTH} characters:\n" + "\n".join(wide)
