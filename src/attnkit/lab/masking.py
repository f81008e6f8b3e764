"""Claim 4, ``masking``: a next-token model trained without the causal mask "cheats" —
each position can read the very token it is asked to predict, so the training loss
collapses, but at generation time the future is not there and the model fails.

Design: two identical character-level decoder-only models (2 layers, width 64) trained
on Shakespeare (the bundled corpus) for the same steps and batches; in one, the causal
mask is switched off (``DecoderLMConfig(causal=False)``, the library's flag for this
ablation). Both are then evaluated honestly — with the causal
mask, which is exactly what generation sees, since a token being generated has no future
— on held-out text, and both generate a continuation of the same prompt. Each arm takes
its learning rate from ``RATES`` by the validation loss its own training computes, on a
validation half of the held-out text (a seed never measured): with the mask the honest
loss, without it the unmasked loss — the number a user who forgot the mask would watch
and tune by. (Choosing the cheat's rate by its honest loss instead would pick the rate
at which it cheats least, and so test a weaker cheat than anyone would train.) Five
seeds are then scored on the other half.

Verdict rules (``RULES``, declared before the run): (1) honest held-out loss, mean(no
mask) − mean(causal mask) above 0 — the cheat cannot generate; (2) training loss,
mean(causal mask) − mean(no mask) above 0 — the cheat's training loss collapses. Both
must hold.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from pathlib import Path

import torch
from matplotlib.figure import Figure

from attnkit.config import DecoderLMConfig, TrainConfig
from attnkit.data.corpora import load_corpus, split_text
from attnkit.data.tokenizers import CharTokenizer
from attnkit.decoding import greedy_generate
from attnkit.lab import placement
from attnkit.lab.report import Verdict
from attnkit.lab.verdicts import ArmReport, Rule, combine, decide, strip_plot
from attnkit.models import DecoderLM
from attnkit.nn.losses import mean_token_cross_entropy
from attnkit.training.optim import build_optimizer, learning_rate
from attnkit.viz.plots import save_figure

TITLE = "without the causal mask a next-token model cheats"
CLAIM = (
    "A decoder predicting the next token must not see it: the causal mask hides the "
    "future. Without it the training loss collapses — the answer is in the input — but "
    "the model has learned nothing it can use to generate."
)
BLOCK, PROMPT = 64, "ROMEO:\nBut soft, what light"
PUBLISHED = (
    "Vaswani et al. (2017, §3.2.3) mask the decoder's self-attention \"to prevent "
    'leftward information flow … to preserve the auto-regressive property"; Radford et '
    "al. (2018, GPT) and every decoder-only model since train with the same mask. There "
    "is no published number for the unmasked model because it is a bug, not a baseline: "
    "the lab's rules measure how large the bug is (its training loss near zero, its honest "
    "loss near or above a unigram model's)."
)
AGREEMENT = {  # outcome -> how it compares with PUBLISHED (written after the full run)
    "supported": (
        "Agrees, with the size of the bug measured: trained without the mask, the model's "
        "training loss falls far below the honest model's while its honest loss — the one "
        "generation sees — is far worse and its greedy continuation degenerates. There is "
        "no published number to compare with, since no paper trains the bug on purpose."
    ),
}
STEPS, SEEDS, RATES = 600, 5, (1e-3, 3e-3)
ARMS = ("no mask", "causal mask")
RULES = [
    Rule(quantity="honest (causal) held-out loss, nats/char", arms=ARMS, seeds=SEEDS),
    Rule(quantity="training loss, nats/char (last 20 steps)", arms=ARMS[::-1], seeds=SEEDS),
]


def _batch(ids: torch.Tensor, size: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    starts = torch.randint(0, ids.numel() - BLOCK - 1, (size,), generator=generator)
    rows = torch.stack([ids[s : s + BLOCK + 1] for s in starts.tolist()])
    return rows[:, :-1], rows[:, 1:]


def _train(model: DecoderLM, ids: torch.Tensor, *, steps: int, seed: int, lr: float) -> list[float]:
    config = TrainConfig(steps=steps, lr=lr, warmup_steps=20, schedule="constant", weight_decay=0.0)
    optimizer = build_optimizer(model, config)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config)
        inputs, targets = (part.to(placement.device()) for part in _batch(ids, 32, generator))
        loss = mean_token_cross_entropy(model(inputs).logits, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def _held_out_loss(model: DecoderLM, ids: torch.Tensor, seed: int) -> float:
    """Mean next-character loss on 64 blocks of ``ids``, with the model's own mask
    setting (honest when it is causal)."""
    batch = _batch(ids, 64, torch.Generator().manual_seed(seed))
    inputs, targets = (part.to(placement.device()) for part in batch)
    return float(mean_token_cross_entropy(model(inputs).logits, targets))


def run(*, out: Path, quick: bool = False, seed: int = 0) -> Verdict:
    text = load_corpus("shakespeare-tiny")[: 200_000 if quick else 1_000_000]
    tokenizer = CharTokenizer.train(text)
    train_text, valid_text = split_text(text, 0.1)
    train_ids = torch.tensor(tokenizer.encode(train_text))
    valid_ids = torch.tensor(tokenizer.encode(valid_text))
    steps = 40 if quick else STEPS
    rules = [r.reduced() for r in RULES] if quick else RULES
    rates = (3e-3,) if quick else RATES
    half = valid_ids.numel() // 2
    validation_ids, test_ids = valid_ids[:half], valid_ids[half:]

    def train(causal: bool, lr: float, s: int) -> tuple[DecoderLM, DecoderLM, list[float], float]:
        """The model as evaluated (causal mask), the model as trained, its training
        losses and wall time."""
        torch.manual_seed(s)
        config = DecoderLMConfig(
            vocab_size=tokenizer.vocab_size, d_model=64, num_heads=4, num_layers=2,
            dropout=0.0, max_len=256, causal=causal,
        )  # fmt: skip
        trained = DecoderLM(config).to(placement.device())
        started = time.perf_counter()
        losses = _train(trained, train_ids, steps=steps, seed=s, lr=lr)
        spent = time.perf_counter() - started
        # Evaluation and generation: the same weights with the causal mask — a token
        # being generated has no future to read.
        model = DecoderLM(dataclasses.replace(config, causal=True)).to(placement.device())
        model.load_state_dict(trained.state_dict())
        model.eval()
        return model, trained.eval(), losses, spent

    results, arms = {}, {}
    for causal, name in ((True, ARMS[1]), (False, ARMS[0])):
        arm = arms[name] = ArmReport(name, steps=steps)
        for lr in rates:
            _, as_trained, _, _ = train(causal, lr, seed + 1000)
            arm.rates[lr] = round(_held_out_loss(as_trained, validation_ids, seed), 4)
            arm.params = sum(p.numel() for p in as_trained.parameters())
        arm.lr = min(rates, key=lambda r, a=arm: (a.rates[r], r))
        runs = [train(causal, arm.lr, s) for s in range(seed, seed + rules[0].seeds)]
        arm.seconds = round(statistics.fmean(spent for *_, spent in runs), 2)
        model, _, losses, _ = runs[0]
        prompt = torch.tensor([tokenizer.encode(PROMPT)], device=placement.device())
        sample = tokenizer.decode(greedy_generate(model, prompt, max_new_tokens=120)[0].tolist())
        trains = [statistics.fmean(curve[-20:]) for _, _, curve, _ in runs]
        honest = [_held_out_loss(m, test_ids, seed) for m, *_ in runs]
        results[causal] = {
            "train": statistics.fmean(trains),
            "honest": statistics.fmean(honest),
            "trains": [round(v, 4) for v in trains],
            "honests": [round(v, 4) for v in honest],
            "curve": losses,
            "sample": sample[len(PROMPT) :],
        }
    decisions = [
        decide(rules[0], {ARMS[0]: results[False]["honests"], ARMS[1]: results[True]["honests"]},
               seed=seed),
        decide(rules[1], {ARMS[0]: results[False]["trains"], ARMS[1]: results[True]["trains"]},
               seed=seed),
    ]  # fmt: skip

    figure = Figure(figsize=(11, 3.8))
    axis, strip = figure.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    for causal, style in ((True, "-"), (False, "--")):
        name = "causal mask" if causal else "no mask (cheating)"
        axis.plot(results[causal]["curve"], style, label=f"{name}: training loss")
        axis.axhline(results[causal]["honest"], linestyle=style, color="grey", linewidth=0.8)
    axis.axhline(math.log(tokenizer.vocab_size), color="red", linewidth=0.6, label="uniform guess")
    axis.set(xlabel="step", ylabel="cross-entropy (nats/char)", yscale="log")
    axis.set_title("grey lines: honest (causal) loss on held-out text")
    axis.legend(fontsize=8)
    strip_plot(strip, decisions[0].values, ylabel="honest held-out loss (nats/char)")
    figure.tight_layout()
    save_figure(figure, out / "masking.png")

    masked, cheat = results[True], results[False]
    holds = combine(decisions)

    def quote(sample: str) -> str:
        return sample.replace("\n", " / ")[:100]

    summary = (
        f"After {steps} steps (last-20 mean, mean of {len(cheat['trains'])} seeds, each arm "
        f"at the learning rate its own validation loss chose — the cheat's computed without "
        f"the mask, as its user would see it): training loss **{cheat['train']:.3f}** without the "
        f"mask against {masked['train']:.3f} with it (nats/char; uniform guessing "
        f"{math.log(tokenizer.vocab_size):.2f}). Honest held-out loss, as generation sees it: "
        f"**{cheat['honest']:.3f}** without against {masked['honest']:.3f} with.\n\n"
        f'Greedy continuation of "{PROMPT.replace(chr(10), " / ")}":\n\n'
        f"- with the mask: `{quote(masked['sample'])}`\n"
        f"- without: `{quote(cheat['sample'])}`"
    )
    rows = [
        [name, round(r["train"], 4), round(r["honest"], 4)]
        for name, r in (("causal mask", masked), ("no mask", cheat))
    ]
    return Verdict(
        name="masking",
        title=TITLE,
        claim=CLAIM,
        holds=holds,
        summary=summary,
        columns=["model", "training loss", "honest held-out loss"],
        rows=rows,
        figure="masking.png",
        rules=[d.as_dict() for d in decisions],
        arms=[a.as_dict() for a in arms.values()],
    )
