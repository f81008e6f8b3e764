"""A lean incremental-decoding step through a Transformer stack.

Generating one token at a time with a small batch on a CPU, a layer's arithmetic is a
handful of matrix–vector products of a few microseconds each. The layers' ``forward``
spends several times that around them: module calls, ``nn.Module`` attribute look-ups,
shape checks, result dataclasses. :class:`LeanStack` gathers, once per decoding run, the
tensors every layer needs into plain tuples, and then runs the same maths as
:meth:`TransformerLayer.forward <attnkit.nn.layers.TransformerLayer.forward>` with
nothing else: the fused Q/K/V matmul, the cache append, the fused attention kernel, the
output projection, the norms and the feed-forward.

It is built per decoding run and kept in the run's :class:`~attnkit.nn.cache.StackCache`,
so the weights it holds cannot go stale (the run ends before any optimizer step), and it
serves only what it supports exactly; :meth:`LeanStack.build` returns ``None`` otherwise
and the stack runs its layers as usual. Tests keep both paths equal for every variant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.nn.attention import MultiHeadAttention, attend
from attnkit.nn.cache import KVCache, StackCache
from attnkit.nn.feedforward import FeedForward
from attnkit.nn.layers import TransformerLayer
from attnkit.nn.positional import apply_rotary
from attnkit.nn.scores import ScaledDotScore

__all__ = ["LeanStack"]

Norm = Callable[[Tensor], Tensor]


def _norm(module: nn.Module) -> Norm | None:
    """The norm as one call on its own tensors, or ``None`` if it is not one we know."""
    if isinstance(module, nn.LayerNorm):
        shape, weight, bias, eps = module.normalized_shape, module.weight, module.bias, module.eps
        return lambda x: torch.layer_norm(x, shape, weight, bias, eps)
    if isinstance(module, nn.RMSNorm):
        shape, weight, eps = module.normalized_shape, module.weight, module.eps
        return lambda x: torch.rms_norm(x, shape, weight, eps)
    if type(module) is nn.Identity:
        return lambda x: x
    return None


@dataclass(frozen=True, slots=True)
class _Attention:
    """One attention sub-layer's tensors. Self-attention: ``proj`` is Q/K/V concatenated
    (one matmul). Cross-attention: ``proj`` is Q alone and the module projects the memory
    into the cache at the first step."""

    module: MultiHeadAttention
    proj: tuple[Tensor, Tensor | None]
    out: tuple[Tensor, Tensor | None]
    norm: Norm
    fused: bool  # scaled dot product: the fused kernel applies

    @classmethod
    def of(cls, module: MultiHeadAttention, norm: Norm, *, cross: bool) -> _Attention:
        q = module.q_proj
        proj = (q.weight, q.bias) if cross else module.concatenated_qkv()
        fused = isinstance(module.score, ScaledDotScore)
        out = (module.out_proj.weight, module.out_proj.bias)
        return cls(module, proj, out, norm, fused)


@dataclass(frozen=True, slots=True)
class _Layer:
    norm_first: bool
    self_attn: _Attention
    cross_attn: _Attention | None
    ffn_norm: Norm
    fc1: tuple[Tensor, Tensor | None]
    gate: tuple[Tensor, Tensor | None] | None
    activation: Callable[[Tensor], Tensor]
    fc2: tuple[Tensor, Tensor | None]

    def ffn(self, x: Tensor) -> Tensor:
        """:meth:`FeedForward.forward` in eval mode."""
        hidden = self.activation(F.linear(x, *self.fc1))
        if self.gate is not None:
            hidden = hidden * F.linear(x, *self.gate)
        return F.linear(hidden, *self.fc2)


def _residual(norm_first: bool, norm: Norm, x: Tensor, sublayer: Callable[[Tensor], Tensor]):
    """Pre-LN ``x + f(norm(x))`` or post-LN ``norm(x + f(x))``."""
    return x + sublayer(norm(x)) if norm_first else norm(x + sublayer(x))


def _linear_pair(layer: nn.Linear) -> tuple[Tensor, Tensor | None]:
    return layer.weight, layer.bias


def _layer(layer: TransformerLayer) -> _Layer | None:
    """A layer's tensors, or ``None`` when the lean step does not cover it."""
    attentions = [layer.self_attn] + ([layer.cross_attn] if layer.cross_attn is not None else [])
    norms = [_norm(n) for n in (layer.self_attn_norm, layer.cross_attn_norm, layer.ffn_norm)]
    ffn = layer.ffn
    if type(ffn) is not FeedForward or not layer.residual:
        return None
    linears = [ffn.fc1, ffn.fc2] + ([ffn.gate] if ffn.gate is not None else [])
    for a in attentions:
        linears += [a.q_proj, a.k_proj, a.v_proj, a.out_proj]  # type: ignore[union-attr]
    # fp32 weights only: not the ablation without Q/K/V projections, not int8 layers.
    if not all(isinstance(m, nn.Linear) for m in linears):
        return None
    if norms[0] is None or norms[2] is None or (layer.cross_attn is not None and norms[1] is None):
        return None
    activation = {"relu": F.relu, "gelu": F.gelu, "swiglu": F.silu}[ffn.activation]
    cross = None
    if layer.cross_attn is not None:
        cross = _Attention.of(layer.cross_attn, norms[1], cross=True)  # type: ignore[arg-type]
    return _Layer(
        norm_first=layer.norm_first,
        self_attn=_Attention.of(layer.self_attn, norms[0], cross=False),  # type: ignore[arg-type]
        cross_attn=cross,
        ffn_norm=norms[2],  # type: ignore[arg-type]
        fc1=_linear_pair(ffn.fc1),
        gate=None if ffn.gate is None else _linear_pair(ffn.gate),
        activation=activation,
        fc2=_linear_pair(ffn.fc2),
    )


