"""The build folder, in one place: its layout, the runner's report, the handshake between chapters.

Why one module: the chapters write their results into the build folder, the runner
executes them there and keeps its report and cache stamps beside them, the ONNX export and
the HTML step read them back. When each of them spelled the layout out for itself, moving
one file meant finding every copy. Here ``BuildFolder`` names every path::

    <build>/report.json                   the runner's report (``read_report``, ``write_report``)
    <build>/metrics/<chapter>.json        a chapter's numbers (``results.save_metrics``)
    <build>/claims/<chapter>.json         the claims of its prose, judged on its numbers
    <build>/comparisons/<chapter>.json    its seed-paired comparisons (``protocol.save``)
    <build>/predictions/<chapter>/<key>.npy   its per-image test predictions
    <build>/models/<chapter>/<key>.pt|.json|.onnx, models/manifest.json   saved and exported models
    <build>/executed/<notebook path>      executed copies (and the stage of the HTML)
    <build>/executed/_build/html          Jupyter Book's own output, copied to <build>/html
    <build>/cache/<chapter>.json, cache/html.json   the runner's cache stamps
    <build>/waiting/<chapter>             that chapter waits for others now
    <build>/waited/<chapter>              the seconds it has waited, added up
    <build>/html                          the book's site

The build folder is ``$MNIST_BUILD_DIR`` (the runner sets it for the chapters) or ``_build``
under the working directory (Colab). The handshake: the runner starts a chapter before the
earlier chapters it reads have finished; ``await_chapters`` holds it at the line that reads
them, and ``require_result`` says which chapter to run when a result is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_NAME = "_build"
JUPYTER_BOOK_OUTPUT = "_build"  # Jupyter Book's own output folder, inside the folder it builds
BUILD_DIR_ENV = "MNIST_BUILD_DIR"
# Set by the book's runner for the chapters it executes: this chapter's name and the
# runner's process id. Without them (Colab, tests) nothing is ever awaited.
CHAPTER_ENV, RUNNER_ENV = "MNIST_CHAPTER", "MNIST_RUNNER_PID"
UNFINISHED = ("pending", "running")  # report statuses of a chapter whose results are not final


def build_dir() -> Path:
    """This process's build folder: ``$MNIST_BUILD_DIR``, else ``_build`` here."""
    return Path(os.environ.get(BUILD_DIR_ENV, DEFAULT_NAME))


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


@dataclass(frozen=True)
class BuildFolder:
    """Every path of one build folder (see the module's docstring); creates nothing."""

    root: Path

    @classmethod
    def current(cls) -> BuildFolder:
        return cls(build_dir())

    @classmethod
    def of_repository(cls, repo: Path) -> BuildFolder:
        """The default build folder of a clone (``<repo>/_build``)."""
        return cls(repo / DEFAULT_NAME)

    def _in(self, folder: str, name: Path | str | None = None) -> Path:
        return self.root / folder if name is None else self.root / folder / name

    @property
    def report(self) -> Path:
        return self.root / "report.json"

    @property
    def all_metrics(self) -> Path:
        return self._in("metrics")

    def metrics(self, chapter: str) -> Path:
        return self._in("metrics", f"{chapter}.json")

    @property
    def all_claims(self) -> Path:
        return self._in("claims")

    def claims(self, chapter: str) -> Path:
        """A chapter's judged claims (``claims.check_claims``), for the scoreboard."""
        return self._in("claims", f"{chapter}.json")

    @property
    def all_comparisons(self) -> Path:
        return self._in("comparisons")

    def comparisons(self, chapter: str) -> Path:
        """A chapter's seed-paired comparisons (``protocol.save``), for the scoreboard."""
        return self._in("comparisons", f"{chapter}.json")

    def predictions(self, chapter: str, key: str | None = None) -> Path:
        folder = self._in("predictions", chapter)
        return folder if key is None else folder / f"{key}.npy"

    def models(self, chapter: str | None = None) -> Path:
        """The saved models (of ``chapter``); an exported model's ``file`` is relative to it."""
        return self._in("models", chapter)

    @property
    def manifest(self) -> Path:
        return self.models() / "manifest.json"

    def executed(self, notebook: Path | str | None = None) -> Path:
        """The executed copy of ``notebook`` (a path relative to the repository), or the folder."""
        return self._in("executed", notebook)

    @property
    def staged_html(self) -> Path:
        """Where Jupyter Book writes the site when it builds the stage (``executed``)."""
        return self.executed() / JUPYTER_BOOK_OUTPUT / "html"

    @property
    def html(self) -> Path:
        return self._in("html")

    def stamp(self, name: str) -> Path:
        """The runner's cache stamp of a chapter (or of the HTML step: ``"html"``)."""
        return self._in("cache", f"{name}.json")

    def waiting(self, chapter: str | None = None) -> Path:
        return self._in("waiting", chapter)

    def waited(self, chapter: str | None = None) -> Path:
        return self._in("waited", chapter)

    @property
    def vendor(self) -> Path:
        """Downloaded site assets (MathJax, onnxruntime-web), kept between builds."""
        return self._in("vendor")

    @property
    def bench_report(self) -> Path:
        """The bench's timings (``bench/bench.py --out``)."""
        return self._in("bench.json")

    @property
    def bench_book(self) -> Path:
        """The smoke book the bench builds and times."""
        return self._in("bench-smoke")

    # The runner's bookkeeping.

    def read_report(self) -> dict[str, Any]:
        """The runner's report, or ``{}`` where no build has written one (yet)."""
        try:
            return json.loads(self.report.read_text())
        except (OSError, ValueError):
            return {}

    def write_report(self, report: Mapping[str, Any]) -> None:
        write_json_atomic(self.report, report)

    def clear_results(self, chapter: str) -> None:
        """Remove a chapter's metrics, claims, predictions and models (before it runs again)."""
        self.metrics(chapter).unlink(missing_ok=True)
        self.claims(chapter).unlink(missing_ok=True)
        self.comparisons(chapter).unlink(missing_ok=True)
        for folder in (self.predictions(chapter), self.models(chapter)):
            shutil.rmtree(folder, ignore_errors=True)

    def clear_markers(self) -> None:
        """Remove the waiting and waited markers a killed build may have left."""
        for folder in (self.waiting(), self.waited()):
            shutil.rmtree(folder, ignore_errors=True)

    def waiting_now(self) -> set[str]:
        """The chapters that wait for other chapters' results at this moment."""
        folder = self.waiting()
        return {p.name for p in folder.glob("*")} if folder.is_dir() else set()

    def seconds_waited(self, chapter: str) -> float:
        path = self.waited(chapter)
        return float(path.read_text()) if path.is_file() else 0.0


