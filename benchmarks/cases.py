"""The benchmark cases: the same model size and the same work for attnkit and each peer.

Every builder returns an :class:`~benchmarks.harness.Impl` whose ``call`` does one unit
of work the way a user of that toolkit would: for training, one optimizer update (zero
gradients, forward, label-smoothed cross-entropy, backward, clip to norm 1, AdamW step);
for decoding, one call of the toolkit's decoding function. attnkit's training call is
:func:`attnkit.training.trainer.update_step`, the function its trainer runs.

Random weights, random tokens: speed does not depend on what was learned, and nothing
has to be downloaded. Decoding is forced to produce exactly the same number of tokens on
both sides (EOS banned until the end), because a random model would otherwise stop at
different, arbitrary points.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from attnkit.config import DecoderLMConfig, Seq2SeqConfig, TrainConfig
from attnkit.decoding import beam_search, greedy_generate
from attnkit.models import build_model
from attnkit.nn.quantization import quantize_int8
from attnkit.runtime import DistributedContext
from attnkit.training.optim import build_optimizer
from attnkit.training.tasks import LanguageModelTask, TranslationTask
from attnkit.training.trainer import update_step
from benchmarks import flops
from benchmarks.harness import Impl
from benchmarks.peers import TorchSeq2Seq, hf_bart, hf_gpt2

__all__ = ["CASES", "Case"]

CPU = torch.device("cpu")


@dataclass
class Case:
    """One row group of the table: what is measured, the implementations, the targets.

    ``targets`` maps an implementation name to the least ``attnkit / that`` ratio the
    issue asks for; ``flops_per_unit`` converts work units (tokens, sentences) into
    FLOPs for the GEMM-peak fraction.
    """

    name: str
    description: str
    unit: str
    impls: dict[str, Callable[[], Impl]]
    flops_per_unit: float = 0.0
    targets: dict[str, float] = field(default_factory=dict)
    rounds: int = 5
    warmup_calls: int = 2
    memory: bool = False
    group: str = ""  # `python -m benchmarks --only GROUP` runs one group (e.g. engines)


# --------------------------------------------------------------------------- training

ENC_DEC = dict(vocab_size=8000, d_model=256, num_heads=4, num_layers=3, d_ff=1024)
ENC_DEC_BATCH, ENC_DEC_LEN = 32, 64
LABEL_SMOOTHING = 0.1


def _translation_batch(batch: int, length: int, vocab: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    src = torch.randint(3, vocab, (batch, length), generator=gen)
    tgt = torch.randint(3, vocab, (batch, length + 1), generator=gen)
    return {"src": src, "tgt": tgt[:, :-1], "labels": tgt[:, 1:]}


def _lm_batch(batch: int, length: int, vocab: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, vocab, (batch, length + 1), generator=gen)
    return {"tokens": tokens[:, :-1], "labels": tokens[:, 1:]}


def _attnkit_step(model: nn.Module, loss: Callable, batch: dict, *, label_smoothing: float):
    """One trainer update of an attnkit model on a fixed batch."""
    optimizer = build_optimizer(model, TrainConfig(lr=1e-4, weight_decay=0.01))
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    loss_fn = functools.partial(loss, label_smoothing=label_smoothing)

    def call() -> None:
        update_step(
            model,
            loss_fn,
            [batch],
            optimizer,
            scaler=scaler,
            device=CPU,
            precision="fp32",
            dist=DistributedContext(),
            grad_clip=1.0,
        )

    return call


def _peer_step(model: nn.Module, forward: Callable, batch: dict, *, label_smoothing: float):
    """One update written as a peer's documentation shows it (AdamW, default settings)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)

    def call() -> None:
        optimizer.zero_grad(set_to_none=True)
        logits = forward(model, batch)  # (B, T, V)
        loss = F.cross_entropy(
            logits.flatten(0, 1), batch["labels"].flatten(), label_smoothing=label_smoothing
        )
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    return call


