"""The linear classifier ``scores = X W + b`` with hand-derived gradients (no autograd).

Shapes: X [B, 784], W [784, 10], b [10], one-hot Y [B, 10], scores S [B, 10].

Three losses, all averaged over the batch:

* square loss      L = 1/B * sum_i 1/2 ||s_i - y_i||^2      dL/dS = (S - Y) / B
* cross-entropy    L = 1/B * sum_i -log softmax(s_i)[y_i]   dL/dS = (softmax(S) - Y) / B
* softmax + square L = 1/B * sum_i 1/2 ||p_i - y_i||^2, p_i = softmax(s_i)
                   dL/ds_i = (diag(p_i) - p_i p_i^T)(p_i - y_i) / B

and in both cases dL/dW = X^T dL/dS and dL/db = sum over the batch of dL/dS.
The book derives these in the linear-classifier chapter; ``tests/`` checks them
against ``torch.autograd``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import torch
from tqdm.auto import tqdm

from mnist_utils.history import History, accuracy
from mnist_utils.params import ParameterError, positive_int
from mnist_utils.sampling import index_stream, make_generator, one_hot
from mnist_utils.search import SearchResult, bracketed_search

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


def softmax_square_loss(
    scores: torch.Tensor, y_onehot: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Square loss between softmax probabilities and one-hot targets, and dL/dS.

    dL/ds_i = (diag(p_i) - p_i p_i^T) r_i / B with r_i = p_i - y_i: the softmax Jacobian
    times the residual, which vanishes as p_i saturates (the reason it trains slowly).
    """
    p = torch.softmax(scores, dim=1)
    residual = p - y_onehot  # [B, 10]
    loss = 0.5 * (residual**2).sum() / len(scores)
    # the Jacobian product row by row, without forming the [B, 10, 10] Jacobians
    d_scores = p * (residual - (p * residual).sum(1, keepdim=True)) / len(scores)
    return loss, d_scores


def loss_and_grad(
    loss_fn: ScoreLoss, x: torch.Tensor, y_onehot: torch.Tensor, w: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Forward pass, loss, and the chain rule through S = XW + b: (loss, dL/dW, dL/db)."""
    loss, d_scores = loss_fn(x @ w + b, y_onehot)  # d_scores: [B, 10]
    return loss, x.T @ d_scores, d_scores.sum(0)


LOSSES: dict[str, ScoreLoss] = {
    "square": square_loss,
    "cross_entropy": cross_entropy_loss,
    "softmax_square": softmax_square_loss,
}
Data = tuple[torch.Tensor, torch.Tensor]  # flattened images [N, 784] and integer labels [N]


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


@dataclass(frozen=True)
class SGDConfig:
    """How to run the hand-coded SGD. Field names match the chapters' parameter names."""

    loss: str = "cross_entropy"  # one of LOSSES
    lr: float = 0.5  # step size eta (the peak, with decay)
    batch_size: int = 100  # B, images per step
    iterations: int = 1000  # optimizer steps t
    decay: bool = True  # step size falls linearly from lr to 0 over the run
    seed: int = 0  # the minibatch order

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ParameterError(f"parameter `loss` must be one of {sorted(LOSSES)}, got {self.loss!r}")
        for name in ("batch_size", "iterations"):
            positive_int(name, getattr(self, name))
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not self.lr > 0:
            raise ParameterError(f"parameter `lr` must be a positive number, got {self.lr!r}")


def sgd(
    x: torch.Tensor,
    y: torch.Tensor,
    config: SGDConfig,
    *,
    evaluate_on: Mapping[str, Data] | None = None,
    eval_points: int = 20,
    batches: Iterable[torch.Tensor] | None = None,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, History]:
    """Minibatch SGD on the linear classifier, from W0 = 0; returns (W, b, history).

    ``batches`` (index tensors) fixes the exact sequence of minibatches; by default
    they are drawn from ``config.seed``: shuffled epochs, every sample once per epoch.
    At ``eval_points`` evenly spaced iterations (and at t = 0) the history records the
    running minibatch loss and accuracy since the last record and a full evaluation on
    each set of ``evaluate_on`` (pass ``{"train": (x, y)}`` for the whole-training-set
    loss); evaluations are excluded from ``seconds``.
    """
    if config.batch_size > len(x):
        raise ParameterError(
            f"parameter `batch_size` ({config.batch_size}) exceeds the {len(x)} training images")
    positive_int("eval_points", eval_points)
    loss_fn, n_iter = LOSSES[config.loss], config.iterations
    evaluate_on = dict(evaluate_on or {})
    y_onehot = one_hot(y)
    w, b = init_params(x.shape[1], y_onehot.shape[1])
    if batches is None:
        batches = index_stream(len(x), config.batch_size, n_iter, make_generator(config.seed))
    eval_at = set(torch.linspace(0, n_iter, eval_points + 1).round().long().tolist())
    history = History()
    batch_losses = torch.empty(n_iter)
    batch_correct = torch.empty(n_iter)
    elapsed, last = 0.0, 0

    def record(t: int) -> None:
        evaluations = {}
        for name, (xe, ye) in evaluate_on.items():
            scores = xe @ w + b
            evaluations[name] = (loss_fn(scores, one_hot(ye))[0].item(), accuracy(scores, ye))
        running = ((batch_losses[last:t].mean().item(), batch_correct[last:t].mean().item())
                   if t > last else (math.nan, math.nan))
        history.record(step=t, epoch=t * config.batch_size / len(x), seconds=elapsed,
                       running=running, evaluations=evaluations)

    record(0)
    start = time.perf_counter()
    t = 0
    for idx in tqdm(batches, total=n_iter, disable=not progress, leave=False):
        if len(idx) == len(x):  # full batch: the order is irrelevant, skip a 188 MB copy
            xb, yb, labels = x, y_onehot, y
        else:
            xb, yb, labels = x[idx], y_onehot[idx], y[idx]
        scores = xb @ w + b
        batch_loss, d_scores = loss_fn(scores, yb)
        step = config.lr * (1.0 - t / n_iter) if config.decay else config.lr
        w -= step * (xb.T @ d_scores)  # dL/dW = X^T dL/dS, as in loss_and_grad
        b -= step * d_scores.sum(0)
        batch_losses[t] = batch_loss
        batch_correct[t] = (scores.argmax(1) == labels).float().mean()
        t += 1
        if t in eval_at:
            elapsed += time.perf_counter() - start
            record(t)
            last = t
            start = time.perf_counter()
        if t == n_iter:
            break
    if t < n_iter:
        raise ValueError(f"only {t} minibatches were given for {n_iter} iterations")
    history.batch_loss = batch_losses.tolist()
    return w, b, history


def search_lr(
    train: Data,
    val: Data,
    config: SGDConfig,
    grid: Sequence[float],
    *,
    max_extensions: int = 3,
) -> SearchResult:
    """The step size of ``grid`` (extended past an edge optimum) with the best validation
    accuracy after a run of ``config``; a diverging run scores 0."""

    def score(lr: float) -> float:
        w, b, hist = sgd(*train, replace(config, lr=lr), eval_points=1)
        if not (math.isfinite(hist.running_loss[-1]) and torch.isfinite(w).all()):
            return 0.0
        return accuracy(val[0] @ w + b, val[1])

    return bracketed_search(score, grid, max_extensions=max_extensions)
