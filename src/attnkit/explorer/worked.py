"""Inside one head: the notes' worked example, for any query token of any run.

The attention module of the chosen layer is watched while the model runs (a forward
pre-hook sees exactly the inputs, masks and positional terms it gets); its own
projections then recompute, for one head and one query, every step of
:func:`attnkit.nn.attention.attend`: the query, each key, the raw scores ``q·k``, the
scaling by ``1/√Dh``, the positional bias, the mask, the softmax weights and the weighted
sum of the values. The weights are checked against the ones the model returned.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from attnkit.nn.attention import MultiHeadAttention
from attnkit.nn.positional import apply_rotary
from attnkit.nn.scores import DotScore, ScaledDotScore

__all__ = ["capture_inputs", "explain_head"]


def capture_inputs(
    module: nn.Module, forward: Callable[[], Any]
) -> tuple[tuple[Any, ...], dict[str, Any], Any]:
    """Run ``forward()`` and return the positional and keyword arguments ``module`` was
    called with (its first call), and what ``forward`` returned."""
    seen: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def hook(_module, args, kwargs):
        if not seen:
            seen.append((args, dict(kwargs)))

    handle = module.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        with torch.no_grad():
            result = forward()
    finally:
        handle.remove()
    if not seen:
        raise ValueError("the chosen attention module did not run in this forward pass")
    return seen[0][0], seen[0][1], result


def _row(term: Tensor | None, head: int, query: int, num_keys: int) -> Tensor | None:
    """Row ``(0, head, query)`` of a term broadcastable to ``(B, H, Tq, Tk)``."""
    if term is None:
        return None
    while term.dim() < 4:
        term = term.unsqueeze(0)
    return term[0, min(head, term.shape[1] - 1), min(query, term.shape[2] - 1)].expand(num_keys)


def explain_head(
    attention: MultiHeadAttention,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    head: int,
    query: int,
) -> dict[str, Any]:
    """Every step of one head's attention for one query, from the module's inputs.

    Args:
        attention: the layer's attention module.
        args, kwargs: what it was called with (:func:`capture_inputs`).
        head: the query head.
        query: the query position.

    Shape:
        returns lists: ``q`` ``(Dh,)``, ``k`` and ``v`` ``(Tk, Dh)``, ``raw``, ``scaled``,
        ``bias``, ``mask``, ``weights`` ``(Tk,)``, ``output`` ``(Dh,)``.
    """
    query_in = args[0]
    key_in = args[1] if len(args) > 1 else kwargs.get("key")
    value_in = args[2] if len(args) > 2 else kwargs.get("value")
    key_in = query_in if key_in is None else key_in
    value_in = key_in if value_in is None else value_in
    with torch.no_grad():
        q = attention.split_heads(attention.q_proj(query_in), attention.num_heads)  # (B,H,Tq,Dh)
        k = attention.split_heads(attention.k_proj(key_in), attention.num_kv_heads)
        v = attention.split_heads(attention.v_proj(value_in), attention.num_kv_heads)
        rotary = kwargs.get("rotary")
        if rotary is not None:  # RoPE turns queries and keys by their positions
            q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
        kv_head = head // (attention.num_heads // attention.num_kv_heads)  # grouped heads
        num_queries, num_keys = q.shape[-2], k.shape[-2]
        q_vec = q[0, head, query]  # (Dh,)
        keys, values = k[0, kv_head], v[0, kv_head]  # (Tk, Dh)
        raw = keys @ q_vec  # (Tk, Dh) @ (Dh,) -> (Tk,)
        score = attention.score
        if isinstance(score, ScaledDotScore):
            scale, scaled = 1 / math.sqrt(q_vec.shape[-1]), raw / math.sqrt(q_vec.shape[-1])
        elif isinstance(score, DotScore):
            scale, scaled = 1.0, raw
        else:  # a learned score (general, additive): its own function of q and k
            scale = None
            # it keeps one weight set per head: score every head, keep this one
            grouped = k[:1].repeat_interleave(attention.num_heads // attention.num_kv_heads, dim=1)
            scaled = score(q[:1], grouped)[0, head, query]  # (B,H,Tq,Tk) -> (Tk,)
        bias = _row(kwargs.get("position_bias"), head, query, num_keys)
        keep = torch.ones(num_keys, dtype=torch.bool)
        attn_mask = _row(kwargs.get("attn_mask"), head, query, num_keys)
        if attn_mask is not None:
            keep &= attn_mask.bool().cpu()
        if kwargs.get("is_causal"):  # aligned to the last query, as attend() does
            keep &= torch.arange(num_keys) <= query + num_keys - num_queries
        padding = kwargs.get("key_padding_mask")
        if padding is not None:
            keep &= padding[0].bool().cpu()
        logits = scaled + (0 if bias is None else bias)
        logits = logits.masked_fill(~keep.to(logits.device), float("-inf"))
        # A query that may see no key gets nothing (attend() returns zeros), not NaN.
        weights = torch.softmax(logits.float(), dim=-1) if keep.any() else torch.zeros(num_keys)
        output = weights.to(values.dtype) @ values  # (Tk,) @ (Tk, Dh) -> (Dh,)

    def floats(t: Tensor) -> list:
        return t.detach().float().cpu().tolist()

    return {
        "head_dim": int(q_vec.shape[-1]),
        "score": type(score).__name__,
        "scale": scale,
        "q": floats(q_vec),
        "k": floats(keys),
        "v": floats(values),
        "raw": floats(raw),
        "scaled": floats(scaled),
        "bias": None if bias is None else floats(bias),
        "mask": keep.tolist(),
        "weights": floats(weights),
        "output": floats(output),
    }
