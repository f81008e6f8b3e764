"""Claim 3, ``positions``: the positional schemes of the notes — sinusoidal, learned,
relative, RoPE, ALiBi — added to or concatenated with the token embeddings, compared
within and beyond the lengths seen in training.

Design: the same small encoder–decoder Transformer with only the positional scheme
changed, trained on reversing strings of 4–10 symbols (same steps, batches, seeds), then
tested on strings of 8 (seen lengths), 14 and 18 symbols (never seen). Absolute learned
positions have no trained vector past the longest training string; sinusoids are defined
everywhere; relative schemes (T5 buckets, RoPE, ALiBi) only see distances. Each scheme
takes its learning rate from a sweep on validation strings of the training lengths (a
seed never measured); five seeds.

Verdict rule (``RULE``, declared before the run): token accuracy on strings of the
longest test length (never seen); supported if the 95 % bootstrap interval of
mean(alibi) − mean(sinusoidal (add)) lies above 0 — the published contrast (Press et
al. 2022) fixed in advance, not the best and worst scheme picked afterwards; could not
decide if either failed to learn the training lengths at every rate.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from matplotlib.figure import Figure

from attnkit.lab.comparisons import sweep_rates, token_accuracy
from attnkit.lab.report import Verdict
from attnkit.lab.symbol_tasks import SymbolTask, make_transformer, train_model
from attnkit.lab.verdicts import Rule, decide, strip_plot
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
STEPS, SEEDS, RATES = 500, 5, (1e-3, 3e-3)
RULE = Rule(
    quantity="token accuracy on strings of 18 symbols (trained on 4–10)",
    arms=("alibi", "sinusoidal (add)"),
    seeds=SEEDS,
    must_learn=("alibi", "sinusoidal (add)"),
)
PUBLISHED = (
    "Press, Smith & Lewis (2022, ALiBi) found that sinusoidal positions degrade quickly "
    "past the training length while ALiBi does not: their 1.3 B-parameter model trained "
    "on 1,024 tokens extrapolates to 2,048 with the perplexity of a sinusoidal model "
    "trained on 2,048. Su et al. (2021, RoPE) and Shaw et al. (2018, "
    "relative positions) argue for relative schemes on the same grounds. The lab's rule "
    "tests the ALiBi–sinusoidal contrast on reversal at 1.8 times the training length; "
    "reversal needs absolute position (the output index determines the source index), a "
    "harder test for distance-only schemes than language modelling."
)
AGREEMENT = {  # outcome -> how it compares with PUBLISHED (written after the full run)
    "supported": (
        "Agrees with Press et al. in direction: past the training length the "
        "distance-based schemes (ALiBi, and also RoPE and T5's relative bias) keep "
        "clearly more accuracy than sinusoidal or learned absolute positions. It differs "
        "in degree: on reversal, which needs absolute positions, no scheme extrapolates "
        "well, whereas ALiBi's language-model perplexity barely moves at twice the "
        "training length — the lab's task is the harder test for distance-only schemes."
    ),
}
RELATIVE = ("relative", "rope", "alibi")  # schemes that only see distances


def run(*, out: Path, quick: bool = False, seed: int = 0) -> Verdict:
    task = SymbolTask("reverse", symbols=10, min_len=4, max_len=TRAIN_MAX)
    lengths = (8, 14) if quick else (8, 14, 18)
    quick_names = ("sinusoidal (add)", "alibi", "learned (concat)")  # add, concat, the rule
    variants = {n: VARIANTS[n] for n in quick_names} if quick else VARIANTS
    steps = 30 if quick else STEPS
    rule = RULE.reduced() if quick else RULE
    builders = {
        name: (lambda s, o=options: make_transformer(task, seed=s, **o))
        for name, options in variants.items()
    }
    arms = sweep_rates(builders, task, steps=steps, rates=(3e-3,) if quick else RATES, seed=seed)
    seeds = list(range(seed, seed + rule.seeds))
    accuracy: dict[str, dict[int, list[float]]] = {}
    for name, build in builders.items():
        accuracy[name] = {n: [] for n in lengths}
        seconds = []
        for s in seeds:
            model = build(s)
            seconds.append(train_model(model, task, steps=steps, lr=arms[name].lr, seed=s).seconds)
            for n in lengths:
                accuracy[name][n].append(token_accuracy(model, task, length=n, seed=99 + s))
        arms[name].seconds = round(statistics.fmean(seconds), 2)
    beyond_values = {name: by[lengths[-1]] for name, by in accuracy.items()}
    decision = decide(
        rule,
        beyond_values,
        failed=[name for name, arm in arms.items() if not arm.learned],
        seed=seed,
    )
    mean = {name: {n: statistics.fmean(v) for n, v in by.items()} for name, by in accuracy.items()}

    figure = Figure(figsize=(12, 4))
    axis, strip = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    for name in variants:
        axis.plot(lengths, [mean[name][n] for n in lengths], "o-", label=name)
    axis.axvline(TRAIN_MAX, color="grey", linestyle=":", label="longest training string")
    axis.set(xlabel="source length", ylabel="token accuracy", ylim=(0, 1.05))
    axis.set_title(f"reverse, trained on 4–{TRAIN_MAX} symbols, {steps} steps")
    axis.legend(fontsize=7)
    strip_plot(strip, beyond_values, ylabel=f"token accuracy at length {lengths[-1]}")
    strip.set_ylim(0, 1.05)
    figure.tight_layout()
    save_figure(figure, out / "positions.png")

    inside, beyond = lengths[0], lengths[-1]
    learned_inside = [n for n in variants if mean[n][inside] >= 0.8]
    ranking = sorted(learned_inside, key=lambda n: -mean[n][beyond])
    holds = decision.holds
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
        rules=[decision.as_dict()],
        arms=[arm.as_dict() for arm in arms.values()],
    )
