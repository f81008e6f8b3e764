"""Export an attnkit run to CTranslate2, the OpenNMT project's inference engine.

``export_ctranslate2(RUN, out=DIR)`` writes a model directory that
``ctranslate2.Translator`` (encoder–decoder) or ``ctranslate2.Generator`` (decoder-only
LM) loads. It is written with CTranslate2's own spec API: :class:`AttnkitConverter`
is a ``ctranslate2.converters.Converter`` whose ``_load()`` fills a
``TransformerSpec`` / ``TransformerDecoderModelSpec`` from attnkit's weights::

    attnkit                                  CTranslate2 spec
    *_embedding.token (· √D if embed_scale)  embeddings.weight (scale_embeddings)
    absolute positions (learned, sinusoids)  position_encodings.encodings (a table)
    layers.{i}.self_attn.q/k/v_proj          layer[i].self_attention.linear[0] (fused Q/K/V)
    layers.{i}.self_attn.out_proj            layer[i].self_attention.linear[1]
    layers.{i}.cross_attn.q_proj             layer[i].attention.linear[0]
    layers.{i}.cross_attn.k/v_proj           layer[i].attention.linear[1] (fused K/V)
    layers.{i}.cross_attn.out_proj           layer[i].attention.linear[2]
    layers.{i}.self_attn_norm / …_norm       ….layer_norm of each sub-layer (pre or post)
    layers.{i}.ffn.fc1 / gate / fc2          ffn.linear_0 / linear_0_noact / linear_1
    final_norm (pre-LN)                      layer_norm
    output_proj / lm_head                    decoder.projection

The vocabulary is the run's tokenizer, one string per id (:func:`vocabulary`), so
attnkit's tokenizer does the text and CTranslate2 the decoding. A variant the engine
has no place for is refused with one line naming the setting, before anything is
written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from attnkit.config import TransformerConfig
from attnkit.interop.variants import refusal
from attnkit.interop.weights import bias_or_zeros, expand_kv_heads, position_table
from attnkit.protocols import Tokenizer
from attnkit.training.rundir import LoadedRun, load_run

__all__ = [
    "CTRANSLATE2",
    "QUANTIZATIONS",
    "AttnkitConverter",
    "check_ctranslate2_expressible",
    "export_ctranslate2",
    "import_engine",
    "vocabulary",
]

CTRANSLATE2 = "CTranslate2"
# What CTranslate2's converters accept as weight types (None = keep float32).
QUANTIZATIONS = (
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
)
KINDS = ("seq2seq", "decoder_lm")
# Rows of the position table for schemes that have no length limit of their own: what
# the engine can read and write at most.
MIN_POSITIONS = 1024


def import_engine(module: str) -> Any:
    """``import module`` (``ctranslate2``, ``onnxruntime``, ``onnx``), or a one-line
    ``OSError`` that says which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise OSError(
            f"{module} is not installed: the inference engines are an optional extra, "
            f"pip install 'attnkit[engines]'"
        ) from None


@dataclass(frozen=True)
class ExportedEngineModel:
    """What an engine export wrote: the folder, the engine's model class, the files."""

    directory: Path
    architecture: str
    files: list[str]


def check_ctranslate2_expressible(config: TransformerConfig) -> None:
    """Raise the one-line refusal of the first setting CTranslate2 cannot express.

    CTranslate2's Transformer has learned Q/K/V, residuals, LayerNorm or RMSNorm before
    (pre-LN) or after (post-LN) each sub-layer, ReLU/GELU/SwiGLU, the scaled dot product
    (or an unscaled one, through its query scale), and absolute positions added to the
    embeddings or RoPE (rotate-half) inside attention.
    """
    positional = config.positional
    if positional not in ("learned", "sinusoidal", "none", "rope"):
        raise refusal(
            config,
            "positional",
            CTRANSLATE2,
            f"its {positional} position bias is not attnkit's: it takes absolute positions "
            f"(learned, sinusoidal) or rope",
        )
    checks = (
        ("pos_combine", config.pos_combine != "add", "it adds positions to the tokens"),
        ("norm", config.norm == "none", "its layers are normalised (layernorm or rmsnorm)"),
        ("residual", not config.residual, "its layers have residual connections"),
        ("qkv_proj", not config.qkv_proj, "its attention learns Q/K/V projections"),
        (
            "score",
            config.score not in ("scaled_dot", "dot"),
            "its attention score is the (scaled) dot product",
        ),
        ("causal", not getattr(config, "causal", True), "its decoder self-attention is causal"),
    )
    for key, fails, why in checks:
        if fails:
            raise refusal(config, key, CTRANSLATE2, why)


