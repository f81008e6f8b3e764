"""Configs of the model families, and the keyword sets they hand to ``attnkit.nn``.

Each field declares its own check in its metadata (see :mod:`attnkit.config.checks`);
only checks that relate several fields are written out, in ``_check_relations``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from attnkit.config.checks import (
    ConfigError,
    Section,
    choice,
    integer,
    number,
    positive,
    probability,
    token_id,
)

# Kept in step with attnkit.nn (a test checks), so this package stays torch-free.
POSITIONAL_SCHEMES = ("sinusoidal", "learned", "relative", "rope", "alibi", "none")
ABSOLUTE_SCHEMES = ("sinusoidal", "learned")
SCORE_FUNCTIONS = ("dot", "scaled_dot", "general", "additive")
ACTIVATIONS = ("relu", "gelu", "swiglu")
NORMS = ("layernorm", "rmsnorm", "none")
COMBINE_MODES = ("add", "concat")
RNN_CELLS = ("rnn", "lstm", "gru")
RNN_ATTENTIONS = ("none", "bahdanau", "luong")
PATCH_STEMS = ("patch", "conv")
POOLINGS = ("cls", "mean")


@dataclass(frozen=True, kw_only=True)
class ModelConfig(Section):
    """What every model family's config has: a ``kind`` (the registry key) and the
    vocabulary fields that training fills in from the tokenizer."""

    section: ClassVar[str] = "model"
    kind: ClassVar[str] = ""
    vocab_keys: ClassVar[tuple[str, ...]] = ()

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

    d_model: int = field(default=128, metadata=positive())
    num_heads: int = field(default=4, metadata=positive())
    num_kv_heads: int | None = field(default=None, metadata=positive(optional=True))
    d_ff: int | None = field(default=None, metadata=positive(optional=True))
    dropout: float = field(default=0.1, metadata=probability())
    attn_dropout: float | None = field(default=None, metadata=probability(optional=True))
    activation_dropout: float | None = field(default=None, metadata=probability(optional=True))
    activation: str = field(default="gelu", metadata=choice(ACTIVATIONS))
    norm: str = field(default="layernorm", metadata=choice(NORMS))
    norm_first: bool = True
    residual: bool = True
    qkv_proj: bool = True
    score: str = field(default="scaled_dot", metadata=choice(SCORE_FUNCTIONS))
    bias: bool = True
    positional: str = field(default="learned", metadata=choice(POSITIONAL_SCHEMES))
    pos_combine: str = field(default="add", metadata=choice(COMBINE_MODES))
    pos_dim: int | None = field(default=None, metadata=positive(optional=True))
    max_len: int = field(default=512, metadata=positive())
    relative_buckets: int = field(default=32, metadata=positive() + integer(4))
    relative_max_distance: int = field(default=128, metadata=positive())
    rope_base: float = field(default=10000.0, metadata=number(above=1))
    embed_scale: bool = False
    tie_embeddings: bool = True
    norm_eps: float = field(default=1e-5, metadata=number(above=0))
    init_std: float = field(default=0.02, metadata=number(above=0))

    @property
    def head_dim(self) -> int:
        """Width ``Dh`` of one attention head."""
        return self.d_model // self.num_heads

    @property
    def ff_width(self) -> int:
        """``d_ff`` with its default resolved."""
        return 4 * self.d_model if self.d_ff is None else self.d_ff

    def _check_relations(self) -> None:
        super()._check_relations()
        s = self.section
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

    vocab_size: int | None = field(default=None, metadata=positive(optional=True))
    num_layers: int = field(default=4, metadata=positive())
    pad_id: int | None = field(default=None, metadata=token_id("vocab_size"))
    causal: bool = True


@dataclass(frozen=True, kw_only=True)
class EncoderConfig(TransformerConfig):
    """Encoder-only (BERT-style) model with a masked-token prediction head.

    Attributes:
        vocab_size: number of tokens (set from the tokenizer when training).
        num_layers: encoder layers.
        pad_id: padding token id.
        mask_id: the ``[MASK]`` token id the model learns to fill.
        type_vocab_size: token types (BERT's segments A and B) added to the embeddings;
            0 = none. Inputs without types are all of type 0.
        embed_norm: normalise the summed embeddings (BERT's embedding LayerNorm, which a
            post-LN stack needs: its first layer sees an un-normalised input otherwise).
        mlm_head: the masked-word head; ``False`` for an encoder that only gives states
            and sentence embeddings (e.g. an imported sentence-transformers model).
        pooling: sentence embeddings: ``mean`` of the real tokens' final states
            (sentence-transformers) or the first token's (``cls``).
    """

    kind: ClassVar[str] = "encoder"
    vocab_keys: ClassVar[tuple[str, ...]] = ("vocab_size",)

    vocab_size: int | None = field(default=None, metadata=positive(optional=True))
    num_layers: int = field(default=4, metadata=positive())
    pad_id: int | None = field(default=0, metadata=token_id("vocab_size"))
    mask_id: int | None = field(default=None, metadata=token_id("vocab_size"))
    type_vocab_size: int = field(default=0, metadata=integer(0))
    embed_norm: bool = False
    mlm_head: bool = True
    pooling: str = field(default="mean", metadata=choice(POOLINGS))

    def _check_relations(self) -> None:
        super()._check_relations()
        if self.mask_id is not None and self.mask_id == self.pad_id:
            raise ConfigError(
                f"{self.section}.mask_id={self.mask_id} equals {self.section}.pad_id: the "
                f"[MASK] token would be treated as padding; give it its own id"
            )


def _check_shared_vocab(config: Any) -> None:
    """One embedding for both sides needs one vocabulary size."""
    s = config.section
    if config.share_embeddings and config.src_vocab_size != config.tgt_vocab_size:
        raise ConfigError(
            f"{s}.share_embeddings=true needs {s}.src_vocab_size ({config.src_vocab_size}) "
            f"== {s}.tgt_vocab_size ({config.tgt_vocab_size})"
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

    src_vocab_size: int | None = field(default=None, metadata=positive(optional=True))
    tgt_vocab_size: int | None = field(default=None, metadata=positive(optional=True))
    num_encoder_layers: int = field(default=3, metadata=positive())
    num_decoder_layers: int = field(default=3, metadata=positive())
    share_embeddings: bool = False
    pad_id: int = field(default=0, metadata=token_id("src_vocab_size", "tgt_vocab_size"))
    activation: str = "relu"
    norm_first: bool = False
    positional: str = "sinusoidal"
    embed_scale: bool = True

    def _check_relations(self) -> None:
        super()._check_relations()
        _check_shared_vocab(self)


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

    src_vocab_size: int | None = field(default=None, metadata=positive(optional=True))
    tgt_vocab_size: int | None = field(default=None, metadata=positive(optional=True))
    pad_id: int = field(default=0, metadata=token_id("src_vocab_size", "tgt_vocab_size"))
    cell: str = field(default="lstm", metadata=choice(RNN_CELLS))
    embed_dim: int = field(default=128, metadata=positive())
    hidden_size: int = field(default=256, metadata=positive())
    num_layers: int = field(default=2, metadata=positive())
    bidirectional: bool = True
    attention: str = field(default="bahdanau", metadata=choice(RNN_ATTENTIONS))
    score: str | None = field(default=None, metadata=choice(SCORE_FUNCTIONS, optional=True))
    input_feeding: bool = True
    dropout: float = field(default=0.1, metadata=probability())
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

    def _check_relations(self) -> None:
        super()._check_relations()
        s = self.section
        if self.score is not None and self.attention != "luong":
            raise ConfigError(
                f"{s}.score={self.score!r} applies to {s}.attention='luong' only "
                f"(bahdanau is additive, none has no score); remove {s}.score"
            )
        if self.bidirectional and self.hidden_size % 2:
            raise ConfigError(
                f"{s}.hidden_size={self.hidden_size} must be even with {s}.bidirectional="
                f"true: each direction gets half"
            )
        _check_shared_vocab(self)
        if self.tie_embeddings and self.embed_dim != self.hidden_size:
            raise ConfigError(
                f"{s}.tie_embeddings=true needs {s}.embed_dim ({self.embed_dim}) == "
                f"{s}.hidden_size ({self.hidden_size})"
            )


def _check_image(config: Any) -> None:
    """How a vision config's image, patches and positions fit together."""
    s = config.section
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

    num_classes: int | None = field(default=None, metadata=positive(optional=True))
    image_height: int = field(default=28, metadata=positive())
    image_width: int = field(default=28, metadata=positive())
    channels: int = field(default=1, metadata=positive())
    patch_size: int = field(default=4, metadata=positive())
    stem: str = field(default="patch", metadata=choice(PATCH_STEMS))
    pooling: str = field(default="cls", metadata=choice(POOLINGS))
    num_layers: int = field(default=6, metadata=positive())

    def _check_relations(self) -> None:
        super()._check_relations()
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

    tgt_vocab_size: int | None = field(default=None, metadata=positive(optional=True))
    pad_id: int = field(default=0, metadata=token_id("tgt_vocab_size"))
    image_height: int = field(default=28, metadata=positive())
    image_width: int = field(default=84, metadata=positive())
    channels: int = field(default=1, metadata=positive())
    patch_size: int = field(default=4, metadata=positive())
    stem: str = field(default="conv", metadata=choice(PATCH_STEMS))
    num_encoder_layers: int = field(default=2, metadata=integer(0))
    num_decoder_layers: int = field(default=2, metadata=positive())
    max_len: int = 64

    def _check_relations(self) -> None:
        super()._check_relations()
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
