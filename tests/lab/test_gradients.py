"""``attnkit lab gradients`` in quick mode: a verdict with numbers and a figure."""

from __future__ import annotations

import math


def test_quick_run_gives_a_ratio_per_model_and_stage(tmp_path):
    from attnkit.lab import gradients, run_claim
    from attnkit.lab.report import read_verdict

    verdict = run_claim("gradients", out=tmp_path, quick=True, seed=0)
    assert read_verdict(tmp_path) == verdict  # verdict.json round-trips
    assert "**Verdict:" in (tmp_path / "verdict.md").read_text()
    assert verdict.name == "gradients" and verdict.holds in (True, False, None)
    assert len(verdict.rows) == 2 * len(gradients.MODELS)  # (model, stage) pairs
    by_model = {(row[0], row[1]): row[2] for row in verdict.rows}
    for row in verdict.rows:
        assert len(row) == len(verdict.columns)
        assert all(isinstance(x, float) and not math.isnan(x) for x in row[2:])
    # already at initialisation a tanh RNN passes back far less than a Transformer
    assert by_model["rnn", "init"] < by_model["transformer", "init"] - 3
    assert "RNN 1e-" in verdict.summary
    assert (tmp_path / verdict.figure).read_bytes().startswith(b"\x89PNG")
