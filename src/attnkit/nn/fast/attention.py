"""Attention computed faster, with the same numbers as the reference
:func:`attnkit.nn.attention.attend` (tested equal in
``tests/nn/test_fast_equals_reference.py``, ``tests/nn/test_paths.py`` and
``tests/nn/test_shared_source_rows.py``).

What it changes, and why each is faster:

* **Scores, scale, bias and mask in one ``baddbmm``** (:func:`_scaled_dot_scores`): the
  scale and the additive terms ride inside the batched matrix product, where scaling,
  adding and masking the ``(B, H, Tq, Tk)`` scores afterwards would each take a pass
  over them, forward and backward.
* **Query rows sharing a key row are folded** (:func:`_fold_rows`): the beams of a
  sentence meet their shared source keys in one product instead of one copy each.
* **Cheap dropout masks on a CPU**: with dropout, the fused kernel falls back to its own
  unfused maths on a CPU and draws a Bernoulli sample per weight; the explicit path uses
  :mod:`attnkit.nn.fast.dropout` instead.
* **No empty-row fix-ups when no row is empty**: on a CPU, asking costs no device sync,
  and the usual case (a causal or padding mask leaves every row a key) then skips the
  extra copies of the weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.nn.fast.dropout import dropout as cheap_dropout
from attnkit.nn.masks import combine_masks, make_causal_mask
from attnkit.nn.scores import ScaledDotScore
from attnkit.nn.shared_rows import count_row_groups

__all__ = ["attend"]


def attend(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    *,
    score: nn.Module,
    attn_mask: Tensor | None = None,
    bias: Tensor | None = None,
    is_causal: bool = False,
    dropout: float = 0.0,
    need_weights: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """The fast form of :func:`attnkit.nn.attention.attend`: same arguments, same result
    (dropout draws its random mask differently on a CPU).

    Shape:
        q ``(B, H, Tq, Dh)``, k ``(B|Bkv, Hkv, Tk, Dh)``, v ``(B|Bkv, Hkv, Tk, Dv)`` →
        output ``(B, H, Tq, Dv)``, weights ``(B, H, Tq, Tk)`` or ``None``.
    """
    groups = count_row_groups(q, k, attn_mask=attn_mask, bias=bias, is_causal=is_causal)
    if groups > 1:
        # Folded rows take the explicit products: on a CPU they beat the flash kernel
        # for a few beams over a short source, and asking for the weights selects them.
        out, weights = attend(
            _fold_rows(q, groups),
            k,
            v,
            score=score,
            attn_mask=attn_mask,
            dropout=dropout,
            need_weights=need_weights or q.device.type == "cpu",
        )
        return _unfold_rows(out, groups), _unfold_rows(weights, groups) if need_weights else None
    num_queries, num_keys = q.shape[-2], k.shape[-2]
    cpu_dropout = dropout > 0 and q.device.type == "cpu"
    fused = isinstance(score, ScaledDotScore) and not need_weights and not cpu_dropout
    materialize = attn_mask is not None or bias is not None or num_queries != num_keys
    if is_causal and (materialize or not fused):
        causal = make_causal_mask(num_queries, num_keys, device=q.device)
        attn_mask, is_causal = combine_masks(causal, attn_mask), False

    # Rows with no allowed key see every key (a finite softmax) and are zeroed after.
    empty_rows = None
    if attn_mask is not None:
        empty_rows = ~attn_mask.any(dim=-1, keepdim=True)  # (.., Tq, 1)
        if q.device.type == "cpu" and not bool(empty_rows.any()):
            empty_rows = None
        else:
            attn_mask = attn_mask | empty_rows

    if fused:
        sdpa_mask = attn_mask
        if bias is not None:
            sdpa_mask = bias.to(q.dtype)
            if attn_mask is not None:
                sdpa_mask = sdpa_mask.masked_fill(~attn_mask, float("-inf"))
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=sdpa_mask,
            dropout_p=dropout,
            is_causal=is_causal,
            enable_gqa=k.shape[1] != q.shape[1],
        )
        weights = None
    else:
        if k.shape[1] != q.shape[1]:  # grouped-query attention: share each K/V head
            repeats = q.shape[1] // k.shape[1]
            k = k.repeat_interleave(repeats, dim=1)  # (B, Hkv, Tk, Dh) -> (B, H, Tk, Dh)
            v = v.repeat_interleave(repeats, dim=1)
        if isinstance(score, ScaledDotScore):
            scores = _scaled_dot_scores(q, k, attn_mask, bias)  # (B, H, Tq, Tk)
        else:
            scores = score(q, k)  # (B, H, Tq, Tk)
            if bias is not None:
                scores = scores + bias
            if attn_mask is not None:
                scores = scores.masked_fill(~attn_mask, float("-inf"))
        low_precision = scores.dtype in (torch.float16, torch.bfloat16)
        weights = torch.softmax(scores.float() if low_precision else scores, dim=-1).to(q.dtype)
        if empty_rows is not None:
            weights = weights.masked_fill(empty_rows, 0.0)
        if dropout > 0:
            dropped = (
                cheap_dropout(weights, dropout) if cpu_dropout else F.dropout(weights, dropout)
            )
        else:
            dropped = weights
        out = dropped @ v  # (B,H,Tq,Tk) @ (B,H,Tk,Dv) -> (B,H,Tq,Dv)
    if empty_rows is not None:
        out = out.masked_fill(empty_rows, 0.0)
    return out, weights


def _fold_rows(q: Tensor, groups: int) -> Tensor:
    """Stack each group of query rows along the query axis, so that they meet their
    shared key row in one product.

    Shape:
        ``(Bkv·g, H, Tq, Dh)`` → ``(Bkv, H, g·Tq, Dh)``.
    """
    rows, heads, length, width = q.shape
    grouped = q.view(rows // groups, groups, heads, length, width).transpose(1, 2)
    return grouped.reshape(rows // groups, heads, groups * length, width)


def _unfold_rows(x: Tensor, groups: int) -> Tensor:
    """Undo :func:`_fold_rows` on a result.

    Shape:
        ``(Bkv, H, g·Tq, N)`` → ``(Bkv·g, H, Tq, N)``.
    """
    key_rows, heads, folded, width = x.shape
    split = x.view(key_rows, heads, groups, folded // groups, width).transpose(1, 2)
    return split.reshape(key_rows * groups, heads, folded // groups, width)


def _scaled_dot_scores(q: Tensor, k: Tensor, mask: Tensor | None, bias: Tensor | None) -> Tensor:
    """``q kᵀ / √Dh`` plus the position bias, ``-inf`` where ``mask`` forbids, as one
    batched matrix product: the same values as
    :class:`~attnkit.nn.scores.ScaledDotScore` followed by ``+ bias`` and a masked fill.

    Shape:
        q ``(B, H, Tq, Dh)``, k ``(B, H, Tk, Dh)``; mask bool and bias float, each
        broadcastable to ``(B, H, Tq, Tk)`` → ``(B, H, Tq, Tk)``.
    """
    batch, heads, num_queries, head_dim = q.shape
    num_keys = k.shape[-2]
    additive = bias
    if mask is not None:
        if additive is None:
            additive = torch.zeros(mask.shape, dtype=q.dtype, device=q.device)
        additive = additive.to(q.dtype).masked_fill(~mask, float("-inf"))
    q3 = q.reshape(batch * heads, num_queries, head_dim)
    k3 = k.reshape(batch * heads, num_keys, head_dim)
    if additive is None:
        start, beta = q3.new_zeros(1, 1, 1), 0.0  # beta 0: nothing is read from it
    else:
        while additive.dim() < 4:
            additive = additive.unsqueeze(0)
        if additive.shape[0] == 1 and additive.shape[1] == 1:  # shared by every head
            start = additive.reshape(1, *additive.shape[2:])
        else:
            start = additive.expand(batch, heads, -1, -1).reshape(
                batch * heads, *additive.shape[2:]
            )
        beta = 1.0
    scores = torch.baddbmm(start, q3, k3.transpose(1, 2), beta=beta, alpha=head_dim**-0.5)
    return scores.view(batch, heads, num_queries, num_keys)
