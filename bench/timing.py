"""Wall-clock timing for the benchmarks: synchronised on a GPU (``mnist_utils.yardstick``), fastest of
alternating runs.

Why alternate and keep the fastest: on a shared machine other work only ever adds time, and
two variants timed in turn see the same bursts of it (bench/README.md).
"""

from __future__ import annotations

import statistics

import torch

# the timing itself lives in the package, where the runner's build yardstick uses it too
from mnist_utils.yardstick import seconds, synchronize  # noqa: F401  (the benchmarks import them from here)


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
