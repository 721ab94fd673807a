"""A yardstick for timings: the device's float32 matrix-product rate, measured in a second or two.

Why: build and epoch times measured on a shared machine vary by 1.6x from one day to the
next, and say nothing when two builds ran on different machines. The rate a large square
matmul achieves, measured just before and just after, is the speed of the machine at that
time; a time multiplied by it (work at the measured rate) can be compared across machines
and busy days. The bench's floor table (``bench/``) and the runner's build report
(``tools/run.py``) both measure it here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch

# Matmul sizes: large enough to run at the device's full rate, small enough for a second or two.
SIZES = {"cuda": 8192, "cpu": 2048}  # other devices: the CPU's
SIZE_ENV = "MNIST_YARDSTICK_SIZE"  # overrides the size (the tests use a small one: milliseconds)


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


def matmul_gflops(device: torch.device, n: int, repeats: int = 5) -> float:
    """The device's achieved float32 rate on n x n matmuls (best of ``repeats``), GFLOP/s."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b  # warm-up: library initialisation, GPU clocks
    best = min(seconds(lambda: a @ b, device) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def measure(device: torch.device | None = None, repeats: int = 3) -> dict[str, Any]:
    """The yardstick now: ``{"gflops", "size", "device", "threads", "at"}`` (best of ``repeats``)."""
    from mnist_utils.runtime import pick_device

    device = device or pick_device()
    size = int(os.environ.get(SIZE_ENV) or SIZES.get(device.type, SIZES["cpu"]))
    rate = matmul_gflops(device, size, repeats)
    return {"gflops": round(rate, 2), "size": size, "device": device.type,
            "threads": torch.get_num_threads(), "at": time.time()}


def normalised(wall_s: float, start: Mapping[str, Any], end: Mapping[str, Any] | None) -> float:
    """``wall_s`` as work at the mean of the measured rates: TFLOP a matmul could have done."""
    rates = [m["gflops"] for m in (start, end) if m]
    return wall_s * sum(rates) / len(rates) / 1000


def summary_line(yardstick: Mapping[str, Any], wall_s: float | None) -> str:
    """One line for the build's summary: the rates and the wall time normalised to them."""
    start, end = yardstick.get("start"), yardstick.get("end")
    if not start:
        return ""
    rates = f"{start['gflops']:.1f}" + (f" at the start, {end['gflops']:.1f} at the end" if end else "")
    line = f"yardstick: float32 matmul {rates} GFLOP/s ({start['device']}, {start['size']}x{start['size']})"
    if wall_s is not None:
        line += (f"; wall time {wall_s:.1f} s = {normalised(wall_s, start, end):.1f} TFLOP at that rate "
                 "(compare builds on other or busier machines by this)")
    return line
