"""Headline numbers of each chapter, saved as small JSON files for the scoreboard.

A chapter calls ``save_metrics("07_lenet", {"test_acc_best": 0.991, ...})``; the file
lands in ``<build>/metrics/07_lenet.json``. The build folder is ``$MNIST_BUILD_DIR``
(the chapter runner sets it) or ``_build`` under the working directory (Colab).
Accuracies are fractions in [0, 1], times are seconds.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

BUILD_DIR_ENV = "MNIST_BUILD_DIR"


def build_dir() -> Path:
    return Path(os.environ.get(BUILD_DIR_ENV, "_build"))


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON through a temporary file, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def save_metrics(chapter: str, metrics: Mapping[str, float]) -> Path:
    """Save a flat ``name -> number`` mapping for ``chapter``; return the file's path."""
    clean: dict[str, float] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"metric names must be non-empty strings, got {name!r}")
        if isinstance(value, bool):
            raise TypeError(f"metric {name!r} must be a number, got the boolean {value!r}")
        if not isinstance(value, (int, float)):
            try:
                value = float(value)  # numpy and 0-d torch scalars
            except (TypeError, ValueError) as err:
                raise TypeError(f"metric {name!r} must be a number, got {value!r}") from err
        if not math.isfinite(value):
            raise ValueError(f"metric {name!r} is not finite: {value}")
        if name.startswith(("test_acc", "train_acc")) and not 0.0 <= value <= 1.0:
            raise ValueError(f"accuracy {name!r} must be a fraction in [0, 1], got {value}")
        clean[name] = value if isinstance(value, int) else float(value)
    path = build_dir() / "metrics" / f"{chapter}.json"
    write_json_atomic(path, clean)
    return path


def load_metrics(chapter: str) -> dict[str, float] | None:
    """The metrics another chapter saved in this build, or ``None`` if it has not run."""
    path = build_dir() / "metrics" / f"{chapter}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def load_all_metrics() -> dict[str, dict[str, float]]:
    folder = build_dir() / "metrics"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def load_report() -> dict[str, Any] | None:
    path = build_dir() / "report.json"
    return json.loads(path.read_text()) if path.is_file() else None
