"""The chapter runner: a failing notebook makes it exit non-zero and name the chapter."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import yaml

from tools import run


def test_failing_chapter_is_reported(tmp_path: Path, capsys, write_notebook) -> None:
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text("# Intro\n")
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump({
        "format": "jb-book", "root": "book/intro",
        "chapters": [{"file": "book/good"}, {"file": "book/bad"}],
    }))
    write_notebook(tmp_path / "book" / "good.ipynb", "x = 1", "assert x == 1")
    write_notebook(tmp_path / "book" / "bad.ipynb", "x = 1", "y = x + 1", "raise ValueError('boom')")
    build = tmp_path / "_build"
    code = run.main(["--root", str(tmp_path), "--build-dir", str(build), "--no-html"])
    assert code == 1
    assert "bad" in capsys.readouterr().err
    report = json.loads((build / "report.json").read_text())
    assert report["profile"] == "full"
    good, bad = report["chapters"]["good"], report["chapters"]["bad"]
    assert good["status"] == "ok" and bad["status"] == "failed"
    assert "boom" in bad["error"]
    assert bad["failed_cell"]["index"] == 2 and "raise ValueError" in bad["failed_cell"]["source"]
    assert bad["seconds"] >= 0
    assert (build / "executed" / "book" / "good.ipynb").is_file()
    # sources untouched: still without outputs
    source = nbformat.read(tmp_path / "book" / "good.ipynb", as_version=4)
    assert all(c.outputs == [] for c in source.cells)


def test_unknown_chapter_is_rejected(tmp_path: Path) -> None:
    import pytest

    with pytest.raises(SystemExit, match="unknown chapter"):
        run.main(["no_such_chapter", "--build-dir", str(tmp_path), "--no-html"])


def test_toc_parsing() -> None:
    docs = run.toc_documents(Path(run.REPO_ROOT) / "_toc.yml")
    assert docs[:4] == ["book/intro", "book/notation", "book/01_data", "book/02_linear_sgd"]
    assert docs[-1] == "book/references"


def test_rerunning_one_chapter_keeps_the_others_in_the_report(tmp_path: Path, write_notebook) -> None:
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text("# Intro\n")
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump({
        "format": "jb-book", "root": "book/intro",
        "chapters": [{"file": "book/one"}, {"file": "book/two"}],
    }))
    for name in ("one", "two"):
        write_notebook(tmp_path / "book" / f"{name}.ipynb", "x = 1")
    build = tmp_path / "_build"
    args = ["--root", str(tmp_path), "--build-dir", str(build), "--no-html"]
    assert run.main(args) == 0
    assert run.main(["one", *args]) == 0
    report = json.loads((build / "report.json").read_text())
    assert list(report["chapters"]) == ["one", "two"]
    assert all(e["status"] in ("ok", "cached") for e in report["chapters"].values())
