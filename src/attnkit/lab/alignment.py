"""Claim 9, ``alignment``: the four alignment functions of the notes — dot ``qᵀk``,
scaled dot ``qᵀk/√d``, general ``qᵀWk`` and additive (Bahdanau) ``vᵀtanh(W₁q + W₂k)`` —
on the same task at the same budget.

Design: the same small encoder–decoder Transformer (2+2 layers, width 64, 4 heads) with
only ``score`` changed, trained on reversing strings of 4–12 symbols for the same steps,
batches and seeds; we compare held-out token accuracy, final loss and time per step.
What the notes lead us to expect: all four can learn the lookup; the dot products are
the cheapest (no parameters, one matrix product), additive costs a hidden layer per
query–key pair.
"""

from __future__ import annotations

from pathlib import Path

from attnkit.lab.comparisons import COLUMNS, compare, describe, plot_conditions, table_rows
from attnkit.lab.report import Verdict
from attnkit.lab.symbol_tasks import SymbolTask, make_transformer
from attnkit.viz.plots import save_figure

TITLE = "dot, scaled dot, general and additive scores on one task"
CLAIM = (
    "Attention can score a query against a key in several ways — dot product, scaled dot "
    "product, general (qᵀWk) and additive (Bahdanau); all learn the lookup, the dot "
    "products most cheaply."
)
SCORES = ("dot", "scaled_dot", "general", "additive")


def run(*, out: Path, quick: bool = False, seed: int = 0) -> Verdict:
    task = SymbolTask("reverse", symbols=10, min_len=4, max_len=8 if quick else 12)
    steps, seeds = (25, [seed]) if quick else (500, [seed, seed + 1])
    builders = {
        score: (lambda s, score=score: make_transformer(task, seed=s, score=score))
        for score in SCORES
    }
    results = compare(builders, task, steps=steps, seeds=seeds)
    figure = plot_conditions(results, title=f"reverse, {steps} steps, {len(seeds)} seed(s)")
    save_figure(figure, out / "alignment.png")
    rows = table_rows(results)
    best = max(c.mean_accuracy for c in results.values())
    learned = [n for n, c in results.items() if c.mean_accuracy >= best - 0.05]
    speed = {n: rows[i][6] for i, n in enumerate(results)}
    cheapest = min(speed, key=speed.get)
    all_learn = len(learned) == len(SCORES) and best >= 0.9
    holds = True if all_learn and cheapest in ("dot", "scaled_dot") else None
    if best < 0.9:
        holds = None
    summary = (
        f"Same model, task (reverse 4–{task.max_len} symbols), {steps} steps and seeds; only "
        f"the score differs.\n\n{describe(results)}\n\n"
        f"Within 0.05 of the best accuracy: {', '.join(learned)}. Fastest step: "
        f"**{cheapest}** ({speed[cheapest]:.1f} ms) against additive "
        f"{speed['additive']:.1f} ms. "
        + (
            "All four learn the lookup; the dot products do it most cheaply."
            if holds
            else "Not every score reached the same accuracy at this budget, so the "
            "comparison is mixed: see the table."
        )
    )
    return Verdict(
        name="alignment",
        title=TITLE,
        claim=CLAIM,
        holds=holds,
        summary=summary,
        columns=COLUMNS,
        rows=rows,
        figure="alignment.png",
    )
