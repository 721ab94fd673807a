"""The runner's scheduler: which chapter starts when, on how many threads, and what the report says.

Why an object: the rules are few (a chapter starts when the chapters it reads are final, or
early where it must run anyway and waits at the line that reads them; a chapter whose
inputs did not change is reused; a waiting chapter's core goes to another), but they share
state, and the state has names here:

* ``pending``: chosen chapters not started yet, the longest chain of chapters first;
* ``running``: executing now (future -> notebook); those that wait for another chapter's
  results say so in the build folder (``BuildFolder.waiting_now``) and leave their core free;
* ``finished``: executed (ok or failed) or reused from the cache: their results are final.

``unfinished`` (pending or running) are the chapters whose results other chapters must wait for.

Each method does one thing: ``ready`` (may it start?), ``start``, ``reuse`` (from the cache),
``finish``, ``abort`` (a broken loop: nobody waits forever) and ``save`` (the report). The
loop that drives them is ``tools.run.execute_chapters``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnist_utils.build_folder import CHAPTER_ENV, BuildFolder, write_json_atomic
from mnist_utils.runtime import THREADS_ENV, available_cores
from tools import cache
from tools.execute import execute_one


@dataclass(frozen=True)
class Plan:
    """What a build executes, and how: fixed before the first chapter starts."""

    root: Path
    folder: BuildFolder
    profile: str
    kernel: str
    force: bool
    jobs: int
    env: Mapping[str, str]  # the kernels' environment
    deps: Mapping[str, list[str]]  # chapter -> the earlier chapters whose results it reads
    parameters: Mapping[str, dict[str, Any]]  # chapter -> the profile's parameters for it
    package_dir: Path
    environment: Mapping[str, str] = field(default_factory=dict)  # cache.environment()

    @property
    def split_threads(self) -> bool:
        """Chapters side by side share the cores, unless the user set a thread count."""
        return self.jobs > 1 and not self.env.get(THREADS_ENV, "").strip()


class Scheduler:
    """The state of one build's chapters and the moves between its states (see the module)."""

    def __init__(self, plan: Plan, report: dict[str, Any], pending: list[Path]) -> None:
        self.plan, self.report = plan, report
        self.pending = list(pending)
        self.running: dict[Future, Path] = {}
        self.finished: list[str] = []
        self.unfinished = {nb.stem for nb in pending}  # left only when finished (not when started)
        self._threads: dict[str, int | None] = {}
        self._own_at_start: dict[str, str] = {}  # own key of an executed chapter's inputs at its start
        self._changed: dict[str, bool] = {}

    def save(self) -> None:
        self.plan.folder.write_report(self.report)

    # Keys and stamps (tools/cache.py says what a key covers).

    def _stamp(self, nb: Path) -> dict[str, Any]:
        path = self.plan.folder.stamp(nb.stem)
        return json.loads(path.read_text()) if path.is_file() else {}

    def _own_key(self, nb: Path) -> str:
        plan = self.plan
        return cache.own_key(plan.root / nb, plan.parameters[nb.stem], plan.package_dir, plan.environment)

    def _upstream(self, nb: Path) -> dict[str, str]:
        return {dep: cache.results_digest(self.plan.folder.root, dep) for dep in self.plan.deps[nb.stem]}

    def _must_run(self, nb: Path) -> bool:
        """Must run again whatever the results it reads (checked once, before it starts)."""
        if nb.stem not in self._changed:
            self._changed[nb.stem] = (self.plan.force or not self.plan.folder.executed(nb).is_file()
                                      or self._stamp(nb).get("own") != self._own_key(nb))
        return self._changed[nb.stem]

    # The moves.

    def _reads_unfinished(self, nb: Path) -> list[str]:
        return [dep for dep in self.plan.deps[nb.stem] if dep in self.unfinished]

    def ready(self, nb: Path) -> bool:
        if not self._reads_unfinished(nb):
            return True
        return self.plan.jobs > 1 and self._must_run(nb)  # early start: it waits where it reads the results

    def busy(self) -> int:
        """Running chapters that are not waiting for another chapter's results."""
        waiting = self.plan.folder.waiting_now()
        return sum(nb.stem not in waiting for nb in self.running.values())

    def start_ready(self, pool: Executor) -> None:
        """Start (or reuse from the cache) chapters that may start, while cores are free."""
        while self.busy() < self.plan.jobs:
            # re-scanned every time: a reused chapter frees others
            nb = next((p for p in self.pending if self.ready(p)), None)
            if nb is None:
                return
            self.pending.remove(nb)
            self.plan.folder.executed(nb).parent.mkdir(parents=True, exist_ok=True)
            if not self.reuse(nb):
                self.start(nb, pool)
            self.save()

    def reuse(self, nb: Path) -> bool:
        """Mark ``nb`` cached if its inputs and the final results it reads are unchanged."""
        previous = self._stamp(nb)
        if self._reads_unfinished(nb) or self.plan.force or not self.plan.folder.executed(nb).is_file() or \
                previous.get("key") != cache.with_upstream(self._own_key(nb), self._upstream(nb)):
            return False
        self.report["chapters"][nb.stem] = {"notebook": str(nb), "status": "cached",
                                            "seconds": previous["seconds"],
                                            "threads": previous.get("threads")}
        self._finished(nb)
        print(f"[run] {nb.stem}: cached (inputs unchanged; took {previous['seconds']:.1f} s)", flush=True)
        return True

    def _chapter_env(self, nb: Path) -> dict[str, str]:
        env = {**self.plan.env, CHAPTER_ENV: nb.stem}
        if self.plan.split_threads:
            # Chapters running side by side share the cores (oversubscribed threads slow small
            # tensor operations badly); one that runs alone gets them all.
            together = min(self.plan.jobs, self.busy() + 1 + sum(map(self.ready, self.pending)))
            threads = str(max(1, available_cores() // together))
            env.update({THREADS_ENV: threads, "OMP_NUM_THREADS": threads})
        return env

    def start(self, nb: Path, pool: Executor) -> None:
        plan = self.plan
        self.report["chapters"][nb.stem]["status"] = "running"
        # Its results from an earlier run go: a chapter that reads them must get this run's,
        # or none if it fails, never stale ones (and "Try the models" no stale model).
        plan.folder.clear_results(nb.stem)
        self._own_at_start[nb.stem] = self._own_key(nb)
        env = self._chapter_env(nb)
        given = env.get(THREADS_ENV, "").strip()
        self._threads[nb.stem] = int(given) if given.isdigit() else None
        awaited = self._reads_unfinished(nb)
        early = f"; awaits {', '.join(awaited)} where it reads them" if awaited else ""
        print(f"[run] {nb} ({plan.profile}, {given or 'default'} threads{early})", flush=True)
        future = pool.submit(execute_one, plan.root, nb, plan.folder.executed(nb), plan.parameters[nb.stem],
                             env, plan.kernel)
        self.running[future] = nb

    def finish(self, future: Future) -> None:
        nb = self.running.pop(future)
        entry = future.result()
        waited = self.plan.folder.seconds_waited(nb.stem)
        # the thread count can change a result's last bits; the seconds waited are not work
        entry.update(threads=self._threads.get(nb.stem), waited=round(waited, 2), finished=time.time())
        self.report["chapters"][nb.stem] = entry
        self._finished(nb)
        self._write_stamp(nb, entry)
        print(f"[run] {nb.stem}: {entry['status']} in {entry['seconds']:.1f} s"
              + (f" ({waited:.1f} s of it waiting)" if waited else ""), flush=True)
        self.save()

    def _finished(self, nb: Path) -> None:
        self.unfinished.discard(nb.stem)
        self.finished.append(nb.stem)

    def _write_stamp(self, nb: Path, entry: Mapping[str, Any]) -> None:
        stamp = self.plan.folder.stamp(nb.stem)
        if entry["status"] != "ok":
            stamp.unlink(missing_ok=True)  # a failed chapter is never reused
            return
        # Keyed on its inputs as they were when it started, and on the upstream results it
        # read (final by now: it awaited them).
        own = self._own_at_start[nb.stem]
        write_json_atomic(stamp, {"key": cache.with_upstream(own, self._upstream(nb)), "own": own,
                                  "seconds": entry["seconds"], "waited": entry["waited"],
                                  "threads": entry["threads"]})

    def abort(self) -> None:
        """Whatever stopped the loop: no chapter may wait for one that will never finish."""
        for name in self.unfinished:
            self.report["chapters"][name]["status"] = "aborted"
        if self.unfinished:
            self.save()
