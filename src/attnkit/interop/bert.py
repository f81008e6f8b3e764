"""BERT ⇄ attnkit's encoder: which config field and which weight is which.

BERT (Devlin et al. 2019) is attnkit's :class:`~attnkit.models.EncoderMLM` with token
types, a LayerNorm over the summed embeddings, post-LN layers, exact (erf) GELU, learned
absolute positions and LayerNorm ε = 1e-12 — each a config option of the encoder::

    transformers (BertModel / BertForMaskedLM)        attnkit (EncoderMLM)
    [bert.]embeddings.word_embeddings                 embedding.token
    [bert.]embeddings.position_embeddings             embedding.position
    [bert.]embeddings.token_type_embeddings           embedding.token_type
    [bert.]embeddings.LayerNorm                       embedding.norm
    [bert.]encoder.layer.{i}.attention.self.query     encoder.layers.{i}.self_attn.q_proj
                        ….attention.self.key / value  ….self_attn.k_proj / v_proj
                        ….attention.output.dense      ….self_attn.out_proj
                        ….attention.output.LayerNorm  ….self_attn_norm
                        ….intermediate.dense          ….ffn.fc1
                        ….output.dense                ….ffn.fc2
                        ….output.LayerNorm            ….ffn_norm
    cls.predictions.transform.dense                   mlm_dense
    cls.predictions.transform.LayerNorm               mlm_norm
    cls.predictions.decoder (tied) + .bias            mlm_decoder

Both sides store ``nn.Linear`` weights as ``(out, in)``: nothing is transposed. BERT's
pooler (dense + tanh over ``[CLS]``) and next-sentence head serve neither masked-word
filling nor mean-pooled sentence embeddings; an import leaves them out and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from attnkit.config import ConfigError, EncoderConfig
from attnkit.interop.variants import check_expressible
from attnkit.interop.weights import bias_or_zeros, expand_kv_heads, position_table
from attnkit.models import EncoderMLM

__all__ = [
    "BERT",
    "LEFT_OUT",
    "canonical_names",
    "has_mlm_head",
    "ties_decoder",
    "bert_config_from_encoder",
    "bert_state_from_encoder",
    "check_bert_expressible",
    "encoder_config_from_bert",
    "encoder_state_from_bert",
]

BERT = "BERT (BertForMaskedLM)"
_LAYER = (  # attnkit name in a layer, BERT name in a layer
    ("self_attn.q_proj", "attention.self.query"),
    ("self_attn.k_proj", "attention.self.key"),
    ("self_attn.v_proj", "attention.self.value"),
    ("self_attn.out_proj", "attention.output.dense"),
    ("self_attn_norm", "attention.output.LayerNorm"),
    ("ffn.fc1", "intermediate.dense"),
    ("ffn.fc2", "output.dense"),
    ("ffn_norm", "output.LayerNorm"),
)
_EMBEDDINGS = (
    ("embedding.token.weight", "embeddings.word_embeddings.weight"),
    ("embedding.position.weight", "embeddings.position_embeddings.weight"),
    ("embedding.token_type.weight", "embeddings.token_type_embeddings.weight"),
    ("embedding.norm.weight", "embeddings.LayerNorm.weight"),
    ("embedding.norm.bias", "embeddings.LayerNorm.bias"),
)
_HEAD = (
    ("mlm_dense.weight", "cls.predictions.transform.dense.weight"),
    ("mlm_dense.bias", "cls.predictions.transform.dense.bias"),
    ("mlm_norm.weight", "cls.predictions.transform.LayerNorm.weight"),
    ("mlm_norm.bias", "cls.predictions.transform.LayerNorm.bias"),
    ("mlm_decoder.bias", "cls.predictions.bias"),
)
_DECODER_WEIGHT = "cls.predictions.decoder.weight"
# Weights a BERT checkpoint may hold that attnkit's encoder has no use for, and why.
LEFT_OUT = {
    "pooler.": "the pooler (dense + tanh over [CLS], for sentence-pair classification)",
    "cls.seq_relationship.": "the next-sentence-prediction head",
}
_IGNORED = ("embeddings.position_ids",)  # a buffer some old checkpoints saved


def _pairs(num_layers: int, *, mlm_head: bool, tied: bool) -> list[tuple[str, str]]:
    """(attnkit name, BERT name without the ``bert.`` prefix) of every weight."""
    pairs = list(_EMBEDDINGS)
    for i in range(num_layers):
        for ours, theirs in _LAYER:
            for part in ("weight", "bias"):
                pairs.append(
                    (f"encoder.layers.{i}.{ours}.{part}", f"encoder.layer.{i}.{theirs}.{part}")
                )
    if mlm_head:
        pairs += _HEAD
        if not tied:
            pairs.append(("mlm_decoder.weight", _DECODER_WEIGHT))
    return pairs


# --------------------------------------------------------------------------- import


def has_mlm_head(weights: Mapping[str, Tensor]) -> bool:
    """Whether a BERT checkpoint holds the masked-word head (``BertForMaskedLM`` and
    ``BertForPreTraining`` do; ``BertModel`` and sentence-transformers models do not)."""
    return any(name.startswith("cls.predictions.") for name in weights)


def canonical_names(weights: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """A checkpoint's tensors under one naming: without the ``bert.`` prefix of the
    task models, and with the ``gamma``/``beta`` of old TensorFlow-converted LayerNorms as
    ``weight``/``bias``; ``cls.predictions.decoder.bias`` (a copy of
    ``cls.predictions.bias``) kept only if the latter is missing."""
    named: dict[str, Tensor] = {}
    for name, tensor in weights.items():
        key = name.removeprefix("bert.")
        if key.endswith("LayerNorm.gamma"):
            key = key.removesuffix("gamma") + "weight"
        elif key.endswith("LayerNorm.beta"):
            key = key.removesuffix("beta") + "bias"
        named[key] = tensor
    decoder_bias = named.pop("cls.predictions.decoder.bias", None)
    if decoder_bias is not None:
        named.setdefault("cls.predictions.bias", decoder_bias)
    return named


def ties_decoder(hf: Mapping[str, Any], weights: Mapping[str, Tensor]) -> bool:
    """Whether the checkpoint's masked-word decoder is its word embedding (BERT's default)."""
    decoder = weights.get(_DECODER_WEIGHT)
    if decoder is None or hf.get("tie_word_embeddings", True):
        return True
    embedding = weights.get("embeddings.word_embeddings.weight")
    return embedding is not None and torch.equal(decoder, embedding)


def encoder_config_from_bert(
    hf: Mapping[str, Any],
    *,
    source: str,
    mlm_head: bool,
    tied: bool,
    mask_id: int | None,
    pooling: str = "mean",
) -> EncoderConfig:
    """attnkit's encoder config for a BERT ``config.json``.

    Raises:
        ValueError: a field attnkit's encoder cannot represent, named in one line
            (``config.json: position_embedding_type='relative_key' ...``).
    """

    def refuse(key: str, why: str) -> ValueError:
        return ValueError(
            f"{source}: {key}={hf.get(key)!r} cannot be represented in attnkit's encoder: {why}"
        )

    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size"):
        if not isinstance(hf.get(key), int):
            raise ValueError(f"{source}: {key} is missing or not an integer")
    if hf.get("position_embedding_type", "absolute") != "absolute":
        raise refuse("position_embedding_type", "its positions are learned absolute ('absolute')")
    if hf.get("is_decoder", False):
        raise refuse("is_decoder", "a causal BERT is a decoder, not a bidirectional encoder")
    if hf.get("add_cross_attention", False):
        raise refuse("add_cross_attention", "the encoder has no cross-attention")
    activation = hf.get("hidden_act", "gelu")
    if activation not in ("gelu", "relu"):
        raise refuse("hidden_act", "its activations are 'gelu' (exact, erf) and 'relu'")
    if activation == "relu" and mlm_head:
        raise refuse("hidden_act", "its masked-word head uses GELU; BERT's would use 'relu'")
    attn_dropout = hf.get("attention_probs_dropout_prob", 0.1)
    try:
        return EncoderConfig(
            vocab_size=hf["vocab_size"],
            d_model=hf["hidden_size"],
            num_heads=hf["num_attention_heads"],
            num_layers=hf["num_hidden_layers"],
            d_ff=hf.get("intermediate_size", 4 * hf["hidden_size"]),
            dropout=hf.get("hidden_dropout_prob", 0.1),
            attn_dropout=attn_dropout,
            activation_dropout=0.0,  # BERT drops out after the feed-forward, not inside
            activation=activation,
            norm="layernorm",
            norm_first=False,
            norm_eps=hf.get("layer_norm_eps", 1e-12),
            positional="learned",
            max_len=hf.get("max_position_embeddings", 512),
            embed_scale=False,
            tie_embeddings=tied,
            init_std=hf.get("initializer_range", 0.02),
            pad_id=hf.get("pad_token_id", 0),
            mask_id=mask_id,
            type_vocab_size=hf.get("type_vocab_size", 2),
            embed_norm=True,
            mlm_head=mlm_head,
            pooling=pooling,
        )
    except ConfigError as error:
        raise ValueError(f"{source}: {error}") from None


def encoder_state_from_bert(
    named: Mapping[str, Tensor], model: EncoderMLM, *, source: str
) -> tuple[dict[str, Tensor], list[str]]:
    """attnkit's state dict for ``model`` from a BERT checkpoint's tensors (named as
    :func:`canonical_names` gives them), and what was left out (see ``LEFT_OUT``).

    Raises:
        ValueError: a weight is missing, has another shape, or has no counterpart
            (named in one line).
    """
    config = model.config
    expected = model.state_dict()
    state: dict[str, Tensor] = {}
    used: set[str] = set()
    for ours, theirs in _pairs(
        config.num_layers, mlm_head=config.mlm_head, tied=config.tie_embeddings
    ):
        if theirs not in named:
            raise ValueError(f"{source} has no {theirs} (attnkit's {ours})")
        tensor = named[theirs]
        if tuple(tensor.shape) != tuple(expected[ours].shape):
            raise ValueError(
                f"{source}: {theirs} is {tuple(tensor.shape)}, but config.json makes attnkit's "
                f"{ours} {tuple(expected[ours].shape)}"
            )
        state[ours] = tensor
        used.add(theirs)
    if config.tie_embeddings and config.mlm_head:
        state["mlm_decoder.weight"] = state["embedding.token.weight"]
        used.add(_DECODER_WEIGHT)
    left_out: list[str] = []
    for name in named:
        if name in used or name in _IGNORED:
            continue
        reason = next((why for prefix, why in LEFT_OUT.items() if name.startswith(prefix)), None)
        if reason is None:
            raise ValueError(f"{source}: {name} has no counterpart in attnkit's encoder")
        if reason not in left_out:
            left_out.append(reason)
    return state, left_out


# --------------------------------------------------------------------------- export


def check_bert_expressible(config: EncoderConfig) -> None:
    """Raise the one-line refusal of the first setting BERT cannot express."""
    check_expressible(
        config,
        BERT,
        pre_ln=False,
        scores=("scaled_dot",),
        activations=("gelu",) if config.mlm_head else ("gelu", "relu"),
    )
    if not config.embed_norm:
        raise ValueError(
            "model.embed_norm=false cannot be expressed as BERT: it normalises the summed "
            "embeddings (LayerNorm) before the first layer; train with model.embed_norm=true"
        )


def bert_config_from_encoder(config: EncoderConfig) -> dict[str, Any]:
    """The ``config.json`` of ``BertForMaskedLM`` (or ``BertModel`` for an encoder
    without a masked-word head) for an attnkit encoder config."""
    check_bert_expressible(config)
    attn_dropout = config.dropout if config.attn_dropout is None else config.attn_dropout
    return {
        "architectures": ["BertForMaskedLM" if config.mlm_head else "BertModel"],
        "model_type": "bert",
        "vocab_size": config.vocab_size,
        "hidden_size": config.d_model,
        "num_hidden_layers": config.num_layers,
        "num_attention_heads": config.num_heads,
        "intermediate_size": config.ff_width,
        "hidden_act": config.activation,
        "hidden_dropout_prob": config.dropout,
        "attention_probs_dropout_prob": attn_dropout,
        "max_position_embeddings": config.max_len,
        "type_vocab_size": max(config.type_vocab_size, 1),
        "layer_norm_eps": config.norm_eps,
        "initializer_range": config.init_std,
        "pad_token_id": config.pad_id,
        "position_embedding_type": "absolute",
        "tie_word_embeddings": config.tie_embeddings,
        "is_decoder": False,
        "dtype": "float32",
    }


def bert_state_from_encoder(model: EncoderMLM) -> dict[str, Tensor]:
    """BERT's tensors (``BertForMaskedLM`` names, or ``BertModel``'s without a head) for
    an attnkit encoder: grouped K/V heads written out per head, absent biases as zeros,
    no token types as one zero type vector, sinusoidal positions as their table."""
    config = model.config
    check_bert_expressible(config)
    prefix = "bert." if config.mlm_head else ""
    source = model.state_dict()
    width = config.d_model
    types = (
        model.embedding.token_type.weight.detach()
        if model.embedding.token_type is not None
        else torch.zeros(1, width)
    )
    derived = {
        "embedding.position.weight": position_table(model.embedding, config.max_len, width),
        "embedding.token_type.weight": types,
    }
    for i, layer in enumerate(model.encoder.layers):
        attn = layer.self_attn
        heads = {"num_heads": config.num_heads, "num_kv_heads": attn.num_kv_heads}
        for name, linear in (
            ("q_proj", attn.q_proj),
            ("k_proj", attn.k_proj),
            ("v_proj", attn.v_proj),
            ("out_proj", attn.out_proj),
        ):
            weight, bias = linear.weight.detach(), bias_or_zeros(linear)
            if name in ("k_proj", "v_proj"):
                weight, bias = expand_kv_heads(weight, **heads), expand_kv_heads(bias, **heads)
            derived[f"encoder.layers.{i}.self_attn.{name}.weight"] = weight
            derived[f"encoder.layers.{i}.self_attn.{name}.bias"] = bias
        for name, linear in (("fc1", layer.ffn.fc1), ("fc2", layer.ffn.fc2)):
            derived[f"encoder.layers.{i}.ffn.{name}.bias"] = bias_or_zeros(linear)
    tensors = {}
    for ours, theirs in _pairs(
        config.num_layers, mlm_head=config.mlm_head, tied=config.tie_embeddings
    ):
        name = theirs if theirs.startswith("cls.") else prefix + theirs
        tensors[name] = derived[ours] if ours in derived else source[ours]
    if config.mlm_head and not config.tie_embeddings:
        # an untied decoder is a full nn.Linear in transformers, bias included
        tensors["cls.predictions.decoder.bias"] = tensors["cls.predictions.bias"]
    return tensors
