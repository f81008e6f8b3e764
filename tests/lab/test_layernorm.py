"""``attnkit lab layernorm`` in quick mode: no norm, post-LN and pre-LN side by side."""

from __future__ import annotations

import math

import pytest
import torch

from attnkit.lab import layernorm, run_claim
from attnkit.lab.symbol_tasks import SymbolTask, make_transformer


def _well_formed(verdict, tmp_path, name):
    assert verdict.name == name and verdict.holds in (True, False, None)
    assert verdict.quick and verdict.rows
    assert all(len(row) == len(verdict.columns) for row in verdict.rows)
    numbers = [v for row in verdict.rows for v in row if isinstance(v, int | float)]
    assert numbers and all(math.isfinite(v) for v in numbers if isinstance(v, float))
    assert any(ch.isdigit() for ch in verdict.summary)
    assert (tmp_path / verdict.figure).read_bytes().startswith(b"\x89PNG")
    assert "**Verdict:" in (tmp_path / "verdict.md").read_text()


def test_quick_run_compares_the_three_placements(tmp_path):
    verdict = run_claim("layernorm", out=tmp_path, quick=True, seed=0)
    _well_formed(verdict, tmp_path, "layernorm")
    placements = [row[0].split(",")[0] for row in verdict.rows]
    # every rate without warm-up (post, pre), then with it (post, pre, bare stack)
    assert placements == ["post-LN", "pre-LN"] * 2 + ["post-LN", "pre-LN", "no norm"] * 2
    warm = [row[0].split(", ")[-1] for row in verdict.rows]
    assert warm == ["no warm-up"] * 4 + ["warm-up"] * 6
    assert [rule["arms"] for rule in verdict.rules] == [list(r.arms) for r in layernorm.rules()]
    assert all(len(v) == 2 for rule in verdict.rules for v in rule["values"].values())
    # each rule averages every seed over the rates: its mean is the mean of those rows' means
    rows = {row[0]: row for row in verdict.rows}
    for rule in verdict.rules:
        for arm, seeds in rule["values"].items():
            placement, warmup = arm.split(", ")[:2]
            per_rate = [
                row[2]
                for name, row in rows.items()
                if name.startswith(f"{placement}, lr") and name.endswith(f", {warmup}")
            ]
            assert len(per_rate) == len(layernorm.RATES)
            assert math.isclose(sum(seeds) / 2, sum(per_rate) / 2, abs_tol=2e-4)


def test_norm_none_removes_every_norm_and_post_ln_differs_from_pre_ln():
    task = SymbolTask("reverse", max_len=6)
    bare = make_transformer(task, seed=0, norm="none")
    assert not any(isinstance(m, torch.nn.LayerNorm) for m in bare.modules())
    batch = task.batch(4, torch.Generator().manual_seed(0))
    outputs = [
        make_transformer(task, seed=0, norm_first=first)(batch["src"], batch["tgt"])
        for first in (True, False)
    ]
    logits = [o.logits if hasattr(o, "logits") else o for o in outputs]
    assert not torch.allclose(logits[0], logits[1])


def test_layernorm_trains_without_gradient_clipping(monkeypatch, tmp_path):
    """Clipping is a stabiliser of its own; the claim is about what norm placement does
    without it, so the layernorm arms must not be clipped (the other claims are)."""
    from torch import nn

    from attnkit.lab import symbol_tasks

    clipped = []
    real = nn.utils.clip_grad_norm_
    monkeypatch.setattr(
        symbol_tasks.nn.utils, "clip_grad_norm_", lambda p, n: clipped.append(n) or real(p, n)
    )
    task = SymbolTask("reverse", max_len=6)
    model = make_transformer(task, seed=0, d_model=16, num_heads=2)
    symbol_tasks.train_model(model, task, steps=2, clip_norm=None)
    assert clipped == []
    symbol_tasks.train_model(model, task, steps=2)
    assert clipped == [1.0, 1.0]

    class Stop(Exception):
        pass

    def record(*args, clip_norm, **kwargs):
        clipped.append(("compare", clip_norm))
        raise Stop

    monkeypatch.setattr(layernorm, "compare", record)
    with pytest.raises(Stop):
        layernorm.run(out=tmp_path, quick=True)
    assert clipped[-1] == ("compare", None)
