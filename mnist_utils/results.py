"""Headline numbers of each chapter, saved for the scoreboard and for later chapters.

A chapter calls ``save_metrics("07_lenet", {"test_acc_best": 0.991, ...})``; the file
lands in the build folder (``build_folder.BuildFolder.metrics``). Every key must be declared
for its chapter in ``metrics.yml`` (beside this file: meaning, unit, tolerance, scoreboard
row), so a typo fails at once instead of silently dropping a number. With ``predictions=``
a chapter also saves its per-image test predictions, so a later chapter can compare two
models image by image (``stats.mcnemar``). ``save_model`` keeps a trained model (its state
dict and a JSON sidecar) for the book's "Try the models" page, which ``tools/export.py``
exports to ONNX. Accuracies are fractions in [0, 1], times seconds.

Where the files live, and how a chapter waits for the chapters it reads while the runner
executes them side by side, is ``build_folder``'s business; this module saves and loads
numbers. (``build_dir``, ``await_chapters``, ``require_result`` and ``write_json_atomic`` are
still importable from here, for the chapters written against it.)
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from mnist_utils.build_folder import (  # noqa: F401  (re-exported for the chapters)
    BUILD_DIR_ENV,
    BuildFolder,
    await_chapters,
    build_dir,
    require_result,
    write_json_atomic,
)


@cache
def declared_metrics() -> dict[str, dict[str, dict[str, Any]]]:
    """``metrics.yml``: chapter -> key -> {meaning, unit, tolerance?, board?, predictions?}."""
    text = resources.files("mnist_utils").joinpath("metrics.yml").read_text()
    return yaml.safe_load(text)


def tolerance(chapter: str, key: str) -> float | None:
    """How far a full build may move a published number (``metrics.yml``, its one home);
    ``None`` for a number that is not guarded (seconds, counts, an undeclared key)."""
    return ((declared_metrics().get(chapter) or {}).get(key) or {}).get("tolerance")


def assignment_figure(chapter: str, key: str) -> float | None:
    """The accuracy the source assignment reported for this row of the scoreboard, if any."""
    return ((declared_metrics().get(chapter) or {}).get(key, {}).get("board") or {}).get("assignment")


def _clean_number(name: str, value: Any) -> float | int:
    if isinstance(value, bool):
        raise TypeError(f"metric {name!r} must be a number, got the boolean {value!r}")
    if not isinstance(value, (int, float)):
        try:
            value = float(value)  # numpy and 0-d torch scalars
        except (TypeError, ValueError) as err:
            raise TypeError(f"metric {name!r} must be a number, got {value!r}") from err
    if not math.isfinite(value):
        raise ValueError(f"metric {name!r} is not finite: {value}")
    return value if isinstance(value, int) else float(value)


def save_metrics(
    chapter: str,
    metrics: Mapping[str, Any],
    *,
    predictions: Mapping[str, Any] | None = None,
) -> None:
    """Save ``name -> number`` for ``chapter`` (and per-image test predictions, if given).

    A chapter of the book may only save keys declared for it in ``metrics.yml``; a
    chapter name the file does not know (your own notebook) may save any keys.
    """
    declared = declared_metrics().get(chapter)
    clean: dict[str, float | int] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"metric names must be non-empty strings, got {name!r}")
        if declared is not None and name not in declared:
            raise KeyError(f"metric {name!r} is not declared for {chapter} in mnist_utils/metrics.yml; "
                           f"declared: {sorted(declared)}")
        clean[name] = _clean_number(name, value)
        unit = declared[name]["unit"] if declared is not None else None
        if (unit == "fraction" or name.startswith("test_acc")) and not 0.0 <= clean[name] <= 1.0:
            raise ValueError(f"accuracy {name!r} must be a fraction in [0, 1], got {value}")
    arrays = {}
    for name, pred in (predictions or {}).items():
        if declared is not None and not declared.get(name, {}).get("predictions"):
            raise KeyError(f"{chapter} declares no predictions for {name!r} in mnist_utils/metrics.yml")
        array = np.asarray(pred.cpu() if hasattr(pred, "cpu") else pred)
        if array.ndim != 1 or array.size == 0 or array.min() < 0 or array.max() > 9:
            raise ValueError(f"predictions {name!r} must be a 1-D array of digits 0..9")
        arrays[name] = array.astype(np.uint8)
    folder = BuildFolder.current().predictions(chapter)
    for name, array in arrays.items():
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".npy")
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
        os.replace(tmp, folder / f"{name}.npy")
    write_json_atomic(BuildFolder.current().metrics(chapter), clean)


def load_metrics(chapter: str) -> dict[str, float] | None:
    """The metrics another chapter saved in this build, or ``None`` if it has not run."""
    await_chapters([chapter])
    path = BuildFolder.current().metrics(chapter)
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def load_all_metrics(build: Path | None = None) -> dict[str, dict[str, float]]:
    """Every chapter's saved metrics in ``build`` (default: this build folder)."""
    if build is None:
        await_chapters()
    folder = BuildFolder(build or build_dir()).all_metrics
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def save_claims(chapter: str, verdicts: Sequence[Mapping[str, Any]]) -> None:
    """Save ``chapter``'s judged claims (``claims.check_claims``) for the scoreboard."""
    write_json_atomic(BuildFolder.current().claims(chapter), list(verdicts))


