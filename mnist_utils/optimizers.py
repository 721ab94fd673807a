"""The update rules of the book's optimizers, written out and checked against ``torch.optim``.

Chapters 6 to 8 train with ``torch.optim`` (``training.make_optimizer``); this module
shows what one step of each does, with the same conventions, so a chapter can print the
code and prove it equal to PyTorch's on the same gradients:

* SGD with momentum: ``v <- mu v + g``, ``theta <- theta - lr v`` (PyTorch's form, in which
  the learning rate multiplies the whole velocity);
* Adam: running means of ``g`` and ``g**2``, each divided by ``1 - beta**t`` (bias
  correction: both start at zero), then ``theta <- theta - lr m_hat / (sqrt(v_hat) + eps)``;
* weight decay: added to the gradient (``g + lambda theta``, "L2", as in ``SGD`` and
  ``Adam``) or applied to the weights apart from the adaptive step (``AdamW``,
  ``theta <- theta (1 - lr lambda)``), which decays every weight at the same rate;
* the learning-rate schedule: linear warm-up, then constant or cosine decay to 0.

State is kept in plain dictionaries, one entry per parameter tensor, so nothing hides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch


@dataclass
class SGDMomentum:
    """``torch.optim.SGD(params, lr, momentum, weight_decay)``, written out."""

    lr: float
    momentum: float = 0.0
    weight_decay: float = 0.0
    velocity: dict[int, torch.Tensor] = field(default_factory=dict)

    @torch.no_grad()
    def step(self, params: list[torch.Tensor]) -> None:
        for i, p in enumerate(params):
            g = p.grad + self.weight_decay * p  # L2 weight decay enters through the gradient
            if self.momentum:
                # PyTorch starts the velocity at the first gradient, not at zero
                previous = self.velocity.get(i)
                g = self.velocity[i] = g.clone() if previous is None else self.momentum * previous + g
            p -= self.lr * g


@dataclass
class Adam:
    """``torch.optim.Adam`` (``decoupled=False``) or ``torch.optim.AdamW`` (``decoupled=True``)."""

    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    decoupled: bool = False
    t: int = 0
    m: dict[int, torch.Tensor] = field(default_factory=dict)  # running mean of g
    v: dict[int, torch.Tensor] = field(default_factory=dict)  # running mean of g**2

    @torch.no_grad()
    def step(self, params: list[torch.Tensor]) -> None:
        self.t += 1
        b1, b2 = self.betas
        for i, p in enumerate(params):
            g = p.grad
            if self.decoupled:
                p *= 1 - self.lr * self.weight_decay  # AdamW: shrink the weights directly
            else:
                g = g + self.weight_decay * p  # Adam: weight decay as an L2 term in the gradient
            m = self.m[i] = b1 * self.m.get(i, torch.zeros_like(p)) + (1 - b1) * g
            v = self.v[i] = b2 * self.v.get(i, torch.zeros_like(p)) + (1 - b2) * g * g
            m_hat, v_hat = m / (1 - b1**self.t), v / (1 - b2**self.t)  # bias correction
            p -= self.lr * m_hat / (v_hat.sqrt() + self.eps)


def lr_factor(step: int, total: int, warmup: int = 0, schedule: str = "cosine") -> float:
    """The learning rate of step ``step`` (0-based) as a fraction of the peak rate.

    Linear warm-up over the first ``warmup`` steps (from 1/warmup to 1), then either
    constant or a cosine from 1 down to 0 at step ``total``.
    """
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    if schedule != "cosine":
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
