"""The from-scratch building blocks equal PyTorch's: convolution, pooling, optimizers, norms."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mnist_utils import conv, normalization, optimizers
from mnist_utils.training import TrainConfig, make_scheduler


def _double(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("implementation", [conv.conv2d_loop, conv.conv2d_unfold])
@pytest.mark.parametrize(("stride", "padding"), [(1, 0), (1, 2), (2, 1)])
def test_convolution_equals_pytorch(implementation, stride: int, padding: int) -> None:
    """Values and gradients (float64, so that round-off cannot hide a slip)."""
    x = _double(2, 3, 9, 8, seed=1).requires_grad_()
    w = _double(4, 3, 3, 3, seed=2).requires_grad_()
    b = _double(4, seed=3).requires_grad_()
    ours = implementation(x, w, b, stride=stride, padding=padding)
    theirs = F.conv2d(x, w, b, stride=stride, padding=padding)
    torch.testing.assert_close(ours, theirs)
    upstream = _double(*theirs.shape, seed=4)
    grads = torch.autograd.grad((ours * upstream).sum(), (x, w, b))
    expected = torch.autograd.grad((theirs * upstream).sum(), (x, w, b))
    for g, e in zip(grads, expected):
        torch.testing.assert_close(g, e)


def test_output_size_and_a_kernel_that_does_not_fit() -> None:
    assert conv.conv_output_size(28, 5) == 24 and conv.conv_output_size(28, 5, padding=2) == 28
    assert conv.conv_output_size(24, 2, stride=2) == 12
    with pytest.raises(ValueError, match="kernel=7"):
        conv.conv_output_size(4, 7)


def test_max_pooling_equals_pytorch() -> None:
    x = _double(2, 3, 8, 6).requires_grad_()
    ours, theirs = conv.max_pool2d(x, 2), F.max_pool2d(x, 2)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(torch.autograd.grad(ours.sum(), x)[0], torch.autograd.grad(theirs.sum(), x)[0])
    torch.testing.assert_close(conv.max_pool2d(x, 3, stride=1), F.max_pool2d(x, 3, stride=1))


def _three_steps(make_torch, ours) -> None:
    """Same start, same gradients for three steps: the weights must agree."""
    ref = [_double(5, 4, seed=7), _double(4, seed=8)]
    mine = [p.clone() for p in ref]
    for p in ref + mine:
        p.requires_grad_()
    opt = make_torch(ref)
    for step in range(3):
        for a, b, seed in zip(ref, mine, (10, 11)):
            a.grad = _double(*a.shape, seed=seed + 10 * step)
            b.grad = a.grad.clone()
        opt.step()
        ours.step(mine)
        for a, b in zip(ref, mine):
            torch.testing.assert_close(a.detach(), b.detach())


def test_sgd_with_momentum_and_weight_decay() -> None:
    _three_steps(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
                 optimizers.SGDMomentum(lr=0.1, momentum=0.9, weight_decay=0.01))


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_and_adamw(decoupled: bool) -> None:
    make = torch.optim.AdamW if decoupled else torch.optim.Adam
    _three_steps(lambda p: make(p, lr=0.01, weight_decay=0.1),
                 optimizers.Adam(lr=0.01, weight_decay=0.1, decoupled=decoupled))


@pytest.mark.parametrize("schedule", ["cosine", "constant"])
def test_the_schedule_is_the_one_training_uses(schedule: str) -> None:
    config = TrainConfig(epochs=3, lr=0.5, warmup_epochs=1, schedule=schedule)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.lr)
    scheduler = make_scheduler(optimizer, config, steps_per_epoch=4)
    for step in range(12):
        expected = config.lr * optimizers.lr_factor(step, total=12, warmup=4, schedule=schedule)
        assert optimizer.param_groups[0]["lr"] == pytest.approx(expected)
        optimizer.step()
        scheduler.step()


@pytest.mark.parametrize("shape", [(16, 5), (8, 5, 4, 3)])
def test_batch_norm_in_training_and_evaluation(shape: tuple[int, ...]) -> None:
    layer = (nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d)(5).double()
    with torch.no_grad():
        layer.weight.copy_(_double(5, seed=1))
        layer.bias.copy_(_double(5, seed=2))
    mean, var = torch.zeros(5, dtype=torch.float64), torch.ones(5, dtype=torch.float64)
    for seed in (3, 4):  # two training batches move the running statistics
        x = _double(*shape, seed=seed) * 3 + 1
        ours = normalization.batch_norm(x, layer.weight, layer.bias, mean, var, training=True)
        torch.testing.assert_close(ours, layer.train()(x))
    torch.testing.assert_close(mean, layer.running_mean)
    torch.testing.assert_close(var, layer.running_var)
    x = _double(*shape, seed=5)
    ours = normalization.batch_norm(x, layer.weight, layer.bias, mean, var, training=False)
    torch.testing.assert_close(ours, layer.eval()(x))


def test_layer_norm_and_dropout() -> None:
    layer = nn.LayerNorm(6).double()
    with torch.no_grad():
        layer.weight.copy_(_double(6, seed=1))
        layer.bias.copy_(_double(6, seed=2))
    x = _double(3, 4, 6, seed=3)
    torch.testing.assert_close(normalization.layer_norm(x, layer.weight, layer.bias), layer(x))
    gen = torch.Generator().manual_seed(0)
    y = normalization.dropout(torch.ones(10_000), 0.25, training=True, generator=gen)
    assert torch.allclose(y[y != 0], torch.tensor(4 / 3))
    assert abs((y == 0).float().mean().item() - 0.25) < 0.02
    assert torch.equal(normalization.dropout(x, 0.5, training=False), x)
    with pytest.raises(ValueError, match="dropout probability"):
        normalization.dropout(x, 1.0, training=True)
