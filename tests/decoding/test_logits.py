"""Logits processors: exactly which tokens survive temperature, top-k and top-p."""

import math

import pytest
import torch

from attnkit.decoding import apply_temperature, check_sampling_args, top_k_filter, top_p_filter


def _logits(*probs):
    """One row of logits whose softmax is ``probs``."""
    return torch.tensor([probs]).log()


def _kept(logits):
    """Ids that survived a filter, per row."""
    return [torch.nonzero(row.isfinite()).flatten().tolist() for row in logits]


# ------------------------------------------------------------------ temperature


def test_temperature_divides_the_logits():
    logits = torch.tensor([[2.0, -1.0, 0.5]])
    torch.testing.assert_close(apply_temperature(logits, 0.5), logits * 2)
    torch.testing.assert_close(apply_temperature(logits, 1.0), logits)


def test_temperature_sharpens_and_flattens():
    logits = torch.tensor([[2.0, 1.0, 0.0]])
    entropy = [
        float(torch.special.entr(apply_temperature(logits, t).softmax(-1)).sum())
        for t in (0.25, 1.0, 4.0)
    ]
    assert entropy[0] < entropy[1] < entropy[2]


@pytest.mark.parametrize("temperature", [0.0, -0.5])
def test_temperature_must_be_positive(temperature):
    with pytest.raises(ValueError, match="temperature > 0"):
        apply_temperature(torch.zeros(1, 3), temperature)


# ------------------------------------------------------------------ top-k


def test_top_k_keeps_exactly_the_k_largest():
    logits = torch.tensor([[0.1, 3.0, -2.0, 2.5, 1.0], [5.0, 4.0, 3.0, 2.0, 1.0]])
    out = top_k_filter(logits, 2)
    assert _kept(out) == [[1, 3], [0, 1]]
    kept = out.isfinite()
    assert out[kept].equal(logits[kept])  # survivors unchanged
    assert (out[~kept] == -math.inf).all()


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_top_k_keeps_k_even_with_ties(k):
    logits = torch.tensor([[1.0, 2.0, 2.0, 2.0, 0.0]])
    kept = _kept(top_k_filter(logits, k))[0]
    assert len(kept) == k
    if k <= 3:
        assert set(kept) <= {1, 2, 3}  # only the tied largest
    else:
        assert set(kept) == {0, 1, 2, 3}


@pytest.mark.parametrize("k", [5, 6, 100])
def test_top_k_at_least_vocab_keeps_all(k):
    logits = torch.randn(3, 5)
    assert top_k_filter(logits, k).equal(logits)


def test_top_k_one_is_the_argmax_and_input_is_untouched():
    logits = torch.randn(4, 11, generator=torch.Generator().manual_seed(0))
    before = logits.clone()
    out = top_k_filter(logits, 1)
    assert logits.equal(before)
    assert out.isfinite().sum(-1).eq(1).all()
    assert out.argmax(-1).equal(logits.argmax(-1))


@pytest.mark.parametrize("k", [0, -1, 2.0, True])
def test_top_k_rejects_bad_k(k):
    with pytest.raises(ValueError, match="top_k must be an integer >= 1"):
        top_k_filter(torch.zeros(1, 3), k)


# ------------------------------------------------------------------ top-p (nucleus)


@pytest.mark.parametrize(
    "p, kept",
    [
        (1e-6, [0]),  # always at least the top token
        (0.5, [0]),  # the top token alone reaches 0.5 exactly
        (0.5001, [0, 1]),
        (0.6, [0, 1]),
        (0.75, [0, 1]),  # 0.5 + 0.25 reaches 0.75 exactly: no third token
        (0.76, [0, 1, 2]),
        (0.875, [0, 1, 2]),
        (0.9, [0, 1, 2, 3]),
        (1.0, [0, 1, 2, 3]),
    ],
)
def test_top_p_keeps_the_minimal_nucleus(p, kept):
    logits = _logits(0.5, 0.25, 0.125, 0.125)
    assert _kept(top_p_filter(logits, p)) == [kept]


def test_top_p_works_on_unsorted_ids():
    # probabilities 0.1, 0.4, 0.05, 0.3, 0.15 -> order 1, 3, 4, 0, 2
    logits = _logits(0.1, 0.4, 0.05, 0.3, 0.15)
    assert _kept(top_p_filter(logits, 0.3)) == [[1]]
    assert _kept(top_p_filter(logits, 0.7)) == [[1, 3]]
    assert _kept(top_p_filter(logits, 0.8)) == [[1, 3, 4]]
    assert _kept(top_p_filter(logits, 0.9)) == [[0, 1, 3, 4]]
    assert _kept(top_p_filter(logits, 0.99)) == [[0, 1, 2, 3, 4]]


