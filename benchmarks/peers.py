"""The implementations users would pick instead, built from a configuration of the same
size with random weights (nothing is downloaded): ``torch.nn.Transformer`` with token
embeddings and an output layer, and Hugging Face ``BartForConditionalGeneration`` and
``GPT2LMHeadModel``.

Each is used the way its own documentation shows: the model's forward, a cross-entropy
over its logits, ``torch.optim.AdamW`` with its defaults for the device, ``generate()``
for decoding.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["TorchSeq2Seq", "hf_bart", "hf_gpt2"]


class TorchSeq2Seq(nn.Module):
    """``torch.nn.Transformer`` plus what it leaves out: token embeddings (scaled by
    √d, as in the paper), a learned position table and the output projection.

    Shape:
        src ``(B, S)``, tgt ``(B, T)`` long → logits ``(B, T, V)``.
    """

    def __init__(
        self,
        *,
        vocab_size: int,
        d_model: int,
        num_heads: int,
        num_layers: int,
        d_ff: int,
        dropout: float,
        max_len: int,
        activation: str,
    ):
        super().__init__()
        self.d_model = d_model
        self.src_embed = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.tgt_embed = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.position = nn.Embedding(max_len, d_model)
        self.transformer = nn.Transformer(
            d_model=d_model,
            nhead=num_heads,
            num_encoder_layers=num_layers,
            num_decoder_layers=num_layers,
            dim_feedforward=d_ff,
            dropout=dropout,
            activation=activation,
            batch_first=True,
        )
        self.out = nn.Linear(d_model, vocab_size)

    def _embed(self, table: nn.Embedding, ids: Tensor) -> Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        return table(ids) * math.sqrt(self.d_model) + self.position(positions)

    def forward(self, src: Tensor, tgt: Tensor) -> Tensor:
        causal = nn.Transformer.generate_square_subsequent_mask(tgt.shape[1], device=tgt.device)
        hidden = self.transformer(
            self._embed(self.src_embed, src),
            self._embed(self.tgt_embed, tgt),
            tgt_mask=causal,
            tgt_is_causal=True,
            src_key_padding_mask=src == 0,
            memory_key_padding_mask=src == 0,
        )
        return self.out(hidden)


def hf_bart(
    *,
    vocab_size: int,
    d_model: int,
    num_heads: int,
    num_layers: int,
    d_ff: int,
    dropout: float,
    max_len: int,
    activation: str,
) -> nn.Module:
    """A randomly initialised ``BartForConditionalGeneration`` of the given size."""
    from transformers import BartConfig, BartForConditionalGeneration

    config = BartConfig(
        vocab_size=vocab_size,
        d_model=d_model,
        encoder_layers=num_layers,
        decoder_layers=num_layers,
        encoder_attention_heads=num_heads,
        decoder_attention_heads=num_heads,
        encoder_ffn_dim=d_ff,
        decoder_ffn_dim=d_ff,
        # Dropout in the same three places as attnkit and torch.nn.Transformer: residual
        # branches, attention weights and the feed-forward hidden layer.
        dropout=dropout,
        attention_dropout=dropout,
        activation_dropout=dropout,
        activation_function=activation,
        max_position_embeddings=max_len,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
        forced_eos_token_id=None,
    )
    return BartForConditionalGeneration(config)


def hf_gpt2(
    *, vocab_size: int, d_model: int, num_heads: int, num_layers: int, dropout: float, max_len: int
) -> nn.Module:
    """A randomly initialised ``GPT2LMHeadModel`` (nanoGPT's architecture) of the given size."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=max_len,
        n_embd=d_model,
        n_layer=num_layers,
        n_head=num_heads,
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
        # nanoGPT's MLP uses the exact GELU, as attnkit does; GPT-2's own default is the
        # tanh approximation ("gelu_new"), a different function that costs differently.
        activation_function="gelu",
        bos_token_id=0,
        eos_token_id=0,
    )
    return GPT2LMHeadModel(config)
