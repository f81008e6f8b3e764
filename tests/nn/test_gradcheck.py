"""float64 ``gradcheck`` for every score function, through ``attend``, ``Attention`` and
``MultiHeadAttention``, with and without masks (including a fully masked row)."""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck
from torch.func import functional_call

from attnkit.nn import (
    SCORE_FUNCTIONS,
    Attention,
    MultiHeadAttention,
    attend,
    make_causal_mask,
    make_score,
)

B, T = 2, 4
MASKS = ["none", "padding", "causal", "empty_row"]


def masks(kind: str, num_queries: int = T) -> dict:
    """Keyword arguments: ``attn_mask`` (B, 1, Tq, Tk) or is_causal."""
    if kind == "none":
        return {}
    if kind == "causal":
        return {"is_causal": True}
    mask = torch.ones(B, 1, num_queries, T, dtype=torch.bool)
    if kind == "padding":
        mask[1, ..., 2:] = False
    else:  # empty_row
        mask[0, 0, 1] = False  # query 1 of sequence 0 sees no key
        mask[1, 0, -1] = False  # nor does the last query of sequence 1
    return {"attn_mask": mask}


def rand(*shape):
    return torch.randn(*shape, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("score", SCORE_FUNCTIONS)
@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("need_weights", [False, True])
def test_attend(score, mask, need_weights):
    heads, dim = 2, 3
    score_fn = make_score(score, dim, num_heads=heads).double()
    kwargs = masks(mask)
    if "attn_mask" in kwargs:
        kwargs["attn_mask"] = kwargs["attn_mask"].expand(B, heads, T, T)
    q, k, v = rand(B, heads, T, dim), rand(B, heads, T, dim), rand(B, heads, T, 2)
    params = dict(score_fn.named_parameters())

    class BoundScore(torch.nn.Module):
        """``score_fn`` evaluated with the parameter values gradcheck perturbs."""

        def __init__(self, values):
            super().__init__()
            self.values = dict(zip(params, values, strict=True))

        def forward(self, q, k):
            return functional_call(score_fn, self.values, (q, k))

    def fn(q, k, v, *param_values):
        score = BoundScore(param_values) if params else score_fn
        out, weights = attend(q, k, v, score=score, need_weights=need_weights, **kwargs)
        return (out, weights) if need_weights else out

    assert gradcheck(fn, (q, k, v, *params.values()), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("score", SCORE_FUNCTIONS)
@pytest.mark.parametrize("mask", ["none", "padding", "empty_row"])
@pytest.mark.parametrize("need_weights", [False, True])
def test_single_head_attention(score, mask, need_weights):
    attn = Attention(score, query_dim=3).double()
    kwargs = {}
    if mask != "none":
        attn_mask = masks(mask, num_queries=2)["attn_mask"][:, 0]  # (B, Tq, Tk)
        kwargs["attn_mask"] = attn_mask
    params = dict(attn.named_parameters())

    def fn(query, keys, values, *param_values):
        result = functional_call(
            attn,
            dict(zip(params, param_values, strict=True)),
            (query, keys, values),
            {"need_weights": need_weights, **kwargs},
        )
        return (result.output, result.weights) if need_weights else result.output

    inputs = (rand(B, 2, 3), rand(B, T, 3), rand(B, T, 2), *params.values())
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("score", SCORE_FUNCTIONS)
@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("need_weights", [False, True])
def test_multi_head_attention(score, mask, need_weights):
    mha = MultiHeadAttention(8, 2, score=score).double().eval()
    kwargs = masks(mask)
    if mask == "padding":
        kwargs = {"key_padding_mask": kwargs["attn_mask"][:, 0, 0]}
    params = dict(mha.named_parameters())

    def fn(query, key, *param_values):
        result = functional_call(
            mha,
            dict(zip(params, param_values, strict=True)),
            (query, key),
            {"need_weights": need_weights, **kwargs},
        )
        return (result.output, result.weights) if need_weights else result.output

    inputs = (rand(B, T, 8), rand(B, T, 8), *params.values())
    # fast mode (random directional derivatives): ~300 inputs make the full Jacobian slow
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-5, fast_mode=True)


def test_masks_used_in_gradcheck_are_what_they_claim():
    mask = masks("empty_row")["attn_mask"]
    assert (~mask.any(-1)).sum() == 2
    assert masks("padding")["attn_mask"][1, 0, 0].tolist() == [True, True, False, False]
    assert make_causal_mask(T).sum() == T * (T + 1) // 2


@pytest.mark.parametrize("score", SCORE_FUNCTIONS)
def test_explicit_path_keeps_float64_precision(score):
    """The explicit path must not round float64 scores through float32 (gradcheck and
    float64 numerics rely on it)."""
    score_fn = make_score(score, 3, num_heads=1).double()
    q, k, v = (torch.randn(1, 1, T, 3, dtype=torch.float64) for _ in range(3))
    out, weights = attend(q, k, v, score=score_fn, need_weights=True)
    with torch.no_grad():
        expected_weights = torch.softmax(score_fn(q, k), dim=-1)
    assert weights.dtype == torch.float64
    torch.testing.assert_close(weights, expected_weights, atol=1e-12, rtol=0)
    torch.testing.assert_close(out, expected_weights @ v, atol=1e-12, rtol=0)
