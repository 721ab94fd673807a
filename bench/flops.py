"""FLOPs of a training step (``torch.utils.flop_counter``) and the device's float32 matmul rate.

Together they give an epoch's floor: the time it would take if every counted FLOP ran as
fast as a large matmul. Matmuls and convolutions are counted (the book's ViT writes its
attention as matmuls); the optimizer's and the elementwise ops' FLOPs are not.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mnist_utils.yardstick import matmul_gflops  # noqa: F401  (bench.py imports it from here)


def step_flops(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> int:
    """Counted FLOPs of one training step (forward + backward) on a copy of ``model``."""
    twin = copy.deepcopy(model).train()
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(twin(xb), yb).backward()
    return counter.get_total_flops()


def epoch_flops(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> int:
    """Counted FLOPs of one epoch: every full batch, plus the last, shorter one if any."""
    full, rest = divmod(len(x), batch_size)
    total = full * step_flops(model, x[:batch_size], y[:batch_size]) if full else 0
    return total + (step_flops(model, x[:rest], y[:rest]) if rest else 0)
