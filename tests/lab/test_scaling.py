"""``attnkit lab scaling`` in quick mode: a verdict with numbers and a figure."""

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


def test_quick_run_shows_raw_scores_growing_and_peaking_with_width(tmp_path):
    verdict = run_claim("scaling", out=tmp_path, quick=True, seed=0)
    _check_well_formed(verdict, "scaling", tmp_path)
    table = {(row[0], row[1]): row for row in verdict.rows}  # (d, raw|scaled) → row
    widths = sorted({d for d, _ in table})
    raw_std = [table[(d, "raw")][2] for d in widths]
    assert raw_std == sorted(raw_std) and raw_std[-1] > 3 * raw_std[0]  # grows like √d
    for d in widths:
        assert abs(table[(d, "scaled")][2] - 1) < 0.2  # ÷√d keeps unit spread
    big = widths[-1]
    assert table[(big, "raw")][4] > table[(big, "scaled")][4]  # max weight: raw peaks
    assert table[(big, "raw")][3] < table[(big, "scaled")][3]  # entropy: raw collapses
