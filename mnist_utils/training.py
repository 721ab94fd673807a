"""The training loop shared by every neural network of the book.

Written in the style of PyTorch's reference scripts: an explicit ``train_one_epoch``
and ``evaluate``, the model switched between ``train()`` and ``eval()``, evaluation
under ``torch.inference_mode``. Batches are sliced from tensors that already sit on
the device (``sampling.minibatches``), which on a CPU is several times faster than a
``DataLoader`` that converts images one at a time.

Seeding, in one place: ``runtime.seed_everything(seed)`` *before building a model*
fixes its initial weights; ``TrainConfig.seed`` fixes everything random during
training (batch order, augmentation offsets) through a generator of its own. Same
seeds, same machine: the same run, to the last bit on a CPU.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from mnist_utils.augment import random_offsets, shift_images
from mnist_utils.history import History
from mnist_utils.optimizers import lr_factor
from mnist_utils.params import ParameterError, positive_int
from mnist_utils.sampling import make_generator, minibatches

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "cosine")
PRECISIONS = ("auto", "float32", "bf16")
Data = tuple[torch.Tensor, torch.Tensor]  # images [N, ...] and integer labels [N]


@dataclass(frozen=True)
class TrainConfig:
    """How to train a network. Field names match the chapters' parameter names."""

    epochs: int = 5  # passes over the training data
    batch_size: int = 64  # images per optimizer step
    lr: float = 1e-3  # peak learning rate
    optimizer: str = "adam"  # one of OPTIMIZERS
    momentum: float = 0.0  # for sgd and rmsprop
    weight_decay: float = 0.0  # L2 penalty (decoupled for adamw)
    schedule: str = "constant"  # learning rate after warm-up: constant, or cosine decay to 0
    warmup_epochs: float = 0.0  # linear warm-up from 0 over this many epochs
    shift: int = 0  # augmentation: random translations of up to this many pixels (0: none)
    seed: int = 0  # batch order and augmentation (not the initial weights: see module doc)
    # float32 everywhere; bf16: autocast the forward pass to bfloat16 (opt-in); auto: float32,
    # with TF32 matrix products on a CUDA GPU (cuDNN's convolutions use TF32 by default anyway)
    precision: str = "auto"

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            positive_int(name, getattr(self, name))
        if not self.lr > 0:
            raise ParameterError(f"parameter `lr` must be positive, got {self.lr!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ParameterError(f"parameter `optimizer` must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.precision not in PRECISIONS:
            raise ParameterError(f"parameter `precision` must be one of {PRECISIONS}, got {self.precision!r}")
        if self.schedule not in SCHEDULES:
            raise ParameterError(f"parameter `schedule` must be one of {SCHEDULES}, got {self.schedule!r}")
        for name in ("momentum", "weight_decay", "warmup_epochs", "shift"):
            if getattr(self, name) < 0:
                raise ParameterError(f"parameter `{name}` must be 0 or positive, got {getattr(self, name)!r}")


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params, lr, wd, mom = model.parameters(), config.lr, config.weight_decay, config.momentum
    builders = {
        "sgd": lambda: torch.optim.SGD(params, lr=lr, momentum=mom, weight_decay=wd),
        "adam": lambda: torch.optim.Adam(params, lr=lr, weight_decay=wd),
        "adamw": lambda: torch.optim.AdamW(params, lr=lr, weight_decay=wd),
        "rmsprop": lambda: torch.optim.RMSprop(params, lr=lr, momentum=mom, weight_decay=wd),
    }
    return builders[config.optimizer]()  # TrainConfig has already rejected unknown names


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-step learning-rate factor: linear warm-up, then constant or cosine decay to 0."""
    total = config.epochs * steps_per_epoch
    warmup = int(config.warmup_epochs * steps_per_epoch)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, functools.partial(lr_factor, total=total, warmup=warmup, schedule=config.schedule))


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: Data,
    config: TrainConfig,
    *,
    generator: torch.Generator,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    fill: float = 0.0,
) -> tuple[float, float]:
    """One pass over ``data`` in shuffled minibatches; the running mean loss and accuracy.

    With ``config.shift`` > 0 each batch is randomly translated first, shifting in
    the background value ``fill``.
    """
    model.train()
    x, y = data
    # Accumulate on the device: no host synchronisation per batch on a GPU.
    total_loss = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.long)
    batches = minibatches(x, y, config.batch_size, generator=generator)
    if config.shift:  # the whole epoch's offsets in one draw and one copy to the device
        offsets = random_offsets(len(x), config.shift, generator).to(x.device).split(config.batch_size)
    for k, (xb, yb) in enumerate(batches):
        if config.shift:
            xb = shift_images(xb, offsets[k], config.shift, fill)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16"):
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total_loss += loss.detach() * len(yb)
        correct += (logits.argmax(1) == yb).sum()
    return total_loss.item() / len(x), correct.item() / len(x)


@torch.inference_mode()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """Logits [N, classes] for x, in eval mode (BatchNorm uses running statistics)."""
    was_training = model.training
    model.eval()
    out = torch.cat([model(xb) for xb in x.split(batch_size)])
    model.train(was_training)
    return out


def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 2000
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy on (x, y); changes neither weights nor statistics."""
    logits = predict(model, x, batch_size)
    loss = F.cross_entropy(logits, y).item()
    return loss, (logits.argmax(1) == y).float().mean().item()


def fit(
    model: nn.Module,
    train: Data,
    config: TrainConfig,
    *,
    evaluate_on: Mapping[str, Data] | None = None,
    eval_every: int = 1,
    progress: bool = True,
    desc: str = "epochs",
) -> History:
    """Train ``model`` on ``train`` for ``config.epochs``; record every ``eval_every`` epochs.

    Each record holds the running training loss and accuracy of the epoch just trained
    and a full evaluation on every set of ``evaluate_on`` (e.g. ``{"val": (x, y)}``);
    the last epoch is always recorded. The tensors must already be on the model's device.
    """
    positive_int("eval_every", eval_every)
    if len(train[0]) != len(train[1]):
        raise ValueError(f"training images and labels differ in length: {len(train[0])} vs {len(train[1])}")
    evaluate_on = dict(evaluate_on or {})
    if any(isinstance(m, nn.Conv2d) for m in model.modules()):
        # Same weights, another layout: oneDNN's convolutions and pooling run faster on
        # channels-last tensors (bench/README.md); on a GPU it suits cuDNN too.
        model.to(memory_format=torch.channels_last)
    generator = make_generator(config.seed)
    optimizer = make_optimizer(model, config)
    steps_per_epoch = -(-len(train[0]) // config.batch_size)
    scheduler = make_scheduler(optimizer, config, steps_per_epoch)
    fill = float(train[0].min()) if config.shift else 0.0  # the background, read once
    history = History()
    seconds = 0.0
    bar = tqdm(range(config.epochs), desc=desc, disable=not progress, leave=False)
    with _matmul_precision(config, train[0].device):
        for epoch in bar:
            start = time.perf_counter()
            running = train_one_epoch(model, optimizer, train, config, generator=generator,
                                      scheduler=scheduler, fill=fill)
            if train[0].device.type == "cuda":
                torch.cuda.synchronize()
            seconds += time.perf_counter() - start
            if (epoch + 1) % eval_every and epoch + 1 < config.epochs:
                continue
            evaluations = {name: evaluate(model, *data) for name, data in evaluate_on.items()}
            history.record(step=(epoch + 1) * steps_per_epoch, epoch=epoch + 1, seconds=seconds,
                           running=running, evaluations=evaluations)
            bar.set_postfix(loss=f"{running[0]:.3f}")
    return history


@contextmanager
def _matmul_precision(config: TrainConfig, device: torch.device) -> Iterator[None]:
    """TF32 matrix products for one ``fit`` on a CUDA GPU (precision "auto"), restored after."""
    previous = torch.get_float32_matmul_precision()
    if config.precision == "auto" and device.type == "cuda":
        torch.set_float32_matmul_precision("high")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)