def read_report(build: Path | None = None) -> dict[str, Any]:
    """The runner's report of ``build`` (default: this build folder), ``{}`` if there is none."""
    return BuildFolder(build or build_dir()).read_report()


def _runner_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by somebody else
        return True
    return True


def _unfinished(folder: BuildFolder, me: str, chapters: Sequence[str] | None) -> list[str]:
    """Of ``chapters`` (default: those before ``me``), the ones the report calls unfinished."""
    entries = folder.read_report().get("chapters", {})  # no report (yet): nothing to wait for
    order = list(entries)  # the table of contents' order: only earlier chapters are read
    names = order[: order.index(me)] if chapters is None and me in order else (chapters or order)
    return [n for n in names if n != me and entries.get(n, {}).get("status") in UNFINISHED]


def await_chapters(chapters: Sequence[str] | None = None, poll: float = 0.5) -> None:
    """Wait until ``chapters`` (default: every chapter before this one) are final.

    Only under the book's runner (``$MNIST_RUNNER_PID``): a chapter is awaited while the
    runner's report says it is pending or running and the runner is alive. While waiting,
    ``<build>/waiting/<this chapter>`` tells the runner that this chapter's core is free for
    another chapter; the seconds waited are added up in ``<build>/waited/``, so that the
    report can tell waiting from work.
    """
    pid, me = os.environ.get(RUNNER_ENV), os.environ.get(CHAPTER_ENV, "")
    if not pid:
        return
    folder = BuildFolder.current()
    waiting = _unfinished(folder, me, chapters)
    if not waiting:
        return
    # stderr: the book does not show it (nb_output_stderr: remove); a log of the run does
    print(f"Waiting for {', '.join(waiting)} to finish in this build ...", file=sys.stderr, flush=True)
    start = time.monotonic()
    marker = folder.waiting(me)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(waiting))
    try:
        while waiting and _runner_alive(int(pid)):
            time.sleep(poll)
            waiting = _unfinished(folder, me, chapters)
    finally:
        marker.unlink(missing_ok=True)
        total = folder.waited(me)
        total.parent.mkdir(parents=True, exist_ok=True)
        total.write_text(f"{folder.seconds_waited(me) + time.monotonic() - start:.3f}")


def require_result(chapter: str, key: str) -> float | None:
    """Another chapter's declared result, or ``None`` with a message saying what to run."""
    from mnist_utils.results import declared_metrics, load_metrics  # results imports this module

    if key not in declared_metrics().get(chapter, {}):
        raise KeyError(f"{key!r} is not a declared result of {chapter} (see mnist_utils/metrics.yml)")
    value = (load_metrics(chapter) or {}).get(key)
    if value is None:
        print(f"This comparison needs `{key}` from chapter {chapter}, which has not run in this "
              f"build folder ({build_dir()}). Run {chapter}.ipynb first (or the whole book) "
              "to see it; the rest of this chapter does not need it.")
    return value
