"""Claim 8, ``qkv``: learnable query/key/value projections are what let attention look
up *other* positions; on raw inputs it is "just linear" matching of a token with itself.

Design: the same encoder–decoder Transformer (2+2 layers, width 64) twice — as built,
and with the Q, K and V projections of every attention module replaced by the identity
(queries, keys and values are the layer's input itself; the output projection stays) —
trained on reversing strings at the same steps, batches and seeds. Without projections
``qᵀk = xᵢᵀxⱼ`` is largest for ``j = i`` (or an identical token): the score can only say
"same as me", not "the symbol I need next".
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from attnkit.lab.comparisons import COLUMNS, compare, describe, plot_conditions, table_rows
from attnkit.lab.report import Verdict
from attnkit.lab.symbol_tasks import SymbolTask, make_transformer
from attnkit.nn import MultiHeadAttention
from attnkit.viz.plots import save_figure

TITLE = "learnable Q/K/V projections against raw inputs"
CLAIM = (
    "Queries, keys and values are learned projections of the input; without them "
    "attention can only match a token with itself (it is 'just linear'), and cannot "
    "learn to look up what the task needs."
)


def without_projections(model: nn.Module) -> nn.Module:
    """Replace every attention module's Q, K and V projections by the identity."""
    for module in model.modules():
        if isinstance(module, MultiHeadAttention):
            module.q_proj, module.k_proj, module.v_proj = (
                nn.Identity(),
                nn.Identity(),
                nn.Identity(),
            )
    return model


def run(*, out: Path, quick: bool = False, seed: int = 0) -> Verdict:
    task = SymbolTask("reverse", symbols=10, min_len=4, max_len=8 if quick else 12)
    steps, seeds = (30, [seed]) if quick else (500, [seed, seed + 1])
    builders = {
        "learned Q/K/V": lambda s: make_transformer(task, seed=s),
        "raw inputs (identity Q/K/V)": lambda s: without_projections(
            make_transformer(task, seed=s)
        ),
    }
    results = compare(builders, task, steps=steps, seeds=seeds)
    save_figure(plot_conditions(results, title="reverse, width 64"), out / "qkv.png")
    learned, raw = results.values()
    holds: bool | None = learned.mean_accuracy > raw.mean_accuracy + 0.1
    if learned.mean_accuracy < 0.5:
        holds = None
    summary = (
        f"{describe(results)}\n\n"
        f"With learned projections: {learned.mean_accuracy:.3f} held-out accuracy "
        f"({learned.params:,} parameters); on raw inputs: {raw.mean_accuracy:.3f} "
        f"({raw.params:,} parameters) after {steps} steps."
    )
    return Verdict(
        name="qkv",
        title=TITLE,
        claim=CLAIM,
        holds=holds,
        summary=summary,
        columns=COLUMNS,
        rows=table_rows(results),
        figure="qkv.png",
    )