def _enc_dec_config(dropout: float = 0.1) -> Seq2SeqConfig:
    cfg = ENC_DEC
    return Seq2SeqConfig(
        src_vocab_size=cfg["vocab_size"],
        tgt_vocab_size=cfg["vocab_size"],
        d_model=cfg["d_model"],
        num_heads=cfg["num_heads"],
        num_encoder_layers=cfg["num_layers"],
        num_decoder_layers=cfg["num_layers"],
        d_ff=cfg["d_ff"],
        dropout=dropout,
        activation="gelu",
        max_len=128,
    )


def _enc_dec_train(impl: str) -> Impl:
    batch = _translation_batch(ENC_DEC_BATCH, ENC_DEC_LEN, ENC_DEC["vocab_size"])
    torch.manual_seed(0)
    if impl == "attnkit":
        model = build_model(_enc_dec_config()).train()
        call = _attnkit_step(model, TranslationTask.loss, batch, label_smoothing=LABEL_SMOOTHING)
    else:
        size = dict(**ENC_DEC, dropout=0.1, max_len=128, activation="gelu")
        if impl == "torch.nn.Transformer":
            model = TorchSeq2Seq(**size).train()

            def forward(m, b):
                return m(b["src"], b["tgt"])
        else:
            model = hf_bart(**size).train()

            def forward(m, b):
                return m(input_ids=b["src"], decoder_input_ids=b["tgt"]).logits

        call = _peer_step(model, forward, batch, label_smoothing=LABEL_SMOOTHING)
    return Impl(call, work_per_call=ENC_DEC_BATCH * ENC_DEC_LEN, calls_per_round=2)


# nanoGPT's two character-level configurations (vocabulary of its Shakespeare file).
NANOGPT_CPU = dict(num_layers=4, num_heads=4, d_model=128, length=64, batch=12, dropout=0.0)
NANOGPT_SHAKESPEARE = dict(num_layers=6, num_heads=6, d_model=384, length=256, batch=8, dropout=0.2)
CHAR_VOCAB = 65


def _lm_config(size: dict, *, max_len: int | None = None) -> DecoderLMConfig:
    """GPT-2's architecture in attnkit's terms: pre-LN, GELU, learned positions, tied
    output layer, 4× feed-forward, biases; dropout on embeddings, attention weights and
    residual branches, none inside the feed-forward (as GPT-2 and nanoGPT)."""
    return DecoderLMConfig(
        vocab_size=CHAR_VOCAB,
        d_model=size["d_model"],
        num_heads=size["num_heads"],
        num_layers=size["num_layers"],
        dropout=size["dropout"],
        activation_dropout=0.0,
        max_len=max_len or size["length"],
    )


