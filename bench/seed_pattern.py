"""The seed assignments' way of feeding a model: torchvision's MNIST through PIL, a DataLoader,
a plain loop with ``loss.item()`` per batch. The benchmarks time the book's path against it.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from mnist_utils.data import default_cache_dir
from mnist_utils.sampling import make_generator


def torchvision_dataset(train: bool):
    """The seeds' pattern: a torchvision dataset that converts each image through PIL."""
    from torchvision import datasets, transforms

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    return datasets.MNIST(str(default_cache_dir()), train=train, download=False, transform=tf)


def seed_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, batches: Iterable,
               device: torch.device, flat: bool = False, limit: int | None = None) -> None:
    """The seeds' training loop: batches from a DataLoader, moved to the device one by one."""
    model.train()
    running_loss = 0.0
    for i, (xb, yb) in enumerate(batches):
        if limit is not None and i == limit:
            break
        xb, yb = xb.to(device), yb.to(device)
        loss = F.cross_entropy(model(xb.flatten(1) if flat else xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running_loss += loss.item()


def seed_loader(dataset, batch_size: int) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=make_generator(0))


def seed_load() -> None:
    train, test = torchvision_dataset(True), torchvision_dataset(False)
    torch.stack([img.view(-1) for img, _ in train])
    torch.stack([img.view(-1) for img, _ in test])
