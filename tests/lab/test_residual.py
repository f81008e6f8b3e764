"""``attnkit lab residual`` in quick mode: the same stack with and without residuals."""

from __future__ import annotations

import math

import torch

from attnkit.lab import run_claim
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


def test_quick_run_compares_with_and_without_residuals(tmp_path):
    verdict = run_claim("residual", out=tmp_path, quick=True, seed=0)
    _well_formed(verdict, tmp_path, "residual")
    names = [row[0] for row in verdict.rows]
    assert len(names) == 2 and names[0].startswith("residual") and "no residual" in names[1]
    assert verdict.rows[0][1] == verdict.rows[1][1]  # same parameter count


def test_without_residuals_the_output_no_longer_contains_the_input_path():
    task = SymbolTask("reverse", max_len=6)
    batch = task.batch(4, torch.Generator().manual_seed(0))
    with_res, without = (
        make_transformer(task, seed=0, residual=flag)(batch["src"], batch["tgt"])
        for flag in (True, False)
    )
    logits = [o.logits if hasattr(o, "logits") else o for o in (with_res, without)]
    assert not torch.allclose(logits[0], logits[1])
