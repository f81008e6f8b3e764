"""Input embeddings: token vectors joined with absolute position information.

The two ways of joining are a config choice:

* ``"add"`` — ``x = e_token + p_position`` (Vaswani et al.): both live in the same
  ``d_model``-wide space;
* ``"concat"`` — ``x = [e_token ; p_position]``: the token part is ``d_model − pos_dim``
  wide and the position part ``pos_dim`` wide, so the two never interfere.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from attnkit.nn.positional import (
    ABSOLUTE_SCHEMES,
    LearnedPositionEmbedding,
    SinusoidalEncoding,
)

__all__ = ["COMBINE_MODES", "InputEmbedding", "check_tokens"]

COMBINE_MODES = ("add", "concat")


def check_tokens(tokens: Tensor, vocab_size: int, name: str = "tokens") -> None:
    """Raise a ``ValueError`` unless ``tokens`` is a non-empty ``(B, T)`` integer tensor
    of ids below ``vocab_size`` — before any embedding lookup, which would otherwise
    fail with an opaque index error.
    """
    if not isinstance(tokens, Tensor) or tokens.dtype not in (torch.long, torch.int32):
        got = tokens.dtype if isinstance(tokens, Tensor) else type(tokens).__name__
        raise ValueError(f"{name} must be a torch.long tensor of token ids, got {got}")
    if tokens.dim() != 2:
        raise ValueError(f"{name} has shape {tuple(tokens.shape)}, expected (B, T)")
    if tokens.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(tokens.shape)}); pass at least one token")
    low, high = int(tokens.min()), int(tokens.max())
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise ValueError(f"{name} contains id {bad}, outside the vocabulary [0, {vocab_size})")


class InputEmbedding(nn.Module):
    """Token embedding plus (optionally) absolute positions, then dropout.

    Token ids are not checked here (models call :func:`check_tokens` once per input).

    For the schemes that act inside attention (relative, RoPE, ALiBi) and for ``"none"``
    this is a plain token embedding.

    Args:
        vocab_size: number of tokens ``V``.
        d_model: output width ``D``.
        positional: one of :data:`~attnkit.nn.positional.POSITIONAL_SCHEMES`.
        combine: ``"add"`` or ``"concat"`` (absolute schemes only).
        pos_dim: width of the position part when concatenating (default ``D // 4``).
        max_len: size of the learned position table.
        scale: multiply token vectors by ``√(token width)`` (the paper's convention).
        dropout: dropout on the result.
        padding_idx: token id whose embedding stays zero.
        token_embedding: an existing ``nn.Embedding`` to share (e.g. between encoder
            and decoder); its width must be the token width.

    Shape:
        tokens ``(B, T)`` long, positions ``(B|1, T)`` long → ``(B, T, D)``.
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        *,
        positional: str = "learned",
        combine: str = "add",
        pos_dim: int | None = None,
        max_len: int = 512,
        scale: bool = False,
        dropout: float = 0.0,
        padding_idx: int | None = None,
        token_embedding: nn.Embedding | None = None,
    ):
        super().__init__()
        if combine not in COMBINE_MODES:
            raise ValueError(f"unknown combine '{combine}'; choose 'add' or 'concat'")
        absolute = positional in ABSOLUTE_SCHEMES
        if combine == "concat" and not absolute:
            raise ValueError(
                f"combine='concat' needs an absolute positional scheme "
                f"({' or '.join(ABSOLUTE_SCHEMES)}), got '{positional}'"
            )
        self.combine = combine
        default_pos_dim = d_model // 4 if pos_dim is None else pos_dim
        self.pos_dim = default_pos_dim if combine == "concat" else d_model
        if not 0 < self.pos_dim <= d_model or (combine == "concat" and self.pos_dim == d_model):
            raise ValueError(
                f"pos_dim={self.pos_dim} leaves no room for the token embedding in "
                f"d_model={d_model}: with combine='concat' it must be between 1 and "
                f"{d_model - 1}"
            )
        token_dim = d_model - self.pos_dim if combine == "concat" else d_model
        if token_embedding is None:
            token_embedding = nn.Embedding(vocab_size, token_dim, padding_idx=padding_idx)
        elif token_embedding.embedding_dim != token_dim:
            raise ValueError(
                f"shared token embedding is {token_embedding.embedding_dim} wide, expected "
                f"{token_dim}"
            )
        self.token = token_embedding
        self.scale = math.sqrt(token_dim) if scale else 1.0
        self.position: nn.Module | None = None
        if positional == "learned":
            self.position = LearnedPositionEmbedding(max_len, self.pos_dim)
        elif positional == "sinusoidal":
            self.position = SinusoidalEncoding(self.pos_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens: Tensor, positions: Tensor) -> Tensor:
        # Positions first: a too-long input fails (naming max_len) before any lookup.
        p = None if self.position is None else self.position(positions)  # (B|1, T, pos_dim)
        x = self.token(tokens) * self.scale  # (B, T, D or D - pos_dim)
        if p is not None:
            p = p.to(x.dtype)
            if self.combine == "add":
                x = x + p
            else:
                x = torch.cat([x, p.expand(x.shape[0], -1, -1)], dim=-1)  # (B, T, D)
        return self.dropout(x)

    def extra_repr(self) -> str:
        return f"combine={self.combine!r}, scale={self.scale:.3g}"
