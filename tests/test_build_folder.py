"""The build folder's one owner, the runner's scheduler states, the yardstick, the count check."""

from __future__ import annotations

import json
import re
from concurrent.futures import Future
from pathlib import Path

import pytest
import torch
import yaml

from mnist_utils.build_folder import BuildFolder
from mnist_utils.params import ParameterError, positive_int
from mnist_utils.sampling import batch_indices, make_generator, minibatches
from tools import run
from tools.schedule import Plan, Scheduler

REPO = Path(__file__).resolve().parent.parent
# The build folder's sub-paths as code writes them; the site's own layout (the page's
# models/manifest.json) and Jupyter Book's output are not the build folder's.
LAYOUT = re.compile(r'/ "(metrics|predictions|executed|cache|waiting|waited|html|vendor|bench-smoke)"'
                    r'|build\w*\)?\s*/\s*"models"|"(report|bench)\.json"')


def test_the_build_folder_layout_is_spelled_out_in_one_module() -> None:
    places = [f"{path.relative_to(REPO)}:{n}"
              for folder in ("mnist_utils", "tools", "bench") for path in sorted((REPO / folder).glob("*.py"))
              for n, line in enumerate(path.read_text().splitlines(), 1) if LAYOUT.search(line)]
    assert places and all(p.startswith("mnist_utils/build_folder.py:") for p in places), places


class _Pool:
    """Runs nothing: every chapter 'executes' at once, writing its executed copy."""

    def submit(self, fn, root, nb, target, parameters, env, kernel) -> Future:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("{}")
        future: Future = Future()
        future.set_result({"notebook": str(nb), "status": "ok", "seconds": 1.5})
        return future


def _scheduler(root: Path, jobs: int = 1) -> tuple[Scheduler, list[Path]]:
    nbs = [Path("book/a.ipynb"), Path("book/b.ipynb")]  # b reads a's results
    report = {"chapters": {nb.stem: {"notebook": str(nb), "status": "pending"} for nb in nbs}}
    plan = Plan(root=root, folder=BuildFolder(root / "_build"), profile="full", kernel="python3",
                force=False, jobs=jobs, env={}, deps={"a": [], "b": ["a"]}, parameters={"a": {}, "b": {}},
                package_dir=REPO / "mnist_utils", environment={"device": "cpu"})
    return Scheduler(plan, report, nbs), nbs


def test_scheduler_states(tmp_path: Path, write_notebook) -> None:
    (tmp_path / "book").mkdir()
    for name in ("a", "b"):
        write_notebook(tmp_path / "book" / f"{name}.ipynb", "x = 1")
    scheduler, (a, b) = _scheduler(tmp_path)
    folder, report = scheduler.plan.folder, scheduler.report
    assert scheduler.ready(a) and not scheduler.ready(b)  # b waits for a (one job: no early start)
    scheduler.start_ready(_Pool())
    assert list(scheduler.running.values()) == [a] and scheduler.pending == [b]
    assert scheduler.unfinished == {"a", "b"} and report["chapters"]["a"]["status"] == "running"
    folder.waiting("a").parent.mkdir(parents=True)
    folder.waiting("a").write_text("[]")
    assert scheduler.busy() == 0  # a waiting chapter leaves its core free
    folder.waiting("a").unlink()
    scheduler.finish(next(iter(scheduler.running)))
    assert scheduler.finished == ["a"] and report["chapters"]["a"]["status"] == "ok"
    assert folder.stamp("a").is_file() and scheduler.ready(b)
    scheduler.start_ready(_Pool())
    scheduler.finish(next(iter(scheduler.running)))
    assert scheduler.finished == ["a", "b"] and not scheduler.unfinished and not scheduler.pending
    assert folder.read_report() == report
    # the same inputs again: both reused from the cache, none started
    again, _ = _scheduler(tmp_path)
    again.start_ready(_Pool())
    assert not again.running and {e["status"] for e in again.report["chapters"].values()} == {"cached"}
    # a loop that breaks leaves no chapter waiting forever
    broken, _ = _scheduler(tmp_path)
    broken.abort()
    assert {e["status"] for e in broken.report["chapters"].values()} == {"aborted"}


def test_the_report_carries_the_yardstick(tmp_path: Path, write_notebook, capsys) -> None:
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text("# Intro\n")
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump({
        "format": "jb-book", "root": "book/intro", "chapters": [{"file": "book/one"}]}))
    write_notebook(tmp_path / "book" / "one.ipynb", "x = 1")
    build = tmp_path / "_build"
    assert run.main(["--root", str(tmp_path), "--build-dir", str(build), "--no-html"]) == 0
    report = json.loads((build / "report.json").read_text())
    start, end = report["yardstick"]["start"], report["yardstick"]["end"]
    assert start["gflops"] > 0 and end["gflops"] > 0 and start["device"] == end["device"]
    assert report["started"] <= report["finished"]
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("yardstick:"))
    assert "GFLOP/s" in line and "TFLOP" in line


@pytest.mark.parametrize("value", [0, -3, 2.0, True, "8"])
def test_a_count_is_checked_once_and_named(value) -> None:
    with pytest.raises(ParameterError, match="`batch_size` must be a positive integer"):
        positive_int("batch_size", value)
    assert positive_int("epochs", 3) == 3
    with pytest.raises(ParameterError, match="`train_size` must be between 1 and the 10 samples"):
        positive_int("train_size", 11, at_most=10, what="the 10 samples")


def test_the_same_bad_batch_size_raises_the_same_error_everywhere() -> None:
    x, y = torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)
    for call in (lambda: batch_indices(4, 0, make_generator(0)), lambda: next(minibatches(x, y, 0))):
        with pytest.raises(ParameterError, match="`batch_size`"):
            call()
