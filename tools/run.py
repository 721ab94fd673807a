"""Execute the book's chapters with papermill, report on them, build the HTML.

    python -m tools.run                    # full profile, every chapter, then HTML
    python -m tools.run --profile smoke    # tiny data and epochs: minutes, for CI
    python -m tools.run 07_lenet 08_vit    # just these chapters (file stems)

    python -m tools.run --force            # execute even the chapters whose inputs did not change
    python -m tools.run --update-reference # accept this full build's numbers as the published ones

Sources are never touched: executed copies go to ``<build>/executed/`` (mirroring the
repository layout, so the book's "open in Colab" links still point at the sources),
and Jupyter Book builds ``<build>/html`` from there with warnings as errors. Before the
HTML, the models the chapters saved are exported to ONNX and checked against PyTorch for
the "Try the models" page (``tools/export.py``).
``<build>/report.json`` is rewritten after every chapter, so the closing scoreboard
chapter can read how the chapters before it fared in the same build.

Chapters run side by side (``--jobs``, default one per core), the longest chain of
chapters first. A chapter that compares itself with an earlier one (LeNet with the MLPs,
the ViT with LeNet) does not wait for it to finish before starting: it waits at the line
that reads its results (``mnist_utils.results.await_chapters``), so the slow trainings
of a chain of chapters overlap instead of queueing (``tools/execute.py`` runs one chapter).

A chapter whose inputs did not change since its last successful execution in this
build folder is not executed again (``tools/cache.py`` says what its key covers): the
report marks it ``cached`` with the seconds it took when it ran. A full build ends by
comparing the published numbers with ``mnist_utils/reference-metrics.json``
(``tools/reference.py``) and fails if one moved outside its tolerance.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import yaml

from mnist_utils.claims import PROFILE_ENV
from mnist_utils.results import (
    BUILD_DIR_ENV,
    CHAPTER_ENV,
    RUNNER_ENV,
    UNFINISHED,
    WAITED,
    WAITING,
    write_json_atomic,
)
from mnist_utils.runtime import THREADS_ENV, available_cores
from tools import cache, export, reference
from tools.execute import execute_one
from tools.html import build_html
from tools.toc import chapter_notebooks

REPO_ROOT = Path(__file__).resolve().parent.parent
PROFILES = ("full", "smoke")


def profile_parameters(root: Path, chapter: str, profile: str) -> dict[str, Any]:
    """The parameters papermill injects into ``chapter``: ``book/profiles/<profile>.yml``'s
    section for it (the full profile is the notebooks' own values)."""
    if profile not in PROFILES:
        raise SystemExit(f"profile must be one of {PROFILES}, got {profile!r}")
    if profile == "full":
        return {}
    path = root / "book" / "profiles" / f"{profile}.yml"
    overrides = yaml.safe_load(path.read_text()) if path.is_file() else {}
    return dict((overrides or {}).get(chapter) or {})


def execute_chapters(
    root: Path,
    build: Path,
    profile: str,
    only: Sequence[str] = (),
    kernel: str = "python3",
    force: bool = False,
    jobs: int = 1,
) -> dict[str, Any]:
    """Run the chosen chapters (reusing unchanged ones), up to ``jobs`` side by side; return
    the report.

    A chapter that reads earlier chapters' results starts once they are final, or, with
    ``jobs`` > 1 and a chapter that must run again anyway, while they still run: it then
    waits for them at the line that reads them (``results.await_chapters``), and while it
    waits its core goes to another chapter. Its cache key is completed when it finishes.
    """
    notebooks = chapter_notebooks(root)
    known = {nb.stem for nb in notebooks}
    unknown = sorted(set(only) - known)
    if unknown:
        raise SystemExit(f"unknown chapter(s) {unknown}; choose from {sorted(known)}")
    chosen = [nb for nb in notebooks if not only or nb.stem in only]

    # The kernels get these: metrics land in <build>/metrics, the package imports, and
    # what results.await_chapters needs to know that this runner is there.
    env = dict(os.environ)
    env[BUILD_DIR_ENV] = str(build.resolve())
    env[RUNNER_ENV] = str(os.getpid())
    env[PROFILE_ENV] = profile  # a claim the run contradicts fails a full build (mnist_utils.claims)
    env["TQDM_DISABLE"] = "1"  # progress bars are for people watching, not for the executed book
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    report_path = build / "report.json"
    kept: dict[str, Any] = {}
    if only and report_path.is_file():
        # Re-running some chapters: keep the others' entries from the same profile's build
        # (a chapter an interrupted build left "running" is not running any more).
        previous = json.loads(report_path.read_text())
        if previous.get("profile") == profile:
            kept = {name: {**e, "status": "interrupted"} if e.get("status") in UNFINISHED else e
                    for name, e in previous.get("chapters", {}).items()}
    # One entry per chapter, in the table of contents' order.
    # "started" and "jobs": the scoreboard says how long the side-by-side build took.
    report: dict[str, Any] = {"profile": profile, "jobs": jobs, "started": time.time(), "chapters": {
        nb.stem: {"notebook": str(nb), "status": "pending"} if nb in chosen else kept[nb.stem]
        for nb in notebooks
        if nb in chosen or nb.stem in kept
    }}
    write_json_atomic(report_path, report)
    for folder in (WAITING, WAITED):
        shutil.rmtree(build / folder, ignore_errors=True)  # left behind by a killed build
    environment = cache.environment()
    package_dir = Path(cache.__file__).resolve().parent.parent / cache.PACKAGE
    stems = [nb.stem for nb in notebooks]
    deps = {nb.stem: cache.chapter_dependencies((root / nb).read_text(), stems[: stems.index(nb.stem)])
            for nb in chosen}
    parameters = {nb.stem: profile_parameters(root, nb.stem, profile) for nb in chosen}
    user_threads = env.get(THREADS_ENV, "").strip()
    split_threads = jobs > 1 and not user_threads  # else every chapter keeps the user's setting
    published = reference.chapter_seconds()
    pending = sorted(chosen, key=lambda nb: -_priority(nb.stem, deps, build, published))
    unfinished = {nb.stem for nb in chosen}
    running: dict[Future, Path] = {}
    threads_of: dict[str, int | None] = {}
    own_at_start: dict[str, str] = {}  # each executed chapter's own key, as its inputs were when it started

    def stamp_path(nb: Path) -> Path:
        return build / "cache" / f"{nb.stem}.json"

    def stamp_of(nb: Path) -> dict[str, Any]:
        stamp = stamp_path(nb)
        return json.loads(stamp.read_text()) if stamp.is_file() else {}

    def own_key(nb: Path) -> str:
        return cache.own_key(root / nb, parameters[nb.stem], package_dir, environment)

    def upstream(nb: Path) -> dict[str, str]:
        return {dep: cache.results_digest(build, dep) for dep in deps[nb.stem]}

    @functools.cache
    def changed(nb: Path) -> bool:
        """Must run again whatever the results it reads (checked once, before it starts)."""
        return force or not (build / "executed" / nb).is_file() or stamp_of(nb).get("own") != own_key(nb)

    def ready(nb: Path) -> bool:
        if not any(dep in unfinished for dep in deps[nb.stem]):
            return True
        return jobs > 1 and changed(nb)  # early start: it waits where it reads the results

    def busy() -> int:
        """Running chapters that are not waiting for another chapter's results."""
        folder = build / WAITING
        waiting = {p.name for p in folder.glob("*")} if folder.is_dir() else set()
        return sum(nb.stem not in waiting for nb in running.values())

    def start(nb: Path, pool: ThreadPoolExecutor) -> None:
        target = build / "executed" / nb
        report["chapters"][nb.stem]["status"] = "running"
        # Its results from an earlier run go: a chapter that reads them must get this run's,
        # or none if it fails, never stale ones (and "Try the models" no stale model).
        (build / "metrics" / f"{nb.stem}.json").unlink(missing_ok=True)
        (build / "claims" / f"{nb.stem}.json").unlink(missing_ok=True)
        for folder in ("predictions", "models"):
            shutil.rmtree(build / folder / nb.stem, ignore_errors=True)
        own_at_start[nb.stem] = own_key(nb)
        chapter_env = {**env, CHAPTER_ENV: nb.stem}
        if split_threads:
            # Chapters running side by side share the cores (oversubscribed threads slow small
            # tensor operations badly); one that runs alone gets them all.
            together = min(jobs, busy() + 1 + sum(map(ready, pending)))
            threads = str(max(1, available_cores() // together))
            chapter_env.update({THREADS_ENV: threads, "OMP_NUM_THREADS": threads})
        given = chapter_env.get(THREADS_ENV, "").strip()
        threads_of[nb.stem] = int(given) if given.isdigit() else None
        awaited = [dep for dep in deps[nb.stem] if dep in unfinished]
        early = f"; awaits {', '.join(awaited)} where it reads them" if awaited else ""
        print(f"[run] {nb} ({profile}, {given or 'default'} threads{early})", flush=True)
        future = pool.submit(execute_one, root, nb, target, parameters[nb.stem], chapter_env, kernel)
        running[future] = nb

    def start_ready(pool: ThreadPoolExecutor) -> None:
        """Start (or reuse from the cache) chapters that may start, while cores are free."""
        while busy() < jobs:
            nb = next((p for p in pending if ready(p)), None)  # re-scanned: a cached chapter frees others
            if nb is None:
                return
            pending.remove(nb)
            target = build / "executed" / nb
            target.parent.mkdir(parents=True, exist_ok=True)
            final = not any(dep in unfinished for dep in deps[nb.stem])
            previous = stamp_of(nb)
            if final and not force and target.is_file() and \
                    previous.get("key") == cache.with_upstream(own_key(nb), upstream(nb)):
                report["chapters"][nb.stem] = {"notebook": str(nb), "status": "cached",
                                               "seconds": previous["seconds"],
                                               "threads": previous.get("threads")}
                unfinished.discard(nb.stem)
                print(f"[run] {nb.stem}: cached (inputs unchanged; took {previous['seconds']:.1f} s)",
                      flush=True)
            else:
                start(nb, pool)
            write_json_atomic(report_path, report)

    def finish(future: Future) -> None:
        nb = running.pop(future)
        entry = future.result()
        waited_file = build / WAITED / nb.stem
        waited = float(waited_file.read_text()) if waited_file.is_file() else 0.0
        # the thread count can change a result's last bits; the seconds waited are not work
        entry.update(threads=threads_of.get(nb.stem), waited=round(waited, 2), finished=time.time())
        report["chapters"][nb.stem] = entry
        unfinished.discard(nb.stem)
        stamp = stamp_path(nb)
        if entry["status"] == "ok":
            # Keyed on its inputs as they were when it started, and on the upstream results
            # it read (final by now: it awaited them).
            own = own_at_start[nb.stem]
            write_json_atomic(stamp, {"key": cache.with_upstream(own, upstream(nb)), "own": own,
                                      "seconds": entry["seconds"], "waited": entry["waited"],
                                      "threads": entry["threads"]})
        else:
            stamp.unlink(missing_ok=True)  # a failed chapter is never reused
        print(f"[run] {nb.stem}: {entry['status']} in {entry['seconds']:.1f} s"
              + (f" ({waited:.1f} s of it waiting)" if waited else ""), flush=True)
        write_json_atomic(report_path, report)

    with ThreadPoolExecutor(max_workers=len(chosen) or 1) as pool:
        try:
            start_ready(pool)
            while running:
                # A short timeout: a chapter that starts waiting frees its core without finishing.
                finished, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in finished:
                    finish(future)
                start_ready(pool)
        finally:
            # Whatever stopped the loop: no chapter may wait for one that will never finish.
            for name in unfinished:
                report["chapters"][name]["status"] = "aborted"
            if unfinished:
                write_json_atomic(report_path, report)
    return report


def _priority(stem: str, deps: dict[str, list[str]], build: Path,
              published: Mapping[str, float] | None = None) -> float:
    """Seconds of the longest chain of chapters that waits on ``stem``, waiting excluded (from
    the last run in this build folder, else the published full build's ``published``): the
    chapters on the critical path start first."""
    published = published or {}

    def seconds(name: str) -> float:
        stamp = build / "cache" / f"{name}.json"
        if stamp.is_file():
            entry = json.loads(stamp.read_text())
            return entry.get("seconds", 1.0) - entry.get("waited", 0.0)
        return published.get(name, 1.0)

    after = [other for other, ds in deps.items() if stem in ds]
    return seconds(stem) + max((_priority(o, deps, build, published) for o in after), default=0.0)


def default_jobs() -> int:
    """Chapters side by side: one per core, up to four (the cores are split between them).

    Measured on a 2-core CPU (closing note of the speed issue): chapters 01-05 took 94 s
    as two single-threaded jobs against 164 s one after the other with two threads each;
    most of a chapter's time is Python and small tensors that a second thread barely helps.
    """
    return max(1, min(4, available_cores()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", help="chapter file stems (default: all)")
    parser.add_argument("--profile", choices=PROFILES, default="full")
    parser.add_argument("--build-dir", type=Path, default=REPO_ROOT / "_build")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--no-html", action="store_true", help="execute only")
    parser.add_argument("--html-only", action="store_true", help="build HTML, execute nothing")
    parser.add_argument("--force", action="store_true", help="execute every chosen chapter, cached or not")
    parser.add_argument("--jobs", type=int, default=None,
                        help="chapters executed side by side (default: from the core count)")
    parser.add_argument("--update-reference", action="store_true",
                        help="full profile: accept this build's numbers as the published reference")
    args = parser.parse_args(argv)
    if args.update_reference and args.profile != "full":
        parser.error("--update-reference needs the full profile")

    failed: list[str] = []
    report: dict[str, Any] = {"chapters": {}}
    if not args.html_only:
        jobs = default_jobs() if args.jobs is None else args.jobs
        if jobs < 1:
            parser.error(f"--jobs must be at least 1, got {jobs}")
        report = execute_chapters(args.root, args.build_dir, args.profile, args.chapters, force=args.force,
                                  jobs=jobs)
        failed = [name for name, e in report["chapters"].items()  # of the chapters this run chose
                  if (not args.chapters or name in args.chapters) and e["status"] not in ("ok", "cached")]
    if not args.no_html:
        export.export_step(args.build_dir)
        build_html(args.root, args.build_dir)
    print("\n" + reference.summary_table(report, args.build_dir), flush=True)
    if failed:
        print(f"[run] FAILED chapter(s): {', '.join(failed)} (see report.json)", file=sys.stderr)
        return 1
    if args.profile == "full" and not args.html_only and args.root == REPO_ROOT:
        if not reference.check(args.build_dir, update=args.update_reference):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
