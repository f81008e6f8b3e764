"""Claim 12, ``parallel``: a recurrence must process positions one after another (step t
needs the state of step t − 1), so a recurrent network cannot use parallel hardware
across the positions of a sequence; a Transformer computes all positions of a training
sequence at once, so its throughput grows with the sequence length until the hardware is
busy.

Experiment. Training throughput (target tokens per second of a full step: forward,
backward, AdamW) against sequence length, for copy batches of strings of exactly that
length. Models: a Transformer (2 + 2 layers, width 64); a GRU encoder–decoder with
Bahdanau attention of about the same parameter count (its decoder is a Python loop over
the steps); and the same GRU without attention (PyTorch runs its recurrence in one
native call — still sequential in time). Two batch sizes: 1 sequence, where the
positions are the only source of parallel work, and 16 sequences, where a recurrence can
spread each step over the batch instead. Each point is the median of five timed steps
after one warm-up step; the whole measurement is repeated in ``ROUNDS`` independent
rounds (fresh models, seeds ``seed …``), and the figure and table show each point's
median over the rounds. Quick mode: shorter lengths, three timed steps, two rounds. The
result depends on the machine (threads, vector units, load); the number of threads is
reported.

Verdict rules (``RULES``, declared before the run), one value per round: the gain of a
model is log2 of its throughput at the longest length over the shortest, one sequence
per batch (where the positions are the only parallel work). For each recurrent model,
supported if the 95 % bootstrap interval of mean(Transformer's gain) − mean(its gain)
lies above log2(3) — the Transformer's throughput grows at least three times more.
"""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path

import torch
from matplotlib.figure import Figure
from torch import nn

from attnkit.lab import placement
from attnkit.lab.report import Verdict
from attnkit.lab.symbol_tasks import SymbolTask, count_parameters, make_rnn, make_transformer
from attnkit.lab.verdicts import Rule, combine, decide, strip_plot
from attnkit.nn.losses import mean_token_cross_entropy
from attnkit.viz.plots import save_figure

__all__ = ["CLAIM", "TITLE", "measure", "run"]

TITLE = "Parallel training: throughput against sequence length"
CLAIM = (
    "The recurrence prevents parallel execution across the positions of a sequence; a "
    "Transformer processes all positions of a training sequence at once."
)
PUBLISHED = (
    "Vaswani et al. (2017, Table 1) count O(1) sequential operations per layer for "
    "self-attention against O(n) for a recurrent layer, and report training the base "
    "model in 12 hours on 8 P100 GPUs. The lab measures that directly as throughput "
    "against length on this machine's CPU, repeated in independent timing rounds (a "
    "timing, not a trained model, so no learning rate enters); on 2 CPU cores the gain "
    "is far smaller than on a GPU."
)
AGREEMENT = {  # outcome -> how it compares with PUBLISHED (written after the full run)
    "supported": (
        "Agrees with Vaswani et al.'s Table 1 count of sequential operations: the "
        "Transformer's training throughput grows with the sequence length (more parallel "
        "work per step) while a recurrence's stays flat. On 2 CPU cores the absolute gain "
        "is small next to a GPU's."
    ),
}
MODELS = ("transformer", "gru+attention", "gru")
BATCHES = (1, 16)
ROUNDS = 5
RULES = [
    Rule(
        quantity="log2(throughput at the longest ÷ at the shortest length), one sequence per "
        "batch, one value per timing round",
        arms=("transformer", other),
        threshold=math.log2(3),
        seeds=ROUNDS,
    )
    for other in MODELS[1:]
]


def step_seconds(model: nn.Module, batch: dict, repeats: int) -> float:
    """Median wall time of one training step (forward, backward, AdamW) on ``batch``."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = placement.place(batch, model)
    model.train()
    times = []
    for i in range(repeats + 1):
        placement.synchronize()
        started = time.perf_counter()
        logits = model(batch["src"], batch["tgt"]).logits
        loss = mean_token_cross_entropy(logits, batch["labels"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        placement.synchronize()
        if i:  # the first step warms up allocators and kernels
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(*, quick: bool = False, seed: int = 0) -> dict:
    """Throughput of every model at every length and batch size.

    Returns ``{"lengths", "threads", "params", "throughput": {batch: {model: [tokens/s
    per length]}}}``.
    """
    lengths = [8, 16, 32] if quick else [8, 32, 64, 128, 256]
    repeats = 3 if quick else 5
    task = SymbolTask("copy", min_len=1, max_len=max(lengths))
    models = {
        "transformer": make_transformer(task, d_model=64, seed=seed),
        "gru+attention": make_rnn(task, hidden_size=104, embed_dim=52, seed=seed),
        "gru": make_rnn(task, attention="none", hidden_size=104, embed_dim=52, seed=seed),
    }
    results = {
        "lengths": lengths,
        "threads": torch.get_num_threads(),
        "params": {name: count_parameters(model) for name, model in models.items()},
        "throughput": {},
    }
    for size in BATCHES:
        results["throughput"][size] = {name: [] for name in MODELS}
        for length in lengths:
            batch = task.batch(size, torch.Generator().manual_seed(seed), length=length)
            tokens = size * (length + 1)  # target symbols + EOS
            for name in MODELS:
                seconds = step_seconds(models[name], batch, repeats)
                results["throughput"][size][name].append(tokens / seconds)
    return results


def plot(results: dict, gains_per_round: dict[str, list[float]], path: Path) -> Path:
    """Tokens per second against length, one panel per batch size (log–log), and every
    round's gain (a strip plot)."""
    fig = Figure(figsize=(14, 4.2), layout="constrained")
    *axes, strip = fig.subplots(1, len(BATCHES) + 1, gridspec_kw={"width_ratios": [2, 2, 1]})
    for ax, size in zip(axes, BATCHES, strict=True):
        for name in MODELS:
            label = f"{name} ({results['params'][name]:,} params)"
            ax.plot(results["lengths"], results["throughput"][size][name], marker="o", label=label)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length (tokens)")
        ax.set_title(f"batch of {size} sequence{'s' if size > 1 else ''} (median of rounds)")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("training throughput (target tokens / s)")
    axes[0].legend()
    strip_plot(strip, gains_per_round, ylabel="log2 throughput gain, batch 1", title="every round")
    fig.suptitle(f"Training throughput ({results['threads']} CPU thread(s))")
    return save_figure(fig, path)


