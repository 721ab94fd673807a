"""The chapters' Colab side, derived from the one statement of each fact, applied idempotently.

* The repository is named once, in ``_config.yml`` (``repository.url``: Jupyter Book's
  Colab, repository and issue buttons use it); the version of the course package once, in
  ``pyproject.toml``. Every chapter's first (hidden) cell installs exactly that version,
  ``git+<repository>@v<version>`` (the release tag ``.github/workflows/release.yml`` builds),
  so a student in Colab gets the package of the book they are reading, not whatever ``main``
  holds that day; if the install fails, the cell says in one sentence what to do instead of
  showing pip's traceback.
* The notebooks ask Colab for a GPU in the chapters that benefit from one (``GPU_CHAPTERS``)
  and for no accelerator elsewhere.

``python -m tools.colab --check`` lists what differs (exit 1), ``--write`` rewrites the
notebooks (only the first cell and the notebook metadata; nothing else is touched), and
``--tag vX.Y.Z`` also checks a release tag against the version (the release workflow).
``tests/test_colab.py`` runs the check.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "mnist-course"
# the chapters whose networks train much faster on a GPU: Colab opens them on a GPU runtime
GPU_CHAPTERS = frozenset({"06_mlp_depth", "07_lenet", "08_vit"})
GPU_TYPE = "T4"  # the free tier's GPU

INSTALL_CELL = '''\
# Colab (or any machine without the course package): install the course package at the version
# this book was built with, release tag {tag}. Written by `python -m tools.colab --write`.
# MNIST_COURSE_SOURCE points the install elsewhere (a fork, a branch, file:///path/to/checkout).
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("mnist_utils") is None:
    source = os.environ.get("MNIST_COURSE_SOURCE", "git+{url}@{tag}")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"{package} @ {{source}}"],
                         capture_output=True, text=True)
    if pip.returncode:
        print("\\n".join(pip.stderr.strip().splitlines()[-3:]), file=sys.stderr)
        raise SystemExit(f"Installing the course package from {{source}} failed: check that the runtime "
                         "is connected to the internet, then run this cell again (Runtime > Run all).")'''


def repository_url(root: Path = REPO_ROOT) -> str:
    """The repository, as ``_config.yml`` names it (no trailing slash)."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    return str(config["repository"]["url"]).rstrip("/")


def package_version(root: Path = REPO_ROOT) -> str:
    """``[project] version`` of ``pyproject.toml``."""
    text = (root / "pyproject.toml").read_text()
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    if not match:
        raise SystemExit(f"{root / 'pyproject.toml'}: no version = \"...\" line")
    return match.group(1)


def release_tag(root: Path = REPO_ROOT) -> str:
    return f"v{package_version(root)}"


def install_cell_source(url: str, tag: str) -> str:
    return INSTALL_CELL.format(url=url, tag=tag, package=PACKAGE)


def colab_metadata(stem: str) -> tuple[dict, str | None]:
    """The ``colab`` metadata of a chapter and its ``accelerator`` (None: no key)."""
    if stem in GPU_CHAPTERS:
        return {"provenance": [], "gpuType": GPU_TYPE}, "GPU"
    return {"provenance": []}, None


def _apply(nb, stem: str, url: str, tag: str) -> list[str]:
    """Bring ``nb`` in line (in memory); what was different."""
    changes = []
    cell = nb.cells[0]
    source = install_cell_source(url, tag)
    if cell.cell_type != "code" or cell.source != source:
        changes.append("the install cell (first cell) differs")
        if cell.cell_type != "code":
            cell = nbformat.v4.new_code_cell()
            nb.cells.insert(0, cell)
        cell.source = source
    tags = cell.metadata.setdefault("tags", [])
    if "remove-cell" not in tags:
        changes.append("the install cell is not tagged remove-cell")
        tags.append("remove-cell")
    colab, accelerator = colab_metadata(stem)
    current = dict(nb.metadata.get("colab", {}))
    wanted = {**{k: v for k, v in current.items() if k not in ("gpuType",)}, **colab}
    if current != wanted:
        changes.append(f"notebook metadata colab: {current} -> {wanted}")
        nb.metadata["colab"] = wanted
    if nb.metadata.get("accelerator") != accelerator:
        changes.append(f"notebook metadata accelerator: {nb.metadata.get('accelerator')} -> {accelerator}")
        if accelerator is None:
            nb.metadata.pop("accelerator", None)
        else:
            nb.metadata["accelerator"] = accelerator
    return changes


def apply(path: Path, write: bool = False, root: Path = REPO_ROOT) -> list[str]:
    """What differs in the notebook at ``path``; with ``write``, fix it on disk."""
    nb = nbformat.read(path, as_version=4)
    changes = _apply(nb, path.stem, repository_url(root), release_tag(root))
    if changes and write:
        nbformat.write(nb, path)
    return changes


def chapters(root: Path = REPO_ROOT) -> list[Path]:
    return sorted((root / "book").glob("*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="list the differences, exit 1 if any (default)")
    mode.add_argument("--write", action="store_true", help="rewrite the notebooks that differ")
    parser.add_argument("--tag", help="a release tag that must equal v<pyproject version>")
    args = parser.parse_args(argv)
    problems = []
    if args.tag is not None and args.tag != release_tag():
        problems.append(f"the tag {args.tag} is not pyproject.toml's version ({release_tag()})")
    for path in chapters():
        for change in apply(path, write=args.write):
            (print if args.write else problems.append)(f"{path.relative_to(REPO_ROOT)}: {change}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("run `python -m tools.colab --write` to bring the notebooks in line", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
