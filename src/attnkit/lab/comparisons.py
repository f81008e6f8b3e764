"""Ablations at equal budget: train several variants of a model on the same symbol
task, with the same seeds, steps and data, and compare them (the shared machinery of
the Transformer claims: ``scaling``, ``heads``, ``layernorm``, ``residual``, ``qkv``,
``alignment`` …).

Every variant sees exactly the same batches (the data order depends only on the seed),
so differences come from the architecture alone; each is run with several seeds and
reported as mean and range. :func:`fair_compare` first gives every arm its own
learning rate from a small sweep on validation data (a seed never measured), then
trains the seeds a :class:`~attnkit.lab.verdicts.Rule` asks for.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from matplotlib.figure import Figure
from torch import nn

from attnkit.lab.symbol_tasks import SymbolTask, count_parameters, position_accuracy, train_model
from attnkit.lab.verdicts import ArmReport, Rule, strip_plot

__all__ = [
    "COLUMNS",
    "Condition",
    "compare",
    "describe",
    "fair_compare",
    "plot_conditions",
    "steps_to_loss",
    "sweep_rates",
    "table_rows",
    "token_accuracy",
]


@torch.no_grad()
def token_accuracy(
    model: nn.Module,
    task: SymbolTask,
    *,
    samples: int = 256,
    seed: int = 1234,
    length: int | None = None,
) -> float:
    """Teacher-forced next-token accuracy on fresh strings (EOS excluded), optionally
    all of one source ``length``."""
    batch = task.batch(samples, torch.Generator().manual_seed(seed), length=length)
    correct, counted = position_accuracy(model, batch)
    return float(correct.sum() / counted.sum().clamp_min(1))


@dataclass
class Condition:
    """One variant's results over seeds."""

    name: str
    params: int = 0
    accuracy: list[float] = field(default_factory=list)  # final, per seed
    final_loss: list[float] = field(default_factory=list)  # mean of the last 10 steps
    curves: list[list[float]] = field(default_factory=list)  # training loss per step
    seconds_per_step: list[float] = field(default_factory=list)
    max_grad_norm: list[float] = field(default_factory=list)

    @property
    def mean_accuracy(self) -> float:
        return statistics.fmean(self.accuracy)

    @property
    def mean_loss(self) -> float:
        return statistics.fmean(self.final_loss)

    def steps_to(self, target: float) -> list[int | None]:
        """Per seed, the step at which the training loss reached ``target`` (see
        :func:`steps_to_loss`)."""
        return [steps_to_loss(curve, target) for curve in self.curves]


SWEEP_SEED = 1000  # the learning-rate sweep trains on seed + 1000: never a measured seed


def steps_to_loss(curve: list[float], target: float, *, window: int = 10) -> int | None:
    """The first step (1-based) at which the mean loss of the last ``window`` steps is at
    most ``target``, or ``None`` if it never is — the mean, so one lucky batch does
    not count as arriving."""
    for end in range(window, len(curve) + 1):
        if statistics.fmean(curve[end - window : end]) <= target:
            return end
    return None


def _train_seeds(
    condition: Condition,
    build: Callable[[int], nn.Module],
    task: SymbolTask,
    *,
    steps: int,
    seeds: list[int],
    lr: float,
    batch_size: int,
    warmup_steps: int,
    clip_norm: float | None = 1.0,
) -> None:
    """Train ``build(seed)`` once per seed and append its numbers to ``condition``."""
    for seed in seeds:
        model = build(seed)
        condition.params = count_parameters(model)
        norms: list[float] = []
        hooks = [
            p.register_hook(lambda g, n=norms: n.append(float(g.norm())) or g)
            for p in list(model.parameters())[:1]
        ]
        trained = train_model(
            model,
            task,
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            warmup_steps=warmup_steps,
            seed=seed,
            clip_norm=clip_norm,
        )
        for hook in hooks:
            hook.remove()
        condition.curves.append(trained.losses)
        condition.final_loss.append(statistics.fmean(trained.losses[-10:]))
        condition.accuracy.append(token_accuracy(model, task, seed=10_000 + seed))
        condition.seconds_per_step.append(trained.seconds / max(len(trained.losses), 1))
        condition.max_grad_norm.append(max(norms) if norms else float("nan"))


def compare(
    builders: dict[str, Callable[[int], nn.Module]],
    task: SymbolTask,
    *,
    steps: int,
    seeds: list[int],
    lr: float | dict[str, float] = 3e-3,
    batch_size: int = 32,
    warmup_steps: int = 50,
    clip_norm: float | None = 1.0,
) -> dict[str, Condition]:
    """Train ``builders[name](seed)`` for ``steps`` updates per seed (at ``lr``, or
    ``lr[name]``; gradients clipped to ``clip_norm``, ``None`` = not clipped); return
    each variant's accuracy, loss and speed. A variant whose loss
    turns non-finite keeps its (NaN) numbers: divergence is a result, not an error."""
    results: dict[str, Condition] = {}
    for name, build in builders.items():
        rate = lr[name] if isinstance(lr, dict) else lr
        condition = results.setdefault(name, Condition(name))
        _train_seeds(
            condition,
            build,
            task,
            steps=steps,
            seeds=seeds,
            lr=rate,
            batch_size=batch_size,
            warmup_steps=warmup_steps,
            clip_norm=clip_norm,
        )
    return results


