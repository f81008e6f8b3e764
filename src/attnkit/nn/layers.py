"""One Transformer layer: attention and feed-forward sub-layers, each wrapped in a
residual connection and a normalisation.

Post-LN (the paper): ``x = norm(x + dropout(sublayer(x)))``.
Pre-LN (GPT-2 and most models since): ``x = x + dropout(sublayer(norm(x)))`` — the
residual path stays an identity, which trains deep stacks without warm-up tricks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor, nn

from attnkit.nn.attention import MultiHeadAttention
from attnkit.nn.cache import KVCache
from attnkit.nn.dropout import Dropout
from attnkit.nn.feedforward import FeedForward
from attnkit.nn.norms import make_norm

__all__ = ["LayerOutput", "TransformerLayer"]


@dataclass
class LayerOutput:
    """Hidden states ``(B, T, D)`` and, when asked, self/cross attention weights
    ``(B, H, T, Tk)``."""

    hidden: Tensor
    self_weights: Tensor | None = None
    cross_weights: Tensor | None = None


class TransformerLayer(nn.Module):
    """Self-attention → (cross-attention) → feed-forward, with residuals and norms.

    Without cross-attention this is an encoder layer (or, with a causal mask, a GPT
    block); with it, the decoder layer of the encoder–decoder Transformer.

    Args:
        d_model, num_heads, d_ff: widths and head count.
        cross_attention: add an encoder–decoder attention sub-layer.
        num_kv_heads: key/value heads for grouped-query attention.
        dropout: dropout on each sub-layer's output (and inside the feed-forward).
        attn_dropout: dropout on attention weights (default ``dropout``).
        activation_dropout: dropout on the feed-forward hidden layer (default ``dropout``).
        activation: feed-forward activation (``relu``, ``gelu``, ``swiglu``).
        norm: ``layernorm``, ``rmsnorm`` or ``none``.
        norm_first: pre-LN if ``True``, post-LN (the paper) if ``False``.
        residual: keep the residual connections (``False`` only for experiments).
        qkv_proj: learn the attention's Q/K/V projections (``False`` only for experiments).
        score: attention alignment function.
        bias: biases in linear layers.
        norm_eps: epsilon of the norms.

    Shape:
        x ``(B, T, D)``, memory ``(B, S, D)`` → ``LayerOutput.hidden`` ``(B, T, D)``.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        *,
        cross_attention: bool = False,
        num_kv_heads: int | None = None,
        dropout: float = 0.1,
        attn_dropout: float | None = None,
        activation_dropout: float | None = None,
        activation: str = "relu",
        norm: str = "layernorm",
        norm_first: bool = False,
        residual: bool = True,
        score: str = "scaled_dot",
        bias: bool = True,
        norm_eps: float = 1e-5,
        qkv_proj: bool = True,
    ):
        super().__init__()
        attn_dropout = dropout if attn_dropout is None else attn_dropout
        self.norm_first, self.residual = norm_first, residual

        def attention() -> MultiHeadAttention:
            return MultiHeadAttention(
                d_model,
                num_heads,
                num_kv_heads=num_kv_heads,
                dropout=attn_dropout,
                bias=bias,
                score=score,
                qkv_proj=qkv_proj,
            )

        self.self_attn = attention()
        self.self_attn_norm = make_norm(norm, d_model, eps=norm_eps)
        self.cross_attn = attention() if cross_attention else None
        self.cross_attn_norm = make_norm(norm, d_model, eps=norm_eps) if cross_attention else None
        hidden_dropout = dropout if activation_dropout is None else activation_dropout
        self.ffn = FeedForward(
            d_model, d_ff, activation=activation, dropout=hidden_dropout, bias=bias
        )
        self.ffn_norm = make_norm(norm, d_model, eps=norm_eps)
        self.dropout = Dropout(dropout)

    def _sublayer(self, x: Tensor, norm: nn.Module, fn: Callable[[Tensor], Tensor]) -> Tensor:
        """Pre-LN ``x + dropout(f(norm(x)))`` or post-LN ``norm(x + dropout(f(x)))``."""
        if self.norm_first:
            y = self.dropout(fn(norm(x)))
            return x + y if self.residual else y
        y = self.dropout(fn(x))
        return norm(x + y if self.residual else y)

    def forward(
        self,
        x: Tensor,
        *,
        attn_mask: Tensor | None = None,
        is_causal: bool = False,
        position_bias: Tensor | None = None,
        rotary: tuple[Tensor, Tensor] | None = None,
        memory: Tensor | None = None,
        memory_mask: Tensor | None = None,
        self_cache: KVCache | None = None,
        cross_cache: KVCache | None = None,
        need_weights: bool = False,
    ) -> LayerOutput:
        """Run the layer.

        Args:
            attn_mask: bool self-attention mask, broadcastable to ``(B, H, T, Tk)``.
            is_causal: add a causal mask to the self-attention.
            position_bias: float bias for the self-attention scores.
            rotary: RoPE ``(cos, sin)`` for this chunk's positions.
            memory: encoder output ``(B, S, D)`` for cross-attention.
            memory_mask: bool mask over the memory, broadcastable to ``(B, H, T, S)``.
            self_cache, cross_cache: key/value caches for incremental decoding.
            need_weights: return the attention weights.
        """
        out = LayerOutput(x)

        def self_attention(h: Tensor) -> Tensor:
            result = self.self_attn(
                h,
                attn_mask=attn_mask,
                is_causal=is_causal,
                position_bias=position_bias,
                rotary=rotary,
                cache=self_cache,
                need_weights=need_weights,
            )
            out.self_weights = result.weights
            return result.output

        x = self._sublayer(x, self.self_attn_norm, self_attention)
        if self.cross_attn is not None:
            if memory is None:
                raise ValueError("this layer has cross-attention: pass the encoder `memory`")

            def cross_attention(h: Tensor) -> Tensor:
                result = self.cross_attn(
                    h,
                    memory,
                    attn_mask=memory_mask,
                    cache=cross_cache,
                    need_weights=need_weights,
                )
                out.cross_weights = result.weights
                return result.output

            x = self._sublayer(x, self.cross_attn_norm, cross_attention)
        out.hidden = self._sublayer(x, self.ffn_norm, self.ffn)
        return out
