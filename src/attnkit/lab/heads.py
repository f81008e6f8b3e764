"""Claim 5, ``heads``: several attention heads at the same total width do better than
one — each head can look somewhere else.

Design: the same encoder–decoder Transformer (2+2 layers, width 64) with 1, 2, 4 and 8
heads (head width 64, 32, 16, 8: the parameter count is identical), trained on reversing
strings at the same steps, batches and three seeds — at this budget a run either finds
the reversal or stalls, so the spread over seeds is part of the result.
"""

from __future__ import annotations

from pathlib import Path

from attnkit.lab.comparisons import COLUMNS, compare, describe, plot_conditions, table_rows
from attnkit.lab.report import Verdict
from attnkit.lab.symbol_tasks import SymbolTask, make_transformer
from attnkit.viz.plots import save_figure

TITLE = "one head against several at equal width"
CLAIM = (
    "Multi-head attention lets the model attend to different positions and relations at "
    "once; at equal width several heads do better than one."
)


def run(*, out: Path, quick: bool = False, seed: int = 0) -> Verdict:
    task = SymbolTask("reverse", symbols=10, min_len=4, max_len=8 if quick else 12)
    heads = (1, 4) if quick else (1, 2, 4, 8)
    steps, seeds = (30, [seed]) if quick else (400, [seed, seed + 1, seed + 2])
    builders = {
        f"{h} head{'s' if h > 1 else ''}": (
            lambda s, h=h: make_transformer(task, seed=s, num_heads=h)
        )
        for h in heads
    }
    results = compare(builders, task, steps=steps, seeds=seeds)
    save_figure(plot_conditions(results, title="width 64, same parameters"), out / "heads.png")
    single, *several = results.values()
    best_multi = max(several, key=lambda c: c.mean_accuracy)
    margin = best_multi.mean_accuracy - single.mean_accuracy
    holds: bool | None = margin > 0.02
    if abs(margin) <= 0.02:
        holds = None
    stalled = {
        c.name: sum(a < 0.5 for a in c.accuracy) for c in results.values() if min(c.accuracy) < 0.5
    }
    summary = (
        f"{describe(results)}\n\n"
        f"Best with several heads: **{best_multi.name}** at {best_multi.mean_accuracy:.3f} "
        f"against {single.mean_accuracy:.3f} for one head ({margin:+.3f}); all variants have "
        f"{single.params:,} parameters."
        + (
            " Seeds that stalled below 0.5 accuracy: "
            + ", ".join(f"{name} {n}/{len(seeds)}" for name, n in stalled.items())
            + ": a run either finds the reversal or stalls, so a mean averages the two."
            if stalled and not quick
            else ""
        )
    )
    return Verdict(
        name="heads",
        title=TITLE,
        claim=CLAIM,
        holds=holds,
        summary=summary,
        columns=COLUMNS,
        rows=table_rows(results),
        figure="heads.png",
    )
