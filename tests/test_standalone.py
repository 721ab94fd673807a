"""Every chapter runs on its own, the way a student opens it in Colab.

The runner (``tools/run.py``, ``test_chapters.py``) executes the chapters in order, with the
repository on ``PYTHONPATH``, papermill and a shared build folder, so a chapter that only works
after an earlier one, or only inside the checkout, passes there. A student instead opens one
chapter in Colab: nothing but the chapter's own first cell installs the course package, no
earlier chapter has run, and the working folder is empty. These tests rebuild that situation:

* a fresh virtual environment (same interpreter) with the exact pins of ``requirements.txt``
  for what Colab preinstalls: torch, torchvision, the package's runtime dependencies
  (``pyproject.toml``), ipykernel, nbclient and nbformat; without the course package and
  without papermill or Jupyter Book;
* each chapter executed by nbclient, inside that environment and with its kernel, from an
  empty working folder of its own (its metrics go to ``_build/`` there, as in Colab:
  ``MNIST_BUILD_DIR`` and ``PYTHONPATH`` are not set);
* the install cell pointed at this checkout (``MNIST_COURSE_SOURCE=file://...``, a regular,
  non-editable install); setuptools builds outside the checkout (``DIST_EXTRA_CONFIG``), so
  the test writes nothing into it;
* the smoke profile's values injected after the ``parameters`` cell, as papermill would.

Reinstalling the package for every chapter would add minutes, so the install cell is tested
where it matters: the first chapter of the session starts without the package and must
install it (and nothing else), and ``10_scoreboard``, which failed alone before, starts
without it again; the chapters between keep the package the earlier install cell put there.
The scoreboard, with no metrics of this session, must show the published build's numbers,
labelled as such.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
import yaml

from mnist_utils.data import CACHE_DIR_ENV, DATA_DIR_ENV
from mnist_utils.results import BUILD_DIR_ENV
from tools import run

REPO = Path(__file__).resolve().parents[1]
CHAPTERS = run.chapter_notebooks(REPO)
SCOREBOARD = "10_scoreboard"
KERNEL = "mnist-standalone"
PACKAGE = "mnist-course"
# What Colab preinstalls besides the runtime dependencies: the kernel and the executor.
NOTEBOOK_TOOLS = ("ipykernel", "nbclient", "nbformat")
# The scoreboard opened alone says where its numbers come from (book/10_scoreboard.ipynb).
REFERENCE_LABEL = "No chapter has run in this session"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

# Runs inside the fresh environment: execute one notebook with nbclient, write what ran.
DRIVER = '''\
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

source, target, workdir, kernel = sys.argv[1:5]
nb = nbformat.read(source, as_version=4)
client = NotebookClient(nb, timeout=900, kernel_name=kernel, resources={"metadata": {"path": workdir}})
try:
    client.execute()
except CellExecutionError as err:
    nbformat.write(nb, target)
    sys.exit(str(err))
nbformat.write(nb, target)
'''

# Runs inside the fresh environment: where mnist_utils imports from, papermill, what is installed.
PROBE = '''\
import importlib.util
import json
import sys
from importlib import metadata

spec = importlib.util.find_spec("mnist_utils")
print(json.dumps({
    "prefix": sys.prefix,
    "mnist_utils": spec.origin if spec else None,
    "papermill": importlib.util.find_spec("papermill") is not None,
    "dists": sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()),
}))
'''


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def preinstalled_requirements() -> list[str]:
    """The pins for the fresh environment: runtime dependencies and notebook tools, never the
    package, papermill or Jupyter Book. A tool requirements.txt does not pin (nbclient comes in
    through papermill there) gets the version of this test's environment."""
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            pins[_normalize(re.split(r"[<>=!~ ;\[]", line)[0])] = line
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = [_normalize(re.split(r"[<>=!~ ;\[]", dep)[0]) for dep in project["dependencies"]]
    wanted = []
    for name in [*names, *NOTEBOOK_TOOLS]:
        if name in pins:
            wanted.append(pins[name])
        else:
            try:
                wanted.append(f"{name}=={metadata.version(name)}")
            except metadata.PackageNotFoundError:
                wanted.append(name)
    assert {"torch", "torchvision"} <= set(names), "torch and torchvision must be runtime dependencies"
    chosen = {_normalize(w.split("=")[0]) for w in wanted}
    assert not {"papermill", "jupyter-book", _normalize(PACKAGE)} & chosen
    return wanted


