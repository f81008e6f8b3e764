"""``attnkit lab permutation`` in quick mode: a verdict with numbers and a figure."""

from __future__ import annotations

import math

from attnkit.lab import permutation, run_claim
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


def test_quick_run_finds_equivariance_only_without_positions(tmp_path):
    verdict = run_claim("permutation", out=tmp_path, quick=True, seed=0)
    _check_well_formed(verdict, "permutation", tmp_path)
    errors = {row[0]: row[1] for row in verdict.rows if row[0] in permutation.SCHEMES}
    assert set(errors) == set(permutation.SCHEMES)
    assert errors["none"] < 1e-4
    assert all(errors[s] > 1e-3 for s in permutation.SCHEMES if s != "none")
    accuracies = [row[1] for row in verdict.rows if row[0].endswith("(accuracy)")]
    assert len(accuracies) == 2 and all(0 <= a <= 1 for a in accuracies)
