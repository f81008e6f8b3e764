"""Input embeddings, token checks, feed-forward, norms, stacks' layers and initialisation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from attnkit.config import DecoderLMConfig
from attnkit.models import DecoderLM
from attnkit.nn import (
    NORMS,
    FeedForward,
    InputEmbedding,
    SinusoidalEncoding,
    TransformerStack,
    check_tokens,
    init_transformer_weights,
    make_norm,
    make_positions,
)

V, D, B, T = 20, 16, 2, 5

# ------------------------------------------------------------------ embeddings


@pytest.mark.parametrize("positional", ["sinusoidal", "learned", "none", "rope"])
def test_add_embedding_shape(positional):
    embed = InputEmbedding(V, D, positional=positional)
    tokens = torch.randint(0, V, (B, T))
    out = embed(tokens, make_positions(T))
    assert out.shape == (B, T, D)
    assert embed.token.embedding_dim == D


def test_add_embedding_is_token_plus_position():
    embed = InputEmbedding(V, D, positional="sinusoidal")
    tokens = torch.randint(0, V, (B, T))
    positions = make_positions(T)
    expected = embed.token(tokens) + SinusoidalEncoding(D)(positions)
    torch.testing.assert_close(embed(tokens, positions), expected)


@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
@pytest.mark.parametrize("pos_dim", [None, 6])
def test_concat_embedding(positional, pos_dim):
    embed = InputEmbedding(V, D, positional=positional, combine="concat", pos_dim=pos_dim)
    expected_pos_dim = pos_dim or D // 4
    assert embed.token.embedding_dim == D - expected_pos_dim
    tokens = torch.randint(0, V, (B, T))
    positions = make_positions(T)
    out = embed(tokens, positions)
    assert out.shape == (B, T, D)
    torch.testing.assert_close(out[..., : D - expected_pos_dim], embed.token(tokens))
    pos = embed.position(positions).expand(B, -1, -1)
    assert pos.shape[-1] == expected_pos_dim
    torch.testing.assert_close(out[..., D - expected_pos_dim :], pos)


@pytest.mark.parametrize("positional", ["rope", "alibi", "relative", "none"])
def test_concat_needs_absolute_scheme(positional):
    with pytest.raises(ValueError, match=f"concat.*{positional}"):
        InputEmbedding(V, D, positional=positional, combine="concat")


def test_unknown_combine():
    with pytest.raises(ValueError, match="mix"):
        InputEmbedding(V, D, combine="mix")


def test_embedding_scale_and_shared_table():
    shared = nn.Embedding(V, D)
    embed = InputEmbedding(V, D, positional="none", scale=True, token_embedding=shared)
    tokens = torch.randint(0, V, (B, T))
    torch.testing.assert_close(embed(tokens, make_positions(T)), shared(tokens) * math.sqrt(D))
    with pytest.raises(ValueError, match="12"):
        InputEmbedding(V, D, token_embedding=nn.Embedding(V, 12))


@pytest.mark.parametrize(
    ("tokens", "pattern"),
    [
        (torch.ones(B, T), r"torch\.long.*torch\.float32"),
        (torch.ones(T, dtype=torch.long), r"shape \(5,\).*\(B, T\)"),
        (torch.ones(B, 0, dtype=torch.long), r"empty.*\(2, 0\)"),
        (torch.tensor([[1, 2, V]]), rf"id {V}.*\[0, {V}\)"),
        (torch.tensor([[1, -1, 2]]), rf"id -1.*\[0, {V}\)"),
    ],
    ids=["float", "1-D", "empty", "too-large", "negative"],
)
def test_check_tokens(tokens, pattern):
    with pytest.raises(ValueError, match=pattern):
        check_tokens(tokens, V)
    # the models check once, before any lookup (no opaque IndexError); the embedding
    # itself leaves the check to them
    model = DecoderLM(DecoderLMConfig(vocab_size=V, d_model=D, num_heads=2, num_layers=1))
    with pytest.raises(ValueError, match=pattern):
        model(tokens)


def test_check_tokens_accepts_valid_ids():
    check_tokens(torch.tensor([[0, V - 1]]), V)
    check_tokens(torch.tensor([[0, V - 1]], dtype=torch.int32), V)
    with pytest.raises(ValueError, match="list"):
        check_tokens([[1, 2]], V)


# ------------------------------------------------------------------ feed-forward


@pytest.mark.parametrize("activation", ["relu", "gelu", "swiglu"])
def test_feedforward_shapes(activation):
    ffn = FeedForward(D, 24, activation=activation)
    assert ffn(torch.randn(B, T, D)).shape == (B, T, D)
    assert ffn.fc1.out_features == 24 and ffn.fc2.in_features == 24
    assert (ffn.gate is not None) == (activation == "swiglu")


@pytest.mark.parametrize(("activation", "fn"), [("relu", F.relu), ("gelu", F.gelu)])
def test_feedforward_formula(activation, fn):
    ffn = FeedForward(D, 24, activation=activation)
    x = torch.randn(B, T, D)
    expected = fn(x @ ffn.fc1.weight.T + ffn.fc1.bias) @ ffn.fc2.weight.T + ffn.fc2.bias
    torch.testing.assert_close(ffn(x), expected)


def test_swiglu_formula():
    ffn = FeedForward(D, 24, activation="swiglu", bias=False)
    x = torch.randn(B, T, D)
    w1, wg, w2 = ffn.fc1.weight, ffn.gate.weight, ffn.fc2.weight
    a = x @ w1.T
    expected = (a * torch.sigmoid(a) * (x @ wg.T)) @ w2.T  # (silu(x W1) ⊙ x Wg) W2
    torch.testing.assert_close(ffn(x), expected)
    assert ffn.fc1.bias is None


def test_feedforward_unknown_activation():
    with pytest.raises(ValueError, match=r"tanh.*relu, gelu, swiglu"):
        FeedForward(D, 24, activation="tanh")


# ------------------------------------------------------------------ norms


def test_make_norm_kinds():
    assert isinstance(make_norm("layernorm", D), nn.LayerNorm)
    assert isinstance(make_norm("none", D), nn.Identity)
    assert set(NORMS) == {"layernorm", "rmsnorm", "none"}
    with pytest.raises(ValueError, match=r"batchnorm.*layernorm, rmsnorm, none"):
        make_norm("batchnorm", D)


def test_layernorm_formula():
    norm = make_norm("layernorm", D, eps=1e-5)
    x = torch.randn(B, T, D) * 3 + 1
    mean, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
    torch.testing.assert_close(norm(x), (x - mean) / torch.sqrt(var + 1e-5))


def test_rmsnorm_formula():
    norm = make_norm("rmsnorm", D, eps=1e-6)
    with torch.no_grad():
        norm.weight.normal_()
    x = torch.randn(B, T, D) * 3 + 1
    rms = torch.sqrt(x.square().mean(-1, keepdim=True) + 1e-6)
    torch.testing.assert_close(norm(x), x / rms * norm.weight)
    # no centring: unlike LayerNorm, a constant shift changes the output direction
    assert (norm(x) - norm(x + 5)).abs().max() > 1e-2


# ------------------------------------------------------------------ stacks and init


def test_stack_layers_are_distinct():
    stack = TransformerStack(3, D, 2, 32, dropout=0.0)
    layers = list(stack.layers)
    assert len({id(layer) for layer in layers}) == 3
    for first, second in ((0, 1), (1, 2), (0, 2)):
        a, b = layers[first].self_attn.q_proj.weight, layers[second].self_attn.q_proj.weight
        assert a.data_ptr() != b.data_ptr()
        assert not torch.equal(a, b)
        assert not torch.equal(layers[first].ffn.fc1.weight, layers[second].ffn.fc1.weight)


def test_init_transformer_weights_scales_residual_outputs():
    torch.manual_seed(0)
    stack = TransformerStack(4, 64, 4, 256, dropout=0.0, cross_attention=True)
    embedding = nn.Embedding(50, 64, padding_idx=0)
    model = nn.ModuleDict({"stack": stack, "embedding": embedding})
    init_transformer_weights(model, std=0.02, num_layers=4)
    residual_std = 0.02 / math.sqrt(8)

    def std_of(names):
        return torch.cat([p.flatten() for n, p in model.named_parameters() if n in names]).std()

    params = dict(model.named_parameters())
    out_proj = [n for n in params if n.endswith(("out_proj.weight", "fc2.weight"))]
    others = [n for n in params if n.endswith(("q_proj.weight", "k_proj.weight", "fc1.weight"))]
    assert len(out_proj) == 4 * 3  # self out_proj, cross out_proj, fc2 per layer
    assert std_of(out_proj).item() == pytest.approx(residual_std, rel=0.05)
    assert std_of(others).item() == pytest.approx(0.02, rel=0.05)
    assert embedding.weight[1:].std().item() == pytest.approx(0.02, rel=0.1)
    assert (embedding.weight[0] == 0).all()
    for name, param in params.items():
        if name.endswith("proj.bias") or name.endswith(("fc1.bias", "fc2.bias")):
            assert (param == 0).all(), name
    norm = stack.layers[0].ffn_norm
    assert (norm.weight == 1).all() and (norm.bias == 0).all()  # norms untouched


@pytest.mark.parametrize("pos_dim", [D, D + 4])
def test_concat_pos_dim_must_leave_room_for_tokens(pos_dim):
    """pos_dim >= d_model leaves no (or a negative) token width: say so clearly."""
    with pytest.raises(ValueError, match=rf"pos_dim.*{pos_dim}.*d_model.*{D}|d_model.*pos_dim"):
        InputEmbedding(V, D, positional="learned", combine="concat", pos_dim=pos_dim)


def test_stack_unknown_positional():
    with pytest.raises(ValueError, match=r"'absolute'.*sinusoidal.*rope"):
        TransformerStack(1, D, 2, 32, positional="absolute")
