"""Benchmark cases for the inference engines (``python -m benchmarks --only engines``).

The attnkit model of each case is written as a run directory and converted the way a
user's run is (:mod:`attnkit.interop.engines`): CTranslate2 for the greedy and beam
cases, ONNX Runtime for the ViT. The first implementation of each case is the engine,
so the ratios read "engine ÷ peer"; attnkit's own PyTorch decoding is one of the peers.
Every engine uses the same thread count as PyTorch (``--threads``, 2 by default here).
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import torch

from attnkit.config import DataConfig, RunConfig, VisionTransformerConfig
from attnkit.data.tokenizers import CharTokenizer, WordTokenizer
from attnkit.evaluation.images import classify_images
from attnkit.interop.engines import ct2_model, onnx_classify
from attnkit.models import build_model
from attnkit.training.checkpoint import save_checkpoint
from attnkit.training.rundir import LoadedRun, RunDir, load_run
from benchmarks.harness import Impl

__all__ = ["ENGINE_CASES"]

_FOLDERS: list[tempfile.TemporaryDirectory] = []  # the runs live as long as the process


def _as_run(model: torch.nn.Module, config, tokenizer=None, classes=None) -> LoadedRun:
    """``model`` saved as a run directory and loaded back, as a user's run would be."""
    folder = tempfile.TemporaryDirectory(prefix="attnkit-bench-")
    _FOLDERS.append(folder)
    root = Path(folder.name)
    RunDir(root).write_config(RunConfig(model=config, data=DataConfig()))
    if tokenizer is not None:
        tokenizer.save(root / "tokenizer.json")
    if classes is not None:
        import json

        (root / "classes.json").write_text(json.dumps({"classes": classes}))
    save_checkpoint(root, step=1, model=model, optimizer=None, trainer_state={"step": 1})
    return load_run(root)


def _lm_run() -> LoadedRun:
    from benchmarks.cases import CHAR_VOCAB, NANOGPT_CPU, _lm_config

    torch.manual_seed(0)
    config = _lm_config(NANOGPT_CPU, max_len=512)
    chars = [chr(33 + i) for i in range(CHAR_VOCAB)]
    return _as_run(build_model(config).eval(), config, CharTokenizer(chars))


def _translator_run() -> LoadedRun:
    from benchmarks.cases import ENC_DEC, _enc_dec_config

    torch.manual_seed(0)
    config = _enc_dec_config()
    specials = ("<pad>", "<bos>", "<eos>")  # <unk> comes fourth: 8000 ids in all
    words = [f"w{i}" for i in range(ENC_DEC["vocab_size"] - len(specials) - 1)]
    tokenizer = WordTokenizer(words, specials=specials)
    assert tokenizer.vocab_size == ENC_DEC["vocab_size"]
    return _as_run(build_model(config).eval(), config, tokenizer)


def _ct2_greedy(quantization: str | None, batch: int) -> Impl:
    from benchmarks.cases import CHAR_VOCAB, NEW_TOKENS, PROMPT_LEN

    run = _lm_run()
    engine = ct2_model(run, quantization=quantization)
    prompt = torch.randint(1, CHAR_VOCAB, (batch, PROMPT_LEN), generator=torch.Generator())
    tokens = [[engine.target_words[i] for i in row] for row in prompt.tolist()]

    def call() -> list:
        return engine.engine.generate_batch(
            tokens,
            max_length=NEW_TOKENS,
            sampling_topk=1,
            end_token=[],  # never stop early: exactly NEW_TOKENS, as the peers
            include_prompt_in_result=False,
        )

    produced = call()[0].sequences_ids[0]
    assert len(produced) == NEW_TOKENS, f"CTranslate2 produced {len(produced)} tokens"
    return Impl(call, work_per_call=batch * NEW_TOKENS)


def _ct2_beam(quantization: str | None) -> Impl:
    from benchmarks.cases import BEAM_NEW, BEAM_SENTENCES, BEAM_SRC_LEN, BEAMS, ENC_DEC

    run = _translator_run()
    engine = ct2_model(run, quantization=quantization)
    src = torch.randint(3, ENC_DEC["vocab_size"], (BEAM_SENTENCES, BEAM_SRC_LEN))
    sources = [[engine.source_words[i] for i in row] for row in src.tolist()]

    def call() -> list:
        return engine.engine.translate_batch(
            sources,
            beam_size=BEAMS,
            length_penalty=0.6,
            max_decoding_length=BEAM_NEW,
            min_decoding_length=BEAM_NEW,  # the same number of tokens as the peers
            max_input_length=0,
        )

    produced = call()[0].hypotheses[0]
    assert len(produced) == BEAM_NEW, f"CTranslate2 produced {len(produced)} tokens"
    return Impl(call, work_per_call=BEAM_SENTENCES)