def vocabulary(tokenizer: Tokenizer) -> list[str]:
    """One distinct string per token id, for CTranslate2's vocabulary file: special
    tokens by name (``<pad>``, ``<bos>``, ``<eos>``, ``<unk>``), others as the text they
    decode to; an empty or repeated piece (a partial byte of byte-level BPE) is written
    ``<id N>``. attnkit maps ids ↔ strings with this same list, so the strings only
    need to be distinct."""
    names = {
        getattr(tokenizer, attr, None): name
        for attr, name in (
            ("pad_id", "<pad>"),
            ("bos_id", "<bos>"),
            ("eos_id", "<eos>"),
            ("unk_id", "<unk>"),
            ("mask_id", "[MASK]"),
        )
    }
    words, seen = [], set()
    for index in range(tokenizer.vocab_size):
        word = names.get(index)
        if word is None:
            try:
                word = tokenizer.decode([index])
            except (ValueError, KeyError):
                word = ""
        if not word or word in seen:
            word = f"<id {index}>"
        seen.add(word)
        words.append(word)
    return words


def _numpy(tensor: Tensor) -> Any:
    return tensor.detach().float().contiguous().numpy()


def _linear(spec: Any, weight: Tensor, bias: Tensor | None) -> None:
    spec.weight = _numpy(weight)
    if bias is not None:
        spec.bias = _numpy(bias)


def _norm(spec: Any, norm: nn.Module) -> None:
    spec.gamma = _numpy(norm.weight)
    if getattr(norm, "bias", None) is not None and hasattr(spec, "beta"):
        spec.beta = _numpy(norm.bias)


def _set_attention(spec: Any, attn: nn.Module, num_heads: int, *, cross: bool) -> None:
    """Q/K/V (grouped K/V heads written out per head: exact), fused as CTranslate2 wants."""
    heads = {"num_heads": num_heads, "num_kv_heads": attn.num_kv_heads}
    bias = attn.q_proj.bias is not None
    q_w, q_b = attn.q_proj.weight.detach(), bias_or_zeros(attn.q_proj)
    kv_w = [expand_kv_heads(p.weight.detach(), **heads) for p in (attn.k_proj, attn.v_proj)]
    kv_b = [expand_kv_heads(bias_or_zeros(p), **heads) for p in (attn.k_proj, attn.v_proj)]
    if cross:
        _linear(spec.linear[0], q_w, q_b if bias else None)
        _linear(spec.linear[1], torch.cat(kv_w), torch.cat(kv_b) if bias else None)  # (2D, D)
    else:
        _linear(spec.linear[0], torch.cat([q_w, *kv_w]), torch.cat([q_b, *kv_b]) if bias else None)
    _linear(spec.linear[-1], attn.out_proj.weight, attn.out_proj.bias)
    if attn.score_name == "dot":
        import numpy as np

        spec.queries_scale = np.float32(1.0)  # no ÷√Dh (CTranslate2's default scale)


def _set_layer(spec: Any, layer: nn.Module, num_heads: int) -> None:
    _set_attention(spec.self_attention, layer.self_attn, num_heads, cross=False)
    _norm(spec.self_attention.layer_norm, layer.self_attn_norm)
    if layer.cross_attn is not None:
        _set_attention(spec.attention, layer.cross_attn, num_heads, cross=True)
        _norm(spec.attention.layer_norm, layer.cross_attn_norm)
    ffn = layer.ffn
    _linear(spec.ffn.linear_0, ffn.fc1.weight, ffn.fc1.bias)
    if ffn.gate is not None:
        _linear(spec.ffn.linear_0_noact, ffn.gate.weight, ffn.gate.bias)
    _linear(spec.ffn.linear_1, ffn.fc2.weight, ffn.fc2.bias)
    _norm(spec.ffn.layer_norm, layer.ffn_norm)


def _set_stack(spec: Any, stack: nn.Module, embedding: nn.Module, config: Any) -> None:
    """Embeddings, positions, layers and final norm of one encoder or decoder stack."""
    # an encoder spec has a list of source embeddings (attnkit: one)
    embeddings = spec.embeddings[0] if isinstance(spec.embeddings, list) else spec.embeddings
    embeddings.weight = _numpy(embedding.token.weight)
    spec.scale_embeddings = bool(config.embed_scale)
    # With RoPE a decoder spec has no position table; an encoder spec still adds one
    # (sinusoids unless given): zeros, as attnkit adds nothing there.
    if hasattr(spec, "position_encodings"):
        rows = config.max_len
        if config.positional != "learned":
            rows = max(rows, MIN_POSITIONS)
        spec.position_encodings.encodings = _numpy(position_table(embedding, rows, config.d_model))
    for layer_spec, layer in zip(spec.layer, stack.layers, strict=True):
        _set_layer(layer_spec, layer, config.num_heads)
    if stack.final_norm is not None:
        _norm(spec.layer_norm, stack.final_norm)


def _stack_options(config: Any) -> dict[str, Any]:
    """The spec arguments that every attnkit Transformer stack sets."""
    from ctranslate2.specs import common_spec

    activation = {
        "relu": common_spec.Activation.RELU,
        "gelu": common_spec.Activation.GELU,  # exact (erf) GELU, as attnkit's
        "swiglu": common_spec.Activation.SWISH,  # silu(fc1 x) · gate x
    }[config.activation]
    options: dict[str, Any] = {
        "pre_norm": config.norm_first,
        "activation": activation,
        "ffn_glu": config.activation == "swiglu",
        "rms_norm": config.norm == "rmsnorm",
    }
    if config.positional == "rope":
        # attnkit rotates channel pairs (i, i + Dh/2): the "rotate-half" layout
        options.update(rotary_dim=0, rotary_interleave=False, rotary_base=config.rope_base)
    return options


