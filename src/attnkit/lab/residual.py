"""Claim 7, ``residual``: residual connections let a deeper stack train.

Design: a 5+5-layer encoder–decoder Transformer (width 64, pre-LN) with and without the
residual connections (config ``residual``), trained on reversing strings at the same
steps, batches and seeds. We compare the training loss, held-out accuracy and the largest
gradient that reaches the bottom of the network (the shared token embedding) — without
the identity path every gradient has to pass through every sub-layer.
"""

from __future__ import annotations

from pathlib import Path

from attnkit.lab.comparisons import COLUMNS, compare, describe, plot_conditions, table_rows
from attnkit.lab.report import Verdict
from attnkit.lab.symbol_tasks import SymbolTask, make_transformer
from attnkit.viz.plots import save_figure

TITLE = "with and without residual connections in a deeper stack"
CLAIM = (
    "Residual connections (x + sublayer(x)) keep a deep stack trainable: the signal and "
    "its gradient have a direct path through every layer."
)


def run(*, out: Path, quick: bool = False, seed: int = 0) -> Verdict:
    task = SymbolTask("reverse", symbols=10, min_len=4, max_len=8 if quick else 12)
    layers = 2 if quick else 5
    steps, seeds = (30, [seed]) if quick else (300, [seed, seed + 1])
    builders = {
        f"residual ({layers}+{layers} layers)": (
            lambda s: make_transformer(task, seed=s, num_layers=layers)
        ),
        f"no residual ({layers}+{layers} layers)": (
            lambda s: make_transformer(task, seed=s, num_layers=layers, residual=False)
        ),
    }
    results = compare(builders, task, steps=steps, seeds=seeds)
    save_figure(plot_conditions(results, title=f"{layers}+{layers} layers"), out / "residual.png")
    with_res, without = results.values()
    holds: bool | None = with_res.mean_accuracy > without.mean_accuracy + 0.1
    if not holds and with_res.mean_accuracy < 0.5:
        holds = None  # neither learned at this budget: no evidence either way
    summary = (
        f"{describe(results)}\n\n"
        f"With residuals the {layers}+{layers}-layer model reaches accuracy "
        f"{with_res.mean_accuracy:.3f}; without, {without.mean_accuracy:.3f} at the same "
        f"{steps} steps. The largest gradient at the embedding: "
        f"{max(with_res.max_grad_norm):.3g} with against {max(without.max_grad_norm):.3g} "
        "without."
    )
    return Verdict(
        name="residual",
        title=TITLE,
        claim=CLAIM,
        holds=holds,
        summary=summary,
        columns=COLUMNS,
        rows=table_rows(results),
        figure="residual.png",
    )
