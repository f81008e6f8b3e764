"""Key/value caches for incremental decoding.

During generation a decoder sees one new token per step. Self-attention keys and values
of earlier positions never change, so each layer keeps them (:class:`KVCache`) and appends
the new ones; cross-attention keys and values depend only on the source and are computed
once. :class:`StackCache` bundles the per-layer caches with what the stack needs to keep
positions and padding consistent across steps.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["KVCache", "StackCache"]


class KVCache:
    """Keys and values of one attention module, kept between decoding steps.

    Shape:
        ``keys``, ``values``: ``(B, Hkv, T, Dh)`` after the first call, else ``None``.
    """

    def __init__(self) -> None:
        self.keys: Tensor | None = None
        self.values: Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.keys is None else self.keys.shape[-2]

    @property
    def filled(self) -> bool:
        """Whether keys and values are stored (cross-attention computes them once)."""
        return self.keys is not None

    def append(self, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        """Add the newest positions' keys/values; return all keys/values so far."""
        if self.keys is None or self.values is None:
            self.keys, self.values = keys, values
        else:
            self.keys = torch.cat([self.keys, keys], dim=-2)  # (B, Hkv, T_old + T_new, Dh)
            self.values = torch.cat([self.values, values], dim=-2)
        return self.keys, self.values

    def store(self, keys: Tensor, values: Tensor) -> None:
        """Keep keys/values computed once (cross-attention over a fixed source)."""
        self.keys, self.values = keys, values

    def reorder(self, index: Tensor) -> None:
        """Select batch rows, e.g. the surviving hypotheses of a beam search.

        Shape:
            index ``(B_new,)`` long, rows of the current batch.
        """
        if self.keys is not None and self.values is not None:
            self.keys = self.keys.index_select(0, index)
            self.values = self.values.index_select(0, index)


class StackCache:
    """Everything a :class:`~attnkit.nn.stacks.TransformerStack` keeps between steps.

    Attributes:
        self_attn: one :class:`KVCache` per layer.
        cross_attn: one :class:`KVCache` per layer (empty list without cross-attention).
        positions: positions of the keys seen so far, ``(B, T)`` long, or ``None``.
        padding_mask: which keys seen so far are real tokens, ``(B, T)`` bool, or ``None``.
    """

    def __init__(self, num_layers: int, *, cross_attention: bool = False) -> None:
        self.self_attn = [KVCache() for _ in range(num_layers)]
        self.cross_attn = [KVCache() for _ in range(num_layers)] if cross_attention else []
        self.positions: Tensor | None = None
        self.padding_mask: Tensor | None = None

    def __len__(self) -> int:
        """Number of positions processed so far."""
        return len(self.self_attn[0]) if self.self_attn else 0

    def reorder(self, index: Tensor) -> None:
        """Select batch rows in every layer's cache (beam search).

        Shape:
            index ``(B_new,)`` long.
        """
        for cache in (*self.self_attn, *self.cross_attn):
            cache.reorder(index)
        if self.positions is not None:
            self.positions = self.positions.index_select(0, index)
        if self.padding_mask is not None:
            self.padding_mask = self.padding_mask.index_select(0, index)
