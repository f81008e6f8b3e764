"""Attention visualisation: heatmaps of attention weights, one map or a grid of heads."""

from attnkit.viz.plots import plot_attention, plot_attention_heads

__all__ = ["plot_attention", "plot_attention_heads"]
