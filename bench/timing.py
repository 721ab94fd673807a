"""Wall-clock timing for the benchmarks: synchronised on a GPU, fastest of alternating runs.

Why alternate and keep the fastest: on a shared machine other work only ever adds time, and
two variants timed in turn see the same bursts of it (bench/README.md).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds(fn: Callable[[], object], device: torch.device | None = None) -> float:
    """Wall-clock seconds of fn(); on a GPU, until its queued work has finished."""
    if device is not None:
        synchronize(device)
    start = time.perf_counter()
    fn()
    if device is not None:
        synchronize(device)
    return time.perf_counter() - start


def compare(name: str, seed_fn, ours_fn, repeats: int, note: str = "",
            device: torch.device | None = None, scale: float = 1.0) -> dict:
    """Both variants alternately, ``repeats`` times, each time x ``scale``; the fastest, seed / ours."""
    seed_times, our_times = [], []
    for _ in range(repeats):
        seed_times.append(scale * seconds(seed_fn, device))
        our_times.append(scale * seconds(ours_fn, device))
    seed, ours = min(seed_times), min(our_times)
    row = {"what": name, "seed_s": seed, "ours_s": ours, "ratio": seed / ours, "note": note,
           "seed_all_s": seed_times, "ours_all_s": our_times, "seed_median_s": statistics.median(seed_times),
           "ours_median_s": statistics.median(our_times)}
    print(f"{name:45s} seed {seed:8.2f} s   ours {ours:8.2f} s   ratio {seed / ours:6.1f}x", flush=True)
    return row
