"""A lean incremental-decoding step through a Transformer stack.

Replaces the loop over :meth:`TransformerLayer.forward
<attnkit.nn.layers.TransformerLayer.forward>` in :meth:`TransformerStack.forward
<attnkit.nn.stacks.TransformerStack.forward>` for one new position in inference (eval
mode, no autograd, no weights requested).

Generating one token at a time with a small batch, a layer's arithmetic is a handful of
matrix–vector products of a few microseconds each, and the layers' ``forward`` spends
several times that around them: module calls, attribute look-ups, shape checks, result
dataclasses. :class:`LeanStack` gathers, once per decoding run, the tensors every layer
needs into plain tuples (Q, K and V concatenated into one matmul), and then runs the same
maths with nothing else.

One :class:`LeanStack` is built per decoding run, at its first step, and remembered
against that run's :class:`~attnkit.nn.cache.StackCache` (weakly: it goes with the
cache), so the weights it holds cannot go stale. It serves only what it supports
exactly; other variants (no residuals, no Q/K/V projections, int8 layers, unknown norms,
modules with forward hooks) run the layers as usual. ``tests/nn/test_lean_step.py``
keeps both equal for every variant.
"""

from __future__ import annotations

import weakref
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

__all__ = ["LeanStack", "built_for", "step"]

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
        proj = (q.weight, q.bias) if cross else _concatenated_qkv(module)
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


def _concatenated_qkv(module: MultiHeadAttention) -> tuple[Tensor, Tensor | None]:
    """The Q, K and V projections as one (weight, bias), for one matmul per step.

    Shape:
        weight ``(D + 2·Hkv·Dh, D)``, bias ``(D + 2·Hkv·Dh,)`` or ``None``.
    """
    q_proj, k_proj, v_proj = module.q_proj, module.k_proj, module.v_proj
    bias = None
    if q_proj.bias is not None:
        bias = torch.cat([q_proj.bias, k_proj.bias, v_proj.bias])  # type: ignore[list-item]
    return torch.cat([q_proj.weight, k_proj.weight, v_proj.weight]), bias  # type: ignore[list-item]


def _split_qkv(module: MultiHeadAttention, qkv: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Split the output of the concatenated projection into Q, K, V heads (views).

    Shape:
        qkv ``(B, T, D + 2·Hkv·Dh)`` → q ``(B, H, T, Dh)``, k and v ``(B, Hkv, T, Dh)``.
    """
    heads, kv_heads, head_dim = module.num_heads, module.num_kv_heads, module.head_dim
    if kv_heads == heads:  # one view splits all the heads
        batch, length, _ = qkv.shape
        split = qkv.view(batch, length, 3, heads, head_dim)
        q, k, v = split.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, T, Dh)
        return q, k, v
    q, k, v = qkv.split((heads * head_dim, kv_heads * head_dim, kv_heads * head_dim), dim=-1)
    return (
        module.split_heads(q, heads),
        module.split_heads(k, kv_heads),
        module.split_heads(v, kv_heads),
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
        q, k, v = _split_qkv(module, projected)  # (B, H, T, Dh), (B, Hkv, T, Dh) ×2
        if rotary is not None:
            q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
        k, v = cache.append(k, v)  # (B, Hkv, T_cached + T, Dh)
    else:
        q = projected.view(batch, length, heads, head_dim).transpose(1, 2)
        if not cache.filled:  # the memory's keys and values, once per run
            cache.store(
                module.split_heads(module.k_proj(memory), kv_heads),
                module.split_heads(module.v_proj(memory), kv_heads),
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
        if _has_forward_hooks(stack):
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


def _has_forward_hooks(stack: nn.Module) -> bool:
    """Whether a forward hook would see a module of ``stack`` run: the lean step calls no
    module, so its hooks would be silently skipped. torch has no public way to ask, so
    this reads the hook dictionaries ``nn.Module`` keeps (global and per module)."""
    registry = nn.modules.module
    if any(
        getattr(registry, name, None)
        for name in ("_global_forward_hooks", "_global_forward_pre_hooks")
    ):
        return True
    return any(m._forward_hooks or m._forward_pre_hooks for m in stack.modules())


# One LeanStack per decoding run, remembered against the run's cache (False: the stack
# is a variant the lean step does not cover).
_built: weakref.WeakKeyDictionary[StackCache, LeanStack | bool] = weakref.WeakKeyDictionary()


def built_for(cache: StackCache) -> LeanStack | bool | None:
    """The :class:`LeanStack` of the decoding run of ``cache`` (``False``: the stack is a
    variant the lean step does not cover; ``None``: no lean step was tried)."""
    return _built.get(cache)


def step(
    stack: nn.Module,
    x: Tensor,
    cache: StackCache,
    *,
    self_mask: Tensor | None,
    position_bias: Tensor | None,
    rotary: tuple[Tensor, Tensor] | None,
    memory: Tensor | None,
    memory_mask: Tensor | None,
    need_weights: bool,
) -> Tensor | None:
    """The stack's hidden states for one new position through :class:`LeanStack`, or
    ``None`` when the lean step does not apply (training, autograd, weights requested,
    several positions, a variant it does not cover): the stack then runs its layers.

    Shape:
        x ``(B, 1, D)`` → ``(B, 1, D)`` or ``None``.
    """
    if stack.training or need_weights or torch.is_grad_enabled() or x.shape[1] != 1:
        return None
    lean = _built.get(cache)
    if lean is None:
        lean = LeanStack.build(stack) or False
        _built[cache] = lean
    if lean is False:
        return None
    return lean.step(  # type: ignore[union-attr]
        x,
        cache,
        self_mask=self_mask,
        position_bias=position_bias,
        rotary=rotary,
        memory=memory,
        memory_mask=memory_mask,
    )
