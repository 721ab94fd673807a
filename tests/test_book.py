"""The book's sources: clean notebooks, a consistent table of contents and configuration."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from tools.toc import chapter_notebooks, toc_documents

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
    # the repository is named once, in _config.yml; every other mention is that URL
    url = CONFIG["repository"]["url"].rstrip("/")
    github = re.compile(r"https://github\.com/[\w.-]+/[\w.-]+")
    for path in (REPO / "pyproject.toml", REPO / "README.md"):
        found = {m.rstrip(".") for m in github.findall(path.read_text())}
        assert found == {url}, f"{path.name} names {found}, _config.yml {url}"
    pages = re.compile(r"https://([\w-]+)\.github\.io/([\w.-]+)/")
    owner, name = url.split("/")[-2:]
    for site in pages.findall((REPO / "README.md").read_text()):
        assert site == (owner, name), site


WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
# The only jobs that may write, and what; every other job reads the repository only.
WRITE_PERMISSIONS = {
    ("book.yml", "deploy"): {"pages": "write", "id-token": "write"},
    ("colab.yml", "issue"): {"issues": "write"},
    ("colab.yml", "close"): {"issues": "write"},
    ("release.yml", "publish"): {"contents": "write"},
}
PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s*[\w.-]+/[\w./-]+@[0-9a-f]{40}\s+#\s*v\d[\w.]*\s*$")


def _workflow(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as true
    return workflow


def test_every_workflow_is_checked() -> None:
    assert {p.name for p in WORKFLOWS} >= {"book.yml", "colab.yml", "release.yml"}
    for name, job in WRITE_PERMISSIONS:
        assert job in _workflow(REPO / ".github" / "workflows" / name)["jobs"], (name, job)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_is_valid_pinned_and_least_privilege(path: Path) -> None:
    workflow = _workflow(path)
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        granted = job.get("permissions")
        expected = WRITE_PERMISSIONS.get((path.name, name))
        if expected:
            assert granted == expected, f"{name}: {granted}"
        else:
            assert granted in (None, {"contents": "read"}), f"{name} must only read: {granted}"
    # every action pinned to a commit, with the version it is in a comment
    uses = [line for line in path.read_text().splitlines() if re.match(r"^\s*(-\s+)?uses:", line)]
    assert uses
    for line in uses:
        assert PINNED.match(line), f"not pinned to a commit with a version comment: {line.strip()}"
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).with_name("check-jsonschema"))
    result = subprocess.run(
        [exe, "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _python_floor() -> str:
    from tools.check_python import floor

    return ".".join(map(str, floor()))


def test_the_python_floor_is_stated_once_and_used_everywhere() -> None:
    floor = _python_floor()
    assert tuple(map(int, floor.split("."))) >= (3, 11), "the pinned numpy, pandas and scipy need 3.11"
    for path in WORKFLOWS:
        for job in _workflow(path)["jobs"].values():
            for step in job.get("steps", []):
                if "setup-python" in step.get("uses", ""):
                    assert str(step["with"]["python-version"]) == floor, (path.name, step)
    assert "tools/check_python.py" in (REPO / "Makefile").read_text()
    assert f"Python {floor}+" in (REPO / "README.md").read_text()


def test_workflows_as_github_runs_them() -> None:
    book = _workflow(REPO / ".github" / "workflows" / "book.yml")
    # torch's CPU wheels on the CPU runners, from the workflow only (local installs unchanged)
    assert book["env"]["PIP_EXTRA_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    assert "download.pytorch.org" not in (REPO / "requirements.txt").read_text()
    # deploy only from main, never cancelled half-way, after configure-pages
    deploy = book["jobs"]["deploy"]
    assert "github.ref == 'refs/heads/main'" in deploy["if"]
    assert deploy["concurrency"]["cancel-in-progress"] is False
    assert "pull_request" in str(book["concurrency"]["cancel-in-progress"])
    assert any("configure-pages" in s.get("uses", "") for s in deploy["steps"])
    for path in WORKFLOWS:
        for job in _workflow(path)["jobs"].values():
            for step in job.get("steps", []):
                if "actions/checkout" in step.get("uses", ""):
                    assert step["with"]["persist-credentials"] is False, path.name
                if "setup-python" in step.get("uses", "") and "cache" in step.get("with", {}):
                    assert "constraints.txt" in step["with"]["cache-dependency-path"]
    # the lock is what `make setup` (and so .ci/run) installs with
    makefile = (REPO / "Makefile").read_text()
    assert "-r requirements.txt -c constraints.txt" in makefile
    assert "zizmor" in makefile
    # a hung chapter in the Colab job is killed and fails its step; a pass closes the issue
    colab = _workflow(REPO / ".github" / "workflows" / "colab.yml")
    runs = "\n".join(str(step.get("run", "")) for step in colab["jobs"]["smoke"]["steps"])
    assert "--kill-after" in runs and "--init" in runs
    assert colab["jobs"]["close"]["if"] == "success()"


def test_the_lock_pins_the_requirements_and_the_documentation_stack() -> None:
    def pins(path: Path) -> dict[str, str]:
        out = {}
        for line in path.read_text().splitlines():
            line = line.split("#")[0].split(";")[0].strip()
            if "==" in line:
                name, version = line.split("==")
                out[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
        return out

    direct, lock = pins(REPO / "requirements.txt"), pins(REPO / "constraints.txt")
    assert {k: lock.get(k) for k in direct} == direct, "regenerate constraints.txt with tools/lock.sh"
    for name in ("sphinx", "myst-nb", "myst-parser", "sphinx-book-theme", "pydata-sphinx-theme",
                 "docutils", "sphinxcontrib-bibtex", "sphinx-design"):
        assert name in lock, name
    assert "tools/lock.sh" in (REPO / "README.md").read_text()


def test_book_workflow_runs_ci_with_a_checksummed_mnist_cache() -> None:
    from mnist_utils.data import SHA256

    workflow = _workflow(REPO / ".github" / "workflows" / "book.yml")
    runs = [step.get("run", "") for step in workflow["jobs"]["build"]["steps"]]
    assert "bash .ci/run" in runs, "the workflow runs the same CI script as every submission"
    key = workflow["jobs"]["build"]["steps"][2]["with"]["key"]
    assert all(digest[:8] in key for digest in SHA256.values())


def test_colab_workflow_runs_the_chapters_in_colabs_image_weekly() -> None:
    workflow = _workflow(REPO / ".github" / "workflows" / "colab.yml")
    assert workflow["on"]["schedule"][0]["cron"] and "workflow_dispatch" in workflow["on"]
    smoke, issue = workflow["jobs"]["smoke"], workflow["jobs"]["issue"]
    runs = "\n".join(str(step.get("run", "")) for step in smoke["steps"])
    assert "us-docker.pkg.dev/colab-images/public/runtime" in smoke["env"]["IMAGE"]
    assert '"$IMAGE" .ci/colab' in runs
    # the Colab check installs the package as a student's session does and gets MNIST from torchvision
    script = (REPO / ".ci" / "colab").read_text()
    assert "pip install --quiet .\n" in script and "--profile smoke --no-html" in script
    assert (REPO / ".ci" / "colab").stat().st_mode & 0o111, ".ci/colab is executable"
    for text in (path.read_text() for path in (REPO / ".ci" / "colab", REPO / ".github/workflows/colab.yml")):
        assert "MNIST_DATA_DIR" not in text
    # a failure files the issue, from the one job allowed to write issues
    assert issue["needs"] == "smoke" and "failure()" in issue["if"]
    assert any("github-script" in step.get("uses", "") for step in issue["steps"])
    assert "label = 'colab'" in issue["steps"][0]["with"]["script"]


def test_no_torch_load_without_weights_only() -> None:
    for path in [*REPO.glob("mnist_utils/*.py"), *REPO.glob("tools/*.py"), *REPO.glob("bench/*.py"),
                 *NOTEBOOKS]:
        text = path.read_text()
        for line in text.splitlines():
            if "torch.load(" in line:
                assert "weights_only=True" in line, f"{path}: {line.strip()}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercises_have_hidden_solutions_and_one_runs(path: Path) -> None:
    """At least three exercises, each with a hint or solution in a dropdown, and at least one
    code exercise whose solution is a (collapsed) cell, so every build executes it."""
    nb = nbformat.read(path, as_version=4)
    start = next((i for i, c in enumerate(nb.cells)
                  if c.cell_type == "markdown" and "## Exercises" in c.source), None)
    assert start is not None, "no ## Exercises section"
    cells = nb.cells[start:]
    markdown = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    dropdowns = len(re.findall(r"^\s*:::\{dropdown\}", markdown, re.M))
    assert dropdowns >= 3, f"{dropdowns} hint/solution dropdowns in the exercises"
    solutions = [c for c in cells if c.cell_type == "code" and "hide-cell" in c.metadata.get("tags", [])
                 and c.source.startswith("# Solution to exercise")]
    assert solutions, "no executed solution cell (tag hide-cell, '# Solution to exercise N')"
