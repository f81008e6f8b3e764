"""GPT-2 ⇄ attnkit's decoder-only language model: which config field and weight is which.

GPT-2 (Radford et al. 2019) is attnkit's :class:`~attnkit.models.DecoderLM` with learned
positions, pre-LN layers, a final LayerNorm, biases and tied embeddings::

    transformers (GPT2LMHeadModel)          attnkit (DecoderLM)
    transformer.wte / wpe                   embedding.token / embedding.position
    transformer.h.{i}.ln_1                  decoder.layers.{i}.self_attn_norm
    transformer.h.{i}.attn.c_attn           ….self_attn.q_proj, k_proj, v_proj (one matrix)
    transformer.h.{i}.attn.c_proj           ….self_attn.out_proj
    transformer.h.{i}.ln_2                  ….ffn_norm
    transformer.h.{i}.mlp.c_fc / c_proj     ….ffn.fc1 / fc2
    transformer.ln_f                        decoder.final_norm
    lm_head (tied to wte)                   lm_head (tied to embedding.token)

GPT-2's linear layers are ``Conv1D`` modules, which compute ``x @ W + b`` with ``W``
stored ``(in, out)``: the transpose of ``nn.Linear``'s ``(out, in)``. ``c_attn`` holds the
query, key and value projections side by side, ``(D, 3·D)``.

GPT-2's ``"gelu"`` is the exact (erf) GELU attnkit uses; the original checkpoints use
``"gelu_new"`` (the tanh approximation), which attnkit does not have, so they are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from attnkit.config import ConfigError, DecoderLMConfig
from attnkit.interop.variants import check_expressible, refusal
from attnkit.interop.weights import bias_or_zeros, expand_kv_heads, position_table
from attnkit.models import DecoderLM

__all__ = [
    "GPT2",
    "check_gpt2_expressible",
    "decoder_config_from_gpt2",
    "decoder_state_from_gpt2",
    "gpt2_config_from_decoder",
    "gpt2_state_from_decoder",
]

GPT2 = "GPT-2 (GPT2LMHeadModel)"
_NORMS = (("self_attn_norm", "ln_1"), ("ffn_norm", "ln_2"))
_CONV1D = (
    ("self_attn.out_proj", "attn.c_proj"),
    ("ffn.fc1", "mlp.c_fc"),
    ("ffn.fc2", "mlp.c_proj"),
)
_IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias")  # causal-mask buffers of old saves


# --------------------------------------------------------------------------- export


def check_gpt2_expressible(config: DecoderLMConfig) -> None:
    """Raise the one-line refusal of the first setting GPT-2 cannot express."""
    check_expressible(
        config,
        GPT2,
        pre_ln=True,
        scores=("scaled_dot", "dot"),
        activations=("gelu", "relu"),
    )
    if not config.causal:
        raise refusal(config, "causal", GPT2, "its self-attention is causal")


def gpt2_config_from_decoder(config: DecoderLMConfig) -> dict[str, Any]:
    """The ``config.json`` of ``GPT2LMHeadModel`` for an attnkit decoder config."""
    check_gpt2_expressible(config)
    attn_dropout = config.dropout if config.attn_dropout is None else config.attn_dropout
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": config.vocab_size,
        "n_positions": config.max_len,
        "n_embd": config.d_model,
        "n_layer": config.num_layers,
        "n_head": config.num_heads,
        "n_inner": config.ff_width,
        "activation_function": config.activation,  # "gelu" is the exact (erf) GELU
        "resid_pdrop": config.dropout,
        "embd_pdrop": config.dropout,
        "attn_pdrop": attn_dropout,
        "layer_norm_epsilon": config.norm_eps,
        "initializer_range": config.init_std,
        "scale_attn_weights": config.score == "scaled_dot",
        "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False,
        "tie_word_embeddings": config.tie_embeddings,
        "pad_token_id": config.pad_id,
        "dtype": "float32",
    }


def gpt2_state_from_decoder(model: DecoderLM) -> dict[str, Tensor]:
    """``GPT2LMHeadModel``'s tensors for an attnkit decoder LM (Conv1D weights
    transposed; grouped K/V heads written out per head; absent biases as zeros)."""
    config = model.config
    check_gpt2_expressible(config)
    tensors = {
        "transformer.wte.weight": model.embedding.token.weight.detach(),
        "transformer.wpe.weight": position_table(model.embedding, config.max_len, config.d_model),
    }
    for i, layer in enumerate(model.decoder.layers):
        h = f"transformer.h.{i}."
        attn = layer.self_attn
        heads = {"num_heads": config.num_heads, "num_kv_heads": attn.num_kv_heads}
        q, k, v = attn.q_proj, attn.k_proj, attn.v_proj
        weight = torch.cat(
            [
                q.weight.detach(),
                expand_kv_heads(k.weight.detach(), **heads),
                expand_kv_heads(v.weight.detach(), **heads),
            ]
        )  # (3·D, D) as nn.Linear stores it
        bias = torch.cat(
            [
                bias_or_zeros(q),
                expand_kv_heads(bias_or_zeros(k), **heads),
                expand_kv_heads(bias_or_zeros(v), **heads),
            ]
        )
        tensors[h + "attn.c_attn.weight"] = weight.T  # Conv1D: (D, 3·D)
        tensors[h + "attn.c_attn.bias"] = bias
        for ours, theirs in _CONV1D:
            linear = layer.get_submodule(ours)
            tensors[h + theirs + ".weight"] = linear.weight.detach().T  # (in, out)
            tensors[h + theirs + ".bias"] = bias_or_zeros(linear)
        for ours, theirs in _NORMS:
            norm = layer.get_submodule(ours)
            tensors[h + theirs + ".weight"] = norm.weight.detach()
            tensors[h + theirs + ".bias"] = norm.bias.detach()
    final = model.decoder.final_norm
    tensors["transformer.ln_f.weight"] = final.weight.detach()
    tensors["transformer.ln_f.bias"] = final.bias.detach()
    if not config.tie_embeddings:
        tensors["lm_head.weight"] = model.lm_head.weight.detach()
    return tensors


# --------------------------------------------------------------------------- import


def decoder_config_from_gpt2(hf: Mapping[str, Any], *, source: str) -> DecoderLMConfig:
    """attnkit's decoder config for a GPT-2 ``config.json``.

    Raises:
        ValueError: a field attnkit's decoder cannot represent, named in one line.
    """

    def refuse(key: str, why: str) -> ValueError:
        return ValueError(
            f"{source}: {key}={hf.get(key)!r} cannot be represented in attnkit's decoder: {why}"
        )

    for key in ("n_embd", "n_layer", "n_head", "vocab_size"):
        if not isinstance(hf.get(key), int):
            raise ValueError(f"{source}: {key} is missing or not an integer")
    activation = hf.get("activation_function", "gelu_new")
    if activation not in ("gelu", "relu"):
        raise refuse("activation_function", "its activations are 'gelu' (exact, erf) and 'relu'")
    if hf.get("scale_attn_by_inverse_layer_idx", False):
        raise refuse("scale_attn_by_inverse_layer_idx", "every layer scales scores by 1/√Dh")
    if hf.get("add_cross_attention", False):
        raise refuse("add_cross_attention", "the decoder LM has no cross-attention")
    dropout = hf.get("resid_pdrop", 0.1)
    try:
        return DecoderLMConfig(
            vocab_size=hf["vocab_size"],
            d_model=hf["n_embd"],
            num_heads=hf["n_head"],
            num_layers=hf["n_layer"],
            d_ff=hf.get("n_inner") or 4 * hf["n_embd"],
            dropout=dropout,
            attn_dropout=hf.get("attn_pdrop", 0.1),
            activation_dropout=0.0,  # GPT-2 drops out after the MLP, not inside it
            activation=activation,
            norm="layernorm",
            norm_first=True,
            norm_eps=hf.get("layer_norm_epsilon", 1e-5),
            score="scaled_dot" if hf.get("scale_attn_weights", True) else "dot",
            positional="learned",
            max_len=hf.get("n_positions", 1024),
            embed_scale=False,
            tie_embeddings=hf.get("tie_word_embeddings", True),
            init_std=hf.get("initializer_range", 0.02),
            pad_id=hf.get("pad_token_id"),
        )
    except ConfigError as error:
        raise ValueError(f"{source}: {error}") from None


def decoder_state_from_gpt2(
    weights: Mapping[str, Tensor], model: DecoderLM, *, source: str
) -> dict[str, Tensor]:
    """attnkit's state dict for ``model`` from a GPT-2 checkpoint's tensors (with or
    without the ``transformer.`` prefix of ``GPT2LMHeadModel``).

    Raises:
        ValueError: a weight is missing, has another shape, or has no counterpart.
    """
    config = model.config
    named = {name.removeprefix("transformer."): tensor for name, tensor in weights.items()}
    used: set[str] = set()

    def take(name: str) -> Tensor:
        if name not in named:
            raise ValueError(f"{source} has no {name}")
        used.add(name)
        return named[name]

    state = {
        "embedding.token.weight": take("wte.weight"),
        "embedding.position.weight": take("wpe.weight"),
    }
    width = config.d_model
    for i in range(config.num_layers):
        a, h = f"decoder.layers.{i}.", f"h.{i}."
        qkv = take(h + "attn.c_attn.weight").T  # (3·D, D)
        qkv_bias = take(h + "attn.c_attn.bias")
        for index, name in enumerate(("q_proj", "k_proj", "v_proj")):
            rows = slice(index * width, (index + 1) * width)
            state[a + f"self_attn.{name}.weight"] = qkv[rows]
            state[a + f"self_attn.{name}.bias"] = qkv_bias[rows]
        for ours, theirs in _CONV1D:
            state[a + ours + ".weight"] = take(h + theirs + ".weight").T
            state[a + ours + ".bias"] = take(h + theirs + ".bias")
        for ours, theirs in _NORMS:
            state[a + ours + ".weight"] = take(h + theirs + ".weight")
            state[a + ours + ".bias"] = take(h + theirs + ".bias")
    state["decoder.final_norm.weight"] = take("ln_f.weight")
    state["decoder.final_norm.bias"] = take("ln_f.bias")
    state["lm_head.weight"] = (
        state["embedding.token.weight"] if config.tie_embeddings else take("lm_head.weight")
    )
    if config.tie_embeddings:
        used.add("lm_head.weight")  # a tied head saved anyway is the embedding again
    for name in named:
        if name not in used and not name.endswith(_IGNORED_SUFFIXES):
            raise ValueError(f"{source}: {name} has no counterpart in attnkit's decoder LM")
    expected = model.state_dict()
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise ValueError(
                f"{source}: the weight for attnkit's {name} is {tuple(tensor.shape)}, but "
                f"config.json makes it {tuple(expected[name].shape)}"
            )
    return {name: tensor.contiguous() for name, tensor in state.items()}
