"""Verdict rules declared before the run: what is measured, on which arms, over how many
seeds, and what result would support the claim — then a seeded bootstrap interval
decides, not the eye.

A claim's module builds its :class:`Rule` from constants before it trains anything; the
experiment collects one number per seed and arm; :func:`decide` turns them into
"supported", "not supported" or "could not decide". The last is reserved for
experiments that could not test the claim — an arm the claim needs failed to learn the
task at every learning rate tried — never for a small or awkward difference: a fair
experiment whose interval does not clear the threshold is "not supported".
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch

__all__ = [
    "ArmReport",
    "Decision",
    "Rule",
    "bootstrap_interval",
    "combine",
    "decide",
    "is_spread",
    "strip_plot",
]

SUPPORTED, NOT_SUPPORTED, UNDECIDED = "supported", "not supported", "could not decide"


@dataclass(frozen=True, kw_only=True)
class Rule:
    """A verdict rule, fixed before the run.

    Args:
        quantity: what one seed contributes (e.g. "held-out token accuracy after 400
            steps").
        arms: ``(treatment, baseline)`` — the claim predicts ``mean(treatment) −
            mean(baseline) > threshold`` — or ``(arm,)``: it predicts ``mean(arm) >
            threshold``.
        threshold: the value the interval's lower end must clear.
        seeds: seeds per arm (at least 5 for anything trained).
        max_seeds: seeds per arm when an arm's first ``seeds`` results are spread
            (range above ``spread``) — a run that either finds the solution or stalls
            needs more seeds, and the rule says so in advance.
        spread: the range of per-seed values that counts as spread.
        must_learn: arms that must have learned the task (at some learning rate) for
            the experiment to decide; otherwise the verdict is "could not decide".
        confidence: of the bootstrap interval.
        resamples: bootstrap resamples.
    """

    quantity: str
    arms: tuple[str, ...]
    threshold: float = 0.0
    seeds: int = 5
    max_seeds: int = 5
    spread: float = 0.4
    must_learn: tuple[str, ...] = ()
    confidence: float = 0.95
    resamples: int = 10_000

    def __post_init__(self) -> None:
        if len(self.arms) not in (1, 2):
            raise ValueError(f"Rule arms must be (treatment, baseline) or (arm,), got {self.arms}")
        if not 1 <= self.seeds <= self.max_seeds:
            raise ValueError(
                f"Rule needs 1 <= seeds <= max_seeds, got seeds={self.seeds}, "
                f"max_seeds={self.max_seeds}"
            )
        if not 0 < self.confidence < 1:
            raise ValueError(f"Rule confidence must be in (0, 1), got {self.confidence}")

    def reduced(self, seeds: int = 2) -> Rule:
        """The same rule with ``seeds`` seeds (``--quick`` runs: a smoke test, not a
        verdict)."""
        return replace(self, seeds=seeds, max_seeds=seeds)

    @property
    def difference(self) -> str:
        """The estimated quantity, in words: ``mean(A) − mean(B)`` or ``mean(A)``."""
        if len(self.arms) == 1:
            return f"mean({self.arms[0]})"
        return f"mean({self.arms[0]}) − mean({self.arms[1]})"

    def describe(self) -> str:
        """The rule as one sentence."""
        seeds = f"{self.seeds} seeds per arm"
        if self.max_seeds > self.seeds:
            seeds += f", {self.max_seeds} when an arm's seeds spread over more than {self.spread:g}"
        text = (
            f"quantity: {self.quantity}; {seeds}. Supported if the lower end of the "
            f"{self.confidence:.0%} bootstrap interval of {self.difference} is above "
            f"{self.threshold:g}; not supported otherwise"
        )
        if self.must_learn:
            text += (
                f"; could not decide if {' or '.join(self.must_learn)} failed to learn the task "
                "at every learning rate tried"
            )
        return text + "."

    def seeds_for(self, values: dict[str, list[float]]) -> int:
        """How many seeds per arm the rule asks for, given the first ``seeds`` results."""
        spread = any(is_spread(v, self.spread) for v in values.values())
        return self.max_seeds if spread else self.seeds


def is_spread(values: list[float], spread: float) -> bool:
    """Whether per-seed ``values`` range over more than ``spread``."""
    return len(values) > 1 and max(values) - min(values) > spread


def bootstrap_interval(
    treatment: list[float],
    baseline: list[float] | None = None,
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(estimate, low, high)``: the difference of the arms' means (or ``treatment``'s
    mean alone) and its percentile bootstrap interval, resampling seeds within each arm
    with a seeded generator (the same numbers give the same interval).

    Shape:
        treatment ``n`` values, baseline ``m`` values (``n, m ≥ 1``) → three floats.
    """
    samples = [treatment] if baseline is None else [treatment, baseline]
    if any(len(s) == 0 for s in samples):
        raise ValueError("bootstrap_interval needs at least one value per arm")
    tensors = [torch.tensor(s, dtype=torch.float64) for s in samples]
    if not all(bool(t.isfinite().all()) for t in tensors):
        raise ValueError(f"bootstrap_interval needs finite values, got {samples}")
    generator = torch.Generator().manual_seed(seed)
    means = []
    for values in tensors:
        picks = torch.randint(0, len(values), (resamples, len(values)), generator=generator)
        means.append(values[picks].mean(1))  # (resamples,)
    draws = means[0] - means[1] if baseline is not None else means[0]
    estimate = float(tensors[0].mean() - (tensors[1].mean() if baseline is not None else 0))
    alpha = (1 - confidence) / 2
    low, high = torch.quantile(draws, torch.tensor([alpha, 1 - alpha], dtype=torch.float64))
    return estimate, float(low), float(high)


@dataclass
class Decision:
    """A rule applied to the measured values."""

    rule: Rule
    values: dict[str, list[float]]
    estimate: float = float("nan")
    low: float = float("nan")
    high: float = float("nan")
    outcome: str = UNDECIDED
    reason: str = ""

    @property
    def holds(self) -> bool | None:
        return {SUPPORTED: True, NOT_SUPPORTED: False, UNDECIDED: None}[self.outcome]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the rule's text and fields, the interval, every seed's value."""
        return {
            "rule": self.rule.describe(),
            "quantity": self.rule.quantity,
            "arms": list(self.rule.arms),
            "threshold": self.rule.threshold,
            "difference": self.rule.difference,
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "confidence": self.rule.confidence,
            "outcome": self.outcome,
            "reason": self.reason,
            "values": {arm: list(v) for arm, v in self.values.items()},
        }


def decide(
    rule: Rule,
    values: dict[str, list[float]],
    *,
    failed: list[str] | tuple[str, ...] = (),
    seed: int = 0,
) -> Decision:
    """Apply ``rule`` to per-seed ``values`` (arm → one value per seed). ``failed``
    lists the arms that learned nothing at any learning rate tried; if the rule needs
    one of them, the experiment could not decide."""
    missing = [arm for arm in rule.arms if arm not in values]
    if missing:
        raise ValueError(f"no values for arm(s) {missing}; measured: {sorted(values)}")
    decision = Decision(rule=rule, values={arm: list(values[arm]) for arm in rule.arms})
    baseline = values[rule.arms[1]] if len(rule.arms) == 2 else None
    decision.estimate, decision.low, decision.high = bootstrap_interval(
        values[rule.arms[0]],
        baseline,
        confidence=rule.confidence,
        resamples=rule.resamples,
        seed=seed,
    )
    blocking = [arm for arm in rule.must_learn if arm in failed]
    interval = (
        f"{rule.difference} = {decision.estimate:+.3g}, {rule.confidence:.0%} interval "
        f"[{decision.low:+.3g}, {decision.high:+.3g}]"
    )
    if blocking:
        decision.outcome = UNDECIDED
        decision.reason = (
            f"{', '.join(blocking)} failed to learn the task at every learning rate tried, "
            f"so the comparison says nothing about the claim ({interval})"
        )
    elif decision.low > rule.threshold:
        decision.outcome = SUPPORTED
        decision.reason = f"{interval}: the whole interval is above {rule.threshold:g}"
    else:
        decision.outcome = NOT_SUPPORTED
        where = (
            "the whole interval is below it"
            if decision.high < rule.threshold
            else "the interval includes it"
        )
        decision.reason = f"{interval}: not above {rule.threshold:g} — {where}"
    return decision


def combine(decisions: list[Decision]) -> bool | None:
    """A claim's verdict from its rules: supported if every rule is, could not decide
    if any could not, not supported otherwise."""
    outcomes = [d.outcome for d in decisions]
    if UNDECIDED in outcomes or not outcomes:
        return None
    return all(o == SUPPORTED for o in outcomes)


@dataclass
class ArmReport:
    """How one arm was trained: the fairness record a verdict prints."""

    name: str
    params: int = 0
    rates: dict[float, float] = field(default_factory=dict)  # lr → validation score
    lr: float = 0.0  # 0: not tuned (the learning rate is part of the design)
    steps: int = 0
    seconds: float = 0.0  # mean training wall time per seed
    learned: bool = True

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rates"] = [[lr, score] for lr, score in self.rates.items()]
        return data


def strip_plot(axis, values: dict[str, list[float]], *, ylabel: str, title: str = "") -> None:
    """Every seed's value per arm (jittered dots) and the arm's mean (a bar)."""
    generator = torch.Generator().manual_seed(0)
    for i, points in enumerate(values.values()):
        jitter = (torch.rand(len(points), generator=generator) - 0.5) * 0.3
        axis.scatter([i + float(j) for j in jitter], points, s=14, alpha=0.8, zorder=3)
        if points:
            mean = statistics.fmean(points)
            axis.plot([i - 0.25, i + 0.25], [mean, mean], color="black", linewidth=1.5)
    axis.set_xticks(range(len(values)), list(values), rotation=30, ha="right", fontsize=8)
    axis.set_ylabel(ylabel, fontsize=8)
    axis.set_title(title or "every seed (bar: mean)", fontsize=9)
    axis.grid(alpha=0.3, axis="y")
