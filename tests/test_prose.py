"""No result is typed into the book's prose: numbers come from glue or generated sentences.

Every markdown cell of every chapter (and the introduction, and "Try the models") is scanned after removing
what may hold numbers legitimately: glue roles (the value comes from the run), inline
code, maths (definitions such as $p(1-p)$ or $\\eta < 2/\\lambda$), citations and link
targets. What is left must not contain a result-like number: a percentage, a decimal,
seconds, a ratio ("4.7x", "3 times"), a count of wins ("3 of 3") or a p-value.
Integers that name sizes or settings ("60,000 images", "28 x 28") are allowed.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((REPO / "book").glob("*.ipynb"))

STRIP = [
    re.compile(r"\$\$.*?\$\$", re.S),  # display maths
    re.compile(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.S),  # amsmath environments
    re.compile(r"\{glue(?::\w+)?\}`[^`]*`"),  # glued values
    re.compile(r"\{(?:cite|cite:\w+|ref|numref|doc)\}`[^`]*`"),  # roles that name things
    re.compile(r"```.*?```", re.S),  # code blocks
    re.compile(r"`[^`]*`"),  # inline code
    re.compile(r"(?<!\\)\$[^$]+?(?<!\\)\$"),  # inline maths
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"<[^>]+>"),  # html tags and autolinks
]
TYPED = {
    "percentage": re.compile(r"\d\s*%"),
    "decimal": re.compile(r"\d*\.\d+"),
    "seconds": re.compile(r"\d\s*(?:s|ms|sec|seconds|minutes?)\b"),
    "ratio": re.compile(r"\d\s*[x×](?!\s*\d)"),
    "times": re.compile(r"\d+\s*times\b"),
    "count of wins": re.compile(r"\b\d+\s+of\s+\d+\b"),
    "p-value": re.compile(r"\bp\s*[=<>≤]"),
}
# (file stem, exact phrase, why it is not a result). Keep this list short.
ALLOWED: list[tuple[str, str, str]] = []


def typed_numbers(markdown: str) -> list[tuple[str, str]]:
    """(kind, match) for every result-like number typed into ``markdown``."""
    text = markdown
    for _stem, phrase, _why in ALLOWED:
        text = text.replace(phrase, " ")
    for pattern in STRIP:
        text = pattern.sub(" ", text)
    found = []
    for line in text.splitlines():
        for kind, pattern in TYPED.items():
            found += [(kind, f"{m.group(0)!r} in: {line.strip()[:120]}") for m in pattern.finditer(line)]
    return found


def _markdown_of(path: Path) -> list[str]:
    if path.suffix == ".md":
        return [path.read_text()]
    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


@pytest.mark.parametrize("path", [*CHAPTERS, REPO / "book" / "intro.md", REPO / "book" / "try.md"],
                         ids=lambda p: p.stem)
def test_no_result_is_typed_into_the_prose(path: Path) -> None:
    problems = [hit for cell in _markdown_of(path) for hit in typed_numbers(cell)]
    assert not problems, "typed result-like numbers (glue them or generate the sentence):\n" + "\n".join(
        f"  {kind}: {where}" for kind, where in problems)


@pytest.mark.parametrize(
    "text",
    ["reaches 92.58% accuracy", "the DataLoader is 1.58x slower", "it took 17.6 s", "wins in 3 of 3 seeds",
     "a p = 0.03 difference", "costs 4 times as much", "lr 0.5 works", "took 12 seconds"],
)
def test_the_check_catches_typed_results(text: str) -> None:
    assert typed_numbers(text), text


@pytest.mark.parametrize(
    "text",
    ["reaches {glue:text}`acc:.2%` accuracy", "images of 28 x 28 pixels", "all 60,000 images",
     "a bound $\\eta < 2/\\lambda_{\\max}$ and $p \\le 0.5$", "call `sgd(lr=0.5)`",
     "$$ L = \\frac{1}{2} \\lVert s - y \\rVert^2 $$", "see [chapter 2](02_linear_sgd.ipynb)"],
)
def test_the_check_allows_glue_maths_code_and_sizes(text: str) -> None:
    assert not typed_numbers(text), typed_numbers(text)
