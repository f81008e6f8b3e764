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

__all__ = ["KVCache", "RecurrentCache", "StackCache"]


class KVCache:
    """Keys and values of one attention module, kept between decoding steps.

    Self-attention keys are appended in place into preallocated buffers whose capacity
    doubles when full, so a step copies only its own new keys — not the whole history,
    as ``torch.cat`` would (quadratic in the generated length). ``keys`` and ``values``
    are views of the filled part.

    Shape:
        ``keys``, ``values``: ``(B, Hkv, T, Dh)`` after the first call, else ``None``.
    """

    _MIN_CAPACITY = 64

    def __init__(self) -> None:
        self._keys: Tensor | None = None  # (B, Hkv, capacity, Dh)
        self._values: Tensor | None = None
        self._length = 0
        self._spare: tuple[Tensor, Tensor] | None = None  # reorder target, same shape
        self._owned = False  # buffers allocated here (stored tensors are never written)

    @property
    def keys(self) -> Tensor | None:
        return self._filled_part(self._keys)

    @property
    def values(self) -> Tensor | None:
        return self._filled_part(self._values)

    def _filled_part(self, buffer: Tensor | None) -> Tensor | None:
        if buffer is None or buffer.shape[-2] == self._length:
            return buffer  # stored whole (cross-attention) or exactly full
        return buffer[:, :, : self._length]

    def __len__(self) -> int:
        return self._length

    @property
    def filled(self) -> bool:
        """Whether keys and values are stored (cross-attention computes them once)."""
        return self._keys is not None

    def _reserve(self, like_keys: Tensor, like_values: Tensor, needed: int) -> None:
        """Make room for ``needed`` positions (copying what is there into new buffers)."""
        if self._keys is not None and needed <= self._keys.shape[-2]:
            return
        capacity = max(
            self._MIN_CAPACITY, needed, 2 * (0 if self._keys is None else self._keys.shape[-2])
        )
        keys = like_keys.new_empty(*like_keys.shape[:2], capacity, like_keys.shape[-1])
        values = like_values.new_empty(*like_values.shape[:2], capacity, like_values.shape[-1])
        if self._keys is not None and self._values is not None and self._length:
            keys[:, :, : self._length] = self._keys[:, :, : self._length]
            values[:, :, : self._length] = self._values[:, :, : self._length]
        self._keys, self._values, self._owned = keys, values, True

    def append(self, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
        """Add the newest positions' keys/values; return all keys/values so far.

        Shape:
            keys ``(B, Hkv, T_new, Dh)`` → ``(B, Hkv, T_old + T_new, Dh)``.
        """
        start, end = self._length, self._length + keys.shape[-2]
        if self._keys is None or end > self._keys.shape[-2]:
            self._reserve(keys, values, end)
        all_keys, all_values = self._keys, self._values
        all_keys[:, :, start:end] = keys  # type: ignore[index]
        all_values[:, :, start:end] = values  # type: ignore[index]
        self._length = end
        if end < all_keys.shape[-2]:  # type: ignore[union-attr]
            return all_keys[:, :, :end], all_values[:, :, :end]  # type: ignore[index]
        return all_keys, all_values  # type: ignore[return-value]

    def store(self, keys: Tensor, values: Tensor) -> None:
        """Keep keys/values computed once (cross-attention over a fixed source)."""
        self._keys, self._values, self._length = keys, values, keys.shape[-2]
        self._owned, self._spare = False, None

    def reorder(self, index: Tensor) -> None:
        """Select batch rows, e.g. the surviving hypotheses of a beam search.

        Beam search reorders every step with the batch size unchanged: rows are then
        gathered into a second buffer kept for the purpose and the two are swapped, so
        no step allocates (fresh memory costs page faults), and only the filled
        positions are copied (on average half the capacity).

        Shape:
            index ``(B_new,)`` long, rows of the current batch.
        """
        if self._keys is None or self._values is None:
            return
        same_rows = index.numel() == self._keys.shape[0]
        if not (same_rows and self._owned and self._keys.is_contiguous()):
            self._keys = self.keys.index_select(0, index)  # type: ignore[union-attr]
            self._values = self.values.index_select(0, index)  # type: ignore[union-attr]
            self._owned, self._spare = True, None
            return
        if self._spare is None or self._spare[0].shape != self._keys.shape:
            self._spare = (torch.empty_like(self._keys), torch.empty_like(self._values))
        spare_keys, spare_values = self._spare
        filled = self._length
        torch.index_select(self.keys, 0, index, out=spare_keys[:, :, :filled])  # type: ignore[arg-type]
        torch.index_select(self.values, 0, index, out=spare_values[:, :, :filled])  # type: ignore[arg-type]
        self._spare = (self._keys, self._values)
        self._keys, self._values = spare_keys, spare_values


class StackCache:
    """Everything a :class:`~attnkit.nn.stacks.TransformerStack` keeps between steps.

    Attributes:
        self_attn: one :class:`KVCache` per layer.
        cross_attn: one :class:`KVCache` per layer (empty list without cross-attention).
        positions: positions of the keys seen so far, ``(B, T)`` long, kept only for a
            stack with a position bias (relative, ALiBi); else ``None``.
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

    def extend(
        self, positions: Tensor, padding_mask: Tensor | None, *, batch: int, keep_positions: bool
    ) -> tuple[Tensor, Tensor | None]:
        """Record the positions and padding of a new chunk; return those of every key so
        far (the cached ones, then the chunk's). Positions are kept only when asked
        (``keep_positions``: a position bias reads them; the rest count from the length).

        Shape:
            positions ``(B|1, T)``, padding_mask ``(B, T)`` bool or ``None`` →
            key positions ``(B|1, T_cached + T)``, key padding ``(B, T_cached + T)`` or
            ``None``.
        """
        past, length = len(self), positions.shape[-1]
        key_positions = positions
        if keep_positions:
            if self.positions is not None:
                key_positions = torch.cat(
                    [self.positions.expand(batch, -1), positions.expand(batch, -1)], dim=1
                )
            self.positions = key_positions.expand(batch, -1)  # (B, Tk): beams reorder rows
        key_padding = padding_mask
        if padding_mask is not None or self.padding_mask is not None:
            device = positions.device
            old = self.padding_mask
            if old is None:
                old = torch.ones(batch, past, dtype=torch.bool, device=device)
            new = padding_mask
            if new is None:
                new = torch.ones(batch, length, dtype=torch.bool, device=device)
            key_padding = torch.cat([old, new], dim=1)  # (B, past + T)
        self.padding_mask = key_padding
        return key_positions, key_padding

    def reorder(self, index: Tensor) -> None:
        """Select batch rows in every layer's cache.

        Shape:
            index ``(B_new,)`` long.
        """
        self.reorder_beams(index, source_rows=index)

    def reorder_beams(self, index: Tensor, source_rows: Tensor | None = None) -> None:
        """Follow beam search's surviving hypotheses, moving less than :meth:`reorder`.

        A hypothesis only ever moves between the beams of its own sentence, and the
        cross-attention keys and values are the same for every beam of a sentence
        (they come from its source). So the cross-attention caches keep their rows,
        or keep just ``source_rows`` (the rows of the sentences still searching) when
        some finished; the self-attention caches, positions and padding follow
        ``index``. This saves copying the whole projected source at every step.

        Shape:
            index ``(B_new,)`` long; source_rows ``(S_new,)`` long (rows of the
            cross-attention caches: one per beam, or one per sentence when beams share
            their source) or ``None``.
        """
        for cache in self.self_attn:
            cache.reorder(index)
        if source_rows is not None:
            for cache in self.cross_attn:
                cache.reorder(source_rows)
        if self.positions is not None:
            self.positions = self.positions.index_select(0, index)
        if self.padding_mask is not None:
            self.padding_mask = self.padding_mask.index_select(0, index)


class RecurrentCache:
    """What a recurrent decoder keeps between steps: its state, nothing that grows.

    A recurrence summarises the whole past in a fixed-size state, so unlike a
    :class:`KVCache` nothing is appended; each step replaces the state.

    Attributes:
        state: the decoder's state, one tensor per part (``(h,)``, or ``(h, c)`` for an
            LSTM), each ``(L, B, H)`` as ``torch.nn.RNN`` keeps it; ``None`` before the
            first step (the model then starts from the encoder).
        feed: the previous step's output fed back as input (Luong's input feeding),
            ``(B, H)``, or ``None``.
        length: positions processed so far.
    """

    def __init__(self) -> None:
        self.state: tuple[Tensor, ...] | None = None
        self.feed: Tensor | None = None
        self.length = 0

    def __len__(self) -> int:
        return self.length

    def reorder(self, index: Tensor) -> None:
        """Select batch rows (beam search). Shape: index ``(B_new,)`` long."""
        if self.state is not None:
            self.state = tuple(part.index_select(1, index) for part in self.state)
        if self.feed is not None:
            self.feed = self.feed.index_select(0, index)
