"""The book's sources: clean notebooks, a consistent table of contents and configuration."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from tools.run import chapter_notebooks, toc_documents

REPO = Path(__file__).resolve().parent.parent
SMOKE = yaml.safe_load((REPO / "book" / "profiles" / "smoke.yml").read_text())
NOTEBOOKS = sorted((REPO / "book").glob("*.ipynb"))
CONFIG = yaml.safe_load((REPO / "_config.yml").read_text())


def _parameters_cell(nb) -> str:
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "exactly one cell tagged 'parameters'"
    return cells[0].source


def test_there_are_chapters() -> None:
    assert len(NOTEBOOKS) >= 10


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {cell.get('id')} has outputs"
            assert cell.execution_count is None, f"cell {cell.get('id')} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    install = nb.cells[0]
    assert "remove-cell" in install.metadata.get("tags", []), "the Colab install cell is hidden"
    assert f"git+{CONFIG['repository']['url']}" in install.source, "install URL = _config.yml's"
    assert nb.cells[1].cell_type == "markdown" and nb.cells[1].source.startswith("# ")
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "**What this chapter teaches:**" in text and "**The question it answers:**" in text
    assert "## Summary" in text
    if path.stem != "10_scoreboard":
        assert "## Exercises" in text
    # the smoke profile may only override parameters the chapter actually has
    names = {t.id for node in ast.parse(_parameters_cell(nb)).body if isinstance(node, ast.Assign)
             for t in node.targets if isinstance(t, ast.Name)}
    unknown = set(SMOKE.get(path.stem, {})) - names
    assert not unknown, f"smoke overrides unknown parameters {unknown}"


def test_toc_lists_every_chapter_in_order() -> None:
    docs = toc_documents(REPO / "_toc.yml")
    assert docs[0] == "book/intro"
    assert [p.stem for p in chapter_notebooks(REPO)] == [p.stem for p in NOTEBOOKS]
    assert set(SMOKE) == {p.stem for p in NOTEBOOKS}


def test_config_and_package_agree_on_the_repository() -> None:
    assert CONFIG["execute"]["execute_notebooks"] == "off"
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    pyproject = (REPO / "pyproject.toml").read_text()
    assert CONFIG["repository"]["url"] in pyproject
    assert CONFIG["repository"]["url"] in (REPO / "README.md").read_text()


def test_workflow_is_valid_and_least_privilege() -> None:
    workflow_path = REPO / ".github" / "workflows" / "book.yml"
    workflow = yaml.safe_load(workflow_path.read_text())
    assert workflow["permissions"] == {"contents": "read"}
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                ref = step["uses"].split("@")[1]
                assert len(ref) == 40, f"{step['uses']} is not pinned to a commit"
    # the MNIST cache is keyed on the files' checksums
    from mnist_utils.data import SHA256

    runs = [step.get("run", "") for step in workflow["jobs"]["build"]["steps"]]
    assert "bash .ci/run" in runs, "the workflow runs the same CI script as every submission"
    key = workflow["jobs"]["build"]["steps"][2]["with"]["key"]
    assert all(digest[:8] in key for digest in SHA256.values())
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).with_name("check-jsonschema"))
    result = subprocess.run(
        [exe, "--builtin-schema", "vendor.github-workflows", str(workflow_path)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_torch_load_without_weights_only() -> None:
    for path in [*REPO.glob("mnist_utils/*.py"), *REPO.glob("bench/*.py"), *NOTEBOOKS]:
        text = path.read_text()
        for line in text.splitlines():
            if "torch.load(" in line:
                assert "weights_only=True" in line, f"{path}: {line.strip()}"
