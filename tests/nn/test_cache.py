"""Key/value caches: bookkeeping, and cached decoding equals the full forward."""

from __future__ import annotations

import pytest
import torch

from attnkit.nn import KVCache, MultiHeadAttention, StackCache, TransformerStack

D, H, B, T = 16, 4, 3, 6
ATOL = 1e-5


# ------------------------------------------------------------------ bookkeeping


def test_kv_cache_append():
    cache = KVCache()
    assert len(cache) == 0 and not cache.filled
    k1, v1 = torch.randn(B, 2, 3, 4), torch.randn(B, 2, 3, 4)
    keys, values = cache.append(k1, v1)
    assert len(cache) == 3 and cache.filled
    assert torch.equal(keys, k1) and torch.equal(values, v1)
    k2, v2 = torch.randn(B, 2, 1, 4), torch.randn(B, 2, 1, 4)
    keys, values = cache.append(k2, v2)
    assert len(cache) == 4
    assert torch.equal(keys, torch.cat([k1, k2], dim=2))
    assert torch.equal(values, torch.cat([v1, v2], dim=2))
    assert torch.equal(keys, cache.keys) and torch.equal(values, cache.values)


def test_kv_cache_appends_in_place_and_grows_by_doubling():
    cache = KVCache()
    k, v = torch.randn(B, 2, 1, 4), torch.randn(B, 2, 1, 4)
    keys, _ = cache.append(k, v)
    storage, capacity = keys.untyped_storage().data_ptr(), cache._keys.shape[-2]
    for _ in range(capacity - 1):  # fill the buffer: no new allocation
        keys, _ = cache.append(k, v)
    assert keys.untyped_storage().data_ptr() == storage and len(cache) == capacity
    keys, values = cache.append(2 * k, 2 * v)  # one more: the buffer doubles
    assert cache._keys.shape[-2] == 2 * capacity and len(cache) == capacity + 1
    assert torch.equal(keys[:, :, :capacity], k.expand(B, 2, capacity, 4))
    assert torch.equal(values[:, :, -1:], 2 * v)


def test_kv_cache_store_replaces():
    cache = KVCache()
    k, v = torch.randn(B, 2, 5, 4), torch.randn(B, 2, 5, 4)
    cache.store(k, v)
    cache.store(k, v)  # storing again does not accumulate
    assert cache.filled and len(cache) == 5
    assert cache.keys is k and cache.values is v


def test_kv_cache_reorder():
    cache = KVCache()
    cache.reorder(torch.tensor([0]))  # empty: nothing to do
    k, v = torch.randn(B, 2, 5, 4), torch.randn(B, 2, 5, 4)
    cache.append(k, v)
    index = torch.tensor([2, 2, 0, 1])  # beam search may duplicate rows
    cache.reorder(index)
    assert torch.equal(cache.keys, k[index]) and torch.equal(cache.values, v[index])


def test_stack_cache_reorder():
    cache = StackCache(2, cross_attention=True)
    assert len(cache) == 0 and len(cache.self_attn) == len(cache.cross_attn) == 2
    assert cache.self_attn[0] is not cache.self_attn[1]
    for layer in (*cache.self_attn, *cache.cross_attn):
        layer.append(torch.randn(B, 2, 4, 4), torch.randn(B, 2, 4, 4))
    cache.positions = torch.arange(B * 4).view(B, 4)
    cache.padding_mask = torch.rand(B, 4) > 0.5
    before = [(c.keys.clone(), c.values.clone()) for c in (*cache.self_attn, *cache.cross_attn)]
    positions, padding = cache.positions.clone(), cache.padding_mask.clone()
    index = torch.tensor([1, 0, 1])
    cache.reorder(index)
    assert len(cache) == 4
    for layer, (k, v) in zip((*cache.self_attn, *cache.cross_attn), before, strict=True):
        assert torch.equal(layer.keys, k[index]) and torch.equal(layer.values, v[index])
    assert torch.equal(cache.positions, positions[index])
    assert torch.equal(cache.padding_mask, padding[index])
    assert StackCache(3).cross_attn == []


# ------------------------------------------------------------------ attention


@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("num_kv_heads", [None, 2])
def test_self_attention_cache_equals_full_causal(need_weights, num_kv_heads):
    mha = MultiHeadAttention(D, H, num_kv_heads=num_kv_heads).eval()
    x = torch.randn(B, T, D)
    full = mha(x, is_causal=True, need_weights=need_weights)
    cache = KVCache()
    steps = [
        mha(x[:, t : t + 1], is_causal=True, cache=cache, need_weights=need_weights)
        for t in range(T)
    ]
    assert len(cache) == T
    torch.testing.assert_close(
        torch.cat([s.output for s in steps], dim=1), full.output, atol=ATOL, rtol=0
    )
    if need_weights:
        for t, step in enumerate(steps):
            assert step.weights.shape == (B, H, 1, t + 1)
            torch.testing.assert_close(step.weights[:, :, 0], full.weights[:, :, t, : t + 1])


