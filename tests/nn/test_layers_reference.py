"""``TransformerLayer`` / ``TransformerStack`` equal the ``torch.nn.Transformer*`` modules
with copied weights.

torch's reference modules run in train mode with ``dropout=0.0``: deterministic, and off
its eval "fast path" (which may zero padded positions when it builds nested tensors).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from attnkit.nn import (
    TransformerLayer,
    TransformerStack,
    key_padding_to_attn_mask,
    make_causal_mask,
)

D, H, F, B, T, S = 16, 4, 32, 2, 6, 5
ATOL = 1e-5
REAL = torch.tensor([[True] * T, [True] * 4 + [False] * (T - 4)])  # attnkit: True = real


def encoder_pair(randomize, copy_encoder_layer, norm_first):
    ref = nn.TransformerEncoderLayer(D, H, F, dropout=0.0, batch_first=True, norm_first=norm_first)
    randomize(ref)
    ours = TransformerLayer(D, H, F, activation="relu", norm_first=norm_first, dropout=0.0)
    copy_encoder_layer(ours, ref)
    return ours.eval(), ref.train()


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer(randomize, copy_encoder_layer, norm_first):
    ours, ref = encoder_pair(randomize, copy_encoder_layer, norm_first)
    x = torch.randn(B, T, D)
    with torch.no_grad():
        expected = ref(x)
    torch.testing.assert_close(ours(x).hidden, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_padding(randomize, copy_encoder_layer, norm_first):
    ours, ref = encoder_pair(randomize, copy_encoder_layer, norm_first)
    x = torch.randn(B, T, D)
    with torch.no_grad():
        expected = ref(x, src_key_padding_mask=~REAL)
    got = ours(x, attn_mask=key_padding_to_attn_mask(REAL)).hidden
    # both compute padded query positions the same way in this mode: compare everything
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_padding_vs_eval_fast_path(randomize, copy_encoder_layer, norm_first):
    """torch's eval path (fast path allowed): real positions must still agree."""
    ours, ref = encoder_pair(randomize, copy_encoder_layer, norm_first)
    ref.eval()
    x = torch.randn(B, T, D)
    with torch.no_grad():
        expected = ref(x, src_key_padding_mask=~REAL)
    got = ours(x, attn_mask=key_padding_to_attn_mask(REAL)).hidden
    torch.testing.assert_close(got[REAL], expected[REAL], atol=ATOL, rtol=0)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_causal(randomize, copy_encoder_layer, norm_first):
    ours, ref = encoder_pair(randomize, copy_encoder_layer, norm_first)
    x = torch.randn(B, T, D)
    with torch.no_grad():
        expected = ref(x, src_mask=~make_causal_mask(T))
    torch.testing.assert_close(ours(x, is_causal=True).hidden, expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("memory_padding", [False, True])
def test_decoder_layer(randomize, copy_decoder_layer, norm_first, memory_padding):
    ref = nn.TransformerDecoderLayer(D, H, F, dropout=0.0, batch_first=True, norm_first=norm_first)
    randomize(ref)
    ours = TransformerLayer(
        D, H, F, cross_attention=True, activation="relu", norm_first=norm_first, dropout=0.0
    )
    copy_decoder_layer(ours, ref)
    ours.eval()
    ref.train()
    tgt, memory = torch.randn(B, T, D), torch.randn(B, S, D)
    memory_real = torch.tensor([[True] * S, [True] * 3 + [False] * (S - 3)])
    if not memory_padding:
        memory_real = torch.ones(B, S, dtype=torch.bool)
    with torch.no_grad():
        expected = ref(
            tgt, memory, tgt_mask=~make_causal_mask(T), memory_key_padding_mask=~memory_real
        )
    got = ours(
        tgt, is_causal=True, memory=memory, memory_mask=key_padding_to_attn_mask(memory_real)
    )
    torch.testing.assert_close(got.hidden, expected, atol=ATOL, rtol=0)
    # same through an explicit mask instead of is_causal, with the weights path
    got = ours(
        tgt,
        attn_mask=make_causal_mask(T),
        memory=memory,
        memory_mask=key_padding_to_attn_mask(memory_real),
        need_weights=True,
    )
    torch.testing.assert_close(got.hidden, expected, atol=ATOL, rtol=0)
    assert got.self_weights.shape == (B, H, T, T)
    assert got.cross_weights.shape == (B, H, T, S)


def test_decoder_layer_needs_memory():
    layer = TransformerLayer(D, H, F, cross_attention=True, dropout=0.0)
    with pytest.raises(ValueError, match="memory"):
        layer(torch.randn(B, T, D))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("mask", ["none", "padding", "causal"])
def test_stack_vs_transformer_encoder(randomize, copy_encoder_layer, copy_linear, norm_first, mask):
    layer = nn.TransformerEncoderLayer(
        D, H, F, dropout=0.0, batch_first=True, norm_first=norm_first
    )
    ref = nn.TransformerEncoder(
        layer,
        num_layers=2,
        norm=nn.LayerNorm(D) if norm_first else None,
        enable_nested_tensor=False,
    )
    randomize(ref)  # also makes the two torch layers (deep copies) different
    ref.train()
    stack = TransformerStack(
        2,
        D,
        H,
        F,
        causal=mask == "causal",
        activation="relu",
        norm_first=norm_first,
        dropout=0.0,
    ).eval()
    assert (stack.final_norm is not None) == norm_first
    for ours_layer, ref_layer in zip(stack.layers, ref.layers, strict=True):
        copy_encoder_layer(ours_layer, ref_layer)
    if norm_first:
        copy_linear(stack.final_norm, ref.norm)

    x = torch.randn(B, T, D)
    kwargs, padding = {}, None
    if mask == "padding":
        kwargs, padding = {"src_key_padding_mask": ~REAL}, REAL
    elif mask == "causal":
        kwargs = {"mask": ~make_causal_mask(T)}
    with torch.no_grad():
        expected = ref(x, **kwargs)
    got = stack(x, padding_mask=padding).hidden
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)
