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
    assert [row[0] for row in verdict.rows] == [1, 2, 4, 8, 16]
    for row in verdict.rows:
        assert all(0.0 <= x <= 1.0 for x in row[1:])
    assert "chance is 0.10" in verdict.summary
    assert [rule["arms"] for rule in verdict.rules] == [list(r.arms) for r in long_range.rules()]
    assert {arm["name"] for arm in verdict.arms} == set(long_range.MODELS)
    assert (tmp_path / verdict.figure).read_bytes().startswith(b"\x89PNG")


def test_one_length_per_batch_keeps_every_string_of_a_batch_equally_long():
    import torch

    from attnkit.lab.symbol_tasks import SymbolTask

    task = SymbolTask("recall", min_len=2, max_len=257, log_uniform=True, same_length=True)
    generator = torch.Generator().manual_seed(0)
    widths = set()
    for _ in range(20):
        batch = task.batch(8, generator)
        eos = (batch["src"] == 2).float().argmax(1)  # position of EOS = length
        assert len(set(eos.tolist())) == 1
        widths.add(int(eos[0]))
    assert len(widths) > 5 and max(widths) > 20  # lengths vary from batch to batch


def test_verdict_logic_on_made_up_numbers():
    from attnkit.lab.long_range import MODELS, judge
    from attnkit.lab.verdicts import ArmReport

    jitter = [0.0, 0.01, -0.01, 0.02, -0.02]

    def results(failed=(), **curves):
        flat = [1.0, 1.0, 1.0]
        accuracy = {
            name: [[max(0.0, a + j) for a in curves.get(name.replace("+", "_"), flat)]
                   for j in jitter]
            for name in MODELS
        }  # fmt: skip
        return {
            "distances": [1, 128, 256],
            "steps": {"short": 1, "long": 1},
            "accuracy": accuracy,
            "arms": {name: ArmReport(name, learned=name not in failed) for name in MODELS},
        }

    falling = [0.9, 0.5, 0.3]
    assert judge(results(rnn=falling, gru=falling, lstm=falling))[0] is True
    assert judge(results(rnn=falling))[0] is False  # gru and lstm carry it as far
    assert judge(results(rnn=falling, gru=falling, lstm=falling, failed=("lstm",)))[0] is True
    assert judge(results(failed=("transformer",)))[0] is None
    assert judge(results(failed=("rnn", "gru", "lstm")))[0] is None
