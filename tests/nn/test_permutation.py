"""Self-attention without positions is permutation-equivariant; every positional scheme
breaks the symmetry."""

from __future__ import annotations

import pytest
import torch

from attnkit.nn import InputEmbedding, TransformerStack, make_positions

D, H, F, B, T, V = 16, 2, 32, 2, 7, 30
PERM = torch.tensor([3, 0, 6, 1, 5, 2, 4])


def stack(positional: str = "none") -> TransformerStack:
    return TransformerStack(2, D, H, F, positional=positional, dropout=0.0).eval()


def permuted_difference(model, x) -> float:
    """max |f(P x) − P f(x)| over the sequence axis."""
    with torch.no_grad():
        return float((model(x[:, PERM]) - model(x)[:, PERM]).abs().max())


def test_stack_without_positions_is_equivariant():
    layers = stack()
    x = torch.randn(B, T, D)
    assert permuted_difference(lambda x: layers(x).hidden, x) <= 1e-5


def test_padded_stack_without_positions_is_equivariant():
    layers = stack()
    x = torch.randn(B, T, D)
    real = torch.rand(B, T) > 0.3
    real[:, 0] = True

    def model(x, real=real):
        return layers(x, padding_mask=real).hidden

    with torch.no_grad():
        diff = (layers(x[:, PERM], padding_mask=real[:, PERM]).hidden - model(x)[:, PERM]).abs()
    assert diff.max() <= 1e-5


def test_embedding_and_stack_without_positions_is_equivariant():
    embed, layers = InputEmbedding(V, D, positional="none"), stack()
    tokens = torch.randint(0, V, (B, T))

    def model(tokens):
        return layers(embed(tokens, make_positions(T))).hidden

    assert permuted_difference(model, tokens) <= 1e-5


@pytest.mark.parametrize("positional", ["relative", "rope", "alibi"])
def test_attention_schemes_break_equivariance(positional):
    layers = stack(positional)  # default initialisation (relative biases: std 0.02)
    x = torch.randn(B, T, D)
    assert permuted_difference(lambda x: layers(x).hidden, x) > 1e-3


@pytest.mark.parametrize("positional", ["sinusoidal", "learned"])
@pytest.mark.parametrize("combine", ["add", "concat"])
def test_absolute_schemes_break_equivariance(positional, combine):
    embed = InputEmbedding(V, D, positional=positional, combine=combine, max_len=16)
    layers = stack()
    tokens = torch.randint(0, V, (B, T))

    def model(tokens):
        return layers(embed(tokens, make_positions(T))).hidden

    assert permuted_difference(model, tokens) > 1e-3
    # the embedding alone already breaks it
    assert permuted_difference(lambda t: embed(t, make_positions(T)), tokens) > 1e-3
