"""Checks for chapter 2's coding exercises: a stable softmax and the cross-entropy gradient."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from mnist_utils.exercises import Mismatch, Result, expect_close, run_check, seeded


def check_softmax(softmax: Callable) -> Result:
    """``softmax(s [B, K]) -> [B, K]`` probabilities, row by row, without overflow."""
    def probe() -> str:
        s = seeded(6, 10, seed=1)
        expect_close("softmax(s)", softmax(s), torch.softmax(s, 1), "torch.softmax", atol=1e-9)
        big = s * 1000  # scores this large overflow exp() unless the maximum is subtracted first
        expect_close("softmax(1000 * s)", softmax(big), torch.softmax(big, 1), "torch.softmax", atol=1e-9)
        return "it matches torch.softmax, also for scores large enough to overflow a naive exp()."
    return run_check("stable softmax", probe)


def check_cross_entropy(loss_and_grad: Callable) -> Result:
    """``loss_and_grad(s [B, K], y_onehot [B, K]) -> (mean loss, dL/dS [B, K])``."""
    def probe() -> str:
        s = seeded(8, 10, seed=2).requires_grad_()
        labels = torch.arange(8) % 10
        loss, grad = loss_and_grad(s.detach(), F.one_hot(labels, 10).double())
        reference = F.cross_entropy(s, labels)
        if not torch.is_tensor(loss) or loss.numel() != 1:
            raise Mismatch("the loss should be one number: the mean over the batch.")
        if abs(float(loss) - reference.item()) > 1e-9:
            raise Mismatch(f"the loss is {float(loss):.6f}; F.cross_entropy gives {reference.item():.6f} "
                           "(the mean over the batch of -log p of the true class).")
        (autograd,) = torch.autograd.grad(reference, s)
        expect_close("dL/dS", grad, autograd, "autograd's gradient (is it (P - Y) / B?)", atol=1e-9)
        return "the loss matches F.cross_entropy and the gradient matches autograd."
    return run_check("cross-entropy gradient", probe)
