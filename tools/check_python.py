"""Stop `make setup` early, with a clear message, on a Python older than the book's floor.

The floor is stated once, as ``requires-python`` in ``pyproject.toml``: the pinned NumPy,
pandas and SciPy of ``requirements.txt`` need it. This script runs with the interpreter that
will create ``.venv`` (before anything is installed), so it uses the standard library only
and works on old interpreters too.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def floor(text: str | None = None) -> tuple[int, ...]:
    """The ``X.Y`` of ``requires-python = ">=X.Y"`` in pyproject.toml."""
    text = PYPROJECT.read_text() if text is None else text
    match = re.search(r'^requires-python\s*=\s*">=\s*(\d+(?:\.\d+)*)"', text, re.M)
    if not match:
        raise SystemExit(f'{PYPROJECT}: no requires-python = ">=X.Y" line')
    return tuple(int(part) for part in match.group(1).split("."))


def main() -> int:
    need = floor()
    have = sys.version_info[:len(need)]
    if have < need:
        wanted = ".".join(map(str, need))
        print(f"Python {wanted} or newer is needed (the pinned NumPy, pandas and SciPy require it); "
              f"{sys.executable} is Python {sys.version.split()[0]}. Install Python {wanted}+ and run "
              f"`make setup PYTHON=python{wanted}` (or any newer python3).", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
