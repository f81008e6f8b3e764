"""Position-wise feed-forward block: the same two-layer MLP applied at every position."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.nn.dropout import Dropout

__all__ = ["ACTIVATIONS", "FeedForward"]

ACTIVATIONS = ("relu", "gelu", "swiglu")


class FeedForward(nn.Module):
    """``fc2(dropout(act(fc1(x))))`` — or, for SwiGLU (Shazeer 2020),
    ``fc2(dropout(silu(fc1(x)) * gate(x)))``.

    Args:
        d_model: input and output width ``D``.
        d_ff: hidden width.
        activation: ``"relu"`` (the paper), ``"gelu"`` (BERT, GPT-2) or ``"swiglu"``.
        dropout: dropout on the hidden activations.
        bias: biases in the linear layers.

    Shape:
        ``(B, T, D)`` → ``(B, T, D)``.
    """

    def __init__(
        self,
        d_model: int,
        d_ff: int,
        *,
        activation: str = "relu",
        dropout: float = 0.0,
        bias: bool = True,
    ):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation '{activation}'; choose one of {', '.join(ACTIVATIONS)}"
            )
        self.activation = activation
        self.fc1 = nn.Linear(d_model, d_ff, bias=bias)
        self.gate = nn.Linear(d_model, d_ff, bias=bias) if activation == "swiglu" else None
        self.fc2 = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        hidden = self.fc1(x)  # (B, T, d_ff)
        if self.gate is not None:
            hidden = F.silu(hidden) * self.gate(x)
        elif self.activation == "gelu":
            hidden = F.gelu(hidden)
        else:
            hidden = F.relu(hidden)
        if self.training:  # skipped, not called, in eval (see TransformerLayer._sublayer)
            hidden = self.dropout(hidden)
        return self.fc2(hidden)

    def extra_repr(self) -> str:
        return f"activation={self.activation!r}"