@dataclass
class ColabLike:
    venv: Path
    python: Path
    env: dict[str, str]
    scripts: Path
    install_tested: bool = False

    def probe(self) -> dict:
        out = subprocess.run([self.python, self.scripts / "probe.py"], cwd=self.scripts, env=self.env,
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)

    def uninstall_package(self) -> None:
        subprocess.run([self.python, "-m", "pip", "uninstall", "--quiet", "-y", PACKAGE], cwd=self.scripts,
                       env=self.env, capture_output=True, text=True, check=True)


@pytest.fixture(scope="session")
def colab_like(offline_copy: Path, tmp_path_factory: pytest.TempPathFactory):
    """A fresh virtual environment like Colab's, without the package; removed afterwards (GBs)."""
    root = tmp_path_factory.mktemp("standalone")
    venv, scripts, cache = root / "venv", root / "scripts", root / "cache"
    scripts.mkdir()
    (scripts / "driver.py").write_text(DRIVER)
    (scripts / "probe.py").write_text(PROBE)
    (scripts / "requirements.txt").write_text("\n".join(preinstalled_requirements()) + "\n")
    (scripts / "probe.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import sys\nprint(sys.prefix)")])))
    # setuptools builds the file:// install in the source tree (build/, *.egg-info): send both here.
    (scripts / "setuptools.cfg").write_text(
        f"[build]\nbuild_base = {root / 'setuptools-build'}\n[egg_info]\negg_base = {root}\n")

    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", BUILD_DIR_ENV)}
    env.update({
        "PATH": os.pathsep.join([str(venv / "bin"), env.get("PATH", "")]),
        "VIRTUAL_ENV": str(venv),
        DATA_DIR_ENV: str(offline_copy),
        CACHE_DIR_ENV: str(cache),
        "MNIST_COURSE_SOURCE": REPO.as_uri(),
        "DIST_EXTRA_CONFIG": str(scripts / "setuptools.cfg"),
        # pip caches the wheel it builds under the checkout's file:// URL: a later run from the same
        # folder (another clone, another commit) would install that stale wheel instead of this code
        "PIP_NO_CACHE_DIR": "1",
    })
    base = Path(getattr(sys, "_base_executable", sys.executable))
    start = time.perf_counter()
    subprocess.run([base, "-m", "venv", venv], check=True)
    python = venv / "bin" / "python"
    steps = [
        [python, "-m", "pip", "install", "--quiet", "--no-compile", "-r", scripts / "requirements.txt",
         "-c", REPO / "constraints.txt"],
        [python, "-m", "ipykernel", "install", "--prefix", venv, "--name", KERNEL],
    ]
    # The pinned requirements may come from pip's cache (torch is large); only the course package,
    # installed later by the chapter's own cell, must not (PIP_NO_CACHE_DIR above).
    setup_env = {k: v for k, v in env.items() if k != "PIP_NO_CACHE_DIR"}
    for cmd in steps:
        result = subprocess.run(cmd, cwd=scripts, env=setup_env, capture_output=True, text=True)
        assert result.returncode == 0, f"{cmd}: {result.stderr[-4000:]}"
    print(f"\nfresh environment in {time.perf_counter() - start:.0f} s")
    colab = ColabLike(venv, python, env, scripts)
    state = colab.probe()
    assert state["mnist_utils"] is None, f"the fresh environment already imports mnist_utils: {state}"
    assert not state["papermill"]
    # The kernel nbclient starts is the fresh environment's, not this one's.
    executed = scripts / "probe-executed.ipynb"
    subprocess.run([python, scripts / "driver.py", scripts / "probe.ipynb", executed, scripts, KERNEL],
                   cwd=scripts, env=env, check=True, capture_output=True)
    kernel_prefix = nbformat.read(executed, as_version=4).cells[0].outputs[0]["text"].strip()
    assert Path(kernel_prefix).resolve() == venv.resolve(), kernel_prefix
    yield colab
    shutil.rmtree(venv, ignore_errors=True)


