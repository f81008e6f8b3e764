"""Query rows that share a key/value row: the beams of one sentence share its source.

Beam search keeps ``k`` hypotheses per sentence; their cross-attention keys and values
all come from the same source sentence. A model may hand attention keys with ``B / g``
batch rows for queries with ``B`` rows: consecutive groups of ``g`` query rows then share
one key row. The reference (:func:`attnkit.nn.attention.attend`) gives every query row
its own copy (:func:`repeat_rows`); the speed seam folds the group into one product
instead.
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["count_row_groups", "repeat_rows"]


def count_row_groups(
    q: Tensor, k: Tensor, *, attn_mask: Tensor | None, bias: Tensor | None, is_causal: bool
) -> int:
    """How many query rows share each key/value row (1: one each).

    Raises:
        ValueError: the rows do not divide, or the sharing meets a per-query term
            (causal mask, position bias, a mask with a query axis) it cannot share.

    Shape:
        q ``(B, H, Tq, Dh)``, k ``(Bkv, Hkv, Tk, Dh)`` → ``B / Bkv``.
    """
    rows, key_rows = q.shape[0], k.shape[0]
    if rows == key_rows:
        return 1
    if key_rows == 0 or rows % key_rows:
        raise ValueError(
            f"queries have {rows} batch rows but keys {key_rows}; keys need as many rows "
            "as the queries, or a divisor of that (query rows sharing a key row)"
        )
    per_query = attn_mask is not None and attn_mask.dim() >= 2 and attn_mask.shape[-2] != 1
    if is_causal or bias is not None or per_query:
        raise ValueError(
            "query rows sharing key rows cannot take a causal mask, a position bias or a "
            "mask with a query axis; repeat the keys to one row per query row"
        )
    return rows // key_rows


def repeat_rows(x: Tensor | None, groups: int) -> Tensor | None:
    """Give each of the ``groups`` query rows of a group its own copy of their shared
    row (a mask broadcast over the batch, with one row, stays as it is).

    Shape:
        ``(Bkv, ...)`` → ``(Bkv·g, ...)``.
    """
    if x is None or groups == 1 or x.dim() < 4 or x.shape[0] == 1:
        return x
    return x.repeat_interleave(groups, dim=0)
