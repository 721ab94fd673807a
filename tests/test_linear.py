"""The hand-coded linear classifier: gradients vs autograd, one SGD step, PyTorch equivalence."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mnist_utils.linear import (
    SGDConfig,
    cross_entropy_loss,
    least_squares,
    loss_and_grad,
    search_lr,
    sgd,
    softmax_square_loss,
    square_loss,
)
from mnist_utils.params import ParameterError
from mnist_utils.sampling import index_stream, make_generator, one_hot


def _problem(n: int = 64, d: int = 20, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d, generator=gen)
    y = torch.randint(0, 10, (n,), generator=gen)
    w = 0.1 * torch.randn(d, 10, generator=gen)
    b = 0.1 * torch.randn(10, generator=gen)
    return x, y, w, b


@pytest.mark.parametrize(
    ("ours", "reference"),
    [
        (square_loss, lambda s, y: 0.5 * F.mse_loss(s, one_hot(y), reduction="sum") / len(s)),
        (cross_entropy_loss, lambda s, y: F.cross_entropy(s, y)),
        (softmax_square_loss,
         lambda s, y: 0.5 * F.mse_loss(torch.softmax(s, 1), one_hot(y), reduction="sum") / len(s)),
    ],
)
def test_gradients_match_autograd(ours, reference) -> None:
    x, y, w, b = _problem()
    loss, dw, db = loss_and_grad(ours, x, one_hot(y), w, b)
    wt, bt = w.clone().requires_grad_(), b.clone().requires_grad_()
    ref = reference(x @ wt + bt, y)
    gw, gb = torch.autograd.grad(ref, (wt, bt))
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    torch.testing.assert_close(dw, gw, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(db, gb, rtol=1e-4, atol=1e-6)
    assert dw.abs().max() > 1e-3  # the check is not vacuous


def test_cross_entropy_is_stable_for_huge_scores() -> None:
    scores = torch.tensor([[1000.0, 0.0], [0.0, -1000.0]])
    loss, grad = cross_entropy_loss(scores, torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    assert torch.isfinite(loss) and torch.isfinite(grad).all()
    assert loss.item() == pytest.approx(500.0)


def test_one_sgd_step_by_hand() -> None:
    x, y, _, _ = _problem(n=40)
    idx = torch.arange(8, 18)
    w, b, hist = sgd(x, y, SGDConfig(lr=0.3, batch_size=10, iterations=1), batches=[idx],
                     eval_points=1)
    # from W0 = 0 all scores are 0, softmax is uniform: dL/dS = (1/10 - Y) / B
    d_scores = (torch.full((10, 10), 0.1) - one_hot(y[idx])) / 10
    torch.testing.assert_close(w, -0.3 * x[idx].T @ d_scores)
    torch.testing.assert_close(b, -0.3 * d_scores.sum(0))
    assert hist.batch_loss[0] == pytest.approx(torch.log(torch.tensor(10.0)).item())


def test_sgd_matches_nn_linear_and_optim_sgd() -> None:
    x, y, _, _ = _problem(n=200, d=30, seed=1)
    batches = list(index_stream(200, 20, 50, make_generator(0)))
    w, b, _ = sgd(x, y, SGDConfig(lr=0.5, batch_size=20, iterations=50, decay=False),
                  batches=batches, eval_points=1)
    model = nn.Linear(30, 10)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for idx in batches:
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    diff = (w - model.weight.detach().T).abs().max().item()
    assert diff < 1e-5
    assert w.abs().max() > 0.1  # the models moved away from zero


def test_sgd_learns_and_records_history() -> None:
    gen = torch.Generator().manual_seed(0)
    centers = 3 * torch.randn(10, 5, generator=gen)
    y = torch.randint(0, 10, (500,), generator=gen)
    x = centers[y] + 0.3 * torch.randn(500, 5, generator=gen)
    _, _, hist = sgd(x, y, SGDConfig(lr=0.5, batch_size=50, iterations=200),
                     evaluate_on={"train": (x, y)}, eval_points=4)
    assert hist.step == [0, 50, 100, 150, 200]
    assert hist.epoch == [0.0, 5.0, 10.0, 15.0, 20.0]
    assert len(hist.batch_loss) == 200
    assert hist.loss["train"][-1] < 0.5 * hist.loss["train"][0]
    assert hist.final("train") > 0.9
    # the running mean of the last records equals the mean of those minibatch losses
    assert hist.running_loss[-1] == pytest.approx(sum(hist.batch_loss[150:]) / 50, rel=1e-5)
    assert hist.seconds == sorted(hist.seconds) and hist.seconds[0] == 0.0
    with pytest.raises(ParameterError, match="`loss`"):
        SGDConfig(loss="hinge")
    with pytest.raises(ParameterError, match="`batch_size`"):
        sgd(x, y, SGDConfig(batch_size=501))


def test_search_lr_brackets_its_optimum() -> None:
    gen = torch.Generator().manual_seed(1)
    centers = 3 * torch.randn(10, 5, generator=gen)
    y = torch.randint(0, 10, (600,), generator=gen)
    x = centers[y] + 2.0 * torch.randn(600, 5, generator=gen)
    result = search_lr((x[:400], y[:400]), (x[400:], y[400:]),
                       SGDConfig(batch_size=20, iterations=40), [1e-4, 1e-3])
    # the given grid's best (its largest value) is at the edge: larger values were added
    assert result.added and min(result.added) > 1e-3
    assert result.bracketed or len(result.added) == 3
    assert result.scores[result.best] == max(result.scores.values())


def test_least_squares_matches_lstsq() -> None:
    x, y, _, _ = _problem(n=300, d=15)
    w, b = least_squares(x, y, ridge=0.0)
    xa = torch.cat([x, torch.ones(300, 1)], 1).double()
    theta = torch.linalg.lstsq(xa, one_hot(y).double()).solution.float()
    torch.testing.assert_close(w, theta[:-1], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(b, theta[-1], atol=1e-4, rtol=1e-4)
