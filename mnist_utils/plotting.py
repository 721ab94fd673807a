"""Figures the chapters share: digit grids, confusion matrices, learning curves.

Every function draws on a fresh or given Matplotlib axis, labels its axes and
titles it, and returns the figure or axis so a chapter can adjust it further.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

CLASSES = [str(d) for d in range(10)]


def show_code(*objects: Callable | type) -> object:
    """Display the source of library functions in a chapter, highlighted as Python."""
    from IPython.display import Code

    return Code("\n\n".join(inspect.getsource(o) for o in objects), language="python")


def digit_grid(
    images: torch.Tensor,
    labels: torch.Tensor,
    predictions: torch.Tensor | None = None,
    *,
    ncols: int = 10,
    title: str = "",
    size: float = 1.1,
) -> Figure:
    """Images [N, 28, 28] (or [N, 784] / [N, 1, 28, 28]) in a grid with their labels.

    With ``predictions``, each title reads ``pred (true)`` and mistakes are shown in red.
    """
    images = images.detach().cpu().reshape(len(images), 28, 28)
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.15))
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if i >= len(images):
            continue
        ax.imshow(images[i], cmap="gray_r")
        true = int(labels[i])
        if predictions is None:
            ax.set_title(str(true), fontsize=9)
        else:
            pred = int(predictions[i])
            ax.set_title(f"{pred} ({true})", fontsize=9, color="black" if pred == true else "red")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix_plot(
    y_true: torch.Tensor, y_pred: torch.Tensor, *, title: str, ax: Axes | None = None
) -> Axes:
    """Row-normalised confusion matrix: each row shows where one true digit goes."""
    import seaborn as sns  # slow to import (pandas, scipy): only when a matrix is drawn

    counts = torch.zeros(10, 10, dtype=torch.long)
    counts.index_put_((y_true.cpu(), y_pred.cpu()), torch.ones(len(y_true), dtype=torch.long),
                      accumulate=True)
    rates = counts.float() / counts.sum(1, keepdim=True).clamp_min(1)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 5.5))
    sns.heatmap(rates.numpy(), annot=True, fmt=".2f", cmap="Blues", vmin=0, vmax=1,
                xticklabels=CLASSES, yticklabels=CLASSES, cbar_kws={"label": "fraction of row"},
                annot_kws={"fontsize": 7}, ax=ax)
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title)
    return ax


def class_images(weights: torch.Tensor, *, title: str, cmap: str = "RdBu_r") -> Figure:
    """Ten 28x28 images from a [784, 10] (or [10, 28, 28]) tensor, e.g. per-class weights."""
    maps = weights.detach().cpu().T.reshape(10, 28, 28) if weights.dim() == 2 else weights
    fig, axes = plt.subplots(1, 10, figsize=(13, 1.9))
    for digit, ax in enumerate(axes):
        lim = float(maps[digit].abs().max()) or 1.0
        vmin = -lim if cmap == "RdBu_r" else None
        ax.imshow(maps[digit], cmap=cmap, vmin=vmin, vmax=lim if vmin is not None else None)
        ax.set_title(str(digit))
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def curves(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    ax: Axes | None = None,
    logx: bool = False,
    logy: bool = False,
    marker: str | None = None,
) -> Axes:
    """One line per entry of ``series`` (name -> (x, y)), labelled, with a legend."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    for name, (x, y) in series.items():
        ax.plot(x, y, label=name, marker=marker)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    return ax


def history_plot(histories: Mapping[str, object], *, title: str) -> Figure:
    """Loss and accuracy per epoch (train dashed, test solid) for several ``History`` runs."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4))
    for i, (name, h) in enumerate(histories.items()):
        color = f"C{i}"
        epochs = h.epochs
        ax_loss.plot(epochs, h.train_loss, "--", color=color, label=f"{name} train")
        ax_loss.plot(epochs, h.test_loss, "-", color=color, label=f"{name} test")
        ax_acc.plot(epochs, h.train_acc, "--", color=color, label=f"{name} train")
        ax_acc.plot(epochs, h.test_acc, "-", color=color, marker="o", ms=3, label=f"{name} test")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss", yscale="log")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Running mean over ``window`` points (for noisy per-iteration losses)."""
    values = np.asarray(values, dtype=float)
    window = max(1, min(window, len(values)))
    return np.convolve(values, np.ones(window) / window, mode="valid")
