"""Ablations at equal budget: train several variants of a model on the same symbol
task, with the same seeds, steps and data, and compare them (the shared machinery of
the Transformer claims: ``scaling``, ``heads``, ``layernorm``, ``residual``, ``qkv``,
``alignment`` …).

Every variant sees exactly the same batches (the data order depends only on the seed),
so differences come from the architecture alone; each is run with several seeds and
reported as mean and range.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from matplotlib.figure import Figure
from torch import nn

from attnkit.lab.symbol_tasks import SymbolTask, count_parameters, position_accuracy, train_model

__all__ = [
    "COLUMNS",
    "Condition",
    "compare",
    "describe",
    "plot_conditions",
    "steps_to_loss",
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


def steps_to_loss(curve: list[float], target: float, *, window: int = 10) -> int | None:
    """The first step (1-based) at which the mean loss of the last ``window`` steps is at
    most ``target``, or ``None`` if it never is — the mean, so one lucky batch does
    not count as arriving."""
    for end in range(window, len(curve) + 1):
        if statistics.fmean(curve[end - window : end]) <= target:
            return end
    return None


def compare(
    builders: dict[str, Callable[[int], nn.Module]],
    task: SymbolTask,
    *,
    steps: int,
    seeds: list[int],
    lr: float = 3e-3,
    batch_size: int = 32,
) -> dict[str, Condition]:
    """Train ``builders[name](seed)`` for ``steps`` updates per seed; return each
    variant's accuracy, loss and speed. A variant whose loss turns non-finite keeps
    its (NaN) numbers: divergence is a result, not an error."""
    results: dict[str, Condition] = {}
    for name, build in builders.items():
        condition = results.setdefault(name, Condition(name))
        for seed in seeds:
            model = build(seed)
            condition.params = count_parameters(model)
            norms: list[float] = []
            hooks = [
                p.register_hook(lambda g, n=norms: n.append(float(g.norm())) or g)
                for p in list(model.parameters())[:1]
            ]
            trained = train_model(model, task, steps=steps, batch_size=batch_size, lr=lr, seed=seed)
            for hook in hooks:
                hook.remove()
            condition.curves.append(trained.losses)
            tail = trained.losses[-10:]
            condition.final_loss.append(statistics.fmean(tail))
            condition.accuracy.append(token_accuracy(model, task, seed=10_000 + seed))
            condition.seconds_per_step.append(trained.seconds / max(len(trained.losses), 1))
            condition.max_grad_norm.append(max(norms) if norms else float("nan"))
    return results


def plot_conditions(results: dict[str, Condition], *, title: str) -> Figure:
    """Training loss per step (mean over seeds, range shaded) and final accuracy."""
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
    names = list(results)
    means = [results[n].mean_accuracy for n in names]
    spread = [
        [m - min(results[n].accuracy) for n, m in zip(names, means, strict=True)],
        [max(results[n].accuracy) - m for n, m in zip(names, means, strict=True)],
    ]
    bars.bar(range(len(names)), means, yerr=spread, capsize=3, color="tab:blue", alpha=0.7)
    bars.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    bars.set_ylim(0, 1.05)
    bars.set_ylabel("token accuracy (held-out strings)")
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
