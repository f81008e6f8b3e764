"""Mask helpers, mask validation and MultiHeadAttention's input checks."""

from __future__ import annotations

import re

import pytest
import torch

from attnkit.nn import (
    Attention,
    MultiHeadAttention,
    ScaledDotScore,
    TransformerStack,
    attend,
    check_key_padding_mask,
    check_mask,
    combine_masks,
    key_padding_to_attn_mask,
    make_causal_mask,
    make_local_mask,
    make_padding_mask,
    padding_mask_from_lengths,
)

D, H, B, T = 16, 4, 2, 5


# ------------------------------------------------------------------ constructors


@pytest.mark.parametrize("size", [1, 4, 7])
def test_causal_mask_equals_tril(size):
    mask = make_causal_mask(size)
    assert mask.shape == (size, size) and mask.dtype == torch.bool
    assert torch.equal(mask, torch.ones(size, size).tril().bool())


def test_causal_mask_offset_for_cache():
    # 2 new queries after 3 cached keys: query 0 is position 3, query 1 is position 4
    mask = make_causal_mask(2, 5)
    assert mask.shape == (2, 5)
    assert mask.tolist() == [[True, True, True, True, False], [True] * 5]
    assert torch.equal(make_causal_mask(2, 5), make_causal_mask(5)[-2:])
    # one new token sees everything
    assert make_causal_mask(1, 6).all()
    # explicit offset 0: aligned to the first key
    assert torch.equal(make_causal_mask(2, 5, offset=0), torch.ones(2, 5).tril().bool())


def test_local_mask_window():
    mask = make_local_mask(6, window=1)
    expected = torch.tensor(
        [[abs(i - j) <= 1 for j in range(6)] for i in range(6)], dtype=torch.bool
    )
    assert torch.equal(mask, expected)
    assert torch.equal(make_local_mask(6, window=0), torch.eye(6, dtype=torch.bool))
    assert make_local_mask(6, window=10).all()


def test_local_mask_causal():
    mask = make_local_mask(6, window=2, causal=True)
    expected = torch.tensor(
        [[0 <= i - j <= 2 for j in range(6)] for i in range(6)], dtype=torch.bool
    )
    assert torch.equal(mask, expected)
    assert torch.equal(mask & make_causal_mask(6), mask)  # never sees the future
    with pytest.raises(ValueError, match="window"):
        make_local_mask(3, window=-1)


def test_local_mask_with_cache_offset():
    # the last two of six positions, window 1, causal
    assert torch.equal(
        make_local_mask(2, 6, window=1, causal=True),
        make_local_mask(6, window=1, causal=True)[-2:],
    )


def test_padding_mask():
    tokens = torch.tensor([[5, 6, 0, 0], [0, 7, 8, 9]])
    assert make_padding_mask(tokens, pad_id=0).tolist() == [
        [True, True, False, False],
        [False, True, True, True],
    ]


def test_padding_mask_from_lengths():
    mask = padding_mask_from_lengths(torch.tensor([3, 1, 4]))
    assert mask.shape == (3, 4)
    assert mask.sum(-1).tolist() == [3, 1, 4]
    assert mask.tolist()[1] == [True, False, False, False]
    assert padding_mask_from_lengths(torch.tensor([2]), max_len=5).tolist() == [
        [True, True, False, False, False]
    ]


def test_key_padding_to_attn_mask():
    real = torch.tensor([[True, False, True]])
    mask = key_padding_to_attn_mask(real)
    assert mask.shape == (1, 1, 1, 3)


def test_combine_masks():
    assert combine_masks() is None
    assert combine_masks(None, None) is None
    causal = make_causal_mask(4)
    assert combine_masks(None, causal, None) is causal
    real = torch.tensor([[True, True, True, False], [True, True, False, False]])
    combined = combine_masks(causal, None, key_padding_to_attn_mask(real))
    assert combined.shape == (2, 1, 4, 4)
    for b in range(2):
        for i in range(4):
            for j in range(4):
                assert combined[b, 0, i, j] == (j <= i and bool(real[b, j]))


# ------------------------------------------------------------------ validation


def test_check_mask_wrong_dtype():
    mask = torch.zeros(T, T)
    with pytest.raises(ValueError) as info:
        check_mask(mask, "attn_mask", batch_size=B, num_heads=H, num_queries=T, num_keys=T)
    message = str(info.value)
    assert "attn_mask" in message and "torch.bool" in message and "torch.float32" in message


