"""``attnkit lab layernorm`` in quick mode: no norm, post-LN and pre-LN side by side."""

from __future__ import annotations

import math

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
    assert placements == ["post-LN", "pre-LN", "post-LN", "pre-LN", "no norm"]
    assert {"no warm-up", "warm-up"} == {row[0].split(", ")[-1] for row in verdict.rows}
    assert [rule["arms"] for rule in verdict.rules] == [
        [rule.arms[0], rule.arms[1]] for rule in layernorm.rules(rates=(3e-3,))
    ]
    assert all(len(v) == 2 for rule in verdict.rules for v in rule["values"].values())


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
