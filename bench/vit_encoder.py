"""The ViT's encoder two ways, side by side: PyTorch's fused ``nn.TransformerEncoder`` against
the written-out ``EncoderLayer`` of ``mnist_utils.models`` (same math, checked in
``tests/test_training.py``), one training epoch each, alternating, on 1 and 2 CPU threads.

    python bench/vit_encoder.py [--images 6000] [--repeats 3]

Why it exists: with 17 tokens of width 64, ``nn.MultiheadAttention`` spends much of its
time reshuffling the packed query/key/value projections between layouts; chapter 08 points
to bench/README.md, which has the numbers. Random images: only the seconds matter here.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from mnist_utils.models import ViT
from mnist_utils.sampling import make_generator
from mnist_utils.training import TrainConfig, make_optimizer, make_scheduler, train_one_epoch


def fused_vit() -> ViT:
    """Chapter 08's ViT with its encoder swapped for ``nn.TransformerEncoder`` (same sizes)."""
    model = ViT()
    first = model.encoder[0]
    dim, heads, mlp_dim = first.norm1.normalized_shape[0], first.attn.heads, first.mlp[0].out_features
    layer = nn.TransformerEncoderLayer(dim, heads, mlp_dim, 0.0, activation="gelu", batch_first=True,
                                       norm_first=True)
    model.encoder = nn.TransformerEncoder(layer, len(model.encoder), enable_nested_tensor=False)
    return model


def epoch_seconds(build, images: int) -> float:
    """Seconds of one epoch over ``images`` random digits, scaled to 60,000 images."""
    x, y = torch.randn(images, 1, 28, 28), torch.randint(0, 10, (images,))
    config = TrainConfig(batch_size=128, optimizer="adamw", lr=0.008, weight_decay=0.05, schedule="cosine")
    torch.manual_seed(0)
    model = build()
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, -(-images // config.batch_size))
    generator = make_generator(0)
    train_one_epoch(model, optimizer, (x[:512], y[:512]), config, generator=generator)  # warm-up
    start = time.perf_counter()
    train_one_epoch(model, optimizer, (x, y), config, generator=generator, scheduler=scheduler)
    return (time.perf_counter() - start) * 60000 / images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("| threads | nn.TransformerEncoder (s per 60,000) | written out (s per 60,000) | ratio |")
    print("| --- | --- | --- | --- |")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        fused, ours = [], []
        for _ in range(args.repeats):  # alternating, so a burst of other work hits both
            fused.append(epoch_seconds(fused_vit, args.images))
            ours.append(epoch_seconds(ViT, args.images))
        print(f"| {threads} | {min(fused):.2f} | {min(ours):.2f} | {min(fused) / min(ours):.2f}x |")


if __name__ == "__main__":
    main()