def _lm_train(impl: str, size: dict, batch_size: int | None = None) -> Impl:
    batch_size = batch_size or size["batch"]
    batch = _lm_batch(batch_size, size["length"], CHAR_VOCAB)
    torch.manual_seed(0)
    if impl.startswith("attnkit"):
        model = build_model(_lm_config(size)).train()
        call = _attnkit_step(model, LanguageModelTask.loss, batch, label_smoothing=0.0)
    else:
        model = hf_gpt2(
            vocab_size=CHAR_VOCAB,
            d_model=size["d_model"],
            num_heads=size["num_heads"],
            num_layers=size["num_layers"],
            dropout=size["dropout"],
            max_len=size["length"],
        ).train()

        def forward(m, b):
            return m(input_ids=b["tokens"]).logits

        call = _peer_step(model, forward, batch, label_smoothing=0.0)
    tokens = batch_size * size["length"]
    return Impl(call, work_per_call=tokens, calls_per_round=max(1, 8192 // tokens))


# --------------------------------------------------------------------------- decoding

PROMPT_LEN, NEW_TOKENS = 16, 256


def _greedy(impl: str, batch: int) -> Impl:
    size = NANOGPT_CPU
    prompt = torch.randint(1, CHAR_VOCAB, (batch, PROMPT_LEN), generator=torch.Generator())
    torch.manual_seed(0)
    if impl == "attnkit":
        model = build_model(_lm_config(size, max_len=512)).eval()

        def call() -> None:
            greedy_generate(model, prompt, max_new_tokens=NEW_TOKENS)
    else:
        model = hf_gpt2(
            vocab_size=CHAR_VOCAB,
            d_model=size["d_model"],
            num_heads=size["num_heads"],
            num_layers=size["num_layers"],
            dropout=0.0,
            max_len=512,
        ).eval()
        mask = torch.ones_like(prompt)

        def call() -> None:
            model.generate(
                prompt,
                attention_mask=mask,
                max_new_tokens=NEW_TOKENS,
                min_new_tokens=NEW_TOKENS,
                do_sample=False,
                pad_token_id=0,
            )

    return Impl(call, work_per_call=batch * NEW_TOKENS)


BEAM_SENTENCES, BEAM_SRC_LEN, BEAM_NEW, BEAMS = 16, 64, 64, 4


def _beam(impl: str) -> Impl:
    src = torch.randint(3, ENC_DEC["vocab_size"], (BEAM_SENTENCES, BEAM_SRC_LEN))
    torch.manual_seed(0)
    if impl.startswith("attnkit"):
        model = build_model(_enc_dec_config()).eval()
        if impl == "attnkit int8":
            model = quantize_int8(model)

        def call() -> None:
            beam_search(
                model,
                src,
                beam_size=BEAMS,
                max_len=BEAM_NEW,
                min_len=BEAM_NEW - 1,
                bos_id=1,
                eos_id=2,
                pad_id=0,
            )
    else:
        size = dict(**ENC_DEC, dropout=0.1, max_len=128, activation="gelu")
        model = hf_bart(**size).eval()

        def call() -> None:
            model.generate(
                src,
                attention_mask=torch.ones_like(src),
                num_beams=BEAMS,
                max_new_tokens=BEAM_NEW,
                min_new_tokens=BEAM_NEW,
                length_penalty=0.6,
                early_stopping=True,
            )

    return Impl(call, work_per_call=BEAM_SENTENCES)


# --------------------------------------------------------------------------- the table


def _lm_flops_per_token(size: dict, length: int) -> float:
    forward = flops.decoder_lm_forward(
        batch=1,
        length=length,
        d_model=size["d_model"],
        d_ff=4 * size["d_model"],
        num_layers=size["num_layers"],
        vocab_size=CHAR_VOCAB,
    )
    return flops.TRAIN_FACTOR * forward / length


ENC_DEC_FLOPS_PER_TOKEN = (
    flops.TRAIN_FACTOR
    * flops.encoder_decoder_forward(
        batch=1,
        src_len=ENC_DEC_LEN,
        tgt_len=ENC_DEC_LEN,
        d_model=ENC_DEC["d_model"],
        d_ff=ENC_DEC["d_ff"],
        num_layers=ENC_DEC["num_layers"],
        vocab_size=ENC_DEC["vocab_size"],
    )
    / ENC_DEC_LEN
)

CASES: dict[str, Case] = {
    case.name: case
    for case in [
        Case(
            name="enc-dec-train",
            description="encoder–decoder training step: d_model 256, 4 heads, 3+3 layers, "
            "d_ff 1024, vocab 8000, batch 32 × 64, AdamW, label smoothing 0.1",
            unit="target tok/s",
            impls={
                "attnkit": functools.partial(_enc_dec_train, "attnkit"),
                "torch.nn.Transformer": functools.partial(_enc_dec_train, "torch.nn.Transformer"),
                "HF Bart": functools.partial(_enc_dec_train, "HF Bart"),
            },
            flops_per_unit=ENC_DEC_FLOPS_PER_TOKEN,
            targets={"torch.nn.Transformer": 1.5, "HF Bart": 1.3},
            memory=True,
        ),
        Case(
            name="lm-train-cpu",
            description="decoder LM training step, nanoGPT CPU config: 4 layers, 4 heads, "
            "128 wide, block 64, batch 12",
            unit="tok/s",
            impls={
                "attnkit": functools.partial(_lm_train, "attnkit", NANOGPT_CPU),
                "HF GPT-2": functools.partial(_lm_train, "HF GPT-2", NANOGPT_CPU),
            },
            flops_per_unit=_lm_flops_per_token(NANOGPT_CPU, NANOGPT_CPU["length"]),
            targets={"HF GPT-2": 1.3},
            memory=True,
        ),
        Case(
            name="lm-train-shakespeare",
            description="decoder LM training step, nanoGPT shakespeare config: 6 layers, "
            "6 heads, 384 wide, block 256, batch 8, dropout 0.2",
            unit="tok/s",
            impls={
                "attnkit": functools.partial(_lm_train, "attnkit", NANOGPT_SHAKESPEARE),
                "HF GPT-2": functools.partial(_lm_train, "HF GPT-2", NANOGPT_SHAKESPEARE),
            },
            flops_per_unit=_lm_flops_per_token(NANOGPT_SHAKESPEARE, 256),
            targets={"HF GPT-2": 1.3},
            rounds=4,
            memory=True,
        ),
        Case(
            name="lm-train-large-batch",
            description="the same shakespeare config at batch 64 × 256, against attnkit's "
            "own batch 8 (no large-batch cliff) and HF GPT-2 at batch 64",
            unit="tok/s",
            impls={
                "attnkit": functools.partial(_lm_train, "attnkit", NANOGPT_SHAKESPEARE, 64),
                "attnkit batch 8": functools.partial(_lm_train, "attnkit", NANOGPT_SHAKESPEARE, 8),
                "HF GPT-2": functools.partial(_lm_train, "HF GPT-2", NANOGPT_SHAKESPEARE, 64),
            },
            flops_per_unit=_lm_flops_per_token(NANOGPT_SHAKESPEARE, 256),
            targets={"attnkit batch 8": 0.85},
            rounds=3,
            warmup_calls=1,
        ),
        Case(
            name="greedy-batch-1",
            description="greedy generation with KV cache, CPU config, prompt 16, "
            "256 new tokens, batch 1",
            unit="tok/s",
            impls={
                "attnkit": functools.partial(_greedy, "attnkit", 1),
                "HF generate": functools.partial(_greedy, "HF generate", 1),
            },
            targets={"HF generate": 5.0},
            warmup_calls=1,
        ),
        Case(
            name="greedy-batch-8",
            description="the same at batch 8",
            unit="tok/s",
            impls={
                "attnkit": functools.partial(_greedy, "attnkit", 8),
                "HF generate": functools.partial(_greedy, "HF generate", 8),
            },
            targets={"HF generate": 2.0},
            warmup_calls=1,
        ),
        Case(
            name="beam-4",
            description="beam search, 4 beams, encoder–decoder config above, 16 sentences "
            "of 64 tokens, 64 new tokens",
            unit="sent/s",
            impls={
                "attnkit": functools.partial(_beam, "attnkit"),
                "HF Bart generate": functools.partial(_beam, "HF Bart generate"),
            },
            targets={"HF Bart generate": 3.0},
            rounds=4,
            warmup_calls=1,
        ),
        Case(
            name="beam-4-int8",
            description="the same with attnkit's linear layers in int8 (`--int8`; not the "
            "same arithmetic as the peer: its accuracy cost is in the docs)",
            unit="sent/s",
            impls={
                "attnkit int8": functools.partial(_beam, "attnkit int8"),
                "HF Bart generate": functools.partial(_beam, "HF Bart generate"),
            },
            rounds=4,
            warmup_calls=1,
        ),
    ]
}

# The inference engines (CTranslate2, ONNX Runtime): benchmarks/engines.py.
from benchmarks.engines import engine_cases  # noqa: E402

CASES.update({case.name: case for case in engine_cases(Case)})
