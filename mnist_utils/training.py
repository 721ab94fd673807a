"""One small trainer for every network in the book: fit, train one epoch, evaluate.

Shaped like PyTorch's ``examples/mnist``: ``train_one_epoch`` and ``evaluate`` are
explicit functions, the model is switched between ``train()`` and ``eval()``, and
evaluation runs under ``torch.inference_mode``. Batches are sliced from tensors that
already sit on the device (see ``sampling.minibatches``), which on a CPU is several
times faster than a ``DataLoader`` that converts images one at a time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from mnist_utils.sampling import make_generator, minibatches

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimizer, learning rate and its schedule, batch size, epochs."""

    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    shift: int = 0  # data augmentation: random translations of up to this many pixels
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ValueError(f"epochs, batch_size and lr must be positive: {self}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.shift < 0:
            raise ValueError(f"shift must be 0 or positive, got {self.shift}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")


@dataclass
class History:
    """Curves of one run at its evaluated epochs (accuracies are fractions in [0, 1]).

    ``train_*`` are averages over the epoch just trained; ``epoch_seconds`` has one entry
    per epoch trained, evaluated or not.
    """

    epochs: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)

    @property
    def train_seconds(self) -> float:
        return float(sum(self.epoch_seconds))


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = model.parameters()
    lr, wd = config.lr, config.weight_decay
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=config.momentum, weight_decay=wd)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    return torch.optim.RMSprop(params, lr=lr, momentum=config.momentum, weight_decay=wd)


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-step learning-rate factor: linear warm-up, then constant or cosine decay to 0."""
    total = config.epochs * steps_per_epoch
    warmup = int(config.warmup_epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if config.schedule == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + torch.cos(torch.tensor(torch.pi * progress)).item())

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image [B, C, H, W] by its own random (dy, dx) in [-max_shift, max_shift].

    Pixels shifted in are filled with the batch's background value (its minimum).
    """
    b, _, h, w = images.shape
    padded = F.pad(images, (max_shift,) * 4, value=float(images.min()))
    offsets = torch.randint(0, 2 * max_shift + 1, (2, b), generator=generator).to(images.device)
    rows = (offsets[0, :, None] + torch.arange(h, device=images.device))[:, :, None]  # [B, H, 1]
    cols = (offsets[1, :, None] + torch.arange(w, device=images.device))[:, None, :]  # [B, 1, W]
    batch = torch.arange(b, device=images.device)[:, None, None]
    return padded[batch, :, rows, cols].permute(0, 3, 1, 2)  # [B, H, W, C] -> [B, C, H, W]


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    shift: int = 0,
) -> tuple[float, float]:
    """One pass over (x, y) in shuffled minibatches; returns mean loss and accuracy.

    With ``shift`` > 0 each image is randomly translated first (``random_shift``).
    """
    model.train()
    total_loss = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.long)
    for xb, yb in minibatches(x, y, batch_size, generator=generator):
        if shift:
            xb = random_shift(xb, shift, generator)
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        # Accumulate on the device: no .item() sync per batch on a GPU.
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
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    config: TrainConfig,
    *,
    progress: bool = True,
    desc: str = "epochs",
    eval_every: int = 1,
) -> History:
    """Train ``model`` on ``train`` for ``config.epochs``, evaluating on ``test``.

    Evaluation happens every ``eval_every`` epochs and after the last one (long runs on
    small subsets need not pay for thousands of evaluations). The tensors must already
    be on the model's device. ``config.seed`` fixes the batch order and any randomness
    during training (dropout); seed before building the model to fix its initial weights
    too, and on a CPU the whole run repeats exactly.
    """
    if eval_every < 1:
        raise ValueError(f"eval_every must be at least 1, got {eval_every}")
    torch.manual_seed(config.seed)
    generator = make_generator(config.seed)
    optimizer = make_optimizer(model, config)
    steps = -(-len(train[0]) // config.batch_size)
    scheduler = make_scheduler(optimizer, config, steps)
    history = History()
    bar = tqdm(range(config.epochs), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        start = time.perf_counter()
        loss, acc = train_one_epoch(
            model, optimizer, *train, config.batch_size, generator, scheduler, config.shift
        )
        if train[0].device.type == "cuda":
            torch.cuda.synchronize()
        history.epoch_seconds.append(time.perf_counter() - start)
        if (epoch + 1) % eval_every and epoch + 1 < config.epochs:
            continue
        test_loss, test_acc = evaluate(model, *test)
        history.epochs.append(epoch + 1)
        history.train_loss.append(loss)
        history.train_acc.append(acc)
        history.test_loss.append(test_loss)
        history.test_acc.append(test_acc)
        bar.set_postfix(loss=f"{loss:.3f}", test_acc=f"{test_acc:.4f}")
    return history
