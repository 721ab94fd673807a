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

A chapter whose inputs did not change since its last successful execution in this
build folder is not executed again (``tools/cache.py`` says what its key covers): the
report marks it ``cached`` with the seconds it took when it ran. A full build ends by
comparing the published numbers with ``mnist_utils/reference-metrics.json``
(``tools/reference.py``) and fails if one moved outside its tolerance.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import yaml

from mnist_utils.results import BUILD_DIR_ENV, write_json_atomic
from mnist_utils.runtime import THREADS_ENV, available_cores
from tools import cache, export, reference
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
        hide_injected_parameters(target)
    return entry


def hide_injected_parameters(notebook: Path) -> None:
    """Tag papermill's injected-parameters cell ``remove-cell`` so the book hides it."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    nbformat.write(nb, notebook)


def execute_chapters(
    root: Path,
    build: Path,
    profile: str,
    only: Sequence[str] = (),
    kernel: str = "python3",
    force: bool = False,
    jobs: int = 1,
) -> dict[str, Any]:
    """Run the chosen chapters (reusing unchanged ones), up to ``jobs`` side by side, each
    once the earlier chapters whose results it reads are done; return the report."""
    notebooks = chapter_notebooks(root)
    known = {nb.stem for nb in notebooks}
    unknown = sorted(set(only) - known)
    if unknown:
        raise SystemExit(f"unknown chapter(s) {unknown}; choose from {sorted(known)}")
    chosen = [nb for nb in notebooks if not only or nb.stem in only]

    # The kernels get these: metrics land in <build>/metrics, the package imports.
    env = dict(os.environ)
    env[BUILD_DIR_ENV] = str(build.resolve())
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    report_path = build / "report.json"
    kept: dict[str, Any] = {}
    if only and report_path.is_file():
        # Re-running some chapters: keep the others' entries from the same profile's build.
        previous = json.loads(report_path.read_text())
        if previous.get("profile") == profile:
            kept = previous.get("chapters", {})
    # One entry per chapter, in the table of contents' order.
    report: dict[str, Any] = {"profile": profile, "chapters": {
        nb.stem: {"notebook": str(nb), "status": "pending"} if nb in chosen else kept[nb.stem]
        for nb in notebooks
        if nb in chosen or nb.stem in kept
    }}
    environment = cache.environment()
    package_dir = Path(cache.__file__).resolve().parent.parent / cache.PACKAGE
    stems = [nb.stem for nb in notebooks]
    deps = {nb.stem: cache.chapter_dependencies((root / nb).read_text(), stems[: stems.index(nb.stem)])
            for nb in chosen}
    split_threads = jobs > 1 and THREADS_ENV not in env  # else every chapter keeps the user's setting
    pending = sorted(chosen, key=lambda nb: -_priority(nb.stem, deps, build))
    unfinished = {nb.stem for nb in chosen}
    running: dict[Future, tuple[Path, str, Path]] = {}

    def ready(nb: Path) -> bool:
        return not any(dep in unfinished for dep in deps[nb.stem])

    def start_ready(pool: ThreadPoolExecutor) -> None:
        """Start (or reuse from the cache) every chapter whose inputs are final, while slots are free."""
        while len(running) < jobs:
            nb = next((p for p in pending if ready(p)), None)  # re-scanned: a cached chapter frees others
            if nb is None:
                return
            pending.remove(nb)
            target = build / "executed" / nb
            target.parent.mkdir(parents=True, exist_ok=True)
            parameters = profile_parameters(root, nb.stem, profile)
            upstream = {dep: cache.results_digest(build, dep) for dep in deps[nb.stem]}
            key = cache.chapter_key(root / nb, parameters, package_dir, environment, upstream)
            stamp = build / "cache" / f"{nb.stem}.json"
            previous = json.loads(stamp.read_text()) if stamp.is_file() else {}
            if not force and previous.get("key") == key and target.is_file():
                report["chapters"][nb.stem] = {"notebook": str(nb), "status": "cached",
                                               "seconds": previous["seconds"]}
                unfinished.discard(nb.stem)
                print(f"[run] {nb.stem}: cached (inputs unchanged; took {previous['seconds']:.1f} s)",
                      flush=True)
            else:
                report["chapters"][nb.stem]["status"] = "running"
                chapter_env = env
                if split_threads:
                    # Chapters running side by side share the cores (oversubscribed threads
                    # slow small tensor operations badly); one that runs alone gets them all.
                    together = min(jobs, len(running) + 1 + sum(map(ready, pending)))
                    threads = str(max(1, available_cores() // together))
                    chapter_env = {**env, THREADS_ENV: threads, "OMP_NUM_THREADS": threads}
                print(f"[run] {nb} ({profile}, {chapter_env.get(THREADS_ENV, 'default')} threads)",
                      flush=True)
                future = pool.submit(execute_one, root, nb, target, parameters, chapter_env, kernel)
                running[future] = (nb, key, stamp)
            write_json_atomic(report_path, report)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        start_ready(pool)
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                nb, key, stamp = running.pop(future)
                entry = future.result()
                report["chapters"][nb.stem] = entry
                unfinished.discard(nb.stem)
                if entry["status"] == "ok":
                    write_json_atomic(stamp, {"key": key, "seconds": entry["seconds"]})
                else:
                    stamp.unlink(missing_ok=True)  # a failed chapter is never reused
                print(f"[run] {nb.stem}: {entry['status']} in {entry['seconds']:.1f} s", flush=True)
                write_json_atomic(report_path, report)
            start_ready(pool)
    return report


def _priority(stem: str, deps: dict[str, list[str]], build: Path) -> float:
    """Seconds of the longest chain of chapters that waits on ``stem`` (from the last run's
    seconds): the chapters on the critical path start first."""
    def seconds(name: str) -> float:
        stamp = build / "cache" / f"{name}.json"
        return json.loads(stamp.read_text()).get("seconds", 1.0) if stamp.is_file() else 1.0

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