def with_smoke_parameters(source: Path, target: Path) -> None:
    """``source`` with the smoke profile's values in a cell after ``parameters``, as papermill does."""
    nb = nbformat.read(source, as_version=4)
    values = run.profile_parameters(REPO, source.stem, "smoke")
    if values:
        index = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
        assert len(index) == 1, f"{source.stem} needs exactly one cell tagged parameters"
        lines = "".join(f"{name} = {value!r}\n" for name, value in values.items())
        cell = nbformat.v4.new_code_cell("# Parameters\n" + lines)
        cell.metadata["tags"] = ["injected-parameters"]
        nb.cells.insert(index[0] + 1, cell)
    nbformat.write(nb, target)


def failure_message(stem: str, executed: Path, log: str) -> str:
    """The failing cell's source and error, with what it printed (pip's errors, say)."""
    if executed.is_file():
        for cell in nbformat.read(executed, as_version=4).cells:
            outputs = cell.get("outputs", [])
            errors = [o for o in outputs if o.get("output_type") == "error"]
            if errors:
                printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
                traceback = ANSI.sub("", "\n".join(errors[0]["traceback"]))
                return (f"{stem} fails alone in the cell\n{cell.source}\n--- printed:\n{printed[-3000:]}"
                        f"\n--- error:\n{traceback[-6000:]}")
    return f"{stem} fails alone:\n{log[-6000:]}"


def install_traces() -> dict[str, int]:
    """What a build from the checkout would leave in it: build/ and *.egg-info, with times."""
    paths = [REPO / "build", *REPO.glob("*.egg-info")]
    return {str(p): p.stat().st_mtime_ns for top in paths if top.exists() for p in [top, *top.rglob("*")]}


def output_text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.extend(str(v) for k, v in out.get("data", {}).items() if k.startswith("text/"))
    return "\n".join(parts)


@pytest.mark.standalone
@pytest.mark.parametrize("notebook", CHAPTERS, ids=[nb.stem for nb in CHAPTERS])
def test_chapter_runs_alone(notebook: Path, colab_like: ColabLike, tmp_path: Path) -> None:
    stem = notebook.stem
    install = stem == SCOREBOARD or not colab_like.install_tested
    if install:
        if colab_like.probe()["mnist_utils"] is not None:
            colab_like.uninstall_package()
        before = colab_like.probe()
        assert before["mnist_utils"] is None
        traces = install_traces()

    source, executed, workdir = tmp_path / f"{stem}.ipynb", tmp_path / "executed.ipynb", tmp_path / "work"
    workdir.mkdir()
    with_smoke_parameters(REPO / notebook, source)
    start = time.perf_counter()
    result = subprocess.run(
        [colab_like.python, colab_like.scripts / "driver.py", source, executed, workdir, KERNEL],
        cwd=workdir, env=colab_like.env, capture_output=True, text=True, timeout=1800,
    )
    print(f"\n{stem}: {time.perf_counter() - start:.1f} s{' (with the install cell)' if install else ''}")
    if result.returncode:
        pytest.fail(failure_message(stem, executed, result.stderr), pytrace=False)

    if install:
        after = colab_like.probe()
        origin = after["mnist_utils"]
        assert origin and Path(origin).resolve().is_relative_to(colab_like.venv.resolve()), (
            f"the install cell did not install the package into the environment: {origin}")
        added = {d for d in after["dists"] if d not in before["dists"]}
        assert {d.split("==")[0] for d in added} == {PACKAGE}, f"the install cell installed {added}"
        assert not after["papermill"]
        assert install_traces() == traces, "installing from the checkout wrote build files into it"
        colab_like.install_tested = True
    if stem == SCOREBOARD:
        text = output_text(nbformat.read(executed, as_version=4))
        assert REFERENCE_LABEL in text and "published full build" in text, (
            "the scoreboard opened alone must show the published build's numbers, labelled as such")


def test_smoke_injection_matches_the_profile(tmp_path: Path) -> None:
    """The injected cell assigns exactly the smoke profile's values (what papermill would)."""
    profile = yaml.safe_load((REPO / "book" / "profiles" / "smoke.yml").read_text())
    for notebook in CHAPTERS:
        target = tmp_path / notebook.name
        with_smoke_parameters(REPO / notebook, target)
        cells = nbformat.read(target, as_version=4).cells
        injected = [c for c in cells if "injected-parameters" in c.metadata.get("tags", [])]
        namespace: dict = {}
        for cell in injected:
            exec(cell.source, namespace)
        namespace.pop("__builtins__", None)
        assert namespace == (profile.get(notebook.stem) or {}), notebook.stem
        assert len(cells) == len(nbformat.read(REPO / notebook, as_version=4).cells) + len(injected)
