"""Guard the published numbers: a full build is compared with the reference file.

``mnist_utils/reference-metrics.json`` (kept in the repository, and shipped with the
package so that the scoreboard opened alone can show the published numbers) holds
every declared metric of the last accepted full build. A full build whose headline
metric moves outside its tolerance, or disappears, fails with a table; the tolerance is
read from ``metrics.yml`` only (``results.tolerance``: accuracies only, seconds have none),
so an edit of it takes effect at once (the copy in the reference file records the one in
force when the numbers were accepted, and decides nothing). Running the
build with ``--update-reference`` accepts the new numbers and rewrites the file. The file
also keeps what each chapter took in that build (``chapter_seconds``), by which the runner
orders the chapters in a build folder that has no timings of its own yet (a fresh clone).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mnist_utils.build_folder import read_report, write_json_atomic
from mnist_utils.results import declared_metrics, load_all_metrics, tolerance
from mnist_utils.yardstick import summary_line

REFERENCE = Path(__file__).resolve().parent.parent / "mnist_utils" / "reference-metrics.json"
Metrics = Mapping[str, Mapping[str, float]]


def reference_from(metrics: Metrics, seconds: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The reference file's content for the metrics of a full build (and its chapters' seconds)."""
    declared = declared_metrics()
    chapters = {}
    for chapter, values in sorted(metrics.items()):
        specs = declared.get(chapter) or {}
        chapters[chapter] = {key: {"value": value, "tolerance": tolerance(chapter, key)}
                             for key, value in sorted(values.items()) if key in specs}
    return {"profile": "full",
            "about": "Headline numbers of the last accepted full build; the build is checked against the "
                     "tolerances in metrics.yml (copied here as they were when accepted). "
                     "Rewrite with `python -m tools.run --update-reference` after a deliberate change.",
            "chapters": chapters,
            # what each chapter took in that build: the runner's order of execution in a build
            # folder that has no timings of its own yet (a fresh clone)
            "chapter_seconds": dict(sorted((seconds or {}).items()))}


def chapter_seconds(path: Path = REFERENCE) -> dict[str, float]:
    """Each chapter's seconds in the last accepted full build, waiting for other chapters
    excluded ({} without a reference)."""
    return json.loads(path.read_text()).get("chapter_seconds", {}) if path.is_file() else {}


def drifts(reference: Mapping[str, Any], metrics: Metrics) -> list[dict[str, Any]]:
    """Rows for every guarded metric of a chapter in ``metrics`` that left its tolerance
    (``metrics.yml``'s, not the reference file's copy)."""
    rows = []
    for chapter, entries in reference.get("chapters", {}).items():
        if chapter not in metrics:
            continue  # not executed in this build
        for key, entry in entries.items():
            allowed = tolerance(chapter, key)
            if allowed is None:
                continue
            now = metrics[chapter].get(key)
            if now is None or not math.isfinite(now) or abs(now - entry["value"]) > allowed:
                rows.append({"chapter": chapter, "metric": key, "reference": entry["value"],
                             "now": now, "tolerance": allowed})
    return rows


def drift_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'chapter':22} {'metric':26} {'reference':>10} {'now':>10} {'tolerance':>10}"]
    for r in rows:
        now = "missing" if r["now"] is None else f"{r['now']:.4f}"
        lines.append(f"{r['chapter']:22} {r['metric']:26} {r['reference']:>10.4f} {now:>10} "
                     f"{r['tolerance']:>10.4f}")
    return "\n".join(lines)


def check(build: Path, *, update: bool, path: Path = REFERENCE) -> bool:
    """Compare a full build's metrics with the reference (or rewrite it); True if it passes."""
    metrics = load_all_metrics(build)
    if update:
        report = read_report(build)
        seconds = {name: round(entry["seconds"] - entry.get("waited", 0.0), 2)
                   for name, entry in report.get("chapters", {}).items() if entry.get("seconds") is not None}
        write_json_atomic(path, reference_from(metrics, seconds))
        print(f"[run] reference rewritten: {path}", flush=True)
        return True
    if not path.is_file():
        print(f"[run] no reference file at {path}: nothing to compare "
              "(run a full build with --update-reference to create it)", flush=True)
        return True
    rows = drifts(json.loads(path.read_text()), metrics)
    if rows:
        print("[run] published numbers moved outside their tolerance (accept them with "
              "--update-reference if the change is deliberate):\n" + drift_table(rows), flush=True)
        return False
    return True


def summary_table(report: Mapping[str, Any], build: Path, path: Path = REFERENCE) -> str:
    """Per chapter: executed or cached, seconds, and its headline metrics against the reference
    (a full build's only: the smoke profile's tiny runs are not comparable); then the build's
    yardstick (``mnist_utils.yardstick``) and its wall time normalised to it."""
    full = report.get("profile", "full") == "full"
    reference = json.loads(path.read_text()).get("chapters", {}) if full and path.is_file() else {}
    metrics = load_all_metrics(build)
    declared = declared_metrics()
    lines = [f"{'chapter':22} {'status':9} {'seconds':>8}  headline metrics (now / reference)"]
    for chapter, entry in report.get("chapters", {}).items():
        heads = []
        for key in declared.get(chapter) or {}:
            allowed = tolerance(chapter, key)
            if allowed is None or key not in metrics.get(chapter, {}):
                continue
            now = metrics[chapter][key]
            ref = reference.get(chapter, {}).get(key, {}).get("value")
            mark = "" if ref is None else (" ok" if abs(now - ref) <= allowed else " MOVED")
            heads.append(f"{key} {now:.4f}" + ("" if ref is None else f" / {ref:.4f}{mark}"))
        seconds = entry.get("seconds")
        lines.append(f"{chapter:22} {entry.get('status', '?'):9} "
                     f"{seconds if seconds is not None else float('nan'):>8.1f}  " + "; ".join(heads))
    if report.get("yardstick"):
        wall = report.get("finished", 0.0) - report.get("started", 0.0) if "finished" in report else None
        lines.append(summary_line(report["yardstick"], wall))
    return "\n".join(lines)
