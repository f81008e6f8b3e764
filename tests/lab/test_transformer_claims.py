"""Claims 1–9 and 15 run end to end in quick mode and write well-formed verdicts; the
measurements that need no training already show what the notes say."""

from __future__ import annotations

import json
import math

import pytest
import torch

from attnkit.lab import run_claim
from attnkit.lab.permutation import equivariance_error
from attnkit.lab.qkv import without_projections
from attnkit.lab.scaling import measure
from attnkit.lab.symbol_tasks import SymbolTask, make_transformer
from attnkit.nn import MultiHeadAttention

CLAIMS = [
    "scaling", "permutation", "positions", "masking", "heads", "layernorm", "residual",
    "qkv", "alignment", "path-length",
]  # fmt: skip


@pytest.mark.parametrize("name", CLAIMS)
def test_quick_run_writes_a_verdict_with_numbers_and_a_figure(name, tmp_path):
    verdict = run_claim(name, out=tmp_path, quick=True, seed=0)
    assert verdict.name == name and verdict.holds in (True, False, None)
    assert verdict.quick and verdict.seconds < 60
    assert verdict.rows and all(len(row) == len(verdict.columns) for row in verdict.rows)
    numbers = [v for row in verdict.rows for v in row if isinstance(v, int | float)]
    assert numbers and all(not isinstance(v, float) or not math.isinf(v) for v in numbers)
    assert any(ch.isdigit() for ch in verdict.summary)
    assert (tmp_path / verdict.figure).read_bytes().startswith(b"\x89PNG")
    data = json.loads((tmp_path / "verdict.json").read_text())
    assert data["name"] == name and data["quick"] is True
    assert "**Verdict:" in (tmp_path / "verdict.md").read_text()


def test_unscaled_softmax_peaks_and_its_gradient_fades_as_width_grows():
    generator = torch.Generator().manual_seed(0)
    raw_small, raw_big = (measure(d, scaled=False, generator=generator) for d in (16, 1024))
    scaled_big = measure(1024, scaled=True, generator=generator)
    assert raw_big["score_std"] > 5 * raw_small["score_std"]  # grows like √d
    assert raw_big["max_weight"] > 0.9 > 0.5 > scaled_big["max_weight"]
    assert raw_big["grad"] < 0.5 * scaled_big["grad"]


def test_only_the_model_without_positions_is_permutation_equivariant():
    task = SymbolTask("reverse", max_len=8)
    assert equivariance_error("none", task, seed=0) < 1e-4
    for scheme in ("sinusoidal", "learned", "relative", "rope", "alibi"):
        assert equivariance_error(scheme, task, seed=0) > 1e-3, scheme


def test_raw_qkv_ablation_leaves_the_output_projection_and_uses_inputs_as_is():
    model = without_projections(make_transformer(SymbolTask("copy", max_len=6), seed=0))
    attention = next(m for m in model.modules() if isinstance(m, MultiHeadAttention))
    assert isinstance(attention.q_proj, torch.nn.Identity)
    assert not isinstance(attention.out_proj, torch.nn.Identity)
    x = torch.randn(1, 3, 64)
    assert torch.equal(attention.q_proj(x), x)
