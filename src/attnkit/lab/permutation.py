"""Claim 2, ``permutation``: self-attention without positions is permutation-equivariant —
shuffle the input tokens and the outputs are shuffled the same way; every positional
scheme breaks that symmetry; and a model without positions cannot learn a task where
order matters.

Design, part 1 (no training): the encoder of an attnkit Transformer with each positional
scheme (none, sinusoidal, learned, relative, RoPE, ALiBi) encodes random strings and the
same strings permuted; we measure ``max |enc(P x) − P enc(x)|``. Part 2: the same small
encoder–decoder with positions ``none`` and ``sinusoidal`` trained on reversing strings
(the answer depends only on order), same steps and batches, each at its own learning
rate from a sweep on validation strings (a seed never measured), five seeds.

Verdict rule (``RULE``, declared before the run): part 1 must show the symmetry (error
below 1e-4 without positions, above 1e-3 with each scheme — a measurement, not a
sample); part 2, held-out accuracy: supported if the 95 % bootstrap interval of
mean(positions: sinusoidal) − mean(positions: none) lies above 0.2; could not decide if
the sinusoidal model learned at no rate.
"""

from __future__ import annotations

from pathlib import Path

import torch
from matplotlib.figure import Figure

from attnkit.lab import placement
from attnkit.lab.comparisons import describe, fair_compare
from attnkit.lab.report import Verdict
from attnkit.lab.symbol_tasks import SymbolTask, make_transformer
from attnkit.lab.verdicts import Rule, decide
from attnkit.viz.plots import save_figure

TITLE = "self-attention without positions ignores order"
CLAIM = (
    "Self-attention treats its input as a set: without positional information it is "
    "permutation-equivariant, so it cannot tell 'dog bites man' from 'man bites dog'. "
    "Positional encodings break the symmetry."
)
SCHEMES = ("none", "sinusoidal", "learned", "relative", "rope", "alibi")
STEPS, SEEDS, RATES = 500, 5, (1e-3, 3e-3)
RULE = Rule(
    quantity=f"held-out token accuracy on reversal after {STEPS} steps",
    arms=("positions: sinusoidal", "positions: none"),
    threshold=0.2,
    seeds=SEEDS,
    must_learn=("positions: sinusoidal",),
)
PUBLISHED = (
    'Vaswani et al. (2017, §3.5): "since our model contains no recurrence and no '
    "convolution, in order for the model to make use of the order of the sequence, we must "
    'inject some information about the relative or absolute position". Yun et al. (2020) '
    "proved that Transformers without positions compute permutation-equivariant functions "
    "only. The lab's part 1 is that theorem, checked numerically; part 2 shows its cost on "
    "a task where only order matters."
)
AGREEMENT = {  # outcome -> how it compares with PUBLISHED (written after the full run)
    "supported": (
        "Agrees with Yun et al.'s theorem exactly — the encoder without positions is "
        "permutation-equivariant to float rounding — and with Vaswani et al.'s reason for "
        "injecting positions: without them the model cannot learn a task where only order "
        "matters."
    ),
}


@torch.no_grad()
def equivariance_error(positional: str, task: SymbolTask, seed: int) -> float:
    """``max |enc(P x) − P enc(x)|`` for a random permutation ``P`` of 12 tokens."""
    model = make_transformer(task, seed=seed, positional=positional).eval()
    generator = torch.Generator().manual_seed(seed)
    src = torch.randint(3, task.vocab_size, (8, 12), generator=generator)
    src = src.to(placement.device())
    order = torch.randperm(12, generator=generator)
    plain = model.encode(src).memory  # (B, S, D)
    shuffled = model.encode(src[:, order]).memory
    return float((shuffled - plain[:, order]).abs().max())


def run(*, out: Path, quick: bool = False, seed: int = 0) -> Verdict:
    task = SymbolTask("reverse", symbols=10, min_len=4, max_len=8 if quick else 12)
    errors = {scheme: equivariance_error(scheme, task, seed) for scheme in SCHEMES}
    steps = 30 if quick else STEPS
    rule = RULE.reduced() if quick else RULE
    builders = {
        f"positions: {p}": (lambda s, p=p: make_transformer(task, seed=s, positional=p))
        for p in ("none", "sinusoidal")
    }
    trained, arms = fair_compare(
        builders, task, rule, steps=steps, rates=(3e-3,) if quick else RATES, seed=seed
    )
    decision = decide(
        rule,
        {name: c.accuracy for name, c in trained.items()},
        failed=[name for name, arm in arms.items() if not arm.learned],
        seed=seed,
    )

    figure = Figure(figsize=(10, 3.6))
    left, right = figure.subplots(1, 2)
    left.bar(SCHEMES, [max(errors[s], 1e-9) for s in SCHEMES], color="tab:purple")
    left.set(yscale="log", ylabel="max |enc(Px) − P enc(x)|", title="equivariance error")
    left.tick_params(axis="x", rotation=30)
    for condition in trained.values():
        right.plot(torch.tensor(condition.curves).mean(0), label=condition.name)
    right.set(yscale="log", xlabel="step", ylabel="training loss", title="reverse strings")
    right.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, out / "permutation.png")

    symmetric = errors["none"] < 1e-4
    broken = all(errors[s] > 1e-3 for s in SCHEMES if s != "none")
    fails = decision.holds is True
    holds: bool | None = decision.holds if symmetric and broken else False
    listing = ", ".join(f"{s} {errors[s]:.1e}" for s in SCHEMES)
    summary = (
        f"Equivariance error of the encoder (max abs, fp32): {listing}.\n\n"
        f"Reversing strings ({steps} steps):\n{describe(trained)}\n\n"
        "Without positions the encoder's outputs for a shuffled input are the shuffled "
        "outputs (error at float rounding); every scheme breaks this. "
        + (
            "The model without positions cannot learn the order-dependent task; with "
            "positions it does."
            if fails
            else "The training comparison did not separate the two at this budget."
        )
        + f" (Chance is {1 / task.symbols:.2f}: without positions the encoder still "
        "knows *which* symbols occur — a bag of symbols — and the causal decoder can count "
        "what it has written, so it can narrow each answer to the symbols not yet used; "
        "the last one is forced. What it cannot recover is the order.)"
    )
    rows = [[s, float(f"{errors[s]:.3g}")] for s in SCHEMES]
    rows += [[c.name + " (accuracy)", round(c.mean_accuracy, 4)] for c in trained.values()]
    return Verdict(
        name="permutation",
        title=TITLE,
        claim=CLAIM,
        holds=holds,
        summary=summary,
        columns=["positional scheme / model", "equivariance error or accuracy"],
        rows=rows,
        figure="permutation.png",
        rules=[decision.as_dict()],
        arms=[arm.as_dict() for arm in arms.values()],
    )
