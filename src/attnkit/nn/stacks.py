"""A stack of Transformer layers with the positional terms that act inside attention.

The stack builds every layer fresh (no copies of one initialised layer), computes the
relative-position or ALiBi bias and the RoPE angles once per forward for all layers,
turns padding and causality into one boolean mask, and threads the key/value cache
through the layers during incremental decoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from attnkit.nn.cache import StackCache
from attnkit.nn.layers import TransformerLayer
from attnkit.nn.lean_step import LeanStack
from attnkit.nn.masks import combine_masks, key_padding_to_attn_mask, make_causal_mask
from attnkit.nn.norms import make_norm
from attnkit.nn.positional import (
    POSITIONAL_SCHEMES,
    ALiBiBias,
    RelativePositionBias,
    RotaryEmbedding,
    make_positions,
)

__all__ = ["StackOutput", "TransformerStack"]


@dataclass
class StackOutput:
    """Final hidden states ``(B, T, D)`` and, when asked, one attention map per layer:
    ``self_attentions[l]`` ``(B, H, T, Tk)`` and ``cross_attentions[l]`` ``(B, H, T, S)``."""

    hidden: Tensor
    self_attentions: list[Tensor] = field(default_factory=list)
    cross_attentions: list[Tensor] = field(default_factory=list)


class TransformerStack(nn.Module):
    """``num_layers`` :class:`~attnkit.nn.layers.TransformerLayer` s and a final norm.

    Args:
        num_layers, d_model, num_heads, d_ff: size of the stack.
        causal: mask future positions (decoders).
        cross_attention: every layer attends over an encoder memory.
        positional: the model's positional scheme; this stack acts on ``relative``,
            ``rope`` and ``alibi`` (absolute schemes live in the input embedding).
        relative_buckets, relative_max_distance: T5 bucket settings.
        rope_base: RoPE frequency base.
        final_norm: norm after the last layer (default: only with ``norm_first``, as
            pre-LN stacks need it and post-LN stacks already end in one).
        **layer_options: passed to every :class:`TransformerLayer` (``dropout``,
            ``activation``, ``norm``, ``norm_first``, ``score`` …).

    Shape:
        x ``(B, T, D)``; padding_mask ``(B, T)`` bool; attn_mask ``(T, Tk)`` or
        ``(B, T, Tk)`` bool (an extra prior, e.g. a local window); positions ``(B|1, T)``;
        memory ``(B, S, D)``; memory_padding_mask ``(B, S)`` → ``StackOutput``.
    """

    def __init__(
        self,
        num_layers: int,
        d_model: int,
        num_heads: int,
        d_ff: int,
        *,
        causal: bool = False,
        cross_attention: bool = False,
        positional: str = "none",
        relative_buckets: int = 32,
        relative_max_distance: int = 128,
        rope_base: float = 10000.0,
        final_norm: bool | None = None,
        norm: str = "layernorm",
        norm_first: bool = False,
        norm_eps: float = 1e-5,
        **layer_options,
    ):
        super().__init__()
        if positional not in POSITIONAL_SCHEMES:
            raise ValueError(
                f"unknown positional scheme '{positional}'; choose one of "
                f"{', '.join(POSITIONAL_SCHEMES)}"
            )
        self.causal, self.cross_attention, self.num_layers = causal, cross_attention, num_layers
        self.layers = nn.ModuleList(
            TransformerLayer(
                d_model,
                num_heads,
                d_ff,
                cross_attention=cross_attention,
                norm=norm,
                norm_first=norm_first,
                norm_eps=norm_eps,
                **layer_options,
            )
            for _ in range(num_layers)
        )
        self.position_bias: nn.Module | None = None
        self.rotary: RotaryEmbedding | None = None
        if positional == "relative":
            self.position_bias = RelativePositionBias(
                num_heads,
                num_buckets=relative_buckets,
                max_distance=relative_max_distance,
                bidirectional=not causal,
            )
        elif positional == "alibi":
            self.position_bias = ALiBiBias(num_heads)
        elif positional == "rope":
            self.rotary = RotaryEmbedding(d_model // num_heads, base=rope_base)
        final_norm = norm_first if final_norm is None else final_norm
        self.final_norm = make_norm(norm, d_model, eps=norm_eps) if final_norm else None

    def make_positions(
        self,
        length: int,
        *,
        padding_mask: Tensor | None = None,
        cache: StackCache | None = None,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Positions of the next ``length`` tokens, counting only real tokens and
        continuing after what ``cache`` has seen.

        Models call this once and hand the result to both their input embedding and the
        stack, so absolute and in-attention positions always agree.

        Shape:
            padding_mask ``(B, T)`` → ``(B, T)``; without one → ``(1, T)`` (or ``(B, T)``
            when the cache holds padded sequences).
        """
        start: int | Tensor = 0
        if cache is not None:
            start = len(cache) if cache.padding_mask is None else cache.padding_mask.sum(-1)
            # Decoding says "this token is real" at every step; while nothing cached is
            # padding either, plain counting gives the same positions in 2 ops, not 6.
            if cache.padding_mask is None and padding_mask is not None and padding_mask.all():
                padding_mask = None
        return make_positions(length, padding_mask=padding_mask, start=start, device=device)

    def new_cache(self) -> StackCache:
        """An empty cache for incremental decoding with this stack."""
        return StackCache(self.num_layers, cross_attention=self.cross_attention)

    def forward(
        self,
        x: Tensor,
        *,
        padding_mask: Tensor | None = None,
        attn_mask: Tensor | None = None,
        positions: Tensor | None = None,
        memory: Tensor | None = None,
        memory_padding_mask: Tensor | None = None,
        cache: StackCache | None = None,
        need_weights: bool = False,
    ) -> StackOutput:
        batch, length, _ = x.shape
        past = 0 if cache is None else len(cache)
        on_cpu = x.device.type == "cpu"
        if positions is None:
            positions = self.make_positions(
                length, padding_mask=padding_mask, cache=cache, device=x.device
            )

        # An all-True padding mask restricts nothing: drop it, so attention runs unmasked
        # (the fused causal kernel, no mask arithmetic). During decoding that holds while
        # nothing in the cache is padding either; outside decoding (a batch of equal
        # lengths) it is asked only on a CPU, where asking costs no device sync.
        if padding_mask is not None:
            fresh_padding = cache.padding_mask is None if cache is not None else on_cpu
            if fresh_padding and bool(padding_mask.all()):
                padding_mask = None
        if memory_padding_mask is not None and on_cpu and bool(memory_padding_mask.all()):
            memory_padding_mask = None

        # Keys seen by self-attention: the cached ones, then this chunk.
        key_positions, key_padding = positions, padding_mask
        if cache is not None:
            # Only a position bias reads the keys' positions (the rest count from the
            # cache's length): keep them for it alone, saving a concatenation per step.
            if self.position_bias is not None:
                if cache.positions is not None:
                    key_positions = torch.cat(
                        [cache.positions.expand(batch, -1), positions.expand(batch, -1)], dim=1
                    )
                # (B, Tk) even when positions broadcast as (1, T): beams reorder rows.
                cache.positions = key_positions.expand(batch, -1)
            if padding_mask is not None or cache.padding_mask is not None:
                old = cache.padding_mask
                if old is None:
                    old = torch.ones(batch, past, dtype=torch.bool, device=x.device)
                new = padding_mask
                if new is None:
                    new = torch.ones(batch, length, dtype=torch.bool, device=x.device)
                key_padding = torch.cat([old, new], dim=1)  # (B, past + T)
            cache.padding_mask = key_padding

        # One boolean self-attention mask; the fused causal kernel when nothing else applies.
        # A single new query after a cache sees every key: no mask at all.
        num_keys = past + length
        unmasked = attn_mask is None and key_padding is None
        is_causal = self.causal and unmasked and past == 0
        single_step = self.causal and unmasked and past > 0 and length == 1
        self_mask = None
        if not is_causal and not single_step:
            causal = make_causal_mask(length, num_keys, device=x.device) if self.causal else None
            if attn_mask is not None and attn_mask.dim() == 3:
                attn_mask = attn_mask.unsqueeze(1)  # (B, T, Tk) -> (B, 1, T, Tk)
            padding = None if key_padding is None else key_padding_to_attn_mask(key_padding)
            self_mask = combine_masks(causal, attn_mask, padding)
        memory_mask = None
        if memory_padding_mask is not None:
            memory_mask = key_padding_to_attn_mask(memory_padding_mask)  # (B, 1, 1, S)

        bias = None
        if self.position_bias is not None:
            bias = self.position_bias(positions, key_positions).to(x.dtype)  # (B|1,H,T,Tk)
        rotary = None if self.rotary is None else self.rotary(positions)

        # Incremental decoding, one position at a time, in inference (eval mode, no
        # autograd): the lean path, same maths.
        lean = not (self.training or need_weights or torch.is_grad_enabled())
        if lean and cache is not None and length == 1:
            if cache.lean is None:  # built once per decoding run
                cache.lean = LeanStack.build(self) or False
            if cache.lean:
                hidden = cache.lean.step(
                    x,
                    cache,
                    self_mask=self_mask,
                    position_bias=bias,
                    rotary=rotary,
                    memory=memory,
                    memory_mask=memory_mask,
                )
                return StackOutput(hidden)

        out = StackOutput(x)
        for index, layer in enumerate(self.layers):
            result = layer(
                x,
                attn_mask=self_mask,
                is_causal=is_causal,
                position_bias=bias,
                rotary=rotary,
                memory=memory,
                memory_mask=memory_mask,
                self_cache=None if cache is None else cache.self_attn[index],
                cross_cache=None
                if cache is None or not cache.cross_attn
                else cache.cross_attn[index],
                need_weights=need_weights,
            )
            x = result.hidden
            if need_weights:
                out.self_attentions.append(result.self_weights)
                if result.cross_weights is not None:
                    out.cross_attentions.append(result.cross_weights)
        out.hidden = x if self.final_norm is None else self.final_norm(x)
        return out