def gains(results: dict) -> dict[str, float]:
    """Each model's log2 throughput gain from the shortest to the longest length, one
    sequence per batch."""
    single = results["throughput"][1]
    return {name: math.log2(single[name][-1] / single[name][0]) for name in MODELS}


def median_round(rounds: list[dict]) -> dict:
    """One result whose every throughput is the median of the rounds'."""
    merged = {**rounds[0], "throughput": {}}
    for size in BATCHES:
        merged["throughput"][size] = {
            name: [
                statistics.median(v)
                for v in zip(*(r["throughput"][size][name] for r in rounds), strict=True)
            ]
            for name in MODELS
        }
    return merged


def judge(results: dict, holds: bool | None) -> tuple[str, list[str], list[list]]:
    """A markdown summary and the table (columns, rows) of the median round."""
    lengths = results["lengths"]
    columns = ["length", *(f"{name} (B={size})" for size in BATCHES for name in MODELS)]
    rows = [
        [n, *(round(results["throughput"][size][name][i]) for size in BATCHES for name in MODELS)]
        for i, n in enumerate(lengths)
    ]
    single = results["throughput"][1]
    gain = {name: 2**log2_gain for name, log2_gain in gains(results).items()}
    batched = results["throughput"][BATCHES[-1]]
    summary = (
        f"Medians of the rounds. With one sequence per batch, going from {lengths[0]} to "
        f"{lengths[-1]} tokens multiplies the Transformer's throughput by "
        f"{gain['transformer']:.1f}×, the GRU with attention's by {gain['gru+attention']:.1f}× "
        f"and the plain GRU's by {gain['gru']:.1f}×; at {lengths[-1]} tokens they train "
        f"{single['transformer'][-1]:,.0f}, {single['gru+attention'][-1]:,.0f} and "
        f"{single['gru'][-1]:,.0f} tokens/s. With {BATCHES[-1]} sequences per batch: "
        f"{batched['transformer'][-1]:,.0f}, {batched['gru+attention'][-1]:,.0f} and "
        f"{batched['gru'][-1]:,.0f} tokens/s ({results['threads']} thread(s)).\n\n"
    )
    if holds:
        summary += (
            "A longer sequence gives the Transformer more work to do at once, so its "
            "throughput rises; a recurrence gains little, since each step waits for the "
            "previous one. With a large batch a recurrence recovers parallel work across "
            "sequences, and a fused native recurrence (the plain GRU) can then be "
            "competitive on a CPU; the Python-level decoder loop of the attention model "
            "is the slowest."
        )
    else:
        summary += "The measurement does not support the claim on this machine: see the rules."
    return summary, columns, rows


def run(*, out: Path, quick: bool = False, seed: int = 0) -> Verdict:
    """Measure ``ROUNDS`` rounds, draw ``parallel.png`` into ``out`` and return the
    verdict."""
    out = Path(out)
    rules = [r.reduced() for r in RULES] if quick else RULES
    rounds = [measure(quick=quick, seed=s) for s in range(seed, seed + rules[0].seeds)]
    per_round = [gains(r) for r in rounds]
    values = {name: [round(g[name], 4) for g in per_round] for name in MODELS}
    decisions = [decide(rule, values, seed=seed) for rule in rules]
    holds = combine(decisions)
    results = median_round(rounds)
    figure = plot(results, values, out / "parallel.png")
    summary, columns, rows = judge(results, holds)
    return Verdict(
        name="parallel",
        title=TITLE,
        claim=CLAIM,
        holds=holds,
        summary=summary,
        columns=columns,
        rows=rows,
        figure=figure.name,
        rules=[d.as_dict() for d in decisions],
    )
