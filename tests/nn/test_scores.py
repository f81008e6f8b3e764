"""Score functions against direct NumPy loops, and their use in attention modules."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from attnkit.nn import (
    SCORE_FUNCTIONS,
    AdditiveScore,
    Attention,
    DotScore,
    GeneralScore,
    MultiHeadAttention,
    ScaledDotScore,
    make_score,
)

B, H, TQ, TK = 2, 2, 3, 4


def loop(fn, q: torch.Tensor, k: torch.Tensor) -> np.ndarray:
    """``out[b, h, i, j] = fn(h, q[b, h, i], k[b, h, j])`` in plain NumPy."""
    qn, kn = q.detach().double().numpy(), k.detach().double().numpy()
    out = np.zeros((qn.shape[0], qn.shape[1], qn.shape[2], kn.shape[2]))
    for b in range(out.shape[0]):
        for h in range(out.shape[1]):
            for i in range(out.shape[2]):
                for j in range(out.shape[3]):
                    out[b, h, i, j] = fn(h, qn[b, h, i], kn[b, h, j])
    return out


def test_dot():
    q, k = torch.randn(B, H, TQ, 5), torch.randn(B, H, TK, 5)
    expected = loop(lambda h, qi, kj: qi @ kj, q, k)
    np.testing.assert_allclose(DotScore()(q, k).numpy(), expected, atol=1e-5)


def test_scaled_dot():
    q, k = torch.randn(B, H, TQ, 5), torch.randn(B, H, TK, 5)
    expected = loop(lambda h, qi, kj: qi @ kj / math.sqrt(5), q, k)
    np.testing.assert_allclose(ScaledDotScore()(q, k).numpy(), expected, atol=1e-5)


def test_general_per_head():
    score = GeneralScore(5, 3, num_heads=H)
    assert score.weight.shape == (H, 5, 3)
    q, k = torch.randn(B, H, TQ, 5), torch.randn(B, H, TK, 3)
    w = score.weight.detach().double().numpy()
    expected = loop(lambda h, qi, kj: qi @ w[h] @ kj, q, k)
    np.testing.assert_allclose(score(q, k).detach().numpy(), expected, atol=1e-5)
    assert not np.allclose(expected[:, 0], loop(lambda h, qi, kj: qi @ w[1] @ kj, q, k)[:, 0])


def test_additive_per_head():
    score = AdditiveScore(5, 3, hidden_dim=7, num_heads=H)
    with torch.no_grad():
        score.bias.normal_()  # non-zero b so it is part of the check
    q, k = torch.randn(B, H, TQ, 5), torch.randn(B, H, TK, 3)
    w1 = score.query_weight.detach().double().numpy()  # (H, Dq, A)
    w2 = score.key_weight.detach().double().numpy()  # (H, Dk, A)
    b = score.bias.detach().double().numpy().reshape(H, 7)
    v = score.v.detach().double().numpy().reshape(H, 7)
    expected = loop(lambda h, qi, kj: v[h] @ np.tanh(qi @ w1[h] + kj @ w2[h] + b[h]), q, k)
    np.testing.assert_allclose(score(q, k).detach().numpy(), expected, atol=1e-5)


def test_make_score_types():
    assert isinstance(make_score("dot", 4), DotScore)
    assert isinstance(make_score("scaled_dot", 4), ScaledDotScore)
    assert isinstance(make_score("general", 4, 6), GeneralScore)
    assert isinstance(make_score("additive", 4, 6, hidden_dim=5), AdditiveScore)
    assert make_score("additive", 4, 6, hidden_dim=5).v.shape == (1, 5, 1)


@pytest.mark.parametrize("name", ["dot", "scaled_dot"])
def test_dot_needs_equal_widths(name):
    with pytest.raises(ValueError) as info:
        make_score(name, 6, 10)
    message = str(info.value)
    assert name in message and "6" in message and "10" in message
    assert "general" in message and "additive" in message  # says what to use instead
    with pytest.raises(ValueError, match="equal"):
        Attention(name, query_dim=6, key_dim=10)


def test_unknown_score_lists_choices():
    with pytest.raises(ValueError) as info:
        make_score("cosine", 4)
    message = str(info.value)
    assert "cosine" in message
    for name in SCORE_FUNCTIONS:
        assert name in message
    with pytest.raises(ValueError, match="cosine"):
        MultiHeadAttention(8, 2, score="cosine")


@pytest.mark.parametrize("score", ["general", "additive"])
def test_different_widths_rnn_decoder_over_bidirectional_encoder(score):
    attn = Attention(score, query_dim=6, key_dim=10)
    decoder_state = torch.randn(B, 6)  # one query per step
    encoder_states = torch.randn(B, 7, 10)  # bidirectional: 2 × 5
    real = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    result = attn(decoder_state, encoder_states, key_padding_mask=real)
    assert result.output.shape == (B, 10)
    assert result.weights.shape == (B, 7)
    torch.testing.assert_close(result.weights.sum(-1), torch.ones(B))
    assert (result.weights[1, 4:] == 0).all()
    torch.testing.assert_close(
        result.output, (result.weights.unsqueeze(1) @ encoder_states).squeeze(1)
    )


@pytest.mark.parametrize("score", SCORE_FUNCTIONS)
def test_single_query_shapes(score):
    attn = Attention(score, query_dim=4)
    query, keys, values = torch.randn(B, 4), torch.randn(B, 5, 4), torch.randn(B, 5, 3)
    result = attn(query, keys, values)
    assert result.output.shape == (B, 3)
    assert result.weights.shape == (B, 5)
    # same as a (B, 1, Dq) query
    seq = attn(query.unsqueeze(1), keys, values)
    torch.testing.assert_close(result.output, seq.output[:, 0])
    torch.testing.assert_close(result.weights, seq.weights[:, 0])
    # and the values default to the keys
    assert attn(query, keys).output.shape == (B, 4)


@pytest.mark.parametrize("score", SCORE_FUNCTIONS)
def test_attention_uses_the_score(score):
    """Single-head attention = softmax(score(q, k)) @ v."""
    attn = Attention(score, query_dim=4)
    query, keys, values = torch.randn(B, 3, 4), torch.randn(B, 5, 4), torch.randn(B, 5, 2)
    result = attn(query, keys, values)
    with torch.no_grad():
        weights = torch.softmax(attn.score(query.unsqueeze(1), keys.unsqueeze(1)), -1)[:, 0]
    torch.testing.assert_close(result.weights, weights, atol=1e-6, rtol=0)
    torch.testing.assert_close(result.output, weights @ values, atol=1e-6, rtol=0)


@pytest.mark.parametrize("score", SCORE_FUNCTIONS)
def test_every_score_in_multi_head_attention(score):
    mha = MultiHeadAttention(16, 4, score=score, additive_dim=6).eval()
    assert mha.score_name == score and score in repr(mha)
    x = torch.randn(B, 5, 16, requires_grad=True)
    result = mha(x, is_causal=True, need_weights=True)
    assert result.output.shape == (B, 5, 16)
    assert result.weights.shape == (B, 4, 5, 5)
    torch.testing.assert_close(result.weights.sum(-1), torch.ones(B, 4, 5))
    assert (result.weights.triu(1) == 0).all()
    # the weights are softmax of this score over the projected heads
    with torch.no_grad():
        q = mha.q_proj(x).view(B, 5, 4, 4).transpose(1, 2)
        k = mha.k_proj(x).view(B, 5, 4, 4).transpose(1, 2)
        scores = mha.score(q, k).masked_fill(~torch.ones(5, 5).tril().bool(), float("-inf"))
        torch.testing.assert_close(result.weights, torch.softmax(scores, -1), atol=1e-6, rtol=0)
    result.output.sum().backward()
    assert torch.isfinite(x.grad).all()
    if score == "general":
        assert mha.score.weight.shape == (4, 4, 4)
    if score == "additive":
        assert mha.score.v.shape == (4, 6, 1)
        assert mha.score.v.grad is not None
