"""Training curves from a run's ``metrics.jsonl``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from matplotlib.figure import Figure

from attnkit.viz.plots import save_figure

__all__ = ["plot_loss_curve", "read_metrics"]


def read_metrics(path: str | os.PathLike[str]) -> list[dict]:
    """The JSON records of a ``metrics.jsonl`` file (a torn last line is ignored)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def plot_loss_curve(
    metrics_path: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
) -> Path:
    """Training loss (per logged update) and validation loss (per evaluation) against
    the update step, saved as PNG/SVG/PDF (atomically).

    Raises:
        ValueError: the metrics file holds no training records yet.
    """
    records = read_metrics(metrics_path)
    train = [(r["step"], r["loss"]) for r in records if r.get("kind") == "train"]
    valid = [(r["step"], r["val_loss"]) for r in records if r.get("kind") == "eval"]
    if not train and not valid:
        raise ValueError(f"{metrics_path} holds no training or evaluation records yet")
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    if train:
        ax.plot(*zip(*train, strict=True), label="train loss", linewidth=1, alpha=0.8)
    if valid:
        ax.plot(*zip(*valid, strict=True), "o-", label="validation loss", linewidth=1.5)
        best_step, best = min(valid, key=lambda item: item[1])
        ax.annotate(
            f"best {best:.3f}",
            (best_step, best),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
        )
    ax.set_xlabel("update step")
    ax.set_ylabel("cross-entropy (nats per token)")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return save_figure(fig, Path(path))
