"""Every chapter executes in the smoke profile, publishes its declared results, and the book builds.

This is the one place CI executes the chapters: the same run builds the smoke book's HTML
(warnings as errors) in ``_build/smoke``, which the site tests then open in Chromium.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest

from mnist_utils.claims import declared_claims
from mnist_utils.results import declared_metrics
from tools import run

REPO = Path(__file__).resolve().parent.parent
SMOKE_DIR = REPO / "_build" / "smoke"
GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([^`:]+)")


@pytest.mark.chapters
def test_every_chapter_runs_in_the_smoke_profile(offline_copy: Path) -> None:
    os.environ.setdefault("MNIST_DATA_DIR", str(offline_copy))
    code = run.main(["--profile", "smoke", "--build-dir", str(SMOKE_DIR)])
    report = json.loads((SMOKE_DIR / "report.json").read_text())
    failed = {k: v.get("error") for k, v in report["chapters"].items() if v["status"] not in ("ok", "cached")}
    assert code == 0 and not failed, failed
    assert list(report["chapters"]) == [nb.stem for nb in run.chapter_notebooks(REPO)]
    assert (SMOKE_DIR / "html" / "index.html").is_file()
    for chapter, keys in declared_metrics().items():
        published = {k for k, spec in (keys or {}).items() if "board" in spec or spec.get("predictions")}
        if not published:
            continue
        metrics = json.loads((SMOKE_DIR / "metrics" / f"{chapter}.json").read_text())
        assert published <= set(metrics), f"{chapter} did not save {published - set(metrics)}"
        for key in (k for k in published if keys[k].get("predictions")):
            assert (SMOKE_DIR / "predictions" / chapter / f"{key}.npy").is_file(), (chapter, key)
    assert json.loads((SMOKE_DIR / "metrics" / "05_pytorch.json").read_text())[
        "max_abs_weight_diff"] < 1e-5
    for chapter, claims in declared_claims().items():  # every chapter judged every claim it declares
        judged = json.loads((SMOKE_DIR / "claims" / f"{chapter}.json").read_text())
        assert [v["id"] for v in judged] == [c.id for c in claims], chapter


@pytest.mark.chapters
def test_every_glued_number_in_the_prose_was_glued() -> None:
    """A ``{glue:text}`name``` role whose name the chapter never glued would print nothing."""
    executed = SMOKE_DIR / "executed" / "book"
    if not executed.is_dir():
        pytest.skip("needs the smoke build of the test above")
    for path in sorted(executed.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        roles = {m for c in nb.cells if c.cell_type == "markdown" for m in GLUE_ROLE.findall(c.source)}
        glued = {o.get("metadata", {}).get("scrapbook", {}).get("name")
                 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])}
        assert roles <= glued, f"{path.stem}: never glued {sorted(roles - glued)}"


@pytest.mark.chapters
def test_every_figure_has_alt_text() -> None:
    """A screen reader should learn what a figure shows, not "Figure size 640x480"."""
    executed = SMOKE_DIR / "executed" / "book"
    if not executed.is_dir():
        pytest.skip("needs the smoke build of the test above")
    missing = []
    for path in sorted(executed.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            draws = any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))
            alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "")
            if draws and len(alt.split()) < 8:
                missing.append(f"{path.stem} cell {cell.get('id')}")
    assert not missing, f"figures without a descriptive alt text: {missing}"


@pytest.mark.chapters
def test_the_smoke_build_exported_every_model_for_the_page() -> None:
    """Each model declared with ``model: true`` is saved by its chapter, exported to ONNX,
    checked against PyTorch and served by the smoke site, within the page's size budget."""
    if not (SMOKE_DIR / "report.json").is_file():
        pytest.skip("needs the smoke build of the test above")
    manifest = json.loads((SMOKE_DIR / "models" / "manifest.json").read_text())
    declared = {f"{chapter}/{key}" for chapter, keys in declared_metrics().items()
                for key, spec in (keys or {}).items() if spec.get("model")}
    assert {m["id"] for m in manifest["models"]} == declared and not manifest["omitted"]
    site = SMOKE_DIR / "html" / "_static" / "try"
    for model in manifest["models"]:
        check = model["check"]
        assert check["images"] == 256 and check["same_predictions"], model["id"]
        assert check["max_abs_logit_diff"] <= 1e-4, model["id"]
        assert (site / "models" / model["file"]).stat().st_size == model["bytes"]
    assert len(manifest["examples"]) == 6
    assert (SMOKE_DIR / "html" / "book" / "try.html").is_file()
    size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    assert size <= 15_000_000, f"the page's files take {size / 1e6:.1f} MB"
