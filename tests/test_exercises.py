"""Every chapter's exercises: enough of them, and no vacuous check.

A coding exercise is a scaffold cell (tagged ``exercise``), the check cell after it, and a
markdown cell with the solution as a ``python`` code block in a dropdown (see
``mnist_utils.exercises``). For every one, the untouched scaffold must fail its check and the
solution must pass it, run as a student runs them: after the chapter's exercise imports.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((REPO / "book").glob("[0-9]*.ipynb"))
SOLUTION = re.compile(r"\{dropdown\} Solution\s*```python\n(.*?)```", re.S)


def coding_exercises(path: Path) -> list[tuple[str, str, str, str, str]]:
    """(id, imports, scaffold, check, solution) of each coding exercise of a chapter."""
    cells = nbformat.read(path, as_version=4).cells
    imports = next((c.source for c in cells if c.cell_type == "code"
                    and "from mnist_utils.exercises import" in c.source), "")
    found = []
    for i, cell in enumerate(cells):
        if "exercise" not in cell.metadata.get("tags", []):
            continue
        check = cells[i + 1]
        solution = next((SOLUTION.search(c.source) for c in cells[i + 2:] if c.cell_type == "markdown"
                         and SOLUTION.search(c.source)), None)
        assert check.cell_type == "code" and solution, f"{path.stem}: exercise {i} lacks a check or solution"
        found.append((cell.metadata.get("exercise", str(i)), imports, cell.source, check.source,
                      solution.group(1)))
    return found


def _count_exercises(path: Path) -> int:
    numbers = set()
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            numbers |= set(re.findall(r"\*\*Exercise (\d+)", cell.source))
            if cell.source.lstrip().startswith("## Exercises"):
                numbers |= set(re.findall(r"(?m)^(\d+)\. ", cell.source))
    return len(numbers)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_has_exercises_students_do(path: Path) -> None:
    assert len(coding_exercises(path)) >= 2, f"{path.stem}: fewer than two coding exercises"
    assert _count_exercises(path) >= 3, f"{path.stem}: fewer than three exercises"


EXERCISES = [(p.stem, *e) for p in CHAPTERS for e in coding_exercises(p)]


def _result(imports: str, code: str, check: str) -> object:
    namespace: dict = {}
    exec(imports, namespace)  # noqa: S102 - the chapter's own cells, as a student runs them
    exec(code, namespace)  # noqa: S102
    return eval(check.strip().splitlines()[-1], namespace)  # noqa: S307


@pytest.mark.parametrize(("stem", "exercise", "imports", "scaffold", "check", "solution"), EXERCISES,
                         ids=[f"{e[0]}-{e[1]}" for e in EXERCISES])
def test_the_solution_passes_and_the_scaffold_fails(stem, exercise, imports, scaffold, check,
                                                    solution) -> None:
    untouched = _result(imports, scaffold, check)
    assert not untouched, f"{stem}/{exercise}: the untouched scaffold passes its check: {untouched!r}"
    solved = _result(imports, solution, check)
    assert solved, f"{stem}/{exercise}: the reference solution fails its check: {solved!r}"
