"""``attnkit lab steps`` in quick mode: a verdict with numbers and a figure."""

from __future__ import annotations


def test_quick_run_times_both_models_at_equal_size(tmp_path):
    from attnkit.lab import run_claim, steps
    from attnkit.lab.report import read_verdict

    verdict = run_claim("steps", out=tmp_path, quick=True, seed=0)
    assert read_verdict(tmp_path) == verdict  # verdict.json round-trips
    assert "**Verdict:" in (tmp_path / "verdict.md").read_text()
    assert verdict.name == "steps" and verdict.holds in (True, False, None)
    assert [row[0] for row in verdict.rows] == list(steps.MODELS)
    transformer, rnn = (row[1] for row in verdict.rows)
    assert abs(rnn - transformer) / transformer < 0.1  # parameter counts matched
    for row in verdict.rows:
        assert len(row) == len(verdict.columns)
        assert 0 < row[3] <= 60 and row[5] > 0  # steps and seconds
    assert "Steps to 40%" in verdict.summary
    assert (tmp_path / verdict.figure).read_bytes().startswith(b"\x89PNG")
