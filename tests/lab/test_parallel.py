"""``attnkit lab parallel`` in quick mode: a verdict with numbers and a figure."""

from __future__ import annotations


def test_quick_run_measures_throughput_at_every_length(tmp_path):
    from attnkit.lab import parallel, run_claim
    from attnkit.lab.report import read_verdict

    verdict = run_claim("parallel", out=tmp_path, quick=True, seed=0)
    assert read_verdict(tmp_path) == verdict  # verdict.json round-trips
    assert "**Verdict:" in (tmp_path / "verdict.md").read_text()
    assert verdict.name == "parallel" and verdict.holds in (True, False, None)
    assert [row[0] for row in verdict.rows] == [8, 16, 32]
    for row in verdict.rows:
        assert len(row) == len(verdict.columns) == 1 + 2 * len(parallel.MODELS)
        assert all(x > 0 for x in row[1:])  # tokens per second
    assert "tokens/s" in verdict.summary
    # one rule per recurrent model, over independent timing rounds (two in quick mode)
    assert [rule["arms"] for rule in verdict.rules] == [list(r.arms) for r in parallel.RULES]
    for rule in verdict.rules:
        assert all(len(v) == 2 for v in rule["values"].values())
        assert rule["low"] <= rule["estimate"] <= rule["high"]
    assert (tmp_path / verdict.figure).read_bytes().startswith(b"\x89PNG")
