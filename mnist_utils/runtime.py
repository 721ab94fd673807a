"""Where code runs and how reproducibly: the device, the seeds, the CPU threads.

The device is chosen here and nowhere else (``pick_device``), so every chapter runs
unchanged on a laptop CPU, an Apple GPU or a Colab GPU. Nothing here runs on import:
seeding and thread counts change global state, so chapters call them explicitly.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

THREADS_ENV = "MNIST_TORCH_THREADS"


def pick_device(prefer: str | None = None) -> torch.device:
    """``prefer`` if given, else the best available: cuda > mps > cpu."""
    if prefer:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and GPU). A generator of its own for the batch
    order is ``sampling.make_generator(seed)``."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def configure_threads(threads: int | None = None) -> int:
    """Set PyTorch's intra-op CPU threads; return the number in force.

    Small models on a 2-core machine often run faster on fewer threads (see
    ``bench/``), so the chapters pass the count they measured best; the
    ``MNIST_TORCH_THREADS`` variable overrides it for a whole build.
    """
    env = os.environ.get(THREADS_ENV)
    wanted = int(env) if env else threads
    if wanted is not None:
        if wanted < 1:
            raise ValueError(f"threads must be at least 1, got {wanted}")
        torch.set_num_threads(wanted)
    return torch.get_num_threads()


def describe_runtime(device: torch.device) -> str:
    """One line for a chapter's first output: versions, device, threads."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    return (
        f"torch {torch.__version__} | device: {name} | CPU threads: {torch.get_num_threads()}"
    )


def available_cores() -> int:
    """CPU cores this process may use (the affinity mask, where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def start_chapter(seed: int, threads: int | None = None, prefer: str | None = None) -> torch.device:
    """A chapter's set-up in one call: seeds, CPU threads; prints and returns the device.

    ``prefer="cpu"`` keeps a chapter on the CPU even where a GPU exists: the linear
    chapters' steps are a few microseconds of arithmetic, which a GPU cannot speed up
    (each step would wait on kernel launches instead).
    """
    device = pick_device(prefer)
    seed_everything(seed)
    configure_threads(threads)
    print(describe_runtime(device))
    return device