@pytest.mark.parametrize("shape", [(T, T + 1), (3, T, T), (B, 3, T, T), (T,), (1, 1, 1, T, T)])
def test_check_mask_wrong_shape(shape):
    mask = torch.ones(shape, dtype=torch.bool)
    with pytest.raises(ValueError) as info:
        check_mask(mask, "attn_mask", batch_size=B, num_heads=H, num_queries=T, num_keys=T)
    message = str(info.value)
    assert "attn_mask" in message
    assert str((B, H, T, T)) in message  # expected
    assert str(shape) in message  # received


@pytest.mark.parametrize("shape", [(T, T), (1, T), (B, T, T), (B, 1, T, T), (1, H, 1, T)])
def test_check_mask_accepts_broadcastable_shapes(shape):
    mask = torch.ones(shape, dtype=torch.bool)
    check_mask(mask, "attn_mask", batch_size=B, num_heads=H, num_queries=T, num_keys=T)


def test_check_mask_not_a_tensor():
    with pytest.raises(TypeError, match="attn_mask"):
        check_mask([[True]], "attn_mask", batch_size=1, num_heads=1, num_queries=1, num_keys=1)


def test_check_key_padding_mask():
    check_key_padding_mask(None, "key_padding_mask", batch_size=B, num_keys=T)
    with pytest.raises(ValueError, match=r"key_padding_mask.*torch\.bool.*torch\.int64"):
        check_key_padding_mask(
            torch.ones(B, T, dtype=torch.long), "key_padding_mask", batch_size=B, num_keys=T
        )


def test_mha_attn_mask_float_rejected():
    mha = MultiHeadAttention(D, H)
    float_mask = torch.zeros(T, T).masked_fill(~make_causal_mask(T), float("-inf"))
    with pytest.raises(ValueError) as info:
        mha(torch.randn(B, T, D), attn_mask=float_mask)
    message = str(info.value)
    assert "attn_mask" in message and "torch.bool" in message and "torch.float32" in message


def test_mha_attn_mask_wrong_shape():
    mha = MultiHeadAttention(D, H)
    with pytest.raises(ValueError) as info:
        mha(torch.randn(B, T, D), attn_mask=torch.ones(T, T + 2, dtype=torch.bool))
    message = str(info.value)
    assert "attn_mask" in message
    assert str((B, H, T, T)) in message
    assert str((T, T + 2)) in message


def test_mha_key_padding_mask_wrong_dtype():
    mha = MultiHeadAttention(D, H)
    with pytest.raises(ValueError) as info:
        mha(torch.randn(B, T, D), key_padding_mask=torch.ones(B, T))
    message = str(info.value)
    assert "key_padding_mask" in message
    assert "torch.bool" in message and "torch.float32" in message


@pytest.mark.parametrize("shape", [(B, T + 1), (B + 1, T), (B, 1, T)])
def test_mha_key_padding_mask_wrong_shape(shape):
    mha = MultiHeadAttention(D, H)
    with pytest.raises(ValueError) as info:
        mha(torch.randn(B, T, D), key_padding_mask=torch.ones(shape, dtype=torch.bool))
    message = str(info.value)
    assert "key_padding_mask" in message
    assert str(shape) in message  # received
    assert f"({B}, {T})" in message  # expected (B, Tk)