class AttnkitConverter:
    """Builds the CTranslate2 spec of a loaded attnkit run (see the module's table).

    A subclass of ``ctranslate2.converters.Converter`` made when first used (so that
    importing attnkit never needs the engine): construct it with
    :meth:`AttnkitConverter.create`.
    """

    @staticmethod
    def create(run: LoadedRun) -> Any:
        """A ``ctranslate2.converters.Converter`` for ``run``.

        Raises:
            ValueError: the run's family or one of its settings has no CTranslate2
                counterpart (named).
            OSError: ``ctranslate2`` is not installed.
        """
        import_engine("ctranslate2")
        from ctranslate2.converters import Converter

        kind = run.config.model.kind
        if kind not in KINDS:
            raise ValueError(
                f"{run.run_dir.root} holds a {kind!r} model: CTranslate2 runs encoder–decoder "
                f"Transformers (seq2seq) and decoder-only language models (decoder_lm); "
                f"export --format onnx takes single-forward models"
            )
        check_ctranslate2_expressible(run.config.model)

        class _Converter(Converter):
            def _load(self) -> Any:
                return _build_spec(run)

        return _Converter()


def _build_spec(run: LoadedRun) -> Any:
    from ctranslate2 import specs

    model, config = run.model, run.config.model
    options = _stack_options(config)
    # K/V heads are written out per head (exact), so every spec sees full heads.
    if config.kind == "decoder_lm":
        decoder = specs.TransformerDecoderSpec(
            config.num_layers, config.num_heads, with_encoder_attention=False, **options
        )
        spec = specs.TransformerDecoderModelSpec(decoder)
        _set_stack(spec.decoder, model.decoder, model.embedding, config)
        _linear(spec.decoder.projection, model.lm_head.weight, None)
        words = vocabulary(run.tokenizer)
        spec.register_vocabulary(words)
        _set_special_tokens(spec.config, run.tokenizer, words)
    else:
        encoder = specs.TransformerEncoderSpec(
            config.num_encoder_layers,
            config.num_heads,
            **options,
        )
        decoder = specs.TransformerDecoderSpec(
            config.num_decoder_layers, config.num_heads, **options
        )
        spec = specs.TransformerSpec(encoder, decoder)
        _set_stack(spec.encoder, model.encoder, model.src_embedding, config)
        _set_stack(spec.decoder, model.decoder, model.tgt_embedding, config)
        _linear(spec.decoder.projection, model.output_proj.weight, None)
        spec.register_source_vocabulary(vocabulary(run.source_tokenizer))
        words = vocabulary(run.tokenizer)
        spec.register_target_vocabulary(words)
        _set_special_tokens(spec.config, run.tokenizer, words)
        spec.config.decoder_start_token = words[run.tokenizer.bos_id]
    spec.config.layer_norm_epsilon = config.norm_eps
    return spec


def _set_special_tokens(spec_config: Any, tokenizer: Tokenizer, words: Sequence[str]) -> None:
    """Name the special tokens in CTranslate2's config (it finds them by string)."""
    for key, attr in (("bos_token", "bos_id"), ("eos_token", "eos_id"), ("unk_token", "unk_id")):
        index = getattr(tokenizer, attr, None)
        if index is not None:
            setattr(spec_config, key, words[index])
    if getattr(tokenizer, "unk_id", None) is None:
        # CTranslate2 appends a missing unknown token to the vocabulary, one row past the
        # output layer; attnkit never hands it an unknown string, so any entry will do.
        spec_config.unk_token = words[0]


def export_ctranslate2(
    run_dir: str | Path | LoadedRun,
    out: str | Path,
    *,
    quantization: str | None = None,
) -> ExportedEngineModel:
    """Write the best model of the run ``run_dir`` (or a loaded run) as a CTranslate2
    model directory ``out`` (new, or empty), its weights stored as ``quantization``
    (``int8``, ``int8_float32``, …, ``float32``; default: float32).

    Raises:
        ValueError: a family or setting CTranslate2 cannot express (named), an unknown
            ``quantization``, or ``out`` is not empty.
        OSError: ``ctranslate2`` is not installed (the one line names the extra).
    """
    if quantization is not None and quantization not in QUANTIZATIONS:
        raise ValueError(
            f"quantization={quantization!r} is not a CTranslate2 weight type: choose one of "
            f"{', '.join(QUANTIZATIONS)}"
        )
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"out={str(out)!r} exists and is not an empty folder: pass a new one")
    run = run_dir if isinstance(run_dir, LoadedRun) else load_run(run_dir)
    converter = AttnkitConverter.create(run)
    # Written beside out and moved in place at the end: never a half-written directory.
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        converter.convert(str(staging), quantization=quantization, force=True)
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    architecture = "Generator" if run.config.model.kind == "decoder_lm" else "Translator"
    return ExportedEngineModel(out, f"ctranslate2.{architecture}", sorted(os.listdir(out)))
