"""Subsets, one-hot labels and minibatches: sizes, no replacement, balance, determinism."""

from __future__ import annotations

import pytest
import torch

from mnist_utils.sampling import (
    balanced_subset,
    batch_indices,
    index_stream,
    make_generator,
    minibatches,
    one_hot,
    random_subset,
)

LABELS = torch.arange(10).repeat_interleave(torch.tensor([30, 25, 40, 20, 33, 21, 50, 22, 27, 35]))


def test_one_hot() -> None:
    out = one_hot(torch.tensor([2, 0, 9]))
    assert out.shape == (3, 10) and out.dtype == torch.float32
    assert out.sum(1).tolist() == [1, 1, 1]
    assert out.argmax(1).tolist() == [2, 0, 9]
    with pytest.raises(ValueError, match="labels"):
        one_hot(torch.tensor([10]))


def test_random_subset_size_no_replacement_determinism() -> None:
    a = random_subset(1000, 100, make_generator(3))
    assert len(a) == 100 and len(set(a.tolist())) == 100 and a.max() < 1000
    assert torch.equal(a, random_subset(1000, 100, make_generator(3)))
    assert not torch.equal(a, random_subset(1000, 100, make_generator(4)))
    for bad in (0, 1001):
        with pytest.raises(ValueError, match="`size`"):
            random_subset(1000, bad, make_generator(0))


def test_balanced_subset() -> None:
    idx = balanced_subset(LABELS, 20, make_generator(0))
    assert len(idx) == 200 and len(set(idx.tolist())) == 200
    assert torch.bincount(LABELS[idx]).tolist() == [20] * 10
    assert torch.equal(idx, balanced_subset(LABELS, 20, make_generator(0)))
    with pytest.raises(ValueError, match="smallest class"):
        balanced_subset(LABELS, 21, make_generator(0))


def test_minibatches_cover_each_sample_once() -> None:
    x = torch.arange(103).float().unsqueeze(1)
    y = torch.arange(103)
    seen = []
    for xb, yb in minibatches(x, y, 10, generator=make_generator(0)):
        assert torch.equal(xb.squeeze(1).long(), yb)  # rows stay paired with their labels
        seen += yb.tolist()
    assert sorted(seen) == list(range(103))
    ordered = [yb for _, yb in minibatches(x, y, 50, shuffle=False)]
    assert [len(b) for b in ordered] == [50, 50, 3] and ordered[0][0] == 0
    with pytest.raises(ValueError, match="batch_size"):
        next(minibatches(x, y, 0))


def test_batch_indices_and_index_stream() -> None:
    batches = batch_indices(25, 10, make_generator(0), drop_last=True)
    assert [len(b) for b in batches] == [10, 10]
    stream = list(index_stream(25, 10, 7, make_generator(0)))
    assert len(stream) == 7 and all(len(b) == 10 for b in stream)
    # within each epoch, no index repeats
    epoch = torch.cat(stream[:2])
    assert len(set(epoch.tolist())) == 20
    with pytest.raises(ValueError, match="exceeds"):
        list(index_stream(5, 10, 1, make_generator(0)))
