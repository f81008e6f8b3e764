"""Claim 3, ``positions``: the positional schemes of the notes — sinusoidal, learned,
relative, RoPE, ALiBi — added to or concatenated with the token embeddings, compared
within and beyond the lengths seen in training.

Design: the same small encoder–decoder Transformer with only the positional scheme
changed, trained on reversing strings of 4–10 symbols (same steps, batches, seeds), then
tested on strings of 8 (seen lengths), 14 and 18 symbols (never seen). Absolute learned
positions have no trained vector past the longest training string; sinusoids are defined
everywhere; relative schemes (T5 buckets, RoPE, ALiBi) only see distances.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from matplotlib.figure import Figure

from attnkit.lab.comparisons import token_accuracy
from attnkit.lab.report import Verdict
from attnkit.lab.symbol_tasks import SymbolTask, make_transformer, train_model
from attnkit.viz.plots import save_figure

TITLE = "positional schemes in and beyond the training lengths"
CLAIM = (
    "Attention needs positional information; it can be added to or concatenated with the "
    "token embeddings, as fixed sinusoids, learned vectors or relative distances — and "
    "the schemes differ in how well they carry beyond the lengths seen in training."
)
VARIANTS = {
    "sinusoidal (add)": {"positional": "sinusoidal"},
    "learned (add)": {"positional": "learned"},
    "relative": {"positional": "relative"},
    "rope": {"positional": "rope"},
    "alibi": {"positional": "alibi"},
    # Concatenated embeddings are narrower than d_model, so the output layer cannot
    # share the embedding table.
    "sinusoidal (concat)": {
        "positional": "sinusoidal",
        "pos_combine": "concat",
        "tie_embeddings": False,
    },
    "learned (concat)": {"positional": "learned", "pos_combine": "concat", "tie_embeddings": False},
}
TRAIN_MAX = 10
RELATIVE = ("relative", "rope", "alibi")  # schemes that only see distances


def run(*, out: Path, quick: bool = False, seed: int = 0) -> Verdict:
    task = SymbolTask("reverse", symbols=10, min_len=4, max_len=TRAIN_MAX)
    lengths = (8, 14) if quick else (8, 14, 18)
    quick_names = ("sinusoidal (add)", "learned (concat)")  # one of each combination
    variants = {n: VARIANTS[n] for n in quick_names} if quick else VARIANTS
    steps, seeds = (30, [seed]) if quick else (500, [seed, seed + 1])
    accuracy: dict[str, dict[int, list[float]]] = {}
    for name, options in variants.items():
        accuracy[name] = {n: [] for n in lengths}
        for s in seeds:
            model = make_transformer(task, seed=s, **options)
            train_model(model, task, steps=steps, seed=s)
            for n in lengths:
                accuracy[name][n].append(token_accuracy(model, task, length=n, seed=99 + s))
    mean = {name: {n: statistics.fmean(v) for n, v in by.items()} for name, by in accuracy.items()}

    figure = Figure(figsize=(8, 4))
    axis = figure.subplots()
    for name in variants:
        axis.plot(lengths, [mean[name][n] for n in lengths], "o-", label=name)
    axis.axvline(TRAIN_MAX, color="grey", linestyle=":", label="longest training string")
    axis.set(xlabel="source length", ylabel="token accuracy", ylim=(0, 1.05))
    axis.set_title(f"reverse, trained on 4–{TRAIN_MAX} symbols, {steps} steps")
    axis.legend(fontsize=7)
    figure.tight_layout()
    save_figure(figure, out / "positions.png")

    inside, beyond = lengths[0], lengths[-1]
    learned_inside = [n for n in variants if mean[n][inside] >= 0.8]
    ranking = sorted(learned_inside, key=lambda n: -mean[n][beyond])
    holds: bool | None = None
    # Only schemes that learned the task can be compared beyond it; one laggard inside
    # does not void the comparison of the others.
    if len(learned_inside) >= len(variants) - 1 and len(learned_inside) >= 2:
        spread = mean[ranking[0]][beyond] - mean[ranking[-1]][beyond]
        holds = spread > 0.1  # they work inside; they differ outside
    groups = {
        "absolute (sinusoidal, learned)": [n for n in variants if n.startswith(("sin", "lea"))],
        "relative (T5 bias, RoPE, ALiBi)": [n for n in variants if n in RELATIVE],
    }
    group_text = "; ".join(
        f"{group} average "
        + ", ".join(f"{statistics.fmean(mean[n][k] for n in names):.3f} at {k}" for k in lengths)
        for group, names in groups.items()
        if names
    )
    table = [[name, *[round(mean[name][n], 4) for n in lengths]] for name in variants]
    summary = (
        f"Held-out token accuracy by source length (trained on 4–{TRAIN_MAX}; {len(seeds)} "
        f"seed(s), {steps} steps):\n\n"
        + "\n".join(
            f"- **{n}**: " + ", ".join(f"{k} symbols {mean[n][k]:.3f}" for k in lengths)
            for n in variants
        )
        + f"\n\nWithin the training lengths {len(learned_inside)}/{len(variants)} schemes "
        f"reach 0.8 (length {inside}). "
        + (
            f"Beyond them (length {beyond}) the best of those is **{ranking[0]}** "
            f"({mean[ranking[0]][beyond]:.3f}), the worst **{ranking[-1]}** "
            f"({mean[ranking[-1]][beyond]:.3f}). "
            if ranking
            else ""
        )
        + f"By family: {group_text}. Chance is {1 / task.symbols:.2f}."
    )
    return Verdict(
        name="positions",
        title=TITLE,
        claim=CLAIM,
        holds=holds,
        summary=summary,
        columns=["scheme", *[f"accuracy at {n}" for n in lengths]],
        rows=table,
        figure="positions.png",
    )
