"""Attention: a soft key–value lookup.

Given a query ``q``, keys ``k_j`` and values ``v_j``, attention returns
``Σ_j α_j v_j`` with ``α = softmax_j(score(q, k_j))``: every value contributes, in
proportion to how well its key matches the query. A hard lookup would return the single
value whose key equals the query; attention is its differentiable relaxation.

:func:`attend` is the maths on already-split heads; :class:`Attention` is the single-head
lookup of the recurrent encoder–decoders (no projections by default);
:class:`MultiHeadAttention` adds learnable Q/K/V/output projections, several heads,
grouped key/value heads, positional terms and a key/value cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.nn import fast
from attnkit.nn.cache import KVCache
from attnkit.nn.fast import attention as fast_attention
from attnkit.nn.masks import (
    check_key_padding_mask,
    check_mask,
    combine_masks,
    key_padding_to_attn_mask,
    make_causal_mask,
)
from attnkit.nn.positional import apply_rotary
from attnkit.nn.scores import ScaledDotScore, make_score
from attnkit.nn.shared_rows import count_row_groups, repeat_rows

__all__ = ["Attention", "AttentionOutput", "MultiHeadAttention", "attend"]


@dataclass
class AttentionOutput:
    """What an attention module returns.

    Attributes:
        output: the attended values, ``(B, Tq, D)``.
        weights: the attention weights when asked for — ``(B, H, Tq, Tk)`` from
            :class:`MultiHeadAttention`, ``(B, Tq, Tk)`` from :class:`Attention` — else
            ``None``.
    """

    output: Tensor
    weights: Tensor | None = None


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
    """Attention over already-projected, head-split tensors: the notes' formula in order.

    ``scores = score(q, k)`` (e.g. ``q kᵀ / √Dh``), ``+ bias`` (relative positions, ALiBi),
    masked keys set to ``-inf``, ``weights = softmax(scores)`` over the keys, dropout,
    ``output = weights @ v``. When the score is scaled dot product and no weights are
    requested, the same formula runs as one fused kernel
    (:func:`torch.nn.functional.scaled_dot_product_attention`). A query row whose mask
    allows no key returns zeros (and zero weights) with finite gradients, not NaN.
    The speed seam (:mod:`attnkit.nn.fast`) replaces this function with
    :func:`attnkit.nn.fast.attention.attend`, which computes the same numbers faster.

    Args:
        q, k, v: queries, keys, values. ``k``/``v`` may have fewer heads than ``q``
            (grouped-query attention) if ``H`` is a multiple of ``Hkv``, and fewer batch
            rows if ``B`` is a multiple of ``Bkv``: consecutive groups of ``B / Bkv``
            query rows then share one key/value row (the beams of a sentence share its
            source; see :mod:`attnkit.nn.shared_rows`).
        score: a score function from :mod:`attnkit.nn.scores`.
        attn_mask: bool, ``True`` = may attend, broadcastable to ``(B, H, Tq, Tk)``
            (to ``(Bkv, H, 1, Tk)`` when query rows share key rows).
        bias: float term added to the scores (relative positions, ALiBi), broadcastable
            to ``(B, H, Tq, Tk)``.
        is_causal: apply a causal mask aligned to the last query (combined with
            ``attn_mask`` if both are given).
        dropout: dropout probability on the attention weights (pass 0 in eval).
        need_weights: also return the weights (before dropout).

    Shape:
        q ``(B, H, Tq, Dh)``, k ``(B|Bkv, Hkv, Tk, Dh)``, v ``(B|Bkv, Hkv, Tk, Dv)`` →
        output ``(B, H, Tq, Dv)``, weights ``(B, H, Tq, Tk)`` or ``None``.
    """
    if fast.enabled():
        return fast_attention.attend(
            q,
            k,
            v,
            score=score,
            attn_mask=attn_mask,
            bias=bias,
            is_causal=is_causal,
            dropout=dropout,
            need_weights=need_weights,
        )
    groups = count_row_groups(q, k, attn_mask=attn_mask, bias=bias, is_causal=is_causal)
    k, v, attn_mask = repeat_rows(k, groups), repeat_rows(v, groups), repeat_rows(attn_mask, groups)
    if k.shape[1] != q.shape[1]:  # grouped-query attention: a K/V head serves H/Hkv heads
        repeats = q.shape[1] // k.shape[1]
        k = k.repeat_interleave(repeats, dim=1)  # (B, Hkv, Tk, Dh) -> (B, H, Tk, Dh)
        v = v.repeat_interleave(repeats, dim=1)
    if is_causal:
        causal = make_causal_mask(q.shape[-2], k.shape[-2], device=q.device)  # (Tq, Tk)
        attn_mask = combine_masks(causal, attn_mask)
    # A row with no allowed key would softmax over nothing (NaN): let it see every key,
    # then zero its output, so its gradient is exactly zero.
    empty_rows = None
    if attn_mask is not None:
        empty_rows = ~attn_mask.any(dim=-1, keepdim=True)  # (.., Tq, 1)
        attn_mask = attn_mask | empty_rows

    if isinstance(score, ScaledDotScore) and not need_weights:  # the same maths, fused
        sdpa_mask = attn_mask
        if bias is not None:  # an additive float mask carries the bias and the -inf
            sdpa_mask = bias.to(q.dtype)
            if attn_mask is not None:
                sdpa_mask = sdpa_mask.masked_fill(~attn_mask, float("-inf"))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=sdpa_mask, dropout_p=dropout)
        weights = None
    else:
        scores = score(q, k)  # (B, H, Tq, Tk)
        if bias is not None:
            scores = scores + bias
        if attn_mask is not None:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        # Half-precision scores are normalised in fp32; fp32/fp64 keep their precision.
        low_precision = scores.dtype in (torch.float16, torch.bfloat16)
        weights = torch.softmax(scores.float() if low_precision else scores, dim=-1).to(q.dtype)
        if empty_rows is not None:
            weights = weights.masked_fill(empty_rows, 0.0)
        out = F.dropout(weights, dropout) @ v  # (B,H,Tq,Tk) @ (B,H,Tk,Dv) -> (B,H,Tq,Dv)
    if empty_rows is not None:
        out = out.masked_fill(empty_rows, 0.0)
    return out, weights


class Attention(nn.Module):
    """Single-head attention: the soft key–value lookup of the recurrent
    encoder–decoders (Bahdanau et al. 2015, Luong et al. 2015).

    By default queries, keys and values are used as they are (no projections), so
    ``dot`` and ``scaled_dot`` need equal query and key widths; ``general`` and
    ``additive`` learn their own weights and accept different widths.

    Args:
        score: ``"dot"``, ``"scaled_dot"``, ``"general"`` or ``"additive"``.
        query_dim: width of a query ``Dq``.
        key_dim: width of a key ``Dk`` (default ``query_dim``).
        hidden_dim: width of the additive score's tanh layer (default ``query_dim``).
        dropout: dropout on the weights.

    Shape:
        query ``(B, Tq, Dq)`` or ``(B, Dq)`` (one query, e.g. an RNN decoder state),
        keys ``(B, Tk, Dk)``, values ``(B, Tk, Dv)`` (default: the keys),
        key_padding_mask ``(B, Tk)`` bool, attn_mask ``(Tq, Tk)`` or ``(B, Tq, Tk)`` bool →
        output ``(B, Tq, Dv)`` (or ``(B, Dv)``), weights ``(B, Tq, Tk)`` (or ``(B, Tk)``).

    Example:
        >>> attn = Attention("dot", query_dim=3)
        >>> keys = torch.eye(3).unsqueeze(0) * 10
        >>> out = attn(keys[:, 1], keys)          # the query equals the second key
        >>> out.weights.argmax(-1).item()
        1
    """

    def __init__(
        self,
        score: str = "scaled_dot",
        *,
        query_dim: int,
        key_dim: int | None = None,
        hidden_dim: int | None = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.score_name = score
        self.score = make_score(score, query_dim, key_dim, num_heads=1, hidden_dim=hidden_dim)
        self.dropout = dropout

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        values: Tensor | None = None,
        *,
        key_padding_mask: Tensor | None = None,
        attn_mask: Tensor | None = None,
        need_weights: bool = True,
    ) -> AttentionOutput:
        single_query = query.dim() == 2
        if single_query:
            query = query.unsqueeze(1)  # (B, Dq) -> (B, 1, Dq)
        values = keys if values is None else values
        batch, num_queries, num_keys = query.shape[0], query.shape[1], keys.shape[1]
        check_key_padding_mask(
            key_padding_mask, "key_padding_mask", batch_size=batch, num_keys=num_keys
        )
        check_mask(
            attn_mask,
            "attn_mask",
            batch_size=batch,
            num_heads=1,
            num_queries=num_queries,
            num_keys=num_keys,
        )
        if attn_mask is not None and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(1)  # (B, Tq, Tk) -> (B, 1, Tq, Tk)
        padding = None if key_padding_mask is None else key_padding_to_attn_mask(key_padding_mask)
        out, weights = attend(
            query.unsqueeze(1),  # (B, 1, Tq, Dq): one head
            keys.unsqueeze(1),
            values.unsqueeze(1),
            score=self.score,
            attn_mask=combine_masks(attn_mask, padding),
            dropout=self.dropout if self.training else 0.0,
            need_weights=need_weights,
        )
        out = out.squeeze(1)  # (B, Tq, Dv)
        if weights is not None:
            weights = weights.squeeze(1)  # (B, Tq, Tk)
        if single_query:
            out = out.squeeze(1)
            weights = None if weights is None else weights.squeeze(1)
        return AttentionOutput(out, weights)

    def extra_repr(self) -> str:
        return f"score={self.score_name!r}"


class MultiHeadAttention(nn.Module):
    """Multi-head attention (Vaswani et al. 2017) with learnable Q, K, V and output
    projections.

    ``head_dim = d_model / num_heads``. Self-attention when ``key`` is omitted,
    cross-attention (e.g. decoder over encoder) when it is given.

    Args:
        d_model: model width ``D``.
        num_heads: query heads ``H`` (must divide ``d_model``).
        num_kv_heads: key/value heads ``Hkv`` for grouped-query attention (must divide
            ``num_heads``); default ``num_heads``.
        key_dim, value_dim: widths of the key/value inputs (default ``d_model``).
        dropout: dropout on the attention weights.
        bias: use biases in the projections.
        score: alignment function; the fused kernel serves ``"scaled_dot"``.
        additive_dim: hidden width of the ``"additive"`` score (default ``head_dim``).
        qkv_proj: learn the Q, K, V projections (``False``, for experiments only: the
            inputs themselves, split into heads, are the queries, keys and values; the
            output projection stays).

    Shape:
        query ``(B, Tq, D)``; key ``(B, Tk, Dk)``; value ``(B, Tk, Dv)``;
        attn_mask bool broadcastable to ``(B, H, Tq, Tk)``; key_padding_mask ``(B, Tk)``
        bool; position_bias float broadcastable to ``(B, H, Tq, Tk)``; rotary
        ``(cos, sin)`` each ``(B|1, 1, Tq, head_dim)`` →
        output ``(B, Tq, D)``, weights ``(B, H, Tq, Tk)`` when ``need_weights``.
        With a cache, ``Tk`` counts the cached keys too. Cross-attention keys may have
        ``B / g`` rows, shared by ``g`` consecutive query rows (see :func:`attend`); the
        masks then have the keys' rows.

    Example:
        >>> mha = MultiHeadAttention(d_model=16, num_heads=4)
        >>> x = torch.randn(2, 5, 16)
        >>> out = mha(x, is_causal=True, need_weights=True)
        >>> out.output.shape, out.weights.shape
        (torch.Size([2, 5, 16]), torch.Size([2, 4, 5, 5]))
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        *,
        num_kv_heads: int | None = None,
        key_dim: int | None = None,
        value_dim: int | None = None,
        dropout: float = 0.0,
        bias: bool = True,
        score: str = "scaled_dot",
        additive_dim: int | None = None,
        qkv_proj: bool = True,
    ):
        super().__init__()
        num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
        if d_model % num_heads:
            raise ValueError(f"num_heads={num_heads} does not divide d_model={d_model}")
        if num_heads % num_kv_heads:
            raise ValueError(f"num_kv_heads={num_kv_heads} does not divide num_heads={num_heads}")
        if not qkv_proj and (num_kv_heads != num_heads or {key_dim, value_dim} - {None, d_model}):
            raise ValueError(
                "qkv_proj=False uses the inputs as queries, keys and values: it needs "
                f"num_kv_heads = num_heads and key/value widths = d_model={d_model}"
            )
        self.d_model, self.num_heads, self.num_kv_heads = d_model, num_heads, num_kv_heads
        self.head_dim = d_model // num_heads
        self.dropout = dropout
        self.score_name = score
        kv_width = num_kv_heads * self.head_dim
        if qkv_proj:
            self.q_proj = nn.Linear(d_model, d_model, bias=bias)
            self.k_proj = nn.Linear(key_dim or d_model, kv_width, bias=bias)
            self.v_proj = nn.Linear(value_dim or key_dim or d_model, kv_width, bias=bias)
        else:  # the ablation of the lab's ``qkv`` claim: raw inputs, no learned lookup
            self.q_proj, self.k_proj, self.v_proj = nn.Identity(), nn.Identity(), nn.Identity()
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.score = make_score(score, self.head_dim, num_heads=num_heads, hidden_dim=additive_dim)

    def split_heads(self, x: Tensor, heads: int) -> Tensor:
        """Shape: x ``(B, T, heads·Dh)`` → ``(B, heads, T, Dh)``."""
        batch, length, _ = x.shape
        return x.view(batch, length, heads, self.head_dim).transpose(1, 2)  # (B, h, T, Dh)

    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        *,
        attn_mask: Tensor | None = None,
        key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
        position_bias: Tensor | None = None,
        rotary: tuple[Tensor, Tensor] | None = None,
        cache: KVCache | None = None,
        need_weights: bool = False,
    ) -> AttentionOutput:
        """Project, split into heads, attend (:func:`attend`), merge heads, project.

        Self-attention when ``key`` is omitted. With a ``cache``, self-attention appends
        this chunk's keys and values to it; cross-attention stores the source's once.
        """
        self_attention = key is None
        if query.dim() != 3 or query.shape[-1] != self.d_model:
            raise ValueError(
                f"query has shape {tuple(query.shape)}, expected (B, Tq, d_model={self.d_model})"
            )
        for name, other in (("key", key), ("value", value)):
            if other is not None and (other.dtype != query.dtype or other.device != query.device):
                raise ValueError(
                    f"{name} is {other.dtype} on {other.device} but query is {query.dtype} "
                    f"on {query.device}; move both to the same dtype and device"
                )
        batch, num_queries, _ = query.shape
        q = self.split_heads(self.q_proj(query), self.num_heads)  # (B, H, Tq, Dh)
        if cache is not None and cache.filled and not self_attention:
            # Cross-attention keys/values depend on the source only: projected once.
            k, v = cache.keys, cache.values
        else:
            key = query if key is None else key
            value = key if value is None else value
            k = self.split_heads(self.k_proj(key), self.num_kv_heads)  # (B, Hkv, Tk, Dh)
            v = self.split_heads(self.v_proj(value), self.num_kv_heads)
            if rotary is not None:
                k = apply_rotary(k, *rotary)
            if cache is not None and self_attention:
                k, v = cache.append(k, v)  # (B, Hkv, T_cached + Tq, Dh)
            elif cache is not None:
                cache.store(k, v)
        if rotary is not None:
            q = apply_rotary(q, *rotary)

        # Masks describe the keys' rows (fewer than the queries' when rows share a source).
        key_rows, num_keys = k.shape[0], k.shape[-2]
        check_mask(
            attn_mask,
            "attn_mask",
            batch_size=key_rows,
            num_heads=self.num_heads,
            num_queries=num_queries,
            num_keys=num_keys,
        )
        check_key_padding_mask(
            key_padding_mask, "key_padding_mask", batch_size=key_rows, num_keys=num_keys
        )
        if attn_mask is not None and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(1)  # (B, Tq, Tk) -> (B, 1, Tq, Tk)
        padding = None if key_padding_mask is None else key_padding_to_attn_mask(key_padding_mask)
        out, weights = attend(
            q,
            k,
            v,
            score=self.score,
            attn_mask=combine_masks(attn_mask, padding),
            bias=position_bias,
            is_causal=is_causal,
            dropout=self.dropout if self.training else 0.0,
            need_weights=need_weights,
        )
        out = out.transpose(1, 2).reshape(batch, num_queries, self.d_model)  # (B, Tq, D)
        return AttentionOutput(self.out_proj(out), weights)

    def extra_repr(self) -> str:
        return (
            f"num_heads={self.num_heads}, num_kv_heads={self.num_kv_heads}, "
            f"head_dim={self.head_dim}, score={self.score_name!r}"
        )
