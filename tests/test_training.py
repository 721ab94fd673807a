"""The shared trainer and the models: overfitting, evaluation side effects, determinism."""

from __future__ import annotations

import pytest
import torch

from mnist_utils.models import MLP, LeNet, ViT, count_parameters, patchify
from mnist_utils.training import TrainConfig, evaluate, fit


def _tiny_data(n: int = 32, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 28, 28, generator=gen), torch.randint(0, 10, (n,), generator=gen)


@pytest.mark.parametrize(
    ("make", "config"),
    [
        (lambda: MLP(3), TrainConfig(epochs=30, batch_size=8, lr=0.05, optimizer="sgd", momentum=0.9)),
        (lambda: LeNet(), TrainConfig(epochs=40, batch_size=8, lr=0.003)),
        (lambda: ViT(dim=32, heads=2, mlp_dim=64), TrainConfig(epochs=40, batch_size=8, lr=0.003)),
    ],
)
def test_models_overfit_a_tiny_batch(make, config) -> None:
    torch.manual_seed(0)
    x, y = _tiny_data()
    hist = fit(make(), (x, y), (x, y), config, progress=False)
    assert hist.test_acc[-1] == 1.0
    assert hist.train_loss[-1] < 0.1 * hist.train_loss[0]


def test_evaluate_changes_neither_weights_nor_batchnorm_stats() -> None:
    torch.manual_seed(0)
    model = MLP(4)
    x, y = _tiny_data(64)
    fit(model, (x, y), (x, y), TrainConfig(epochs=1, batch_size=16, lr=0.01, optimizer="sgd"),
        progress=False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    evaluate(model, 3 * x + 1, y)  # inputs with other statistics
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.training  # evaluate restores the mode it found


def test_fit_is_deterministic_under_a_seed() -> None:
    x, y = _tiny_data(64)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = LeNet()
        hist = fit(model, (x, y), (x, y), TrainConfig(epochs=2, batch_size=16, seed=7), progress=False)
        runs.append((hist.train_loss, hist.test_loss, model.state_dict()))
    assert runs[0][0] == runs[1][0] and runs[0][1] == runs[1][1]
    assert all(torch.equal(runs[0][2][k], runs[1][2][k]) for k in runs[0][2])


def test_train_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="positive"):
        TrainConfig(batch_size=0)


def test_model_shapes_and_sizes() -> None:
    x = torch.randn(5, 1, 28, 28)
    for model in (MLP(3), MLP(4), LeNet(), LeNet(double_conv=True), ViT()):
        assert model(x).shape == (5, 10)
    assert count_parameters(MLP(4)) - count_parameters(MLP(3)) == 512 * 512 + 512 + 2 * 512
    assert count_parameters(LeNet()) == 44426


def test_patchify_matches_unfold() -> None:
    x = torch.randn(2, 1, 28, 28)
    ours = patchify(x, 7)
    ref = torch.nn.functional.unfold(x, kernel_size=7, stride=7).transpose(1, 2)
    torch.testing.assert_close(ours, ref)
    with pytest.raises(ValueError, match="divisible"):
        patchify(x, 5)


def test_vit_class_token_attention() -> None:
    torch.manual_seed(0)
    model = ViT(depth=2)
    attn = model.class_token_attention(torch.randn(3, 1, 28, 28))
    assert attn.shape == (2, 3, 16)
    # weights over the patches: positive, and at most 1 (the rest goes to the class token)
    assert (attn > 0).all() and (attn.sum(-1) <= 1 + 1e-5).all()
    assert model.training  # restored


def test_fit_evaluates_every_k_epochs_and_at_the_end() -> None:
    x, y = _tiny_data(16)
    torch.manual_seed(0)
    hist = fit(MLP(3), (x, y), (x, y), TrainConfig(epochs=7, batch_size=8), progress=False,
               eval_every=3)
    assert hist.epochs == [3, 6, 7]
    assert len(hist.test_acc) == len(hist.train_loss) == 3
    assert len(hist.epoch_seconds) == 7


def test_random_shift_translates_each_image_and_keeps_shapes() -> None:
    from mnist_utils.sampling import make_generator
    from mnist_utils.training import random_shift

    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 13, 13] = 1.0  # one bright pixel in the middle
    out = random_shift(x, 2, make_generator(0))
    assert out.shape == x.shape
    rows, cols = torch.nonzero(out[:, 0])[:, 1], torch.nonzero(out[:, 0])[:, 2]
    assert len(rows) == 64  # the pixel moved, but stayed inside every image
    assert rows.min() >= 11 and rows.max() <= 15 and cols.min() >= 11 and cols.max() <= 15
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 10  # images get different offsets
    torch.testing.assert_close(random_shift(x, 0, make_generator(0)), x)
