"""Checks for chapter 3's coding exercises: shuffled minibatches and the decaying step size."""

from __future__ import annotations

from collections.abc import Callable

import torch

from mnist_utils.exercises import Mismatch, Result, run_check


def check_minibatch_indices(minibatch_indices: Callable) -> Result:
    """``minibatch_indices(n, batch_size, generator) -> list of index tensors`` for one epoch."""
    def probe() -> str:
        for n, b in ((100, 10), (103, 25), (7, 7)):
            batches = minibatch_indices(n, b, torch.Generator().manual_seed(0))
            sizes = [len(idx) for idx in batches]
            if any(s > b for s in sizes) or any(s < b for s in sizes[:-1]):
                raise Mismatch(f"with n={n}, B={b} the batch sizes are {sizes}: every batch but the last "
                               f"must hold exactly B={b} indices.")
            everything = torch.cat(list(batches)).sort().values
            if not torch.equal(everything, torch.arange(n)):
                raise Mismatch(f"with n={n} the batches must use every index 0..{n - 1} exactly once "
                               "per epoch.")
        order = torch.cat(list(minibatch_indices(100, 10, torch.Generator().manual_seed(0))))
        if torch.equal(order, torch.arange(100)):
            raise Mismatch("the order is not shuffled: draw a random permutation with the generator.")
        return "one epoch visits every image once, in shuffled batches of B."
    return run_check("minibatch indices", probe)


def check_decayed_lr(lr_at: Callable) -> Result:
    """``lr_at(t, total, peak)``: the step size falls linearly from ``peak`` at t = 0 to 0 at t = total."""
    def probe() -> str:
        for t, total, peak in ((0, 10, 0.5), (5, 10, 0.5), (9, 10, 0.5), (3, 4, 2.0)):
            expected = peak * (1 - t / total)
            got = float(lr_at(t, total, peak))
            if abs(got - expected) > 1e-12:
                raise Mismatch(f"lr_at({t}, {total}, {peak}) = {got:g}; expected {expected:g} "
                               "(the peak at the first step, falling in a straight line to 0 at step total).")
        return "the step size falls linearly from the peak to zero."
    return run_check("decaying step size", probe)
