"""The fused path (``scaled_dot_product_attention``, no weights) and the explicit path
(weights returned) compute the same attention."""

from __future__ import annotations

import pytest
import torch

from attnkit.nn import (
    KVCache,
    MultiHeadAttention,
    RotaryEmbedding,
    ScaledDotScore,
    attend,
    make_causal_mask,
    make_positions,
)

D, H, B, T = 16, 4, 2, 6
PATH_ATOL = 1e-6


def mha(**kwargs) -> MultiHeadAttention:
    return MultiHeadAttention(D, H, **kwargs).eval()


def both_paths(module, *args, **kwargs):
    fused = module(*args, need_weights=False, **kwargs)
    explicit = module(*args, need_weights=True, **kwargs)
    assert fused.weights is None
    return fused.output, explicit.output, explicit.weights


def check_weights(weights: torch.Tensor, allowed: torch.Tensor | None) -> None:
    """Masked keys exactly 0; rows sum to 1, or are all 0 when nothing is allowed."""
    if allowed is not None:
        allowed = allowed.expand_as(weights)
        assert (weights[~allowed] == 0.0).all()
        empty = ~allowed.any(-1)
    else:
        empty = torch.zeros(weights.shape[:-1], dtype=torch.bool)
    sums = weights.sum(-1)
    torch.testing.assert_close(sums[~empty], torch.ones_like(sums[~empty]), atol=1e-6, rtol=0)
    assert (weights[empty] == 0.0).all()


def key_padding() -> torch.Tensor:
    return torch.tensor([[True] * T, [True] * 3 + [False] * (T - 3)])


def test_no_mask():
    x = torch.randn(B, T, D)
    fused, explicit, weights = both_paths(mha(), x)
    torch.testing.assert_close(fused, explicit, atol=PATH_ATOL, rtol=0)
    check_weights(weights, None)


def test_causal():
    x = torch.randn(B, T, D)
    fused, explicit, weights = both_paths(mha(), x, is_causal=True)
    torch.testing.assert_close(fused, explicit, atol=PATH_ATOL, rtol=0)
    check_weights(weights, make_causal_mask(T))
    assert (weights.triu(1) == 0.0).all()


def test_key_padding():
    x, real = torch.randn(B, T, D), key_padding()
    fused, explicit, weights = both_paths(mha(), x, key_padding_mask=real)
    torch.testing.assert_close(fused, explicit, atol=PATH_ATOL, rtol=0)
    check_weights(weights, real[:, None, None, :])


def test_arbitrary_bool_prior_with_an_empty_row():
    x = torch.randn(B, T, D)
    prior = torch.rand(B, H, T, T) > 0.5
    prior[0, 1, 2] = False  # one query row that may attend nowhere
    prior[1, :, 4] = False
    fused, explicit, weights = both_paths(mha(), x, attn_mask=prior)
    torch.testing.assert_close(fused, explicit, atol=PATH_ATOL, rtol=0)
    check_weights(weights, prior)
    assert (weights[0, 1, 2] == 0.0).all()


@pytest.mark.parametrize("with_mask", [False, True])
def test_position_bias(with_mask):
    x = torch.randn(B, T, D)
    bias = torch.randn(1, H, T, T)
    real = key_padding() if with_mask else None
    fused, explicit, weights = both_paths(
        mha(), x, position_bias=bias, key_padding_mask=real, is_causal=with_mask
    )
    torch.testing.assert_close(fused, explicit, atol=PATH_ATOL, rtol=0)
    allowed = None
    if with_mask:
        allowed = real[:, None, None, :] & make_causal_mask(T)
    check_weights(weights, allowed)


def test_position_bias_changes_output():
    module = mha()
    x = torch.randn(B, T, D)
    bias = torch.randn(1, H, T, T) * 3
    with_bias = module(x, position_bias=bias).output
    without = module(x).output
    assert (with_bias - without).abs().max() > 1e-3


