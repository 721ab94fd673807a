"""The chapter runner: a failing notebook makes it exit non-zero and name the chapter."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import yaml

from tools import run, toc


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
    docs = toc.toc_documents(Path(run.REPO_ROOT) / "_toc.yml")
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


def test_independent_chapters_run_side_by_side_and_dependents_wait(tmp_path: Path, write_notebook) -> None:
    """--jobs 2: two chapters that read nothing of each other overlap in time; a chapter that
    reads an earlier one's results starts only after that one has finished."""
    from mnist_utils.runtime import THREADS_ENV, available_cores

    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text("# Intro\n")
    names = ("first", "second", "third")
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump({
        "format": "jb-book", "root": "book/intro", "chapters": [{"file": f"book/{n}"} for n in names]}))
    log = tmp_path / "log"
    log.mkdir()
    for name in names:
        reads = "# reads the results of first\n" if name == "third" else ""
        write_notebook(tmp_path / "book" / f"{name}.ipynb", "x = 1", (
            f"{reads}import os, time\nfrom pathlib import Path\nstart = time.time()\ntime.sleep(3)\n"
            f"Path({str(log / name)!r}).write_text(f\"{{start}} {{time.time()}} "
            f"{{os.environ.get('{THREADS_ENV}')}}\")"))
    build = tmp_path / "_build"
    assert run.main(["--root", str(tmp_path), "--build-dir", str(build), "--no-html", "--jobs", "2"]) == 0
    spans = {n: (log / n).read_text().split() for n in names}
    start = {n: float(s[0]) for n, s in spans.items()}
    end = {n: float(s[1]) for n, s in spans.items()}
    assert start["second"] < end["first"] and start["first"] < end["second"], "no overlap"
    assert start["third"] >= end["first"], "a dependent chapter started before its dependency ended"
    # the two side by side share the cores; the third may have run alone (then with all of them)
    shared = str(max(1, available_cores() // 2))
    assert spans["first"][2] == spans["second"][2] == shared
    assert spans["third"][2] in {shared, str(available_cores())}
    report = json.loads((build / "report.json").read_text())
    assert list(report["chapters"]) == list(names)
    assert all(e["status"] == "ok" and e["seconds"] >= 3 for e in report["chapters"].values())


def test_jobs_must_be_positive(tmp_path: Path) -> None:
    import pytest

    with pytest.raises(SystemExit):
        run.main(["--build-dir", str(tmp_path), "--no-html", "--jobs", "0"])
