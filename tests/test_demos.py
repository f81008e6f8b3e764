"""The high-level API: the worked example and the phrase translator it trains."""

import math

import pytest
import torch

from attnkit.demos import train_phrase_translator, worked_example


def test_worked_example_returns_the_matching_value():
    ex = worked_example()
    d_k = ex.keys.shape[-1]
    expected = torch.softmax(ex.keys @ ex.query / math.sqrt(d_k), dim=-1)
    torch.testing.assert_close(ex.weights, expected, atol=1e-6, rtol=0)
    assert ex.weights.argmax().item() == ex.query_index
    assert ex.weights[ex.query_index] > 0.99
    torch.testing.assert_close(ex.output, ex.values[ex.query_index], atol=0.02, rtol=0)
    # every word querying with its own key: rows sum to 1, the diagonal-matched row is peaked
    torch.testing.assert_close(ex.self_lookup.sum(-1), torch.ones(3), atol=1e-6, rtol=0)


@pytest.fixture(scope="module")
def translator():
    return train_phrase_translator(steps=400, seed=0)


def test_translator_learns_and_generalises(translator):
    assert translator.losses[-1] < 0.1 * translator.losses[0]
    assert translator.accuracy(translator.test_pairs) >= 0.9
    assert translator.translate(["la casa roja"]) == ["the red house"]


def test_cross_attention_shows_the_reordering(translator):
    maps = translator.cross_attention("la casa roja", "the red house")  # (L, H, T+1, S+1)
    assert maps.shape[-2:] == (4, 4)
    last = maps[-1].mean(0)  # rows produce: the, red, house, <eos>; cols: la casa roja <eos>
    source = ["la", "casa", "roja", "<eos>"]
    assert source[last[1].argmax()] == "roja"  # producing "red" looks at "roja"
    assert source[last[2].argmax()] == "casa"  # producing "house" looks at "casa"
    torch.testing.assert_close(maps.sum(-1), torch.ones(maps.shape[:-1]), atol=1e-5, rtol=0)
