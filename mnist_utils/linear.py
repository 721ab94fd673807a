"""The linear classifier ``scores = X W + b`` with hand-derived gradients (no autograd).

Shapes: X [B, 784], W [784, 10], b [10], one-hot Y [B, 10], scores S [B, 10].

Two losses, both averaged over the batch:

* square loss      L = 1/B * sum_i 1/2 ||s_i - y_i||^2      dL/dS = (S - Y) / B
* cross-entropy    L = 1/B * sum_i -log softmax(s_i)[y_i]   dL/dS = (softmax(S) - Y) / B

and in both cases dL/dW = X^T dL/dS and dL/db = sum over the batch of dL/dS.
The book derives these in the linear-classifier chapter; ``tests/`` checks them
against ``torch.autograd``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from mnist_utils.sampling import index_stream, make_generator, one_hot

ScoreLoss = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def init_params(features: int = 784, classes: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """W0 = 0, b0 = 0, as the assignment asks (a linear model has no symmetry to break)."""
    return torch.zeros(features, classes), torch.zeros(classes)


def square_loss(scores: torch.Tensor, y_onehot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Square loss on one-hot targets and its derivative dL/dS = (S - Y) / B."""
    residual = scores - y_onehot  # [B, 10]
    loss = 0.5 * (residual**2).sum() / len(scores)
    return loss, residual / len(scores)


def cross_entropy_loss(
    scores: torch.Tensor, y_onehot: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax cross-entropy and its derivative dL/dS = (softmax(S) - Y) / B."""
    log_probs = scores - torch.logsumexp(scores, dim=1, keepdim=True)  # stable log-softmax
    loss = -(y_onehot * log_probs).sum() / len(scores)
    return loss, (log_probs.exp() - y_onehot) / len(scores)


def loss_and_grad(
    loss_fn: ScoreLoss, x: torch.Tensor, y_onehot: torch.Tensor, w: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Forward pass, loss, and the chain rule through S = XW + b: (loss, dL/dW, dL/db)."""
    loss, d_scores = loss_fn(x @ w + b, y_onehot)  # d_scores: [B, 10]
    return loss, x.T @ d_scores, d_scores.sum(0)


LOSSES: dict[str, ScoreLoss] = {"square": square_loss, "cross_entropy": cross_entropy_loss}


def accuracy(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> float:
    return ((x @ w + b).argmax(1) == y).float().mean().item()


def least_squares(
    x: torch.Tensor, y: torch.Tensor, ridge: float = 1e-6
) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed-form minimiser of the square loss: solve [X 1]^T [X 1] theta = [X 1]^T Y.

    Border pixels are always 0, so X^T X is singular; a tiny ``ridge`` picks the
    minimum-norm solution without changing the fit. Solved in float64 for accuracy.
    """
    xa = torch.cat([x, torch.ones(len(x), 1)], dim=1).double()
    gram = xa.T @ xa + ridge * len(x) * torch.eye(xa.shape[1], dtype=torch.float64)
    theta = torch.linalg.solve(gram, xa.T @ one_hot(y).double()).float()
    return theta[:-1], theta[-1]


@dataclass
class SGDHistory:
    """What one SGD run recorded: the minibatch loss at every iteration, the rest at eval points."""

    batch_loss: list[float] = field(default_factory=list)
    iterations: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # training time only, no evaluation

    @property
    def train_seconds(self) -> float:
        return self.seconds[-1] if self.seconds else 0.0


def sgd(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    loss: str,
    lr: float,
    batch_size: int,
    iterations: int,
    seed: int = 0,
    batches: Iterable[torch.Tensor] | None = None,
    test: tuple[torch.Tensor, torch.Tensor] | None = None,
    eval_points: int = 20,
    decay: bool = False,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, SGDHistory]:
    """Minibatch SGD on the linear classifier, from W0 = 0; returns (W, b, history).

    ``batches`` (index tensors) fixes the exact sequence of minibatches; by default
    they are drawn from ``seed``: shuffled epochs, every sample once per epoch.
    With ``decay`` the step size falls linearly from ``lr`` to 0 over the run, which
    removes most of SGD's end-of-run noise. Evaluation (full training loss and
    accuracy, test accuracy) happens at
    ``eval_points`` evenly spaced iterations and is excluded from the timing.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    if batch_size < 1 or iterations < 1 or not lr > 0:
        raise ValueError("batch_size, iterations and lr must be positive")
    loss_fn = LOSSES[loss]
    y_onehot = one_hot(y)
    w, b = init_params(x.shape[1], y_onehot.shape[1])
    if batches is None:
        batches = index_stream(len(x), batch_size, iterations, make_generator(seed))
    eval_at = set(torch.linspace(0, iterations, eval_points + 1).round().long().tolist())
    history = SGDHistory()
    batch_losses = torch.empty(iterations)
    elapsed = 0.0

    def record(t: int) -> None:
        scores = x @ w + b
        history.iterations.append(t)
        history.train_loss.append(loss_fn(scores, y_onehot)[0].item())
        history.train_acc.append((scores.argmax(1) == y).float().mean().item())
        history.test_acc.append(accuracy(*test, w, b) if test is not None else float("nan"))
        history.seconds.append(elapsed)

    record(0)
    start = time.perf_counter()
    t = 0
    for idx in tqdm(batches, total=iterations, disable=not progress, leave=False):
        if len(idx) == len(x):  # full batch: the order is irrelevant, skip a 188 MB copy
            xb, yb = x, y_onehot
        else:
            xb, yb = x[idx], y_onehot[idx]
        batch_loss, grad_w, grad_b = loss_and_grad(loss_fn, xb, yb, w, b)
        step = lr * (1.0 - t / iterations) if decay else lr
        w -= step * grad_w
        b -= step * grad_b
        batch_losses[t] = batch_loss
        t += 1
        if t in eval_at:
            elapsed += time.perf_counter() - start
            record(t)
            start = time.perf_counter()
        if t == iterations:
            break
    if t < iterations:
        raise ValueError(f"only {t} minibatches were given for {iterations} iterations")
    history.batch_loss = batch_losses.tolist()
    return w, b, history
