"""Checks for chapter 9's coding exercises: visual words and the bag-of-words histogram."""

from __future__ import annotations

from collections.abc import Callable

import torch

from mnist_utils.exercises import Mismatch, Result, expect_close, run_check, seeded


def check_assign_words(assign: Callable) -> Result:
    """``assign(descriptors [N, D], vocabulary [K, D]) -> [N]``: index of the nearest visual word."""
    def probe() -> str:
        d, vocab = seeded(40, 8, seed=1), seeded(6, 8, seed=2)
        got = torch.as_tensor(assign(d, vocab))
        expected = torch.cdist(d, vocab).argmin(1)
        if got.shape != expected.shape or got.is_floating_point():
            raise Mismatch(f"return one integer word index per descriptor, shape {list(expected.shape)}.")
        wrong = int((got != expected).sum())
        if wrong:
            raise Mismatch(f"{wrong} of 40 descriptors are not assigned to their nearest word (Euclidean).")
        return "each descriptor goes to its nearest visual word."
    return run_check("visual words", probe)


def check_histogram(histogram: Callable) -> Result:
    """``histogram(words [n], vocab_size) -> [vocab_size]``: word frequencies summing to 1."""
    def probe() -> str:
        words = torch.tensor([0, 2, 2, 5, 2, 0, 1])
        got = torch.as_tensor(histogram(words, 8), dtype=torch.float64)
        expected = torch.bincount(words, minlength=8).double() / len(words)
        expect_close("histogram(words, 8)", got, expected, "the share of the image's descriptors per word")
        return "a normalised histogram of visual words, empty words included."
    return run_check("bag of words", probe)