@pytest.mark.parametrize(
    "weights, p, kept",
    [
        ([4, 3, 11, 16, 18], 18 / 52, [4]),
        ([17, 9, 2, 18, 1, 3], 0.94, [0, 1, 3, 5]),
        ([18, 13, 17], 35 / 48, [0, 2]),
    ],
)
def test_top_p_reaching_p_exactly_is_not_lost_to_rounding(weights, p, kept):
    # float32 softmax + cumsum land a hair below p here; the nucleus must still stop.
    logits = torch.tensor([weights], dtype=torch.float64).log()
    assert _kept(top_p_filter(logits, p)) == [kept]
    assert _kept(top_p_filter(logits.float(), p)) == [kept]


def test_top_p_tie_at_the_boundary_keeps_only_what_is_needed():
    # 0.4 then two tokens of 0.3: one of them reaches 0.5; the lower id wins the tie.
    logits = _logits(0.3, 0.4, 0.3)
    assert _kept(top_p_filter(logits, 0.5)) == [[0, 1]]
    assert _kept(top_p_filter(logits, 0.7)) == [[0, 1]]
    assert _kept(top_p_filter(logits, 0.71)) == [[0, 1, 2]]
    # a uniform row: p = 0.5 needs exactly half of the tokens
    assert _kept(top_p_filter(torch.zeros(1, 4), 0.5)) == [[0, 1]]


def test_top_p_rows_are_independent_and_survivors_unchanged():
    logits = torch.cat([_logits(0.5, 0.25, 0.125, 0.125), _logits(0.125, 0.125, 0.25, 0.5)])
    out = top_p_filter(logits, 0.6)
    assert _kept(out) == [[0, 1], [2, 3]]
    kept = out.isfinite()
    assert out[kept].equal(logits[kept])


def test_top_p_after_top_k_ignores_the_removed_tokens():
    logits = top_k_filter(_logits(0.4, 0.3, 0.2, 0.1), 2)  # renormalised: 4/7, 3/7
    assert _kept(top_p_filter(logits, 0.5)) == [[0]]
    assert _kept(top_p_filter(logits, 0.6)) == [[0, 1]]
    assert _kept(top_p_filter(logits, 1.0)) == [[0, 1]]


def test_top_p_nucleus_is_minimal_on_random_logits():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 50, generator=gen) * 2
    for p in (0.1, 0.5, 0.9, 0.99):
        out = top_p_filter(logits, p)
        probs = logits.softmax(-1)
        kept = out.isfinite()
        mass = (probs * kept).sum(-1)
        assert (mass >= p - 1e-5).all()
        # dropping the least likely survivor falls short of p
        least = probs.masked_fill(~kept, math.inf).min(-1).values
        assert (mass - least < p).all()
        # survivors are the most likely tokens
        assert (least >= probs.masked_fill(kept, -math.inf).max(-1).values).all()


@pytest.mark.parametrize("p", [0.0, -0.1, 1.5, math.nan])
def test_top_p_rejects_bad_p(p):
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\]"):
        top_p_filter(torch.zeros(1, 3), p)


# ------------------------------------------------------------------ argument checks


@pytest.mark.parametrize(
    "temperature, top_k, top_p",
    [(0.0, None, None), (1.0, 1, 1.0), (0.7, 40, 0.95), (2, 3, 1e-3)],
)
def test_check_sampling_args_accepts_valid_settings(temperature, top_k, top_p):
    check_sampling_args(temperature, top_k, top_p)


@pytest.mark.parametrize(
    "args, message",
    [
        ((-0.1, None, None), r"temperature must be >= 0 \(0 = greedy\), got -0.1"),
        ((math.inf, None, None), "temperature must be finite"),
        ((math.nan, None, None), "temperature must be finite"),
        (("hot", None, None), "temperature must be a number"),
        ((1.0, 0, None), r"top_k must be an integer >= 1 \(or None to disable\), got 0"),
        ((1.0, -3, None), "top_k must be an integer >= 1"),
        ((1.0, 2.5, None), "top_k must be an integer >= 1"),
        ((1.0, None, 0.0), r"top_p must be in \(0, 1\] \(or None to disable\), got 0.0"),
        ((1.0, None, 1.01), r"top_p must be in \(0, 1\]"),
        ((1.0, None, -0.5), r"top_p must be in \(0, 1\]"),
    ],
)
def test_check_sampling_args_rejects_bad_settings(args, message):
    with pytest.raises(ValueError, match=message) as error:
        check_sampling_args(*args)
    assert "\n" not in str(error.value)
