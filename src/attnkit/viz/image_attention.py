"""Attention drawn over pictures: where a captioner looked for each word, where a
vision Transformer's class token looked in each layer, attention rollout, the mean
attention distance of every head, and a classifier's confusion matrix.

Attention over ``P`` patches is a vector; laid out on the ``rows × cols`` patch grid and
upsampled to the image, it becomes a heatmap drawn over the picture.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import Tensor

from attnkit.viz.plots import save_figure

__all__ = [
    "attention_rollout",
    "mean_attention_distance",
    "plot_attention_distance",
    "plot_caption_attention",
    "plot_class_attention",
    "plot_confusion_matrix",
    "upsample_attention",
]


def upsample_attention(weights: Tensor, grid: tuple[int, int], size: tuple[int, int]) -> Tensor:
    """Lay attention over patches on the patch grid and stretch it to the image.

    Each patch's weight covers its own ``p × p`` pixels (nearest neighbour), so what is
    drawn is exactly what the model attended to.

    Shape:
        weights ``(P,)`` or ``(N, P)`` → ``(H, W)`` or ``(N, H, W)``.
    """
    flat = weights.detach().float().cpu()
    single = flat.dim() == 1
    maps = flat.reshape(-1, 1, *grid)  # (N, 1, rows, cols)
    maps = F.interpolate(maps, size=size, mode="nearest")[:, 0]  # (N, H, W)
    return maps[0] if single else maps


def attention_rollout(maps: Tensor, *, keep_residual: bool = True) -> Tensor:
    """Attention rollout (Abnar & Zuidema 2020): how much each input token flows into
    each output through all layers — the heads' mean per layer, plus the identity for the
    residual path (``0.5 · (A + I)``), multiplied layer after layer.

    Shape:
        maps ``(L, H, T, T)`` (one example) → ``(T, T)``; row ``t`` sums to 1.
    """
    if maps.dim() != 4:
        raise ValueError(f"maps must be (L, H, T, T), got shape {tuple(maps.shape)}")
    eye = torch.eye(maps.shape[-1], dtype=torch.float32)
    rollout = eye
    for layer in maps.detach().float().cpu():
        a = layer.mean(0)  # (T, T) heads averaged
        if keep_residual:
            a = 0.5 * (a + eye)
        a = a / a.sum(-1, keepdim=True)
        rollout = a @ rollout  # (T, T): this layer after everything below it
    return rollout


def mean_attention_distance(
    maps: Tensor, grid: tuple[int, int], patch_size: int, *, class_token: bool = True
) -> Tensor:
    """Mean attention distance in pixels (Dosovitskiy et al. 2021, Fig. 7): for each
    patch query, the distance between patch centres weighted by its attention, averaged
    over queries and examples. The class token is left out (its weights over the
    patches are renormalised).

    Shape:
        maps ``(L, B, H, T, T)`` with ``T = P (+1)`` → ``(L, H)`` pixels.
    """
    if class_token:
        maps = maps[..., 1:, 1:]  # (L, B, H, P, P): patch queries over patch keys
        maps = maps / maps.sum(-1, keepdim=True).clamp_min(1e-12)
    rows, cols = grid
    centres = (
        torch.stack(torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij"), dim=-1)
        .reshape(-1, 2)
        .float()
        * patch_size
    )  # (P, 2) in pixels
    distance = torch.cdist(centres, centres)  # (P, P)
    weighted = (maps.detach().float().cpu() * distance).sum(-1)  # (L, B, H, P)
    return weighted.mean(dim=(1, 3))  # (L, H)


def _grey(image: Tensor):
    """A ``(C, H, W)`` uint8 image as what ``imshow`` draws (H, W) or (H, W, 3)."""
    array = image.detach().cpu().permute(1, 2, 0).numpy()
    return array[:, :, 0] if array.shape[2] == 1 else array


def _overlay(ax, image: Tensor, heat: Tensor | None, title: str) -> None:
    ax.imshow(_grey(image), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    if heat is not None:
        # Each panel is scaled to its own peak (written in the title): a nearly uniform
        # map looks bright everywhere, a focused one shows its spot.
        top = float(heat.max()) or 1.0
        title = f"{title}\npeak weight {top:.2f}"
        ax.imshow(
            heat.numpy(), cmap="inferno", alpha=0.55, vmin=0.0, vmax=top, interpolation="nearest"
        )
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()


def _panel_figure(count: int, image: Tensor, max_cols: int, title: str | None):
    cols = min(count, max_cols)
    rows = math.ceil(count / cols)
    height, width = image.shape[1:]
    scale = 2.4 / max(height, width) * max(1.0, width / height) ** 0.5
    fig = Figure(
        figsize=(max(cols * width * scale + 0.4, 4.0), rows * height * scale + 0.9),
        layout="constrained",
    )
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[count:]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return fig, axes


def plot_caption_attention(
    image: Tensor,
    words: Sequence[str],
    weights: Tensor,
    grid: tuple[int, int],
    *,
    path: str | os.PathLike[str],
    title: str | None = None,
    max_cols: int = 4,
) -> Path:
    """The image, then one panel per generated word with its cross-attention over the
    image regions drawn on top.

    Shape:
        image ``(C, H, W)`` uint8; weights ``(T, P)`` (one row per word, e.g. the last
        layer's cross-attention averaged over heads).
    """
    if len(words) != len(weights):
        raise ValueError(f"{len(words)} words but {len(weights)} attention rows")
    heat = upsample_attention(weights, grid, tuple(image.shape[1:]))  # (T, H, W)
    fig, axes = _panel_figure(len(words) + 1, image, max_cols, title)
    _overlay(axes[0], image, None, "image")
    for ax, word, panel in zip(axes[1:], words, heat, strict=False):
        _overlay(ax, image, panel, f"“{word}”")
    return save_figure(fig, path)


def plot_class_attention(
    image: Tensor,
    class_attention: Tensor,
    rollout: Tensor,
    grid: tuple[int, int],
    *,
    path: str | os.PathLike[str],
    title: str | None = None,
    max_cols: int = 4,
) -> Path:
    """The image, the class token's attention over the patches in every layer (mean
    of heads), and the attention rollout through all layers.

    Shape:
        image ``(C, H, W)`` uint8; class_attention ``(L, P)``; rollout ``(P,)``.
    """
    size = tuple(image.shape[1:])
    layers = upsample_attention(class_attention, grid, size)  # (L, H, W)
    fig, axes = _panel_figure(len(layers) + 2, image, max_cols, title)
    _overlay(axes[0], image, None, "image")
    for index, (ax, panel) in enumerate(zip(axes[1:], layers, strict=False)):
        _overlay(ax, image, panel, f"layer {index}: [CLS] attention")
    _overlay(axes[len(layers) + 1], image, upsample_attention(rollout, grid, size), "rollout")
    return save_figure(fig, path)


def plot_confusion_matrix(
    matrix: Tensor | Sequence[Sequence[int]],
    classes: Sequence[str],
    *,
    path: str | os.PathLike[str],
    title: str | None = None,
) -> Path:
    """A confusion matrix: true class down the side, predicted class along the bottom,
    each row normalised to the share of that class's images; counts written in."""
    counts = torch.as_tensor(matrix, dtype=torch.float32)
    shares = counts / counts.sum(1, keepdim=True).clamp_min(1)
    n = len(classes)
    fig = Figure(figsize=(2.5 + 0.55 * n, 2.0 + 0.5 * n), layout="constrained")
    ax = fig.add_subplot()
    shown = ax.imshow(shares.numpy(), cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(n), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), classes, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    for i in range(n):
        for j in range(n):
            if counts[i, j]:
                colour = "white" if shares[i, j] > 0.5 else "black"
                ax.text(
                    j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=7, color=colour
                )
    fig.colorbar(shown, ax=ax, shrink=0.8, label="share of the true class")
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def plot_attention_distance(
    distance: Tensor,
    *,
    path: str | os.PathLike[str],
    title: str | None = None,
    reference: float | None = None,
) -> Path:
    """Mean attention distance of every head (dots) by layer, as in Dosovitskiy et al.
    (2021, Fig. 7); ``reference`` draws a dashed line (e.g. the distance of uniform
    attention).

    Shape:
        distance ``(L, H)`` pixels.
    """
    values = distance.detach().float().cpu()
    fig = Figure(figsize=(5.5, 3.8), layout="constrained")
    ax = fig.add_subplot()
    for head in range(values.shape[1]):
        ax.scatter(range(values.shape[0]), values[:, head].numpy(), s=22, label=f"head {head}")
    if reference is not None:
        ax.axhline(reference, linestyle="--", color="grey", label="uniform attention")
    # From 0: a distance is only "far" next to how far a head could look.
    top = max(float(values.max()), reference or 0.0)
    ax.set_ylim(0.0, 1.15 * top if top > 0 else 1.0)
    ax.set_xlabel("layer")
    ax.set_ylabel("mean attention distance (pixels)")
    ax.set_xticks(range(values.shape[0]))
    ax.legend(fontsize=7, ncols=2)
    if title:
        ax.set_title(title)
    return save_figure(fig, path)
