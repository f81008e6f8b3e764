"""Verdict rules: the bootstrap interval, the three outcomes, the seeds a rule asks for,
and how a verdict prints its rule, interval, per-seed values and arms."""

from __future__ import annotations

import pytest
import torch

from attnkit.lab.comparisons import sweep_rates
from attnkit.lab.report import Verdict, read_verdict, verdict_markdown, write_verdict
from attnkit.lab.symbol_tasks import SymbolTask, make_transformer
from attnkit.lab.verdicts import ArmReport, Rule, bootstrap_interval, combine, decide


def test_bootstrap_interval_is_seeded_and_brackets_the_difference_of_means():
    a, b = [0.9, 0.8, 0.85, 0.95, 0.7], [0.2, 0.3, 0.1, 0.25, 0.4]
    first = bootstrap_interval(a, b, seed=3)
    assert first == bootstrap_interval(a, b, seed=3)  # same numbers, same interval
    estimate, low, high = first
    assert estimate == pytest.approx(sum(a) / 5 - sum(b) / 5)
    assert low < estimate < high
    # the interval of a difference of resampled means cannot leave the extremes
    assert min(a) - max(b) <= low and high <= max(a) - min(b)
    one_arm = bootstrap_interval(a, seed=0)
    assert one_arm[0] == pytest.approx(0.84) and one_arm[1] >= min(a)


def test_bootstrap_interval_refuses_empty_or_non_finite_values():
    with pytest.raises(ValueError, match="at least one value per arm"):
        bootstrap_interval([], [1.0])
    with pytest.raises(ValueError, match="finite values"):
        bootstrap_interval([1.0, float("nan")], [0.0])


def test_a_clear_difference_is_supported_a_null_one_is_not():
    rule = Rule(quantity="accuracy", arms=("many", "one"))
    clear = decide(
        rule, {"many": [0.9, 0.92, 0.88, 0.95, 0.91], "one": [0.5, 0.45, 0.52, 0.4, 0.5]}
    )
    assert clear.outcome == "supported" and clear.holds is True and clear.low > 0
    same = [0.5, 0.9, 0.1, 0.7, 0.3]
    null = decide(rule, {"many": same, "one": same[::-1]})
    assert null.outcome == "not supported" and null.holds is False
    assert null.low <= 0 <= null.high and "includes it" in null.reason
    reversed_ = decide(rule, {"many": [0.1] * 5, "one": [0.9, 0.8, 0.85, 0.9, 0.95]})
    assert reversed_.holds is False and "below it" in reversed_.reason


def test_an_arm_that_failed_to_learn_makes_the_experiment_undecided():
    rule = Rule(quantity="accuracy", arms=("a", "b"), must_learn=("a", "b"))
    values = {"a": [0.9] * 5, "b": [0.1] * 5}
    decision = decide(rule, values, failed=["b"])
    assert decision.outcome == "could not decide" and decision.holds is None
    assert "b failed to learn" in decision.reason
    # an arm the claim expects to fail may fail: it is not in must_learn
    lenient = Rule(quantity="accuracy", arms=("a", "b"), must_learn=("a",))
    assert decide(lenient, values, failed=["b"]).holds is True
    assert combine([decision, decide(lenient, values)]) is None
    assert combine([decide(lenient, values)] * 2) is True


def test_a_one_arm_rule_tests_the_mean_against_the_threshold():
    rule = Rule(quantity="accuracy", arms=("a",), threshold=0.9)
    assert decide(rule, {"a": [0.97, 0.95, 0.99, 0.96, 0.98]}).holds is True
    assert decide(rule, {"a": [0.97, 0.95, 0.5, 0.96, 0.98]}).holds is False


def test_rule_asks_for_more_seeds_when_an_arm_is_spread_and_validates_itself():
    rule = Rule(quantity="accuracy", arms=("a", "b"), seeds=5, max_seeds=10, spread=0.4)
    assert rule.seeds_for({"a": [0.9, 0.95, 0.92], "b": [0.5, 0.6, 0.55]}) == 5
    assert rule.seeds_for({"a": [0.1, 0.95, 0.92], "b": [0.5, 0.6, 0.55]}) == 10
    assert "10 when an arm's seeds spread" in rule.describe()
    assert "mean(a) − mean(b)" in rule.describe()
    assert rule.reduced().seeds == 2
    with pytest.raises(ValueError, match="arms must be"):
        Rule(quantity="q", arms=("a", "b", "c"))
    with pytest.raises(ValueError, match="seeds=6, max_seeds=5"):
        Rule(quantity="q", arms=("a",), seeds=6)


def test_verdict_markdown_prints_rule_interval_every_seed_arms_and_published(tmp_path):
    rule = Rule(quantity="held-out accuracy", arms=("4 heads", "1 head"))
    decision = decide(
        rule, {"4 heads": [0.9, 0.91, 0.93, 0.95, 0.9], "1 head": [0.1, 0.2, 0.9, 0.1, 0.3]}
    )
    arm = ArmReport("4 heads", params=1234, rates={1e-3: 0.5, 3e-3: 0.9}, lr=3e-3, steps=400,
                    seconds=7.5)  # fmt: skip
    verdict = Verdict(
        name="heads", title="t", claim="c", holds=decision.holds, summary="s",
        rules=[decision.as_dict()], arms=[arm.as_dict()], published="Vaswani et al. 0.9 BLEU",
    )  # fmt: skip
    text = verdict_markdown(verdict)
    assert "**Rule** (declared before the run): quantity: held-out accuracy" in text
    assert "95% interval [" in text and "**Result: supported**" in text
    assert "- 1 head (5 seeds): 0.1, 0.2, 0.9, 0.1, 0.3" in text
    assert "| 4 heads | 1,234 | 0.001 (0.5), 0.003 (0.9) | 0.003 | 400 | 7.5 |" in text
    assert "**Published result.** Vaswani et al. 0.9 BLEU" in text
    write_verdict(verdict, tmp_path)
    assert read_verdict(tmp_path) == verdict
    undecided = Verdict(name="x", title="t", claim="c", holds=None, summary="s")
    assert undecided.outcome == "could not decide"


def test_sweep_keeps_the_rate_with_the_best_validation_score_and_flags_no_learning():
    task = SymbolTask("copy", symbols=4, min_len=2, max_len=3)
    builders = {
        "tiny": lambda s: make_transformer(task, seed=s, d_model=32, num_heads=2, num_layers=1)
    }
    torch.manual_seed(0)
    arms = sweep_rates(builders, task, steps=150, rates=(1e-7, 3e-3), seed=0, learned_at=1.01)
    arm = arms["tiny"]
    assert set(arm.rates) == {1e-7, 3e-3}
    assert arm.lr == max(arm.rates, key=lambda r: (arm.rates[r], -r))
    assert arm.rates[3e-3] > arm.rates[1e-7] + 0.2  # at 1e-7 nothing is learned
    assert arm.learned is False  # nothing reaches an accuracy above 1
