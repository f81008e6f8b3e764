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
    from attnkit.lab.bottleneck import VARIANTS, judge
    from attnkit.lab.verdicts import ArmReport

    def results(none, attention, learned=True):
        seeds = 5  # small jitter per seed so that the interval has a width
        jitter = [0.0, 0.01, -0.01, 0.02, -0.02]
        runs = {v: [[a + j for a in curve] for j in jitter] for v, curve in
                zip(VARIANTS, (none, attention), strict=True)}  # fmt: skip
        return {
            "lengths": [4, 20],
            "steps": 1,
            "params": {"none": 1, "bahdanau": 2},
            "token": runs,
            "exact": runs,
            "arms": {v: ArmReport(v, learned=learned or v == "bahdanau") for v in VARIANTS},
            "seeds": seeds,
        }

    assert judge(results([0.95, 0.5], [0.96, 0.95]))[0].holds is True
    assert judge(results([0.95, 0.94], [0.96, 0.95]))[0].holds is False  # no bottleneck
    assert judge(results([0.95, 0.5], [0.96, 0.5]))[0].holds is False  # both degrade
    assert judge(results([0.2, 0.1], [0.96, 0.95], learned=False))[0].holds is None
