"""The exercise checks catch wrong answers, not only untouched scaffolds, and say what is wrong."""

from __future__ import annotations

import numpy as np
import torch

from mnist_utils.exercises import ch02, ch03, ch06, ch10


def test_a_naive_softmax_fails_on_large_scores() -> None:
    result = ch02.check_softmax(lambda s: torch.exp(s) / torch.exp(s).sum(1, keepdim=True))
    assert not result and "inf or nan" in result.message


def test_a_gradient_without_the_batch_mean_is_caught() -> None:
    def summed(s, y):
        log_p = s - torch.logsumexp(s, 1, keepdim=True)
        return -(y * log_p).sum() / len(s), log_p.exp() - y  # forgot the 1/B in the gradient
    result = ch02.check_cross_entropy(summed)
    assert not result and "dL/dS differs from autograd" in result.message


def test_unshuffled_batches_are_caught() -> None:
    result = ch03.check_minibatch_indices(lambda n, b, g: list(torch.arange(n).split(b)))
    assert not result and "not shuffled" in result.message


def test_batch_norm_with_the_unbiased_variance_is_caught() -> None:
    def unbiased(x, gamma, beta, eps):
        return gamma * (x - x.mean(0)) / torch.sqrt(x.var(0) + eps) + beta
    assert not ch06.check_batch_norm(unbiased)


def test_a_crash_is_reported_in_words() -> None:
    result = ch10.check_holm(lambda p: np.asarray(p)[10])
    assert not result and result.message.startswith("your code raised IndexError")
    assert "Not yet" in repr(result) and "❌" in result._repr_markdown_()
