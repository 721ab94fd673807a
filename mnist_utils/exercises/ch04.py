"""Checks for chapter 4's coding exercises: a class-balanced subset and a power-law fit."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from mnist_utils.exercises import Mismatch, Result, run_check


def check_balanced_subset(balanced_subset: Callable) -> Result:
    """``balanced_subset(labels [N], per_class, generator) -> indices``: ``per_class`` of each digit."""
    def probe() -> str:
        gen = torch.Generator().manual_seed(0)
        labels = torch.randint(0, 10, (500,), generator=gen)
        idx = balanced_subset(labels, 7, torch.Generator().manual_seed(1))
        idx = torch.as_tensor(idx)
        if idx.unique().numel() != idx.numel():
            raise Mismatch("some images are drawn twice: draw without replacement.")
        if idx.min() < 0 or idx.max() >= len(labels):
            raise Mismatch("the indices must point into labels (0 .. N-1).")
        counts = torch.bincount(labels[idx], minlength=10).tolist()
        if counts != [7] * 10:
            raise Mismatch(f"images per digit: {counts}; expected 7 of each.")
        return "exactly per_class images of every digit, none twice."
    return run_check("balanced subset", probe)


def check_power_law(fit_power_law: Callable) -> Result:
    """``fit_power_law(sizes, errors) -> (a, b)`` with error ~ a * size**(-b), least squares on logs."""
    def probe() -> str:
        sizes = np.array([100, 500, 1000, 10000, 60000], dtype=float)
        errors = 2.0 * sizes**-0.3 * np.exp([0.02, -0.01, 0.03, -0.02, 0.0])
        a, b = (float(v) for v in fit_power_law(sizes, errors))
        slope, intercept = np.polyfit(np.log(sizes), np.log(errors), 1)
        if abs(b - -slope) > 1e-6 or abs(a - np.exp(intercept)) > 1e-6:
            raise Mismatch(f"got a = {a:.4g}, b = {b:.4g}; a straight-line fit of log(error) on log(size) "
                           f"gives a = {np.exp(intercept):.4g}, b = {-slope:.4g} (b is minus the slope).")
        return "a and b match the least-squares line in log-log coordinates."
    return run_check("power-law fit", probe)
