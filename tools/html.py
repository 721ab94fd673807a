"""The HTML step of a build: stage the executed chapters beside the book's pages, run Jupyter Book.

Split from ``tools/run.py`` (which executes the chapters): the HTML is built from
``<build>/executed`` with warnings as errors, and skipped when no staged page changed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from mnist_utils.build_folder import JUPYTER_BOOK_OUTPUT, BuildFolder, write_json_atomic
from tools.toc import BOOK_FILES, toc_documents


def stage_book(root: Path, build: Path) -> Path:
    """Lay out the book's sources next to the executed notebooks, for Jupyter Book."""
    stage = BuildFolder(build).executed()
    stage.mkdir(parents=True, exist_ok=True)
    for name in BOOK_FILES:
        shutil.copy2(root / name, stage / name)
    for doc in toc_documents(root / "_toc.yml"):
        for suffix in (".md", ".ipynb"):
            src = root / Path(doc).with_suffix(suffix)
            dst = stage / Path(doc).with_suffix(suffix)
            # Markdown is always refreshed; a notebook not executed yet is shown unexecuted.
            if src.is_file() and (suffix == ".md" or not dst.is_file()):
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
    for bib in sorted(root.glob("book/*.bib")):  # the bibliography the pages cite
        shutil.copy2(bib, stage / bib.relative_to(root))
    for extra in ("book/_ext", "book/_templates", "book/_static"):
        if (root / extra).is_dir():
            shutil.copytree(root / extra, stage / extra, dirs_exist_ok=True)
    from tools.export import stage_page
    from tools.vendor import vendor_mathjax  # MathJax served by the site itself (no CDN)

    vendor_mathjax(stage)
    stage_page(root, build, stage)  # "Try the models": its script, onnxruntime-web, the models
    return stage


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    # the stage's own Jupyter Book output (<stage>/_build) is not a source
    files = (p for p in folder.rglob("*")
             if p.is_file() and JUPYTER_BOOK_OUTPUT not in p.relative_to(folder).parts)
    for path in sorted(files):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build_html(root: Path, build: Path) -> None:
    """Jupyter Book from the staged sources into ``<build>/html``, warnings as errors.

    Skipped when the staged sources (executed notebooks, pages, configuration) are
    byte for byte those of the last successful HTML build in this folder.
    """
    folder = BuildFolder(build)
    stage = stage_book(root, build)
    stamp, key = folder.stamp("html"), _tree_digest(stage)
    if (folder.html / "index.html").is_file() and stamp.is_file() and \
            json.loads(stamp.read_text()).get("key") == key:
        print("[run] HTML: cached (no page changed)", flush=True)
        return
    # The console script next to this interpreter: the package has no ``__main__``.
    script = Path(sys.executable).with_name("jupyter-book")
    exe = str(script) if script.is_file() else shutil.which("jupyter-book") or "jupyter-book"
    # --all: a changed _config.yml or extension must not leave stale pages behind
    cmd = [exe, "build", str(stage), "--all", "-W", "-n", "--keep-going"]
    print("[run] " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    html = folder.html
    if html.exists():
        shutil.rmtree(html)
    shutil.copytree(folder.staged_html, html)
    write_json_atomic(stamp, {"key": key})
    print(f"[run] book written to {html / 'index.html'}", flush=True)
