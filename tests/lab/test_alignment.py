"""``attnkit lab alignment`` in quick mode: four scores, one task, one budget."""

from __future__ import annotations

import math

from attnkit.lab import alignment, run_claim


def _well_formed(verdict, tmp_path, name):
    assert verdict.name == name and verdict.holds in (True, False, None)
    assert verdict.quick and verdict.rows
    assert all(len(row) == len(verdict.columns) for row in verdict.rows)
    numbers = [v for row in verdict.rows for v in row if isinstance(v, int | float)]
    assert numbers and all(math.isfinite(v) for v in numbers if isinstance(v, float))
    assert any(ch.isdigit() for ch in verdict.summary)
    assert (tmp_path / verdict.figure).read_bytes().startswith(b"\x89PNG")
    assert "**Verdict:" in (tmp_path / "verdict.md").read_text()


def test_quick_run_compares_the_four_scores(tmp_path):
    verdict = run_claim("alignment", out=tmp_path, quick=True, seed=0)
    _well_formed(verdict, tmp_path, "alignment")
    assert [row[0] for row in verdict.rows] == list(alignment.SCORES)
    params = {row[0]: row[1] for row in verdict.rows}
    assert params["dot"] == params["scaled_dot"] < params["general"]
    assert params["dot"] < params["additive"]
    assert all(row[6] > 0 for row in verdict.rows)  # time per step measured
