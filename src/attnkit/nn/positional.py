"""Positional information: where a token is, since attention alone cannot tell.

Self-attention is permutation-equivariant: shuffle the inputs and the outputs shuffle
the same way. Each scheme here breaks that symmetry differently:

* **absolute** — a vector per position joined with the token embedding
  (:class:`SinusoidalEncoding`, :class:`LearnedPositionEmbedding`; added or
  concatenated, see :class:`~attnkit.nn.embeddings.InputEmbedding`);
* **rotary** (RoPE) — queries and keys are rotated by an angle proportional to their
  position, so ``qᵀk`` depends on the offset only (:class:`RotaryEmbedding`);
* **bias** — a learned (:class:`RelativePositionBias`, T5-style buckets) or fixed
  (:class:`ALiBiBias`) term added to each score according to the key–query distance.

All take explicit ``positions`` so that left padding and incremental decoding give each
token the position it would have alone.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = [
    "ABSOLUTE_SCHEMES",
    "ATTENTION_SCHEMES",
    "POSITIONAL_SCHEMES",
    "ALiBiBias",
    "LearnedPositionEmbedding",
    "RelativePositionBias",
    "RotaryEmbedding",
    "SinusoidalEncoding",
    "apply_rotary",
    "make_positions",
]

POSITIONAL_SCHEMES = ("sinusoidal", "learned", "relative", "rope", "alibi", "none")
ABSOLUTE_SCHEMES = ("sinusoidal", "learned")  # joined with the token embeddings
ATTENTION_SCHEMES = ("relative", "rope", "alibi")  # act inside every self-attention


def make_positions(
    length: int,
    *,
    padding_mask: Tensor | None = None,
    start: int | Tensor = 0,
    device: torch.device | str | None = None,
) -> Tensor:
    """Positions of ``length`` new tokens.

    Without a padding mask the positions are ``start, start+1, …``. With one, only real
    tokens are counted, so a left-padded sequence starts at position ``start`` at its
    first real token (padding gets 0).

    Args:
        length: number of new tokens ``T``.
        padding_mask: ``(B, T)`` bool, ``True`` = real token.
        start: tokens already seen (an int, or ``(B,)`` per sequence when decoding with
            a cache).

    Shape:
        returns ``(1, T)`` without a padding mask, else ``(B, T)`` long.
    """
    if padding_mask is None:
        if isinstance(start, Tensor):
            return start.unsqueeze(1) + torch.arange(length, device=start.device)
        return torch.arange(start, start + length, device=device).unsqueeze(0)
    if isinstance(start, Tensor):
        start = start.unsqueeze(1)  # (B, 1)
    positions = padding_mask.long().cumsum(-1) - 1 + start  # (B, T)
    return positions.clamp_min(0) * padding_mask


class SinusoidalEncoding(nn.Module):
    """Fixed sinusoids of Vaswani et al. (2017): ``PE[p, 2i] = sin(p / base^(2i/d))``,
    ``PE[p, 2i+1] = cos(p / base^(2i/d))``. Computed on the fly, so any position works.

    Shape:
        positions ``(B, T)`` long → ``(B, T, dim)``.
    """

    def __init__(self, dim: int, *, base: float = 10000.0):
        super().__init__()
        self.dim = dim
        half = (dim + 1) // 2
        inv_freq = base ** (-torch.arange(half, dtype=torch.float64) * 2 / dim)
        self.register_buffer("inv_freq", inv_freq.float(), persistent=False)

    def forward(self, positions: Tensor) -> Tensor:
        angles = positions.unsqueeze(-1).float() * self.inv_freq  # (B, T, ceil(dim/2))
        # interleave: even channels sin, odd channels cos
        pe = torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(-2)  # (B, T, 2*half)
        return pe[..., : self.dim]


class LearnedPositionEmbedding(nn.Module):
    """One learned vector per position up to ``max_len`` (BERT, GPT-2).

    Raises a ``ValueError`` naming ``max_len`` for a position past the table.

    Shape:
        positions ``(B, T)`` long → ``(B, T, dim)``.
    """

    def __init__(self, max_len: int, dim: int):
        super().__init__()
        self.max_len = max_len
        self.weight = nn.Parameter(torch.empty(max_len, dim))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, positions: Tensor) -> Tensor:
        if positions.numel() and int(positions.max()) >= self.max_len:
            raise ValueError(
                f"the input needs {int(positions.max()) + 1} positions but the learned "
                f"position table has max_len={self.max_len}; shorten the input, raise "
                f"max_len (and retrain), or use positional = 'sinusoidal', 'rope', "
                f"'alibi' or 'relative', which extend to any length"
            )
        return nn.functional.embedding(positions, self.weight)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate pairs of channels (``i``, ``i + Dh/2``) of ``x`` by the given angles.

    Shape:
        x ``(B, H, T, Dh)``; cos, sin ``(B|1, 1, T, Dh)`` → ``(B, H, T, Dh)``.
    """
    x1, x2 = x.chunk(2, dim=-1)
    rotated = torch.cat([-x2, x1], dim=-1)  # rotate-half convention (GPT-NeoX, Llama)
    return x * cos + rotated * sin


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (RoPE, Su et al. 2021).

    Queries and keys are rotated by position-dependent angles; then ``qᵀk`` depends on
    the positions only through their difference. Works at any length.

    Shape:
        ``forward(positions (B|1, T))`` → ``(cos, sin)``, each ``(B|1, 1, T, head_dim)``,
        for :func:`apply_rotary`.
    """

    def __init__(self, head_dim: int, *, base: float = 10000.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary embeddings need an even head_dim, got {head_dim}")
        inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
        self.register_buffer("inv_freq", inv_freq.float(), persistent=False)

    def forward(self, positions: Tensor) -> tuple[Tensor, Tensor]:
        angles = positions.unsqueeze(-1).float() * self.inv_freq  # (B, T, Dh/2)
        angles = torch.cat([angles, angles], dim=-1).unsqueeze(1)  # (B, 1, T, Dh)
        return angles.cos(), angles.sin()


def _alibi_slopes(num_heads: int) -> Tensor:
    """Head slopes of Press et al. (2022): a geometric sequence starting at 2^(-8/n)."""

    def power_of_two_slopes(n: int) -> list[float]:
        first = 2.0 ** (-8.0 / n)
        return [first ** (i + 1) for i in range(n)]

    if math.log2(num_heads).is_integer():
        slopes = power_of_two_slopes(num_heads)
    else:  # the paper's recipe: the closest power of two, then every other slope of 2n
        closest = 2 ** math.floor(math.log2(num_heads))
        extra = power_of_two_slopes(2 * closest)[0::2][: num_heads - closest]
        slopes = power_of_two_slopes(closest) + extra
    return torch.tensor(slopes)


class ALiBiBias(nn.Module):
    """Attention with linear biases (Press et al. 2022): ``score -= slope_h · |i − j|``.

    No parameters; extends to any length.

    Shape:
        ``forward(q_positions (B|1, Tq), k_positions (B|1, Tk))`` → ``(B|1, H, Tq, Tk)``.
    """

    def __init__(self, num_heads: int):
        super().__init__()
        self.register_buffer("slopes", _alibi_slopes(num_heads), persistent=False)

    def forward(self, q_positions: Tensor, k_positions: Tensor) -> Tensor:
        distance = (q_positions.unsqueeze(-1) - k_positions.unsqueeze(-2)).abs()  # (B,Tq,Tk)
        return -self.slopes[:, None, None] * distance.unsqueeze(1).float()  # (B,H,Tq,Tk)


class RelativePositionBias(nn.Module):
    """Learned relative position bias with logarithmic buckets (T5, Raffel et al. 2020).

    Each head learns one scalar per distance bucket: exact buckets for small distances,
    logarithmically wider ones up to ``max_distance``, beyond which distances share the
    last bucket — so it extends to any length. With ``bidirectional=False`` (decoders)
    future keys share bucket 0, since a causal mask hides them anyway.

    Shape:
        ``forward(q_positions (B|1, Tq), k_positions (B|1, Tk))`` → ``(B|1, H, Tq, Tk)``.
    """

    def __init__(
        self,
        num_heads: int,
        *,
        num_buckets: int = 32,
        max_distance: int = 128,
        bidirectional: bool = True,
    ):
        super().__init__()
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.bidirectional = bidirectional
        self.bias = nn.Embedding(num_buckets, num_heads)
        nn.init.normal_(self.bias.weight, std=0.02)

    def bucket(self, relative: Tensor) -> Tensor:
        """Bucket index of ``relative = key_position − query_position`` (any shape)."""
        num_buckets = self.num_buckets
        buckets = torch.zeros_like(relative)
        if self.bidirectional:
            num_buckets //= 2
            buckets = buckets + (relative > 0).long() * num_buckets
            distance = relative.abs()
        else:
            distance = (-relative).clamp_min(0)
        max_exact = num_buckets // 2
        is_small = distance < max_exact
        log_ratio = torch.log(distance.float().clamp_min(1) / max_exact) / math.log(
            self.max_distance / max_exact
        )
        large = max_exact + (log_ratio * (num_buckets - max_exact)).long()
        large = large.clamp_max(num_buckets - 1)
        return buckets + torch.where(is_small, distance, large)

    def forward(self, q_positions: Tensor, k_positions: Tensor) -> Tensor:
        relative = k_positions.unsqueeze(-2) - q_positions.unsqueeze(-1)  # (B, Tq, Tk)
        bias = self.bias(self.bucket(relative))  # (B, Tq, Tk, H)
        return bias.permute(0, 3, 1, 2)  # (B, H, Tq, Tk)
