"""Alignment (score) functions: how well a query matches each key.

Every score function maps queries ``q`` and keys ``k`` to one score per (query, key)
pair. They are modules so that the learnable ones (general, additive) carry their
weights; the same classes serve single-head attention (``num_heads=1``, e.g. the RNN
decoders) and multi-head attention (one weight set per head).

============  ==================================  ==========================
name          score(q, k)                         reference
============  ==================================  ==========================
dot           qᵀk                                 Luong et al. 2015
scaled_dot    qᵀk / √d_k                          Vaswani et al. 2017
general       qᵀ W k                              Luong et al. 2015
additive      vᵀ tanh(W₁q + W₂k)                  Bahdanau et al. 2015
============  ==================================  ==========================

Why ÷√d_k: for random q, k with unit-variance entries, qᵀk has variance d_k, so without
scaling the softmax saturates as d_k grows and its gradients vanish.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = [
    "SCORE_FUNCTIONS",
    "AdditiveScore",
    "DotScore",
    "GeneralScore",
    "ScaledDotScore",
    "make_score",
]


class DotScore(nn.Module):
    """Dot-product alignment ``qᵀk`` (no parameters).

    Shape:
        q ``(B, H, Tq, D)``, k ``(B, H, Tk, D)`` → ``(B, H, Tq, Tk)``.
    """

    def forward(self, q: Tensor, k: Tensor) -> Tensor:
        return q @ k.transpose(-2, -1)  # (B,H,Tq,D) @ (B,H,D,Tk) -> (B,H,Tq,Tk)


class ScaledDotScore(nn.Module):
    """Scaled dot-product alignment ``qᵀk / √d_k`` (no parameters).

    Shape:
        q ``(B, H, Tq, D)``, k ``(B, H, Tk, D)`` → ``(B, H, Tq, Tk)``.
    """

    def forward(self, q: Tensor, k: Tensor) -> Tensor:
        return (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])


class GeneralScore(nn.Module):
    """Bilinear ("general") alignment ``qᵀ W k`` with one ``W`` per head.

    Args:
        query_dim: width of a query (per head).
        key_dim: width of a key (per head); default ``query_dim``.
        num_heads: number of independent ``W`` matrices.

    Shape:
        q ``(B, H, Tq, Dq)``, k ``(B, H, Tk, Dk)`` → ``(B, H, Tq, Tk)``.
    """

    def __init__(self, query_dim: int, key_dim: int | None = None, *, num_heads: int = 1):
        super().__init__()
        key_dim = query_dim if key_dim is None else key_dim
        self.weight = nn.Parameter(torch.empty(num_heads, query_dim, key_dim))  # (H, Dq, Dk)
        nn.init.xavier_uniform_(self.weight)

    def forward(self, q: Tensor, k: Tensor) -> Tensor:
        qw = q @ self.weight.unsqueeze(0)  # (B,H,Tq,Dq) @ (1,H,Dq,Dk) -> (B,H,Tq,Dk)
        return qw @ k.transpose(-2, -1)  # (B,H,Tq,Dk) @ (B,H,Dk,Tk) -> (B,H,Tq,Tk)


class AdditiveScore(nn.Module):
    """Additive (Bahdanau) alignment ``vᵀ tanh(W₁q + W₂k)``, one set of weights per head.

    Args:
        query_dim: width of a query (per head).
        key_dim: width of a key (per head); default ``query_dim``.
        hidden_dim: width ``A`` of the tanh layer; default ``query_dim``.
        num_heads: number of independent weight sets.

    Shape:
        q ``(B, H, Tq, Dq)``, k ``(B, H, Tk, Dk)`` → ``(B, H, Tq, Tk)``; memory grows as
        ``B·H·Tq·Tk·A``, which is why Transformers use dot products.
    """

    def __init__(
        self,
        query_dim: int,
        key_dim: int | None = None,
        *,
        hidden_dim: int | None = None,
        num_heads: int = 1,
    ):
        super().__init__()
        key_dim = query_dim if key_dim is None else key_dim
        hidden_dim = query_dim if hidden_dim is None else hidden_dim
        self.query_weight = nn.Parameter(torch.empty(num_heads, query_dim, hidden_dim))
        self.key_weight = nn.Parameter(torch.empty(num_heads, key_dim, hidden_dim))
        self.bias = nn.Parameter(torch.zeros(num_heads, 1, 1, hidden_dim))
        self.v = nn.Parameter(torch.empty(num_heads, hidden_dim, 1))
        for weight in (self.query_weight, self.key_weight, self.v):
            nn.init.xavier_uniform_(weight)

    def forward(self, q: Tensor, k: Tensor) -> Tensor:
        wq = q @ self.query_weight.unsqueeze(0)  # (B,H,Tq,Dq) @ (1,H,Dq,A) -> (B,H,Tq,A)
        wk = k @ self.key_weight.unsqueeze(0)  # (B,H,Tk,Dk) @ (1,H,Dk,A) -> (B,H,Tk,A)
        hidden = torch.tanh(wq.unsqueeze(-2) + wk.unsqueeze(-3) + self.bias)  # (B,H,Tq,Tk,A)
        # (B,H,Tq,Tk,A) @ (1,H,1,A,1) -> (B,H,Tq,Tk,1)
        return (hidden @ self.v[None, :, None]).squeeze(-1)


SCORE_FUNCTIONS = ("dot", "scaled_dot", "general", "additive")


def make_score(
    name: str,
    query_dim: int,
    key_dim: int | None = None,
    *,
    num_heads: int = 1,
    hidden_dim: int | None = None,
) -> nn.Module:
    """Build the score function called ``name`` (one of :data:`SCORE_FUNCTIONS`).

    ``query_dim``/``key_dim`` are per-head widths. ``dot`` and ``scaled_dot`` need
    ``query_dim == key_dim``.
    """
    key_dim = query_dim if key_dim is None else key_dim
    if name in ("dot", "scaled_dot"):
        if query_dim != key_dim:
            raise ValueError(
                f"score '{name}' needs equal query and key widths, got {query_dim} and "
                f"{key_dim}; use 'general' or 'additive' for different widths"
            )
        return DotScore() if name == "dot" else ScaledDotScore()
    if name == "general":
        return GeneralScore(query_dim, key_dim, num_heads=num_heads)
    if name == "additive":
        return AdditiveScore(query_dim, key_dim, hidden_dim=hidden_dim, num_heads=num_heads)
    raise ValueError(f"unknown score function '{name}'; choose one of {', '.join(SCORE_FUNCTIONS)}")