def load_all_claims(build: Path | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every chapter's judged claims in ``build`` (default: this build folder)."""
    if build is None:
        await_chapters()
    folder = BuildFolder(build or build_dir()).all_claims
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def save_comparisons(chapter: str, records: Sequence[Mapping[str, Any]]) -> None:
    """Save ``chapter``'s seed-paired comparisons (``protocol.save``) for the scoreboard."""
    write_json_atomic(BuildFolder.current().comparisons(chapter), list(records))


def load_all_comparisons(build: Path | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every chapter's saved comparisons in ``build`` (default: this build folder)."""
    if build is None:
        await_chapters()
    folder = BuildFolder(build or build_dir()).all_comparisons
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def load_reference() -> dict[str, dict[str, float]]:
    """The published full build's numbers (``reference-metrics.json`` beside this file).

    The book's runner rewrites that file only when a maintainer accepts a full build's
    numbers; the scoreboard shows them when no chapter has run in this session.
    """
    path = resources.files("mnist_utils").joinpath("reference-metrics.json")
    if not path.is_file():
        return {}
    chapters = json.loads(path.read_text()).get("chapters", {})
    return {chapter: {key: entry["value"] for key, entry in entries.items()}
            for chapter, entries in chapters.items()}


def load_predictions(chapter: str, key: str) -> np.ndarray | None:
    """Per-image test predictions another chapter saved under ``key``, or ``None``."""
    await_chapters([chapter])
    path = BuildFolder.current().predictions(chapter, key)
    return np.load(path, allow_pickle=False) if path.is_file() else None


# The pixel scalings a saved model may have been trained with (``data.scale_images``).
MODEL_SCALINGS = ("unit", "standard")


def save_model(
    chapter: str,
    key: str,
    model: Any,
    *,
    scaling: str,
    init: Mapping[str, Any],
    input_shape: Sequence[int] = (1, 28, 28),
    note: str = "",
) -> Path:
    """Keep a trained ``model`` of ``chapter`` (its state dict) for the "Try the models" page.

    ``key`` is the metric that scores it (declared with ``model: true`` in ``metrics.yml``
    for a chapter of the book: the page names the model by its scoreboard row). ``init`` are
    the keyword arguments that rebuild the model (``type(model)(**init)``), ``scaling`` the
    pixel scaling it was trained with ("unit" or "standard", as in ``data.scale_images``),
    ``input_shape`` the shape of one image it takes ([784], [28, 28] or [1, 28, 28]).
    Writes ``<build>/models/<chapter>/<key>.pt`` (``torch.save`` of the state dict, read back
    with ``torch.load(weights_only=True)``) and ``<key>.json``; returns the ``.pt`` path.
    """
    import torch

    spec = (declared_metrics().get(chapter) or {}).get(key)
    if chapter in declared_metrics() and not (spec or {}).get("model"):
        raise KeyError(f"{chapter} declares no model for {key!r} in mnist_utils/metrics.yml")
    if scaling not in MODEL_SCALINGS:
        raise ValueError(f"scaling must be one of {MODEL_SCALINGS}, got {scaling!r}")
    if math.prod(input_shape) != 28 * 28:
        raise ValueError(f"input_shape must hold one 28 x 28 image, got {list(input_shape)}")
    kind = type(model)
    sidecar = {
        "chapter": chapter,
        "key": key,
        "name": ((spec or {}).get("board") or {}).get("model", key),
        "class": f"{kind.__module__}:{kind.__qualname__}",
        "init": dict(init),
        "scaling": scaling,
        "input_shape": [int(n) for n in input_shape],
        "note": note,
    }
    json.dumps(sidecar)  # fails here, before any file is written, on an init that JSON cannot hold
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    folder = BuildFolder.current().models(chapter)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{key}.", suffix=".pt")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(state, handle)
        os.replace(tmp, folder / f"{key}.pt")
    finally:
        Path(tmp).unlink(missing_ok=True)
    write_json_atomic(folder / f"{key}.json", sidecar)
    return folder / f"{key}.pt"
