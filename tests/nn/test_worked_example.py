"""The lecture notes' worked example: attention as a soft key–value lookup.

Three words with keys K (d_k = 3) and values V; the query equals the key of the second
word, so scaled dot-product attention returns (almost) the second value. The numbers are
those of ``attnkit demo``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from attnkit.nn import Attention, ScaledDotScore, attend

WORDS = ("la", "casa", "roja")
KEYS = np.array([[2.0, 1.0, 0.0], [0.0, 4.0, 0.0], [0.0, 1.0, 2.0]])  # (3, d_k = 3)
VALUES = np.array([[1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 5.0, 1.0], [3.0, 0.0, 0.0, 4.0]])
QUERY = KEYS[1]


def by_hand() -> tuple[np.ndarray, np.ndarray]:
    scores = KEYS @ QUERY / math.sqrt(3)  # q·Kᵀ/√d_k = [4, 16, 4]/√3
    weights = np.exp(scores - scores.max())
    weights /= weights.sum()
    return weights, weights @ VALUES


def test_hand_computation_is_what_the_notes_say():
    weights, output = by_hand()
    np.testing.assert_allclose(KEYS @ QUERY, [4.0, 16.0, 4.0])
    assert weights[1] > 0.99
    np.testing.assert_allclose(weights[0], weights[2])  # equally bad matches
    np.testing.assert_allclose(output, VALUES[1], atol=0.02)


@pytest.mark.parametrize("need_weights", [True, False])
def test_attention_module(need_weights):
    keys = torch.tensor(KEYS, dtype=torch.float32).unsqueeze(0)  # (1, 3, 3)
    values = torch.tensor(VALUES, dtype=torch.float32).unsqueeze(0)  # (1, 3, 4)
    query = keys[:, 1]  # (1, 3): one query, as an RNN decoder state
    attn = Attention("scaled_dot", query_dim=3)
    result = attn(query, keys, values, need_weights=True)
    weights = result.weights[0].numpy()
    shown = {word: round(float(w), 4) for word, w in zip(WORDS, weights, strict=True)}
    print("\nworked example weights:", shown)
    print("worked example output: ", [round(float(x), 4) for x in result.output[0]])
    expected_weights, expected_output = by_hand()
    assert weights.shape == (3,)
    assert weights[1] > 0.99
    assert weights.argmax() == 1
    np.testing.assert_allclose(weights, expected_weights, atol=1e-6)
    np.testing.assert_allclose(result.output[0].numpy(), expected_output, atol=1e-6)
    # fused path (no weights requested) gives the same output
    fused = attn(query, keys, values, need_weights=need_weights)
    np.testing.assert_allclose(fused.output[0].numpy(), expected_output, atol=1e-6)


def test_attend(capsys):
    q = torch.tensor(QUERY, dtype=torch.float32).view(1, 1, 1, 3)  # (B, H, Tq, Dk)
    k = torch.tensor(KEYS, dtype=torch.float32).view(1, 1, 3, 3)
    v = torch.tensor(VALUES, dtype=torch.float32).view(1, 1, 3, 4)
    out, weights = attend(q, k, v, score=ScaledDotScore(), need_weights=True)
    print("attend weights:", weights.flatten().tolist())
    assert "attend weights:" in capsys.readouterr().out
    expected_weights, expected_output = by_hand()
    np.testing.assert_allclose(weights.flatten().numpy(), expected_weights, atol=1e-6)
    np.testing.assert_allclose(out.flatten().numpy(), expected_output, atol=1e-6)
    assert weights.flatten()[1] > 0.99
    fused, _ = attend(q, k, v, score=ScaledDotScore())
    np.testing.assert_allclose(fused.flatten().numpy(), expected_output, atol=1e-6)
