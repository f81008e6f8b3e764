"""Attention masks: one convention everywhere.

A mask is a boolean tensor where ``True`` means *may attend* (for an attention mask) or
*is a real token* (for a padding mask) — the polarity of
:func:`torch.nn.functional.scaled_dot_product_attention`. Masks broadcast against the
attention scores of shape ``(B, H, Tq, Tk)``.

Priors other than causality and padding (a local window, a block structure, "only attend
to the source sentence") are expressed the same way: build a boolean mask and combine it.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "check_key_padding_mask",
    "check_mask",
    "combine_masks",
    "key_padding_to_attn_mask",
    "make_causal_mask",
    "make_local_mask",
    "make_padding_mask",
    "padding_mask_from_lengths",
]


def make_causal_mask(
    num_queries: int,
    num_keys: int | None = None,
    *,
    offset: int | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Lower-triangular mask: query ``i`` may attend to keys ``j <= i + offset``.

    Args:
        num_queries: ``Tq``.
        num_keys: ``Tk`` (default ``Tq``).
        offset: position of the first query among the keys. The default,
            ``Tk - Tq``, is right for incremental decoding where the queries are the
            newest ``Tq`` of ``Tk`` positions.
        device: device of the returned tensor.

    Shape:
        returns ``(Tq, Tk)`` bool.

    Example:
        >>> make_causal_mask(3).int()
        tensor([[1, 0, 0],
                [1, 1, 0],
                [1, 1, 1]], dtype=torch.int32)
    """
    num_keys = num_queries if num_keys is None else num_keys
    offset = num_keys - num_queries if offset is None else offset
    q_pos = torch.arange(num_queries, device=device).unsqueeze(1) + offset  # (Tq, 1)
    k_pos = torch.arange(num_keys, device=device).unsqueeze(0)  # (1, Tk)
    return k_pos <= q_pos


def make_local_mask(
    num_queries: int,
    num_keys: int | None = None,
    *,
    window: int,
    causal: bool = False,
    offset: int | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """A local-window prior: query ``i`` sees keys with ``|i + offset - j| <= window``.

    With ``causal=True`` only the ``window`` keys before (and the key at) the query's
    position are allowed.

    Shape:
        returns ``(Tq, Tk)`` bool.
    """
    if window < 0:
        raise ValueError(f"window must be >= 0, got {window}")
    num_keys = num_queries if num_keys is None else num_keys
    offset = num_keys - num_queries if offset is None else offset
    q_pos = torch.arange(num_queries, device=device).unsqueeze(1) + offset  # (Tq, 1)
    k_pos = torch.arange(num_keys, device=device).unsqueeze(0)  # (1, Tk)
    distance = q_pos - k_pos  # (Tq, Tk), > 0 means the key is in the past
    mask = distance.abs() <= window
    if causal:
        mask &= distance >= 0
    return mask


def make_padding_mask(tokens: Tensor, pad_id: int) -> Tensor:
    """``True`` where ``tokens`` holds a real token, ``False`` at padding.

    Shape:
        tokens ``(B, T)`` integer → ``(B, T)`` bool.
    """
    return tokens != pad_id


def padding_mask_from_lengths(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """Right-padding mask from sequence lengths.

    Shape:
        lengths ``(B,)`` → ``(B, max_len)`` bool (``max_len`` defaults to the longest).
    """
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


def key_padding_to_attn_mask(key_padding_mask: Tensor) -> Tensor:
    """View a key padding mask as an attention mask.

    Shape:
        ``(B, Tk)`` → ``(B, 1, 1, Tk)``.
    """
    return key_padding_mask[:, None, None, :]


def combine_masks(*masks: Tensor | None) -> Tensor | None:
    """Logical AND of broadcastable boolean masks, ignoring ``None``.

    Returns ``None`` when every argument is ``None`` (no restriction).
    """
    result: Tensor | None = None
    for mask in masks:
        if mask is None:
            continue
        result = mask if result is None else result & mask
    return result


def check_mask(
    mask: Tensor | None,
    name: str,
    *,
    batch_size: int,
    num_heads: int,
    num_queries: int,
    num_keys: int,
) -> None:
    """Raise a ``ValueError`` naming ``name`` if ``mask`` is not a bool tensor that
    broadcasts to ``(B, H, Tq, Tk)``.

    Accepted shapes: ``(Tq, Tk)``, ``(B, Tq, Tk)`` and ``(B|1, H|1, Tq|1, Tk)``.
    """
    if mask is None:
        return
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a torch.bool tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise ValueError(
            f"{name} must have dtype torch.bool (True = may attend), got {mask.dtype}; "
            f"convert a 0/-inf float mask with `{name} = {name} == 0`"
        )
    expected = (batch_size, num_heads, num_queries, num_keys)
    shape = tuple(mask.shape)
    if mask.dim() == 3:
        shape = (shape[0], 1, shape[1], shape[2])
    ok = 2 <= mask.dim() <= 4 and shape[-1] == num_keys
    if ok:
        padded = (1,) * (4 - len(shape)) + shape
        ok = all(got in (1, want) for got, want in zip(padded, expected, strict=True))
    if not ok:
        raise ValueError(
            f"{name} has shape {tuple(mask.shape)}, expected one that broadcasts to "
            f"(B, H, Tq, Tk) = {expected}: (Tq, Tk), (B, Tq, Tk) or (B, H, Tq, Tk)"
        )


def check_key_padding_mask(mask: Tensor | None, name: str, *, batch_size: int, num_keys: int):
    """Raise a ``ValueError`` naming ``name`` unless ``mask`` is bool of shape ``(B, Tk)``."""
    if mask is None:
        return
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(f"{name} must have dtype torch.bool (True = real token), got {got}")
    if tuple(mask.shape) != (batch_size, num_keys):
        raise ValueError(
            f"{name} has shape {tuple(mask.shape)}, expected (B, Tk) = ({batch_size}, {num_keys})"
        )
