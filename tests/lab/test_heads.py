"""``attnkit lab heads`` in quick mode: a verdict with numbers and a figure."""

from __future__ import annotations

import math

from attnkit.lab import run_claim
from attnkit.lab.report import read_verdict


def _check_well_formed(verdict, name, out):
    assert verdict.name == name and verdict.holds in (True, False, None)
    assert verdict.quick and verdict.title and verdict.claim
    assert verdict.rows and all(len(row) == len(verdict.columns) for row in verdict.rows)
    numbers = [v for row in verdict.rows for v in row if isinstance(v, int | float)]
    assert numbers and all(math.isfinite(v) for v in numbers)
    assert any(ch.isdigit() for ch in verdict.summary)
    assert (out / verdict.figure).read_bytes().startswith(b"\x89PNG")
    assert read_verdict(out) == verdict


def test_quick_run_compares_head_counts_at_equal_parameters(tmp_path):
    verdict = run_claim("heads", out=tmp_path, quick=True, seed=0)
    _check_well_formed(verdict, "heads", tmp_path)
    assert verdict.rows[0][0] == "1 head" and len(verdict.rows) >= 2
    params = {row[1] for row in verdict.rows}
    assert len(params) == 1  # equal width, equal parameter count
    assert all(0 <= row[2] <= 1 for row in verdict.rows)
