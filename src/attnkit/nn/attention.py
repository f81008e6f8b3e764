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

from attnkit.nn.cache import KVCache
from attnkit.nn.dropout import dropout as apply_dropout
from attnkit.nn.masks import (
    check_key_padding_mask,
    check_mask,
    combine_masks,
    key_padding_to_attn_mask,
    make_causal_mask,
)
from attnkit.nn.positional import apply_rotary
from attnkit.nn.scores import ScaledDotScore, make_score

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
    """Attention over already-projected, head-split tensors.

    Uses :func:`torch.nn.functional.scaled_dot_product_attention` (a fused kernel) when
    ``score`` is scaled dot product, no weights are requested and (on a CPU) there is no
    dropout; otherwise computes the scores explicitly. Both paths give the same result.
    A query row whose mask allows no key returns zeros (and zero weights) with finite
    gradients instead of NaN.

    Args:
        q, k, v: queries, keys, values. ``k``/``v`` may have fewer heads than ``q``
            (grouped-query attention) if ``H`` is a multiple of ``Hkv``, and fewer batch
            rows if ``B`` is a multiple of ``Bkv``: consecutive groups of ``B / Bkv``
            query rows then share one key/value row (the beams of a sentence share its
            source), which attends over each source once instead of once per beam.
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
    groups = _row_groups(q, k, attn_mask=attn_mask, bias=bias, is_causal=is_causal)
    if groups > 1:
        # On a CPU the explicit products beat the flash kernel (×2 for 4 beams over 64
        # source keys); asking for the weights selects them, and they are computed anyway.
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
    # With dropout on a CPU the fused kernel falls back to its own unfused maths anyway,
    # drawing a Bernoulli sample per weight; the explicit path uses the cheap masks.
    cpu_dropout = dropout > 0 and q.device.type == "cpu"
    fused = isinstance(score, ScaledDotScore) and not need_weights and not cpu_dropout
    materialize = attn_mask is not None or bias is not None or num_queries != num_keys
    if is_causal and (materialize or not fused):
        causal = make_causal_mask(num_queries, num_keys, device=q.device)
        attn_mask, is_causal = combine_masks(causal, attn_mask), False

    # Rows with no allowed key: let them see every key so the softmax stays finite, then
    # zero their output. Their gradient is then exactly zero instead of NaN.
    empty_rows = None
    if attn_mask is not None:
        empty_rows = ~attn_mask.any(dim=-1, keepdim=True)  # (.., Tq, 1)
        # Usually no row is empty (a causal mask never has one). On a CPU, asking costs
        # no device sync, and then the fix-ups below (copies of the weights) are skipped.
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
        # Half-precision scores are normalised in fp32; fp32/fp64 keep their precision.
        low_precision = scores.dtype in (torch.float16, torch.bfloat16)
        weights = torch.softmax(scores.float() if low_precision else scores, dim=-1).to(q.dtype)
        if empty_rows is not None:
            weights = weights.masked_fill(empty_rows, 0.0)
        dropped = apply_dropout(weights, dropout)
        out = dropped @ v  # (B,H,Tq,Tk) @ (B,H,Tk,Dv) -> (B,H,Tq,Dv)
    if empty_rows is not None:
        out = out.masked_fill(empty_rows, 0.0)
    return out, weights


def _row_groups(
    q: Tensor, k: Tensor, *, attn_mask: Tensor | None, bias: Tensor | None, is_causal: bool
) -> int:
    """How many query rows share each key/value row (1: one each); ``ValueError`` when
    the rows do not divide or the sharing meets a per-query term it cannot fold."""
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
    batched matrix product (``baddbmm``): the scale and the additive terms ride inside
    it, where scaling, adding and masking the ``(B, H, Tq, Tk)`` scores afterwards would
    each take a pass over them forward and another backward. The same values as
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
        # Incremental decoding runs Q, K, V as one matmul (see _self_qkv).
        self._qkv_sizes = (d_model, kv_width, kv_width)

    def _self_qkv(self, x: Tensor, cache: KVCache | None) -> tuple[Tensor, Tensor, Tensor]:
        """Q, K and V of self-attention, split into heads.

        During incremental decoding (a cache, no autograd) the three projections run as
        one matmul on their concatenated weights, and one view splits the heads: one
        token at a time, a step is bound by the number of small operations, not their
        size. The concatenation is built at the first step and kept in the cache, so it
        lives exactly as long as one decoding run, during which the weights cannot
        change. (Keying a longer-lived copy on the parameters' version counters is not
        safe: the fused AdamW step updates weights without bumping them.) Otherwise the
        three modules run separately, so gradients and hooks see them as they are.

        Shape:
            x ``(B, T, D)`` → q ``(B, H, T, Dh)``, k and v ``(B, Hkv, T, Dh)``.
        """
        q_proj, k_proj, v_proj = self.q_proj, self.k_proj, self.v_proj
        if cache is None or torch.is_grad_enabled() or not isinstance(q_proj, nn.Linear):
            return (
                self._split_heads(q_proj(x), self.num_heads),
                self._split_heads(k_proj(x), self.num_kv_heads),
                self._split_heads(v_proj(x), self.num_kv_heads),
            )
        if cache.projection is None:
            cache.projection = self.concatenated_qkv()
        return self.split_qkv(F.linear(x, *cache.projection))

    def concatenated_qkv(self) -> tuple[Tensor, Tensor | None]:
        """The Q, K and V projections as one (weight, bias), for one matmul per step.

        Shape:
            weight ``(D + 2·Hkv·Dh, D)``, bias ``(D + 2·Hkv·Dh,)`` or ``None``.
        """
        q_proj, k_proj, v_proj = self.q_proj, self.k_proj, self.v_proj
        bias = None
        if q_proj.bias is not None:
            bias = torch.cat([q_proj.bias, k_proj.bias, v_proj.bias])  # type: ignore[list-item]
        return torch.cat([q_proj.weight, k_proj.weight, v_proj.weight]), bias  # type: ignore[list-item]

    def split_qkv(self, qkv: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Split the output of :meth:`concatenated_qkv` into Q, K, V heads (views).

        Shape:
            qkv ``(B, T, D + 2·Hkv·Dh)`` → q ``(B, H, T, Dh)``, k and v ``(B, Hkv, T, Dh)``.
        """
        if self.num_kv_heads == self.num_heads:  # one view splits all the heads
            batch, length, _ = qkv.shape
            heads = qkv.view(batch, length, 3, self.num_heads, self.head_dim)
            q, k, v = heads.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, T, Dh)
            return q, k, v
        q, k, v = qkv.split(self._qkv_sizes, dim=-1)
        return (
            self._split_heads(q, self.num_heads),
            self._split_heads(k, self.num_kv_heads),
            self._split_heads(v, self.num_kv_heads),
        )

    def _split_heads(self, x: Tensor, heads: int) -> Tensor:
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
        # Cross-attention keys/values depend on the source only: projected once, cached.
        cached_source = cache is not None and cache.filled and not self_attention
        if self_attention and value is None:
            q, k, v = self._self_qkv(query, cache)  # (B, H, Tq, Dh), (B, Hkv, Tk, Dh) ×2
        elif cached_source:
            q = self._split_heads(self.q_proj(query), self.num_heads)
            k, v = cache.keys, cache.values  # type: ignore[union-attr]
        else:
            q = self._split_heads(self.q_proj(query), self.num_heads)  # (B, H, Tq, Dh)
            key = query if key is None else key
            value = key if value is None else value
            k = self._split_heads(self.k_proj(key), self.num_kv_heads)  # (B, Hkv, Tk, Dh)
            v = self._split_heads(self.v_proj(value), self.num_kv_heads)

        if not cached_source:
            if rotary is not None:
                k = apply_rotary(k, *rotary)
            if cache is not None:
                if self_attention:
                    k, v = cache.append(k, v)  # (B, Hkv, T_cached + Tq, Dh)
                else:
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
