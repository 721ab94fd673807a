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
The build's report (``mnist_utils/build_folder.py`` owns the folder's layout) is rewritten
after every chapter, so the closing scoreboard chapter can read how the chapters before it
fared in the same build; it also carries the machine's float32 matmul rate at the start and
the end of the build (``mnist_utils/yardstick.py``), printed in the summary with the wall
time normalised to it, so that builds on other or busier machines can be compared.

Chapters run side by side (``--jobs``, default one per core), the longest chain of
chapters first. A chapter that compares itself with an earlier one (LeNet with the MLPs,
the ViT with LeNet) does not wait for it to finish before starting: it waits at the line
that reads its results (``mnist_utils.build_folder.await_chapters``), so the slow trainings
of a chain of chapters overlap instead of queueing (``tools/execute.py`` runs one chapter).

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
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import yaml

from mnist_utils.build_folder import BUILD_DIR_ENV, RUNNER_ENV, UNFINISHED, BuildFolder
from mnist_utils.claims import PROFILE_ENV
from mnist_utils.runtime import available_cores
from mnist_utils.yardstick import measure
from tools import cache, export, reference
from tools.html import build_html
from tools.schedule import Plan, Scheduler
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


def _choose(notebooks: Sequence[Path], only: Sequence[str]) -> list[Path]:
    known = {nb.stem for nb in notebooks}
    unknown = sorted(set(only) - known)
    if unknown:
        raise SystemExit(f"unknown chapter(s) {unknown}; choose from {sorted(known)}")
    return [nb for nb in notebooks if not only or nb.stem in only]


def _new_report(folder: BuildFolder, profile: str, jobs: int, notebooks: Sequence[Path],
                chosen: Sequence[Path], partial: bool) -> dict[str, Any]:
    """The report before any chapter starts: one entry per chapter, in the table of contents' order."""
    kept: dict[str, Any] = {}
    previous = folder.read_report() if partial else {}
    if previous.get("profile") == profile:
        # Re-running some chapters: keep the others' entries from the same profile's build
        # (a chapter an interrupted build left "running" is not running any more).
        kept = {name: {**e, "status": "interrupted"} if e.get("status") in UNFINISHED else e
                for name, e in previous.get("chapters", {}).items()}
    # "started" and "jobs": the scoreboard says how long the side-by-side build took;
    # "yardstick": the machine's speed, by which builds on other machines compare.
    yardstick = {"start": measure()}
    return {"profile": profile, "jobs": jobs, "started": time.time(), "yardstick": yardstick, "chapters": {
        nb.stem: {"notebook": str(nb), "status": "pending"} if nb in chosen else kept[nb.stem]
        for nb in notebooks
        if nb in chosen or nb.stem in kept
    }}


def _plan(root: Path, folder: BuildFolder, profile: str, kernel: str, force: bool, jobs: int,
          notebooks: Sequence[Path], chosen: Sequence[Path]) -> Plan:
    # The kernels get these: metrics land in the build folder, the package imports, and
    # what build_folder.await_chapters needs to know that this runner is there.
    env = dict(os.environ)
    env[BUILD_DIR_ENV] = str(folder.root.resolve())
    env[RUNNER_ENV] = str(os.getpid())
    env[PROFILE_ENV] = profile  # a claim the run contradicts fails a full build (mnist_utils.claims)
    env["TQDM_DISABLE"] = "1"  # progress bars are for people watching, not for the executed book
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    stems = [nb.stem for nb in notebooks]
    deps = {nb.stem: cache.chapter_dependencies((root / nb).read_text(), stems[: stems.index(nb.stem)])
            for nb in chosen}
    return Plan(root=root, folder=folder, profile=profile, kernel=kernel, force=force, jobs=jobs, env=env,
                deps=deps, parameters={nb.stem: profile_parameters(root, nb.stem, profile) for nb in chosen},
                package_dir=Path(cache.__file__).resolve().parent.parent / cache.PACKAGE,
                environment=cache.environment())


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
    waits for them at the line that reads them (``build_folder.await_chapters``), and while it
    waits its core goes to another chapter (``tools/schedule.py``). Its cache key is completed
    when it finishes. The machine's matmul rate is measured before and after (the yardstick).
    """
    notebooks = chapter_notebooks(root)
    chosen = _choose(notebooks, only)
    folder = BuildFolder(build)
    report = _new_report(folder, profile, jobs, notebooks, chosen, partial=bool(only))
    folder.write_report(report)
    folder.clear_markers()  # left behind by a killed build
    plan = _plan(root, folder, profile, kernel, force, jobs, notebooks, chosen)
    published = reference.chapter_seconds()
    pending = sorted(chosen, key=lambda nb: -_priority(nb.stem, plan.deps, build, published))
    scheduler = Scheduler(plan, report, pending)
    with ThreadPoolExecutor(max_workers=len(chosen) or 1) as pool:
        try:
            scheduler.start_ready(pool)
            while scheduler.running:
                # A short timeout: a chapter that starts waiting frees its core without finishing.
                finished, _ = wait(scheduler.running, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in finished:
                    scheduler.finish(future)
                scheduler.start_ready(pool)
        finally:
            scheduler.abort()
    report["finished"] = time.time()
    report["yardstick"]["end"] = measure()
    folder.write_report(report)
    return report


def _priority(stem: str, deps: dict[str, list[str]], build: Path,
              published: Mapping[str, float] | None = None) -> float:
    """Seconds of the longest chain of chapters that waits on ``stem``, waiting excluded (from
    the last run in this build folder, else the published full build's ``published``): the
    chapters on the critical path start first."""
    published = published or {}

    def seconds(name: str) -> float:
        stamp = BuildFolder(build).stamp(name)
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
    parser.add_argument("--build-dir", type=Path, default=BuildFolder.of_repository(REPO_ROOT).root)
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
