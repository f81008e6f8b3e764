"""A stack of Transformer layers with the positional terms that act inside attention.

The stack builds every layer fresh (no copies of one initialised layer), computes the
relative-position or ALiBi bias and the RoPE angles once per forward for all layers,
turns padding and causality into one boolean mask, and threads the key/value cache
through the layers during incremental decoding (the cache keeps its own bookkeeping).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from attnkit.nn import fast
from attnkit.nn.cache import StackCache
from attnkit.nn.fast import lean_step
from attnkit.nn.fast.masks import without_full_padding
from attnkit.nn.layers import TransformerLayer
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
            if fast.enabled():
                padding_mask = without_full_padding(
                    padding_mask, decoding=True, cached_padding=cache.padding_mask
                )
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
        """Positional terms and masks once for all layers, then the layers in order.

        With a ``cache`` (incremental decoding), ``x`` holds the new positions only; the
        cache supplies the earlier keys and records these.
        """
        batch, length, _ = x.shape
        past = 0 if cache is None else len(cache)
        if positions is None:
            positions = self.make_positions(
                length, padding_mask=padding_mask, cache=cache, device=x.device
            )
        if fast.enabled():
            cached_padding = None if cache is None else cache.padding_mask
            padding_mask = without_full_padding(
                padding_mask, decoding=cache is not None, cached_padding=cached_padding
            )
            memory_padding_mask = without_full_padding(memory_padding_mask, decoding=False)

        # Keys seen by self-attention: the cached ones, then this chunk.
        key_positions, key_padding = positions, padding_mask
        if cache is not None:
            key_positions, key_padding = cache.extend(
                positions,
                padding_mask,
                batch=batch,
                keep_positions=self.position_bias is not None,
            )
        self_mask, is_causal = self._self_attention_mask(
            length, past, key_padding, attn_mask, device=x.device
        )
        memory_mask = None
        if memory_padding_mask is not None:
            memory_mask = key_padding_to_attn_mask(memory_padding_mask)  # (B, 1, 1, S)
        bias = None
        if self.position_bias is not None:
            bias = self.position_bias(positions, key_positions).to(x.dtype)  # (B|1,H,T,Tk)
        rotary = None if self.rotary is None else self.rotary(positions)

        if fast.enabled() and cache is not None:
            hidden = lean_step.step(
                self,
                x,
                cache,
                self_mask=self_mask,
                position_bias=bias,
                rotary=rotary,
                memory=memory,
                memory_mask=memory_mask,
                need_weights=need_weights,
            )
            if hidden is not None:
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
                cross_cache=cache.cross_attn[index]
                if cache is not None and cache.cross_attn
                else None,
                need_weights=need_weights,
            )
            x = result.hidden
            if need_weights:
                out.self_attentions.append(result.self_weights)
                if result.cross_weights is not None:
                    out.cross_attentions.append(result.cross_weights)
        out.hidden = x if self.final_norm is None else self.final_norm(x)
        return out

    def _self_attention_mask(
        self,
        length: int,
        past: int,
        key_padding: Tensor | None,
        attn_mask: Tensor | None,
        *,
        device: torch.device,
    ) -> tuple[Tensor | None, bool]:
        """Causality, padding and an extra prior as one boolean self-attention mask, or
        ``(None, True)`` when causality alone applies (the fused causal kernel).

        Shape:
            key_padding ``(B, past + T)``; attn_mask ``(T, Tk)`` or ``(B, T, Tk)`` →
            mask broadcastable to ``(B, H, T, past + T)``.
        """
        unmasked = attn_mask is None and key_padding is None
        if self.causal and unmasked and past == 0:
            return None, True
        if self.causal and unmasked and length == 1:
            return None, False  # a single new query after the cache sees every key
        causal = make_causal_mask(length, past + length, device=device) if self.causal else None
        if attn_mask is not None and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(1)  # (B, T, Tk) -> (B, 1, T, Tk)
        padding = None if key_padding is None else key_padding_to_attn_mask(key_padding)
        return combine_masks(causal, attn_mask, padding), False
