"""``attnkit lab bottleneck`` in quick mode: a verdict with numbers and a figure."""

from __future__ import annotations


def test_quick_run_scores_every_length_for_both_variants(tmp_path):
    from attnkit.lab import run_claim
    from attnkit.lab.report import read_verdict

    verdict = run_claim("bottleneck", out=tmp_path, quick=True, seed=0)
    assert read_verdict(tmp_path) == verdict  # verdict.json round-trips
    assert "**Verdict:" in (tmp_path / "verdict.md").read_text()
    assert verdict.name == "bottleneck" and verdict.holds in (True, False, None)
    assert [row[0] for row in verdict.rows] == list(range(4, 9))  # source lengths
    for row in verdict.rows:
        assert len(row) == len(verdict.columns)
        assert all(0.0 <= x <= 1.0 for x in row[1:])
    assert "Token accuracy from length 4 to 8" in verdict.summary
    assert (tmp_path / verdict.figure).read_bytes().startswith(b"\x89PNG")


def test_verdict_logic_on_made_up_numbers():
    from attnkit.lab.bottleneck import judge

    def results(none, attention):
        return {
            "lengths": [4, 20],
            "steps": 1,
            "params": {"none": 1, "bahdanau": 2},
            "token": {"none": [none], "bahdanau": [attention]},
            "exact": {"none": [none], "bahdanau": [attention]},
        }

    assert judge(results([0.99, 0.5], [1.0, 0.99]))[0] is True
    assert judge(results([0.99, 0.98], [1.0, 0.99]))[0] is False  # no bottleneck seen
    assert judge(results([0.99, 0.5], [1.0, 0.6]))[0] is False  # both degrade
    assert judge(results([0.2, 0.1], [1.0, 0.99]))[0] is None  # did not learn
