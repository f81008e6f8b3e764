"""Query rows sharing key rows (the beams of a sentence sharing its source): the result
must equal attending over one copy of the keys per query row."""

from __future__ import annotations

import pytest
import torch

from attnkit.nn import KVCache, MultiHeadAttention
from attnkit.nn.attention import attend
from attnkit.nn.scores import make_score

SENTENCES, BEAMS, KEYS, WIDTH = 3, 4, 6, 8


def _repeat(x: torch.Tensor) -> torch.Tensor:
    return x.repeat_interleave(BEAMS, dim=0)


@pytest.mark.parametrize("score", ["scaled_dot", "dot", "general", "additive"])
@pytest.mark.parametrize("queries", [1, 3])
@pytest.mark.parametrize("kv_heads", [4, 2])
def test_attend_with_shared_rows_equals_repeated_keys(score, queries, kv_heads):
    torch.manual_seed(0)
    function = make_score(score, WIDTH, num_heads=4)
    q = torch.randn(SENTENCES * BEAMS, 4, queries, WIDTH)
    k = torch.randn(SENTENCES, kv_heads, KEYS, WIDTH)
    v = torch.randn(SENTENCES, kv_heads, KEYS, WIDTH)
    mask = torch.ones(SENTENCES, 1, 1, KEYS, dtype=torch.bool)
    mask[1, ..., 4:] = False  # a padded source
    for need_weights in (False, True):
        out, weights = attend(q, k, v, score=function, attn_mask=mask, need_weights=need_weights)
        expected, expected_weights = attend(
            q,
            _repeat(k),
            _repeat(v),
            score=function,
            attn_mask=_repeat(mask),
            need_weights=need_weights,
        )
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
        if need_weights:
            assert weights.shape == (SENTENCES * BEAMS, 4, queries, KEYS)
            torch.testing.assert_close(weights, expected_weights, atol=1e-6, rtol=1e-5)
            assert weights[BEAMS : 2 * BEAMS, ..., 4:].abs().max() == 0  # padding unseen


def test_attend_refuses_rows_that_do_not_divide_or_per_query_terms():
    score = make_score("scaled_dot", WIDTH)
    q, k = torch.randn(6, 2, 1, WIDTH), torch.randn(4, 2, 3, WIDTH)
    with pytest.raises(ValueError, match="divisor"):
        attend(q, k, k, score=score)
    k = torch.randn(3, 2, 3, WIDTH)
    with pytest.raises(ValueError, match="causal"):
        attend(q, k, k, score=score, is_causal=True)
    with pytest.raises(ValueError, match="position bias"):
        attend(q, k, k, score=score, bias=torch.zeros(1, 2, 1, 3))


def test_cross_attention_module_shares_memory_rows_with_and_without_cache():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4, key_dim=12, value_dim=12).eval()
    x = torch.randn(SENTENCES * BEAMS, 1, 16)
    memory = torch.randn(SENTENCES, KEYS, 12)
    padding = torch.ones(SENTENCES, KEYS, dtype=torch.bool)
    padding[2, 3:] = False
    expected = mha(x, _repeat(memory), key_padding_mask=_repeat(padding)).output
    plain = mha(x, memory, key_padding_mask=padding).output
    torch.testing.assert_close(plain, expected, atol=1e-5, rtol=1e-5)
    cache = KVCache()
    for _ in range(2):  # the first call stores the memory's keys, the second reads them
        cached = mha(x, memory, key_padding_mask=padding, cache=cache).output
        torch.testing.assert_close(cached, expected, atol=1e-5, rtol=1e-5)
    assert cache.keys.shape[0] == SENTENCES
