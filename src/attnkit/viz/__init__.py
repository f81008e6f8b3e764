"""Visualisation: attention heatmaps (one map or a grid of heads) and training curves."""

from attnkit.viz.curves import plot_loss_curve, read_metrics
from attnkit.viz.plots import plot_attention, plot_attention_heads, save_figure

__all__ = [
    "plot_attention",
    "plot_attention_heads",
    "plot_loss_curve",
    "read_metrics",
    "save_figure",
]
