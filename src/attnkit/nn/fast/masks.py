"""Masks that restrict nothing are dropped, so attention runs unmasked.

Replaces nothing in the maths: a padding mask that marks every token as real allows every
key, so without it attention computes the same numbers, but through the fused kernel's
unmasked (and causal) form and with no mask arithmetic. Equal-length batches and the
steps of a decoding run whose prompt had no padding are the usual cases.

Tested by the padding and decoding tests run both ways (``make test``).
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["without_full_padding"]


def without_full_padding(
    padding_mask: Tensor | None, *, decoding: bool, cached_padding: Tensor | None = None
) -> Tensor | None:
    """``padding_mask``, or ``None`` when it and every cached key are real tokens.

    Outside decoding the question is asked only on a CPU, where reading the answer costs
    no device synchronisation.

    Shape:
        padding_mask ``(B, T)`` bool → the same or ``None``.
    """
    if padding_mask is None or cached_padding is not None:
        return padding_mask
    if not decoding and padding_mask.device.type != "cpu":
        return padding_mask
    return None if bool(padding_mask.all()) else padding_mask