@pytest.mark.parametrize("mask", ["none", "causal", "padding"])
def test_grouped_query_attention(mask):
    module = mha(num_kv_heads=2)
    assert module.k_proj.out_features == 2 * (D // H)
    x = torch.randn(B, T, D)
    kwargs = {
        "none": {},
        "causal": {"is_causal": True},
        "padding": {"key_padding_mask": key_padding()},
    }[mask]
    fused, explicit, weights = both_paths(module, x, **kwargs)
    torch.testing.assert_close(fused, explicit, atol=PATH_ATOL, rtol=0)
    assert weights.shape == (B, H, T, T)
    # heads 0 and 1 share K (and V) but not Q: their maps differ
    assert not torch.allclose(weights[:, 0], weights[:, 1])


def test_grouped_query_matches_repeated_kv_heads():
    """GQA equals full MHA whose K/V projections repeat each K/V head."""
    gqa = mha(num_kv_heads=2)
    full = mha()
    head_dim = D // H
    with torch.no_grad():
        full.load_state_dict(
            {k: v for k, v in gqa.state_dict().items() if not k.startswith(("k_", "v_"))},
            strict=False,
        )
        for name in ("k_proj", "v_proj"):
            src, dst = getattr(gqa, name), getattr(full, name)
            w = src.weight.view(2, head_dim, D).repeat_interleave(2, dim=0).reshape(D, D)
            dst.weight.copy_(w)
            dst.bias.copy_(src.bias.view(2, head_dim).repeat_interleave(2, dim=0).reshape(D))
    x = torch.randn(B, T, D)
    torch.testing.assert_close(gqa(x).output, full(x).output, atol=1e-5, rtol=0)


def test_rotary():
    module = mha()
    rotary = RotaryEmbedding(D // H)(make_positions(T))
    x = torch.randn(B, T, D)
    fused, explicit, weights = both_paths(module, x, rotary=rotary, is_causal=True)
    torch.testing.assert_close(fused, explicit, atol=PATH_ATOL, rtol=0)
    check_weights(weights, make_causal_mask(T))
    assert (fused - module(x, is_causal=True).output).abs().max() > 1e-3


def test_cache_step_by_step():
    module = mha()
    rope = RotaryEmbedding(D // H)
    x = torch.randn(B, T, D)
    fused_cache, explicit_cache = KVCache(), KVCache()
    for start, stop in ((0, 3), (3, 4), (4, 6)):  # a prompt, then single tokens
        chunk = x[:, start:stop]
        rotary = rope(make_positions(stop - start, start=start))
        fused = module(chunk, is_causal=True, rotary=rotary, cache=fused_cache)
        explicit = module(
            chunk, is_causal=True, rotary=rotary, cache=explicit_cache, need_weights=True
        )
        torch.testing.assert_close(fused.output, explicit.output, atol=PATH_ATOL, rtol=0)
        assert explicit.weights.shape == (B, H, stop - start, stop)
        check_weights(explicit.weights, make_causal_mask(stop - start, stop))
    assert len(fused_cache) == len(explicit_cache) == T


def test_cross_attention_lengths_differ():
    module = mha()
    query, memory = torch.randn(B, 3, D), torch.randn(B, 7, D)
    real = torch.tensor([[True] * 7, [True] * 2 + [False] * 5])
    fused, explicit, weights = both_paths(module, query, memory, key_padding_mask=real)
    torch.testing.assert_close(fused, explicit, atol=PATH_ATOL, rtol=0)
    check_weights(weights, real[:, None, None, :])


@pytest.mark.parametrize("is_causal", [False, True])
def test_attend_directly(is_causal):
    q, k, v = torch.randn(B, H, T, 4), torch.randn(B, H, T, 4), torch.randn(B, H, T, 5)
    mask = torch.rand(1, 1, T, T) > 0.3
    bias = torch.randn(B, H, T, T)
    fused, none = attend(
        q, k, v, score=ScaledDotScore(), attn_mask=mask, bias=bias, is_causal=is_causal
    )
    explicit, weights = attend(
        q,
        k,
        v,
        score=ScaledDotScore(),
        attn_mask=mask,
        bias=bias,
        is_causal=is_causal,
        need_weights=True,
    )
    assert none is None
    torch.testing.assert_close(fused, explicit, atol=PATH_ATOL, rtol=0)
    allowed = mask & make_causal_mask(T) if is_causal else mask
    check_weights(weights, allowed)


# ------------------------------------------------- one QKV matmul while decoding


def _decode(module, x):
    """Token by token through a fresh cache, without autograd: (B, T, D) → (B, T, D)."""
    cache = KVCache()
    with torch.no_grad():
        return torch.cat(
            [module(x[:, t : t + 1], cache=cache).output for t in range(x.shape[1])], 1
        )


@pytest.mark.parametrize("num_kv_heads", [H, 2])
@pytest.mark.parametrize("bias", [True, False])
def test_cached_decoding_equals_the_full_forward_with_and_without_autograd(num_kv_heads, bias):
    module = mha(num_kv_heads=num_kv_heads, bias=bias)
    x = torch.randn(B, T, D)
    full = module(x, is_causal=True).output  # autograd on: three projections, no cache
    torch.testing.assert_close(_decode(module, x), full, atol=PATH_ATOL, rtol=0)
    with torch.inference_mode():
        torch.testing.assert_close(_decode(module, x), full, atol=PATH_ATOL, rtol=0)


@pytest.mark.parametrize("fused", [True, False])
def test_decoding_after_an_optimizer_step_uses_the_new_weights(fused):
    """The fused AdamW step changes weights without bumping their version counters: a
    concatenated Q/K/V copy kept across decoding runs would silently go stale (it did,
    and a ViT's validation accuracy fell from 80 % to 50 % while it trained well)."""
    module = mha()
    x = torch.randn(B, T, D)
    optimizer = torch.optim.AdamW(module.parameters(), lr=0.1, fused=fused)
    before = _decode(module, x)
    for _ in range(2):
        module(x).output.square().sum().backward()
        optimizer.step()
        optimizer.zero_grad()
        after = _decode(module, x)
        assert not torch.allclose(after, before)
        torch.testing.assert_close(after, module(x, is_causal=True).output, atol=PATH_ATOL, rtol=0)
        before = after


def test_lean_step_weights_live_with_one_decoding_run_not_the_module():
    """The lean step's concatenated Q/K/V copy belongs to one decoding run (its cache):
    after an optimizer step, the next run decodes with the new weights."""
    from attnkit.nn import TransformerStack, fast
    from attnkit.nn.fast.lean_step import LeanStack, built_for

    stack = TransformerStack(2, D, H, 32, causal=True, dropout=0.0)
    x = torch.randn(B, T, D)
    optimizer = torch.optim.AdamW(stack.parameters(), lr=0.1, fused=True)
    before = set(stack.state_dict())
    for _ in range(2):
        stack.train()
        stack(x).hidden.square().sum().backward()
        optimizer.step()
        optimizer.zero_grad()
        stack.eval()
        cache = stack.new_cache()
        with torch.no_grad(), fast.reference_mode(False):
            steps = [stack(x[:, t : t + 1], cache=cache).hidden for t in range(T)]
            full = stack(x).hidden
        assert isinstance(built_for(cache), LeanStack)
        torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=0)
    assert set(stack.state_dict()) == before  # nothing was added to the module
