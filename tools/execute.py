"""Execute one chapter with papermill in a process of its own, and report how it went.

Split from ``tools/run.py``, which decides which chapters run, when, and side by side.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml


def _failure_details(executed: Path, source: Path, log: str) -> dict[str, Any]:
    """What failed: the error and the failing cell, numbered as in the *source* notebook."""
    import nbformat

    details: dict[str, Any] = {"error": (log.strip().splitlines() or ["papermill failed"])[-1][:2000]}
    if not executed.is_file():
        return details
    nb = nbformat.read(executed, as_version=4)
    source_ids = [c.get("id") for c in nbformat.read(source, as_version=4).cells]
    for cell in nb.cells:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            details["error"] = f"{errors[0]['ename']}: {errors[0]['evalue']}"[:2000]
            index = source_ids.index(cell.get("id")) if cell.get("id") in source_ids else None
            details["failed_cell"] = {"index": index, "source": cell.source[:2000]}
            break
    return details


def execute_one(root: Path, nb: Path, target: Path, parameters: dict[str, Any], env: dict[str, str],
                kernel: str) -> dict[str, Any]:
    """Execute one chapter with papermill in its own process; return its report entry.

    A separate process gets its own environment (the build folder for the metrics) without
    touching this one's, and leaves room to run independent chapters side by side.
    """
    cmd = [sys.executable, "-m", "papermill", str(root / nb), str(target), "--cwd", str(root),
           "-k", kernel, "--no-progress-bar", "-y", yaml.safe_dump(parameters)]
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    entry: dict[str, Any] = {"notebook": str(nb), "status": "ok" if result.returncode == 0 else "failed"}
    if result.returncode:
        sys.stderr.write(result.stderr[-4000:])
        entry.update(_failure_details(target, root / nb, result.stderr))
    entry["seconds"] = round(time.perf_counter() - start, 2)
    if target.is_file():
        tidy_executed(target, keep_stderr=bool(result.returncode))
    return entry


def tidy_executed(notebook: Path, keep_stderr: bool = False) -> None:
    """Make the executed copy fit to read and download.

    Papermill's injected-parameters cell is tagged ``remove-cell`` so the book hides it;
    stderr (library warnings naming temporary paths, the runner's waiting messages) is
    dropped, except from a chapter that failed, whose stderr says why.
    """
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
        if cell.cell_type == "code" and not keep_stderr:
            cell.outputs = [o for o in cell.outputs
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    nbformat.write(nb, notebook)
