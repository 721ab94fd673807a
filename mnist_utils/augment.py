"""Data augmentation on whole batches of tensors: random translations.

A digit moved by a pixel or two is still the same digit, so showing the network
shifted copies teaches it features that do not depend on exact positions. The offsets
are drawn on the CPU (so a seed gives the same run on any device), for a whole epoch
at once: one copy to the device per epoch, and no value read back to the host.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_offsets(n: int, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """[n, 2] offsets (dy, dx), each uniform in [-max_shift, max_shift], from ``generator``."""
    if max_shift < 0:
        raise ValueError(f"max_shift must be 0 or positive, got {max_shift}")
    return torch.randint(-max_shift, max_shift + 1, (n, 2), generator=generator)


def shift_images(images: torch.Tensor, offsets: torch.Tensor, max_shift: int, fill: float) -> torch.Tensor:
    """Translate each image [B, C, H, W] by its own row of ``offsets`` [B, 2] (at most ``max_shift``).

    Pixels shifted in take the value ``fill`` (the background: 0 for raw or unit-scaled
    pixels, ``-mean/std`` for standardised ones).
    """
    if max_shift == 0:
        return images
    b, _, h, w = images.shape
    padded = F.pad(images, (max_shift,) * 4, value=fill)
    start = max_shift - offsets.to(images.device, non_blocking=True)  # [B, 2]: a shift by +d reads from -d
    rows = (start[:, 0, None] + torch.arange(h, device=images.device))[:, :, None]  # [B, H, 1]
    cols = (start[:, 1, None] + torch.arange(w, device=images.device))[:, None, :]  # [B, 1, W]
    batch = torch.arange(b, device=images.device)[:, None, None]
    return padded[batch, :, rows, cols].permute(0, 3, 1, 2)  # [B, H, W, C] -> [B, C, H, W]


def random_shift(
    images: torch.Tensor, max_shift: int, generator: torch.Generator, fill: float
) -> torch.Tensor:
    """Translate each image [B, C, H, W] by its own random offset in [-max_shift, max_shift]."""
    return shift_images(images, random_offsets(len(images), max_shift, generator), max_shift, fill)
