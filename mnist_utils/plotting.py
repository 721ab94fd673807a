"""Figures the chapters share: digit grids, confusion matrices, learning curves.

Every function draws on a fresh or given Matplotlib axis, labels its axes and
titles it, and returns the figure or axis so a chapter can adjust it further.
Every heat map carries a colour bar that names its scale. ``use_book_style`` sets
the book's figure style; nothing here changes Matplotlib's settings on import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from mnist_utils.history import History

CLASSES = [str(d) for d in range(10)]


def use_book_style() -> None:
    """The book's figure style: a readable resolution, no top and right frame lines."""
    plt.rcParams.update({"figure.dpi": 90, "axes.spines.top": False, "axes.spines.right": False})


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


def class_images(
    weights: torch.Tensor, *, title: str, cmap: str = "RdBu_r", label: str = "weight"
) -> Figure:
    """Ten 28x28 images from a [784, 10] (or [10, 28, 28]) tensor, on one shared colour scale.

    With the default diverging map the scale is symmetric around 0 (white), so red and
    blue of equal strength mean equal and opposite weights; the colour bar names the unit.
    """
    maps = weights.detach().cpu().T.reshape(10, 28, 28) if weights.dim() == 2 else weights.cpu()
    diverging = cmap == "RdBu_r"
    lim = float(maps.abs().max()) or 1.0
    vmin, vmax = (-lim, lim) if diverging else (float(maps.min()), float(maps.max()))
    fig, axes = plt.subplots(1, 10, figsize=(14, 1.9))
    for digit, ax in enumerate(axes):
        image = ax.imshow(maps[digit], cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_title(str(digit))
        ax.axis("off")
    fig.colorbar(image, ax=list(axes), label=label, fraction=0.02, pad=0.01)
    fig.suptitle(title)
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


def _accuracy_axis(ax: Axes, error_rate: bool) -> str:
    """Error rate on a log axis (readable near 100% accuracy) or plain accuracy."""
    if error_rate:
        ax.set_yscale("log")
        # ticks at 1, 2 and 5 per decade, each labelled with its own significant digits
        # (0.02%, 0.5%, 10%): a fixed number of decimals would print "0.0%" near the floor
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:.3g}%"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        return "error rate = 1 - accuracy (log scale)"
    return "accuracy"


EVAL_LABELS = {"val": "validation"}  # legend names of evaluation sets
ERROR_FLOOR = 1e-4  # a perfect score is drawn at this error rate on a log axis (it has no log)


def _error(acc: np.ndarray) -> np.ndarray:
    return np.maximum(1 - np.asarray(acc, dtype=float), ERROR_FLOOR)


def history_plot(
    histories: Mapping[str, History],
    *,
    title: str,
    eval_name: str = "val",
    error_rate: bool = False,
) -> Figure:
    """Loss and accuracy (or error rate) per epoch for several runs.

    Dashed: the running mean over each epoch's minibatches, measured while the weights
    change (so in early epochs it can sit *below* the evaluated curve's accuracy).
    Solid: a full evaluation on ``eval_name`` (a validation split) after each recorded epoch.
    """
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4))
    for i, (name, h) in enumerate(histories.items()):
        color = f"C{i}"
        ev_acc = np.asarray(h.acc[eval_name])
        run_acc = np.asarray(h.running_acc)
        ax_loss.plot(h.epoch, h.running_loss, "--", color=color, label=f"{name}, train (running mean)")
        shown = EVAL_LABELS.get(eval_name, eval_name)
        ax_loss.plot(h.epoch, h.loss[eval_name], "-", color=color, label=f"{name}, {shown}")
        ax_acc.plot(h.epoch, _error(run_acc) if error_rate else run_acc, "--", color=color,
                    label=f"{name}, train (running mean)")
        ax_acc.plot(h.epoch, _error(ev_acc) if error_rate else ev_acc, "-", color=color, marker="o", ms=3,
                    label=f"{name}, {shown}")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss", yscale="log")
    ylabel = _accuracy_axis(ax_acc, error_rate)
    ax_acc.set(xlabel="epoch", ylabel=ylabel, title=ylabel.split(" (")[0])
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def accuracy_vs_size(
    series: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float] | None]],
    *,
    title: str,
    ax: Axes | None = None,
    error_rate: bool = False,
    annotate: bool = True,
    xlabel: str = "training images (log scale)",
) -> Axes:
    """Test accuracy against training-set size, one line per model: name -> (sizes, acc, err).

    ``err`` (or None) gives error bars, e.g. the half-width of a confidence interval over
    seeds. With ``error_rate`` the y axis shows 1 - accuracy on a log scale.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.2))
    for i, (name, (sizes, acc, err)) in enumerate(series.items()):
        acc = np.asarray(acc, dtype=float)
        y = _error(acc) if error_rate else acc
        ax.errorbar(sizes, y, yerr=err, fmt="o-", capsize=4, color=f"C{i}", label=name)
        if annotate:
            for n, a, yi in zip(sizes, acc, y):
                ax.annotate(f"{a:.1%}", (n, yi), textcoords="offset points", xytext=(7, 3),
                            ha="left", fontsize=7, color=f"C{i}")
    ax.set_xscale("log")
    ax.set(xlabel=xlabel, ylabel=_accuracy_axis(ax, error_rate), title=title)
    ax.grid(alpha=0.3, which="both")
    if len(series) > 1:
        ax.legend(fontsize=8)
    return ax


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Running mean over ``window`` points (for noisy per-iteration losses)."""
    values = np.asarray(values, dtype=float)
    window = max(1, min(window, len(values)))
    return np.convolve(values, np.ones(window) / window, mode="valid")
