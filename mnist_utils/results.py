"""Headline numbers of each chapter, saved for the scoreboard and for later chapters.

A chapter calls ``save_metrics("07_lenet", {"test_acc_best": 0.991, ...})``; the file
lands in ``<build>/metrics/07_lenet.json``. Every key must be declared for its chapter
in ``metrics.yml`` (beside this file: meaning, unit, scoreboard row), so a typo fails
at once instead of silently dropping a number. With ``predictions=`` a chapter also
saves its per-image test predictions (``<build>/predictions/<chapter>/<key>.npy``), so a
later chapter can compare two models image by image (``stats.mcnemar``). ``save_model``
keeps a trained model (``<build>/models/<chapter>/<key>.pt`` and a JSON sidecar) for the
book's "Try the models" page, which ``tools/export.py`` exports to ONNX.

The build folder is ``$MNIST_BUILD_DIR`` (the book's runner sets it) or ``_build``
under the working directory (Colab). Accuracies are fractions in [0, 1], times seconds.

When the book's runner executes chapters side by side it starts a chapter before the
earlier chapters it reads have finished; the functions that read another chapter's
results then wait for that chapter at the line that reads them (``await_chapters``),
so a chapter's long training overlaps theirs and only its comparisons wait.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

BUILD_DIR_ENV = "MNIST_BUILD_DIR"
# Set by the book's runner for the chapters it executes: this chapter's name and the
# runner's process id. Without them (Colab, tests) nothing is ever awaited.
CHAPTER_ENV, RUNNER_ENV = "MNIST_CHAPTER", "MNIST_RUNNER_PID"
UNFINISHED = ("pending", "running")  # report statuses of a chapter whose results are not final
# <build>/waiting/<chapter>: it is waiting now; <build>/waited/<chapter>: seconds it waited
WAITING, WAITED = "waiting", "waited"


def build_dir() -> Path:
    return Path(os.environ.get(BUILD_DIR_ENV, "_build"))


@cache
def declared_metrics() -> dict[str, dict[str, dict[str, Any]]]:
    """``metrics.yml``: chapter -> key -> {meaning, unit, tolerance?, board?, predictions?}."""
    text = resources.files("mnist_utils").joinpath("metrics.yml").read_text()
    return yaml.safe_load(text)


def assignment_figure(chapter: str, key: str) -> float | None:
    """The accuracy the source assignment reported for this row of the scoreboard, if any."""
    return (declared_metrics().get(chapter, {}).get(key, {}).get("board") or {}).get("seed")


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
    folder = build_dir() / "predictions" / chapter
    for name, array in arrays.items():
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".npy")
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
        os.replace(tmp, folder / f"{name}.npy")
    write_json_atomic(build_dir() / "metrics" / f"{chapter}.json", clean)


def save_claims(chapter: str, verdicts: Sequence[Mapping[str, Any]]) -> None:
    """Save ``chapter``'s judged claims (``claims.check_claims``) for the scoreboard."""
    write_json_atomic(build_dir() / "claims" / f"{chapter}.json", list(verdicts))


def load_all_claims(build: Path | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every chapter's judged claims in ``build`` (default: this build folder)."""
    if build is None:
        await_chapters()
    folder = (build or build_dir()) / "claims"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}


def _runner_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by somebody else
        return True
    return True


def await_chapters(chapters: Sequence[str] | None = None, poll: float = 0.5) -> None:
    """Wait until ``chapters`` (default: every chapter before this one) are final.

    Only under the book's runner (``$MNIST_RUNNER_PID``): a chapter is awaited while the
    runner's ``report.json`` says it is pending or running and the runner is alive. While
    waiting, ``<build>/waiting/<this chapter>`` tells the runner that this chapter's core
    is free for another chapter; the seconds waited are added up in ``<build>/waited/``, so
    that the report can tell waiting from work.
    """
    pid, me = os.environ.get(RUNNER_ENV), os.environ.get(CHAPTER_ENV, "")
    if not pid:
        return
    build = build_dir()
    report, marker = build / "report.json", build / WAITING / me

    def unfinished() -> list[str]:
        try:
            entries = json.loads(report.read_text()).get("chapters", {})
        except (OSError, ValueError):  # no report (yet): nothing to wait for
            return []
        order = list(entries)  # the table of contents' order: only earlier chapters are read
        names = order[: order.index(me)] if chapters is None and me in order else (chapters or order)
        return [n for n in names if n != me and entries.get(n, {}).get("status") in UNFINISHED]

    waiting = unfinished()
    if not waiting:
        return
    # stderr: the book does not show it (nb_output_stderr: remove); a log of the run does
    print(f"Waiting for {', '.join(waiting)} to finish in this build ...", file=sys.stderr, flush=True)
    start = time.monotonic()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(waiting))
    try:
        while waiting and _runner_alive(int(pid)):
            time.sleep(poll)
            waiting = unfinished()
    finally:
        marker.unlink(missing_ok=True)
        total = build / WAITED / me
        total.parent.mkdir(parents=True, exist_ok=True)
        before = float(total.read_text()) if total.is_file() else 0.0
        total.write_text(f"{before + time.monotonic() - start:.3f}")


def load_metrics(chapter: str) -> dict[str, float] | None:
    """The metrics another chapter saved in this build, or ``None`` if it has not run."""
    await_chapters([chapter])
    path = build_dir() / "metrics" / f"{chapter}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def load_all_metrics(build: Path | None = None) -> dict[str, dict[str, float]]:
    """Every chapter's saved metrics in ``build`` (default: this build folder)."""
    if build is None:
        await_chapters()
    folder = (build or build_dir()) / "metrics"
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
    path = build_dir() / "predictions" / chapter / f"{key}.npy"
    return np.load(path, allow_pickle=False) if path.is_file() else None


def require_result(chapter: str, key: str) -> float | None:
    """Another chapter's declared result, or ``None`` with a message saying what to run."""
    if key not in declared_metrics().get(chapter, {}):
        raise KeyError(f"{key!r} is not a declared result of {chapter} (see mnist_utils/metrics.yml)")
    value = (load_metrics(chapter) or {}).get(key)
    if value is None:
        print(f"This comparison needs `{key}` from chapter {chapter}, which has not run in this "
              f"build folder ({build_dir()}). Run {chapter}.ipynb first (or the whole book) "
              "to see it; the rest of this chapter does not need it.")
    return value


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
    folder = build_dir() / "models" / chapter
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
