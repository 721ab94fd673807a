"""The chapter runner: a failing notebook makes it exit non-zero and name the chapter."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
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
    stale = build / "metrics" / "bad.json"  # results of an earlier, successful run
    stale.parent.mkdir(parents=True)
    stale.write_text('{"test_acc": 0.5}')
    code = run.main(["--root", str(tmp_path), "--build-dir", str(build), "--no-html"])
    assert code == 1
    assert not stale.exists(), "a failed chapter's earlier results were left for others to read"
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
    assert docs[:5] == ["book/intro", "book/notation", "book/protocol", "book/01_data", "book/02_linear_sgd"]
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
    """--jobs 2: chapters overlap in time; a chapter that reads an earlier one's results
    starts beside it but gets them only once that one has finished, and while it waits
    its core goes to a third chapter."""
    from mnist_utils.runtime import THREADS_ENV, available_cores

    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text("# Intro\n")
    names = ("first", "second", "third")
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump({
        "format": "jb-book", "root": "book/intro", "chapters": [{"file": f"book/{n}"} for n in names]}))
    log = tmp_path / "log"
    log.mkdir()
    seconds = {"first": 10, "second": 0, "third": 2}  # room for two kernels to start on a busy machine
    for name in names:
        reads_first = 'from mnist_utils.results import load_metrics\nload_metrics("first")\n'
        read = reads_first if name == "second" else ""
        write_notebook(tmp_path / "book" / f"{name}.ipynb", "x = 1", (
            f"import os, time\nfrom pathlib import Path\nstart = time.time()\ntime.sleep({seconds[name]})\n"
            f"{read}Path({str(log / name)!r}).write_text(f\"{{start}} {{time.time()}} "
            f"{{os.environ.get('{THREADS_ENV}')}}\")"))
    build = tmp_path / "_build"
    assert run.main(["--root", str(tmp_path), "--build-dir", str(build), "--no-html", "--jobs", "2"]) == 0
    spans = {n: (log / n).read_text().split() for n in names}
    start = {n: float(s[0]) for n, s in spans.items()}
    end = {n: float(s[1]) for n, s in spans.items()}
    assert start["second"] < end["first"], "the reading chapter did not start beside the one it reads"
    assert end["second"] >= end["first"], "the reading chapter got the results before they were final"
    assert start["third"] < end["first"], "the waiting chapter's core was not given to the third"
    # the first two side by side share the cores
    assert spans["first"][2] == spans["second"][2] == str(max(1, available_cores() // 2))
    report = json.loads((build / "report.json").read_text())
    assert list(report["chapters"]) == list(names)
    assert all(e["status"] == "ok" for e in report["chapters"].values())
    assert report["jobs"] == 2 and report["started"] <= min(start.values())
    assert report["chapters"]["first"]["threads"] == int(spans["first"][2])  # the report says what it got
    second = report["chapters"]["second"]  # its seconds include the wait, and the report says how long
    assert 0 < second["waited"] <= second["seconds"] and report["chapters"]["first"]["waited"] == 0
    assert not list((build / "waiting").glob("*")), "a waiting marker was left behind"
    # Nothing changed: all three reused, "second" keyed on the results of "first" it read.
    assert run.main(["--root", str(tmp_path), "--build-dir", str(build), "--no-html", "--jobs", "2"]) == 0
    report = json.loads((build / "report.json").read_text())
    assert {e["status"] for e in report["chapters"].values()} == {"cached"}


def test_jobs_must_be_positive(tmp_path: Path) -> None:
    import pytest

    with pytest.raises(SystemExit):
        run.main(["--build-dir", str(tmp_path), "--no-html", "--jobs", "0"])


def test_a_fresh_build_folder_orders_chapters_by_the_published_seconds(tmp_path: Path) -> None:
    """No timings in the build folder (a fresh clone): the published full build's seconds
    decide which chapter starts first; a chapter's own last run overrides them."""
    published = {"long": 200.0, "short": 5.0, "reads": 50.0}
    deps = {"long": [], "short": [], "reads": ["short"]}
    assert run._priority("long", deps, tmp_path, published) == 200.0
    assert run._priority("short", deps, tmp_path, published) == 55.0  # itself, then the chapter that reads it
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "long.json").write_text(json.dumps({"seconds": 3.0, "waited": 1.0}))
    assert run._priority("long", deps, tmp_path, published) == 2.0  # its own last run, waiting left out


def _one_and_a_reader(root: Path, write_notebook, first_code: str) -> None:
    """A two-chapter book: "one" runs ``first_code``; "two" reads the results of "one"."""
    (root / "book").mkdir()
    (root / "book" / "intro.md").write_text("# Intro\n")
    (root / "_toc.yml").write_text(yaml.safe_dump({
        "format": "jb-book", "root": "book/intro", "chapters": [{"file": "book/one"}, {"file": "book/two"}]}))
    write_notebook(root / "book" / "one.ipynb", first_code)
    reads_one = 'from mnist_utils.results import load_metrics\nload_metrics("one")'
    write_notebook(root / "book" / "two.ipynb", reads_one)


def test_a_partial_run_after_an_interrupted_build_does_not_wait(tmp_path: Path, write_notebook) -> None:
    """A killed build leaves "running" in the report; a later run of one chapter that reads
    that chapter must not wait for it forever."""
    _one_and_a_reader(tmp_path, write_notebook, "x = 1")
    build = tmp_path / "_build"
    build.mkdir()
    (build / "report.json").write_text(json.dumps({"profile": "full", "chapters": {
        "one": {"notebook": "book/one.ipynb", "status": "running"},
        "two": {"notebook": "book/two.ipynb", "status": "pending"}}}))
    args = ["two", "--root", str(tmp_path), "--build-dir", str(build), "--no-html", "--jobs", "2"]
    assert run.main(args) == 0
    report = json.loads((build / "report.json").read_text())
    assert report["chapters"]["one"]["status"] == "interrupted"
    assert report["chapters"]["two"]["status"] == "ok"


def test_a_runner_error_releases_the_waiting_chapters(tmp_path: Path, write_notebook, monkeypatch) -> None:
    """If the runner's loop fails, chapters waiting for others are told so and finish."""
    _one_and_a_reader(tmp_path, write_notebook, "import time\ntime.sleep(6)")
    build = tmp_path / "_build"
    calls = {"n": 0}
    real_wait = run.wait

    def failing_wait(*a, **k):  # the loop breaks a few seconds in, with both chapters started
        calls["n"] += 1
        if calls["n"] == 6:
            raise RuntimeError("runner bug")
        return real_wait(*a, **k)

    monkeypatch.setattr(run, "wait", failing_wait)
    with pytest.raises(RuntimeError, match="runner bug"):
        run.main(["--root", str(tmp_path), "--build-dir", str(build), "--no-html", "--jobs", "2"])
    report = json.loads((build / "report.json").read_text())
    assert {e["status"] for e in report["chapters"].values()} <= {"aborted", "ok"}