def test_single_head_attention_checks_masks():
    attn = Attention("dot", query_dim=4)
    query, keys = torch.randn(B, 3, 4), torch.randn(B, T, 4)
    with pytest.raises(ValueError, match="key_padding_mask"):
        attn(query, keys, key_padding_mask=torch.ones(B, T + 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="attn_mask"):
        attn(query, keys, attn_mask=torch.ones(3, T))


# ------------------------------------------------------------------ mask + is_causal


def prior() -> torch.Tensor:
    mask = torch.rand(B, 1, T, T) > 0.4
    mask[..., 0] = True  # keep every row non-empty after the causal AND
    return mask


@pytest.mark.parametrize("need_weights", [False, True])
def test_mask_and_is_causal_is_their_and(need_weights):
    mha = MultiHeadAttention(D, H).eval()
    x, mask = torch.randn(B, T, D), prior()
    both = mha(x, attn_mask=mask, is_causal=True, need_weights=need_weights)
    anded = mha(x, attn_mask=mask & make_causal_mask(T), need_weights=need_weights)
    torch.testing.assert_close(both.output, anded.output, atol=1e-6, rtol=0)
    if need_weights:
        assert torch.equal(both.weights == 0, ~(mask & make_causal_mask(T)).expand(B, H, T, T))
    # and it differs from either mask alone
    assert (both.output - mha(x, attn_mask=mask).output).abs().max() > 1e-4
    assert (both.output - mha(x, is_causal=True).output).abs().max() > 1e-4


def test_mask_and_is_causal_same_on_both_paths():
    mha = MultiHeadAttention(D, H).eval()
    x, mask = torch.randn(B, T, D), prior()
    fused = mha(x, attn_mask=mask, is_causal=True).output
    explicit = mha(x, attn_mask=mask, is_causal=True, need_weights=True).output
    torch.testing.assert_close(fused, explicit, atol=1e-6, rtol=0)


@pytest.mark.parametrize("need_weights", [False, True])
def test_attend_mask_and_is_causal(need_weights):
    q, k, v = (torch.randn(B, H, T, 4) for _ in range(3))
    mask = prior()
    got, _ = attend(
        q, k, v, score=ScaledDotScore(), attn_mask=mask, is_causal=True, need_weights=need_weights
    )
    expected, _ = attend(
        q,
        k,
        v,
        score=ScaledDotScore(),
        attn_mask=mask & make_causal_mask(T),
        need_weights=need_weights,
    )
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


# ------------------------------------------------------------------ MHA argument checks


def test_mha_key_dtype_mismatch():
    mha = MultiHeadAttention(D, H)
    with pytest.raises(ValueError) as info:
        mha(torch.randn(B, T, D), torch.randn(B, T, D, dtype=torch.float64))
    message = str(info.value)
    assert "key" in message and "torch.float64" in message and "torch.float32" in message


def test_mha_value_dtype_mismatch():
    mha = MultiHeadAttention(D, H)
    x = torch.randn(B, T, D)
    with pytest.raises(ValueError, match=r"value.*torch\.float64"):
        mha(x, x, x.double())


@pytest.mark.parametrize("shape", [(B, T, D + 1), (T, D)])
def test_mha_query_width(shape):
    mha = MultiHeadAttention(D, H)
    with pytest.raises(ValueError, match=re.escape(f"d_model={D}")) as info:
        mha(torch.randn(shape))
    assert str(shape) in str(info.value)


def test_mha_heads_must_divide_d_model():
    with pytest.raises(ValueError, match=r"num_heads=3.*d_model=16"):
        MultiHeadAttention(16, 3)
    with pytest.raises(ValueError, match=r"num_kv_heads=3.*num_heads=4"):
        MultiHeadAttention(16, 4, num_kv_heads=3)


def test_mha_device_mismatch():
    mha = MultiHeadAttention(D, H)
    with pytest.raises(ValueError) as info:
        mha(torch.randn(B, T, D), torch.randn(B, T, D, device="meta"))
    message = str(info.value)
    assert "key" in message and "meta" in message and "cpu" in message


# ------------------------------------------------------------------ what masks promise


@pytest.mark.parametrize("positional", ["none", "rope", "alibi", "relative"])
def test_causal_stack_ignores_the_future(positional):
    """Perturbing token t+1 leaves outputs ≤ t unchanged (catches a flipped polarity)."""
    stack = TransformerStack(2, D, H, 32, causal=True, positional=positional, dropout=0.0)
    stack.eval()
    x = torch.randn(B, T, D)
    changed = x.clone()
    changed[:, 3] += 5.0
    with torch.no_grad():
        before, after = stack(x).hidden, stack(changed).hidden
    torch.testing.assert_close(after[:, :3], before[:, :3], atol=1e-6, rtol=0)
    assert (after[:, 3:] - before[:, 3:]).abs().max() > 1e-3


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("positional", ["none", "rope", "alibi", "relative"])
def test_padded_batch_equals_each_sequence_alone(causal, positional):
    stack = TransformerStack(2, D, H, 32, causal=causal, positional=positional, dropout=0.0)
    stack.eval()
    lengths = [T, 2, 4]
    x = torch.randn(len(lengths), T, D)
    real = padding_mask_from_lengths(torch.tensor(lengths), max_len=T)
    with torch.no_grad():
        batched = stack(x, padding_mask=real).hidden
        for b, n in enumerate(lengths):
            alone = stack(x[b : b + 1, :n]).hidden[0]
            torch.testing.assert_close(batched[b, :n], alone, atol=1e-5, rtol=0)
