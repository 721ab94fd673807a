"""Checks for chapter 5's coding exercises: the linear model as an ``nn.Module``, one training step."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from mnist_utils.exercises import Mismatch, Result, expect_close, run_check, seeded


def check_linear_module(make_model: Callable) -> Result:
    """``make_model()`` returns an ``nn.Module``: weights W [784, 10] and b [10], zero at the start,
    and ``forward(x) = x @ W + b``."""
    def probe() -> str:
        model = make_model()
        if not isinstance(model, nn.Module):
            raise Mismatch("the model should be an nn.Module (subclass it).")
        params = list(model.parameters())
        if sum(p.numel() for p in params) != 7850:
            raise Mismatch(f"it has {sum(p.numel() for p in params)} parameters; expected "
                           "784 x 10 + 10 = 7850 (register W and b as nn.Parameter).")
        if any(p.abs().sum() != 0 for p in params):
            raise Mismatch("the parameters should start at zero, like the hand-coded W0 = 0.")
        with torch.no_grad():
            for i, p in enumerate(params):
                p.copy_(seeded(*p.shape, seed=i, dtype=p.dtype))
        x = seeded(5, 784, seed=9, dtype=params[0].dtype)
        w = next(p for p in params if p.dim() == 2)
        b = next(p for p in params if p.dim() == 1)
        w_in_out = w if w.shape == (784, 10) else w.T
        expect_close("model(x)", model(x), x @ w_in_out + b, "x @ W + b", atol=1e-4)
        return "a zero-initialised module that computes x @ W + b."
    return run_check("linear module", probe)


def check_train_step(train_step: Callable) -> Result:
    """``train_step(model, optimizer, x, y) -> loss``: one SGD step on the mean cross-entropy."""
    def probe() -> str:
        torch.manual_seed(0)
        model, reference = nn.Linear(6, 3).double(), nn.Linear(6, 3).double()
        reference.load_state_dict(model.state_dict())
        x, y = seeded(8, 6, seed=1), torch.arange(8) % 3
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        for _ in range(2):  # twice: stale gradients from the first step would spoil the second
            loss = train_step(model, opt, x, y)
            ref_loss = F.cross_entropy(reference(x), y)
            grads = torch.autograd.grad(ref_loss, list(reference.parameters()))
            with torch.no_grad():
                for p, g in zip(reference.parameters(), grads):
                    p -= 0.5 * g
            if abs(float(loss) - ref_loss.item()) > 1e-9:
                raise Mismatch(f"returned loss {float(loss):.6f}; expected the batch's mean cross-entropy "
                               f"before the step, {ref_loss.item():.6f}.")
            for (name, p), q in zip(model.named_parameters(), reference.parameters()):
                expect_close(f"{name} after the step", p, q,
                             "a plain SGD step (did you zero the gradients before backward?)", atol=1e-9)
        return "zero_grad, forward, loss, backward, step: two steps match a hand-made SGD."
    return run_check("training step", probe)
