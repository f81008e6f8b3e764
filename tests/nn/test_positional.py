"""Positional schemes against their papers' formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from attnkit.nn import (
    ALiBiBias,
    InputEmbedding,
    LearnedPositionEmbedding,
    RelativePositionBias,
    RotaryEmbedding,
    SinusoidalEncoding,
    TransformerStack,
    apply_rotary,
    make_positions,
)

# ------------------------------------------------------------------ sinusoidal


def paper_sinusoids(positions: np.ndarray, dim: int) -> np.ndarray:
    """Vaswani et al. 2017, §3.5: PE(p, 2i) = sin(p / 10000^(2i/d)), PE(p, 2i+1) = cos(…)."""
    pe = np.zeros((len(positions), dim))
    for row, p in enumerate(positions):
        for c in range(dim):
            two_i = c - c % 2
            angle = p / 10000 ** (two_i / dim)
            pe[row, c] = math.sin(angle) if c % 2 == 0 else math.cos(angle)
    return pe


@pytest.mark.parametrize("dim", [8, 7, 16])
def test_sinusoidal_matches_paper(dim):
    positions = torch.arange(50).unsqueeze(0)
    pe = SinusoidalEncoding(dim)(positions)
    assert pe.shape == (1, 50, dim)
    np.testing.assert_allclose(pe[0].numpy(), paper_sinusoids(np.arange(50), dim), atol=1e-5)


def test_sinusoidal_extends_to_any_length():
    enc = SinusoidalEncoding(8)
    positions = torch.tensor([[5000, 20000, 10**6]])
    pe = enc(positions)
    assert pe.shape == (1, 3, 8)
    assert torch.isfinite(pe).all() and pe.abs().max() <= 1.0
    np.testing.assert_allclose(pe[0, :1].numpy(), paper_sinusoids(np.array([5000]), 8), atol=2e-3)
    # batched, per-sequence positions
    batched = enc(torch.tensor([[0, 1], [7, 8]]))
    torch.testing.assert_close(batched[1, 0], enc(torch.tensor([[7]]))[0, 0])


# ------------------------------------------------------------------ learned


def test_learned_too_long_raises_naming_max_len():
    table = LearnedPositionEmbedding(10, 4)
    assert table(torch.arange(10).unsqueeze(0)).shape == (1, 10, 4)
    with pytest.raises(ValueError) as info:
        table(torch.arange(11).unsqueeze(0))
    message = str(info.value)
    assert "max_len=10" in message and "11" in message


def test_learned_too_long_through_input_embedding():
    embed = InputEmbedding(20, 8, positional="learned", max_len=6)
    tokens = torch.ones(1, 7, dtype=torch.long)
    with pytest.raises(ValueError, match="max_len"):
        embed(tokens, make_positions(7))


def test_learned_looks_up_rows():
    table = LearnedPositionEmbedding(10, 4)
    out = table(torch.tensor([[3, 0, 9]]))
    torch.testing.assert_close(out[0], table.weight[[3, 0, 9]])


# ------------------------------------------------------------------ rotary


def rotate(x: torch.Tensor, position: int, rope: RotaryEmbedding) -> torch.Tensor:
    cos, sin = rope(torch.tensor([[position]]))  # (1, 1, 1, Dh)
    return apply_rotary(x, cos, sin)


def test_rotary_score_depends_on_offset_only():
    rope = RotaryEmbedding(8)
    q = torch.nn.functional.normalize(torch.randn(1, 1, 1, 8), dim=-1)
    k = torch.nn.functional.normalize(torch.randn(1, 1, 1, 8), dim=-1)

    def score(pq: int, pk: int) -> float:
        return float((rotate(q, pq, rope) * rotate(k, pk, rope)).sum())

    for pq, pk in [(3, 1), (0, 5), (7, 7), (2, 9)]:
        for shift in (1, 6, 17):
            assert score(pq + shift, pk + shift) == pytest.approx(score(pq, pk), abs=1e-5)
    # but it does depend on the offset
    assert abs(score(3, 1) - score(3, 2)) > 1e-3


def test_rotary_is_a_rotation():
    rope = RotaryEmbedding(8)
    x = torch.randn(2, 3, 5, 8)
    cos, sin = rope(torch.arange(5).unsqueeze(0))
    assert cos.shape == sin.shape == (1, 1, 5, 8)
    rotated = apply_rotary(x, cos, sin)
    torch.testing.assert_close(rotated.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(rotated[:, :, 0], x[:, :, 0])  # position 0: identity
    assert (rotated[:, :, 1:] - x[:, :, 1:]).abs().max() > 1e-2


def test_rotary_needs_even_head_dim():
    with pytest.raises(ValueError, match="even"):
        RotaryEmbedding(7)


# ------------------------------------------------------------------ ALiBi


def paper_slopes(n: int) -> list[float]:
    """``get_slopes`` from the ALiBi authors' code (Press et al. 2022)."""

    def power_of_2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(n).is_integer():
        return power_of_2(n)
    closest = 2 ** math.floor(math.log2(n))
    return power_of_2(closest) + paper_slopes(2 * closest)[0::2][: n - closest]


def test_alibi_slopes_eight_heads():
    slopes = ALiBiBias(8).slopes
    torch.testing.assert_close(slopes, torch.tensor([2.0**-i for i in range(1, 9)]))


@pytest.mark.parametrize("heads", [6, 12, 3, 16])
def test_alibi_slopes_paper_recipe(heads):
    torch.testing.assert_close(ALiBiBias(heads).slopes, torch.tensor(paper_slopes(heads)))


def test_alibi_slopes_six_heads_values():
    assert ALiBiBias(6).slopes.tolist() == [2**-2, 2**-4, 2**-6, 2**-8, 2**-1, 2**-3]