def sweep_rates(
    builders: dict[str, Callable[[int], nn.Module]],
    task: SymbolTask,
    *,
    steps: int,
    rates: tuple[float, ...],
    seed: int = 0,
    learned_at: float = 0.3,
    batch_size: int = 32,
) -> dict[str, ArmReport]:
    """Each arm's learning rate, chosen on validation data: train it once per rate
    (on seed ``seed + SWEEP_SEED``, never one of the measured seeds) and keep the rate
    with the best teacher-forced accuracy on a validation set drawn apart from the
    test strings (ties: the smaller rate). An arm below ``learned_at`` at every rate
    failed to learn."""
    validation = task.batch(256, torch.Generator().manual_seed(20_000 + seed))
    arms: dict[str, ArmReport] = {}
    for name, build in builders.items():
        report = arms[name] = ArmReport(name, steps=steps)
        for lr in rates:
            model = build(seed + SWEEP_SEED)
            report.params = count_parameters(model)
            train_model(
                model, task, steps=steps, lr=lr, batch_size=batch_size, seed=seed + SWEEP_SEED
            )
            correct, counted = position_accuracy(model, validation)
            report.rates[lr] = round(float(correct.sum() / counted.sum().clamp_min(1)), 4)
        report.lr = max(rates, key=lambda r, s=report.rates: (s[r], -r))
        report.learned = report.rates[report.lr] >= learned_at
    return arms


def fair_compare(
    builders: dict[str, Callable[[int], nn.Module]],
    task: SymbolTask,
    rule: Rule,
    *,
    steps: int,
    rates: tuple[float, ...],
    seed: int = 0,
    learned_at: float = 0.3,
    batch_size: int = 32,
) -> tuple[dict[str, Condition], dict[str, ArmReport]]:
    """The fair version of :func:`compare`: every arm at its own learning rate from
    :func:`sweep_rates`, the same steps and batches, ``rule.seeds`` seeds — or
    ``rule.max_seeds`` when an arm's first seeds spread (the rule says so in advance).
    Returns the conditions and each arm's training record (rates tried, chosen rate,
    steps, mean wall time per seed)."""
    arms = sweep_rates(
        builders, task, steps=steps, rates=rates, seed=seed, learned_at=learned_at,
        batch_size=batch_size,
    )  # fmt: skip
    rates_chosen = {name: arm.lr for name, arm in arms.items()}
    seeds = list(range(seed, seed + rule.seeds))
    results = compare(
        builders, task, steps=steps, seeds=seeds, lr=rates_chosen, batch_size=batch_size
    )
    wanted = rule.seeds_for({name: c.accuracy for name, c in results.items()})
    if wanted > len(seeds):
        extra = list(range(seed + len(seeds), seed + wanted))
        for name, build in builders.items():
            _train_seeds(
                results[name], build, task, steps=steps, seeds=extra, lr=rates_chosen[name],
                batch_size=batch_size, warmup_steps=50,
            )  # fmt: skip
    for name, condition in results.items():
        arms[name].seconds = round(statistics.fmean(condition.seconds_per_step) * steps, 2)
    return results, arms


def plot_conditions(results: dict[str, Condition], *, title: str) -> Figure:
    """Training loss per step (mean over seeds, range shaded) and every seed's final
    accuracy (a strip plot)."""
    figure = Figure(figsize=(10, 3.8))
    curves, bars = figure.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    for condition in results.values():
        stacked = torch.tensor(condition.curves, dtype=torch.float64)  # (seeds, steps)
        steps = torch.arange(1, stacked.shape[1] + 1)
        mean = stacked.nanmean(0)
        (line,) = curves.plot(steps, mean, label=condition.name, linewidth=1.2)
        if stacked.shape[0] > 1:
            low, high = stacked.min(0).values, stacked.max(0).values
            curves.fill_between(steps, low, high, alpha=0.15, color=line.get_color())
    curves.set_yscale("log")
    curves.set_xlabel("training step")
    curves.set_ylabel("training loss (log scale)")
    curves.set_title(title)
    curves.legend(fontsize=8)
    strip_plot(
        bars,
        {name: c.accuracy for name, c in results.items()},
        ylabel="token accuracy (held-out strings)",
    )
    bars.set_ylim(0, 1.05)
    figure.tight_layout()
    return figure


COLUMNS = [
    "variant",
    "parameters",
    "accuracy (mean)",
    "accuracy (min)",
    "accuracy (max)",
    "final loss",
    "ms per step",
    "max grad norm (embedding)",
]


def table_rows(results: dict[str, Condition]) -> list[list]:
    """One row per variant, in the order of :data:`COLUMNS`."""
    return [
        [
            c.name,
            c.params,
            round(c.mean_accuracy, 4),
            round(min(c.accuracy), 4),
            round(max(c.accuracy), 4),
            round(c.mean_loss, 4),
            round(1000 * statistics.fmean(c.seconds_per_step), 2),
            round(max(c.max_grad_norm), 3),
        ]
        for c in results.values()
    ]


def describe(results: dict[str, Condition]) -> str:
    """``name: accuracy a (range lo–hi), loss l`` for every variant, as markdown bullets."""
    return "\n".join(
        f"- **{c.name}**: accuracy {c.mean_accuracy:.3f} "
        f"(seeds {min(c.accuracy):.3f}–{max(c.accuracy):.3f}), final loss {c.mean_loss:.3f}"
        for c in results.values()
    )
