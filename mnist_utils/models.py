"""The neural networks of the book: MLPs, LeNet, VGG-11 and a small Vision Transformer.

Each model takes images shaped [B, 1, 28, 28] and returns class scores (logits)
shaped [B, 10]; the training loop and the losses are the same for all of them.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class MLP(nn.Module):
    """784 -> width (ReLU) -> [width (BatchNorm, ReLU)] * (depth - 2) -> 10.

    ``depth`` counts the linear layers: 3 is the assignment's network, 4 adds one more
    512-BatchNorm-ReLU block.
    """

    def __init__(self, depth: int = 3, width: int = 512, num_classes: int = 10) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError(f"an MLP needs at least 2 linear layers, got depth={depth}")
        layers: list[nn.Module] = [nn.Flatten(), nn.Linear(28 * 28, width), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU()]
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _conv_block(c_in: int, c_out: int, double: bool) -> nn.Sequential:
    """5x5 conv + ReLU (+ a second 3x3 'same' conv + ReLU when doubled), then 2x2 max-pool."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 5), nn.ReLU()]
    if double:
        layers += [nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU()]
    layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class LeNet(nn.Module):
    """LeNet-5 style: two 5x5 conv + pool stages, then 256 -> 120 -> 84 -> 10.

    Shapes: [B,1,28,28] -> conv1 [B,6,24,24] -> pool [B,6,12,12] -> conv2 [B,16,8,8]
    -> pool [B,16,4,4] -> flatten [B,256] -> fc. ``double_conv`` follows each 5x5 conv
    with a second (3x3, padded) conv of the same width, as the assignment's variant asks.
    """

    def __init__(self, double_conv: bool = False, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _conv_block(1, 6, double_conv), _conv_block(6, 16, double_conv)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 4 * 4, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


# VGG-11, configuration "A" of Simonyan & Zisserman: channels, and "M" for a 2x2 max-pool.
VGG11_LAYOUT = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


class VGG11(nn.Module):
    """VGG-11 with BatchNorm after every convolution, adapted to 28x28 digits.

    The paper's five 2x2 max-pools take 224x224 inputs down to 7x7 (224 = 7 * 2**5). Here
    each image is first padded with its background value to 32x32 (= 2**5), so the same
    five pools end at 1x1: [B,1,32,32] -> 64 ch 32x32 -> pool 16 -> 128 ch -> pool 8 ->
    256, 256 ch -> pool 4 -> 512, 512 ch -> pool 2 -> 512, 512 ch -> pool 1 -> flatten
    [B,512] -> 4096 -> 4096 -> 10, with dropout 0.5 before each hidden linear layer's
    successor, as in the paper. ``width`` scales every channel count and the classifier's
    4096 (1.0 is the paper's network; a CPU may need a fraction: the chapter says which).
    """

    def __init__(self, width: float = 1.0, num_classes: int = 10, background: float = 0.0) -> None:
        super().__init__()
        if not width > 0:
            raise ValueError(f"VGG11 width factor must be positive, got {width}")
        self.background = background
        layers: list[nn.Module] = []
        c_in = 1
        for item in VGG11_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                c_out = max(1, round(item * width))
                layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]
                c_in = c_out
        hidden = max(1, round(4096 * width))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in, hidden), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.pad(x, (2, 2, 2, 2), value=self.background)  # [B,1,28,28] -> [B,1,32,32]
        return self.classifier(self.features(x))


def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """[B, C, H, W] -> [B, (H/p)*(W/p), C*p*p], patches in row-major order."""
    b, c, h, w = images.shape
    if h % patch or w % patch:
        raise ValueError(f"image size {h}x{w} is not divisible by patch size {patch}")
    x = images.reshape(b, c, h // patch, patch, w // patch, patch)
    x = x.permute(0, 2, 4, 1, 3, 5)  # [B, H/p, W/p, C, p, p]
    return x.reshape(b, (h // patch) * (w // patch), c * patch * patch)


class SelfAttention(nn.Module):
    """Multi-head self-attention, written out: [B, n, dim] -> [B, n, dim].

    Each head compares every token's query with every token's key (scaled dot products,
    softmax over the keys) and takes that weighted mean of the values; the heads' results
    are concatenated and projected back to ``dim``. With the book's 17 tokens the n x n
    scores are tiny, and the explicit products run faster on a CPU than PyTorch's
    ``nn.MultiheadAttention``, which reshuffles its packed projections between layouts.
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim={dim} is not divisible by heads={heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)  # queries, keys and values of all heads in one product
        self.out = nn.Linear(dim, dim)
        # initialised as nn.MultiheadAttention initialises its projections
        nn.init.xavier_uniform_(self.qkv.weight)
        nn.init.zeros_(self.qkv.bias)
        nn.init.zeros_(self.out.bias)

    def _project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, n, dim = x.shape
        # [B, n, 3*dim] -> [3, B, heads, n, dim/heads]
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        return q, k, v

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """Attention weights [B, heads, n, n]: row i is how token i spreads its attention."""
        q, k, _ = self._project(x)
        return self._softmax_scores(q, k)

    @staticmethod
    def _softmax_scores(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, dim = x.shape
        q, k, v = self._project(x)
        mixed = self._softmax_scores(q, k) @ v  # [B, heads, n, dim/heads]
        return self.out(mixed.transpose(1, 2).reshape(b, n, dim))


class EncoderLayer(nn.Module):
    """One pre-norm transformer encoder layer: x + attention(norm(x)), then x + MLP(norm(x))."""

    def __init__(self, dim: int, heads: int, mlp_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """A small Vision Transformer: patches -> tokens -> transformer encoder -> class token.

    Shapes with the defaults: [B,1,28,28] -> 16 patches of 7x7 [B,16,49] -> linear
    embedding [B,16,dim] -> prepend class token [B,17,dim] -> + position embeddings ->
    ``depth`` encoder layers -> LayerNorm of the class token [B,dim] -> head [B,10].
    """

    def __init__(
        self,
        *,
        image_size: int = 28,
        patch: int = 7,
        dim: int = 64,
        depth: int = 2,
        heads: int = 4,
        mlp_dim: int = 128,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        self.patch = patch
        num_patches = (image_size // patch) ** 2
        self.embed = nn.Linear(patch * patch, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, num_patches + 1, dim) * 0.02)
        self.encoder = nn.Sequential(*(EncoderLayer(dim, heads, mlp_dim) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        """Embedded patches with the class token in front: [B, 1 + num_patches, dim]."""
        x = self.embed(patchify(images, self.patch))
        cls = self.cls_token.expand(len(x), -1, -1)
        return torch.cat([cls, x], dim=1) + self.pos

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.encoder(self.tokens(images))
        return self.head(self.norm(x[:, 0]))

    @torch.inference_mode()
    def class_token_attention(self, images: torch.Tensor) -> torch.Tensor:
        """Attention of the class token over the patches, per layer: [depth, B, num_patches].

        Each layer's attention weights on its (normalised) input, averaged over heads; the
        class token's row, the patch columns.
        """
        was_training = self.training
        self.eval()
        x = self.tokens(images)
        maps = []
        for layer in self.encoder:
            weights = layer.attn.weights(layer.norm1(x)).mean(dim=1)  # [B, n, n], heads averaged
            maps.append(weights[:, 0, 1:])  # class-token row, patch columns
            x = layer(x)
        self.train(was_training)
        return torch.stack(maps)