def test_alibi_bias():
    alibi = ALiBiBias(4)
    positions = torch.arange(5).unsqueeze(0)
    bias = alibi(positions, positions)
    assert bias.shape == (1, 4, 5, 5)
    for h, slope in enumerate(alibi.slopes.tolist()):
        for i in range(5):
            for j in range(5):
                assert bias[0, h, i, j].item() == pytest.approx(-slope * abs(i - j))
    # a cached step: query at position 4 over keys 0..4 is the last row
    step = alibi(torch.tensor([[4]]), positions)
    torch.testing.assert_close(step[0, :, 0], bias[0, :, 4])


# ------------------------------------------------------------------ relative (T5)


def t5_bucket(relative, bidirectional=True, num_buckets=32, max_distance=128):
    """Hugging Face's ``T5Attention._relative_position_bucket`` (the reference)."""
    relative_buckets = 0
    if bidirectional:
        num_buckets //= 2
        relative_buckets += (relative > 0).to(torch.long) * num_buckets
        relative = torch.abs(relative)
    else:
        relative = -torch.min(relative, torch.zeros_like(relative))
    max_exact = num_buckets // 2
    is_small = relative < max_exact
    if_large = max_exact + (
        torch.log(relative.float() / max_exact)
        / math.log(max_distance / max_exact)
        * (num_buckets - max_exact)
    ).to(torch.long)
    if_large = torch.min(if_large, torch.full_like(if_large, num_buckets - 1))
    return relative_buckets + torch.where(is_small, relative, if_large)


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize(("num_buckets", "max_distance"), [(32, 128), (8, 20)])
def test_relative_bucket_matches_t5(bidirectional, num_buckets, max_distance):
    rpb = RelativePositionBias(
        2, num_buckets=num_buckets, max_distance=max_distance, bidirectional=bidirectional
    )
    relative = torch.arange(-300, 301)
    assert torch.equal(
        rpb.bucket(relative), t5_bucket(relative, bidirectional, num_buckets, max_distance)
    )


def test_relative_bucket_properties():
    rpb = RelativePositionBias(2, num_buckets=32, max_distance=128, bidirectional=True)
    distance = torch.arange(0, 500)
    past = rpb.bucket(-distance)  # key before the query
    future = rpb.bucket(distance)  # key after the query
    max_exact = 8  # (32 // 2) // 2
    assert past[:max_exact].tolist() == list(range(max_exact))  # exact small distances
    assert future[1:max_exact].tolist() == [16 + d for d in range(1, max_exact)]  # sign split
    assert set(past.tolist()).isdisjoint(set(future[1:].tolist()))
    assert (past.diff() >= 0).all() and (future[1:].diff() >= 0).all()  # monotone in |d|
    assert past.max() == 15 and future.max() == 31  # capped
    assert past[-1] == 15 and future[-1] == 31  # far distances share the last bucket

    causal = RelativePositionBias(2, num_buckets=32, max_distance=128, bidirectional=False)
    past = causal.bucket(-distance)
    assert past[:16].tolist() == list(range(16))
    assert (past.diff() >= 0).all() and past.max() == 31
    assert (causal.bucket(distance) == 0).all()  # the future shares bucket 0


def test_relative_bias_shape_and_values():
    rpb = RelativePositionBias(3, num_buckets=8, max_distance=16)
    q_pos = torch.tensor([[0, 1, 2], [4, 5, 6]])
    k_pos = torch.tensor([[0, 1, 2, 3], [0, 1, 2, 3]])
    bias = rpb(q_pos, k_pos)
    assert bias.shape == (2, 3, 3, 4)
    for b in range(2):
        for i in range(3):
            for j in range(4):
                bucket = rpb.bucket(k_pos[b, j] - q_pos[b, i])
                torch.testing.assert_close(bias[b, :, i, j], rpb.bias.weight[bucket])
    assert rpb(torch.arange(3)[None], torch.arange(4)[None]).shape == (1, 3, 3, 4)


# ------------------------------------------------------------------ make_positions


def test_make_positions_plain():
    assert make_positions(4).tolist() == [[0, 1, 2, 3]]
    assert make_positions(2, start=5).tolist() == [[5, 6]]
    assert make_positions(2, start=torch.tensor([3, 5])).tolist() == [[3, 4], [5, 6]]


def test_make_positions_left_padding_counts_real_tokens():
    real = torch.tensor([[False, False, True, True, True], [True] * 5])
    assert make_positions(5, padding_mask=real).tolist() == [
        [0, 0, 0, 1, 2],
        [0, 1, 2, 3, 4],
    ]
    right = torch.tensor([[True, True, True, False, False]])
    assert make_positions(5, padding_mask=right).tolist() == [[0, 1, 2, 0, 0]]


def test_make_positions_with_start_tensor_and_padding():
    real = torch.tensor([[False, False, True, True, True], [True] * 5])
    positions = make_positions(5, padding_mask=real, start=torch.tensor([3, 5]))
    assert positions.tolist() == [[0, 0, 3, 4, 5], [5, 6, 7, 8, 9]]
    assert make_positions(2, padding_mask=torch.ones(1, 2, dtype=torch.bool), start=4).tolist() == [
        [4, 5]
    ]


@pytest.mark.parametrize("causal", [False, True])
def test_stack_relative_bias_direction(causal):
    """Decoders (causal) use one-sided buckets, as T5's decoder does; encoders two-sided."""
    stack = TransformerStack(1, 8, 2, 16, causal=causal, positional="relative", dropout=0.0)
    assert stack.position_bias.bidirectional is (not causal)
