"""``attnkit lab qkv`` in quick mode: learned Q/K/V against the raw inputs."""

from __future__ import annotations

import math

import torch

from attnkit.lab import qkv, run_claim
from attnkit.lab.symbol_tasks import SymbolTask, make_transformer
from attnkit.nn import MultiHeadAttention


def _well_formed(verdict, tmp_path, name):
    assert verdict.name == name and verdict.holds in (True, False, None)
    assert verdict.quick and verdict.rows
    assert all(len(row) == len(verdict.columns) for row in verdict.rows)
    numbers = [v for row in verdict.rows for v in row if isinstance(v, int | float)]
    assert numbers and all(math.isfinite(v) for v in numbers if isinstance(v, float))
    assert any(ch.isdigit() for ch in verdict.summary)
    assert (tmp_path / verdict.figure).read_bytes().startswith(b"\x89PNG")
    assert "**Verdict:" in (tmp_path / "verdict.md").read_text()


def test_quick_run_compares_learned_and_raw_projections(tmp_path):
    verdict = run_claim("qkv", out=tmp_path, quick=True, seed=0)
    _well_formed(verdict, tmp_path, "qkv")
    names = [row[0] for row in verdict.rows]
    assert names == [f"{panel}: {arm}" for panel in ("1 layer", "2+2 layers") for arm in qkv.ARMS]
    params = [row[1] for row in verdict.rows]
    assert params[1] < params[0] and params[3] < params[2]  # the ablation drops Q/K/V weights
    assert verdict.rules[0]["arms"] == list(qkv.ARMS) and len(verdict.rules) == 2
    assert len(verdict.rules[0]["values"][qkv.ARMS[0]]) == 2  # quick: two seeds per arm


def test_raw_single_layer_scores_each_position_highest_against_itself():
    """The claim's mechanism: with Q = K = x the score matrix is a Gram matrix, so no
    position can prefer its mirror over itself on both sides of the pair."""
    torch.manual_seed(0)
    model = qkv.SingleLayer(qkv_proj=False)
    tokens, targets = qkv.mirror_batch(16, torch.Generator().manual_seed(1))
    assert torch.equal(targets, tokens.flip(1))
    x = model.token_embedding(tokens) + model.position_embedding(torch.arange(qkv.LENGTH))
    scores = x @ x.transpose(1, 2)  # (B, T, T)
    mirror = torch.arange(qkv.LENGTH).flip(0)
    own = scores.diagonal(dim1=1, dim2=2)  # (B, T)
    partner = scores[:, torch.arange(qkv.LENGTH), mirror]  # (B, T)
    both_prefer_partner = (partner > own) & (partner > own[:, mirror])
    assert not both_prefer_partner.any()
    assert model(tokens).shape == (16, qkv.LENGTH, qkv.SYMBOLS)


def test_ablated_model_has_no_qkv_weights_and_attends_with_x_itself():
    model = make_transformer(SymbolTask("copy", max_len=6), seed=0, qkv_proj=False)
    names = [name for name, _ in model.named_parameters()]
    assert not any(part in name for name in names for part in ("q_proj", "k_proj", "v_proj"))
    attention = next(m for m in model.modules() if isinstance(m, MultiHeadAttention))
    x = torch.randn(1, 3, 64)
    assert torch.equal(attention.q_proj(x), x) and torch.equal(attention.v_proj(x), x)
