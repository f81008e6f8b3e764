"""Claim 7, ``residual``: residual connections let a deeper stack train.

Design: a 5+5-layer encoder–decoder Transformer (width 64, pre-LN) with and without the
residual connections (config ``residual``), trained on reversing strings at the same
steps and batches, each arm at its own learning rate from a sweep on validation strings
(a seed never measured), five seeds. We compare the training loss, held-out accuracy and
the largest gradient that reaches the bottom of the network (the shared token embedding)
— without the identity path every gradient has to pass through every sub-layer.

Verdict rule (``RULE``, declared before the run): held-out token accuracy; supported if
the 95 % bootstrap interval of mean(residual) − mean(no residual) lies above 0. The arm
without residuals failing to learn is what the claim predicts, so only the residual arm
must learn (else: could not decide).
"""

from __future__ import annotations

from pathlib import Path

from attnkit.lab.comparisons import COLUMNS, describe, fair_compare, plot_conditions, table_rows
from attnkit.lab.report import Verdict
from attnkit.lab.symbol_tasks import SymbolTask, make_transformer
from attnkit.lab.verdicts import Rule, decide
from attnkit.viz.plots import save_figure

TITLE = "with and without residual connections in a deeper stack"
CLAIM = (
    "Residual connections (x + sublayer(x)) keep a deep stack trainable: the signal and "
    "its gradient have a direct path through every layer."
)
PUBLISHED = (
    "He et al. (2016) introduced residual connections because plain deep networks got "
    "worse as they got deeper: on CIFAR-10 a plain 56-layer network had higher training "
    "and test error than a plain 20-layer one, and with residuals 110 layers reached "
    "6.43 % test error. Vaswani et al. (2017) wrap every sub-layer in one. The lab's "
    "5+5-layer stack is shallow by those standards; the rule asks only whether the "
    "residual arm learns where the same stack without them does not."
)
AGREEMENT = {  # outcome -> how it compares with PUBLISHED (written after the full run)
    "supported": (
        "Agrees with He et al. in kind: without residual connections the deeper stack "
        "learns nothing at any learning rate tried, while with them it learns the task. "
        "5+5 layers is shallow next to their 56 and 110; the effect shows already here "
        "because a post-attention stack without residuals has no other path for the "
        "signal and the gradient."
    ),
}
STEPS, SEEDS, RATES = 300, 5, (1e-3, 3e-3, 1e-2)
ARMS = ("residual", "no residual")
RULE = Rule(
    quantity=f"held-out token accuracy after {STEPS} steps",
    arms=ARMS,
    seeds=SEEDS,
    must_learn=(ARMS[0],),
)


def run(*, out: Path, quick: bool = False, seed: int = 0) -> Verdict:
    task = SymbolTask("reverse", symbols=10, min_len=4, max_len=8 if quick else 12)
    layers = 2 if quick else 5
    steps = 30 if quick else STEPS
    rule = RULE.reduced() if quick else RULE
    builders = {
        ARMS[0]: lambda s: make_transformer(task, seed=s, num_layers=layers),
        ARMS[1]: lambda s: make_transformer(task, seed=s, num_layers=layers, residual=False),
    }
    results, arms = fair_compare(
        builders, task, rule, steps=steps, rates=(3e-3,) if quick else RATES, seed=seed
    )
    decision = decide(
        rule,
        {name: c.accuracy for name, c in results.items()},
        failed=[name for name, arm in arms.items() if not arm.learned],
        seed=seed,
    )
    save_figure(plot_conditions(results, title=f"{layers}+{layers} layers"), out / "residual.png")
    with_res, without = results.values()
    summary = (
        f"{describe(results)}\n\n"
        f"With residuals the {layers}+{layers}-layer model reaches accuracy "
        f"{with_res.mean_accuracy:.3f}; without, {without.mean_accuracy:.3f} at the same "
        f"{steps} steps, each at its own learning rate. The largest gradient at the "
        f"embedding: {max(with_res.max_grad_norm):.3g} with against "
        f"{max(without.max_grad_norm):.3g} without."
    )
    return Verdict(
        name="residual",
        title=TITLE,
        claim=CLAIM,
        holds=decision.holds,
        summary=summary,
        columns=COLUMNS,
        rows=table_rows(results),
        figure="residual.png",
        rules=[decision.as_dict()],
        arms=[arm.as_dict() for arm in arms.values()],
    )
