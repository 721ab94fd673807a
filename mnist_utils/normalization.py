"""BatchNorm, LayerNorm and dropout written out, checked against ``torch.nn``.

* **BatchNorm** normalises each channel with the mean and (biased) variance of the
  current minibatch while training, and keeps running averages of them
  (``r <- (1 - momentum) r + momentum * batch value``, the variance unbiased) to use in
  evaluation, when a prediction must not depend on the other images of the batch. A
  learned scale ``gamma`` and shift ``beta`` follow.
* **LayerNorm** normalises each token (or image) over its own features, so training and
  evaluation behave the same; the ViT uses it.
* **Dropout** zeroes each activation with probability ``p`` in training and scales the
  survivors by ``1 / (1 - p)``, so evaluation (no dropout) sees the same expected values.
"""

from __future__ import annotations

import torch


def batch_norm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, running_mean: torch.Tensor,
               running_var: torch.Tensor, training: bool, momentum: float = 0.1,
               eps: float = 1e-5) -> torch.Tensor:
    """``nn.BatchNorm1d`` ([B, C]) or ``nn.BatchNorm2d`` ([B, C, H, W]); updates the running stats."""
    dims = [0] + list(range(2, x.dim()))  # every axis but the channels
    shape = [1, -1] + [1] * (x.dim() - 2)  # broadcast a [C] vector over x
    if training:
        mean, var = x.mean(dims), x.var(dims, unbiased=False)
        n = x.numel() // x.shape[1]
        with torch.no_grad():
            running_mean.mul_(1 - momentum).add_(momentum * mean)
            running_var.mul_(1 - momentum).add_(momentum * var * n / (n - 1))
    else:
        mean, var = running_mean, running_var
    x_hat = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + eps)
    return gamma.view(shape) * x_hat + beta.view(shape)


def layer_norm(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """``nn.LayerNorm(x.shape[-1])``: each row normalised over its own last axis."""
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, unbiased=False, keepdim=True)
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta


def dropout(x: torch.Tensor, p: float, training: bool,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """``F.dropout``: zero with probability ``p``, scale the rest by 1/(1-p); identity in evaluation."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= p
    return x * keep / (1 - p)
