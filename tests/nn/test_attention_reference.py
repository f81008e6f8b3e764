"""``MultiHeadAttention`` equals ``torch.nn.MultiheadAttention`` with copied weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from attnkit.nn import MultiHeadAttention, make_causal_mask

D, H, B = 16, 4, 2
ATOL = 1e-5


def make_pair(randomize, copy_mha, **kwargs):
    ref = nn.MultiheadAttention(D, H, dropout=0.0, batch_first=True, **kwargs)
    randomize(ref)
    ours = MultiHeadAttention(
        D, H, dropout=0.0, key_dim=kwargs.get("kdim"), value_dim=kwargs.get("vdim")
    )
    copy_mha(ours, ref)
    return ours.eval(), ref.eval()


def ref_forward(ref, query, key, value, **kwargs):
    """torch's output and per-head weights ``(B, H, Tq, Tk)``."""
    with torch.no_grad():
        return ref(query, key, value, need_weights=True, average_attn_weights=False, **kwargs)


@pytest.mark.parametrize("need_weights", [False, True])
def test_self_attention(randomize, copy_mha, need_weights):
    ours, ref = make_pair(randomize, copy_mha)
    x = torch.randn(B, 5, D)
    expected, expected_weights = ref_forward(ref, x, x, x)
    result = ours(x, need_weights=need_weights)
    torch.testing.assert_close(result.output, expected, atol=ATOL, rtol=0)
    if need_weights:
        assert result.weights.shape == (B, H, 5, 5)
        torch.testing.assert_close(result.weights, expected_weights, atol=ATOL, rtol=0)
    else:
        assert result.weights is None


@pytest.mark.parametrize("need_weights", [False, True])
def test_cross_attention_different_lengths(randomize, copy_mha, need_weights):
    ours, ref = make_pair(randomize, copy_mha)
    query, memory, value = torch.randn(B, 3, D), torch.randn(B, 7, D), torch.randn(B, 7, D)
    expected, expected_weights = ref_forward(ref, query, memory, value)
    result = ours(query, memory, value, need_weights=need_weights)
    assert result.output.shape == (B, 3, D)
    torch.testing.assert_close(result.output, expected, atol=ATOL, rtol=0)
    if need_weights:
        assert result.weights.shape == (B, H, 3, 7)
        torch.testing.assert_close(result.weights, expected_weights, atol=ATOL, rtol=0)


@pytest.mark.parametrize("need_weights", [False, True])
def test_cross_attention_kdim_vdim(randomize, copy_mha, need_weights):
    ours, ref = make_pair(randomize, copy_mha, kdim=10, vdim=6)
    assert ref.in_proj_weight is None  # torch keeps separate q/k/v_proj_weight here
    assert ours.k_proj.in_features == 10 and ours.v_proj.in_features == 6
    query, key, value = torch.randn(B, 4, D), torch.randn(B, 6, 10), torch.randn(B, 6, 6)
    expected, expected_weights = ref_forward(ref, query, key, value)
    result = ours(query, key, value, need_weights=need_weights)
    torch.testing.assert_close(result.output, expected, atol=ATOL, rtol=0)
    if need_weights:
        torch.testing.assert_close(result.weights, expected_weights, atol=ATOL, rtol=0)


@pytest.mark.parametrize("need_weights", [False, True])
def test_key_padding_mask(randomize, copy_mha, need_weights):
    ours, ref = make_pair(randomize, copy_mha)
    x = torch.randn(B, 6, D)
    real = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])  # attnkit: True = real token
    expected, expected_weights = ref_forward(ref, x, x, x, key_padding_mask=~real)
    result = ours(x, key_padding_mask=real, need_weights=need_weights)
    torch.testing.assert_close(result.output, expected, atol=ATOL, rtol=0)
    if need_weights:
        torch.testing.assert_close(result.weights, expected_weights, atol=ATOL, rtol=0)
        assert (result.weights[1, :, :, 4:] == 0).all()


@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("torch_mask", ["bool", "float"])
@pytest.mark.parametrize("how", ["is_causal", "attn_mask"])
def test_causal_mask(randomize, copy_mha, need_weights, torch_mask, how):
    ours, ref = make_pair(randomize, copy_mha)
    x = torch.randn(B, 5, D)
    allowed = make_causal_mask(5)
    if torch_mask == "bool":
        ref_mask = ~allowed  # torch: True = not allowed
    else:
        ref_mask = torch.zeros(5, 5).masked_fill(~allowed, float("-inf"))
    expected, expected_weights = ref_forward(ref, x, x, x, attn_mask=ref_mask)
    if how == "is_causal":
        result = ours(x, is_causal=True, need_weights=need_weights)
    else:
        result = ours(x, attn_mask=allowed, need_weights=need_weights)
    torch.testing.assert_close(result.output, expected, atol=ATOL, rtol=0)
    if need_weights:
        torch.testing.assert_close(result.weights, expected_weights, atol=ATOL, rtol=0)


@pytest.mark.parametrize("need_weights", [False, True])
def test_causal_and_padding_together(randomize, copy_mha, need_weights):
    ours, ref = make_pair(randomize, copy_mha)
    x = torch.randn(B, 5, D)
    real = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    expected, expected_weights = ref_forward(
        ref, x, x, x, key_padding_mask=~real, attn_mask=~make_causal_mask(5)
    )
    result = ours(x, key_padding_mask=real, is_causal=True, need_weights=need_weights)
    torch.testing.assert_close(result.output, expected, atol=ATOL, rtol=0)
    if need_weights:
        torch.testing.assert_close(result.weights, expected_weights, atol=ATOL, rtol=0)


def test_weights_differ_from_uniform(randomize, copy_mha):
    """Guard: the comparison above is not trivially satisfied by flat weights."""
    ours, _ = make_pair(randomize, copy_mha)
    weights = ours(torch.randn(B, 5, D), need_weights=True).weights
    assert (weights - 0.2).abs().max() > 0.05