def _attention(
    a: _Attention,
    x: Tensor,
    cache: KVCache,
    *,
    memory: Tensor | None = None,
    mask: Tensor | None = None,
    bias: Tensor | None = None,
    rotary: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """Attention of the new positions: the maths of :meth:`MultiHeadAttention.forward`
    (cross-attention when ``memory`` is given).

    Shape:
        x ``(B, T, D)`` → ``(B, T, D)``.
    """
    module = a.module
    batch, length, width = x.shape
    heads, kv_heads, head_dim = module.num_heads, module.num_kv_heads, module.head_dim
    projected = F.linear(x, *a.proj)
    if memory is None:
        q, k, v = module.split_qkv(projected)  # (B, H, T, Dh), (B, Hkv, T, Dh) ×2
        if rotary is not None:
            q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
        k, v = cache.append(k, v)  # (B, Hkv, T_cached + T, Dh)
    else:
        q = projected.view(batch, length, heads, head_dim).transpose(1, 2)
        if not cache.filled:  # the memory's keys and values, once per run
            cache.store(
                module._split_heads(module.k_proj(memory), kv_heads),
                module._split_heads(module.v_proj(memory), kv_heads),
            )
        k, v = cache.keys, cache.values  # type: ignore[assignment]
    if a.fused and mask is None and bias is None and k.shape[0] == batch:
        out = F.scaled_dot_product_attention(q, k, v, enable_gqa=kv_heads != heads)
    else:  # masks, position biases, other scores, query rows sharing a source row
        out, _ = attend(q, k, v, score=module.score, attn_mask=mask, bias=bias)
    out = out.transpose(1, 2).reshape(batch, length, width)  # (B, T, D)
    return F.linear(out, *a.out)


class LeanStack:
    """The layers of a :class:`~attnkit.nn.stacks.TransformerStack`, stepped without
    their module machinery (see the module docstring). Build with :meth:`build`.

    Shape:
        :meth:`step`: x ``(B, T, D)`` → ``(B, T, D)`` (``T`` new positions, usually 1).
    """

    def __init__(self, layers: list[_Layer], final_norm: Norm | None):
        self._layers = layers
        self._final_norm = final_norm

    @classmethod
    def build(cls, stack: nn.Module) -> LeanStack | None:
        """Gather ``stack``'s tensors, or return ``None`` if any layer is a variant the
        lean step does not cover (no residuals, no Q/K/V projections, an unknown norm
        or feed-forward) or if a forward hook is registered (it would not be called)."""
        registry = nn.modules.module  # hooks registered for every module
        global_hooks = any(
            getattr(registry, name, None)
            for name in ("_global_forward_hooks", "_global_forward_pre_hooks")
        )
        if global_hooks or any(m._forward_hooks or m._forward_pre_hooks for m in stack.modules()):
            return None
        layers = [_layer(layer) for layer in stack.layers]  # type: ignore[union-attr]
        final_norm = None
        if stack.final_norm is not None:  # type: ignore[union-attr]
            final_norm = _norm(stack.final_norm)  # type: ignore[union-attr, arg-type]
            if final_norm is None:
                return None
        if any(layer is None for layer in layers):
            return None
        return cls(layers, final_norm)  # type: ignore[arg-type]

    def step(
        self,
        x: Tensor,
        cache: StackCache,
        *,
        self_mask: Tensor | None = None,
        position_bias: Tensor | None = None,
        rotary: tuple[Tensor, Tensor] | None = None,
        memory: Tensor | None = None,
        memory_mask: Tensor | None = None,
    ) -> Tensor:
        """Run the new positions through every layer (and the final norm), updating
        ``cache``. Masks and position terms are the stack's, as its forward builds them.

        Shape:
            x ``(B, T, D)``; self_mask bool broadcastable to ``(B, H, T, Tk)``;
            memory ``(B, S, D)``; memory_mask ``(B, 1, 1, S)`` bool → ``(B, T, D)``.
        """
        for index, layer in enumerate(self._layers):
            attn, cross = layer.self_attn, layer.cross_attn
            own_keys = cache.self_attn[index]
            attend = partial(
                _attention, attn, cache=own_keys, mask=self_mask, bias=position_bias, rotary=rotary
            )
            x = _residual(layer.norm_first, attn.norm, x, attend)
            if cross is not None:
                source = cache.cross_attn[index]
                attend = partial(_attention, cross, cache=source, memory=memory, mask=memory_mask)
                x = _residual(layer.norm_first, cross.norm, x, attend)
            x = _residual(layer.norm_first, layer.ffn_norm, x, layer.ffn)
        return x if self._final_norm is None else self._final_norm(x)
