"""The runner's incremental execution (cache keys) and the guard on published numbers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from tools import cache, html, reference, run

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "mnist_utils"
ENV = {"torch": "x", "device": "cpu"}




def test_module_closure_follows_imports() -> None:
    training = {p.name for p in cache.module_closure({"mnist_utils.training"}, PACKAGE)}
    assert {"training.py", "augment.py", "history.py", "sampling.py", "params.py"} <= training
    assert "models.py" not in training and "linear.py" not in training
    models = {p.name for p in cache.module_closure({"mnist_utils.models"}, PACKAGE)}
    assert "models.py" in models and "training.py" not in models
    assert "metrics.yml" in {p.name for p in cache.module_closure({"mnist_utils.results"}, PACKAGE)}


def test_key_changes_with_what_the_chapter_depends_on(tmp_path: Path, write_notebook) -> None:
    package = tmp_path / "mnist_utils"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    cnn, lin = tmp_path / "cnn.ipynb", tmp_path / "lin.ipynb"
    write_notebook(cnn, "epochs = 1", "from mnist_utils.models import LeNet")
    write_notebook(lin, "epochs = 1", "from mnist_utils.linear import sgd")

    def keys(params=None, env=ENV, upstream=None):
        return [cache.chapter_key(nb, params or {}, package, env, upstream or {}) for nb in (cnn, lin)]

    before = keys()
    assert keys() == before  # deterministic
    (package / "models.py").write_text((package / "models.py").read_text() + "\n# an edit\n")
    after = keys()
    assert after[0] != before[0] and after[1] == before[1]  # only the chapter importing models
    assert keys(params={"epochs": 2}) != after
    assert keys(env={**ENV, "torch": "y"}) != after
    assert keys(upstream={"01_data": "abc"}) != after
    # outputs and execution counts are not part of the key
    nb = nbformat.read(cnn, as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="hello")]
    nb.cells[1].execution_count = 3
    nbformat.write(nb, cnn)
    assert keys()[0] == after[0]


def test_dependencies_on_earlier_chapters() -> None:
    earlier = ["01_data", "06_mlp_depth", "07_lenet"]
    assert cache.chapter_dependencies('load_metrics("07_lenet")', earlier) == ["07_lenet"]
    assert cache.chapter_dependencies("metrics = load_all_metrics()", earlier) == earlier
    assert cache.chapter_dependencies("x = 1", earlier) == []


def _book(root: Path, *names: str) -> None:
    (root / "book").mkdir()
    (root / "book" / "intro.md").write_text("# Intro\n")
    (root / "_toc.yml").write_text(yaml.safe_dump({
        "format": "jb-book", "root": "book/intro", "chapters": [{"file": f"book/{n}"} for n in names]}))


def _statuses(build: Path) -> dict[str, str]:
    return {k: v["status"] for k, v in json.loads((build / "report.json").read_text())["chapters"].items()}


def test_runner_reuses_unchanged_chapters_and_never_a_failed_one(tmp_path: Path, write_notebook) -> None:
    _book(tmp_path, "one", "two", "bad")
    write_notebook(tmp_path / "book" / "one.ipynb", "x = 1")
    write_notebook(tmp_path / "book" / "two.ipynb", "x = 1", "'reads chapter one'")
    write_notebook(tmp_path / "book" / "bad.ipynb", "x = 1", "raise ValueError('boom')")
    build = tmp_path / "_build"
    args = ["--root", str(tmp_path), "--build-dir", str(build), "--no-html"]
    assert run.main(args) == 1
    assert _statuses(build) == {"one": "ok", "two": "ok", "bad": "failed"}
    run.main(args)
    assert _statuses(build) == {"one": "cached", "two": "cached", "bad": "failed"}
    report = json.loads((build / "report.json").read_text())
    assert report["chapters"]["one"]["seconds"] > 0  # the seconds it took when it ran
    write_notebook(tmp_path / "book" / "one.ipynb", "x = 2")  # an edit of one chapter
    run.main(args)
    assert _statuses(build) == {"one": "ok", "two": "cached", "bad": "failed"}
    (build / "metrics").mkdir()
    (build / "metrics" / "one.json").write_text('{"test_acc": 0.5}')  # one's results changed
    run.main(args)
    assert _statuses(build)["two"] == "ok"  # two reads chapter one: executed again
    run.main([*args, "--force", "one"])
    assert _statuses(build)["one"] == "ok"


def test_reference_guard(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    build, ref = tmp_path / "_build", tmp_path / "reference.json"
    (build / "metrics").mkdir(parents=True)

    def metrics(acc: float, seconds: float) -> None:
        (build / "metrics" / "07_lenet.json").write_text(
            json.dumps({"test_acc_best": acc, "epoch_seconds": seconds}))

    metrics(0.9926, 2.9)
    assert reference.check(build, update=True, path=ref)
    written = json.loads(ref.read_text())["chapters"]["07_lenet"]
    assert written["test_acc_best"] == {"value": 0.9926, "tolerance": 0.003}
    assert written["epoch_seconds"]["tolerance"] is None
    metrics(0.9916, 9.0)  # within 0.003, and seconds are not guarded
    assert reference.check(build, update=False, path=ref)
    metrics(0.9880, 2.9)  # a drift
    capsys.readouterr()
    assert not reference.check(build, update=False, path=ref)
    out = capsys.readouterr().out
    assert "07_lenet" in out and "test_acc_best" in out and "0.9926" in out and "0.9880" in out
    assert reference.check(build, update=True, path=ref)  # accepted deliberately
    assert json.loads(ref.read_text())["chapters"]["07_lenet"]["test_acc_best"]["value"] == 0.9880
    (build / "metrics" / "07_lenet.json").write_text(json.dumps({"epoch_seconds": 2.0}))
    assert not reference.check(build, update=False, path=ref)  # a published number disappeared


def test_html_key_sees_every_staged_file_but_not_the_stage_output(tmp_path: Path) -> None:
    stage = tmp_path / "_build" / "executed"  # the stage lives inside a build folder
    (stage / "book").mkdir(parents=True)
    (stage / "book" / "a.ipynb").write_text("one")
    key = html._tree_digest(stage)
    (stage / "_build" / "html").mkdir(parents=True)
    (stage / "_build" / "html" / "index.html").write_text("output")
    assert html._tree_digest(stage) == key
    (stage / "book" / "a.ipynb").write_text("two")
    assert html._tree_digest(stage) != key
