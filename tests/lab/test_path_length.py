"""``attnkit lab path-length`` in quick mode: attention distance per layer and head."""

from __future__ import annotations

import math

from attnkit.lab import path_length, run_claim


def _well_formed(verdict, tmp_path, name):
    assert verdict.name == name and verdict.holds in (True, False, None)
    assert verdict.quick and verdict.rows
    assert all(len(row) == len(verdict.columns) for row in verdict.rows)
    numbers = [v for row in verdict.rows for v in row if isinstance(v, int | float)]
    assert numbers and all(math.isfinite(v) for v in numbers if isinstance(v, float))
    assert any(ch.isdigit() for ch in verdict.summary)
    assert (tmp_path / verdict.figure).read_bytes().startswith(b"\x89PNG")
    assert "**Verdict:" in (tmp_path / "verdict.md").read_text()


def test_quick_run_measures_distances_within_the_string(tmp_path):
    verdict = run_claim("path-length", out=tmp_path, quick=True, seed=0)
    _well_formed(verdict, tmp_path, "path-length")
    layers = [row for row in verdict.rows if row[0].startswith("encoder layer")]
    assert len(layers) == 2  # the lab model's encoder depth
    distances = [v for row in layers for v in row[1:]]
    assert all(0 <= d <= path_length.LENGTH for d in distances)  # in tokens, inside the string
    hits = verdict.rows[-1][1]
    assert 0 <= hits <= 1
    assert "recurrent steps" in verdict.summary
