"""Subsets, one-hot labels and minibatches over tensors that already sit in memory.

The chapters train small models on a CPU, where a ``DataLoader`` with per-sample
indexing costs more than the model itself. Everything here works on whole tensors:
a random permutation, then slices. Every random choice takes an explicit
``torch.Generator`` so that two runs (or a hand-coded and a PyTorch run) can be fed
exactly the same samples.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from mnist_utils.params import positive_int


def make_generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed`` (indices are drawn on the CPU, then moved)."""
    return torch.Generator().manual_seed(seed)


def one_hot(labels: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """int labels [N] -> float32 one-hot matrix [N, num_classes]."""
    if labels.dim() != 1:
        raise ValueError(f"labels must be 1-D, got shape {tuple(labels.shape)}")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got {labels.min()}..{labels.max()}")
    out = torch.zeros(len(labels), num_classes, dtype=torch.float32, device=labels.device)
    out[torch.arange(len(labels), device=labels.device), labels] = 1.0
    return out


def random_subset(
    n_total: int, size: int, generator: torch.Generator, *, name: str = "size"
) -> torch.Tensor:
    """``size`` distinct indices drawn uniformly from ``range(n_total)`` (no replacement).

    ``name`` is the chapter parameter that set ``size``, for the error message.
    """
    positive_int(name, size, at_most=n_total, what=f"the {n_total} available samples")
    return torch.randperm(n_total, generator=generator)[:size]


def balanced_subset(
    labels: torch.Tensor, per_class: int, generator: torch.Generator, *, name: str = "per_class"
) -> torch.Tensor:
    """Indices of ``per_class`` random samples of every class, shuffled together.

    ``name`` is the chapter parameter that set ``per_class``, for the error message.
    """
    classes = torch.unique(labels)
    counts = torch.bincount(labels)
    smallest = int(counts[classes].min())
    positive_int(name, per_class, at_most=smallest, what=f"{smallest} images per class (the smallest class)")
    picks = []
    for c in classes.tolist():
        members = torch.nonzero(labels == c).squeeze(1)
        picks.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    chosen = torch.cat(picks)
    return chosen[torch.randperm(len(chosen), generator=generator)]


def batch_indices(
    n: int, batch_size: int, generator: torch.Generator, *, drop_last: bool = False
) -> list[torch.Tensor]:
    """One epoch of shuffled minibatch indices: every sample exactly once."""
    positive_int("batch_size", batch_size)
    order = torch.randperm(n, generator=generator)
    batches = list(order.split(batch_size))
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


def index_stream(
    n: int, batch_size: int, iterations: int, generator: torch.Generator
) -> Iterator[torch.Tensor]:
    """``iterations`` minibatches of indices, reshuffling whenever an epoch runs out.

    Every batch has exactly ``batch_size`` samples (a partial tail is dropped unless
    it is the only batch), so per-iteration losses are comparable.
    """
    if batch_size > n:
        raise ValueError(f"batch_size {batch_size} exceeds the {n} training samples")
    produced = 0
    while produced < iterations:
        for idx in batch_indices(n, batch_size, generator, drop_last=True):
            if produced == iterations:
                return
            yield idx
            produced += 1


def minibatches(
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    *,
    shuffle: bool = True,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x[idx], y[idx])`` minibatches over one epoch of in-memory tensors."""
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} vs {len(y)}")
    positive_int("batch_size", batch_size)
    if shuffle:
        order = torch.randperm(len(x), generator=generator).to(x.device)
        for idx in order.split(batch_size):
            yield x[idx], y[idx]
    else:
        for start in range(0, len(x), batch_size):
            yield x[start : start + batch_size], y[start : start + batch_size]
