"""What a chapter's execution depends on, as one key: rebuild only what an edit touches.

A chapter is executed again only when its key differs from the key of its last
successful execution. The key is a SHA-256 over everything the result depends on:

* the notebook's source (cell types, sources and tags; outputs and ids excluded);
* the ``mnist_utils`` modules it imports, followed through their own imports (so an
  edit of ``models.py`` re-executes the chapters that import it, directly or through
  ``training``, and no others), with ``metrics.yml`` when ``results`` is among them;
* the profile's parameters for it, the MNIST files' SHA-256s, the versions of the
  key libraries (Python, torch, numpy, scikit-learn, opencv) and the device type;
* the published results (metrics and per-image predictions) of the earlier chapters it
  reads: those named in its source, or all of them for a chapter that reads every
  chapter's results (the scoreboard).

jupyter-cache keys on a notebook's code cells only and misses edits to an imported
package; this key does not.
"""

from __future__ import annotations

import ast
import hashlib
import json
import platform
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from mnist_utils.build_folder import BuildFolder

PACKAGE = "mnist_utils"
LIBRARIES = ("torch", "numpy", "scikit-learn", "opencv-python-headless")
READS_EVERY_CHAPTER = ("load_all_metrics(", "declared_metrics().items()")


def notebook_source(path: Path) -> str:
    """The parts of a notebook that decide what it computes: cell types, tags, sources."""
    nb = json.loads(path.read_text())
    cells = [{"type": c["cell_type"], "tags": sorted(c.get("metadata", {}).get("tags", [])),
              "source": "".join(c["source"]) if isinstance(c["source"], list) else c["source"]}
             for c in nb["cells"]]
    return json.dumps(cells, sort_keys=True)


def _imported_modules(code: str) -> set[str]:
    """``mnist_utils`` submodules named by the imports in ``code`` (unparsable cells: none)."""
    found: set[str] = set()
    try:
        tree = ast.parse(code)
    except SyntaxError:  # notebook magics; the import lines are still read below
        tree = ast.parse("\n".join(line for line in code.splitlines()
                                   if line.lstrip().startswith(("import ", "from "))) or "pass")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PACKAGE:
            if node.module == PACKAGE:
                found.update(f"{PACKAGE}.{alias.name}" for alias in node.names)
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
    return found


def module_closure(start: Iterable[str], package_dir: Path) -> list[Path]:
    """The files of ``start`` and of every package module they import, transitively."""
    seen: set[str] = set()
    todo = [m for m in start if m != PACKAGE]
    while todo:
        module = todo.pop()
        path = package_dir / (module.split(".", 1)[1].replace(".", "/") + ".py")
        if module in seen or not path.is_file():
            continue
        seen.add(module)
        todo.extend(_imported_modules(path.read_text()) - seen)
    files = [package_dir / "__init__.py"] + sorted(
        package_dir / (m.split(".", 1)[1].replace(".", "/") + ".py") for m in seen)
    if f"{PACKAGE}.results" in seen:
        files.append(package_dir / "metrics.yml")
    return [f for f in files if f.is_file()]


def chapter_dependencies(source: str, earlier: Sequence[str]) -> list[str]:
    """The earlier chapters whose published results this chapter's source reads."""
    if any(marker in source for marker in READS_EVERY_CHAPTER):
        return list(earlier)
    return [stem for stem in earlier if stem in source]


def results_digest(build: Path, chapter: str) -> str:
    """SHA-256 of a chapter's metrics file and saved predictions in ``build`` ('' if none)."""
    digest = hashlib.sha256()
    folder = BuildFolder(build)
    files = [folder.metrics(chapter), *sorted(folder.predictions(chapter).glob("*.npy"))]
    for path in files:
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def environment() -> dict[str, str]:
    """Library versions, the MNIST checksums and the device type the results depend on."""
    from mnist_utils.data import SHA256
    from mnist_utils.runtime import pick_device

    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return {**versions, "mnist_sha256": ",".join(sorted(SHA256.values())),
            "device": pick_device().type}


def own_key(
    notebook: Path,
    parameters: Mapping[str, Any],
    package_dir: Path,
    env: Mapping[str, str],
) -> str:
    """The part of a chapter's key that is its own: source, package modules, parameters, environment."""
    source = notebook_source(notebook)
    code = "\n".join(c["source"] for c in json.loads(source) if c["type"] == "code")
    digest = hashlib.sha256()
    digest.update(source.encode())
    for path in module_closure(_imported_modules(code), package_dir):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for part in (parameters, env):
        digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def with_upstream(own: str, upstream: Mapping[str, str]) -> str:
    """The whole key: the chapter's own part and the results it reads (chapter -> digest)."""
    return hashlib.sha256((own + json.dumps(dict(upstream), sort_keys=True)).encode()).hexdigest()


def chapter_key(
    notebook: Path,
    parameters: Mapping[str, Any],
    package_dir: Path,
    env: Mapping[str, str],
    upstream: Mapping[str, str],
) -> str:
    """The cache key of one chapter's execution; ``upstream``: chapter -> results digest."""
    return with_upstream(own_key(notebook, parameters, package_dir, env), upstream)
