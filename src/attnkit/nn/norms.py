"""Normalisation layers: LayerNorm (the paper) and RMSNorm (cheaper, used by Llama)."""

from __future__ import annotations

from torch import nn

__all__ = ["NORMS", "make_norm"]

NORMS = ("layernorm", "rmsnorm", "none")


def make_norm(kind: str, dim: int, *, eps: float = 1e-5) -> nn.Module:
    """Build a normalisation over the last dimension.

    ``"none"`` gives an identity (for experiments that remove the norm).

    Shape:
        ``(*, dim)`` → ``(*, dim)``.
    """
    if kind == "layernorm":
        return nn.LayerNorm(dim, eps=eps)
    if kind == "rmsnorm":
        return nn.RMSNorm(dim, eps=eps)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm '{kind}'; choose one of {', '.join(NORMS)}")
