"""Checks for chapter 1's coding exercises: class means and the nearest-mean classifier."""

from __future__ import annotations

from collections.abc import Callable

import torch

from mnist_utils.exercises import Mismatch, Result, expect_close, run_check, seeded


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.arange(60) % 10
    return seeded(60, 7, seed=1), labels[torch.randperm(60, generator=torch.Generator().manual_seed(2))]


def check_class_means(class_means: Callable) -> Result:
    """``class_means(x [N, D], y [N]) -> [10, D]``: the mean image of each digit."""
    def probe() -> str:
        x, y = _data()
        expected = torch.stack([x[y == c].mean(0) for c in range(10)])
        expect_close("class_means(x, y)", class_means(x, y), expected, "the mean of each class's rows")
        return "each row is the mean of its class's images."
    return run_check("class means", probe)


def check_nearest_mean(predict: Callable) -> Result:
    """``predict(x [N, D], means [10, D]) -> [N]``: the class of the nearest mean (Euclidean)."""
    def probe() -> str:
        x, means = seeded(50, 7, seed=3), seeded(10, 7, seed=4)
        got = predict(x, means)
        expected = torch.cdist(x, means).argmin(1)
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            raise Mismatch("predict should return one label per image, a tensor of shape "
                           f"{list(expected.shape)}.")
        if got.is_floating_point():
            raise Mismatch("labels should be integers (use argmin, not the distances themselves).")
        wrong = int((got != expected).sum())
        if wrong:
            raise Mismatch(f"{wrong} of {len(x)} images get another label than their nearest mean "
                           "(is it argmin of the distances, over the means?).")
        return "every image gets the label of its nearest class mean."
    return run_check("nearest mean", probe)
