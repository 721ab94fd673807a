"""The chapters' Colab install cell and accelerator, derived by ``tools/colab.py``.

``test_every_notebook_matches_tools_colab`` fails until ``python -m tools.colab --write`` has
been run on the notebooks (and after any edit that undoes it); the others check the tool on copies.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from tools import colab

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = colab.chapters(REPO)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_matches_tools_colab(path: Path) -> None:
    changes = colab.apply(path)
    assert not changes, f"{path.name}: {changes}; run `python -m tools.colab --write`"


def test_the_gpu_chapters_exist() -> None:
    assert colab.GPU_CHAPTERS <= {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("stem", ["01_data", "07_lenet"])
def test_write_fixes_a_notebook_and_is_idempotent(stem: str, tmp_path: Path) -> None:
    path = tmp_path / f"{stem}.ipynb"
    shutil.copy(REPO / "book" / f"{stem}.ipynb", path)
    before = nbformat.read(path, as_version=4)
    colab.apply(path, write=True)
    assert colab.apply(path) == []
    text = path.read_text()
    colab.apply(path, write=True)
    assert path.read_text() == text, "a second --write changes nothing"
    nb = nbformat.read(path, as_version=4)
    url, tag = colab.repository_url(REPO), colab.release_tag(REPO)
    install = nb.cells[0]
    assert f'"git+{url}@{tag}"' in install.source and "remove-cell" in install.metadata["tags"]
    assert "SystemExit" in install.source, "a failed install ends in one sentence, not pip's traceback"
    compile(install.source, "install", "exec")
    # everything but the first cell and the notebook metadata is untouched
    assert [c.source for c in nb.cells[1:]] == [c.source for c in before.cells[1:]]
    gpu = stem in colab.GPU_CHAPTERS
    assert (nb.metadata.get("accelerator") == "GPU") == gpu
    assert (nb.metadata["colab"].get("gpuType") == colab.GPU_TYPE) == gpu


def test_the_tag_must_be_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert colab.release_tag(REPO) == f"v{colab.package_version(REPO)}"
    assert colab.main(["--check", "--tag", "v0.0.0-not-this"]) == 1
    assert "is not pyproject.toml's version" in capsys.readouterr().err
