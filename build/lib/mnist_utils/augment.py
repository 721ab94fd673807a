"""Data augmentation on whole batches of tensors: random translations.

A digit moved by a pixel or two is still the same digit, so showing the network
shifted copies teaches it features that do not depend on exact positions. Everything
happens on the device holding the batch, with no value read back to the host.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_shift(
    images: torch.Tensor, max_shift: int, generator: torch.Generator, fill: float
) -> torch.Tensor:
    """Translate each image [B, C, H, W] by its own random (dy, dx) in [-max_shift, max_shift].

    Pixels shifted in take the value ``fill`` (the background: 0 for raw or unit-scaled
    pixels, ``-mean/std`` for standardised ones). Offsets are drawn from ``generator``
    (a CPU generator, so runs repeat on any device).
    """
    if max_shift < 0:
        raise ValueError(f"max_shift must be 0 or positive, got {max_shift}")
    if max_shift == 0:
        return images
    b, _, h, w = images.shape
    padded = F.pad(images, (max_shift,) * 4, value=fill)
    offsets = torch.randint(0, 2 * max_shift + 1, (2, b), generator=generator)
    offsets = offsets.to(images.device, non_blocking=True)
    rows = (offsets[0, :, None] + torch.arange(h, device=images.device))[:, :, None]  # [B, H, 1]
    cols = (offsets[1, :, None] + torch.arange(w, device=images.device))[:, None, :]  # [B, 1, W]
    batch = torch.arange(b, device=images.device)[:, None, None]
    return padded[batch, :, rows, cols].permute(0, 3, 1, 2)  # [B, H, W, C] -> [B, C, H, W]
