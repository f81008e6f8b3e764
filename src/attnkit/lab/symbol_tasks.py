"""Symbol tasks and a small seeded training loop for the claims that set recurrent
encoder–decoders against Transformers (``long-range``, ``steps``, ``parallel``,
``gradients``, ``bottleneck``).

The tasks are the classics of the sequence-to-sequence papers: **copy** a string of
random symbols, or **reverse** it. They have an exact answer, need no data files, and
let an experiment choose the source length — and so the distance between reading a
symbol and writing it.

Every model is built and trained here the same way (library models, library optimizer
and schedule), so a comparison differs only in the architecture.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from attnkit.config import RNNSeq2SeqConfig, Seq2SeqConfig, TrainConfig
from attnkit.lab import placement
from attnkit.models import EncoderDecoder, RNNSeq2Seq
from attnkit.nn.losses import IGNORE_INDEX, mean_token_cross_entropy
from attnkit.training.optim import build_optimizer, learning_rate

__all__ = [
    "BOS",
    "EOS",
    "PAD",
    "SymbolTask",
    "TrainResult",
    "count_parameters",
    "make_rnn",
    "make_transformer",
    "position_accuracy",
    "train_model",
]

PAD, BOS, EOS = 0, 1, 2
FIRST_SYMBOL = 3  # symbols are ids 3, 4, …


@dataclass(frozen=True)
class SymbolTask:
    """Copy (``"copy"``), reverse (``"reverse"``) or recall the first symbol of
    (``"recall"``) strings of ``symbols`` random symbols whose length is drawn uniformly
    from ``[min_len, max_len]`` — or log-uniformly with ``log_uniform`` (as many strings
    of 2–4 symbols as of 20–40: every scale of length gets the same share). With
    ``same_length`` one length is drawn per batch, not per string: a batch costs what
    its longest string costs, so long strings then only cost the batches they are in."""

    kind: str = "reverse"
    symbols: int = 10
    min_len: int = 4
    max_len: int = 16
    log_uniform: bool = False
    same_length: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("copy", "reverse", "recall"):
            raise ValueError(f"task kind {self.kind!r} is not 'copy', 'reverse' or 'recall'")
        if not 1 <= self.min_len <= self.max_len:
            raise ValueError(f"need 1 <= min_len <= max_len, got {self.min_len}, {self.max_len}")

    @property
    def vocab_size(self) -> int:
        return FIRST_SYMBOL + self.symbols

    def batch(
        self, size: int, generator: torch.Generator, *, length: int | None = None
    ) -> dict[str, Tensor]:
        """A right-padded batch: ``src`` (symbols + EOS), ``tgt_in`` (BOS + target) and
        ``labels`` (target + EOS, ``-100`` at padding); every source ``length`` symbols
        long if given.

        Shape:
            src ``(size, L_max + 1)``; tgt_in, labels ``(size, L_max + 1)`` (``(size, 2)``
            for ``recall``); lengths ``(size,)`` of the targets.
        """
        draws = 1 if self.same_length else size
        if length is None and self.log_uniform:
            low, high = math.log(self.min_len), math.log(self.max_len + 1)
            logs = torch.rand(draws, generator=generator) * (high - low) + low
            lengths = logs.exp().floor().long().clamp(self.min_len, self.max_len).expand(size)
        elif length is None:
            lengths = torch.randint(self.min_len, self.max_len + 1, (draws,), generator=generator)
            lengths = lengths.expand(size)
        else:
            lengths = torch.full((size,), length)
        width = int(lengths.max()) + 1
        symbols = torch.randint(FIRST_SYMBOL, self.vocab_size, (size, width), generator=generator)
        real = torch.arange(width) < lengths.unsqueeze(1)  # (B, W) the symbols of each row
        src = symbols.masked_fill(~real, PAD)
        target = src.clone()
        if self.kind == "reverse":
            for row, n in enumerate(lengths.tolist()):
                target[row, :n] = src[row, :n].flip(0)
        rows = torch.arange(size)
        src[rows, lengths] = EOS
        if self.kind == "recall":  # the answer is one symbol, read length − 1 symbols ago
            lengths = torch.ones_like(lengths)
            target = torch.cat([src[:, :1], torch.zeros_like(src[:, :1])], dim=1)
            real = torch.tensor([[True, False]]).expand(size, 2)
        labels = target.masked_fill(~real, IGNORE_INDEX)
        labels[rows, lengths] = EOS
        tgt_in = torch.cat([torch.full((size, 1), BOS), target[:, :-1]], dim=1)
        return {"src": src, "tgt": tgt_in, "labels": labels, "lengths": lengths}


def make_transformer(
    task: SymbolTask,
    *,
    d_model: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    d_ff: int | None = None,
    max_len: int = 512,
    seed: int = 0,
    **overrides: Any,
) -> EncoderDecoder:
    """A small pre-LN encoder–decoder Transformer (sinusoidal positions, no dropout);
    ``overrides`` replace any :class:`~attnkit.config.Seq2SeqConfig` field (the lab's
    ablations: ``score``, ``positional``, ``norm``, ``residual`` …)."""
    torch.manual_seed(seed)
    options = dict(
        src_vocab_size=task.vocab_size,
        tgt_vocab_size=task.vocab_size,
        d_model=d_model,
        num_heads=num_heads,
        num_encoder_layers=num_layers,
        num_decoder_layers=num_layers,
        d_ff=d_ff or 2 * d_model,
        dropout=0.0,
        norm_first=True,
        max_len=max_len,
        share_embeddings=True,
        pad_id=PAD,
    )
    return EncoderDecoder(Seq2SeqConfig(**{**options, **overrides})).to(placement.device())


def make_rnn(
    task: SymbolTask,
    *,
    cell: str = "gru",
    attention: str = "bahdanau",
    hidden_size: int = 64,
    embed_dim: int = 32,
    num_layers: int = 1,
    bidirectional: bool = True,
    seed: int = 0,
) -> RNNSeq2Seq:
    """A small recurrent encoder–decoder (no dropout, shared embeddings)."""
    torch.manual_seed(seed)
    config = RNNSeq2SeqConfig(
        src_vocab_size=task.vocab_size,
        tgt_vocab_size=task.vocab_size,
        cell=cell,
        attention=attention,
        hidden_size=hidden_size,
        embed_dim=embed_dim,
        num_layers=num_layers,
        bidirectional=bidirectional,
        dropout=0.0,
        share_embeddings=True,
        pad_id=PAD,
    )
    return RNNSeq2Seq(config).to(placement.device())


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, a shared tensor counted once."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


@dataclass
class TrainResult:
    """What :func:`train_model` measured.

    Attributes:
        losses: training loss per update.
        seconds: training wall time (evaluations excluded).
        evals: ``(step, seconds, value)`` of every evaluation.
        reached: the first evaluation meeting ``target`` as ``(step, seconds)``, or ``None``.
    """

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    evals: list[tuple[int, float, float]] = field(default_factory=list)
    reached: tuple[int, float] | None = None


def train_model(
    model: nn.Module,
    task: SymbolTask,
    *,
    steps: int,
    batch_size: int = 32,
    lr: float = 3e-3,
    warmup_steps: int = 50,
    seed: int = 0,
    evaluate: Callable[[nn.Module], float] | None = None,
    eval_every: int = 50,
    target: float | None = None,
    clip_norm: float | None = 1.0,
) -> TrainResult:
    """Train with the library's AdamW and warm-up-then-constant schedule on fresh
    batches (the batch order depends on ``seed`` only, so two models see the same data).

    With ``evaluate`` (higher = better) and ``target``, training stops at the first
    evaluation that reaches ``target``. Gradients are clipped to norm ``clip_norm``
    (``None``: not clipped — clipping itself tames the instabilities some claims are
    about).
    """
    config = TrainConfig(
        steps=steps, lr=lr, warmup_steps=warmup_steps, schedule="constant", weight_decay=0.0
    )
    optimizer = build_optimizer(model, config)
    generator = torch.Generator().manual_seed(seed)
    result = TrainResult()
    model.train()
    for step in range(steps):
        batch = placement.place(task.batch(batch_size, generator), model)
        started = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config)
        loss = mean_token_cross_entropy(model(batch["src"], batch["tgt"]).logits, batch["labels"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        optimizer.step()
        result.losses.append(loss.item())  # waits for the step on a GPU: timed in full
        result.seconds += time.perf_counter() - started
        if evaluate is not None and (step + 1) % eval_every == 0:
            value = evaluate(model)
            model.train()
            result.evals.append((step + 1, result.seconds, value))
            if target is not None and value >= target:
                result.reached = (step + 1, result.seconds)
                break
    model.eval()
    return result


@torch.no_grad()
def position_accuracy(model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """Teacher-forced accuracy of every output position: how often the model's most
    likely next token is right, given the correct previous ones.

    Shape:
        → correct ``(W,)`` and counted ``(W,)`` per target position (EOS excluded).
    """
    model.eval()
    batch = placement.place(batch, model)
    logits = model(batch["src"], batch["tgt"]).logits  # (B, W, V)
    labels = batch["labels"]
    counted = (labels != IGNORE_INDEX) & (labels != EOS)  # (B, W)
    correct = (logits.argmax(-1) == labels) & counted
    return correct.sum(0).cpu(), counted.sum(0).cpu()
