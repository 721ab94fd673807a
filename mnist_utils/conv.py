"""Convolution and max-pooling written out, for chapter 7 to teach before LeNet uses them.

A convolutional layer slides ``C_out`` small filters of shape ``[C_in, k, k]`` over the
image; output channel ``o`` at position ``(i, j)`` is the dot product of filter ``o`` with
the ``C_in x k x k`` window whose top-left corner is ``(i*stride - padding, j*stride -
padding)``, plus a bias. Two versions of the same definition:

* ``conv2d_loop`` follows the formula position by position (clear, slow);
* ``conv2d_unfold`` cuts every window out at once (``F.unfold``: [B, C_in*k*k, L]) and
  applies all the filters with one matrix product, which is how fast libraries compute it.

Both are checked against ``F.conv2d`` (values and gradients) in the tests and in the
chapter; ``max_pool2d`` likewise against ``F.max_pool2d``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output side of a convolution or pooling: floor((size + 2*padding - kernel) / stride) + 1."""
    if kernel > size + 2 * padding:
        raise ValueError(f"kernel={kernel} does not fit an input of {size} with padding={padding}")
    return (size + 2 * padding - kernel) // stride + 1


def conv2d_loop(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                stride: int = 1, padding: int = 0) -> torch.Tensor:
    """The definition, one output position at a time. x [B, C_in, H, W], weight [C_out, C_in, k, k]."""
    b, c_in, h, w = x.shape
    c_out, c_w, k, _ = weight.shape
    if c_w != c_in:
        raise ValueError(f"weight expects {c_w} input channels, x has {c_in}")
    x = F.pad(x, (padding, padding, padding, padding))  # zeros around the border
    h_out, w_out = conv_output_size(h, k, stride, padding), conv_output_size(w, k, stride, padding)
    rows = []
    for i in range(h_out):
        row = []
        for j in range(w_out):
            window = x[:, :, i * stride:i * stride + k, j * stride:j * stride + k]  # [B, C_in, k, k]
            # every filter's dot product with this window: [B, C_out]
            row.append(torch.einsum("bcuv,ocuv->bo", window, weight))
        rows.append(torch.stack(row, dim=-1))  # [B, C_out, W_out]
    out = torch.stack(rows, dim=-2)  # [B, C_out, H_out, W_out]
    return out if bias is None else out + bias.view(1, c_out, 1, 1)


def conv2d_unfold(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                  stride: int = 1, padding: int = 0) -> torch.Tensor:
    """The same convolution as one matrix product over all the windows (im2col)."""
    b, _, h, w = x.shape
    c_out, _, k, _ = weight.shape
    windows = F.unfold(x, k, padding=padding, stride=stride)  # [B, C_in*k*k, L], L = H_out*W_out
    out = weight.view(c_out, -1) @ windows  # [C_out, C_in*k*k] @ [B, C_in*k*k, L] -> [B, C_out, L]
    if bias is not None:
        out = out + bias.view(1, c_out, 1)
    h_out, w_out = conv_output_size(h, k, stride, padding), conv_output_size(w, k, stride, padding)
    return out.view(b, c_out, h_out, w_out)


def max_pool2d(x: torch.Tensor, kernel: int, stride: int | None = None) -> torch.Tensor:
    """The largest value of each ``kernel x kernel`` window, channel by channel."""
    stride = kernel if stride is None else stride
    b, c, h, w = x.shape
    windows = F.unfold(x, kernel, stride=stride)  # [B, C*k*k, L]
    windows = windows.view(b, c, kernel * kernel, -1)  # one channel's window per column
    h_out, w_out = conv_output_size(h, kernel, stride), conv_output_size(w, kernel, stride)
    return windows.amax(dim=2).view(b, c, h_out, w_out)
