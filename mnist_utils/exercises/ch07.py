"""Checks for chapter 7's coding exercises: a convolution and max-pooling, by hand."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from mnist_utils.exercises import Result, expect_close, run_check, seeded


def check_conv2d(conv2d: Callable) -> Result:
    """``conv2d(x [B, C_in, H, W], w [C_out, C_in, k, k], b [C_out], padding) -> [B, C_out, H', W']``."""
    def probe() -> str:
        x = seeded(2, 3, 7, 6, seed=1).requires_grad_()
        w, b = seeded(4, 3, 3, 3, seed=2).requires_grad_(), seeded(4, seed=3)
        for padding in (0, 1):
            got, expected = conv2d(x, w, b, padding), F.conv2d(x, w, b, padding=padding)
            expect_close(f"conv2d(x, w, b, padding={padding})", got, expected, "F.conv2d")
        if got.requires_grad:
            upstream = seeded(*expected.shape, seed=4)
            mine = torch.autograd.grad((got * upstream).sum(), w)[0]
            theirs = torch.autograd.grad((expected * upstream).sum(), w)[0]
            expect_close("the gradient with respect to w", mine, theirs, "autograd through F.conv2d")
        return "values (and gradients) match F.conv2d, with and without padding."
    return run_check("convolution", probe)


def check_max_pool(max_pool: Callable) -> Result:
    """``max_pool(x [B, C, H, W], k) -> [B, C, H // k, W // k]``: the maximum of each k x k block."""
    def probe() -> str:
        x = seeded(2, 3, 8, 6, seed=5)
        expect_close("max_pool(x, 2)", max_pool(x, 2), F.max_pool2d(x, 2), "F.max_pool2d(x, 2)")
        return "it matches F.max_pool2d."
    return run_check("max-pooling", probe)
