"""Checks for chapter 6's coding exercises: an MLP's forward pass, BatchNorm, momentum."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from mnist_utils.exercises import Mismatch, Result, expect_close, run_check, seeded


def check_mlp_forward(mlp_forward: Callable) -> Result:
    """``mlp_forward(x, layers) -> logits`` for ``layers = [(W, b), ...]`` (W as in nn.Linear:
    [out, in]), with a ReLU after every layer but the last."""
    def probe() -> str:
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3)).double()
        layers = [(m.weight, m.bias) for m in net if isinstance(m, nn.Linear)]
        x = seeded(5, 12, seed=1)
        expect_close("mlp_forward(x, layers)", mlp_forward(x, layers), net(x),
                     "nn.Sequential(Linear, ReLU, Linear, ReLU, Linear) (no ReLU after the last layer)")
        return "the same logits as nn.Sequential."
    return run_check("MLP forward pass", probe)


def check_batch_norm(batch_norm_train: Callable) -> Result:
    """``batch_norm_train(x [B, C], gamma, beta, eps) -> [B, C]`` with this batch's statistics."""
    def probe() -> str:
        x = seeded(16, 4, seed=1) * 3 + 2
        gamma, beta = seeded(4, seed=2), seeded(4, seed=3)
        expected = F.batch_norm(x, None, None, gamma, beta, training=True, eps=1e-5)
        expect_close("batch_norm_train(x, gamma, beta, 1e-5)", batch_norm_train(x, gamma, beta, 1e-5),
                     expected, "nn.BatchNorm1d in training mode (per channel: mean and *biased* "
                     "variance over the batch)")
        return "it matches nn.BatchNorm1d in training mode."
    return run_check("BatchNorm", probe)


def check_momentum_step(momentum_step: Callable) -> Result:
    """``momentum_step(w, grad, velocity, lr, mu) -> (w, velocity)``, PyTorch's convention:
    ``v = mu * v + g`` (v = g at the first step, when ``velocity`` is None), ``w = w - lr * v``."""
    def probe() -> str:
        w = seeded(5, seed=1)
        ref = w.clone().requires_grad_()
        opt = torch.optim.SGD([ref], lr=0.1, momentum=0.9)
        velocity = None
        for step in range(3):
            grad = seeded(5, seed=10 + step)
            ref.grad = grad.clone()
            opt.step()
            w, velocity = momentum_step(w, grad, velocity, 0.1, 0.9)
            expect_close(f"w after step {step + 1}", w, ref.detach(), "torch.optim.SGD(momentum=0.9)",
                         atol=1e-12)
        if velocity is None:
            raise Mismatch("return the new velocity too: the next step needs it.")
        return "three steps match torch.optim.SGD with momentum."
    return run_check("momentum", probe)
