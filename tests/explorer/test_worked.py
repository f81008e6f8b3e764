"""The worked example recomputes attention from a module's own projections: it equals
the weights the module returns for every score, with grouped heads, rotary positions, a
bias and masks; and the family function that feeds the explorer returns the model's maps."""

from __future__ import annotations

import pytest
import torch

from attnkit.explorer.worked import capture_inputs, explain_head
from attnkit.families.language_model import self_attention_maps
from attnkit.nn.attention import MultiHeadAttention
from attnkit.nn.positional import RotaryEmbedding


@pytest.mark.parametrize("score", ["scaled_dot", "dot", "general", "additive"])
@pytest.mark.parametrize("kv_heads", [4, 2])
def test_explain_head_equals_the_modules_weights(score, kv_heads):
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4, num_kv_heads=kv_heads, score=score).eval()
    x = torch.randn(1, 6, 16)
    bias = torch.randn(1, 4, 6, 6)
    keep = torch.ones(6, 6, dtype=torch.bool)
    keep[:, 1] = False  # key 1 hidden from everyone
    args, kwargs, out = capture_inputs(
        mha,
        lambda: mha(x, attn_mask=keep, is_causal=True, position_bias=bias, need_weights=True),
    )
    for head in range(4):
        for query in range(6):
            example = explain_head(mha, args, kwargs, head=head, query=query)
            weights = torch.tensor(example["weights"])
            assert torch.allclose(weights, out.weights[0, head, query], atol=1e-6)
            assert example["mask"] == [j <= query and j != 1 for j in range(6)]
    # the output is the weighted sum of the head's values
    v = torch.tensor(example["v"])
    assert torch.allclose(torch.tensor(example["output"]), weights @ v, atol=1e-6)


def test_explain_head_with_rotary_positions_and_cross_attention():
    torch.manual_seed(1)
    mha = MultiHeadAttention(16, 2).eval()
    rotary = RotaryEmbedding(8)(torch.arange(5)[None])
    x = torch.randn(1, 5, 16)
    args, kwargs, out = capture_inputs(mha, lambda: mha(x, rotary=rotary, need_weights=True))
    example = explain_head(mha, args, kwargs, head=1, query=3)
    assert torch.allclose(torch.tensor(example["weights"]), out.weights[0, 1, 3], atol=1e-6)
    memory = torch.randn(1, 7, 16)
    args, kwargs, out = capture_inputs(mha, lambda: mha(x, memory, need_weights=True))
    example = explain_head(mha, args, kwargs, head=0, query=4)
    assert len(example["k"]) == 7 and all(example["mask"])
    assert torch.allclose(torch.tensor(example["weights"]), out.weights[0, 0, 4], atol=1e-6)


def test_self_attention_maps_are_the_models(tiny_runs):
    from attnkit.api import load_run

    run = load_run(tiny_runs["lm"])
    ids, labels, maps = self_attention_maps(run, "ROMEO", stack="decoder")
    assert labels == list("ROMEO") and ids == run.tokenizer.encode("ROMEO")
    with torch.no_grad():
        expected = run.model(torch.tensor([ids]), need_weights=True).attentions.decoder
    assert torch.equal(maps, torch.stack(expected)[:, 0])
    with pytest.raises(ValueError, match="text=''"):
        self_attention_maps(run, "", stack="decoder")
