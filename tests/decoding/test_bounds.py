"""Decoding's bounds: a beam no wider than the vocabulary, n-best within the beam, and
batches sized to the memory budget — with the limit said in the message."""

from __future__ import annotations

import pytest

from attnkit.decoding.bounds import RowCost, available_memory, check_beam, fit_batch, memory_budget


def test_check_beam_accepts_what_decoding_can_use():
    check_beam(1, 1, 10)
    check_beam(10, 10, 10)


@pytest.mark.parametrize(
    ("beam", "n_best", "vocab", "message"),
    [
        (11, 1, 10, r"beam=11 is wider than the model's vocabulary \(10 tokens\).*beam=10 or less"),
        (10000, 1, 64, r"beam=10000 is wider"),
        (2, 3, 10, r"n_best=3 is more than beam=2: pass beam=3 or more"),
        (0, 1, 10, r"beam=0: pass a whole number >= 1"),
        (2, 0, 10, r"n_best=0: pass a whole number >= 1"),
        (True, 1, 10, r"beam=True"),
    ],
)
def test_check_beam_refuses_with_the_limit(beam, n_best, vocab, message):
    with pytest.raises(ValueError, match=message):
        check_beam(beam, n_best, vocab)


def test_row_cost_counts_logits_cache_and_ids():
    cost = RowCost(vocab_size=100, floats_per_token=64, fixed_floats=10)
    # 3 rows of logits + twice the cache per token (buffers double) + fixed, as float32,
    # and the ids as int64
    assert cost.bytes(0) == 4 * (300 + 10)
    assert cost.bytes(5) == 4 * (300 + 2 * 64 * 5 + 10) + 8 * 5


def test_fit_batch_shrinks_the_batch_to_the_budget():
    cost = RowCost(vocab_size=100, floats_per_token=64)
    per_item = 4 * cost.bytes(20)  # four beams
    assert fit_batch(32, beam=4, length=20, cost=cost, budget=10 * per_item) == 10
    assert fit_batch(8, beam=4, length=20, cost=cost, budget=10 * per_item) == 8
    assert fit_batch(32, beam=4, length=20, cost=cost, budget=per_item) == 1


def test_fit_batch_refuses_one_item_too_large_and_proposes_what_fits():
    cost = RowCost(vocab_size=1000, floats_per_token=512)
    budget = 10 * 1024**2
    with pytest.raises(ValueError) as error:
        fit_batch(32, beam=50, length=1000, cost=cost, budget=budget)
    message = str(error.value)
    assert message.startswith("decoding beam=50, max_new_tokens=1000 needs ~")
    assert "more than the 10 MiB it may use here" in message
    widest = int(message.split("pass beam=")[1].split()[0])
    longest = int(message.split("max_new_tokens=")[-1].split()[0])
    # each proposal fits on its own, one more does not
    assert widest * cost.bytes(1000) <= budget < (widest + 1) * cost.bytes(1000)
    assert 50 * cost.bytes(longest) <= budget < 50 * cost.bytes(longest + 1)


def test_fit_batch_counts_the_prompt_apart_from_new_tokens():
    cost = RowCost(vocab_size=10, floats_per_token=1000)
    budget = 1024**2
    with pytest.raises(ValueError, match=r"decoding max_new_tokens=999990 needs") as error:
        fit_batch(1, beam=1, length=1_000_000, cost=cost, length_offset=10, budget=budget)
    longest = int(str(error.value).split("max_new_tokens=")[-1].split()[0])
    assert cost.bytes(longest + 10) <= budget < cost.bytes(longest + 11)


def test_the_budget_is_half_the_available_memory_or_the_override(monkeypatch):
    monkeypatch.delenv("ATTNKIT_DECODING_MEMORY", raising=False)
    available = available_memory()
    assert available is None or available > 0
    if available is not None:
        assert abs(memory_budget() - available // 2) < 256 * 1024**2  # memory moves a little
    monkeypatch.setenv("ATTNKIT_DECODING_MEMORY", "12345")
    assert memory_budget() == 12345