def test_self_attention_cache_prompt_then_steps():
    mha = MultiHeadAttention(D, H).eval()
    x = torch.randn(B, T, D)
    cache = KVCache()
    outs = [mha(x[:, :4], is_causal=True, cache=cache).output]
    outs += [mha(x[:, t : t + 1], is_causal=True, cache=cache).output for t in range(4, T)]
    torch.testing.assert_close(
        torch.cat(outs, dim=1), mha(x, is_causal=True).output, atol=ATOL, rtol=0
    )


@pytest.mark.parametrize("need_weights", [False, True])
def test_cross_attention_cache_projects_source_once(need_weights):
    mha = MultiHeadAttention(D, H).eval()
    memory = torch.randn(B, 5, D)
    calls = {"k_proj": 0, "v_proj": 0}

    def count(name):
        def hook(module, inputs, output):
            calls[name] += 1

        return hook

    handles = [getattr(mha, name).register_forward_hook(count(name)) for name in calls]
    cache = KVCache()
    queries = torch.randn(B, 4, D)
    real = torch.tensor([[True] * 5, [True] * 3 + [False] * 2, [True] * 5])
    steps = [
        mha(
            queries[:, t : t + 1],
            memory,
            cache=cache,
            key_padding_mask=real,
            need_weights=need_weights,
        ).output
        for t in range(4)
    ]
    for handle in handles:
        handle.remove()
    assert calls == {"k_proj": 1, "v_proj": 1}
    assert len(cache) == 5  # the source length, not the number of steps
    expected = mha(queries, memory, key_padding_mask=real).output
    torch.testing.assert_close(torch.cat(steps, dim=1), expected, atol=ATOL, rtol=0)


# ------------------------------------------------------------------ stacks


@pytest.mark.parametrize("positional", ["none", "rope", "alibi", "relative"])
def test_stack_cache_equals_full_forward(positional):
    stack = TransformerStack(2, D, H, 32, causal=True, positional=positional, dropout=0.0)
    stack.eval()
    x = torch.randn(B, T, D)
    full = stack(x).hidden
    cache = stack.new_cache()
    outs = [stack(x[:, :3], cache=cache).hidden]
    outs += [stack(x[:, t : t + 1], cache=cache).hidden for t in range(3, T)]
    assert len(cache) == T
    torch.testing.assert_close(torch.cat(outs, dim=1), full, atol=ATOL, rtol=0)


@pytest.mark.parametrize("positional", ["none", "rope", "alibi", "relative"])
def test_stack_cache_left_padded_prompt(positional):
    """A left-padded prompt decoded with a cache equals each sequence alone."""
    stack = TransformerStack(2, D, H, 32, causal=True, positional=positional, dropout=0.0)
    stack.eval()
    lengths = [4, 2, 3]  # prompt lengths; the batch is left-padded to 4
    new = torch.randn(B, 2, D)  # two generated tokens per sequence
    prompts = [torch.randn(1, n, D) for n in lengths]
    padded = torch.zeros(B, 4, D)
    real = torch.zeros(B, 4, dtype=torch.bool)
    for b, prompt in enumerate(prompts):
        padded[b, 4 - lengths[b] :] = prompt[0]
        real[b, 4 - lengths[b] :] = True

    cache = stack.new_cache()
    first = stack(padded, padding_mask=real, cache=cache).hidden
    steps = [stack(new[:, t : t + 1], cache=cache).hidden for t in range(2)]
    # The next step continues each sequence's own count, after its real tokens only.
    upcoming = stack.make_positions(1, cache=cache)
    assert upcoming[:, -1].tolist() == [n + 2 for n in lengths]
    if positional in ("alibi", "relative"):  # kept for the position bias
        assert cache.positions[:, -1].tolist() == [n + 1 for n in lengths]
    else:  # nothing reads them: not kept
        assert cache.positions is None

    for b, prompt in enumerate(prompts):
        alone = stack(torch.cat([prompt, new[b : b + 1]], dim=1)).hidden[0]
        torch.testing.assert_close(
            first[b, 4 - lengths[b] :], alone[: lengths[b]], atol=ATOL, rtol=0
        )
        for t in range(2):
            torch.testing.assert_close(steps[t][b, 0], alone[lengths[b] + t], atol=ATOL, rtol=0)


def test_stack_cross_attention_cache():
    stack = TransformerStack(2, D, H, 32, causal=True, cross_attention=True, dropout=0.0)
    stack.eval()
    memory, x = torch.randn(B, 5, D), torch.randn(B, T, D)
    memory_real = torch.tensor([[True] * 5, [True] * 2 + [False] * 3, [True] * 4 + [False]])
    full = stack(x, memory=memory, memory_padding_mask=memory_real).hidden
    cache = stack.new_cache()
    steps = [
        stack(x[:, t : t + 1], memory=memory, memory_padding_mask=memory_real, cache=cache).hidden
        for t in range(T)
    ]
    assert all(c.filled and len(c) == 5 for c in cache.cross_attn)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=ATOL, rtol=0)
