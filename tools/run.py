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
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import yaml

from mnist_utils.results import BUILD_DIR_ENV, CHAPTER_ENV, RUNNER_ENV, write_json_atomic
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
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    report_path = build / "report.json"
    kept: dict[str, Any] = {}
    if only and report_path.is_file():
        # Re-running some chapters: keep the others' entries from the same profile's build.
        previous = json.loads(report_path.read_text())
        if previous.get("profile") == profile:
            kept = previous.get("chapters", {})
    # One entry per chapter, in the table of contents' order.
    # "started" and "jobs": the scoreboard says how long the side-by-side build took.
    report: dict[str, Any] = {"profile": profile, "jobs": jobs, "started": time.time(), "chapters": {
        nb.stem: {"notebook": str(nb), "status": "pending"} if nb in chosen else kept[nb.stem]
        for nb in notebooks
        if nb in chosen or nb.stem in kept
    }}
    write_json_atomic(report_path, report)
    waiting_dir = build / "waiting"
    shutil.rmtree(waiting_dir, ignore_errors=True)  # markers a killed build left behind
    environment = cache.environment()
    package_dir = Path(cache.__file__).resolve().parent.parent / cache.PACKAGE
    stems = [nb.stem for nb in notebooks]
    deps = {nb.stem: cache.chapter_dependencies((root / nb).read_text(), stems[: stems.index(nb.stem)])
            for nb in chosen}
    parameters = {nb.stem: profile_parameters(root, nb.stem, profile) for nb in chosen}
    split_threads = jobs > 1 and THREADS_ENV not in env  # else every chapter keeps the user's setting
    pending = sorted(chosen, key=lambda nb: -_priority(nb.stem, deps, build))
    unfinished = {nb.stem for nb in chosen}
    running: dict[Future, Path] = {}
    threads_of: dict[str, str] = {}

    def stamp_of(nb: Path) -> dict[str, Any]:
        stamp = build / "cache" / f"{nb.stem}.json"
        return json.loads(stamp.read_text()) if stamp.is_file() else {}

    @functools.cache
    def own_key(nb: Path) -> str:  # the key without the upstream results: fixed during a build
        return cache.chapter_key(root / nb, parameters[nb.stem], package_dir, environment, {})

    def key_of(nb: Path) -> str:
        upstream = {dep: cache.results_digest(build, dep) for dep in deps[nb.stem]}
        return cache.chapter_key(root / nb, parameters[nb.stem], package_dir, environment, upstream)

    def ready(nb: Path) -> bool:
        if not any(dep in unfinished for dep in deps[nb.stem]):
            return True
        # Early start: only for a chapter that runs again whatever its upstream chapters give.
        return jobs > 1 and (force or not (build / "executed" / nb).is_file()
                             or stamp_of(nb).get("own") != own_key(nb))

    def busy() -> int:
        """Running chapters that are not waiting for another chapter's results."""
        waiting = {p.name for p in waiting_dir.glob("*")} if waiting_dir.is_dir() else set()
        return sum(nb.stem not in waiting for nb in running.values())

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
            if final and not force and target.is_file() and previous.get("key") == key_of(nb):
                report["chapters"][nb.stem] = {"notebook": str(nb), "status": "cached",
                                               "seconds": previous["seconds"]}
                unfinished.discard(nb.stem)
                print(f"[run] {nb.stem}: cached (inputs unchanged; took {previous['seconds']:.1f} s)",
                      flush=True)
            else:
                report["chapters"][nb.stem]["status"] = "running"
                # Its results from an earlier run go: a chapter that reads them must get this
                # run's, or none if it fails, never stale ones.
                (build / "metrics" / f"{nb.stem}.json").unlink(missing_ok=True)
                shutil.rmtree(build / "predictions" / nb.stem, ignore_errors=True)
                chapter_env = {**env, CHAPTER_ENV: nb.stem}
                if split_threads:
                    # Chapters running side by side share the cores (oversubscribed threads
                    # slow small tensor operations badly); one that runs alone gets them all.
                    together = min(jobs, busy() + 1 + sum(map(ready, pending)))
                    threads = str(max(1, available_cores() // together))
                    chapter_env.update({THREADS_ENV: threads, "OMP_NUM_THREADS": threads})
                early = "" if final else f"; awaits {', '.join(deps[nb.stem])} where it reads them"
                if THREADS_ENV in chapter_env:
                    threads_of[nb.stem] = chapter_env[THREADS_ENV]
                print(f"[run] {nb} ({profile}, {chapter_env.get(THREADS_ENV, 'default')} threads{early})",
                      flush=True)
                future = pool.submit(execute_one, root, nb, target, parameters[nb.stem], chapter_env, kernel)
                running[future] = nb
            write_json_atomic(report_path, report)

    with ThreadPoolExecutor(max_workers=len(chosen) or 1) as pool:
        start_ready(pool)
        while running:
            # A short timeout: a chapter that starts waiting frees its core without finishing.
            finished, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                nb = running.pop(future)
                entry = future.result()
                # results can differ in the last bits with the thread count: say what it was
                entry["threads"] = int(threads_of[nb.stem]) if nb.stem in threads_of else None
                entry["finished"] = time.time()
                report["chapters"][nb.stem] = entry
                unfinished.discard(nb.stem)
                stamp = build / "cache" / f"{nb.stem}.json"
                if entry["status"] == "ok":
                    # Keyed on the upstream results it read: final by now, as it awaited them.
                    write_json_atomic(stamp, {"key": key_of(nb), "own": own_key(nb),
                                              "seconds": entry["seconds"]})
                else:
                    stamp.unlink(missing_ok=True)  # a failed chapter is never reused
                print(f"[run] {nb.stem}: {entry['status']} in {entry['seconds']:.1f} s", flush=True)
                write_json_atomic(report_path, report)
            start_ready(pool)
    return report


def _priority(stem: str, deps: dict[str, list[str]], build: Path) -> float:
    """Seconds of the longest chain of chapters that waits on ``stem`` (from the last run's
    seconds in this build folder, else the published full build's): the chapters on the
    critical path start first."""
    published = reference.chapter_seconds()

    def seconds(name: str) -> float:
        stamp = build / "cache" / f"{name}.json"
        if stamp.is_file():
            return json.loads(stamp.read_text()).get("seconds", 1.0)
        return published.get(name, 1.0)

    after = [other for other, ds in deps.items() if stem in ds]
    return seconds(stem) + max((_priority(o, deps, build) for o in after), default=0.0)


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
        failed = [name for name, e in report["chapters"].items() if e["status"] not in ("ok", "cached")]
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
