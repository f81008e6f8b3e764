"""``qkv_proj=False``: attention on the raw inputs (the ablation of the lab's ``qkv``
claim) — the inputs, split into heads, are the queries, keys and values."""

from __future__ import annotations

import math

import pytest
import torch

from attnkit.config import ConfigError, Seq2SeqConfig
from attnkit.models import Transformer
from attnkit.nn import MultiHeadAttention


def _reference(x: torch.Tensor, heads: int, out_proj: torch.nn.Linear) -> torch.Tensor:
    """softmax(x_h x_hᵀ / √Dh) x_h per head, heads concatenated, then ``out_proj``."""
    batch, length, width = x.shape
    xh = x.view(batch, length, heads, width // heads).transpose(1, 2)  # (B, H, T, Dh)
    weights = (xh @ xh.transpose(-1, -2) / math.sqrt(width // heads)).softmax(-1)
    out = (weights @ xh).transpose(1, 2).reshape(batch, length, width)  # (B, T, D)
    return out_proj(out)


@pytest.mark.parametrize("need_weights", [False, True])
def test_without_projections_attention_is_softmax_of_raw_inputs(need_weights):
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4, qkv_proj=False)
    names = {name for name, _ in mha.named_parameters()}
    assert names == {"out_proj.weight", "out_proj.bias"}
    x = torch.randn(2, 5, 16)
    got = mha(x, need_weights=need_weights).output
    torch.testing.assert_close(got, _reference(x, 4, mha.out_proj), atol=1e-6, rtol=1e-5)


def test_without_projections_the_inputs_must_already_have_the_model_width():
    with pytest.raises(ValueError, match=r"qkv_proj=False .* num_kv_heads = num_heads"):
        MultiHeadAttention(16, 4, num_kv_heads=2, qkv_proj=False)
    with pytest.raises(ValueError, match="key/value widths = d_model=16"):
        MultiHeadAttention(16, 4, key_dim=8, qkv_proj=False)


def test_config_flag_reaches_every_attention_module_and_validates():
    options = dict(src_vocab_size=11, tgt_vocab_size=11, d_model=16, num_heads=2, d_ff=32)
    with_proj = Transformer(Seq2SeqConfig(**options))
    without = Transformer(Seq2SeqConfig(**options, qkv_proj=False))
    attentions = [m for m in without.modules() if isinstance(m, MultiHeadAttention)]
    assert attentions and all(isinstance(m.q_proj, torch.nn.Identity) for m in attentions)
    removed = sum(p.numel() for p in with_proj.parameters()) - sum(
        p.numel() for p in without.parameters()
    )
    assert removed == len(attentions) * 3 * (16 * 16 + 16)
    src, tgt = torch.randint(3, 11, (2, 6)), torch.randint(3, 11, (2, 4))
    assert without(src, tgt).logits.shape == (2, 4, 11)
    with pytest.raises(
        ConfigError, match=r"model\.qkv_proj=false .* model\.num_kv_heads must equal"
    ):
        Seq2SeqConfig(**options, qkv_proj=False, num_kv_heads=1)
