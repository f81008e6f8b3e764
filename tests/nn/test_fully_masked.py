"""A query row that may attend to no key gives exactly zero output and finite gradients
— on the fused and the explicit path, for every score function."""

from __future__ import annotations

import pytest
import torch

from attnkit.nn import (
    SCORE_FUNCTIONS,
    Attention,
    MultiHeadAttention,
    attend,
    make_causal_mask,
    make_score,
)

D, H, B, T = 16, 2, 2, 5


def mha_masks(kind: str) -> tuple[dict, torch.Tensor]:
    """Keyword arguments for the module and the (B, Tq) rows that allow no key."""
    empty = torch.zeros(B, T, dtype=torch.bool)
    if kind == "attn_mask_row":
        mask = torch.ones(T, T, dtype=torch.bool)
        mask[2] = False
        empty[:, 2] = True
        return {"attn_mask": mask}, empty
    if kind == "all_padding":
        real = torch.ones(B, T, dtype=torch.bool)
        real[1] = False
        empty[1] = True
        return {"key_padding_mask": real}, empty
    if kind == "causal_left_padding":  # the first two queries of row 1 see only padding
        real = torch.tensor([[True] * T, [False, False] + [True] * (T - 2)])
        empty[1, :2] = True
        return {"key_padding_mask": real, "is_causal": True}, empty
    raise AssertionError(kind)


def assert_finite_grads(tensors) -> None:
    for tensor in tensors:
        assert tensor.grad is not None
        assert torch.isfinite(tensor.grad).all()


@pytest.mark.parametrize("score", SCORE_FUNCTIONS)
@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("kind", ["attn_mask_row", "all_padding", "causal_left_padding"])
def test_multi_head_attention(score, need_weights, kind):
    module = MultiHeadAttention(D, H, score=score, bias=False).eval()
    kwargs, empty = mha_masks(kind)
    query, key, value = (torch.randn(B, T, D, requires_grad=True) for _ in range(3))
    result = module(query, key, value, need_weights=need_weights, **kwargs)
    out = result.output
    assert torch.isfinite(out).all()
    assert (out[empty] == 0.0).all()
    assert (out[~empty] != 0.0).any(dim=-1).all()
    if need_weights:
        assert torch.isfinite(result.weights).all()
        assert (result.weights.transpose(1, 2)[empty] == 0.0).all()
    inputs = [query, key, value, *module.parameters()]

    (out.square().sum() + (0 if result.weights is None else result.weights.sum())).backward()
    assert_finite_grads(inputs)

    # the empty rows alone contribute exactly zero gradient
    for tensor in inputs:
        tensor.grad = None
    out = module(query, key, value, need_weights=need_weights, **kwargs).output
    out[empty].sum().backward()
    for tensor in inputs:
        assert tensor.grad is None or (tensor.grad == 0.0).all()


@pytest.mark.parametrize("need_weights", [False, True])
def test_multi_head_attention_with_bias_returns_output_bias(need_weights):
    module = MultiHeadAttention(D, H).eval()
    kwargs, empty = mha_masks("attn_mask_row")
    out = module(torch.randn(B, T, D), need_weights=need_weights, **kwargs).output
    torch.testing.assert_close(out[empty], module.out_proj.bias.expand(int(empty.sum()), D))


@pytest.mark.parametrize("need_weights", [False, True])
def test_multi_head_attention_with_position_bias(need_weights):
    module = MultiHeadAttention(D, H, bias=False).eval()
    kwargs, empty = mha_masks("causal_left_padding")
    x = torch.randn(B, T, D, requires_grad=True)
    bias = torch.randn(1, H, T, T)
    out = module(x, position_bias=bias, need_weights=need_weights, **kwargs).output
    assert (out[empty] == 0.0).all()
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("score", SCORE_FUNCTIONS)
@pytest.mark.parametrize("need_weights", [False, True])
def test_single_head_attention(score, need_weights):
    attn = Attention(score, query_dim=6).eval()
    query = torch.randn(B, 3, 6, requires_grad=True)
    keys = torch.randn(B, T, 6, requires_grad=True)
    values = torch.randn(B, T, 4, requires_grad=True)
    real = torch.ones(B, T, dtype=torch.bool)
    real[1] = False  # every query of row 1 is empty
    mask = torch.ones(3, T, dtype=torch.bool)
    mask[0] = False  # query 0 is empty everywhere
    result = attn(
        query, keys, values, key_padding_mask=real, attn_mask=mask, need_weights=need_weights
    )
    out = result.output
    assert out.shape == (B, 3, 4)
    assert torch.isfinite(out).all()
    assert (out[1] == 0.0).all() and (out[:, 0] == 0.0).all()
    assert (out[0, 1:] != 0.0).all()
    if need_weights:
        assert (result.weights[1] == 0.0).all() and (result.weights[:, 0] == 0.0).all()
    out.square().sum().backward()
    assert_finite_grads([query, keys, values, *attn.parameters()])


@pytest.mark.parametrize("score", SCORE_FUNCTIONS)
def test_single_query_all_padding(score):
    attn = Attention(score, query_dim=6)
    query = torch.randn(B, 6, requires_grad=True)
    keys = torch.randn(B, T, 6, requires_grad=True)
    real = torch.tensor([[True] * T, [False] * T])
    for need_weights in (False, True):
        result = attn(query, keys, key_padding_mask=real, need_weights=need_weights)
        assert (result.output[1] == 0.0).all()
        result.output.sum().backward()
        assert torch.isfinite(query.grad).all() and torch.isfinite(keys.grad).all()


@pytest.mark.parametrize("score", SCORE_FUNCTIONS)
@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("with_bias", [False, True])
def test_attend(score, need_weights, with_bias):
    score_fn = make_score(score, 4, num_heads=H)
    q = torch.randn(B, H, T, 4, requires_grad=True)
    k = torch.randn(B, H, T, 4, requires_grad=True)
    v = torch.randn(B, H, T, 3, requires_grad=True)
    mask = make_causal_mask(T).expand(B, H, T, T).clone()
    mask[0, 1, 3] = False
    mask[1, :, 0] = False
    bias = torch.randn(B, H, T, T) if with_bias else None
    out, weights = attend(
        q, k, v, score=score_fn, attn_mask=mask, bias=bias, need_weights=need_weights
    )
    empty = ~mask.any(-1)
    assert torch.isfinite(out).all()
    assert (out[empty] == 0.0).all()
    assert (out[~empty] != 0.0).all()
    if need_weights:
        assert (weights[empty] == 0.0).all()
    out.sum().backward()
    assert_finite_grads([q, k, v])
    assert (q.grad[empty] == 0.0).all()
