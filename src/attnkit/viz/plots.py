"""Attention heatmaps saved as PNG, SVG or PDF.

Figures are built with matplotlib's object-oriented API (``matplotlib.figure.Figure``), not
``pyplot``: nothing touches the global backend or pyplot's figure list, so the functions work
headless, in threads and inside notebooks without changing their backend, and no figure is
left open after saving.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

__all__ = ["plot_attention", "plot_attention_heads", "save_figure"]

_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
_ANNOTATE_MAX = 12  # auto-annotate a single map up to 12 × 12
_ANNOTATE_MAX_PANEL = 6  # ... and each panel of a grid up to 6 × 6
_MAX_PANELS = 256
_DPI = 120


def _to_numpy(weights: Any) -> np.ndarray:
    if isinstance(weights, torch.Tensor):
        return weights.detach().cpu().float().numpy()
    try:
        return np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"weights must be a torch.Tensor or an array of numbers, got {type(weights).__name__}"
        ) from exc


def _check_labels(labels: Sequence[str] | None, expected: int, name: str, axis: str) -> None:
    if labels is not None and len(labels) != expected:
        raise ValueError(
            f"{name} has {len(labels)} labels but the weights have {expected} {axis} positions"
        )


def _check_format(path: Path) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"cannot tell the image format of {str(path)!r}: "
            f"expected a suffix among {', '.join(_FORMATS)}"
        )
    return fmt


def _color_range(values: np.ndarray) -> tuple[float, float]:
    """Probabilities share the fixed scale [0, 1]; anything else (raw scores) is auto-scaled."""
    finite = values[np.isfinite(values)]
    if finite.size == 0 or (finite.min() >= 0.0 and finite.max() <= 1.0):
        return 0.0, 1.0
    return float(finite.min()), float(finite.max())


def _title_width(title: str | None) -> float:
    """Figure width (inches) that fits ``title`` at the default suptitle size on one line."""
    return 0.5 + 0.11 * len(title) if title else 0.0


def _draw_map(
    ax: Any,
    matrix: np.ndarray,
    *,
    x_labels: Sequence[str] | None,
    y_labels: Sequence[str] | None,
    vmin: float,
    vmax: float,
    annotate: bool,
    axis_titles: tuple[str, str] | None,
) -> Any:
    """Draw one (Tq, Tk) heatmap: keys along the top, queries down the side."""
    image = ax.imshow(matrix, cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
    tq, tk = matrix.shape
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    if x_labels is not None:
        ax.set_xticks(range(tk), labels=[str(s) for s in x_labels])
        longest = max((len(str(s)) for s in x_labels), default=0)
        if tk > 8 or longest > 4:
            ax.tick_params(axis="x", labelrotation=90)
    if y_labels is not None:
        ax.set_yticks(range(tq), labels=[str(s) for s in y_labels])
    if axis_titles:
        ax.set_xlabel(axis_titles[0])
        ax.set_ylabel(axis_titles[1])
    if annotate:
        span = (vmax - vmin) or 1.0
        fontsize = 9 if max(tq, tk) <= 8 else 7
        for i in range(tq):
            for j in range(tk):
                value = matrix[i, j]
                # viridis is dark at the low end: white text there, black on the bright end
                color = "white" if (value - vmin) / span < 0.6 else "black"
                ax.text(
                    j, i, f"{value:.2f}", ha="center", va="center", color=color, fontsize=fontsize
                )
    return image


def _save(fig: Figure, path: Path, fmt: str) -> Path:
    """Write ``fig`` to ``path`` atomically: a temp file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # os.open with mode 0o666 lets the umask decide the permissions, as for any new file
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            fig.savefig(handle, format=fmt, dpi=_DPI)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Save a matplotlib figure atomically (``.png``, ``.svg`` or ``.pdf`` by suffix),
    creating parent folders; returns the path."""
    path = Path(path)
    return _save(fig, path, _check_format(path))


def plot_attention(
    weights: Any,
    *,
    x_labels: Sequence[str] | None = None,
    y_labels: Sequence[str] | None = None,
    title: str | None = None,
    path: str | os.PathLike[str],
    annotate: bool | None = None,
    x_title: str = "keys",
    y_title: str = "queries",
) -> Path:
    """Save one attention map as a heatmap: keys along the top, queries down the side.

    Args:
        weights: attention weights (or raw scores) as a torch tensor or array-like.
        x_labels: one label per key position (the tokens attended to).
        y_labels: one label per query position (the tokens attending).
        title: figure title.
        path: output file; ``.png``, ``.svg`` or ``.pdf`` by suffix. Parent folders are
            created; the file is replaced atomically.
        annotate: write each value in its cell. ``None`` (default) annotates maps up to
            12 × 12.
        x_title, y_title: axis titles (e.g. "source word", "output word").

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Shape:
        - weights: :math:`(T_q, T_k)`. Weights in ``[0, 1]`` use the fixed colour scale
          ``[0, 1]``; other values (e.g. raw scores) are scaled to their range.

    Raises:
        ValueError: wrong number of dimensions, empty map, label count not matching the
            shape, or unknown file suffix.

    Examples:
        >>> w = torch.softmax(torch.randn(3, 4), dim=-1)
        >>> plot_attention(w, x_labels=list("abcd"), path="attn.png")  # doctest: +SKIP
        PosixPath('attn.png')
    """
    path = Path(path)
    fmt = _check_format(path)
    matrix = _to_numpy(weights)
    if matrix.ndim != 2 or 0 in matrix.shape:
        raise ValueError(
            "plot_attention expects weights of shape (Tq, Tk) with Tq, Tk > 0, "
            f"got shape {tuple(matrix.shape)}"
        )
    tq, tk = matrix.shape
    _check_labels(x_labels, tk, "x_labels", "key (Tk)")
    _check_labels(y_labels, tq, "y_labels", "query (Tq)")
    if annotate is None:
        annotate = tq <= _ANNOTATE_MAX and tk <= _ANNOTATE_MAX

    width = min(max(2.5 + 0.5 * tk, 4.0), 16.0)
    height = min(max(1.8 + 0.5 * tq, 3.0), 16.0)
    width = max(width, _title_width(title))
    fig = Figure(figsize=(width, height), layout="constrained")
    ax = fig.add_subplot()
    vmin, vmax = _color_range(matrix)
    image = _draw_map(
        ax,
        matrix,
        x_labels=x_labels,
        y_labels=y_labels,
        vmin=vmin,
        vmax=vmax,
        annotate=annotate,
        axis_titles=(x_title, y_title),
    )
    fig.colorbar(image, ax=ax, shrink=0.9)
    if title:
        fig.suptitle(title)
    return _save(fig, path, fmt)


def plot_attention_heads(
    weights: Any,
    *,
    x_labels: Sequence[str] | None = None,
    y_labels: Sequence[str] | None = None,
    title: str | None = None,
    path: str | os.PathLike[str],
    max_cols: int = 4,
    annotate: bool | None = None,
    layer_ids: Sequence[int] | None = None,
    head_ids: Sequence[int] | None = None,
) -> Path:
    """Save a grid of attention maps, one panel per head (and per layer).

    Each layer starts a new row of panels; a layer with more than ``max_cols`` heads wraps
    onto further rows. Panels are titled ``head h`` (3-D input) or ``layer l · head h``
    (4-D input), counting from 0 like the tensor indices. All panels share one colour scale.

    Args:
        weights: attention weights as a torch tensor or array-like, e.g. the
            ``attentions`` returned by a model's forward pass for one batch element.
        x_labels: one label per key position.
        y_labels: one label per query position.
        title: figure title.
        path: output file; ``.png``, ``.svg`` or ``.pdf`` by suffix, written atomically.
        max_cols: at most this many panels per row.
        annotate: write values in the cells; ``None`` annotates panels up to 6 × 6.
        layer_ids, head_ids: the numbers to show in panel titles when ``weights`` holds a
            selection (e.g. only layer 3); default ``0, 1, …``.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Shape:
        - weights: :math:`(H, T_q, T_k)` or :math:`(L, H, T_q, T_k)`.

    Raises:
        ValueError: wrong number of dimensions, empty dimensions, label count not matching
            the shape, too many panels (more than 256), ``max_cols < 1`` or unknown suffix.
    """
    path = Path(path)
    fmt = _check_format(path)
    if isinstance(max_cols, bool) or not isinstance(max_cols, int) or max_cols < 1:
        raise ValueError(f"max_cols must be a positive integer, got {max_cols!r}")
    maps = _to_numpy(weights)
    if maps.ndim not in (3, 4) or 0 in maps.shape:
        raise ValueError(
            "plot_attention_heads expects weights of shape (H, Tq, Tk) or (L, H, Tq, Tk) "
            f"with no empty dimension, got shape {tuple(maps.shape)}"
        )
    has_layers = maps.ndim == 4
    if not has_layers:
        maps = maps[None]  # (H, Tq, Tk) -> (1, H, Tq, Tk)
    num_layers, num_heads, tq, tk = maps.shape
    _check_labels(x_labels, tk, "x_labels", "key (Tk)")
    _check_labels(y_labels, tq, "y_labels", "query (Tq)")
    if num_layers * num_heads > _MAX_PANELS:
        raise ValueError(
            f"{num_layers * num_heads} panels (shape {tuple(maps.shape)}) is more than "
            f"{_MAX_PANELS}; select some layers or heads first"
        )
    if annotate is None:
        annotate = tq <= _ANNOTATE_MAX_PANEL and tk <= _ANNOTATE_MAX_PANEL

    cols = min(num_heads, max_cols)
    rows_per_layer = math.ceil(num_heads / cols)
    rows = num_layers * rows_per_layer
    panel_w = min(max(1.2 + 0.3 * tk, 2.4), 5.0)
    panel_h = min(max(1.0 + 0.3 * tq, 2.2), 5.0)
    width = max(cols * panel_w + 1.2, _title_width(title))
    fig = Figure(figsize=(width, rows * panel_h + (0.6 if title else 0.2)), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    vmin, vmax = _color_range(maps)
    image = None
    for layer in range(num_layers):
        for head in range(num_heads):
            row = layer * rows_per_layer + head // cols
            ax = axes[row, head % cols]
            image = _draw_map(
                ax,
                maps[layer, head],
                x_labels=x_labels,
                y_labels=y_labels,
                vmin=vmin,
                vmax=vmax,
                annotate=annotate,
                axis_titles=False,
            )
            layer_id = layer if layer_ids is None else layer_ids[layer]
            head_id = head if head_ids is None else head_ids[head]
            label = f"layer {layer_id} · head {head_id}" if has_layers else f"head {head_id}"
            ax.set_title(label, fontsize=9)
        for slot in range(num_heads, rows_per_layer * cols):  # empty slots of a wrapped row
            axes[layer * rows_per_layer + slot // cols, slot % cols].set_axis_off()
    fig.colorbar(image, ax=axes, shrink=0.9)
    if title:
        fig.suptitle(title)
    return _save(fig, path, fmt)
