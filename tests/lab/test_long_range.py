"""``attnkit lab long-range`` in quick mode: a verdict with numbers and a figure."""

from __future__ import annotations


def test_quick_run_scores_every_distance_for_every_model(tmp_path):
    from attnkit.lab import long_range, run_claim
    from attnkit.lab.report import read_verdict

    verdict = run_claim("long-range", out=tmp_path, quick=True, seed=0)
    assert read_verdict(tmp_path) == verdict  # verdict.json round-trips
    assert "**Verdict:" in (tmp_path / "verdict.md").read_text()
    assert verdict.name == "long-range" and verdict.holds in (True, False, None)
    assert verdict.columns == ["distance", *long_range.MODELS]
    assert [row[0] for row in verdict.rows] == list(range(1, 9))
    for row in verdict.rows:
        assert all(0.0 <= x <= 1.0 for x in row[1:])
    assert "chance is 0.10" in verdict.summary
    assert (tmp_path / verdict.figure).read_bytes().startswith(b"\x89PNG")


def test_verdict_logic_on_made_up_numbers():
    from attnkit.lab.long_range import MODELS, judge

    def results(**curves):
        flat = [1.0, 1.0, 1.0]
        accuracy = {name: [curves.get(name.replace("+", "_"), flat)] for name in MODELS}
        return {
            "distances": [1, 2, 3],
            "steps": 1,
            "params": dict.fromkeys(MODELS, 1),
            "accuracy": accuracy,
        }

    falling = [0.9, 0.6, 0.3]
    assert judge(results(rnn=falling, gru=falling, lstm=falling))[0] is True
    assert judge(results(rnn=falling))[0] is None  # only some recurrent cells degrade
    assert judge(results())[0] is False  # nothing degrades
    assert judge(results(rnn=[0.1] * 3, gru=[0.1] * 3, lstm=[0.1] * 3))[0] is None
