"""The book's table of contents: which documents, in which order (``_toc.yml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

BOOK_FILES = ("_config.yml", "_toc.yml")


def toc_documents(toc_path: Path) -> list[str]:
    """Every document named in a Jupyter Book ``_toc.yml``, in reading order."""
    toc = yaml.safe_load(toc_path.read_text())
    docs = [toc["root"]]

    def walk(entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            if "file" in entry:
                docs.append(entry["file"])
            for part in entry.get("parts", []):
                walk(part.get("chapters", []))
            walk(entry.get("chapters", []) + entry.get("sections", []))

    walk(toc.get("parts", []) + toc.get("chapters", []))
    return docs


def chapter_notebooks(root: Path) -> list[Path]:
    """The notebooks the table of contents lists, as paths relative to ``root``."""
    notebooks = []
    for doc in toc_documents(root / "_toc.yml"):
        path = Path(doc).with_suffix(".ipynb")
        if (root / path).is_file():
            notebooks.append(path)
    return notebooks
