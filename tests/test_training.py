"""The shared trainer and the models: overfitting, evaluation side effects, determinism."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mnist_utils.models import MLP, EncoderLayer, LeNet, SelfAttention, ViT, count_parameters, patchify
from mnist_utils.params import ParameterError
from mnist_utils.training import TrainConfig, evaluate, fit, make_scheduler


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
    hist = fit(make(), (x, y), config, evaluate_on={"val": (x, y)}, progress=False)
    assert hist.final("val") == 1.0
    assert hist.running_loss[-1] < 0.1 * hist.running_loss[0]


def test_evaluate_changes_neither_weights_nor_batchnorm_stats() -> None:
    torch.manual_seed(0)
    model = MLP(4)
    x, y = _tiny_data(64)
    fit(model, (x, y), TrainConfig(epochs=1, batch_size=16, lr=0.01, optimizer="sgd"), progress=False)
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
        hist = fit(model, (x, y), TrainConfig(epochs=2, batch_size=16, seed=7, shift=1),
                   evaluate_on={"val": (x, y)}, progress=False)
        runs.append((hist.running_loss, hist.loss["val"], model.state_dict()))
    assert runs[0][0] == runs[1][0] and runs[0][1] == runs[1][1]
    assert all(torch.equal(runs[0][2][k], runs[1][2][k]) for k in runs[0][2])


def test_train_config_rejects_bad_values() -> None:
    with pytest.raises(ParameterError, match="`optimizer`"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(ParameterError, match="`batch_size`"):
        TrainConfig(batch_size=0)
    with pytest.raises(ParameterError, match="`eval_every`"):
        fit(MLP(3), _tiny_data(8), TrainConfig(), eval_every=0, progress=False)


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
    hist = fit(MLP(3), (x, y), TrainConfig(epochs=7, batch_size=8), evaluate_on={"val": (x, y)},
               progress=False, eval_every=3)
    assert hist.epoch == [3, 6, 7]
    assert hist.step == [6, 12, 14]
    assert len(hist.acc["val"]) == len(hist.running_loss) == 3
    assert hist.seconds == sorted(hist.seconds) and hist.train_seconds > 0


def test_random_shift_translates_each_image_and_keeps_shapes() -> None:
    from mnist_utils.augment import random_shift
    from mnist_utils.sampling import make_generator

    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 13, 13] = 1.0  # one bright pixel in the middle
    out = random_shift(x, 2, make_generator(0), fill=0.0)
    assert out.shape == x.shape
    rows, cols = torch.nonzero(out[:, 0])[:, 1], torch.nonzero(out[:, 0])[:, 2]
    assert len(rows) == 64  # the pixel moved, but stayed inside every image
    assert rows.min() >= 11 and rows.max() <= 15 and cols.min() >= 11 and cols.max() <= 15
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 10  # images get different offsets
    torch.testing.assert_close(random_shift(x, 0, make_generator(0), fill=0.0), x)
    filled = random_shift(torch.full((8, 1, 28, 28), 5.0), 3, make_generator(1), fill=-1.0)
    assert set(filled.unique().tolist()) <= {5.0, -1.0} and (filled == -1.0).any()


def test_cosine_schedule_with_warmup() -> None:
    model = torch.nn.Linear(2, 2)
    config = TrainConfig(epochs=2, lr=1.0, schedule="cosine", warmup_epochs=1.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = make_scheduler(optimizer, config, steps_per_epoch=4)
    lrs = []
    for _ in range(8):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[4] == pytest.approx(1.0) and lrs[7] == pytest.approx(0.5 * (1 + math.cos(math.pi * 3 / 4)))


def test_shift_images_moves_each_image_by_its_own_offset_like_roll() -> None:
    from mnist_utils.augment import random_offsets, shift_images
    from mnist_utils.sampling import make_generator

    x = torch.zeros(16, 1, 28, 28)
    x[:, :, 10:18, 9:19] = torch.rand(16, 1, 8, 10)  # content well inside: rolling wraps nothing
    offsets = random_offsets(16, 3, make_generator(3))
    assert offsets.shape == (16, 2) and offsets.abs().max() <= 3 and len(offsets.unique(dim=0)) > 4
    out = shift_images(x, offsets, 3, fill=0.0)
    for image, shifted, (dy, dx) in zip(x, out, offsets.tolist()):
        torch.testing.assert_close(shifted, torch.roll(image, shifts=(dy, dx), dims=(1, 2)))


def test_bf16_autocast_trains_and_tf32_is_scoped_to_a_cuda_fit() -> None:
    from mnist_utils.training import _matmul_precision

    torch.manual_seed(0)
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    model = LeNet()
    config = TrainConfig(epochs=30, batch_size=64, lr=3e-3, precision="bf16")
    hist = fit(model, (x, y), config, evaluate_on={"train": (x, y)}, progress=False)
    assert hist.final("train") > 0.9  # the bf16 forward pass still fits a tiny batch
    with pytest.raises(ParameterError, match="precision"):
        TrainConfig(precision="fp8")
    before = torch.get_float32_matmul_precision()
    with _matmul_precision(TrainConfig(), torch.device("cuda")):  # the device object needs no GPU
        assert torch.get_float32_matmul_precision() == "high"
    with _matmul_precision(TrainConfig(precision="float32"), torch.device("cuda")):
        assert torch.get_float32_matmul_precision() == before
    assert torch.get_float32_matmul_precision() == before


def test_encoder_layer_matches_pytorchs_transformer_encoder_layer() -> None:
    """The written-out layer computes what nn.TransformerEncoderLayer (pre-norm, GELU, no
    dropout) computes with the same weights, and its attention weights are nn.MultiheadAttention's."""
    torch.manual_seed(0)
    dim, heads, mlp_dim = 32, 4, 48
    ours = EncoderLayer(dim, heads, mlp_dim)
    theirs = nn.TransformerEncoderLayer(dim, heads, mlp_dim, 0.0, activation="gelu", batch_first=True,
                                        norm_first=True).eval()
    with torch.no_grad():
        theirs.self_attn.in_proj_weight.copy_(ours.attn.qkv.weight)
        theirs.self_attn.in_proj_bias.copy_(ours.attn.qkv.bias)
        theirs.self_attn.out_proj.weight.copy_(ours.attn.out.weight)
        theirs.self_attn.out_proj.bias.copy_(ours.attn.out.bias)
        for mine, other in [(ours.norm1, theirs.norm1), (ours.norm2, theirs.norm2),
                            (ours.mlp[0], theirs.linear1), (ours.mlp[2], theirs.linear2)]:
            other.weight.copy_(mine.weight)
            other.bias.copy_(mine.bias)
    x = torch.randn(5, 17, dim)
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
    h = ours.norm1(x)
    _, expected = theirs.self_attn(h, h, h, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(ours.attn.weights(h), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="heads"):
        SelfAttention(30, 4)


def test_training_curves_refuse_the_test_set():
    """The protocol: curves on a validation split; the test set is scored after training."""
    x, y = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
    with pytest.raises(ValueError, match="validation"):
        fit(MLP(3), (x, y), TrainConfig(epochs=1, batch_size=8), evaluate_on={"test": (x, y)},
            progress=False)