# --------------------------------------------------------------------------- ViT

VIT = dict(
    image_height=28, image_width=28, patch_size=4, d_model=64, num_heads=4, num_layers=6, d_ff=128
)
VIT_BATCH = 64
VIT_CLASSES = [f"class {i}" for i in range(10)]


def _vit(impl: str) -> Impl:
    images = torch.randint(0, 256, (VIT_BATCH, 1, 28, 28), dtype=torch.uint8)
    torch.manual_seed(0)
    if impl.startswith("attnkit"):
        config = VisionTransformerConfig(num_classes=10, dropout=0.0, **VIT)
        run = _as_run(build_model(config).eval(), config, classes=VIT_CLASSES)
        if impl == "attnkit ONNX Runtime":
            onnx_classify(run, images[:1])  # export and load outside the timing

            def call() -> object:
                return onnx_classify(run, images)
        else:

            def call() -> object:
                with torch.inference_mode():
                    return classify_images(run.model, images)
    else:
        from transformers import ViTConfig, ViTForImageClassification

        from attnkit.data.images import normalize_images

        hf = ViTForImageClassification(
            ViTConfig(
                image_size=28,
                patch_size=VIT["patch_size"],
                num_channels=1,
                hidden_size=VIT["d_model"],
                num_hidden_layers=VIT["num_layers"],
                num_attention_heads=VIT["num_heads"],
                intermediate_size=VIT["d_ff"],
                num_labels=10,
                hidden_dropout_prob=0.0,
                attention_probs_dropout_prob=0.0,
            )
        ).eval()

        def call() -> object:
            with torch.inference_mode():
                return hf(pixel_values=normalize_images(images).float()).logits.softmax(-1)

    return Impl(call, work_per_call=VIT_BATCH, calls_per_round=8)


def _attnkit_greedy(batch: int) -> Impl:
    from benchmarks.cases import _greedy

    return _greedy("attnkit", batch)


def _attnkit_beam() -> Impl:
    from benchmarks.cases import _beam

    return _beam("attnkit")


def _peer(name: str, *args) -> Impl:
    from benchmarks import cases

    return {"greedy": cases._greedy, "beam": cases._beam}[name](*args)


def engine_cases(case_class) -> list:
    """The engine cases, as ``benchmarks.cases.Case`` objects (passed in: no import cycle)."""
    greedy = [
        case_class(
            name=f"ct2-greedy-batch-{batch}{suffix}",
            description=f"greedy generation on CTranslate2 {label}, the CPU LM config, "
            f"prompt 16, 256 new tokens, batch {batch}",
            unit="tok/s",
            impls={
                f"CTranslate2 {label}": functools.partial(_ct2_greedy, quantization, batch),
                "HF generate": functools.partial(_peer, "greedy", "HF generate", batch),
                "attnkit PyTorch": functools.partial(_attnkit_greedy, batch),
            },
            targets={"HF generate": 5.0} if batch == 1 else {},
            warmup_calls=1,
            group="engines",
        )
        for quantization, label, suffix in ((None, "fp32", ""), ("int8", "int8", "-int8"))
        for batch in (1, 8)
    ]
    beam = [
        case_class(
            name=f"ct2-beam-4{suffix}",
            description=f"beam search on CTranslate2 {label}, 4 beams, the encoder–decoder "
            f"config, 16 sentences of 64 tokens, 64 new tokens",
            unit="sent/s",
            impls={
                f"CTranslate2 {label}": functools.partial(_ct2_beam, quantization),
                "HF Bart generate": functools.partial(_peer, "beam", "HF Bart generate"),
                "attnkit PyTorch": _attnkit_beam,
            },
            targets={"HF Bart generate": 3.0 if quantization is None else 5.0},
            rounds=4,
            warmup_calls=1,
            group="engines",
        )
        for quantization, label, suffix in ((None, "fp32", ""), ("int8", "int8", "-int8"))
    ]
    vit = case_class(
        name="onnx-vit-classify",
        description="ViT classification on ONNX Runtime: 28×28 images, 4×4 patches, 6 layers, "
        "64 wide, batch 64",
        unit="img/s",
        impls={
            "ONNX Runtime": functools.partial(_vit, "attnkit ONNX Runtime"),
            "HF ViT": functools.partial(_vit, "HF ViT"),
            "attnkit PyTorch": functools.partial(_vit, "attnkit PyTorch"),
        },
        rounds=5,
        warmup_calls=2,
        group="engines",
    )
    return [*greedy, *beam, vit]


ENGINE_CASES = engine_cases
