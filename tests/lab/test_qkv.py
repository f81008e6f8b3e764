"""``attnkit lab qkv`` in quick mode: learned Q/K/V against the raw inputs."""

from __future__ import annotations

import math

import torch

from attnkit.lab import run_claim
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
    (learned, learned_params), (raw, raw_params) = ((r[0], r[1]) for r in verdict.rows)
    assert learned.startswith("learned") and raw.startswith("raw")
    assert raw_params < learned_params  # the ablation really drops the Q/K/V weights


def test_ablated_model_has_no_qkv_weights_and_attends_with_x_itself():
    model = make_transformer(SymbolTask("copy", max_len=6), seed=0, qkv_proj=False)
    names = [name for name, _ in model.named_parameters()]
    assert not any(part in name for name in names for part in ("q_proj", "k_proj", "v_proj"))
    attention = next(m for m in model.modules() if isinstance(m, MultiHeadAttention))
    x = torch.randn(1, 3, 64)
    assert torch.equal(attention.q_proj(x), x) and torch.equal(attention.v_proj(x), x)
