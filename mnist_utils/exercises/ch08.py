"""Checks for chapter 8's coding exercises: scaled dot-product attention and patches as tokens."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from mnist_utils.exercises import Mismatch, Result, expect_close, run_check, seeded
from mnist_utils.models import patchify as book_patchify


def check_attention(attention: Callable) -> Result:
    """``attention(q, k, v) -> (output, weights)`` for q, k, v of shape [B, n, d]."""
    def probe() -> str:
        q, k, v = (seeded(2, 5, 4, seed=s) for s in (1, 2, 3))
        result = attention(q, k, v)
        if not isinstance(result, tuple) or len(result) != 2:
            raise Mismatch("return two things: the output and the attention weights.")
        out, weights = result
        expected_w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(4), dim=-1)
        expect_close("the weights", weights, expected_w,
                     "softmax(q k^T / sqrt(d)) over the keys (the last axis)")
        expect_close("the output", out, expected_w @ v, "weights @ v")
        return "scaled dot products, a softmax over the keys, a weighted mean of the values."
    return run_check("attention", probe)


def check_patchify(patchify: Callable) -> Result:
    """``patchify(images [B, C, H, W], p) -> [B, (H/p)(W/p), C p p]``, patches in row-major order."""
    def probe() -> str:
        images = seeded(2, 1, 8, 12, seed=4)
        expect_close("patchify(images, 4)", patchify(images, 4), book_patchify(images, 4),
                     "the patches read row by row, each flattened row by row")
        return "the same tokens as the book's patchify."
    return run_check("patches", probe)
