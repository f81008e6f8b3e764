"""Typed, frozen configuration of the model families.

Defaults live only here. Every value is checked in ``__post_init__``; a bad value raises
a :class:`ConfigError` that names the dotted key and says what is allowed, e.g.
``model.num_heads=5 does not divide model.d_model=128``.

This module imports no torch, so configs can be read and checked anywhere.
"""

from __future__ import annotations

import difflib
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, ClassVar

__all__ = [
    "MODEL_CONFIGS",
    "ConfigError",
    "DecoderLMConfig",
    "EncoderConfig",
    "Seq2SeqConfig",
    "TransformerConfig",
    "config_from_dict",
    "config_to_dict",
    "embedding_options",
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


def _positive(section: str, key: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{section}.{key}={value!r} must be a positive integer")


def _probability(section: str, key: str, value: Any) -> None:
    if not isinstance(value, int | float) or not 0.0 <= value < 1.0:
        raise ConfigError(f"{section}.{key}={value!r} must be a probability in [0, 1)")


@dataclass(frozen=True, kw_only=True)
class TransformerConfig:
    """Options shared by every Transformer family (widths, heads, norms, positions).

    Attributes:
        d_model: model width ``D``.
        num_heads: attention heads; must divide ``d_model``.
        num_kv_heads: key/value heads for grouped-query attention (default: num_heads).
        d_ff: feed-forward width (default ``4 · d_model``).
        dropout: dropout on embeddings and sub-layer outputs.
        attn_dropout: dropout on attention weights (default: dropout).
        activation: ``relu`` | ``gelu`` | ``swiglu``.
        norm: ``layernorm`` | ``rmsnorm`` | ``none``.
        norm_first: pre-LN (``True``) or post-LN as in the paper (``False``).
        residual: residual connections (turn off only for experiments).
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
    activation: str = "gelu"
    norm: str = "layernorm"
    norm_first: bool = True
    residual: bool = True
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
        _probability(s, "dropout", self.dropout)
        if self.attn_dropout is not None:
            _probability(s, "attn_dropout", self.attn_dropout)
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

    def _check_token_id(self, key: str, vocab_key: str) -> None:
        value, vocab = getattr(self, key), getattr(self, vocab_key)
        if value is not None and not (isinstance(value, int) and 0 <= value < vocab):
            raise ConfigError(
                f"{self.section}.{key}={value!r} must be a token id in [0, "
                f"{self.section}.{vocab_key}={vocab})"
            )


@dataclass(frozen=True, kw_only=True)
class DecoderLMConfig(TransformerConfig):
    """Decoder-only (GPT-style) language model.

    Attributes:
        vocab_size: number of tokens.
        num_layers: decoder layers.
        pad_id: padding token id, if batches are padded (default: none).
    """

    kind: ClassVar[str] = "decoder_lm"

    vocab_size: int
    num_layers: int = 4
    pad_id: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self.section, "vocab_size", self.vocab_size)
        _positive(self.section, "num_layers", self.num_layers)
        self._check_token_id("pad_id", "vocab_size")


@dataclass(frozen=True, kw_only=True)
class EncoderConfig(TransformerConfig):
    """Encoder-only (BERT-style) model with a masked-token prediction head.

    Attributes:
        vocab_size: number of tokens.
        num_layers: encoder layers.
        pad_id: padding token id.
        mask_id: the ``[MASK]`` token id the model learns to fill.
    """

    kind: ClassVar[str] = "encoder"

    vocab_size: int
    num_layers: int = 4
    pad_id: int | None = 0
    mask_id: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive(self.section, "vocab_size", self.vocab_size)
        _positive(self.section, "num_layers", self.num_layers)
        self._check_token_id("pad_id", "vocab_size")
        self._check_token_id("mask_id", "vocab_size")


@dataclass(frozen=True, kw_only=True)
class Seq2SeqConfig(TransformerConfig):
    """Encoder–decoder Transformer (Vaswani et al. 2017). Defaults follow the paper:
    post-LN, ReLU, sinusoidal positions, embeddings scaled by √d_model.

    Attributes:
        src_vocab_size, tgt_vocab_size: vocabularies (equal when sharing embeddings).
        num_encoder_layers, num_decoder_layers: stack depths.
        share_embeddings: one token embedding for source and target.
        pad_id: padding token id (both sides).
    """

    kind: ClassVar[str] = "seq2seq"

    src_vocab_size: int
    tgt_vocab_size: int
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
        for key in ("src_vocab_size", "tgt_vocab_size", "num_encoder_layers", "num_decoder_layers"):
            _positive(s, key, getattr(self, key))
        if self.share_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise ConfigError(
                f"{s}.share_embeddings=true needs {s}.src_vocab_size ({self.src_vocab_size}) "
                f"== {s}.tgt_vocab_size ({self.tgt_vocab_size})"
            )
        self._check_token_id("pad_id", "src_vocab_size")
        self._check_token_id("pad_id", "tgt_vocab_size")


MODEL_CONFIGS: dict[str, type[TransformerConfig]] = {
    cls.kind: cls for cls in (DecoderLMConfig, EncoderConfig, Seq2SeqConfig)
}


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
        "activation": config.activation,
        "norm": config.norm,
        "norm_first": config.norm_first,
        "norm_eps": config.norm_eps,
        "residual": config.residual,
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
