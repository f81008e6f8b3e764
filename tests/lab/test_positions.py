"""``attnkit lab positions`` in quick mode: a verdict with numbers and a figure."""

from __future__ import annotations

import math

from attnkit.lab import positions, run_claim
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


def test_quick_run_scores_added_and_concatenated_schemes_by_length(tmp_path):
    verdict = run_claim("positions", out=tmp_path, quick=True, seed=0)
    _check_well_formed(verdict, "positions", tmp_path)
    names = [row[0] for row in verdict.rows]
    assert set(names) <= set(positions.VARIANTS)
    assert any("(add)" in n for n in names) and any("(concat)" in n for n in names)
    assert verdict.columns[0] == "scheme" and len(verdict.columns) >= 3  # in and beyond
    assert all(0 <= v <= 1 for row in verdict.rows for v in row[1:])
